"""HAPT windows that hold two activities, each sample labelled: for placing sub-actions in time.

DATA arguments (options after ``:`` as ``key=value`` separated by commas)::

    hapt-boundary                  500-sample windows (10 s at 50 Hz, as ``hapt``), step 125,
                                   kept when exactly two of the 6 activities each fill
                                   >= 100 samples (2 s): the recordings' own changes
    hapt-boundary:window=W,step=S,min=M
    hapt-splice                    250 samples of one activity then 250 of another, cut from
                                   one subject's single-activity spans; every ordered pair of
                                   the 6 activities, 2 windows per pair and subject
    hapt-splice:window=W,per_pair=K

Both carry ``activity`` (N, T): each sample's index in ``hapt``'s 6 labels, -1 for
transitions and unlabelled samples. ``y`` is the activity holding most samples of the window;
a tie goes to the activity that comes first in time (so a spliced window's ``y`` is its first
half). A third activity shorter than ``min`` samples may sit in a boundary window; its samples
keep their label in ``activity``.

``hapt-boundary`` holds only the natural pairs (:data:`NATURAL_PAIRS`: upstairs and downstairs,
sitting, standing and lying); ``hapt-splice`` adds the others (walking next to lying, ...). A spliced
window has an abrupt change of level at its middle, a cue no real recording gives.

Split: exactly ``hapt``'s subjects per split for the same seed and ``val_fraction`` (UCI's test
subjects; validation subjects carved from the others as ``hapt`` carves them), so a model
trained on ``hapt`` never saw a ``hapt-boundary`` validation or test subject.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ..errors import UserError
from .hapt import ACTIVITIES, SAMPLING_HZ, TEST_SUBJECTS, Recordings, label_spans, load_hapt, load_recordings, parse_options, select_channels
from .windows import Windows, make_windows

BOUNDARY_DEFAULTS = {"window": 500, "step": 125, "min": 100}
SPLICE_DEFAULTS = {"window": 500, "per_pair": 2}
#: Activity pairs (label indices, lower first) that HAPT's recordings hold within one 10-s window
#: (the only pairs ``hapt-boundary`` finds: stairs up and down, sitting, standing and lying).
NATURAL_PAIRS = {(1, 2), (3, 4), (3, 5), (4, 5)}


def activity_of_codes(codes: np.ndarray) -> np.ndarray:
    """HAPT label codes (T,) or (N, T) → label indices of :data:`ACTIVITIES`; -1 for the rest."""
    codes = np.asarray(codes, dtype=np.int64)
    return np.where((codes >= 1) & (codes <= len(ACTIVITIES)), codes - 1, -1)


def majority_activity(activity: np.ndarray, n_labels: int) -> np.ndarray:
    """(N, T) per-sample label indices → (N,) the label holding most samples; ties go to the
    label that appears first in the window. A window with no labelled sample is an error."""
    activity = np.asarray(activity)
    out = np.empty(len(activity), dtype=np.int64)
    for i, row in enumerate(activity):
        counts = np.bincount(row[row >= 0], minlength=n_labels)  # (L,)
        if counts.sum() == 0:
            raise ValueError(f"window {i} has no labelled sample")
        tied = np.flatnonzero(counts == counts.max())
        first_seen = [int(np.argmax(row == label)) for label in tied]
        out[i] = tied[int(np.argmin(first_seen))]
    return out


# ------------------------------------------------------------------------------ boundary
def cut_boundary_windows(recordings: Recordings, *, window: int, step: int, min_samples: int):
    """Windows (start every ``step`` samples of each experiment) where exactly two of the 6
    activities fill ``min_samples`` or more.

    Returns ``(X (N, window, 6) float32, activity (N, window) int64, subject (N,) int64)``.
    """
    rows, activities, subjects = [], [], []
    for subject, signal, label in recordings.experiments():
        for begin in range(0, len(label) - window + 1, step):
            activity = activity_of_codes(label[begin : begin + window])  # (window,)
            counts = np.bincount(activity[activity >= 0], minlength=len(ACTIVITIES))
            if int((counts >= min_samples).sum()) == 2:
                rows.append(signal[begin : begin + window])
                activities.append(activity)
                subjects.append(subject)
    if not rows:
        return np.zeros((0, window, 6), np.float32), np.zeros((0, window), np.int64), np.zeros(0, np.int64)
    return np.stack(rows).astype(np.float32), np.stack(activities), np.asarray(subjects, dtype=np.int64)


def hapt_subject_split(seed: int, val_fraction: float) -> dict[int, str]:
    """Subject → "train" / "val" / "test" exactly as ``hapt`` (default windows) splits them."""
    windows = load_hapt("hapt", seed=seed, val_fraction=val_fraction)
    return {int(s): str(split) for s, split in zip(windows.subject, windows.split)}


def split_like_hapt(subject: np.ndarray, seed: int, val_fraction: float) -> np.ndarray:
    """(N,) split of each window by its subject's split in ``hapt``; a subject ``hapt`` has no
    window of goes to "test" when it is a UCI test subject, else to "train"."""
    by_subject = hapt_subject_split(seed, val_fraction)
    fallback = {s: ("test" if s in TEST_SUBJECTS else "train") for s in range(1, 31)}
    return np.array([by_subject.get(int(s), fallback.get(int(s), "train")) for s in subject])


def two_activity_windows(
    spec: str, X: np.ndarray, activity: np.ndarray, subject: np.ndarray, *, channels: str, seed: int,
    val_fraction: float, none_found: str, name: str, cut: dict[str, Any], about: dict[str, Any],
) -> Windows:
    """Windows ``X`` (N, T, 6) holding two HAPT activities, ``activity`` (N, T) and ``subject`` (N,)
    -> :class:`Windows` of ``channels``: ``y`` each window's majority activity, split as ``hapt``
    splits its subjects. ``extra`` records the cut's options ``cut`` and then ``about`` (what the
    windows hold, how ``y`` was chosen). No window at all is a :class:`UserError` saying ``none_found``."""
    if len(X) == 0:
        raise UserError(spec, none_found)
    X, names = select_channels(X, channels)
    return make_windows(
        spec, X, majority_activity(activity, len(ACTIVITIES)), ACTIVITIES,
        name=name, channel_names=names, subject=subject, given_split=split_like_hapt(subject, seed, val_fraction),
        seed=seed, val_fraction=val_fraction, split_method_name="hapt's subjects per split", activity=activity,
        extra={"sampling_hz": SAMPLING_HZ, **cut, "sensor": "smartphone at the waist", "single_activity_data": "hapt",
               "channels": channels, "val_fraction": val_fraction, **about},
    )


def load_hapt_boundary(spec: str = "hapt-boundary", *, channels: str = "acc", seed: int = 0, val_fraction: float = 0.2) -> Windows:
    """``hapt-boundary[:window=W,step=S,min=M]``: the recordings' own two-activity windows."""
    options = parse_options(spec.strip(), BOUNDARY_DEFAULTS)
    window, step, min_samples = options["window"], options["step"], options["min"]
    if 2 * min_samples > window:
        raise UserError(spec, f"min={min_samples} twice does not fit a window of {window} samples")
    X, activity, subject = cut_boundary_windows(load_recordings(), window=window, step=step, min_samples=min_samples)
    return two_activity_windows(
        spec, X, activity, subject, channels=channels, seed=seed, val_fraction=val_fraction,
        none_found=f"no {window}-sample window holds {min_samples}+ samples of each of two activities",
        name=f"hapt-boundary[{channels}, window {window}, step {step}, min {min_samples} samples of each of two activities]",
        cut={"window": window, "step": step, "min_samples": min_samples},
        about={"y": "the activity holding most samples (tie: the first in time)"},
    )


