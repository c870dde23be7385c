"""What the report's numbers mean, as plain data: no HTML here.

Which model computed a number, which rows a table holds, which zero-shot folds answer the
headline's question, the chance level each accuracy is compared with, and the verdict. The
sections turn these into words and tables; the tests check them directly.

Who computed what (design.md: "a number sits under the name of what computed it"):

- ``metrics.json`` in the layout with ``baselines.sentence_reader``: ``explanation`` and
  ``zero_shot`` are the model's own; ``baselines.sentence_reader`` holds the sentence
  reader's numbers under the same keys.
- ``metrics.json`` without it (the layout written so far): ``explanation`` is the sentence
  reader's (a ridge map from the signal's summary features, which never sees the model),
  and only ``explanation.action_codes`` is the model's own; ``zero_shot`` is the reader's
  when it names a ``method``, and its ``baselines.model_label_embedding`` is the model's own.
- A zero-shot result that names no method, in a file that does not say whose it is, is
  credited to nobody ("not recorded"), never to the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .folder import Explanation, Run, model_words, scalar

#: The sentence reader: a ridge map from the signal's summary features to sentences (a baseline).
SENTENCE_READER = "sentence reader (baseline)"
#: What a number is credited to when its file does not say who computed it.
NOT_RECORDED = "not recorded (the file does not say which model computed it)"
#: Baselines scored beside a zero-shot fold (``baselines.<name>``) in words.
BASELINE_WORDS = {
    "name_only": "baseline: label names only",
    "text_only": "text check: a label's held-out sentences matched by its others (no signal)",
    "sentence_reader": SENTENCE_READER,
}
#: A model's own zero-shot scoring when it sits among the baselines of today's layout.
MODEL_BASELINES = {"model_label_embedding": "predicted label embedding"}
#: Keys that make a dict a zero-shot result (``holdout_accuracy``: older runs).
ZERO_SHOT_KEYS = ("unseen_accuracy", "unseen_gzsl_accuracy", "holdout_accuracy")
#: What a baseline scored beside a fold shares with it when it does not say so itself.
SHARED_FOLD_KEYS = ("candidates", "chance", "chance_unseen", "unseen_labels")
#: Entries of an explanation dict that are not its own measures.
NESTED_EXPLANATION_KEYS = ("action_codes", "shuffled_control")


@dataclass(frozen=True)
class Scorer:
    """Who computed a number: the model itself (``is_model``), a named baseline, or nobody named."""

    name: str
    is_model: bool = False


# ---------------------------------------------------------------- which layout, whose numbers


def reader_baseline(metrics: dict) -> dict | None:
    """``baselines.sentence_reader`` of a metrics.json in the layout that has it; None in today's layout."""
    baselines = metrics.get("baselines")
    reader = baselines.get("sentence_reader") if isinstance(baselines, dict) else None
    return reader if isinstance(reader, dict) else None


def first_of_each_model(runs: list[Run]) -> list[Run]:
    """The first run (seed) of each model key, in order."""
    seen: set[str] = set()
    return [r for r in runs if not (r.key in seen or seen.add(r.key))]


@dataclass
class Measured:
    """One column of numbers and who computed them."""

    scorer: Scorer
    values: dict[str, Any]


def _reader_columns(reader: dict, name: str) -> list[Measured]:
    columns = [Measured(Scorer(name), reader)]
    control = reader.get("shuffled_control")
    if isinstance(control, dict):  # the control chooses among as many sentences: the reader's chance
        values = {"precision_chance": reader.get("precision_chance"), **control} if "precision_chance" in reader else control
        columns.append(Measured(Scorer(f"{name}, corpus shuffled across labels (control)"), values))
    return columns


def explanation_columns(runs: list[Run]) -> list[Measured]:
    """The explanation measures of each model (first seed), each under what computed it:
    the model's own columns first, then the sentence reader's (with its shuffled control)."""
    own: list[Measured] = []
    readers: list[tuple[Run, dict]] = []
    for run in first_of_each_model(runs):
        entry = run.metrics.get("explanation")
        entry = entry if isinstance(entry, dict) else {}
        codes = entry.get("action_codes")
        reader = reader_baseline(run.metrics)
        if reader is not None:  # the layout where explanation is the model's own
            if any(k not in NESTED_EXPLANATION_KEYS for k in entry):
                own.append(Measured(Scorer(run.name, True), entry))
            if isinstance(codes, dict):
                own.append(Measured(Scorer(f"{run.name}, its action-code slots", True), codes))
            if isinstance(reader.get("explanation"), dict):
                readers.append((run, reader["explanation"]))
        else:  # today's layout: explanation is the reader's, action_codes the model's own
            if isinstance(codes, dict):
                own.append(Measured(Scorer(run.name, True), codes))
            if any(k not in NESTED_EXPLANATION_KEYS for k in entry):
                readers.append((run, entry))
    columns = list(own)
    for run, reader in readers:
        name = SENTENCE_READER if len(readers) == 1 else f"{SENTENCE_READER} on {run.name}'s data"
        columns += _reader_columns(reader, name)
    return columns


