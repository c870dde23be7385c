"""Small numeric helpers shared across layers (no I/O, numpy only)."""

from __future__ import annotations

import numpy as np


def unit_rows(a: np.ndarray) -> np.ndarray:
    """``a`` (..., D) as float64 with each row scaled to unit L2 norm: ``a / (‖a‖ + 1e-12)``
    (a zero row stays zero). The zero-shot reader, its metrics and the scoring of label
    embeddings all normalise with this one function."""
    a = np.asarray(a, dtype=np.float64)
    return a / (np.linalg.norm(a, axis=-1, keepdims=True) + 1e-12)
