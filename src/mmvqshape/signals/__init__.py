"""Signals: loading, validating and pre-processing accelerometer windows (no models here)."""

from .dataset import WindowDataset
from .loaders import BASICMOTIONS_LABELS, GENEACTIV_LABELS, Windows, check_windows, load_windows
from .preprocess import from_channel_independent, interpolate, preprocess, to_channel_independent, zscore
from .splits import assign_splits

__all__ = [
    "BASICMOTIONS_LABELS", "GENEACTIV_LABELS", "WindowDataset", "Windows", "assign_splits", "check_windows",
    "from_channel_independent", "interpolate", "load_windows", "preprocess", "to_channel_independent", "zscore",
]
