"""``mmvq bench ablation``: the plan's model part by part, in one bench run.

Each row is a named MMVQShape config (:data:`ROWS`: the bag model, the plan's full model, and
the plan's model without fusion, without the action codebook, without label reconstruction,
without text), trained with ``mmvq train``'s protocol (``refit`` by default: epochs chosen on
the validation subjects, then refitted on training + validation) for every seed, all rows on
the same windows. Per row, mean ± std over seeds: test accuracy and macro-F1, the validation
accuracy the selection run reached (what the default is decided on: :data:`DEFAULT_RULE`), the
model's own explanation on test windows (precision, diversity, repeat rate, specificity:
``metrics.json`` ``explanation``), grounding on the test windows of ``grounding_data``
(``hapt-boundary`` by default: whatever keys the run's ``grounding`` block has, read through
:func:`mmvqshape.pipelines.evaluate.measure_sentences`), zero-shot over two-unseen folds (through
:func:`mmvqshape.pipelines.bench_zero_shot.run_bench_zero_shot` with the row's config; off unless
``zero_shot_folds`` > 0) and training seconds. Nothing is selected on test windows.

Outputs: ``ablation.md`` (the table, the rule and the row it picks), ``ablation.csv`` (one row
per run) and ``ablation.json`` (kind ``bench_ablation``: setup, per-run rows, summary, choice);
each run folder keeps its own ``ablation_row.json`` as soon as it is measured.
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

from ..atomic import atomic_dir, write_json
from ..errors import UserError
from ..training.config import PROTOCOLS, merge_config
from .bench_accuracy import CORPUS_FOR, source_of
from .evaluate import measure_sentences
from .train import train

#: Table rows: name -> the MMVQShape model config that makes it (merged over the model's defaults).
ROWS: dict[str, dict[str, Any]] = {
    "bag": {"architecture": "bag"},  # bags of shape tokens + late interaction (the token design)
    "plan": {"architecture": "plan"},  # the plan's model on shape tokens, every part on
    "plan-no-fusion": {"architecture": "plan", "fusion": False},
    "plan-no-action-codebook": {"architecture": "plan", "action_codebook": False},  # continuous text side
    "plan-no-label-recon": {"architecture": "plan", "w_label": 0},
    "plan-no-text": {"architecture": "plan", "use_text": False},
}
#: How the bench picks a default: validation subjects only, never test windows.
DEFAULT_RULE = ("the default is the row with the highest mean validation accuracy (the selection runs' best epoch on "
                "the validation subjects); a row within one standard deviation of it that has fewer parts (earlier in "
                "the table) wins the tie")
#: Columns of the table: (key in a run row, header). Explanation and grounding keys are read where they exist.
EXPLANATION_KEYS = ("precision", "diversity", "repeat_rate", "specificity")
GROUNDING_KEYS = ("precision", "mean_coverage", "coverage", "both_located", "both_placed")
ZERO_SHOT_KEYS = ("unseen_accuracy", "harmonic_mean")
#: The epoch budget of a row when none is given (the trainer's defaults otherwise).
DATA_DEFAULTS: dict[str, dict[str, int]] = {}


def parse_rows(rows: str, known: dict[str, dict[str, Any]]) -> list[str]:
    """"bag,plan" -> ["bag", "plan"] (unknown names are a :class:`UserError`)."""
    names = [r.strip() for r in str(rows).split(",") if r.strip()]
    unknown = sorted(set(names) - set(known))
    if unknown or not names:
        raise UserError("--rows", f"unknown {', '.join(unknown) or 'nothing given'} (known: {', '.join(known)})")
    return names


def run_bench_ablation(
    *,
    data: str = "hapt",
    corpus: str | None = None,
    seeds: int = 3,
    rows: str = ",".join(ROWS),
    row_configs: dict[str, dict[str, Any]] | None = None,
    grounding_data: str | None = "hapt-boundary",
    zero_shot_folds: int = 0,
    max_epochs: int | None = None,
    batch_size: int | None = None,
    protocol: str = "refit",
    channels: str = "acc",
    extra: dict[str, Any] | None = None,
    out: str | Path = "runs/bench-ablation",
) -> dict[str, Any]:
    """Train every (row, seed) and write ablation.md / .csv / .json; returns the summary.

    ``row_configs`` replaces :data:`ROWS` (tests, new rows); ``extra`` is a train-config layer
    added to every run (e.g. a tiny model for tests). ``grounding_data`` None skips grounding.
    """
    known = row_configs or ROWS
    names = parse_rows(rows, known)
    if seeds < 1:
        raise UserError("--seeds", "must be at least 1")
    if protocol not in PROTOCOLS:
        raise UserError("--protocol", f"must be one of {', '.join(PROTOCOLS)}")
    source = source_of(data)
    corpus = corpus or CORPUS_FOR.get(source, source)
    budget = {k: v for k, v in (("max_epochs", max_epochs), ("batch_size", batch_size)) if v}
    started = time.perf_counter()
    out = Path(out)
    runs: list[dict[str, Any]] = []
    zero_shot: dict[str, dict[str, Any]] = {}
    with atomic_dir(out) as tmp:
        for seed in range(seeds):
            for name in names:
                spec = {**(extra or {}), "model_name": "mmvqshape", "model": {**(extra or {}).get("model", {}), **known[name]},
                        "data": data, "data_channels": channels, "corpus": corpus, "seed": seed, "progress": False,
                        "protocol": protocol, **budget}
                runs.append(_run_row(name, seed, spec, tmp / "runs" / f"{name}-seed{seed}", grounding_data))
        if zero_shot_folds > 0:
            for name in names:
                zero_shot[name] = _zero_shot_row(known[name], data, corpus, channels, zero_shot_folds, tmp / "zero-shot" / name)
        setup = {"data": data, "corpus": corpus, "channels": channels, "seeds": seeds, "rows": {n: known[n] for n in names},
                 "protocol": protocol, "budget": budget or "the trainer's defaults", "grounding_data": grounding_data,
                 "zero_shot_folds": zero_shot_folds, "default_rule": DEFAULT_RULE,
                 "wall_seconds": round(time.perf_counter() - started, 1), "cpu_count": os.cpu_count(),
                 "load_average_end": round(os.getloadavg()[0], 1)}  # > cpu_count: the cores were shared
        summary = summarize_rows(runs, names, zero_shot)
        choice = choose_default(summary)
        markdown = ablation_markdown(summary, setup, choice)
        _write_csv(tmp / "ablation.csv", runs)
        document = {"kind": "bench_ablation", "setup": setup, "summary": summary, "default": choice, "runs": runs}
        (tmp / "ablation.json").write_text(json.dumps(document, indent=2, default=float) + "\n")
        (tmp / "ablation.md").write_text(markdown)
    return {"runs": runs, "summary": summary, "default": choice, "markdown": markdown, "setup": setup, "out": out}


def _run_row(name: str, seed: int, spec: dict[str, Any], run: Path, grounding_data: str | None) -> dict[str, Any]:
    """Train one (row, seed), read its numbers, measure grounding, then drop its weights."""
    begun = time.perf_counter()
    metrics = train(merge_config(spec), run)["metrics"]
    seconds = time.perf_counter() - begun
    row: dict[str, Any] = {"row": name, "seed": seed, "accuracy": metrics.get("accuracy"), "macro_f1": metrics.get("macro_f1"),
                           "val_accuracy": (metrics.get("selection") or {}).get("val_accuracy"),
                           "train_seconds": round(seconds, 1), "protocol": metrics.get("protocol")}
    explanation = metrics.get("explanation") or {}
    for key in EXPLANATION_KEYS:
        row[f"explanation.{key}"] = explanation.get(key)
    if grounding_data:
        try:
            grounding = measure_sentences(run, data=grounding_data, split="test").get("grounding") or {}
        except KeyError:  # a row that places no sentences (no text side) has nothing to ground: its cells stay empty
            grounding = {}
        for key in GROUNDING_KEYS:
            if isinstance(grounding.get(key), (int, float)):
                row[f"grounding.{key}"] = float(grounding[key])
    for folder in (run / "checkpoints", run / "selection" / "checkpoints"):
        shutil.rmtree(folder, ignore_errors=True)
    write_json(run / "ablation_row.json", {"kind": "ablation_row", **row})  # each row kept as soon as it is measured
    return row


def _zero_shot_row(model_cfg: dict[str, Any], data: str, corpus: str, channels: str, folds: int, out: Path) -> dict[str, Any]:
    """Zero-shot of one row over ``folds`` two-unseen folds (the zero-shot bench, the token model fitted per fold)."""
    # lazy: the zero-shot bench is only needed when its column is asked for
    from .bench_zero_shot import run_bench_zero_shot
    from .zero_shot_tokens import TokenZeroShotSettings

    model = {k: v for k, v in model_cfg.items() if not (k == "architecture" and v in ("bag", "tokens"))}  # the folds' own model
    try:
        settings = TokenZeroShotSettings(model=model)
    except ValueError as err:
        raise UserError("zero-shot settings", str(err)) from None
    result = run_bench_zero_shot(data=data, corpus=corpus, out=out, unseen_size=2, folds=folds, seeds=1, channels=channels,
                                 model="mmvqshape", settings=settings, progress=False)
    return {key: result["summary"][key] for key in ZERO_SHOT_KEYS if key in result["summary"]}


def summarize_rows(runs: list[dict[str, Any]], names: list[str], zero_shot: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over seeds of every numeric column, per row, in table order."""
    summary = []
    for name in names:
        items = [r for r in runs if r["row"] == name]
        entry: dict[str, Any] = {"row": name, "seeds": len(items)}
        keys = [k for k in items[0] if k not in ("row", "seed", "protocol")] if items else []
        for key in keys:
            values = [float(r[key]) for r in items if isinstance(r.get(key), (int, float)) and not np.isnan(r[key])]
            entry[key] = {"mean": float(np.mean(values)), "std": float(np.std(values))} if values else None
        for key, value in (zero_shot.get(name) or {}).items():
            entry[f"zero_shot.{key}"] = value
        summary.append(entry)
    return summary


