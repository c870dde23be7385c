"""The embedding folder written by ``mmvq embed`` (design.md) and read by everything text-side.

Layout::

    subactions.npy  (N_sub, D) float32, corpus order
    labels.npy      (L, D) float32, label order
    subactions.pt   {label: tensor (K_label, D)}
    labels.pt       {label: tensor (D,)}
    index.json      {labels, owner, sentences, encoder, pooling, view, dim, normalized, ...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_dir
from ..errors import UserError

REQUIRED_FILES = ("subactions.npy", "labels.npy", "index.json")


@dataclass
class EmbeddingSet:
    """Sub-action and label embeddings of one corpus, one encoder, one view."""

    subactions: np.ndarray  # (N_sub, D) float32
    label_vectors: np.ndarray  # (L, D) float32
    labels: list[str]  # (L,)
    owner: np.ndarray  # (N_sub,) int64: label index of each sub-action row
    sentences: list[str]  # (N_sub,)
    meta: dict[str, Any] = field(default_factory=dict)  # encoder, pooling, view, normalized, ...

    def __post_init__(self) -> None:
        self.subactions = np.asarray(self.subactions, dtype=np.float32)
        self.label_vectors = np.asarray(self.label_vectors, dtype=np.float32)
        self.owner = np.asarray(self.owner, dtype=np.int64)
        if self.subactions.ndim != 2 or self.label_vectors.ndim != 2:
            raise ValueError("subactions and label_vectors must be 2-D")
        if self.subactions.shape[1] != self.label_vectors.shape[1]:
            raise ValueError("subactions and label_vectors differ in dimension")
        if len(self.labels) != len(self.label_vectors):
            raise ValueError("labels and label_vectors differ in length")
        if len(self.owner) != len(self.subactions) or len(self.sentences) != len(self.subactions):
            raise ValueError("owner / sentences / subactions differ in length")

    @property
    def dim(self) -> int:
        return int(self.subactions.shape[1])

    def rows_of(self, label: str | int) -> np.ndarray:
        """Row indices (into ``subactions``) of one label's sub-actions, in corpus order."""
        index = self.labels.index(label) if isinstance(label, str) else int(label)
        return np.flatnonzero(self.owner == index)

    def per_label(self) -> dict[str, np.ndarray]:
        """{label: (K_label, D)} in corpus order."""
        return {name: self.subactions[self.rows_of(i)] for i, name in enumerate(self.labels)}

    def index_json(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "owner": self.owner.tolist(),
            "sentences": list(self.sentences),
            "dim": self.dim,
            **{k: v for k, v in self.meta.items() if k not in {"labels", "owner", "sentences", "dim"}},
        }


def save_embeddings(embeddings: EmbeddingSet, out_dir: str | Path) -> Path:
    """Write the embedding folder atomically (a temp folder renamed into place)."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / "subactions.npy", embeddings.subactions)
        np.save(tmp / "labels.npy", embeddings.label_vectors)
        torch.save({k: torch.from_numpy(v.copy()) for k, v in embeddings.per_label().items()}, tmp / "subactions.pt")
        torch.save(
            {name: torch.from_numpy(embeddings.label_vectors[i].copy()) for i, name in enumerate(embeddings.labels)},
            tmp / "labels.pt",
        )
        (tmp / "index.json").write_text(json.dumps(embeddings.index_json(), indent=2) + "\n")
    return out_dir


def load_embeddings(path: str | Path) -> EmbeddingSet:
    """Read an embedding folder; a missing or inconsistent folder is a :class:`UserError`."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(path, "is not an embedding folder (expected the output of `mmvq embed`)")
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise UserError(path / name, "missing from the embedding folder")
    try:
        index = json.loads((path / "index.json").read_text())
    except (OSError, ValueError) as err:
        raise UserError(path / "index.json", f"is not valid JSON ({err})") from None
    for key in ("labels", "owner", "sentences"):
        if key not in index:
            raise UserError(path / "index.json", f"has no '{key}' entry")
    try:
        subactions = np.load(path / "subactions.npy")
        label_vectors = np.load(path / "labels.npy")
    except (OSError, ValueError) as err:
        raise UserError(path, f"cannot read the embedding arrays ({err})") from None
    meta = {k: v for k, v in index.items() if k not in {"labels", "owner", "sentences"}}
    try:
        embeddings = EmbeddingSet(subactions, label_vectors, list(index["labels"]), np.asarray(index["owner"]), list(index["sentences"]), meta)
    except ValueError as err:
        raise UserError(path, f"inconsistent embedding folder: {err}") from None
    if len(embeddings.owner) and (embeddings.owner.min() < 0 or embeddings.owner.max() >= len(embeddings.labels)):
        raise UserError(path / "index.json", "an 'owner' entry is not a valid label index")
    if not np.isfinite(embeddings.subactions).all() or not np.isfinite(embeddings.label_vectors).all():
        raise UserError(path, "embeddings contain NaN or inf")
    return embeddings