def bench_explanation_columns(entry: dict) -> list[Measured]:
    """A zero-shot bench's explanation check: the sentence reader's, with its shuffled control."""
    return _reader_columns(entry, f"{SENTENCE_READER}, zero-shot bench")


# ---------------------------------------------------------------- zero-shot folds


@dataclass
class ZeroShotFold:
    """One held-out-activity result: the activities held out, its numbers (design.md
    ``zero_shot`` keys; an older ``holdout_accuracy`` read as ``unseen_gzsl_accuracy``), and who computed it."""

    held_out: list[str]
    values: dict[str, Any]
    scorer: Scorer
    seed: Any = None
    source: Path | None = None

    def __post_init__(self) -> None:
        if "unseen_gzsl_accuracy" not in self.values and "holdout_accuracy" in self.values:
            self.values = {**self.values, "unseen_gzsl_accuracy": self.values["holdout_accuracy"]}


def is_zero_shot(values: Any) -> bool:
    return isinstance(values, dict) and any(key in values for key in ZERO_SHOT_KEYS)


def held_out_of(values: dict, default: list[str] | None = None) -> list[str]:
    return [str(h) for h in values.get("unseen_labels") or values.get("holdout_labels") or default or []]


def _baseline_folds(baselines: Any, fold: ZeroShotFold, model_name: str | None) -> list[ZeroShotFold]:
    """The baselines scored beside ``fold`` (same held-out activities), each under its own name."""
    found = []
    for name, values in (baselines or {}).items() if isinstance(baselines, dict) else []:
        if not is_zero_shot(values):
            continue
        if name in MODEL_BASELINES and model_name:
            scorer = Scorer(f"{model_name}, {MODEL_BASELINES[name]}", True)
        else:
            scorer = Scorer(BASELINE_WORDS.get(name, name))
        shared = {k: fold.values[k] for k in SHARED_FOLD_KEYS if k in fold.values}  # the same candidates, the same chance
        found.append(ZeroShotFold(fold.held_out, {**shared, **values}, scorer, fold.seed, fold.source))
    return found


def run_folds(run: Run) -> list[ZeroShotFold]:
    """The zero-shot results of one held-out-activity run, each credited to what computed it."""
    values = run.metrics.get("zero_shot")
    if not run.holdout or not is_zero_shot(values):
        return []
    reader = reader_baseline(run.metrics)
    if reader is not None:
        scorer = Scorer(run.name, True)
    else:
        scorer = Scorer(SENTENCE_READER) if isinstance(values.get("method"), str) else Scorer(NOT_RECORDED)
    fold = ZeroShotFold(held_out_of(values, run.holdout), dict(values), scorer, run.metrics.get("seed"), run.path / "metrics.json")
    folds = [fold, *_baseline_folds(values.get("baselines"), fold, run.name)]
    if reader is not None:  # baselines.<name> holds the same keys as the run: its zero_shot entry
        others = {name: entry.get("zero_shot") for name, entry in run.metrics["baselines"].items() if isinstance(entry, dict)}
        folds += _baseline_folds(others, fold, run.name)
    return folds


def bench_folds(bench: dict, source: Path) -> list[ZeroShotFold]:
    """The folds a zero-shot bench lists in ``per_fold``, each under its ``method`` (else not recorded), and their baselines.

    The folds are the model's own when the bench says so: its ``model`` names a model, not the
    sentence reader (``mmvq bench zero-shot --model mmvqshape``)."""
    folds = []
    own = bench.get("model") not in (None, "sentence-reader")
    for entry in bench.get("per_fold") or []:
        if not is_zero_shot(entry):
            continue
        method = entry.get("method")
        scorer = Scorer(method, own) if isinstance(method, str) else Scorer(NOT_RECORDED)
        fold = ZeroShotFold(held_out_of(entry), dict(entry), scorer, entry.get("seed"), source)
        folds += [fold, *_baseline_folds(entry.get("baselines"), fold, None)]
    return folds


def candidates_count(values: dict[str, Any]) -> int | None:
    """How many activities a fold chose among (``candidates``: a list or a count)."""
    candidates = values.get("candidates")
    return len(candidates) if isinstance(candidates, list) else candidates if isinstance(candidates, int) else None


