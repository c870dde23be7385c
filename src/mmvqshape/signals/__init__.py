"""Signals: loading, validating and pre-processing accelerometer windows (no models here).

``windows`` holds the container every reader fills; ``loaders`` dispatches a DATA argument
to its source (``hapt``, ``geneactiv_bin`` and the sources in ``loaders`` itself).
"""

from .dataset import WindowDataset
from .hapt import ACTIVITIES as HAPT_LABELS, TRANSITIONS as HAPT_TRANSITIONS, UnlabelledWindows, load_unlabelled_hapt
from .loaders import BASICMOTIONS_LABELS, GENEACTIV_LABELS, SOURCE_FORMS, SOURCES, load_new_windows, load_windows
from .preprocess import from_channel_independent, interpolate, preprocess, to_channel_independent, zscore
from .splits import assign_splits
from .windows import Windows, check_windows, make_windows

__all__ = [
    "BASICMOTIONS_LABELS", "GENEACTIV_LABELS", "HAPT_LABELS", "HAPT_TRANSITIONS", "SOURCES", "SOURCE_FORMS",
    "UnlabelledWindows", "WindowDataset", "Windows", "assign_splits", "check_windows", "from_channel_independent",
    "interpolate", "load_new_windows", "load_unlabelled_hapt", "load_windows", "make_windows", "preprocess", "to_channel_independent",
    "zscore",
]
