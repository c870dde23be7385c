"""Reading a run, demo or bench folder into what the report's sections draw.

JSON files are read by their documented formats: the ``kind`` each of our writers records
(``metrics``, ``explanation``, ``zero_shot_bench`` ...), or, for files written before that
field, the documented name that fixes the format (``metrics.json`` in a run folder,
``zero_shot.json`` in a bench folder). Any other JSON is linked from the page, never parsed.
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

from ...errors import UserError

#: Folders never read: weights, logs, temporary outputs.
SKIPPED = {"checkpoints", "logs", "__pycache__"}

#: Display name and one line of what each model is, by run key (folder name without seed / shots).
MODEL_WORDS: dict[str, tuple[str, str]] = {
    "minirocket": ("MiniRocket", "baseline: 10,000 random convolution kernels and a ridge classifier; explains nothing"),
    "summary-lr": ("Summary features + logistic regression",
                   "baseline: per-window statistics, band energies and gravity direction, a logistic regression; explains nothing"),
    "hydra": ("Hydra", "baseline: aeon's Hydra, competing random convolution kernels and a ridge classifier; explains nothing"),
    "multirocket-hydra": ("MultiRocket-Hydra", "baseline: aeon's MultiRocket and Hydra features together, a ridge classifier; explains nothing"),
    "vqshape": ("VQShape", "shape tokens from a learned codebook, then a classifier"),
    "shape-tokens": ("Shape tokens", "shapes cut from the signal and coded by a k-means codebook; a classifier on the tokens alone"),
    "vqshape-probe": ("VQShape, pre-trained + linear probe", "self-supervised shape tokens per channel, a linear classifier on top"),
    "vqshape-flat-weights": ("VQShape, flat loss weights", "VQShape with the plan author's equal loss weights (ablation)"),
    "mmvqshape": ("MMVQShape", "shape tokens cut from the signal, and sub-action sentences the model places on "
                  "stretches of the window from the signal alone"),
    "mmvqshape-plan": ("MMVQShape, the plan's design", "shape tokens fused with sub-action slots by cross-attention, an attribute "
                       "encoder, an action codebook of sentences and the label's embedding rebuilt from the chosen codes "
                       "(--architecture plan)"),
    "mmvqshape-fusion": ("MMVQShape, fusion design", "VQShape's learned tokens fused with sub-action slots (the plan's first design)"),
    "mmvqshape-flat-weights": ("MMVQShape fusion, flat loss weights", "the fusion design with equal loss weights (ablation)"),
    "vqshape-no-stats": ("VQShape, shape tokens only", "VQShape whose classifier sees the shape tokens only, not each channel's mean and spread"),
    "mmvqshape-no-stats": ("MMVQShape fusion, shape tokens only", "the fusion design whose classifier sees the shape tokens only, not each channel's mean and spread"),
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


def parsed_json(path: Path) -> Any:
    """The JSON of a file the report reads (a run's ``metrics.json``, a bench's summary ...): a
    damaged one (truncated, not JSON) is a :class:`UserError` naming it with its parse error,
    never a file silently left out; None when it cannot be opened."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    try:
        return json.loads(text)
    except ValueError as err:
        raise UserError(path, f"is not valid JSON ({err}); the report reads it, so repair or remove it") from None


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


#: The kinds of JSON the report reads (the ``kind`` our writers record). A JSON file of any
#: other kind, or with none and no documented name, is linked from the page and not read.
READ_KINDS = {"metrics", "explanation", "projection", "zero_shot_bench", "bench_accuracy", "bench_ablation", "data_summary", "timing",
              "gram_stats", "embedding_index"}
#: Documented file names that fix the format of files written before the ``kind`` field.
DOCUMENTED_NAMES = {"metrics.json": "metrics", "zero_shot.json": "zero_shot_bench", "ablation.json": "bench_ablation", "projection.json": "projection",
                    "index.json": "embedding_index", "timing.json": "timing", "gram_stats.json": "gram_stats"}
#: Our writers put ``kind`` first, so it is read from the file's opening without parsing the rest.
KIND_AT_START = re.compile(r'\A\s*\{\s*"kind"\s*:\s*"([\w-]+)"')


def documented_kind(path: Path) -> str | None:
    """The kind a file has by its documented name and place (a run's ``metrics.json``, a bench's
    ``zero_shot.json``, a demo's ``data/summary.json``, ``explain_<I>.json`` ...); None elsewhere."""
    if path.name in DOCUMENTED_NAMES:
        return DOCUMENTED_NAMES[path.name]
    if re.fullmatch(r"explain_\d+\.json", path.name):
        return "explanation"
    if path.name == "summary.json" and path.parent.name == "data":
        return "data_summary"
    if path.name == "summary.json" and (path.parent / "accuracy.csv").is_file():
        return "bench_accuracy"
    return None


