"""Grounding of sentences placed on windows that hold two activities, scored: the
sliding-classifier anchor and a model's own placed sentences (pure functions; no file is read
or written: :mod:`mmvqshape.pipelines.grounding` loads the anchor's training data).

:func:`sliding_anchor` is the baseline a model's placements should beat: a logistic regression
on the summary features (:func:`~mmvqshape.signals.features.summary_features`) of 2.5-s pieces
of single-activity training windows, slid over each two-activity window with a 0.5-s hop.
Every sub-window's predicted label is placed as a sentence over its span; each sample's label
is the argmax of the mean probability of the sub-windows covering it. Scored with
:func:`~mmvqshape.training.grounding.grounding_metrics` (precision, coverage, both located /
placed, unlabelled samples) and per-sample accuracy. Nothing is chosen on the windows scored:
the sub-window, hop and regularisation are fixed. Notebook use::

    from mmvqshape.signals import load_windows
    from mmvqshape.evaluation.grounding import sliding_anchor
    anchor = sliding_anchor(load_windows("hapt"), load_windows("hapt-boundary"), split="val")

:func:`model_grounding` scores a model's placed sentences (``mmvq explain``'s ``source_label``,
``start``, ``end``, ``score``) the same way, from the same function;
:func:`token_model_grounding` does so from a token MMVQShape's outputs.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ..labels import normalize_label
from ..signals import Windows
from ..signals.features import summary_features
from ..training.grounding import Placement, grounding_metrics, sample_accuracy

SUB_WINDOW_S = 2.5  # seconds per sub-window the classifier sees
HOP_S = 0.5  # seconds between sub-window starts
PURE_SHARE = 0.9  # a training piece cut from a two-activity window needs this share of one label
REGULARISATION_C = 1.0  # fixed: nothing is tuned on the windows scored


def sliding_geometry(windows: Windows) -> tuple[int, int]:
    """(sub-window, hop) in samples: 2.5 s and 0.5 s at the data's ``sampling_hz``; without a
    known rate a quarter of the window and a fifth of that."""
    hz = windows.extra.get("sampling_hz")
    if hz:
        return int(round(SUB_WINDOW_S * hz)), max(1, int(round(HOP_S * hz)))
    length = max(2, windows.length // 4)
    return length, max(1, length // 5)


def sub_window_starts(length: int, sub_window: int, hop: int) -> np.ndarray:
    """Starts every ``hop`` samples, plus the last possible start so the window's end is covered."""
    starts = list(range(0, length - sub_window + 1, hop))
    if starts[-1] != length - sub_window:
        starts.append(length - sub_window)
    return np.asarray(starts, dtype=np.int64)


