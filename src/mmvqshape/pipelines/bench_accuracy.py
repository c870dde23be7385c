"""``mmvq bench accuracy``: MMVQShape, VQShape and the baselines (MiniRocket, Hydra, summary-lr) on identical splits.

For every seed the DATA's split is drawn once (the official test split stays fixed where
the data has one; HAPT's test subjects are UCI's, its validation subjects are drawn by
seed) and every model is fitted on exactly the same windows: under the default ``refit``
protocol (:mod:`mmvqshape.training.refit`) training + validation windows for every model, the
trained ones after choosing their epochs on validation; under ``holdout`` training windows only. Few-shot rows keep ``k``
training windows per class, drawn with the seed, and the same validation split for
checkpoint selection. The zero-shot row trains MMVQShape once per held-out label
(leave-one-label-out) and reports how often that label's test windows are nearest to their
own label text among all candidates. Nothing is selected on test data.

Outputs: ``accuracy.md`` (the accuracy table, per-class F1, confusion matrices summed over
seeds, wall time), ``accuracy.csv`` (one row per run), ``per_class.csv`` (F1 per run and
label) and ``summary.json``.

Adding a row to the table is adding an entry to :data:`MODELS` (a name and the train-config
layer that makes it). Per-source defaults (:data:`DATA_DEFAULTS`) make a bench fit two CPU
cores; they are training budgets, chosen before any run, and any explicit argument wins.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_dir
from ..errors import UserError
from ..models import BASELINES
from ..signals import load_windows
from ..training.config import PROTOCOLS, merge_config
from ..training.refit import protocol_sentence
from .train import train

#: Table rows: name → the train-config layer that makes the run (data, seed, corpus added per run).
MODELS = {
    "mmvqshape": {"model_name": "mmvqshape"},  # the bag design (the default architecture)
    "shape-tokens": {"model_name": "shape-tokens"},  # the classifier on shape tokens alone
    # the plan's design on shape tokens (fusion, attribute encoder, action codebook, label reconstruction):
    # it trains more than heads, so the data budget below applies
    "mmvqshape-plan": {"model_name": "mmvqshape", "model": {"architecture": "plan"}},
    # the fusion design (models/mmvqshape.py) and its ablations
    "mmvqshape-fusion": {"model_name": "mmvqshape", "model": {"architecture": "legacy-fusion"}},
    # without each channel's mean and log std beside the tokens: the classifier reads the shapes only
    "mmvqshape-no-stats": {"model_name": "mmvqshape", "model": {"architecture": "legacy-fusion", "series_stats": False}},
    "mmvqshape-flat-weights": {"model_name": "mmvqshape", "model": {"architecture": "legacy-fusion", "preset": "flat"}},
    "vqshape": {"model_name": "vqshape", "model": {"channels": "joint", "objective": "classify"}},
    "vqshape-no-stats": {"model_name": "vqshape", "model": {"channels": "joint", "objective": "classify", "series_stats": False}},
    "vqshape-flat-weights": {"model_name": "vqshape", "model": {"channels": "joint", "objective": "classify", "preset": "flat"}},
    "vqshape-probe": {"model_name": "vqshape", "model": {"channels": "independent", "objective": "pretrain"}, "probe": "token"},
    "minirocket": {"model_name": "minirocket"},
    "hydra": {"model_name": "hydra"},
    "multirocket-hydra": {"model_name": "hydra", "model": {"multirocket": True}},
    "summary-lr": {"model_name": "summary-lr"},
}

#: Models that train only small heads on frozen, cached tokens: the trainer's defaults cost
#: under a minute on HAPT, so the data budget below is not applied to them.
HEADS_ONLY = {"mmvqshape", "shape-tokens"}

#: Training budget of the end-to-end neural models per data source when the caller gives none.
#: HAPT (998 training windows at the defaults, 15x BasicMotions' 32 per epoch at batch 8):
#: batch 32 and 10 epochs (about 1 min per epoch for VQShape on 2 busy CPU cores); the checkpoint
#: is still the best epoch on the validation subjects.
DATA_DEFAULTS: dict[str, dict[str, int]] = {
    "hapt": {"max_epochs": 10, "batch_size": 32},
    "hapt-transitions": {"max_epochs": 10, "batch_size": 64},
    "shoulder-watch": {"max_epochs": 10, "batch_size": 32},  # 479 training windows at the defaults, HAPT's budget
}

#: The shipped corpus MMVQShape uses for a data source when ``corpus`` is not given.
CORPUS_FOR = {"basicmotions": "basicmotions", "hapt": "hapt", "hapt-transitions": "hapt", "shoulder-watch": "shoulder-watch"}


def source_of(data: str) -> str:
    """The source name of a DATA argument (text before the first ``:``, lower case)."""
    return str(data).strip().partition(":")[0].lower()


def parse_shots(shots: str) -> list[int | None]:
    """"1,2,4,all" → [1, 2, 4, None] (None = every training window)."""
    out: list[int | None] = []
    for part in str(shots).split(","):
        part = part.strip().lower()
        if part == "all":
            out.append(None)
        elif part.isdigit() and int(part) > 0:
            out.append(int(part))
        else:
            raise UserError("--shots", f"expected positive integers or 'all', got {part!r}")
    return out


def few_shot_npz(windows, shots: int | None, seed: int, path: Path) -> Path:
    """Write the windows with a fixed split (``shots`` train windows per class) as an ``.npz``."""
    rng = np.random.default_rng(seed)
    split = windows.split.astype(object).copy()
    if shots is not None:
        train_rows = windows.indices("train")
        keep = []
        for label in np.unique(windows.y[train_rows]):
            rows = train_rows[windows.y[train_rows] == label]
            keep.extend(rng.choice(rows, size=min(shots, len(rows)), replace=False).tolist())
        dropped = np.setdiff1d(train_rows, keep)
        split[dropped] = "unused"
    rows = np.flatnonzero(split != "unused")
    arrays = {"X": np.asarray(windows.X[rows]), "y": windows.y[rows], "labels": np.array(windows.labels),
              "split": split[rows].astype(str)}
    if windows.subject is not None:
        arrays["subject"] = np.asarray(windows.subject)[rows]
    np.savez(path, **arrays)
    return path


def run_bench_accuracy(
    *,
    data: str = "basicmotions",
    corpus: str | None = None,
    seeds: int = 5,
    shots: str = "all",
    models: str = "mmvqshape,shape-tokens,summary-lr,minirocket,hydra",
    zero_shot: bool = True,
    zero_shot_seeds: int | None = None,
    max_epochs: int | None = None,
    batch_size: int | None = None,
    channels: str = "acc",
    protocol: str = "refit",
    out: str | Path = "runs/bench-accuracy",
) -> dict[str, Any]:
    """Train every (model, shots, seed) on identical splits; write accuracy.md / .csv / .json.

    ``corpus`` defaults to the data's shipped corpus (:data:`CORPUS_FOR`); ``max_epochs`` and
    ``batch_size`` to :data:`DATA_DEFAULTS` for that source, else the trainer's defaults.
    The leave-one-label-out zero-shot runs use the first ``zero_shot_seeds`` seeds (all by default).
    ``protocol`` (:mod:`mmvqshape.training.refit`): ``refit`` fits every model on training +
    validation windows (trained models choose their epochs on validation first), ``holdout`` on
    training windows only.
    """
    if protocol not in PROTOCOLS:
        raise UserError("--protocol", f"must be one of {', '.join(PROTOCOLS)}")
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        raise UserError("--models", f"unknown {', '.join(unknown)} (known: {', '.join(MODELS)})")
    if seeds < 1:
        raise UserError("--seeds", "must be at least 1")
    shot_list = parse_shots(shots)
    source = source_of(data)
    corpus = corpus or CORPUS_FOR.get(source, "basicmotions")
    explicit = {k: v for k, v in (("max_epochs", max_epochs), ("batch_size", batch_size)) if v}
    budget = {**DATA_DEFAULTS.get(source, {}), **explicit}
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    fitted_on: dict[str, int] = {}  # shots -> labelled windows every model is finally fitted on (seed 0)
    started = time.perf_counter()
    out = Path(out)
    with atomic_dir(out) as tmp:
        work = tmp / "runs"
        work.mkdir()
        for seed in range(seeds):
            windows = load_windows(data, seed=seed, channels=channels)
            labels = list(windows.labels)
            for shot in shot_list:
                shot_name = "all" if shot is None else f"{shot}-shot"
                npz = few_shot_npz(windows, shot, seed, work / f"data-seed{seed}-{shot_name}.npz")
                fitted_on.setdefault(shot_name, fitted_windows(npz, protocol))
                for name in names:
                    spec = {**MODELS[name], "data": str(npz), "seed": seed, "progress": False, "protocol": protocol}
                    if spec["model_name"] == "mmvqshape":
                        spec["corpus"] = corpus
                    if spec["model_name"] not in BASELINES:  # a fitted baseline has no epochs
                        spec.update(explicit if name in HEADS_ONLY else budget)
                    metrics, seconds = _train(spec, work / f"{name}-seed{seed}-{shot_name}")
                    rows.append({"model": name, "shots": shot_name, "seed": seed, "accuracy": metrics["accuracy"],
                                 "macro_f1": metrics["macro_f1"], "n_test": metrics["n_test"], "protocol": metrics.get("protocol"),
                                 "n_fitted": ((metrics.get("split") or {}).get("sizes") or {}).get("train"),
                                 "val_accuracy": (metrics.get("selection") or {}).get("val_accuracy"),
                                 "train_seconds": round(seconds, 1),
                                 "per_class_f1": {k: v["f1"] for k, v in metrics["per_class"].items()},
                                 "confusion": metrics["confusion"]})
            if zero_shot and "mmvqshape" in names and seed < (seeds if zero_shot_seeds is None else zero_shot_seeds):
                npz = few_shot_npz(windows, None, seed, work / f"data-seed{seed}-all.npz")
                for label in windows.labels:
                    spec = {**MODELS["mmvqshape"], "data": str(npz), "seed": seed, "corpus": corpus, "progress": False,
                            "holdout_labels": [label], "protocol": protocol}
                    metrics, seconds = _train(spec, work / f"zeroshot-{_slug(label)}-seed{seed}")
                    zs = metrics.get("zero_shot") or {}
                    rows.append({"model": "mmvqshape zero-shot", "shots": f"held out: {label}", "seed": seed,
                                 "accuracy": zs.get("unseen_gzsl_accuracy"), "macro_f1": None, "n_test": metrics["n_test"],
                                 "chance": 1 / len(labels), "train_seconds": round(seconds, 1)})
        wall = time.perf_counter() - started
        setup = {"data": data, "channels": channels, "corpus": corpus, "seeds": seeds, "shots": shots,
                 "protocol": protocol, "fitted_windows": fitted_on,
                 "budget": budget, "labels": labels, "wall_seconds": round(wall, 1), "cpu_count": os.cpu_count(),
                 "load_average_end": round(os.getloadavg()[0], 1)}  # > cpu_count: the cores were shared
        summary = summarize(rows, labels)
        markdown = accuracy_markdown(summary, data=data, seeds=seeds, labels=labels, setup=setup)
        _write_tables(tmp, rows, labels)
        (tmp / "summary.json").write_text(json.dumps({"kind": "bench_accuracy", "setup": setup, "summary": summary}, indent=2) + "\n")
        (tmp / "accuracy.md").write_text(markdown)
        for npz in work.glob("*.npz"):
            npz.unlink()
    return {"rows": rows, "summary": summary, "markdown": markdown, "out": out, "setup": setup}


def _train(spec: dict[str, Any], run: Path) -> tuple[dict[str, Any], float]:
    """Train one run; keep its config, metrics and logs but not its weights."""
    started = time.perf_counter()
    metrics = train(merge_config(spec), run)["metrics"]
    seconds = time.perf_counter() - started
    for folder in (run / "checkpoints", run / "selection" / "checkpoints"):
        shutil.rmtree(folder, ignore_errors=True)
    return metrics, seconds


def fitted_windows(npz: Path, protocol: str) -> int:
    """Labelled windows of a bench data file that every model is finally fitted on under ``protocol``
    (``refit``: training + validation; ``holdout``: training)."""
    with np.load(npz) as arrays:
        split = arrays["split"]
    return int(np.isin(split, ("train", "val") if protocol == "refit" else ("train",)).sum())


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-").lower()


def _write_tables(folder: Path, rows: list[dict[str, Any]], labels: list[str]) -> None:
    with open(folder / "accuracy.csv", "w", newline="") as handle:
        fields = ["model", "shots", "seed", "protocol", "n_fitted", "accuracy", "macro_f1", "val_accuracy", "n_test", "chance",
                  "train_seconds"]
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(folder / "per_class.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "shots", "seed", "label", "f1"])
        for row in rows:
            for label in labels:
                if label in row.get("per_class_f1", {}):
                    writer.writerow([row["model"], row["shots"], row["seed"], label, row["per_class_f1"][label]])


def summarize(rows: list[dict[str, Any]], labels: list[str] | None = None) -> list[dict[str, Any]]:
    """Mean ± std over seeds for every (model, shots); per-class F1 means and the confusion
    matrix summed over seeds where the runs have them."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["shots"]), []).append(row)
    summary = []
    for (model, shots), items in groups.items():
        entry: dict[str, Any] = {"model": model, "shots": shots, "seeds": len(items)}
        for key in ("accuracy", "macro_f1", "val_accuracy", "train_seconds"):
            values = [r[key] for r in items if r.get(key) is not None and not np.isnan(r[key])]
            entry[f"{key}_mean"] = float(np.mean(values)) if values else None
            entry[f"{key}_std"] = float(np.std(values)) if values else None
        if items[0].get("chance") is not None:
            entry["chance"] = items[0]["chance"]
        if labels and all("per_class_f1" in r for r in items):
            entry["per_class_f1_mean"] = {
                label: float(np.mean([r["per_class_f1"].get(label, np.nan) for r in items])) for label in labels
            }
            entry["confusion_sum"] = np.sum([np.asarray(r["confusion"]) for r in items], axis=0).astype(int).tolist()
        summary.append(entry)
    return summary


