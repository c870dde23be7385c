"""Grounding metrics (design.md ``grounding``): are sub-action sentences placed where their
activity happens, in windows whose every sample carries its activity?

Pure functions over arrays; no model, no I/O. Inputs, per window ``i`` of N:

- ``placements[i]``: the sentences placed in the window, each ``(label, start, end)``: the
  label index the sentence comes from (its source label) and the samples it covers,
  ``start`` inclusive, ``end`` exclusive, in samples of the window as loaded (clipped to the
  window; an empty span counts nothing).
- ``weights[i]`` (optional): one non-negative weight per placement (e.g. its score); 1 each
  when omitted.
- ``activity[i]`` (T,): each sample's true label index, -1 where none (a transition or an
  unlabelled sample). ``activity`` may be an (N, T) array or N arrays of any lengths.

Definitions (a placement's *labelled* samples are those of its span with activity >= 0; its
*right* samples those whose activity is its label; both times its weight):

- **precision** ``= Σ right / Σ labelled`` over every placement of every window: the share of
  the sentences' spans whose true activity is the sentence's label, each sentence counting in
  proportion to its (weighted) labelled length; samples with -1 count in neither.
  ``None`` when no placement covers a labelled sample.
- **coverage**: per activity present in a window (a label holding ``min_samples`` samples or
  more), the share of its samples that lie inside the union of the spans of the sentences
  written for it (placements of that label; weights play no part). ``coverage`` is the mean over
  every (window, activity present) pair, ``coverage_per_activity`` that mean per label (named
  when ``labels`` are given); ``None`` without any activity present.
- **both_located**: over the *two-activity* windows (whose two most frequent labels each hold
  at least ``min_samples`` samples), the share where each of those two activities is located:
  its sentences together have more than half of their labelled samples on its own samples
  (``Σ right / Σ labelled > 0.5`` over that label's placements) **and** cover at least half
  of its samples (coverage >= 0.5). An activity without any placement is not located.
  ``None`` without two-activity windows.
- **both_placed**: the same share with the placement rule alone (no coverage): what
  ``both_located`` meant before coverage was counted; one short right span "places" an
  activity that fills the window.
- **unlabelled_samples**: the samples with activity -1 (transitions, unlabelled) in the
  windows scored, which count in no measure; **n_samples** all their samples.
- **n_windows**: the number of windows scored.

:func:`sample_accuracy` scores per-sample labels (a sliding classifier's) against ``activity``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

Placement = tuple[int, int, int]  # (label index, start sample, end sample exclusive)


def span_counts(placement: Placement, activity: np.ndarray) -> tuple[int, int]:
    """``(right, labelled)`` samples of one placement's span in a window's ``activity`` (T,)."""
    label, start, end = (int(v) for v in placement)
    covered = activity[max(start, 0) : max(min(end, len(activity)), 0)]  # (span,)
    labelled = int(np.count_nonzero(covered >= 0))
    right = int(np.count_nonzero(covered == label)) if label >= 0 else 0
    return right, labelled


def main_activities(activity: np.ndarray, min_samples: int = 1) -> tuple[int, int] | None:
    """The two labels holding most samples of ``activity`` (T,), lower index first, or ``None``
    when fewer than two labels hold ``min_samples`` samples or more."""
    labelled = activity[activity >= 0]
    if len(labelled) == 0:
        return None
    counts = np.bincount(labelled)  # (max label + 1,)
    top = np.argsort(-counts, kind="stable")[:2]
    if len(top) < 2 or counts[top[1]] < max(min_samples, 1):
        return None
    return int(min(top)), int(max(top))


def window_sums(placements: Sequence[Placement], weights: Sequence[float], activity: np.ndarray) -> dict[int, np.ndarray]:
    """Label → ``[weighted right, weighted labelled]`` summed over one window's placements."""
    sums: dict[int, np.ndarray] = {}
    for placement, weight in zip(placements, weights):
        right, labelled = span_counts(placement, activity)
        sums.setdefault(int(placement[0]), np.zeros(2))[:] += (weight * right, weight * labelled)
    return sums


