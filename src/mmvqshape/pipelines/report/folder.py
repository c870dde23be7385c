"""Reading a run, demo or bench folder into what the report's sections draw.

Nothing here writes HTML. Every reader tolerates what is absent (an older run without a
key, a bench folder without explanations) by returning ``None`` or an empty list, so each
section shows what is present and skips the rest.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Folders never read: weights, logs, temporary outputs.
SKIPPED = {"checkpoints", "logs", "__pycache__"}

#: Display name and one line of what each model is, by run key (folder name without seed / shots).
MODEL_WORDS: dict[str, tuple[str, str]] = {
    "minirocket": ("MiniRocket", "baseline: 10,000 random convolution kernels and a ridge classifier; explains nothing"),
    "summary-lr": ("Summary features + logistic regression",
                   "baseline: per-window statistics, band energies and gravity direction, a logistic regression; explains nothing"),
    "vqshape": ("VQShape", "shape tokens from a learned codebook, then a classifier"),
    "vqshape-probe": ("VQShape, pre-trained + linear probe", "self-supervised shape tokens per channel, a linear classifier on top"),
    "vqshape-flat-weights": ("VQShape, flat loss weights", "VQShape with the plan author's equal loss weights (ablation)"),
    "mmvqshape": ("MMVQShape", "VQShape plus sub-action sentences the model chooses from the signal alone"),
    "mmvqshape-flat-weights": ("MMVQShape, flat loss weights", "MMVQShape with equal loss weights (ablation)"),
    "vqshape-no-stats": ("VQShape, shape tokens only", "VQShape whose classifier sees the shape tokens only, not each channel's mean and spread"),
    "mmvqshape-no-stats": ("MMVQShape, shape tokens only", "MMVQShape whose classifier sees the shape tokens only, not each channel's mean and spread"),
}


def model_words(key: str, model: str | None = None) -> tuple[str, str]:
    """(name, what it is) of a run key or bench row such as ``vqshape-probe`` or
    ``mmvqshape-4-shot``; an unknown variant of a known ``model`` keeps its key in brackets."""
    shots = re.search(r"-(\d+)-shot$", key)
    base = key[: shots.start()] if shots else key
    if base in MODEL_WORDS:
        name, description = MODEL_WORDS[base]
    elif model in MODEL_WORDS:
        name, description = f"{MODEL_WORDS[model][0]} ({base})", MODEL_WORDS[model][1]
    else:
        name, description = base.replace("-", " "), ""
    if shots:
        name += f", {shots.group(1)} training windows per class"
    return name, description


def read_json(path: Path) -> Any:
    """The file's JSON, or None when it is missing or not valid JSON (the report leaves it out)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error):
        return []