def series_stats_shown(name: str) -> str:
    """"yes" / "no": whether a bench model's classifier also reads each channel's mean and log std;
    "—" for models without that option (the fitted baselines, the token probe)."""
    key = name.split(" ")[0]
    spec = MODELS.get(key, {})
    if spec.get("probe") or spec.get("model_name") not in ("vqshape", "mmvqshape") or key in HEADS_ONLY:
        return "—"  # the token models read shape tokens only: no such option
    return "yes" if spec.get("model", {}).get("series_stats", True) else "no"


def accuracy_markdown(summary: list[dict[str, Any]], *, data: str, seeds: int, labels: list[str] | None = None,
                      setup: dict[str, Any] | None = None) -> str:
    """The Markdown tables: accuracy, per-class F1, confusion matrices (summed over seeds)."""
    def fmt(mean, std):
        return "—" if mean is None else f"{mean:.3f} ± {std:.3f}"

    header = f"Data: {data}; {seeds} seed(s); test split fixed, validation carved from training data."
    if setup:
        budget = ", ".join(f"{k} {v}" for k, v in setup["budget"].items()) or "trainer defaults"
        header += (f" Channels {setup['channels']}; corpus {setup['corpus']}; end-to-end neural budget: {budget} (token models: the trainer's defaults). "
                   f"Wall time {setup['wall_seconds'] / 60:.1f} min on {setup['cpu_count']} CPU cores "
                   f"(load average {setup['load_average_end']} when it ended). {protocol_sentence(setup)}")
    lines = [
        header,
        "",
        "| model | series_stats | training windows | accuracy | macro-F1 | train s / run |",
        "|---|---|---|---|---|---|",
    ]
    for e in summary:
        extra = f" (chance {e['chance']:.2f})" if e.get("chance") else ""
        seconds = "—" if e.get("train_seconds_mean") is None else f"{e['train_seconds_mean']:.0f}"
        lines.append(f"| {e['model']} | {series_stats_shown(e['model'])} | {e['shots']} | {fmt(e['accuracy_mean'], e['accuracy_std'])}{extra} | "
                     f"{fmt(e['macro_f1_mean'], e['macro_f1_std'])} | {seconds} |")
    with_classes = [e for e in summary if e.get("per_class_f1_mean")]
    if labels and with_classes:
        lines += ["", "Per-class F1 (mean over seeds):", "",
                  "| model | training windows | " + " | ".join(labels) + " |",
                  "|---|---|" + "---|" * len(labels)]
        for e in with_classes:
            lines.append(f"| {e['model']} | {e['shots']} | "
                         + " | ".join(f"{e['per_class_f1_mean'][label]:.2f}" for label in labels) + " |")
        for e in with_classes:
            lines += ["", f"Confusion, {e['model']} ({e['shots']}), summed over {e['seeds']} seed(s); rows true, columns predicted:",
                      "", "| true \\ predicted | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
            for label, counts in zip(labels, e["confusion_sum"]):
                lines.append(f"| {label} | " + " | ".join(str(c) for c in counts) + " |")
    return "\n".join(lines) + "\n"
