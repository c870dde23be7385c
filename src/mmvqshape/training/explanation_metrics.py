"""Explanation metrics (design.md ``explanation``): are the sub-actions chosen for a window right
and specific?

Inputs are plain arrays: ``chosen`` (N, K) indices of the sentences chosen for each test window
(-1 = an empty slot), ``owner`` (M,) the label each sentence belongs to, ``y_true`` (N,) and,
optionally, ``candidates`` (M,) bool: the sentences the model can choose at all (a held-out
label's sentences, or those of a label the model has no class for, are not; default: every one).

* ``precision`` — share of chosen sentences that belong to the window's true label
  (``precision_chance``: its expected value when the model picks uniformly among its
  candidates, the mean over windows of the share of candidates written for the window's label);
* ``diversity`` — distinct sentences per window / K, averaged over windows;
* ``repeat_rate`` — share of windows with a sentence chosen more than once;
* ``specificity`` — 1 − mean Jaccard similarity of the chosen sets of two windows of the same
  label (0: every window of a label gets the same sentences);
* ``faithfulness`` — mean drop in the predicted class's score when one chosen sentence of that
  class is swapped for a random sentence (``faithfulness_random``: the same drop for a
  random non-chosen sentence of the class, the control it should exceed).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def _sets(chosen: np.ndarray) -> list[set[int]]:
    return [set(int(i) for i in row if i >= 0) for row in np.asarray(chosen)]


def precision(chosen: np.ndarray, owner: np.ndarray, y_true: np.ndarray) -> float:
    chosen = np.asarray(chosen)
    valid = chosen >= 0
    owners = np.where(valid, np.asarray(owner)[np.clip(chosen, 0, None)], -1)
    hits = (owners == np.asarray(y_true)[:, None]) & valid
    return float(hits.sum() / max(valid.sum(), 1))


def precision_chance(owner: np.ndarray, y_true: np.ndarray, candidates: np.ndarray | None = None) -> float:
    """Expected precision of sentences drawn uniformly from the ``candidates`` (M,) bool (the
    sentences the model can choose; default every sentence): per window, the share of the
    candidates owned by its true label, averaged over windows."""
    owner, y_true = np.asarray(owner), np.asarray(y_true)
    mask = np.ones(len(owner), dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    if mask.shape != owner.shape:
        raise ValueError(f"candidates has {mask.shape} entries for {owner.shape} sentences")
    if not mask.any() or len(y_true) == 0:
        return float("nan")
    return float((owner[mask][None, :] == y_true[:, None]).mean())


def specificity(chosen: np.ndarray, y_true: np.ndarray, max_pairs: int = 2000, seed: int = 0) -> float:
    sets = _sets(chosen)
    y_true = np.asarray(y_true)
    rng = np.random.default_rng(seed)
    values = []
    for label in np.unique(y_true):
        rows = np.flatnonzero(y_true == label)
        if len(rows) < 2:
            continue
        pairs = [(a, b) for i, a in enumerate(rows) for b in rows[i + 1:]]
        if len(pairs) > max_pairs:
            pairs = [pairs[i] for i in rng.choice(len(pairs), max_pairs, replace=False)]
        jaccard = [len(sets[a] & sets[b]) / max(len(sets[a] | sets[b]), 1) for a, b in pairs]
        values.append(1 - float(np.mean(jaccard)))
    return float(np.mean(values)) if values else float("nan")


def faithfulness(chosen: np.ndarray, match: np.ndarray, owner: np.ndarray,
                 class_scores: Callable[[np.ndarray], np.ndarray], seed: int = 0) -> dict[str, float]:
    """Swap one chosen sentence of the predicted class (its match column) for a random
    sentence's and measure the drop of that class's score; the same for a random non-chosen
    sentence of the class as the control. ``class_scores(match (N, M)) -> (N, L)``."""
    rng = np.random.default_rng(seed)
    match = np.asarray(match, dtype=np.float64)
    owner = np.asarray(owner)
    base = class_scores(match)
    predicted = base.argmax(1)
    drops, control = [], []
    for n, row in enumerate(np.asarray(chosen)):
        c = predicted[n]
        own = [int(i) for i in row if i >= 0 and owner[i] == c]
        others = np.flatnonzero(owner == c)
        others = [int(i) for i in others if i not in own]
        for pool, out in ((own, drops), (others, control)):
            if not pool:
                continue
            i = pool[rng.integers(len(pool))]
            swapped = match[n:n + 1].copy()
            swapped[0, i] = match[n, rng.integers(match.shape[1])]
            out.append(base[n, c] - class_scores(swapped)[0, c])
    return {"faithfulness": float(np.mean(drops)) if drops else float("nan"),
            "faithfulness_random": float(np.mean(control)) if control else float("nan")}


def explanation_metrics(chosen: np.ndarray, owner: np.ndarray, y_true: np.ndarray, *, match: np.ndarray | None = None,
                        class_scores: Callable[[np.ndarray], np.ndarray] | None = None, seed: int = 0,
                        candidates: np.ndarray | None = None) -> dict[str, Any]:
    """Every key of the module docstring (faithfulness only when ``match`` and ``class_scores``
    are given; ``precision_chance`` over ``candidates``, default every sentence)."""
    chosen = np.asarray(chosen)
    k = chosen.shape[1]
    sets = _sets(chosen)
    distinct = np.array([len(s) for s in sets])
    filled = (chosen >= 0).sum(1)
    out: dict[str, Any] = {
        "precision": precision(chosen, owner, y_true),
        "precision_chance": precision_chance(owner, y_true, candidates),
        "diversity": float((distinct / k).mean()),
        "repeat_rate": float((distinct < filled).mean()),
        "specificity": specificity(chosen, y_true, seed=seed),
        "k": int(k),
        "n_windows": int(len(chosen)),
    }
    if match is not None and class_scores is not None:
        out.update(faithfulness(chosen, match, owner, class_scores, seed=seed))
    return out
