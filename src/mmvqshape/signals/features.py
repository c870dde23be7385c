"""Cheap physical summary features of accelerometer windows (no learning, no statistics shared
between windows): what a light head needs to tell still from moving, upright from lying, slow
from vigorous. Used by the zero-shot bench as the default pooled signal representation.
"""

from __future__ import annotations

import numpy as np

N_BANDS = 6  # log-spaced spectral bands


def summary_features(X: np.ndarray) -> np.ndarray:
    """Windows ``X`` (N, T, C) time-major -> features (N, F) float32.

    Per channel and for the magnitude across channels: mean, standard deviation, 10th and 90th
    percentiles, mean absolute first difference, log energy in :data:`N_BANDS` log-spaced
    frequency bands, total log energy, spectral centroid (in frequency bins); plus the direction
    of the mean vector (gravity's, for accelerometers) as C unit components.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"expected windows (N, T, C), got shape {X.shape}")
    magnitude = np.linalg.norm(X, axis=2, keepdims=True)
    series = np.concatenate([X, magnitude], axis=2)  # (N, T, C+1)
    parts = [
        series.mean(1), series.std(1), np.percentile(series, 10, axis=1), np.percentile(series, 90, axis=1),
        np.abs(np.diff(series, axis=1)).mean(1),
    ]
    mean_vector = X.mean(1)
    parts.append(mean_vector / (np.linalg.norm(mean_vector, axis=1, keepdims=True) + 1e-9))  # (N, C)
    power = np.abs(np.fft.rfft(series - series.mean(1, keepdims=True), axis=1)) ** 2  # (N, T//2+1, C+1)
    n_bins = power.shape[1]
    edges = np.unique(np.geomspace(1, n_bins, N_BANDS + 1).astype(int))
    parts += [np.log1p(power[:, a:b].sum(1)) for a, b in zip(edges[:-1], edges[1:])]
    total = power.sum(1) + 1e-9
    parts.append(np.log1p(total))
    parts.append((power * np.arange(n_bins)[None, :, None]).sum(1) / total)
    return np.concatenate(parts, axis=1).astype(np.float32)