def scalar(value: Any) -> float | None:
    """A headline number from a metric that may be a number or a summary dict
    (``overall`` / ``mean`` / ``median`` / ``value``); None when there is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if isinstance(value, dict):
        for key in ("overall", "mean", "median", "value", "all"):
            if key in value:
                return scalar(value[key])
    return None


def is_part(folder: Path) -> bool:
    """A demo-like folder (its own data summary): rendered as a part of its own."""
    return (folder / "data" / "summary.json").is_file()


def files_of(root: Path) -> list[Path]:
    """Every file of this part, in path order: hidden, weight and log folders skipped, and
    nested parts (a second data set's demo inside a demo) left to their own part."""
    found: list[Path] = []

    def walk(folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                if entry.name in SKIPPED or is_part(entry):
                    continue
                walk(entry)
            elif entry.is_file():
                found.append(entry)

    walk(root)
    return found


def nested_parts(root: Path) -> list[Path]:
    """Sub-folders (any depth, outside skipped folders) that are demo-like parts of their own."""
    parts = []
    for entry in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in SKIPPED):
        if is_part(entry):
            parts.append(entry)
        else:
            parts.extend(nested_parts(entry))
    return parts


def run_key(name: str) -> str:
    """A run's group: its folder name without the seed and the 'all windows' tag
    (``mmvqshape-seed1-all`` → ``mmvqshape``; ``vqshape-seed0-4-shot`` → ``vqshape-4-shot``)."""
    key = re.sub(r"[-_]seed\d+", "", name)
    key = re.sub(r"-all$", "", key)
    return key


@dataclass
class Run:
    """One trained model's folder: ``metrics.json`` and whatever sits beside it."""

    path: Path
    metrics: dict
    config: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return run_key(self.path.name)

    @property
    def model(self) -> str:
        return str(self.metrics.get("model") or self.config.get("model_name") or self.path.name)

    @property
    def holdout(self) -> list[str]:
        zero_shot = self.metrics.get("zero_shot") or {}
        return list(zero_shot.get("unseen_labels") or zero_shot.get("holdout_labels") or self.config.get("holdout_labels") or [])

    @property
    def data(self) -> str:
        split = self.metrics.get("split")
        if isinstance(split, dict) and split.get("data"):
            return str(split["data"])
        return str(self.config.get("data") or "")

    @property
    def name(self) -> str:
        """The model in words (bench variants and shots included)."""
        return model_words(self.key, self.model)[0]

    @property
    def description(self) -> str:
        return model_words(self.key, self.model)[1]

    def figure(self, name: str) -> Path | None:
        for path in (self.path / "figures" / name, self.path / name):
            if path.is_file():
                return path
        return None


def find_runs(files: list[Path]) -> list[Run]:
    """Every folder with a readable ``metrics.json`` among ``files``."""
    runs = []
    for path in files:
        if path.name != "metrics.json":
            continue
        metrics = read_json(path)
        if isinstance(metrics, dict):
            config = read_yaml(path.parent / "config.yaml") if (path.parent / "config.yaml").is_file() else {}
            runs.append(Run(path.parent, metrics, config))
    return runs


@dataclass
class Explanation:
    """One explained window: ``explain_<I>.json`` and its figure."""

    json_path: Path
    data: dict
    png: Path | None

    @property
    def index(self) -> int:
        return int(self.data.get("index", -1))


def find_explanations(files: list[Path]) -> list[Explanation]:
    found = []
    for path in files:
        if re.fullmatch(r"explain_\d+\.json", path.name):
            data = read_json(path)
            if isinstance(data, dict):
                png = path.with_suffix(".png")
                found.append(Explanation(path, data, png if png.is_file() else None))
    return sorted(found, key=lambda e: (str(e.json_path.parent), e.index))


@dataclass
class Projection:
    """One projection folder: its parameters and its coordinates (``coordinates.csv``)."""

    folder: Path
    params: dict
    rows: list[dict[str, str]]

    @property
    def method(self) -> str:
        return str(self.params.get("method", self.folder.name))

    @property
    def dims(self) -> int:
        return int(self.params.get("dims", 2))


def find_projections(files: list[Path]) -> list[Projection]:
    found = []
    for path in files:
        if path.name == "projection.json":
            params = read_json(path)
            rows = read_csv(path.parent / "coordinates.csv")
            if isinstance(params, dict):
                found.append(Projection(path.parent, params, rows))
    return found


@dataclass
class ZeroShotFold:
    """One held-out-activity result: the activities held out, its numbers (design.md
    ``zero_shot`` keys), and the seed and scoring method when the source names them."""

    held_out: list[str]
    values: dict[str, Any]
    seed: Any = None
    method: str | None = None
    source: Path | None = None


ZERO_SHOT_KEYS = ("unseen_accuracy", "unseen_gzsl_accuracy", "holdout_accuracy")
METHOD_KEYS = ("method", "scorer", "scoring", "model", "baseline")
#: The zero-shot bench's baselines (``baselines`` of each fold) in words.
BASELINE_WORDS = {
    "name_only": "baseline: label names only",
    "text_only": "text check: a label's held-out sentences matched by its others (no signal)",
}


def _fold_of(entry: Any, source: Path, seed: Any = None) -> ZeroShotFold | None:
    if not isinstance(entry, dict):
        return None
    values = entry.get("zero_shot") if isinstance(entry.get("zero_shot"), dict) else entry
    if not any(key in values for key in ZERO_SHOT_KEYS):
        return None
    held = values.get("unseen_labels") or values.get("holdout_labels") or entry.get("unseen") or []
    method = next((str(entry[k]) for k in METHOD_KEYS if isinstance(entry.get(k), str)), None)
    return ZeroShotFold([str(h) for h in held], dict(values), entry.get("seed", seed), method, source)


def find_zero_shot_folds(files: list[Path], runs: list[Run]) -> list[ZeroShotFold]:
    """Held-out-activity results: every run trained with held-out labels, and the folds a
    zero-shot bench lists in its JSON files (a list of folds, or ``{"folds": [...]}``)."""
    folds = []
    for run in runs:
        if run.holdout and isinstance(run.metrics.get("zero_shot"), dict):
            fold = _fold_of(run.metrics, run.path / "metrics.json", run.metrics.get("seed"))
            if fold:
                fold.held_out = fold.held_out or run.holdout
                fold.method = fold.method if fold.method not in (None, run.model) else None
                folds.append(fold)
    run_files = {run.path / "metrics.json" for run in runs}
    for path in files:
        if path.suffix != ".json" or path in run_files or path.stat().st_size > 5_000_000:
            continue
        data = read_json(path)
        entries = data if isinstance(data, list) else None
        if isinstance(data, dict):
            entries = next((data[k] for k in ("per_fold", "folds") if isinstance(data.get(k), list)
                            and any(isinstance(e, dict) for e in data[k])), None)
        for entry in entries if isinstance(entries, list) else []:
            fold = _fold_of(entry, path)
            if not fold:
                continue
            folds.append(fold)
            for name, values in (entry.get("baselines") or {}).items():  # scored beside the model, same fold
                if isinstance(values, dict):
                    folds.append(ZeroShotFold(fold.held_out, dict(values), fold.seed, BASELINE_WORDS.get(name, name), path))
    return folds


def zero_shot_bench(files: list[Path]) -> tuple[dict, Path] | None:
    """The first zero-shot bench output among ``files`` (``zero_shot.json`` with ``per_fold``) and its path."""
    for path in files:
        if path.name == "zero_shot.json":
            data = read_json(path)
            if isinstance(data, dict) and data.get("per_fold"):
                return data, path
    return None


def bench_explanation(files: list[Path]) -> tuple[dict, Path] | None:
    """The zero-shot bench's explanation check (``zero_shot.json`` ``explanation``) and its file."""
    bench = zero_shot_bench(files)
    if bench and isinstance(bench[0].get("explanation"), dict):
        return bench[0]["explanation"], bench[1]
    return None


def first(files: list[Path], name: str, *, under: str | None = None) -> Path | None:
    """The first file called ``name`` (inside a folder called ``under`` when given)."""
    for path in files:
        if path.name == name and (under is None or under in path.parent.parts):
            return path
    return None


def bench_summary(root: Path) -> tuple[list[dict], dict] | None:
    """A ``bench accuracy`` folder's ``summary.json``: (rows, setup); None elsewhere.
    Reads both the list of rows and the ``{"setup", "summary"}`` form."""
    if not (root / "accuracy.csv").is_file():
        return None
    data = read_json(root / "summary.json")
    if isinstance(data, dict):
        rows, setup = data.get("summary"), data.get("setup") or {}
    else:
        rows, setup = data, {}
    if not isinstance(rows, list):
        return None
    return [r for r in rows if isinstance(r, dict)], setup if isinstance(setup, dict) else {}


def labels_of(root: Path, files: list[Path], runs: list[Run]) -> list[str]:
    """The activity labels in class-index order: data summary, else a run's, else an embedding's."""
    summary = read_json(root / "data" / "summary.json")
    if isinstance(summary, dict) and summary.get("labels"):
        labels = [str(label) for label in summary["labels"]]
        for path in files:  # a corpus may describe more labels than the data holds: they come after
            index = read_json(path) if path.name == "index.json" else None
            if isinstance(index, dict):
                labels += [str(label) for label in index.get("labels") or [] if str(label) not in labels]
        return labels
    bench = bench_summary(root)
    if bench and bench[1].get("labels"):
        return [str(label) for label in bench[1]["labels"]]
    for run in runs:
        per_class = run.metrics.get("per_class")
        if isinstance(per_class, dict) and per_class:
            return list(per_class)
    for path in files:
        if path.name == "index.json":
            index = read_json(path)
            if isinstance(index, dict) and index.get("labels"):
                return [str(label) for label in index["labels"]]
    return []
