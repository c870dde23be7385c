"""Linear probe on frozen task features (VQShape's evaluation), chosen on validation only."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader

from .data import collate

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)


@torch.no_grad()
def probe_features(task, dataset, kind: str, batch_size: int = 64) -> np.ndarray:
    """``task.features(batch, kind)`` over ``dataset`` (eval mode), flattened to (N, F)."""
    task.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    parts = [task.features(batch, kind).float().reshape(batch["label"].shape[0], -1).cpu().numpy() for batch in loader]
    return np.concatenate(parts)


def fit_probe(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, seed: int = 0):
    """Standardise + LogisticRegression; C picked by validation accuracy (ties: stronger
    regularisation), refitted on the training windows. Returns ``(pipeline, info)``."""
    def make(c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, random_state=seed))

    scores = {}
    for c in C_GRID:
        scores[c] = float((make(c).fit(train_x, train_y).predict(val_x) == val_y).mean())
    best_c = max(C_GRID, key=lambda c: (scores[c], -c))
    return make(best_c).fit(train_x, train_y), {"C": best_c, "val_accuracy": scores[best_c], "val_accuracy_by_C": scores}


def probe_proba(probe, x: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, n_classes) probabilities in class-index order (classes unseen in training get 0)."""
    part = probe.predict_proba(x)
    proba = np.zeros((len(x), n_classes))
    proba[:, probe.classes_] = part
    return proba
