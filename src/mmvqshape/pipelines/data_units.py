"""Model outputs drawn in the data's units (the dataset's normalisation undone).

``SignalDataset.signal_affine`` gives, per window, ``(offset (C,), scale (C,))`` with
data units = model units x scale + offset. :func:`to_data_units` applies it to the arrays a
figure draws; ``mmvq explain`` (one window) and the evaluation figures (a few windows) both
use it.
"""

from __future__ import annotations

import numpy as np

#: Keys laid out (..., C, T) and (..., C, N, L): a value per sample, and a shape's samples per token.
PER_SAMPLE_KEYS = ("signal", "x_pred")
PER_SHAPE_KEY = "s_pred"


def to_data_units(arrays: dict[str, np.ndarray], offset: np.ndarray, scale: np.ndarray) -> dict[str, np.ndarray]:
    """A copy of ``arrays`` with ``signal`` and ``x_pred`` (..., C, T) and ``s_pred``
    (..., C, N, L) mapped to the data's units; ``offset`` and ``scale`` are (..., C) (one window's
    (C,), or (W, C) for W windows). Other keys are returned unchanged."""
    mapped = dict(arrays)
    for key in PER_SAMPLE_KEYS:
        if key in arrays:
            mapped[key] = arrays[key] * scale[..., None] + offset[..., None]
    if PER_SHAPE_KEY in arrays:
        mapped[PER_SHAPE_KEY] = arrays[PER_SHAPE_KEY] * scale[..., None, None] + offset[..., None, None]
    return mapped
