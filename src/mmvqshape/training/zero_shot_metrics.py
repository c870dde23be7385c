"""Zero-shot metrics (design.md ``zero_shot``): unseen labels given only as text.

Plain functions over numpy arrays. ``scores`` (N, L) are any model's compatibility of each
test window with each candidate label (seen or unseen), larger = better. Names say what each
number averages over:

* ``unseen_accuracy`` — windows of unseen labels, candidates the unseen labels only
  (conventional zero-shot; chance 1 / |U|);
* ``seen_accuracy`` — windows of seen labels, candidates all labels (generalised);
* ``unseen_gzsl_accuracy`` — windows of unseen labels, candidates all labels (generalised);
* ``harmonic_mean`` — of the two generalised accuracies.

Generalised scores are calibrated by stacking (Chao et al., 2016): ``gamma`` is subtracted
from every seen label's score before the argmax (:func:`calibrated_predictions`, the one place
this rule is written). ``gamma`` is chosen on seen labels only
(:mod:`mmvqshape.evaluation.calibration`), never on the unseen ones.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..labels import normalize_label

#: The four headline numbers of a zero-shot fold, in the order tables print them.
HEADLINE_KEYS = ("unseen_accuracy", "seen_accuracy", "unseen_gzsl_accuracy", "harmonic_mean")


def wilson_interval(successes: int, n: int, z: float = 1.96) -> list[float] | None:
    """95 % Wilson score interval of a binomial proportion, [low, high] (None when n = 0)."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return [round(float(max(0.0, centre - half)), 4), round(float(min(1.0, centre + half)), 4)]


def calibrated_predictions(scores: np.ndarray, seen: Sequence[int], gamma: float) -> np.ndarray:
    """Argmax over all candidates after subtracting ``gamma`` from the seen labels' scores."""
    shifted = np.array(scores, dtype=np.float64, copy=True)
    shifted[:, list(seen)] -= gamma
    return shifted.argmax(-1)


def _rate(hits: np.ndarray) -> tuple[float, list[float] | None, int]:
    n = int(hits.size)
    return (float(hits.mean()) if n else float("nan")), wilson_interval(int(hits.sum()), n), n


def harmonic(a: float, b: float) -> float:
    if not (np.isfinite(a) and np.isfinite(b)) or a + b <= 0:
        return 0.0 if np.isfinite(a) and np.isfinite(b) else float("nan")
    return float(2 * a * b / (a + b))


def gzsl_metrics(scores: np.ndarray, y_true: np.ndarray, labels: Sequence[str], unseen: Sequence[str],
                 gamma: float = 0.0) -> dict[str, Any]:
    """All zero-shot keys for one set of test windows; see the module docstring.

    ``labels`` names the columns of ``scores`` (the candidates), ``unseen`` the held-out ones.
    """
    scores = np.asarray(scores, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    folded = {normalize_label(name) for name in unseen}
    unseen_idx = [i for i, name in enumerate(labels) if normalize_label(name) in folded]
    seen_idx = [i for i in range(len(labels)) if i not in unseen_idx]
    is_unseen = np.isin(y_true, unseen_idx)
    is_seen = np.isin(y_true, seen_idx)
    among_unseen = np.asarray(unseen_idx)[scores[is_unseen][:, unseen_idx].argmax(-1)] if is_unseen.any() else np.zeros(0, int)
    generalised = calibrated_predictions(scores, seen_idx, gamma)
    zsl, zsl_ci, n_unseen = _rate(among_unseen == y_true[is_unseen])
    seen_acc, seen_ci, n_seen = _rate(generalised[is_seen] == y_true[is_seen])
    gzsl, gzsl_ci, _ = _rate(generalised[is_unseen] == y_true[is_unseen])
    per_label = {}
    for i in unseen_idx:
        rows = y_true == i
        if rows.any():
            per_label[labels[i]] = {
                "unseen_accuracy": float((among_unseen[y_true[is_unseen] == i] == i).mean()),
                "unseen_gzsl_accuracy": float((generalised[rows] == i).mean()),
                "n": int(rows.sum()),
            }
    return {
        "unseen_labels": [labels[i] for i in unseen_idx],
        "candidates": list(labels),
        "unseen_accuracy": zsl,
        "unseen_accuracy_ci95": zsl_ci,
        "chance_unseen": 1.0 / len(unseen_idx) if unseen_idx else float("nan"),
        "seen_accuracy": seen_acc,
        "seen_accuracy_ci95": seen_ci,
        "unseen_gzsl_accuracy": gzsl,
        "unseen_gzsl_accuracy_ci95": gzsl_ci,
        "harmonic_mean": harmonic(seen_acc, gzsl),
        "gamma": float(gamma),
        "n_unseen_windows": n_unseen,
        "n_seen_windows": n_seen,
        "per_unseen_label": per_label,
    }


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The :data:`HEADLINE_KEYS` entries of :func:`gzsl_metrics`' result (what baselines report)."""
    return {key: metrics[key] for key in HEADLINE_KEYS}


def summarize_folds(folds: Sequence[dict[str, Any]], keys: Sequence[str] = HEADLINE_KEYS) -> dict[str, Any]:
    """Mean and standard deviation (over folds) of each key."""
    out: dict[str, Any] = {"n_folds": len(folds)}
    for key in keys:
        values = np.array([f[key] for f in folds if f.get(key) is not None], dtype=np.float64)
        out[key] = {"mean": float(np.nanmean(values)) if len(values) else float("nan"),
                    "std": float(np.nanstd(values)) if len(values) else float("nan")}
    return out
