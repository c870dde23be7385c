"""The one container every signal reader fills: :class:`Windows`, its check and its constructor.

Every loader (``loaders``, ``geneactiv_bin``, ``hapt``) builds its arrays, then calls
:func:`make_windows`, which validates them with :func:`check_windows` and assigns the
train / val / test split (:func:`~mmvqshape.signals.splits.assign_splits`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from .splits import assign_splits

SPLIT_VALUES = {"train", "val", "test"}
_CHUNK = 65536  # windows checked at a time, so memory-mapped files are never loaded whole


@dataclass
class Windows:
    """Windows of one data source, before pre-processing.

    ``X`` is (N, T, C) time-major float32 and may be a read-only memory map.
    """

    X: np.ndarray  # (N, T, C)
    y: np.ndarray  # (N,) int64 in [0, L)
    labels: list[str]  # (L,) class-index order
    split: np.ndarray  # (N,) "train" / "val" / "test"
    split_method: str
    name: str
    channel_names: list[str]
    subject: np.ndarray | None = None  # (N,)
    seed: int = 0
    extra: dict = field(default_factory=dict)
    activity: np.ndarray | None = None  # (N, T) int64: each sample's label index, -1 = none
    labelled: bool = True  # False: the file held no ``y`` (new windows to apply a model to); ``y`` is then 0s

    def label_name(self, row: int) -> str:
        """Window ``row``'s label name, ``"unknown"`` when the file held no ``y``."""
        return self.labels[int(self.y[row])] if self.labelled else "unknown"

    def subset(self, rows: np.ndarray) -> "Windows":
        """The windows at ``rows`` (their split, subject and activity kept; ``X`` read into memory)."""
        rows = np.asarray(rows, dtype=np.int64)
        return Windows(
            X=np.asarray(self.X[rows]), y=self.y[rows], labels=list(self.labels), split=self.split[rows],
            split_method=self.split_method, name=self.name, channel_names=list(self.channel_names),
            subject=None if self.subject is None else self.subject[rows], seed=self.seed, extra=dict(self.extra),
            activity=None if self.activity is None else self.activity[rows], labelled=self.labelled,
        )

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[2])

    @property
    def length(self) -> int:
        return int(self.X.shape[1])

    def indices(self, split: str) -> np.ndarray:
        """Row indices of one split ("train", "val" or "test")."""
        if split not in SPLIT_VALUES:
            raise ValueError(f"unknown split {split!r}")
        return np.flatnonzero(self.split == split)

    def split_summary(self) -> dict:
        """What every output records about the split used."""
        return {
            "method": self.split_method,
            "seed": self.seed,
            "sizes": {s: int((self.split == s).sum()) for s in ("train", "val", "test")},
            "data": self.name,
        }


def make_windows(
    where: str | Path,
    X: np.ndarray,
    y: np.ndarray,
    labels: list[str],
    *,
    name: str,
    channel_names: list[str] | None,
    subject: np.ndarray | None,
    given_split: np.ndarray | None,
    seed: int,
    val_fraction: float,
    split_method_name: str | None = None,
    extra: dict | None = None,
    activity: np.ndarray | None = None,
    as_given: bool = False,
    labelled: bool = True,
) -> Windows:
    """Validate arrays from any loader, assign splits, and return the :class:`Windows`.

    ``given_split`` is the source's own split ("train"/"val"/"test" per window); without a
    "val", validation is carved from "train" (by subject when ``subject`` is given).
    ``split_method_name`` replaces the word ``file`` in the recorded split method.
    ``activity`` (N, T) gives each sample's label index (-1 = none) for windows holding
    more than one activity.

    ``as_given`` (windows a trained model is applied to, :func:`~mmvqshape.signals.loaders.load_new_windows`):
    a split need not hold both "train" and "test"; without ``given_split`` every window is "test",
    and a given split without "train" is kept as it is. ``labelled=False``: the file held no ``y``.
    """
    check_windows(where, X, y, labels, subject=subject, split=given_split, activity=activity, both_splits=not as_given)
    split, method = given_splits(
        np.asarray(y), subject=subject, given=given_split, seed=seed, val_fraction=val_fraction, as_given=as_given
    )
    if split_method_name:
        method = method.replace("file", split_method_name, 1)
    c = X.shape[2]
    return Windows(
        X=X,
        y=np.asarray(y, dtype=np.int64),
        labels=[str(v) for v in labels],
        split=split,
        split_method=method,
        name=name,
        channel_names=channel_names or [f"ch{i}" for i in range(c)],
        subject=None if subject is None else np.asarray(subject),
        seed=seed,
        extra=dict(extra or {}),
        activity=None if activity is None else np.asarray(activity, dtype=np.int64),
        labelled=labelled,
    )


def with_training_windows(new: Windows, own: Windows) -> Windows:
    """New windows (first, rows and splits unchanged) followed by the training and validation
    windows of ``own`` (the data a run was trained on), for scoring new windows that bring no
    training split: every yardstick fitted on training windows is then fitted on the run's own.
    ``activity``: the new windows' and, for ``own``'s windows, their own or their ``y`` on
    every sample (None when the new windows carry none)."""
    rows = np.flatnonzero(own.split != "test")
    activity = None
    if new.activity is not None:
        own_activity = own.activity[rows] if own.activity is not None else np.repeat(own.y[rows, None], own.length, axis=1)
        activity = np.concatenate([new.activity, own_activity])
    subject = None
    if new.subject is not None and own.subject is not None:
        subject = np.concatenate([np.asarray(new.subject).astype(str), np.asarray(own.subject)[rows].astype(str)])
    X = np.asarray(new.X)
    return Windows(
        X=np.concatenate([X, np.asarray(own.X[rows], dtype=X.dtype)]), y=np.concatenate([new.y, own.y[rows]]),
        labels=list(new.labels), split=np.concatenate([new.split, own.split[rows]]).astype(str),
        split_method=f"{new.split_method}; train / val: the run's own data ({own.name})", name=new.name,
        channel_names=list(new.channel_names), subject=subject, seed=new.seed, extra=dict(new.extra),
        activity=activity, labelled=new.labelled,
    )


