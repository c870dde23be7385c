"""How well a corpus's sentences separate its labels, measured on held-out sentences and held-out labels.

Both measures work on the sentence vectors scaled to unit length (cosine geometry). A label's
*centroid* is the mean of its sentences' unit vectors; a sentence is assigned to the label whose
centroid has the highest cosine with it (ties: the lower label index). No sentence is ever
scored against a centroid it helped to build.

**Sentence folds** (:func:`sentence_separation`, leave-one-out): each sentence of label ``a`` is
compared with every label's centroid, label ``a``'s computed without that sentence. Reported:
``accuracy`` (share of all scored sentences assigned to their own label), ``macro_accuracy``
(mean of the per-label shares), ``per_label``, ``chance`` = 1 / L (a uniform guess among the L
labels), ``confusion`` (rows: the sentence's label, columns: the assigned label, counts). A
label with a single sentence has no centroid without it: its sentence is not scored (it still
competes as a centroid for the others), and ``n_scored`` says how many were.

**Label folds** (:func:`label_fold_separation`, the zero-shot view): the labels are split into
folds of held-out ("unseen") labels, by default each label alone. In a fold, every vector is
first centred on the mean of the *seen* labels' sentences (the only statistic a zero-shot model
could have fitted) and scaled to unit length again. Each sentence of a held-out label ``u`` is then
compared with ``u``'s centroid without that sentence and with the centroids of the seen labels;
the fold's other held-out labels are not candidates. Reported per held-out label: the share of
its sentences nearer to its own centroid than to every seen label's (``accuracy``), the number of
candidates and its chance (1 / candidates); overall: the mean of those shares over the held-out
labels of all folds (``mean_accuracy``) and of their chances (``chance``). With one-label folds
and no centring this would equal the sentence-fold per-label share; the centring on seen labels
is what the fold changes, so the difference shows how much of the separation rests on what all
sentences of the corpus share.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .similarity import unit_rows


def centroid_predictions(unit: np.ndarray, owner: np.ndarray, n_labels: int,
                         candidates: np.ndarray | None = None) -> np.ndarray:
    """The label each row of ``unit`` (N, D) is nearest to, its own label's centroid without it.

    ``owner`` (N,) is each row's label index; ``candidates`` (N, L) bool, when given, says which
    labels each row may be assigned to. Rows whose label has no other sentence get -1.
    """
    owner = np.asarray(owner, dtype=int)
    sums = np.zeros((n_labels, unit.shape[1]))
    np.add.at(sums, owner, unit)
    counts = np.bincount(owner, minlength=n_labels)
    sims = unit @ unit_rows(sums).T  # (N, L) cosine with each full centroid
    own_without = sums[owner] - unit  # (N, D) the own label's sum, this row left out
    norms = np.linalg.norm(own_without, axis=1)
    own = np.einsum("nd,nd->n", unit, own_without) / np.where(norms > 0, norms, 1.0)
    sims[np.arange(len(owner)), owner] = own
    allowed = np.broadcast_to(counts > 0, sims.shape).copy()
    if candidates is not None:
        allowed &= candidates
    sims = np.where(allowed, sims, -np.inf)
    predicted = sims.argmax(axis=1)
    predicted[counts[owner] < 2] = -1
    return predicted


def sentence_separation(vectors: np.ndarray, owner: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Leave-one-out nearest-label-centroid accuracy of the sentences (see the module docstring)."""
    owner = np.asarray(owner, dtype=int)
    n_labels = len(labels)
    predicted = centroid_predictions(unit_rows(vectors), owner, n_labels)
    scored = predicted >= 0
    confusion = np.zeros((n_labels, n_labels), dtype=int)
    np.add.at(confusion, (owner[scored], predicted[scored]), 1)
    per_label: dict[str, float | None] = {}
    for index, label in enumerate(labels):
        total = int(confusion[index].sum())
        per_label[label] = float(confusion[index, index] / total) if total else None
    shares = [v for v in per_label.values() if v is not None]
    n_scored = int(scored.sum())
    return {
        "accuracy": float(np.trace(confusion) / n_scored) if n_scored else None,
        "macro_accuracy": float(np.mean(shares)) if shares else None,
        "chance": 1.0 / n_labels,
        "per_label": per_label,
        "confusion": confusion.tolist(),
        "n_sentences": int(len(owner)),
        "n_scored": n_scored,
    }


def label_fold_separation(vectors: np.ndarray, owner: np.ndarray, labels: Sequence[str],
                          folds: Sequence[Sequence[str]] | None = None) -> dict[str, Any]:
    """Held-out labels' sentences against their own centroid and the seen labels' (module docstring).

    ``folds`` lists the held-out label names of each fold; default: every label alone.
    """
    owner = np.asarray(owner, dtype=int)
    labels = list(labels)
    folds = [[label] for label in labels] if folds is None else [list(fold) for fold in folds]
    unit = unit_rows(vectors)
    per_fold = []
    for fold in folds:
        unknown = [name for name in fold if name not in labels]
        if unknown or not fold or len(fold) >= len(labels):
            raise ValueError(f"a label fold must hold 1 to L-1 known labels, got {fold}")
        per_fold.append(_one_label_fold(unit, owner, labels, [labels.index(name) for name in fold]))
    held = [entry for fold in per_fold for entry in fold["held_out"].values() if entry["accuracy"] is not None]
    return {
        "folds": folds,
        "centred_on": "the mean of the seen labels' sentences",
        "mean_accuracy": float(np.mean([e["accuracy"] for e in held])) if held else None,
        "chance": float(np.mean([e["chance"] for e in held])) if held else None,
        "per_fold": per_fold,
    }


def _one_label_fold(unit: np.ndarray, owner: np.ndarray, labels: list[str], unseen: list[int]) -> dict[str, Any]:
    seen = np.ones(len(labels), dtype=bool)
    seen[unseen] = False
    seen_rows = seen[owner]
    centred = unit_rows(unit - unit[seen_rows].mean(axis=0))
    candidates = seen[None, :] | (np.arange(len(labels))[None, :] == owner[:, None])  # seen labels + own label
    predicted = centroid_predictions(centred, owner, len(labels), candidates)
    held_out = {}
    for index in unseen:
        rows = (owner == index) & (predicted >= 0)
        n_candidates = int(seen.sum()) + 1
        held_out[labels[index]] = {
            "accuracy": float((predicted[rows] == index).mean()) if rows.any() else None,
            "n_scored": int(rows.sum()),
            "candidates": n_candidates,
            "chance": 1.0 / n_candidates,
            "assigned": {labels[k]: int((predicted[rows] == k).sum()) for k in np.unique(predicted[rows])},
        }
    return {"unseen": [labels[i] for i in unseen], "held_out": held_out}


def separation_report(vectors: np.ndarray, owner: np.ndarray, labels: Sequence[str],
                      folds: Sequence[Sequence[str]] | None = None) -> dict[str, Any]:
    """Both measures: ``{"sentence_folds": ..., "label_folds": ...}`` (label folds need two labels)."""
    report: dict[str, Any] = {
        "measure": "nearest label centroid, cosine; centroids never include the sentence scored",
        "sentence_folds": sentence_separation(vectors, owner, labels),
    }
    if len(labels) >= 2:
        report["label_folds"] = label_fold_separation(vectors, owner, labels, folds)
    return report
