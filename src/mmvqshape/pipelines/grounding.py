"""Grounding of a run's windows: what ``metrics.json`` writes under
``baselines.sliding_classifier`` for data that carries ``activity``. The scoring itself (the
sliding anchor, a model's placed sentences) lives in :mod:`mmvqshape.evaluation.grounding`;
this module only loads the anchor's training data."""

from __future__ import annotations

from typing import Any

from ..evaluation.grounding import sliding_anchor
from ..signals import Windows, load_windows


def sliding_baseline_entry(windows: Windows, split: str = "test") -> dict[str, Any]:
    """``baselines.sliding_classifier`` for windows with ``activity``: the anchor trained on the
    single-activity data they name (``extra["single_activity_data"]``, same channels, seed and
    validation fraction, so the same training subjects), else on their own training windows."""
    source = windows.extra.get("single_activity_data")
    if source:
        train_windows = load_windows(source, channels=windows.extra.get("channels", "acc"), seed=windows.seed,
                                     val_fraction=windows.extra.get("val_fraction", 0.2))
    else:
        train_windows = windows
    try:
        return sliding_anchor(train_windows, windows, split=split, seed=windows.seed)
    except ValueError as err:  # e.g. training pieces of one label only: say why, score the rest
        return {"grounding": None, "unavailable": str(err)}