def chance_among_held_out(fold: ZeroShotFold) -> float | None:
    """Chance of naming a held-out window right when choosing among the held-out activities only."""
    return fold.values.get("chance_unseen") or (1 / len(fold.held_out) if fold.held_out else None)


def chance_among_all(fold: ZeroShotFold) -> float | None:
    """Chance of naming a window right when choosing among every candidate activity."""
    n = candidates_count(fold.values)
    return fold.values.get("chance") or (1 / n if n else None)


def headline_folds(folds: list[ZeroShotFold]) -> list[ZeroShotFold]:
    """The folds the headline answers from: the model's own when there are any, else those of
    the first scorer listed (named as what it is, never as the model)."""
    own = [f for f in folds if f.scorer.is_model]
    pool = own or folds
    return [f for f in pool if f.scorer == pool[0].scorer] if pool else []


def _mean(values: list[float | None]) -> float | None:
    numbers = [v for v in values if v is not None]
    return float(np.mean(numbers)) if numbers else None


@dataclass
class ZeroShotAnswer:
    """The answer to "were unseen activities recognised?" from one scorer's folds.

    With two or more activities held out the measure is ``unseen_accuracy`` (choosing among
    the held-out activities, chance 1 / their number); with one that choice is trivial, so it
    is ``unseen_gzsl_accuracy`` (choosing among all activities).
    """

    scorer: Scorer
    n_folds: int
    held_out: float
    accuracy: float | None
    chance: float | None
    among_held_out: bool
    all_activities_accuracy: float | None
    harmonic_mean: float | None
    lower: float | None = None  # lower end of the accuracy's 95 % interval (one fold: Wilson; several: mean - 1.96 s.e.)

    @property
    def above_chance(self) -> bool:
        """Above chance beyond noise: the interval's lower end above chance (the mean, where no
        interval is known)."""
        if self.accuracy is None or self.chance is None:
            return False
        return (self.lower if self.lower is not None else self.accuracy) > self.chance

    @property
    def within_noise(self) -> bool:
        """Above chance on average, but chance lies inside the 95 % interval."""
        return not self.above_chance and self.accuracy is not None and self.chance is not None and self.accuracy > self.chance


def accuracy_lower_bound(folds: list[ZeroShotFold], key: str) -> float | None:
    """Lower end of a 95 % interval of ``key``: one fold's recorded Wilson interval (``<key>_ci95``),
    or over several folds the mean minus 1.96 standard errors."""
    values = [v for v in (scalar(f.values.get(key)) for f in folds) if v is not None]
    if len(values) >= 2:
        return float(np.mean(values) - 1.96 * np.std(values, ddof=1) / np.sqrt(len(values)))
    interval = folds[0].values.get(f"{key}_ci95") if len(folds) == 1 else None
    return float(interval[0]) if isinstance(interval, (list, tuple)) and len(interval) == 2 else None


def zero_shot_answer(folds: list[ZeroShotFold]) -> ZeroShotAnswer | None:
    """The headline's zero-shot answer (None when no activity was held out)."""
    chosen = headline_folds(folds)
    if not chosen:
        return None
    unseen = _mean([scalar(f.values.get("unseen_accuracy")) for f in chosen])
    gzsl = _mean([scalar(f.values.get("unseen_gzsl_accuracy")) for f in chosen])
    held = float(np.mean([len(f.held_out) for f in chosen]))
    among_held_out = unseen is not None and held >= 2
    if among_held_out:
        accuracy, chance = unseen, 1 / held
    else:
        accuracy, chance = gzsl, chance_among_all(chosen[0]) if gzsl is not None else None
    key = "unseen_accuracy" if among_held_out else "unseen_gzsl_accuracy"
    return ZeroShotAnswer(chosen[0].scorer, len(chosen), held, accuracy, chance, among_held_out, gzsl,
                          _mean([scalar(f.values.get("harmonic_mean")) for f in chosen]),
                          accuracy_lower_bound(chosen, key) if accuracy is not None else None)


# ---------------------------------------------------------------- models and their accuracy


@dataclass
class ModelRow:
    """One model's line in the headline: accuracy mean ± std over its seeds."""

    name: str
    description: str
    mean: float
    std: float
    seeds: int
    macro_f1_mean: float | None = None
    macro_f1_std: float | None = None
    n_test: int | None = None
    runs: list[Run] = field(default_factory=list)


