"""``mmvq bench zero-shot``: unseen activities recognised from their sub-action sentences alone.

Folds: ``unseen`` (one fold, the labels given) or every combination of ``unseen_size`` labels
(``folds`` of them when fewer are asked: a fixed seeded choice that does not depend on
``seeds``). Seeds redraw the validation split (by subject where subjects exist). Each fold
follows the honest protocol of :mod:`mmvqshape.evaluation.calibration`. ``model`` says whose
numbers ``summary`` and ``per_fold`` hold: the sentence reader (default; a ridge map from
:func:`~mmvqshape.signals.features.summary_features`, no learning of the representation, so
unseen windows shape nothing), or ``mmvqshape``, the token MMVQShape fitted per fold on the
seen labels (:mod:`mmvqshape.evaluation.token_zero_shot`; ``architecture="plan"``: the plan's
model trained per fold, :mod:`mmvqshape.evaluation.plan_zero_shot`), with the reader's numbers on
the same folds under ``baselines.sentence_reader``; the outputs name the architecture. Explanations (the reader's) are measured on the test
windows of a reader fitted on every label, beside the same reader fitted on a corpus shuffled
across labels (the control: its precision, counted against the sentences' true labels, should
sit at chance). ``evaluate_on="val"`` scores validation subjects instead, for design choices.

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
from ..evaluation.reader import EXPLANATION_BY, development_split, explanation_check, shuffled_corpus_precision, zero_shot_fold
from ..evaluation.plan_zero_shot import PlanBudget, fit_plan_model
from ..evaluation.token_zero_shot import TokenZeroShotSettings, resampled_signals, token_zero_shot_fold
from .zero_shot import candidate_texts

N_SHUFFLES = 5  # shuffled-corpus controls averaged
READER = "sentence-reader"
#: What ``--model`` chooses: whose numbers ``summary`` and ``per_fold`` hold.
MODELS = (READER, "mmvqshape")
REPRESENTATION = {
    READER: "summary_features (per-channel statistics, spectra, gravity direction)",
    "mmvqshape": "token MMVQShape: bags of shape tokens over the window and its segments, tokenizer and heads fitted "
                 "per fold on the seen labels' training windows (the sentence reader and names-only baseline read "
                 "summary_features)",
}
METHOD_WORDS = {READER: "sub-action sentences + calibrated stacking",
                "mmvqshape": "token MMVQShape: its text scores + calibrated stacking"}
#: ``--architecture`` of ``--model mmvqshape``: the bag model (heads on cached bags) or the plan's model.
ARCHITECTURES = ("bag", "plan")
PLAN_REPRESENTATION = ("the plan's model on shape tokens (fusion with sub-action tokens, attribute encoder, action codebook, "
                       "label reconstruction), tokenizer and model fitted per fold on the seen labels' training windows, "
                       "read signal only (the sentence reader and names-only baseline read summary_features)")
DEVELOPMENT_WORDS = "validation windows (development split: a quarter of the training subjects validate, test windows unused)"


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
    size = 1 if unseen_size is None else unseen_size  # 0 is out of range, not leave-one-out
    if not 1 <= size <= len(labels) - 2:
        raise UserError("--unseen-size", f"must be between 1 and {len(labels) - 2} for {len(labels)} labels")
    combos = [list(c) for c in itertools.combinations(labels, size)]
    if folds is not None and folds < 1:
        raise UserError("--folds", "must be at least 1")
    if folds is not None and folds < len(combos):
        picked = sorted(np.random.default_rng(0).choice(len(combos), folds, replace=False).tolist())
        combos = [combos[i] for i in picked]
    return combos


def _fold(model: str, features: np.ndarray, signals: np.ndarray | None, y: np.ndarray, split: np.ndarray, texts,
          unseen_names: Sequence[str], settings: TokenZeroShotSettings, seed: int, architecture: str = "bag",
          budget: PlanBudget | None = None) -> dict[str, Any]:
    """One fold's row: the reader's (``sentence-reader``), or the token MMVQShape's with the
    reader's numbers under ``baselines.sentence_reader`` beside names-only and text-only."""
    reader = zero_shot_fold(features, y, split, texts, unseen_names)
    if model == READER:
        return reader
    fit = (lambda *args: fit_plan_model(*args, budget=budget)) if architecture == "plan" else None
    result = token_zero_shot_fold(signals, y, split, texts, unseen_names, settings, seed, fit=fit)
    result["baselines"] = {"sentence_reader": {k: v for k, v in reader.items() if k != "baselines"}, **reader["baselines"]}
    return result