def training_pieces(windows: Windows, sub_window: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping ``sub_window``-sample pieces of the training split's windows and their labels:
    the window's ``y``, or with ``activity`` the piece's label when it holds >= 90 % of it.

    Returns ``(pieces (P, sub_window, C) float32, label (P,) int64)``.
    """
    rows = windows.indices("train")
    X = np.asarray(windows.X[rows], dtype=np.float32)  # (n, T, C)
    n_pieces = windows.length // sub_window
    pieces = X[:, : n_pieces * sub_window].reshape(len(rows), n_pieces, sub_window, X.shape[2])  # (n, p, S, C)
    if windows.activity is None:
        labels = np.repeat(windows.y[rows], n_pieces)
        return pieces.reshape(-1, sub_window, X.shape[2]), labels
    activity = windows.activity[rows][:, : n_pieces * sub_window].reshape(-1, sub_window)  # (n * p, S)
    counts = np.stack([(activity == k).sum(1) for k in range(len(windows.labels))], axis=1)  # (n * p, L)
    keep = counts.max(1) >= PURE_SHARE * sub_window
    return pieces.reshape(-1, sub_window, X.shape[2])[keep], counts.argmax(1)[keep]


def fit_sliding_classifier(train_windows: Windows, sub_window: int, seed: int = 0):
    """Standardised logistic regression on the summary features of :func:`training_pieces`."""
    pieces, labels = training_pieces(train_windows, sub_window)
    if len(np.unique(labels)) < 2:
        raise ValueError(f"{train_windows.name}: the sliding classifier needs training pieces of two labels or more")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=REGULARISATION_C, max_iter=2000, random_state=seed))
    features = summary_features(pieces)  # (P, F)
    with threadpool_limits(limits=1):  # a small fit: one BLAS thread takes 0.5 s where spinning threads took a minute
        return model.fit(features, labels)


def slide(model, X: np.ndarray, n_labels: int, sub_window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities of every sub-window: ``(proba (N, S, L), starts (S,))`` for windows X (N, T, C)."""
    X = np.asarray(X, dtype=np.float32)
    starts = sub_window_starts(X.shape[1], sub_window, hop)
    pieces = np.stack([X[:, s : s + sub_window] for s in starts], axis=1)  # (N, S, sub_window, C)
    features = summary_features(pieces.reshape(-1, sub_window, X.shape[2]))  # (N * S, F)
    with threadpool_limits(limits=1):
        known = model.predict_proba(features)  # (N * S, classes seen)
    proba = np.zeros((len(X) * len(starts), n_labels))
    proba[:, model.classes_] = known
    return proba.reshape(len(X), len(starts), n_labels), starts


def sample_labels(proba: np.ndarray, starts: np.ndarray, sub_window: int, length: int) -> np.ndarray:
    """(N, T) label per sample: argmax of the mean probability of the sub-windows covering it."""
    total = np.zeros((proba.shape[0], length, proba.shape[2]))  # (N, T, L)
    for j, start in enumerate(starts):
        total[:, start : start + sub_window] += proba[:, j, None, :]
    return total.argmax(-1)


def sliding_anchor(train_windows: Windows, boundary_windows: Windows, *, split: str = "val", seed: int = 0) -> dict[str, Any]:
    """Fit the sliding classifier on ``train_windows``' training split and score it on the
    ``split`` windows of ``boundary_windows`` (which carry ``activity``): ``grounding``
    (:func:`~mmvqshape.training.grounding.grounding_metrics`), ``sample_accuracy`` and how it was computed."""
    if boundary_windows.activity is None:
        raise ValueError(f"{boundary_windows.name}: grounding needs windows that carry each sample's activity")
    if list(train_windows.labels) != list(boundary_windows.labels) or train_windows.n_channels != boundary_windows.n_channels:
        raise ValueError(f"{train_windows.name} and {boundary_windows.name} differ in labels or channels")
    sub_window, hop = sliding_geometry(boundary_windows)
    model = fit_sliding_classifier(train_windows, sub_window, seed)
    rows = boundary_windows.indices(split)
    activity = boundary_windows.activity[rows]  # (n, T)
    proba, starts = slide(model, boundary_windows.X[rows], len(boundary_windows.labels), sub_window, hop)
    predicted = proba.argmax(-1)  # (n, S)
    placements = [[(int(label), int(s), int(s) + sub_window) for label, s in zip(row, starts)] for row in predicted]
    return {
        "grounding": grounding_metrics(placements, activity, labels=list(boundary_windows.labels)),
        "sample_accuracy": sample_accuracy(sample_labels(proba, starts, sub_window, boundary_windows.length), activity),
        "split": split,
        "sub_window": sub_window,
        "hop": hop,
        "trained_on": f"{train_windows.name} (training split, {sub_window}-sample pieces)",
    }


def placements_from_sub_actions(sub_actions: Sequence[dict], labels: Sequence[str]) -> tuple[list[Placement], list[float]]:
    """One window's chosen sub-actions as ``mmvq explain`` writes them (``source_label``, ``start``,
    ``end``, optional ``score``) → (placements, weights); an unknown label gets index -1."""
    lookup = {normalize_label(name): i for i, name in enumerate(labels)}
    placements = [(lookup.get(normalize_label(str(s["source_label"])), -1), int(s["start"]), int(s["end"])) for s in sub_actions]
    weights = [max(float(s.get("score", 1.0)), 0.0) for s in sub_actions]
    return placements, weights


def model_grounding(windows: Windows, rows: np.ndarray, placements: Sequence[Sequence[Placement]],
                    weights: Sequence[Sequence[float]] | None = None) -> dict[str, Any]:
    """``metrics.json`` ``grounding`` of a model: its placed sentences in the windows at ``rows``
    (one list of (label index, start, end) per row, samples of the window as loaded)."""
    if windows.activity is None:
        raise ValueError(f"{windows.name}: grounding needs windows that carry each sample's activity")
    return grounding_metrics(placements, windows.activity[np.asarray(rows, dtype=np.int64)], weights,
                             labels=list(windows.labels))


def loaded_spans(span: np.ndarray, model_length: int, loaded_length: int) -> np.ndarray:
    """[start, end) samples of the model's window (resampled to ``model_length``) -> the same
    stretch in samples of the window as loaded (``loaded_length``), as int64 of ``span``'s shape
    (..., 2). The first and last samples map onto each other, as resampling maps them."""
    span = np.asarray(span, dtype=np.float64)
    ratio = (loaded_length - 1) / max(model_length - 1, 1)
    start = np.rint(span[..., 0] * ratio)
    end = np.rint((span[..., 1] - 1) * ratio) + 1
    return np.stack([start, end], axis=-1).astype(np.int64)


def sentence_label_index(source_labels: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """(M,) index in ``labels`` of each sentence's source label; -1 for a label the data lacks."""
    lookup = {normalize_label(name): i for i, name in enumerate(labels)}
    return np.array([lookup.get(normalize_label(str(name)), -1) for name in source_labels], dtype=np.int64)


def model_placements(action_idx: np.ndarray, action_span: np.ndarray, sentence_label: np.ndarray,
                     model_length: int, loaded_length: int) -> list[list[Placement]]:
    """The model's chosen sentences as placements: ``action_idx`` (N, K) into its sentence bank
    (-1 = an empty slot), ``action_span`` (N, K, 2) samples of the model's window,
    ``sentence_label`` (M,) each sentence's label index -> N lists of (label, start, end) in
    samples of the window as loaded."""
    spans = loaded_spans(action_span, model_length, loaded_length)  # (N, K, 2)
    label_of = np.asarray(sentence_label)
    return [[(int(label_of[m]), int(s), int(e)) for m, (s, e) in zip(row, row_spans) if m >= 0]
            for row, row_spans in zip(np.asarray(action_idx), spans)]


def token_model_grounding(windows: Windows, outputs: dict[str, Any], source_labels: Sequence[str],
                          model_length: int) -> dict[str, Any]:
    """``grounding`` of a token MMVQShape from its outputs over some windows (``index`` (N,) rows,
    ``action_idx`` (N, K), ``action_span`` (N, K, 2) samples of the model's window): each chosen
    sentence counts over its own span, with its source label (``source_labels`` (M,) per sentence
    of the model's bank), against the rows' ``activity``. Reads the model's outputs only: the
    spans come from the signal, whatever corpus the items carry."""
    placements = model_placements(outputs["action_idx"], outputs["action_span"],
                                  sentence_label_index(source_labels, windows.labels), model_length, windows.length)
    return model_grounding(windows, outputs["index"], placements)