def bench_rows(summary_rows: list[dict]) -> list[ModelRow]:
    """A ``bench accuracy`` summary's rows (zero-shot rows and unscored rows left out), best first."""
    rows = []
    for entry in summary_rows:
        if "zero-shot" in str(entry.get("model")) or entry.get("accuracy_mean") is None:
            continue
        key = str(entry.get("model"))
        if entry.get("shots") not in (None, "all"):
            key = f"{key}-{entry['shots']}"
        name, description = model_words(key)
        rows.append(ModelRow(name, description, float(entry["accuracy_mean"]), float(entry.get("accuracy_std") or 0.0),
                             int(entry.get("seeds") or 1), scalar(entry.get("macro_f1_mean")), scalar(entry.get("macro_f1_std"))))
    return sorted(rows, key=lambda r: (-r.mean, r.name))


def run_rows(runs: list[Run]) -> list[ModelRow]:
    """Runs grouped by model (runs that differ only by seed are one row, mean ± std), best first."""
    groups: dict[str, list[Run]] = {}
    several_data = len({r.data for r in runs}) > 1
    for run in runs:
        groups.setdefault(f"{run.data}/{run.key}" if several_data else run.key, []).append(run)
    rows = []
    for group in groups.values():
        accuracy = [a for a in (scalar(r.metrics.get("accuracy")) for r in group) if a is not None]
        macro = [m for m in (scalar(r.metrics.get("macro_f1")) for r in group) if m is not None]
        n_test = group[0].metrics.get("n_test")
        rows.append(ModelRow(group[0].name, group[0].description, float(np.mean(accuracy)), float(np.std(accuracy)),
                             len(accuracy), _mean(macro), float(np.std(macro)) if macro else None,
                             n_test if isinstance(n_test, int) else None, group))
    return sorted(rows, key=lambda r: (-r.mean, r.name))


def model_rows(bench_summary_rows: list[dict] | None, classifier_runs: list[Run]) -> list[ModelRow]:
    """One row per model, best first: a bench's own summary when the folder is a bench, else its runs."""
    return bench_rows(bench_summary_rows) if bench_summary_rows is not None else run_rows(classifier_runs)


def tied_best(rows: list[ModelRow]) -> list[ModelRow]:
    """The rows that share the best mean accuracy (rows sorted best first)."""
    return [r for r in rows if abs(r.mean - rows[0].mean) < 1e-9] if rows else []


@dataclass
class Retrieval:
    """A run's label-text retrieval: how often its predicted label description lies nearest the right label's text."""

    run: Run
    accuracy: float
    chance: float | None


def label_text_retrieval(classifier_runs: list[Run]) -> list[Retrieval]:
    """Every all-labels-seen run's retrieval (older runs wrote it as ``zero_shot`` with ``accuracy``)."""
    found = []
    for run in classifier_runs:
        entry = run.metrics.get("label_text_retrieval") or run.metrics.get("zero_shot") or {}
        accuracy = scalar(entry.get("accuracy"))
        if accuracy is not None:
            found.append(Retrieval(run, accuracy, entry.get("chance") or (1 / entry["candidates"] if entry.get("candidates") else None)))
    return found


# ---------------------------------------------------------------- explained windows


def explanations_in_label_order(explanations: list[Explanation], labels: list[str]) -> list[Explanation]:
    """Explained windows ordered by their true activity's class index, then window index."""
    order = {label: i for i, label in enumerate(labels)}
    return sorted(explanations, key=lambda e: (order.get(e.data.get("true_label"), len(order)), e.index))


def prediction_verdict(true: Any, predicted: Any) -> str | None:
    """'correct' or 'wrong'; None when nothing was predicted."""
    if predicted is None:
        return None
    return "correct" if predicted == true else "wrong"


@dataclass
class TimelineSpan:
    """Where one chosen sentence sits in its window, in samples."""

    slot: int
    sentence: str
    source_label: str
    start: float
    end: float


def timeline_extent(explanation: dict, spans: list[TimelineSpan]) -> float:
    """The timeline's axis end: the window's samples as loaded (``loaded_length``), the unit its
    spans are in; never the model's resampled ``length``. An older file without it: the last
    span's end."""
    loaded = scalar(explanation.get("loaded_length"))
    return float(loaded) if loaded is not None and loaded > 0 else max((span.end for span in spans), default=1.0)


def timeline_spans(explanation: dict) -> list[TimelineSpan]:
    """The chosen sub-actions that carry ``start`` / ``end`` (samples); empty when none does."""
    spans = []
    for slot, entry in enumerate(explanation.get("sub_actions") or []):
        start, end = (scalar(entry.get(k)) if isinstance(entry, dict) else None for k in ("start", "end"))
        if start is None or end is None or end < start:
            continue
        spans.append(TimelineSpan(int(entry.get("slot", slot)), str(entry.get("sentence", "")),
                                  str(entry.get("source_label", "")), start, end))
    return spans