def run_bench_zero_shot(*, data: str, corpus: str, out: str | Path, unseen: Sequence[str] | None = None,
                        unseen_size: int | None = None, folds: int | None = None, seeds: int = 1,
                        encoder: str = "minilm", view: str = "auto", channels: str = "acc", model: str = READER,
                        evaluate_on: str = "test", settings: TokenZeroShotSettings | None = None,
                        architecture: str = "bag", budget: PlanBudget | None = None,
                        progress: bool = True) -> dict[str, Any]:
    """Run the zero-shot bench and write its folder; returns the summary dict.

    ``model``: ``sentence-reader`` or ``mmvqshape`` (the token MMVQShape, fitted per fold by
    :mod:`~mmvqshape.evaluation.token_zero_shot` with ``settings``; the reader then sits under
    ``baselines.sentence_reader``). ``evaluate_on="val"`` scores the validation windows instead
    of the test windows (:func:`~mmvqshape.evaluation.reader.development_split`): the split
    on which design choices are made. ``architecture`` (``--model mmvqshape`` only): ``bag``, or
    ``plan``, the plan's model trained per fold with ``budget``
    (:func:`~mmvqshape.evaluation.plan_zero_shot.fit_plan_model`)."""
    started = time.time()
    if seeds < 1:
        raise UserError("--seeds", "must be at least 1")
    if model not in MODELS:
        raise UserError("--model", f"must be one of {', '.join(MODELS)}")
    if architecture not in ARCHITECTURES:
        raise UserError("--architecture", f"must be one of {', '.join(ARCHITECTURES)}")
    if architecture != "bag" and model == READER:
        raise UserError("--architecture", "applies to --model mmvqshape only")
    if evaluate_on not in ("test", "val"):
        raise UserError("--evaluate-on", "must be test or val")
    settings = settings or TokenZeroShotSettings()
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
        signals = resampled_signals(np.asarray(windows.X), settings.length) if model != READER else None
        split = development_split(windows.split, windows.subject, seed) if evaluate_on == "val" else np.asarray(windows.split)
        fold_sets = choose_folds(labels, unseen, unseen_size, folds)
        for f, unseen_names in enumerate(fold_sets):
            fold_start = time.time()
            result = _fold(model, features, signals, np.asarray(windows.y), split, texts, unseen_names, settings, seed,
                           architecture, budget)
            result.update({"fold": f, "seed": seed, "seconds": round(time.time() - fold_start, 3)})
            rows.append(result)
            if progress:
                print(f"seed {seed} fold {f + 1}/{len(fold_sets)} unseen {', '.join(unseen_names)}: "
                      + " ".join(f"{k}={_value(result[k])}" for k in HEADLINE_KEYS), flush=True)
        if seed == 0:
            explanation = reader_explanation(features, windows.y, split, texts)
    summary = {
        "data": data, "corpus": str(corpus), "encoder": encoder, "view": embeddings.meta.get("view", view), "seeds": seeds, "model": model,
        "evaluated_on": "test windows" if evaluate_on == "test" else DEVELOPMENT_WORDS,
        "folds": [list(f) for f in fold_sets],
        "summary": summarize_folds(rows),
        "baselines": _baseline_summaries(rows),
        "explanation": explanation,
        "per_fold": rows,
        "signal_representation": PLAN_REPRESENTATION if architecture == "plan" else REPRESENTATION[model],
        **({"architecture": architecture, "model_settings": settings.to_dict()} if model != READER else {}),
        **({"training_budget": (budget or PlanBudget()).to_dict()} if architecture == "plan" else {}),
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


def _baseline_summaries(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± std over folds of every baseline scored beside the model (same folds)."""
    out = {"name_only": summarize_folds([r["baselines"]["name_only"] for r in rows]),
           "text_only": summarize_folds([r["baselines"]["text_only"] for r in rows], ("unseen_accuracy", "unseen_gzsl_accuracy"))}
    if rows and "sentence_reader" in rows[0]["baselines"]:
        out["sentence_reader"] = summarize_folds([r["baselines"]["sentence_reader"] for r in rows])
    return out


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with_reader = bool(rows) and "sentence_reader" in rows[0]["baselines"]
    writer.writerow(["seed", "fold", "unseen", *HEADLINE_KEYS, "unseen_accuracy_ci95", "unseen_gzsl_accuracy_ci95", "gamma",
                     "name_only_unseen_accuracy", "name_only_harmonic_mean", "text_only_unseen_accuracy",
                     *(["sentence_reader_unseen_accuracy", "sentence_reader_harmonic_mean"] if with_reader else [])])
    for r in rows:
        writer.writerow([r["seed"], r["fold"], "+".join(r["unseen_labels"]), *(_rounded(r[k]) for k in HEADLINE_KEYS),
                         r["unseen_accuracy_ci95"], r["unseen_gzsl_accuracy_ci95"], r["gamma"],
                         _rounded(r["baselines"]["name_only"]["unseen_accuracy"]),
                         round(r["baselines"]["name_only"]["harmonic_mean"], 4),
                         _rounded(r["baselines"]["text_only"]["unseen_accuracy"]),
                         *([_rounded(r["baselines"]["sentence_reader"][k]) for k in ("unseen_accuracy", "harmonic_mean")]
                           if with_reader else [])])
    return buffer.getvalue()


def reader_explanation(features: np.ndarray, y: np.ndarray, split: np.ndarray, texts) -> dict[str, Any]:
    """The bench's ``explanation`` block, whatever ``--model`` scores the folds: the sentence
    reader's explanation check with its shuffled-corpus control, naming the reader under
    ``computed_by`` (a baseline when the folds are the model's)."""
    explanation = {"computed_by": EXPLANATION_BY, **explanation_check(features, y, split, texts)}
    explanation["shuffled_control"] = shuffled_corpus_precision(features, y, split, texts, N_SHUFFLES)
    return explanation


def _method_words(summary: dict[str, Any]) -> str:
    """The model row's name, with its architecture for ``--model mmvqshape``."""
    words = METHOD_WORDS[summary.get("model", READER)]
    return f"{words} (architecture {summary['architecture']})" if "architecture" in summary else words


def _pm(entry: dict[str, float]) -> str:
    if not np.isfinite(entry["mean"]):  # every fold's value is true by construction (one unseen candidate)
        return "1 by construction"
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _value(value: float | None) -> str:
    """A fold's figure, or what it is when it is no result (one unseen candidate)."""
    return "1 by construction" if value is None else f"{value:.3f}"


def bench_markdown(summary: dict[str, Any]) -> str:
    s, b = summary["summary"], summary["baselines"]
    lines = [
        f"Data: {summary['data']}; corpus: {summary['corpus']} ({summary['encoder']}, view {summary['view']}); "
        f"{len(summary['folds'])} folds x {summary['seeds']} seed(s), scored on {summary.get('evaluated_on', 'test windows')}; "
        f"wall time {summary['wall_seconds']} s on {summary['machine']}.",
        "",
        "| scoring | " + " | ".join(HEADLINE_KEYS) + " |",
        "|---|---|---|---|---|",
        f"| {_method_words(summary)} | " + " | ".join(_pm(s[k]) for k in HEADLINE_KEYS) + " |",
        *(["| baseline: sentence reader (ridge on summary features) + calibrated stacking | "
           + " | ".join(_pm(b["sentence_reader"][k]) for k in HEADLINE_KEYS) + " |"] if "sentence_reader" in b else []),
        "| label name only (no calibration) | " + " | ".join(_pm(b["name_only"][k]) for k in HEADLINE_KEYS) + " |",
        f"| text only (held-out sentence → its label) | {_pm(b['text_only']['unseen_accuracy'])} | – | "
        f"{_pm(b['text_only']['unseen_gzsl_accuracy'])} | – |",
        "",
        "| seed | unseen labels | unseen_accuracy [95 % CI] | seen_accuracy | unseen_gzsl_accuracy [95 % CI] | harmonic_mean |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary["per_fold"]:
        lines.append(f"| {r['seed']} | {', '.join(r['unseen_labels'])} | {_value(r['unseen_accuracy'])} {r['unseen_accuracy_ci95'] or ''} | "
                     f"{r['seen_accuracy']:.3f} | {r['unseen_gzsl_accuracy']:.3f} {r['unseen_gzsl_accuracy_ci95']} | {r['harmonic_mean']:.3f} |")
    e = summary.get("explanation") or {}
    if e:
        lines += [
            "",
            f"Explanations by the {e.get('computed_by', EXPLANATION_BY)}"
            + (", a baseline: not the model's own sentences" if summary.get("model", READER) != READER else "")
            + f" (test windows, fitted on every label, k = {e['k']} sentences per window):",
            "",
            "| precision | chance | shuffled-corpus control | diversity | repeat_rate | specificity | faithfulness (random-sentence control) |",
            "|---|---|---|---|---|---|---|",
            f"| {e['precision']:.3f} | {e['precision_chance']:.3f} | {e['shuffled_control']['precision']:.3f} | {e['diversity']:.3f} | "
            f"{e['repeat_rate']:.3f} | {e['specificity']:.3f} | {e['faithfulness']:.3f} ({e['faithfulness_random']:.3f}) |",
        ]
    return "\n".join(lines) + "\n"
