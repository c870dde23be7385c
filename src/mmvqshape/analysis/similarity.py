"""Cosine-similarity helpers shared by the analysis modules."""

from __future__ import annotations

import numpy as np


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero); float64 for stable sums."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def cosine_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity of every row of ``a`` (N, D) with every row of ``b`` (M, D) -> (N, M).

    Values are clipped to [-1, 1] so that rounding never pushes a duplicate above 1.
    """
    a_unit = unit_rows(a)
    b_unit = a_unit if b is None else unit_rows(b)
    return np.clip(a_unit @ b_unit.T, -1.0, 1.0)


def nearest_rows(queries: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Index (into ``table``) of the most cosine-similar row for each query row; ties -> lowest index."""
    return np.argmax(cosine_matrix(queries, table), axis=1)


def label_order(owner: np.ndarray) -> np.ndarray:
    """Row order that groups rows by label index, keeping corpus order inside a label (stable)."""
    return np.argsort(np.asarray(owner), kind="stable")