# ------------------------------------------------------------------------------ splice
def activity_spans(recordings: Recordings, length: int) -> dict[int, dict[int, list[tuple[np.ndarray, int, int]]]]:
    """subject → label index → [(experiment signal (T, 6), start, end)] of every single-activity
    span at least ``length`` samples long."""
    spans: dict[int, dict[int, list]] = {}
    for subject, signal, label in recordings.experiments():
        for start, end, code in label_spans(label):
            if 1 <= code <= len(ACTIVITIES) and end - start >= length:
                spans.setdefault(subject, {}).setdefault(code - 1, []).append((signal, start, end))
    return spans


def draw_piece(rng: np.random.Generator, spans: list[tuple[np.ndarray, int, int]], length: int) -> np.ndarray:
    """``length`` consecutive samples (length, 6) from one of ``spans``, every start equally likely."""
    n_starts = np.array([end - start - length + 1 for _, start, end in spans], dtype=np.float64)  # (n_spans,)
    chosen = int(rng.choice(len(spans), p=n_starts / n_starts.sum()))
    signal, start, _ = spans[chosen]
    begin = start + int(rng.integers(0, int(n_starts[chosen])))
    return signal[begin : begin + length]


def splice_windows(recordings: Recordings, *, window: int, per_pair: int, seed: int):
    """``per_pair`` windows per subject and ordered activity pair: ``window // 2`` samples of the
    first activity, then the rest of the second, both from that subject (deterministic in ``seed``).

    Returns ``(X (N, window, 6) float32, activity (N, window) int64, subject (N,) int64)``.
    """
    first = window // 2
    rows, activities, subjects = [], [], []
    for subject, by_label in sorted(activity_spans(recordings, window - first).items()):
        rng = np.random.default_rng([seed, subject])
        for a, b in itertools.permutations(range(len(ACTIVITIES)), 2):
            if a not in by_label or b not in by_label:
                continue
            for _ in range(per_pair):
                rows.append(np.concatenate([draw_piece(rng, by_label[a], first), draw_piece(rng, by_label[b], window - first)]))
                activities.append(np.repeat(np.array([a, b], dtype=np.int64), [first, window - first]))
                subjects.append(subject)
    if not rows:
        return np.zeros((0, window, 6), np.float32), np.zeros((0, window), np.int64), np.zeros(0, np.int64)
    return np.stack(rows).astype(np.float32), np.stack(activities), np.asarray(subjects, dtype=np.int64)


def load_hapt_splice(spec: str = "hapt-splice", *, channels: str = "acc", seed: int = 0, val_fraction: float = 0.2) -> Windows:
    """``hapt-splice[:window=W,per_pair=K]``: two activities of one subject spliced at the middle."""
    options = parse_options(spec.strip(), SPLICE_DEFAULTS, counts=("per_pair",))
    window, per_pair = options["window"], options["per_pair"]
    if window < 4:
        raise UserError(spec, "window must be at least 4 samples")
    X, activity, subject = splice_windows(load_recordings(), window=window, per_pair=per_pair, seed=seed)
    return two_activity_windows(
        spec, X, activity, subject, channels=channels, seed=seed, val_fraction=val_fraction,
        none_found=f"no subject has two activities of {window - window // 2}+ samples each",
        name=f"hapt-splice[{channels}, window {window}, {per_pair} per ordered pair and subject, seed {seed}]",
        cut={"window": window, "per_pair": per_pair},
        about={"natural_pairs": sorted(NATURAL_PAIRS),
               "y": "the first half's activity (each half holds the same number of samples; tie: the first in time)"},
    )
