"""Test metrics written to ``RUN/metrics.json`` (design.md: run folder).

Plain functions over numpy arrays, so any model — trained here or not — is scored the same.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from ..labels import normalize_label
from .shape_metrics import code_usage


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """accuracy, macro_f1, per_class {label: precision/recall/f1/support}, confusion (rows = true)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    classes = np.arange(len(labels))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    present = support > 0  # macro F1 over the classes the test set holds
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(labels)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        "n_test": int(len(y_true)),
    }


def codebook_health(code_idx: np.ndarray, num_codes: int) -> dict[str, Any]:
    """perplexity = exp(entropy of code usage); dead_codes = codes never used (``shape_metrics.code_usage``
    without the histogram)."""
    usage = code_usage(code_idx, num_codes)
    usage.pop("histogram")
    return usage


def nearest_label(pred_embedding: np.ndarray, label_vectors: np.ndarray) -> np.ndarray:
    """Index of the candidate label vector most cosine-similar to each prediction."""
    a = pred_embedding / (np.linalg.norm(pred_embedding, axis=-1, keepdims=True) + 1e-12)
    b = label_vectors / (np.linalg.norm(label_vectors, axis=-1, keepdims=True) + 1e-12)
    return (a @ b.T).argmax(-1)


def label_reconstruction(pred_embedding: np.ndarray, label_vectors: np.ndarray, y_true: np.ndarray) -> dict[str, Any]:
    """How well a model's predicted label embedding (N, D) reconstructs the window's own label's
    (``label_vectors`` (L, D), ``y_true`` (N,)): ``mean_cosine`` to it, and ``nearest_share``, the
    share of windows whose prediction is nearer (cosine) their own label than any other of the L."""
    y_true = np.asarray(y_true)
    a = pred_embedding / (np.linalg.norm(pred_embedding, axis=-1, keepdims=True) + 1e-12)
    b = label_vectors / (np.linalg.norm(label_vectors, axis=-1, keepdims=True) + 1e-12)
    cosine = a @ b.T  # (N, L)
    return {"mean_cosine": float(cosine[np.arange(len(y_true)), y_true].mean()) if len(y_true) else float("nan"),
            "nearest_share": float((cosine.argmax(-1) == y_true).mean()) if len(y_true) else float("nan"),
            "n_windows": int(len(y_true))}


def zero_shot_metrics(
    pred_embedding: np.ndarray, label_vectors: np.ndarray, y_true: np.ndarray, labels: Sequence[str], holdout: Sequence[str]
) -> dict[str, Any]:
    """Label-text retrieval from the predicted label embedding, among all candidate labels.

    ``accuracy`` over all test windows; ``holdout`` accuracy over the held-out labels'
    windows only (chance = 1 / number of labels).
    """
    nearest = nearest_label(pred_embedding, label_vectors)
    y_true = np.asarray(y_true)
    out: dict[str, Any] = {
        "candidates": len(labels),
        "chance": 1.0 / len(labels),
        "accuracy": float((nearest == y_true).mean()),
    }
    if holdout:
        held = {normalize_label(h) for h in holdout}
        rows = np.isin(y_true, [i for i, name in enumerate(labels) if normalize_label(name) in held])
        out["holdout_labels"] = list(holdout)
        out["holdout_accuracy"] = float((nearest[rows] == y_true[rows]).mean()) if rows.any() else float("nan")
        out["per_label"] = {
            name: float((nearest[y_true == i] == i).mean())
            for i, name in enumerate(labels)
            if normalize_label(name) in held and (y_true == i).any()
        }
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def predictions_table(index: np.ndarray, y_true: np.ndarray, proba: np.ndarray, labels: Sequence[str]):
    """``predictions.csv`` rows: index, true, pred (label names), p_<label> per class."""
    pred = proba.argmax(-1)
    table = pd.DataFrame({"index": np.asarray(index, dtype=np.int64), "true": [labels[i] for i in y_true], "pred": [labels[i] for i in pred]})
    for i, name in enumerate(labels):
        table[f"p_{name}"] = np.round(proba[:, i].astype(np.float64), 6)
    return table