def given_splits(y: np.ndarray, *, subject, given, seed: int, val_fraction: float, as_given: bool) -> tuple[np.ndarray, str]:
    """:func:`assign_splits`, except for windows taken ``as_given`` without a training split:
    no split -> every window "test"; a split without "train" -> kept as it is."""
    if as_given and given is None:
        return np.full(len(y), "test"), "none in the file: every window is test"
    if as_given and not (np.asarray(given) == "train").any():
        return np.asarray(given).astype(str), "file (as given, no training windows)"
    return assign_splits(y, subject=subject, given=given, seed=seed, val_fraction=val_fraction)


def activity_pairs(activity: np.ndarray, labels: list[str]) -> list[str]:
    """Name of each window's two main activities, ``"a + b"`` in label order (the two labels
    holding most samples; a window with one labelled activity gets its name alone, none ``"none"``).

    ``activity`` is (N, T) label indices with -1 = none; returns N names.
    """
    names = []
    for row in np.asarray(activity):
        counts = np.bincount(row[row >= 0], minlength=len(labels))  # (L,)
        top = [int(k) for k in np.argsort(-counts, kind="stable")[:2] if counts[k] > 0]
        names.append(" + ".join(labels[k] for k in sorted(top)) or "none")
    return names


def check_windows(
    where: str | Path,
    X: np.ndarray,
    y: np.ndarray,
    labels,
    *,
    subject: np.ndarray | None = None,
    split: np.ndarray | None = None,
    activity: np.ndarray | None = None,
    both_splits: bool = True,
) -> None:
    """Raise :class:`UserError` naming ``where`` for every inconsistency design.md forbids
    (``both_splits``: a given split must hold "train" and "test" windows, as training needs)."""
    if X.ndim != 3:
        raise UserError(where, f"X must be 3-D (N, T, C) time-major, got shape {tuple(X.shape)}")
    n, t, c = X.shape
    if n == 0 or t == 0 or c == 0:
        raise UserError(where, f"X is empty (shape {tuple(X.shape)})")
    if not np.issubdtype(X.dtype, np.floating) and not np.issubdtype(X.dtype, np.integer):
        raise UserError(where, f"X must be numeric, got dtype {X.dtype}")
    for start in range(0, n, _CHUNK):
        chunk = np.asarray(X[start : start + _CHUNK])
        if not np.isfinite(chunk).all():
            bad = start + int(np.flatnonzero(~np.isfinite(chunk).reshape(len(chunk), -1).all(axis=1))[0])
            raise UserError(where, f"X contains NaN or inf (first in window {bad})")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise UserError(where, f"y must have shape ({n},), got {tuple(y.shape)}")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            pass  # whole numbers stored as floats are accepted
        else:
            raise UserError(where, f"y must hold integer class indices, got dtype {y.dtype}")
    labels = list(labels)
    if len(labels) == 0:
        raise UserError(where, "labels is empty")
    if len(set(labels)) != len(labels):
        raise UserError(where, "labels contains duplicate names")
    if y.min() < 0 or y.max() >= len(labels):
        raise UserError(
            where,
            f"y out of range: values {int(y.min())}..{int(y.max())} but labels has {len(labels)} names "
            f"(y must be in [0, {len(labels)}))",
        )
    if subject is not None and len(subject) != n:
        raise UserError(where, f"subject has {len(subject)} entries but X has {n} windows")
    if split is not None:
        if len(split) != n:
            raise UserError(where, f"split has {len(split)} entries but X has {n} windows")
        unknown = set(map(str, np.unique(split))) - SPLIT_VALUES
        if unknown:
            raise UserError(where, f"split holds unknown values {sorted(unknown)} (allowed: train, val, test)")
        if both_splits and (not (np.asarray(split) == "train").any() or not (np.asarray(split) == "test").any()):
            raise UserError(where, "split must contain both 'train' and 'test' windows")
    if activity is not None:
        check_activity(where, activity, n, t, len(labels))


def check_activity(where: str | Path, activity: np.ndarray, n: int, t: int, n_labels: int) -> None:
    """``activity`` must be (N, T) whole numbers in [-1, L): each sample's label index, -1 = none."""
    activity = np.asarray(activity)
    if activity.shape != (n, t):
        raise UserError(where, f"activity must have shape ({n}, {t}) like X's (N, T), got {tuple(activity.shape)}")
    if not np.issubdtype(activity.dtype, np.integer):
        whole = np.issubdtype(activity.dtype, np.floating) and np.all(np.isfinite(activity)) and np.all(activity == np.round(activity))
        if not whole:
            raise UserError(where, f"activity must hold integer label indices (-1 = none), got dtype {activity.dtype}")
    low, high = int(activity.min()), int(activity.max())
    if low < -1 or high >= n_labels:
        raise UserError(
            where,
            f"activity out of range: values {low}..{high} but labels has {n_labels} names "
            f"(activity must be in [-1, {n_labels}), -1 = none)",
        )
