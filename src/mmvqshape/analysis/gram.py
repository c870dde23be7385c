"""Cosine Gram matrix of all sub-actions, grouped by label, and what it says about the corpus.

Within-label pairs are pairs of distinct rows of the same label; between-label pairs join two
labels. ``separation`` = within mean - between mean (higher: labels are more distinct).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..text.embeddings import EmbeddingSet
from .similarity import cosine_matrix, label_order


def ordered_gram(embeddings: EmbeddingSet) -> tuple[np.ndarray, np.ndarray]:
    """(Gram (N, N) of cosines with rows grouped by label, the row order used)."""
    order = label_order(embeddings.owner)
    return cosine_matrix(embeddings.subactions[order]), order


def gram_statistics(embeddings: EmbeddingSet, gram: np.ndarray | None = None) -> dict[str, Any]:
    """Within/between-label cosine statistics, overall and per label (JSON-ready)."""
    gram = cosine_matrix(embeddings.subactions) if gram is None else gram  # rows in corpus order
    owner = embeddings.owner
    same = owner[:, None] == owner[None, :]
    upper = np.triu(np.ones_like(same), 1).astype(bool)
    within = gram[same & upper]
    between = gram[~same & upper]

    def summary(values: np.ndarray) -> dict[str, float | int]:
        if values.size == 0:
            return {"n_pairs": 0, "mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
        return {"n_pairs": int(values.size), "mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()), "max": float(values.max())}

    per_label = {}
    n_labels = len(embeddings.labels)
    block_mean = np.full((n_labels, n_labels), np.nan)
    for a in range(n_labels):
        rows_a = owner == a
        for b in range(n_labels):
            rows_b = owner == b
            block = gram[np.ix_(rows_a, rows_b)]
            if a == b:
                block = block[~np.eye(len(block), dtype=bool)]
            if block.size:
                block_mean[a, b] = float(block.mean())
    for a, label in enumerate(embeddings.labels):
        others = np.delete(block_mean[a], a)
        nearest = int(np.delete(np.arange(n_labels), a)[np.nanargmax(others)]) if n_labels > 1 and np.isfinite(others).any() else None
        per_label[label] = {
            "n": int((owner == a).sum()),
            "within_mean": None if np.isnan(block_mean[a, a]) else float(block_mean[a, a]),
            "between_mean": None if not np.isfinite(others).any() else float(np.nanmean(others)),
            "nearest_label": None if nearest is None else embeddings.labels[nearest],
            "nearest_label_mean": None if nearest is None else float(block_mean[a, nearest]),
        }
    within_s, between_s = summary(within), summary(between)
    return {
        "n_subactions": int(len(owner)),
        "n_labels": n_labels,
        "within": within_s,
        "between": between_s,
        "separation": within_s["mean"] - between_s["mean"],
        "per_label": per_label,
        "label_mean_similarity": [[None if np.isnan(v) else float(v) for v in row] for row in block_mean],
    }


def top_cross_label_pairs(embeddings: EmbeddingSet, top: int = 20, gram: np.ndarray | None = None) -> list[dict[str, Any]]:
    """The ``top`` most similar pairs of sub-actions from different labels, most similar first."""
    gram = cosine_matrix(embeddings.subactions) if gram is None else gram
    owner = embeddings.owner
    i, j = np.nonzero(np.triu(owner[:, None] != owner[None, :], 1))
    values = gram[i, j]
    order = np.lexsort((j, i, -values))[:top]  # ties broken by row index: deterministic
    return [
        {
            "cosine": float(values[o]),
            "row_a": int(i[o]),
            "label_a": embeddings.labels[owner[i[o]]],
            "sentence_a": embeddings.sentences[i[o]],
            "row_b": int(j[o]),
            "label_b": embeddings.labels[owner[j[o]]],
            "sentence_b": embeddings.sentences[j[o]],
        }
        for o in order
    ]
