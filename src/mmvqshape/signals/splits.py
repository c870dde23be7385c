"""Train / validation / test splits that keep test data out of every choice.

Rules (design.md): the file's own split when given; else by subject (grouped, stratified
where possible); else stratified random with a seed. A validation split is always carved
from the training part only — by subject when subjects exist.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, GroupShuffleSplit, train_test_split

TEST_FRACTION = 0.2


def _stratify_or_none(y: np.ndarray, n_take: int) -> np.ndarray | None:
    """Stratify only when every class has 2+ members and each side can hold every class."""
    _, counts = np.unique(y, return_counts=True)
    if counts.min() < 2 or n_take < len(counts) or len(y) - n_take < len(counts):
        return None
    return y


def _random_holdout(idx: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(keep, holdout) row indices, stratified by ``y`` where possible."""
    n_take = max(1, int(round(fraction * len(idx))))
    if n_take >= len(idx):
        raise ValueError(f"cannot hold out {n_take} of {len(idx)} windows")
    keep, holdout = train_test_split(
        idx, test_size=n_take, random_state=seed, shuffle=True, stratify=_stratify_or_none(y[idx], n_take)
    )
    return np.sort(keep), np.sort(holdout)


def _group_holdout(idx: np.ndarray, y: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(keep, holdout) with whole groups (subjects) on one side only; stratified when possible."""
    unique = np.unique(groups[idx])
    if len(unique) < 2:
        raise ValueError("need at least two subjects to split by subject")
    n_splits = max(2, min(len(unique), int(round(1.0 / fraction))))
    try:
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        keep, holdout = next(folds.split(idx, y[idx], groups[idx]))
    except ValueError:
        folds = GroupShuffleSplit(n_splits=1, test_size=1.0 / n_splits, random_state=seed)
        keep, holdout = next(folds.split(idx, y[idx], groups[idx]))
    return np.sort(idx[keep]), np.sort(idx[holdout])


def assign_splits(
    y: np.ndarray,
    *,
    subject: np.ndarray | None = None,
    given: np.ndarray | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = TEST_FRACTION,
) -> tuple[np.ndarray, str]:
    """Return (split per window as "train"/"val"/"test", method name).

    ``given`` is the file's own split (values "train"/"val"/"test"); its "val" is kept,
    otherwise validation is carved from its "train". Method names: ``file``, ``subject``,
    ``stratified`` (+ ``/val-by-subject`` or ``/val-random`` for how validation was made).
    """
    y = np.asarray(y)
    n = len(y)
    split = np.empty(n, dtype=object)
    idx = np.arange(n)
    if given is not None:
        split[:] = np.asarray(given, dtype=object)
        method = "file"
    elif subject is not None and len(np.unique(subject)) >= 2:
        train, test = _group_holdout(idx, y, np.asarray(subject), test_fraction, seed)
        split[train], split[test] = "train", "test"
        method = "subject"
    else:
        train, test = _random_holdout(idx, y, test_fraction, seed)
        split[train], split[test] = "train", "test"
        method = "stratified"
    if val_fraction > 0 and not (split == "val").any():
        train = np.flatnonzero(split == "train")
        if subject is not None and len(np.unique(np.asarray(subject)[train])) >= 2:
            _, val = _group_holdout(train, y, np.asarray(subject), val_fraction, seed + 1)
            method += "/val-by-subject"
        else:
            _, val = _random_holdout(train, y, val_fraction, seed + 1)
            method += "/val-random"
        split[val] = "val"
    return split.astype(str), method