def _checked_weights(placements, weights, i: int) -> list[float]:
    if weights is None:
        return [1.0] * len(placements)
    row = [float(w) for w in weights[i]]
    if len(row) != len(placements):
        raise ValueError(f"window {i}: {len(row)} weights for {len(placements)} placements")
    if any(w < 0 or not np.isfinite(w) for w in row):
        raise ValueError(f"window {i}: weights must be finite and non-negative")
    return row


def activity_coverage(placements: Sequence[Placement], activity: np.ndarray, min_samples: int = 1) -> dict[int, float]:
    """Label → share of its samples in ``activity`` (T,) inside the union of the spans of the
    ``placements`` of that label, for every label holding ``min_samples`` samples or more."""
    present, counts = np.unique(activity[activity >= 0], return_counts=True)
    coverage = {}
    for label, count in zip(present.tolist(), counts.tolist()):
        if count < max(min_samples, 1):
            continue
        covered = np.zeros(len(activity), dtype=bool)
        for placed_label, start, end in placements:
            if int(placed_label) == label:
                covered[max(int(start), 0) : max(min(int(end), len(activity)), 0)] = True
        coverage[label] = float(np.count_nonzero(covered & (activity == label)) / count)
    return coverage


def grounding_metrics(
    placements: Sequence[Sequence[Placement]],
    activity: np.ndarray | Sequence[np.ndarray],
    weights: Sequence[Sequence[float]] | None = None,
    min_samples: int = 1,
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``{precision, coverage, coverage_per_activity, both_located, both_placed,
    unlabelled_samples, n_samples, n_windows}`` of sentences placed in N windows (module doc)."""
    if len(placements) != len(activity):
        raise ValueError(f"{len(placements)} windows of placements but {len(activity)} activity rows")
    if weights is not None and len(weights) != len(placements):
        raise ValueError(f"{len(weights)} windows of weights but {len(placements)} of placements")
    total = np.zeros(2)  # weighted right, weighted labelled over every placement
    located, placed_right, two_activity, unlabelled, n_samples = 0, 0, 0, 0, 0
    coverages: dict[int, list[float]] = {}
    for i, (placed, row) in enumerate(zip(placements, activity)):
        row = np.asarray(row)
        unlabelled, n_samples = unlabelled + int(np.count_nonzero(row < 0)), n_samples + len(row)
        sums = window_sums(placed, _checked_weights(placed, weights, i), row)
        for label_sums in sums.values():
            total += label_sums
        coverage = activity_coverage(placed, row, min_samples)
        for label, value in coverage.items():
            coverages.setdefault(label, []).append(value)
        pair = main_activities(row, min_samples)
        if pair is None:
            continue
        two_activity += 1
        placed_pair = all(label in sums and sums[label][0] > 0.5 * sums[label][1] for label in pair)
        placed_right += placed_pair
        located += placed_pair and all(coverage.get(label, 0.0) >= 0.5 for label in pair)
    every = [value for values in coverages.values() for value in values]
    name = (lambda k: str(labels[k])) if labels is not None else str
    return {
        "precision": float(total[0] / total[1]) if total[1] > 0 else None,
        "coverage": float(np.mean(every)) if every else None,
        "coverage_per_activity": {name(k): float(np.mean(coverages[k])) for k in sorted(coverages)},
        "both_located": located / two_activity if two_activity else None,
        "both_placed": placed_right / two_activity if two_activity else None,
        "unlabelled_samples": unlabelled,
        "n_samples": n_samples,
        "n_windows": int(len(placements)),
    }


def sample_accuracy(predicted: np.ndarray, activity: np.ndarray) -> float | None:
    """Share of labelled samples (activity >= 0) whose predicted label is right.

    ``predicted`` and ``activity`` are (N, T) label indices; ``None`` without labelled samples.
    """
    predicted, activity = np.asarray(predicted), np.asarray(activity)
    if predicted.shape != activity.shape:
        raise ValueError(f"predicted {predicted.shape} and activity {activity.shape} differ in shape")
    labelled = activity >= 0
    return float((predicted[labelled] == activity[labelled]).mean()) if labelled.any() else None