def choose_default(summary: list[dict[str, Any]]) -> dict[str, Any]:
    """The row :data:`DEFAULT_RULE` picks, from validation accuracy only."""
    scored = [e for e in summary if e.get("val_accuracy")]
    if not scored:
        return {"row": None, "rule": DEFAULT_RULE, "why": "no row recorded a validation accuracy (protocol holdout?)"}
    best = max(scored, key=lambda e: e["val_accuracy"]["mean"])
    floor = best["val_accuracy"]["mean"] - best["val_accuracy"]["std"]
    pick = next(e for e in scored if e["val_accuracy"]["mean"] >= floor)  # the earliest row within one std
    return {"row": pick["row"], "rule": DEFAULT_RULE, "best_validation_row": best["row"],
            "val_accuracy": pick["val_accuracy"]["mean"]}


#: (summary key, header) of the Markdown table, in order.
COLUMNS = [("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("val_accuracy", "validation accuracy"),
           *[(f"explanation.{k}", f"own explanation: {k.replace('_', ' ')}") for k in EXPLANATION_KEYS],
           *[(f"grounding.{k}", f"grounding: {k.replace('_', ' ')}") for k in GROUNDING_KEYS],
           *[(f"zero_shot.{k}", f"zero-shot: {k.replace('_', ' ')}") for k in ZERO_SHOT_KEYS],
           ("train_seconds", "train s")]


def ablation_markdown(summary: list[dict[str, Any]], setup: dict[str, Any], choice: dict[str, Any]) -> str:
    """The table (mean ± std over seeds; columns no row has are left out), the protocol and the default's rule."""
    shown = [(k, h) for k, h in COLUMNS if any(e.get(k) for e in summary)]
    lines = [f"Data: {setup['data']} (corpus {setup['corpus']}, channels {setup['channels']}); {setup['seeds']} seed(s); "
             f"protocol {setup['protocol']}; budget: {setup['budget']}; grounding on {setup['grounding_data'] or 'nothing'} "
             f"test windows; zero-shot: " + (f"{setup['zero_shot_folds']} two-unseen folds, one seed, mean ± std over folds. "
                                              if setup["zero_shot_folds"] else "off. ") +
             f"Wall time {setup['wall_seconds'] / 60:.1f} min on {setup['cpu_count']} CPU cores (load average "
             f"{setup['load_average_end']} when it ended).", "",
             "| row | " + " | ".join(h for _, h in shown) + " |", "|---|" + "---|" * len(shown)]
    for e in summary:
        lines.append(f"| {e['row']} | " + " | ".join(_cell(e.get(k), k) for k, _ in shown) + " |")
    lines += ["", "Rows: " + "; ".join(f"`{name}` = {json.dumps(cfg)}" for name, cfg in setup["rows"].items()) + ".", "",
              f"Default: {DEFAULT_RULE}. " + (f"It picks **{choice['row']}**." if choice.get("row") else choice.get("why", ""))]
    return "\n".join(lines) + "\n"


def _cell(value: Any, key: str) -> str:
    if not value:
        return "—"
    digits = 0 if key == "train_seconds" else 3
    return f"{value['mean']:.{digits}f} ± {value['std']:.{digits}f}"


def _write_csv(path: Path, runs: list[dict[str, Any]]) -> None:
    fields = list(dict.fromkeys(k for r in runs for k in r))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(runs)
