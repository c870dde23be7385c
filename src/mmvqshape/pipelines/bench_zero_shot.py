"""``mmvq bench zero-shot``: unseen activities recognised from their sub-action sentences alone.

Folds: ``unseen`` (one fold, the labels given) or every combination of ``unseen_size`` labels
(``folds`` of them when fewer are asked: a fixed seeded choice that does not depend on
``seeds``). Seeds redraw the validation split (by subject where subjects exist). Each fold
follows the honest protocol of :mod:`mmvqshape.pipelines.zero_shot`; the signal
representation is :func:`~mmvqshape.signals.features.summary_features` (no learning, so unseen
windows shape nothing). Explanations are measured on the test windows of a model fitted on
every label, beside the same model fitted on a corpus shuffled across labels (the control:
its precision, counted against the sentences' true labels, should sit at chance).

Outputs in ``out``: ``zero_shot.json`` (every fold's keys with binomial intervals, the summary
mean ± std over folds and seeds, baselines, explanations, setup, wall time), ``zero_shot.md``
(the tables) and ``zero_shot.csv`` (one row per fold and seed).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..atomic import atomic_dir
from ..errors import UserError
from ..labels import normalize_label
from ..signals import load_windows
from ..signals.features import summary_features
from ..text.encoders import embed_corpus
from ..training.zero_shot_metrics import HEADLINE_KEYS, summarize_folds
from .zero_shot import candidate_texts, explanation_check, shuffled_corpus_precision, zero_shot_fold

N_SHUFFLES = 5  # shuffled-corpus controls averaged


def choose_folds(labels: Sequence[str], unseen: Sequence[str] | None, unseen_size: int | None, folds: int | None) -> list[list[str]]:
    """The unseen label sets, one per fold."""
    if unseen:
        known = {normalize_label(n): n for n in labels}
        missing = [n for n in unseen if normalize_label(n) not in known]
        if missing:
            raise UserError("--unseen", f"unknown labels {', '.join(missing)} (data has: {', '.join(labels)})")
        chosen = [known[normalize_label(n)] for n in unseen]
        if len(set(chosen)) >= len(labels) - 1:
            raise UserError("--unseen", "at least two labels must stay seen")
        return [chosen]
    size = unseen_size or 1
    if not 1 <= size <= len(labels) - 2:
        raise UserError("--unseen-size", f"must be between 1 and {len(labels) - 2} for {len(labels)} labels")
    combos = [list(c) for c in itertools.combinations(labels, size)]
    if folds is not None and folds < 1:
        raise UserError("--folds", "must be at least 1")
    if folds is not None and folds < len(combos):
        picked = sorted(np.random.default_rng(0).choice(len(combos), folds, replace=False).tolist())
        combos = [combos[i] for i in picked]
    return combos


def run_bench_zero_shot(*, data: str, corpus: str, out: str | Path, unseen: Sequence[str] | None = None,
                        unseen_size: int | None = None, folds: int | None = None, seeds: int = 1,
                        encoder: str = "minilm", view: str = "armleg", channels: str = "acc",
                        progress: bool = True) -> dict[str, Any]:
    """Run the zero-shot bench and write its folder; returns the summary dict."""
    started = time.time()
    if seeds < 1:
        raise UserError("--seeds", "must be at least 1")
    out = Path(out)
    choose_folds(list(load_windows(data, channels=channels, seed=0).labels), unseen, unseen_size, folds)  # bad folds fail first
    out.parent.mkdir(parents=True, exist_ok=True)
    embeddings = embed_corpus(corpus, encoder, view=view)
    rows: list[dict[str, Any]] = []
    explanation: dict[str, Any] = {}
    fold_sets: list[list[str]] = []
    for seed in range(seeds):
        windows = load_windows(data, channels=channels, seed=seed)
        labels = list(windows.labels)
        texts = candidate_texts(embeddings, labels, str(corpus))
        features = summary_features(np.asarray(windows.X))
        fold_sets = choose_folds(labels, unseen, unseen_size, folds)
        for f, unseen_names in enumerate(fold_sets):
            fold_start = time.time()
            result = zero_shot_fold(features, windows.y, windows.split, texts, unseen_names)
            result.update({"fold": f, "seed": seed, "seconds": round(time.time() - fold_start, 3)})
            rows.append(result)
            if progress:
                print(f"seed {seed} fold {f + 1}/{len(fold_sets)} unseen {', '.join(unseen_names)}: "
                      + " ".join(f"{k}={result[k]:.3f}" for k in HEADLINE_KEYS), flush=True)
        if seed == 0:
            explanation = explanation_check(features, windows.y, windows.split, texts)
            explanation["shuffled_control"] = shuffled_corpus_precision(features, windows.y, windows.split, texts, N_SHUFFLES)
    summary = {
        "data": data, "corpus": str(corpus), "encoder": encoder, "view": view, "seeds": seeds,
        "folds": [list(f) for f in fold_sets],
        "summary": summarize_folds(rows),
        "baselines": {
            "name_only": summarize_folds([r["baselines"]["name_only"] for r in rows]),
            "text_only": summarize_folds([r["baselines"]["text_only"] for r in rows], ("unseen_accuracy", "unseen_gzsl_accuracy")),
        },
        "explanation": explanation,
        "per_fold": rows,
        "signal_representation": "summary_features (per-channel statistics, spectra, gravity direction)",
        "machine": f"{platform.machine()}, {_cores()} cores",
        "wall_seconds": round(time.time() - started, 1),
    }
    markdown = bench_markdown(summary)
    with atomic_dir(out) as tmp:
        (tmp / "zero_shot.json").write_text(json.dumps({"kind": "zero_shot_bench", **summary}, indent=2, default=_json_default) + "\n")
        (tmp / "zero_shot.md").write_text(markdown)
        (tmp / "zero_shot.csv").write_text(_csv(rows))
    summary["markdown"] = markdown
    return summary


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seed", "fold", "unseen", *HEADLINE_KEYS, "unseen_accuracy_ci95", "unseen_gzsl_accuracy_ci95", "gamma",
                     "name_only_unseen_accuracy", "name_only_harmonic_mean", "text_only_unseen_accuracy"])
    for r in rows:
        writer.writerow([r["seed"], r["fold"], "+".join(r["unseen_labels"]), *(round(r[k], 4) for k in HEADLINE_KEYS),
                         r["unseen_accuracy_ci95"], r["unseen_gzsl_accuracy_ci95"], r["gamma"],
                         round(r["baselines"]["name_only"]["unseen_accuracy"], 4),
                         round(r["baselines"]["name_only"]["harmonic_mean"], 4),
                         round(r["baselines"]["text_only"]["unseen_accuracy"], 4)])
    return buffer.getvalue()


def _pm(entry: dict[str, float]) -> str:
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def bench_markdown(summary: dict[str, Any]) -> str:
    s, b = summary["summary"], summary["baselines"]
    lines = [
        f"Data: {summary['data']}; corpus: {summary['corpus']} ({summary['encoder']}, view {summary['view']}); "
        f"{len(summary['folds'])} folds x {summary['seeds']} seed(s); wall time {summary['wall_seconds']} s on {summary['machine']}.",
        "",
        "| scoring | " + " | ".join(HEADLINE_KEYS) + " |",
        "|---|---|---|---|---|",
        "| sub-action sentences + calibrated stacking | " + " | ".join(_pm(s[k]) for k in HEADLINE_KEYS) + " |",
        "| label name only (no calibration) | " + " | ".join(_pm(b["name_only"][k]) for k in HEADLINE_KEYS) + " |",
        f"| text only (held-out sentence → its label) | {_pm(b['text_only']['unseen_accuracy'])} | – | "
        f"{_pm(b['text_only']['unseen_gzsl_accuracy'])} | – |",
        "",
        "| seed | unseen labels | unseen_accuracy [95 % CI] | seen_accuracy | unseen_gzsl_accuracy [95 % CI] | harmonic_mean |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary["per_fold"]:
        lines.append(f"| {r['seed']} | {', '.join(r['unseen_labels'])} | {r['unseen_accuracy']:.3f} {r['unseen_accuracy_ci95']} | "
                     f"{r['seen_accuracy']:.3f} | {r['unseen_gzsl_accuracy']:.3f} {r['unseen_gzsl_accuracy_ci95']} | {r['harmonic_mean']:.3f} |")
    e = summary.get("explanation") or {}
    if e:
        lines += [
            "",
            f"Explanations (test windows, model fitted on every label, k = {e['k']} sentences per window):",
            "",
            "| precision | chance | shuffled-corpus control | diversity | repeat_rate | specificity | faithfulness (random-sentence control) |",
            "|---|---|---|---|---|---|---|",
            f"| {e['precision']:.3f} | {e['precision_chance']:.3f} | {e['shuffled_control']['precision']:.3f} | {e['diversity']:.3f} | "
            f"{e['repeat_rate']:.3f} | {e['specificity']:.3f} | {e['faithfulness']:.3f} ({e['faithfulness_random']:.3f}) |",
        ]
    return "\n".join(lines) + "\n"
