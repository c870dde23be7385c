"""The one generalised zero-shot decision: calibrated stacking with a novelty threshold chosen
on seen labels only. ``mmvq bench zero-shot`` (sentence reader or the model) and a
``--holdout-labels`` run's ``metrics.json`` ``zero_shot`` all go through :func:`calibrated_fold`.

A *zero-shot model* here is anything with ``generalised_scores(features) -> (n, L)`` (seen labels
``-novelty`` plus a tie-break within them, unseen candidates ``0`` plus a tie-break by their text
score), ``text_scores(features) -> (n, L)`` and ``novelty(features) -> (n,)``:
:class:`~mmvqshape.evaluation.reader.SubActionZeroShot` and
:class:`~mmvqshape.evaluation.token_zero_shot.TokenZeroShot`.

Calibration: each seen label in turn plays unseen; ``fit_nested(inner)`` gives a model of the
other seen labels, the harmonic mean is measured on their validation windows plus the stand-in's
windows for every share ``q`` of seen validation windows called unseen
(:data:`QUANTILE_GRID`), and the ``q`` with the best mean curve becomes the full model's
threshold (a quantile of its seen validation windows' novelty). The fold's unseen labels are not
even candidates in a nested fold; test windows are scored once, at the end.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..labels import normalize_label
from ..models.zero_shot import novelty_threshold
from ..training.zero_shot_metrics import calibrated_predictions, gzsl_metrics, harmonic

#: Shares of seen validation windows that the novelty threshold may call unseen.
QUANTILE_GRID = np.round(np.linspace(0.0, 0.8, 41), 4)
BY_CONSTRUCTION = "one unseen candidate: unseen_accuracy is 1.0 by construction, not a result"


def label_indices(labels: Sequence[str], names: Sequence[str]) -> list[int]:
    wanted = {normalize_label(n) for n in names}
    return [i for i, name in enumerate(labels) if normalize_label(name) in wanted]


def by_construction(result: dict[str, Any], n_unseen: int) -> dict[str, Any]:
    """With one unseen candidate, ``unseen_accuracy`` is 1.0 by construction: None, and marked."""
    result["unseen_accuracy_by_construction"] = n_unseen == 1
    if n_unseen == 1:
        result.update(unseen_accuracy=None, unseen_accuracy_note=BY_CONSTRUCTION)
        if "unseen_accuracy_ci95" in result:
            result["unseen_accuracy_ci95"] = None
        for entry in result.get("per_unseen_label", {}).values():
            entry["unseen_accuracy"] = None
    return result


def generalised_harmonic(model: Any, features: np.ndarray, y: np.ndarray, seen: Sequence[int],
                         unseen: Sequence[int], seen_val: np.ndarray) -> np.ndarray:
    """Harmonic mean over :data:`QUANTILE_GRID` on the windows ``features`` (labels ``y``); only
    ``seen`` and ``unseen`` are candidates."""
    scores = np.array(model.generalised_scores(features), dtype=np.float64)  # (n, L)
    others = [i for i in range(scores.shape[1]) if i not in set(seen) | set(unseen)]
    scores[:, others] = -np.inf
    novelty_val = model.novelty(seen_val)
    is_seen, is_unseen = np.isin(y, seen), np.isin(y, unseen)
    curve = np.zeros(len(QUANTILE_GRID))
    for j, q in enumerate(QUANTILE_GRID):
        pred = calibrated_predictions(scores, seen, gamma=-novelty_threshold(novelty_val, q))
        curve[j] = harmonic(float((pred[is_seen] == y[is_seen]).mean()), float((pred[is_unseen] == y[is_unseen]).mean()))
    return curve


def nested_quantile(fit_nested: Callable[[list[int]], tuple[Any, np.ndarray]], y: np.ndarray, split: np.ndarray,
                    seen: Sequence[int], labels: Sequence[str]) -> tuple[float, dict[str, Any]]:
    """The share q of seen validation windows to call unseen, chosen on nested held-out *seen* labels.

    ``fit_nested(inner)`` returns a zero-shot model of the ``inner`` seen labels (fitted on their
    training windows only, or restricted to them) and every window's ``features`` (N, ...)."""
    curves = {}
    for pseudo in seen:
        inner = [s for s in seen if s != pseudo]
        if len(inner) < 2:
            continue
        fit_rows = (split == "train") & np.isin(y, inner)
        val_rows = (split == "val") & np.isin(y, inner)
        pseudo_rows = np.isin(split, ["train", "val"]) & (y == pseudo)
        if not val_rows.any() or len(np.unique(y[fit_rows])) < 2:
            continue
        model, features = fit_nested(inner)
        rows = val_rows | pseudo_rows
        curves[labels[pseudo]] = generalised_harmonic(model, features[rows], y[rows], inner, [pseudo], features[val_rows])
    if not curves:
        return 0.0, {"nested_labels": [], "note": "too few seen labels for a nested fold: no calibration"}
    mean = np.mean(np.stack(list(curves.values())), axis=0)
    best = int(np.flatnonzero(mean >= mean.max() - 1e-12)[0])  # ties: the smallest share
    return float(QUANTILE_GRID[best]), {"nested_labels": list(curves), "nested_harmonic_mean": float(mean[best])}


def calibrated_fold(model: Any, fit_nested: Callable[[list[int]], tuple[Any, np.ndarray]], features: np.ndarray,
                    y: np.ndarray, split: np.ndarray, labels: Sequence[str], unseen: Sequence[int]) -> dict[str, Any]:
    """Every zero-shot key of one fold (``gzsl_metrics``) for ``model`` (fitted on the seen labels'
    training windows) with its threshold chosen by :func:`nested_quantile`; ``features`` (N, ...)
    of every window, scored on ``split == "test"``. With one unseen label ``unseen_accuracy`` is
    ``None`` and ``unseen_accuracy_by_construction`` true."""
    y, split = np.asarray(y), np.asarray(split)
    seen = [i for i in range(len(labels)) if i not in set(unseen)]
    quantile, nested = nested_quantile(fit_nested, y, split, seen, labels)
    val_rows = (split == "val") & np.isin(y, seen)
    threshold = novelty_threshold(model.novelty(features[val_rows]), quantile) if val_rows.any() else float("inf")
    test = split == "test"
    names = [labels[i] for i in unseen]
    result = gzsl_metrics(model.generalised_scores(features[test]), y[test], labels, names, gamma=-threshold)
    # unseen_accuracy ranks the unseen candidates by the text score alone
    text_result = gzsl_metrics(model.text_scores(features[test]), y[test], labels, names, 0.0)
    result["unseen_accuracy"] = text_result["unseen_accuracy"]
    result["unseen_accuracy_ci95"] = text_result["unseen_accuracy_ci95"]
    by_construction(result, len(unseen))
    finite = bool(np.isfinite(threshold))
    result["gamma"] = -float(threshold) if finite else None
    result["calibration"] = {"quantile": quantile, "novelty_threshold": float(threshold) if finite else None, **nested}
    return result
