"""The ranges of the commands' numeric options, in one table: a value outside its range is one
line naming the option and exit 2 (:class:`~mmvqshape.errors.UserError`) before any work starts,
never a silent default (``bench zero-shot --unseen-size 0`` once ran leave-one-out)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import UserError

#: option (without ``--``, ``_`` for ``-``) -> (lowest, highest, lowest allowed, highest allowed); None: unbounded.
LIMITS: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "seed": (0, None, True, True),
    "seeds": (1, None, True, True),
    "zero_shot_seeds": (1, None, True, True),
    "max_epochs": (1, None, True, True),
    "batch_size": (1, None, True, True),
    "num_nodes": (1, None, True, True),
    "num_workers": (0, None, True, True),
    "length": (2, None, True, True),
    "lr": (0, None, False, True),
    "unseen_size": (1, None, True, True),
    "folds": (1, None, True, True),
    "index": (0, None, True, True),
    "top": (0, None, True, True),
    "dims": (2, 3, True, True),
    "n_neighbors": (2, None, True, True),
    "perplexity": (0, None, False, True),
    "k": (1, None, True, True),
    "steps": (1, None, True, True),
    "test_fraction": (0, 1, False, False),
    "heldout_labels": (0, 1, False, False),
    "train_samples": (1, None, True, True),
    "test_samples": (1, None, True, True),
    "threads": (1, None, True, True),
    "size": (1, None, True, True),
    "threshold": (-1, 1, True, True),
    "near": (-1, 1, True, True),
    "n": (1, None, True, True),
    "shared": (0, None, True, True),
    "temperature": (0, None, True, True),
    "max_retries": (0, None, True, True),
    "timeout": (0, None, False, True),
    "backoff": (0, None, True, True),
}


def allowed(name: str) -> str:
    """The range of option ``name`` in words, e.g. ``at least 1`` or ``above 0 and below 1``."""
    low, high, low_in, high_in = LIMITS[name]
    words = []
    if low is not None:
        words.append(f"at least {low:g}" if low_in else f"above {low:g}")
    if high is not None:
        words.append(f"at most {high:g}" if high_in else f"below {high:g}")
    return " and ".join(words)


def check_options(**values: Any) -> None:
    """A :class:`UserError` (``--option``: must be ..., got V) for the first value outside its
    :data:`LIMITS` range; ``None`` (not given) passes."""
    for name, value in values.items():
        if value is None:
            continue
        low, high, low_in, high_in = LIMITS[name]
        below = low is not None and (value < low if low_in else value <= low)
        above = high is not None and (value > high if high_in else value >= high)
        if below or above or (isinstance(value, float) and not math.isfinite(value)):
            raise UserError("--" + name.replace("_", "-"), f"must be {allowed(name)}, got {value:g}")
