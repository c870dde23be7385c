"""What one data set's folder holds, read once for every section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...palette import label_color_map
from .facts import ZeroShotFold, bench_folds, run_folds
from .folder import (
    Document,
    Explanation,
    Projection,
    Run,
    bench_summary,
    files_of,
    find_explanations,
    find_projections,
    find_runs,
    first,
    labels_of,
    of_kind,
    read_documents,
    scalar,
    zero_shot_bench,
)
from .html import link


@dataclass
class Part:
    """One data set's folder as the sections draw it."""

    root: Path
    page_dir: Path
    files: list[Path]
    documents: list[Document]
    runs: list[Run]
    explanations: list[Explanation]
    projections: list[Projection]
    labels: list[str]
    zero_shot: list[ZeroShotFold] = field(default_factory=list)
    bench: tuple[list[dict], dict] | None = None  # a bench accuracy folder's (rows, setup)
    zero_shot_bench: tuple[dict, Path] | None = None  # a zero-shot bench's zero_shot.json and its path
    headline_notes: list[str] = field(default_factory=list)  # trusted HTML under the headline's answers
    colors: dict[str, str] = field(default_factory=dict)
    anchor: str = ""

    def __post_init__(self) -> None:
        self.colors = label_color_map(self.labels)

    def file(self, name: str, under: str | None = None) -> Path | None:
        return first(self.files, name, under=under)

    def link(self, path: Path, text: str | None = None) -> str:
        return link(path, self.page_dir, text)

    @property
    def classifier_runs(self) -> list[Run]:
        """Runs that classify every label (not held-out-label runs) and scored something."""
        return [r for r in self.runs if not r.holdout and scalar(r.metrics.get("accuracy")) is not None]

    @property
    def unread_json(self) -> list[Path]:
        """JSON files of a kind the report does not read (or with no kind and no documented name): linked only."""
        return [d.path for d in self.documents if d.kind is None]


def read_part(root: Path, page_dir: Path, anchor: str = "") -> Part:
    """Everything one data set's folder holds that the sections draw."""
    files = files_of(root)
    documents = read_documents(files)
    runs = find_runs(documents)
    bench_zero_shot = zero_shot_bench(documents)
    folds = [fold for run in runs for fold in run_folds(run)]
    for document in of_kind(documents, "zero_shot_bench"):
        folds += bench_folds(document.data, document.path)
    return Part(root=root, page_dir=page_dir, files=files, documents=documents, runs=runs,
                explanations=find_explanations(documents), projections=find_projections(documents),
                labels=labels_of(root, documents, runs), zero_shot=folds, bench=bench_summary(root),
                zero_shot_bench=bench_zero_shot, anchor=anchor)
