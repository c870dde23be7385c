"""Pre-processing of accelerometer windows, as the plan describes.

* :func:`interpolate` — linear interpolation along time to a target length (500 → 512, as
  VQShape does for UEA), endpoints kept.
* :func:`preprocess` — the *joint* view: (…, T, C) time-major windows → (…, C, L) float32.
* :func:`to_channel_independent` / :func:`from_channel_independent` — VQShape's view: every
  channel becomes its own univariate series, the label copied.
* :func:`resample_labels` — per-sample labels (a window's ``activity``) to a target length by
  nearest neighbour, on the same time grid as :func:`interpolate`.
* optional per-window, per-channel z-normalisation.
"""

from __future__ import annotations

import numpy as np


def interpolate(x: np.ndarray, length: int, axis: int = -1) -> np.ndarray:
    """Linearly resample ``x`` along ``axis`` to ``length`` points; first and last samples kept.

    A linear ramp stays exactly linear. ``length`` equal to the input length returns a copy.
    """
    x = np.asarray(x, dtype=np.float32)
    x = np.moveaxis(x, axis, -1)  # (..., T)
    n = x.shape[-1]
    if length < 2 or n < 2:
        raise ValueError(f"cannot interpolate {n} samples to {length}")
    if length == n:
        out = x.copy()
    else:
        position = np.linspace(0.0, n - 1, length)  # where each output sample falls on the input
        left = np.minimum(np.floor(position).astype(np.int64), n - 2)
        frac = (position - left).astype(np.float32)
        out = x[..., left] * (1.0 - frac) + x[..., left + 1] * frac  # (..., L)
    return np.moveaxis(out, -1, axis)


def resample_labels(labels: np.ndarray, length: int, axis: int = -1) -> np.ndarray:
    """Per-sample labels resampled along ``axis`` to ``length`` points by nearest neighbour.

    Output point ``j`` sits where :func:`interpolate` puts it (``j * (T - 1) / (length - 1)``
    input samples) and takes the label of the nearest input sample; labels stay whole numbers.
    """
    labels = np.moveaxis(np.asarray(labels), axis, -1)  # (..., T)
    n = labels.shape[-1]
    if length < 2 or n < 2:
        raise ValueError(f"cannot resample {n} labels to {length}")
    position = np.linspace(0.0, n - 1, length)
    nearest = np.minimum(np.floor(position + 0.5).astype(np.int64), n - 1)  # (length,)
    return np.moveaxis(labels[..., nearest], -1, axis)


def zscore(x: np.ndarray, axis: int = -1, eps: float = 1e-6) -> np.ndarray:
    """Standardise each series along ``axis`` (mean 0, std 1; flat series become 0)."""
    mean = x.mean(axis=axis, keepdims=True)
    std = x.std(axis=axis, keepdims=True)
    return ((x - mean) / (std + eps)).astype(np.float32)


def preprocess(x: np.ndarray, length: int | None = 512, normalize: bool = False) -> np.ndarray:
    """Time-major windows (…, T, C) → channel-major (…, C, L) float32 (the plan's joint view).

    ``length=None`` keeps the native length. ``normalize`` z-scores every channel of every
    window on its own.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2:
        raise ValueError(f"expected (..., T, C) windows, got shape {x.shape}")
    x = np.swapaxes(x, -1, -2)  # (..., C, T)
    if length is not None and length != x.shape[-1]:
        x = interpolate(x, length, axis=-1)  # (..., C, L)
    if normalize:
        x = zscore(x, axis=-1)
    return np.ascontiguousarray(x, dtype=np.float32)


def to_channel_independent(x: np.ndarray, y: np.ndarray | None = None):
    """(N, C, L) joint windows → (N·C, L) univariate series (VQShape's way), labels repeated.

    Series ``n * C + c`` is channel ``c`` of window ``n``.
    """
    n, c, length = x.shape
    series = x.reshape(n * c, length)
    if y is None:
        return series
    return series, np.repeat(np.asarray(y), c)


def from_channel_independent(series: np.ndarray, n_channels: int) -> np.ndarray:
    """Inverse of :func:`to_channel_independent`: (N·C, …) → (N, C, …)."""
    total = series.shape[0]
    if total % n_channels:
        raise ValueError(f"{total} series do not split into windows of {n_channels} channels")
    return series.reshape(total // n_channels, n_channels, *series.shape[1:])