def opening_kind(path: Path) -> str | None:
    """The ``kind`` a JSON file names first (as our writers do), read from its first bytes only."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            match = KIND_AT_START.match(handle.read(512))
    except OSError:
        return None
    return match.group(1) if match else None


@dataclass
class Document:
    """One JSON file of the folder: its kind and content, or ``kind`` None when the report does not read it."""

    path: Path
    kind: str | None
    data: Any = None


def read_document(path: Path) -> Document:
    """Read ``path`` when its kind is one the report reads: the kind it records, else the one its
    documented name fixes. Other files are not parsed."""
    expected = documented_kind(path) if path.is_file() else None
    if expected is None and opening_kind(path) not in READ_KINDS:
        return Document(path, None)
    data = parsed_json(path)
    recorded = data.get("kind") if isinstance(data, dict) else None
    kind = recorded if isinstance(recorded, str) else expected
    if kind not in READ_KINDS or data is None:
        return Document(path, None)
    return Document(path, kind, data)


def read_documents(files: list[Path]) -> list[Document]:
    """Every JSON file among ``files``, in path order."""
    return [read_document(path) for path in files if path.suffix == ".json"]


def of_kind(documents: list[Document], kind: str) -> list[Document]:
    """The documents of one kind whose content is a JSON object."""
    return [d for d in documents if d.kind == kind and isinstance(d.data, dict)]


def document_data(path: Path, kind: str) -> dict | None:
    """The content of the single file ``path`` when it is of ``kind``; None otherwise."""
    document = read_document(path)
    return document.data if document.kind == kind and isinstance(document.data, dict) else None


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


def find_runs(documents: list[Document]) -> list[Run]:
    """Every folder whose ``metrics.json`` (kind ``metrics``) is readable."""
    runs = []
    for document in of_kind(documents, "metrics"):
        config_path = document.path.parent / "config.yaml"
        runs.append(Run(document.path.parent, document.data, read_yaml(config_path) if config_path.is_file() else {}))
    return runs


@dataclass
class Explanation:
    """One explained window: ``explain_<I>.json`` (kind ``explanation``) and its figure."""

    json_path: Path
    data: dict
    png: Path | None

    @property
    def index(self) -> int:
        return int(self.data.get("index", -1))


def find_explanations(documents: list[Document]) -> list[Explanation]:
    found = []
    for document in of_kind(documents, "explanation"):
        png = document.path.with_suffix(".png")
        found.append(Explanation(document.path, document.data, png if png.is_file() else None))
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


def find_projections(documents: list[Document]) -> list[Projection]:
    return [Projection(d.path.parent, d.data, read_csv(d.path.parent / "coordinates.csv"))
            for d in of_kind(documents, "projection")]


def zero_shot_bench(documents: list[Document]) -> tuple[dict, Path] | None:
    """The first zero-shot bench output (kind ``zero_shot_bench``, with ``per_fold``) and its path."""
    for document in of_kind(documents, "zero_shot_bench"):
        if document.data.get("per_fold"):
            return document.data, document.path
    return None


def bench_explanation(documents: list[Document]) -> tuple[dict, Path] | None:
    """The zero-shot bench's explanation check (``zero_shot.json`` ``explanation``) and its file."""
    bench = zero_shot_bench(documents)
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
    """A ``bench accuracy`` folder's ``summary.json`` (kind ``bench_accuracy``): (rows, setup);
    None elsewhere. Reads both the older list of rows and the ``{"setup", "summary"}`` form."""
    document = read_document(root / "summary.json")
    if document.kind != "bench_accuracy":
        return None
    data = document.data
    if isinstance(data, dict):
        rows, setup = data.get("summary"), data.get("setup") or {}
    else:
        rows, setup = data, {}
    if not isinstance(rows, list):
        return None
    return [r for r in rows if isinstance(r, dict)], setup if isinstance(setup, dict) else {}


def labels_of(root: Path, documents: list[Document], runs: list[Run]) -> list[str]:
    """The activity labels in class-index order: data summary, else a bench's, else a run's, else an embedding's."""
    summary = document_data(root / "data" / "summary.json", "data_summary")
    indexes = [[str(label) for label in d.data.get("labels") or []] for d in of_kind(documents, "embedding_index")]
    if summary and summary.get("labels"):
        labels = [str(label) for label in summary["labels"]]
        for index in indexes:  # a corpus may describe more labels than the data holds: they come after
            labels += [label for label in index if label not in labels]
        return labels
    bench = bench_summary(root)
    if bench and bench[1].get("labels"):
        return [str(label) for label in bench[1]["labels"]]
    for run in runs:
        per_class = run.metrics.get("per_class")
        if isinstance(per_class, dict) and per_class:
            return list(per_class)
    return next((index for index in indexes if index), [])
