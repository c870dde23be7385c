"""``mmvq bench accuracy``: MMVQShape, VQShape and MiniRocket on identical splits.

For every seed the DATA's split is drawn once (the official test split stays fixed where
the data has one) and every model trains on exactly the same windows; few-shot rows keep
``k`` training windows per class, drawn with the seed, and the same validation split for
checkpoint selection. The zero-shot row trains MMVQShape once per held-out label
(leave-one-label-out) and reports how often that label's test windows are nearest to their
own label text among all candidates. Nothing is selected on test data.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_dir
from ..errors import UserError

MODELS = {
    "mmvqshape": {"model_name": "mmvqshape"},
    "mmvqshape-flat-weights": {"model_name": "mmvqshape", "model": {"preset": "flat"}},
    "vqshape": {"model_name": "vqshape", "model": {"channels": "joint", "objective": "classify"}},
    "vqshape-flat-weights": {"model_name": "vqshape", "model": {"channels": "joint", "objective": "classify", "preset": "flat"}},
    "vqshape-probe": {"model_name": "vqshape", "model": {"channels": "independent", "objective": "pretrain"}, "probe": "token"},
    "minirocket": {"model_name": "minirocket"},
}


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
        train = windows.indices("train")
        keep = []
        for label in np.unique(windows.y[train]):
            rows = train[windows.y[train] == label]
            keep.extend(rng.choice(rows, size=min(shots, len(rows)), replace=False).tolist())
        dropped = np.setdiff1d(train, keep)
        split[dropped] = "unused"
    rows = np.flatnonzero(split != "unused")
    np.savez(path, X=np.asarray(windows.X[rows]), y=windows.y[rows], labels=np.array(windows.labels), split=split[rows].astype(str))
    return path


def run_bench_accuracy(
    *,
    data: str = "basicmotions",
    corpus: str = "basicmotions",
    seeds: int = 5,
    shots: str = "all",
    models: str = "mmvqshape,vqshape,vqshape-probe,minirocket",
    zero_shot: bool = True,
    zero_shot_seeds: int | None = None,
    max_epochs: int | None = None,
    out: str | Path = "runs/bench-accuracy",
) -> dict[str, Any]:
    """Train every (model, shots, seed) on identical splits; write accuracy.md / .csv / .json.

    The leave-one-label-out zero-shot runs use the first ``zero_shot_seeds`` seeds (all by default).
    """
    from ..signals import load_windows
    from ..training.config import merge_config
    from .train import train

    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        raise UserError("--models", f"unknown {', '.join(unknown)} (known: {', '.join(MODELS)})")
    if seeds < 1:
        raise UserError("--seeds", "must be at least 1")
    shot_list = parse_shots(shots)
    rows: list[dict[str, Any]] = []
    out = Path(out)
    with atomic_dir(out) as tmp:
        work = tmp / "runs"
        work.mkdir()
        for seed in range(seeds):
            windows = load_windows(data, seed=seed)
            for shot in shot_list:
                shot_name = "all" if shot is None else f"{shot}-shot"
                npz = few_shot_npz(windows, shot, seed, work / f"data-seed{seed}-{shot_name}.npz")
                for name in names:
                    spec = {**MODELS[name], "data": str(npz), "seed": seed, "progress": False}
                    if spec["model_name"] == "mmvqshape":
                        spec["corpus"] = corpus
                    if max_epochs and name != "minirocket":
                        spec["max_epochs"] = max_epochs
                    run = work / f"{name}-seed{seed}-{shot_name}"
                    metrics = train(merge_config(spec), run)["metrics"]
                    _drop_checkpoints(run)
                    rows.append({"model": name, "shots": shot_name, "seed": seed, "accuracy": metrics["accuracy"],
                                 "macro_f1": metrics["macro_f1"], "n_test": metrics["n_test"]})
            if zero_shot and "mmvqshape" in names and seed < (seeds if zero_shot_seeds is None else zero_shot_seeds):
                npz = few_shot_npz(windows, None, seed, work / f"data-seed{seed}-all.npz")
                for label in windows.labels:
                    spec = {**MODELS["mmvqshape"], "data": str(npz), "seed": seed, "corpus": corpus, "progress": False,
                            "holdout_labels": [label]}
                    if max_epochs:
                        spec["max_epochs"] = max_epochs
                    run = work / f"zeroshot-{_slug(label)}-seed{seed}"
                    metrics = train(merge_config(spec), run)["metrics"]
                    _drop_checkpoints(run)
                    zs = metrics.get("zero_shot") or {}
                    rows.append({"model": "mmvqshape zero-shot", "shots": f"held out: {label}", "seed": seed,
                                 "accuracy": zs.get("holdout_accuracy"), "macro_f1": None, "n_test": metrics["n_test"],
                                 "chance": zs.get("chance")})
        summary = summarize(rows)
        markdown = accuracy_markdown(summary, data=data, seeds=seeds)
        with open(tmp / "accuracy.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["model", "shots", "seed", "accuracy", "macro_f1", "n_test", "chance"])
            writer.writeheader()
            writer.writerows(rows)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        (tmp / "accuracy.md").write_text(markdown)
        for npz in work.glob("*.npz"):
            npz.unlink()
    return {"rows": rows, "summary": summary, "markdown": markdown, "out": out}


def _drop_checkpoints(run: Path) -> None:
    """Keep a bench run's config, metrics and logs; its weights are not needed afterwards."""
    import shutil

    shutil.rmtree(run / "checkpoints", ignore_errors=True)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-").lower()


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std over seeds for every (model, shots)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["shots"]), []).append(row)
    summary = []
    for (model, shots), items in groups.items():
        entry = {"model": model, "shots": shots, "seeds": len(items)}
        for key in ("accuracy", "macro_f1"):
            values = [r[key] for r in items if r.get(key) is not None and not np.isnan(r[key])]
            entry[f"{key}_mean"] = float(np.mean(values)) if values else None
            entry[f"{key}_std"] = float(np.std(values)) if values else None
        if items[0].get("chance") is not None:
            entry["chance"] = items[0]["chance"]
        summary.append(entry)
    return summary


def accuracy_markdown(summary: list[dict[str, Any]], *, data: str, seeds: int) -> str:
    """The README-ready table."""
    def fmt(mean, std):
        return "—" if mean is None else f"{mean:.3f} ± {std:.3f}"

    lines = [
        f"Data: {data}; {seeds} seed(s); test split fixed, validation carved from training data.",
        "",
        "| model | training windows | accuracy | macro-F1 |",
        "|---|---|---|---|",
    ]
    for e in summary:
        extra = f" (chance {e['chance']:.2f})" if e.get("chance") else ""
        lines.append(f"| {e['model']} | {e['shots']} | {fmt(e['accuracy_mean'], e['accuracy_std'])}{extra} | "
                     f"{fmt(e['macro_f1_mean'], e['macro_f1_std'])} |")
    return "\n".join(lines) + "\n"
