"""Summary-feature baseline: a logistic regression on each window's physical summary features.

The features are :func:`mmvqshape.signals.features.summary_features` (per channel and for the
magnitude: mean, spread, percentiles, mean absolute difference, band energies, spectral
centroid; plus the gravity direction), standardised with the training windows' statistics,
then a multinomial logistic regression with a fixed ``C`` (nothing is tuned, so no data
chooses anything). lbfgs is deterministic: the same windows give the same model.
It implements the task protocol (``task.py``): no codebooks, no text side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..signals.features import summary_features
from .task import SignalOnly


@dataclass
class SummaryLRConfig:
    C: float = 1.0  # inverse L2 strength of the logistic regression (fixed, not tuned)
    max_iter: int = 2000

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> "SummaryLRConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known - {"objective", "channels"})
        if unknown:
            raise ValueError(f"unknown summary-lr config keys: {', '.join(unknown)}")
        config = cls(**{k: v for k, v in cfg.items() if k in known})
        config.C, config.max_iter = float(config.C), int(config.max_iter)
        if config.C <= 0 or config.max_iter < 1:
            raise ValueError("summary-lr needs C > 0 and max_iter >= 1")
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def window_features(X: np.ndarray) -> np.ndarray:
    """Windows ``X`` (N, C, T) channel-major, as the datasets hand them -> features (N, F)."""
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"expected windows (N, C, T), got shape {X.shape}")
    return summary_features(X.transpose(0, 2, 1))  # summary_features reads (N, T, C)


class SummaryLRClassifier(SignalOnly):
    """fit(X (N, C, T), y) / predict_proba(X) -> (N, L); sklearn-like, picklable with joblib."""

    def __init__(self, config: SummaryLRConfig, n_classes: int, seed: int = 0):
        self.config = config
        self.n_classes = n_classes
        self.seed = seed
        self.classifier: Pipeline | None = None

    def fit(self, X: np.ndarray, y: np.ndarray) -> "SummaryLRClassifier":
        self.classifier = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=self.config.C, max_iter=self.config.max_iter, random_state=self.seed),
        )
        self.classifier.fit(window_features(X), np.asarray(y))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, n_classes) probabilities in class-index order (classes unseen in training get 0)."""
        if self.classifier is None:
            raise ValueError("SummaryLRClassifier is not fitted")
        part = self.classifier.predict_proba(window_features(X))  # (N, classes seen in training)
        proba = np.zeros((len(part), self.n_classes))
        proba[:, self.classifier.classes_] = part
        return proba

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(1)

    # ---- the task protocol (task.py) -----------------------------------------------------
    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """batch["signal"] (B, C, T) -> {"logits": log-probabilities (B, L)} (no losses: not trained by gradient)."""
        signal = torch.as_tensor(batch["signal"]).detach().cpu().numpy()
        return {"logits": torch.from_numpy(self.predict_proba(signal)).log()}

    def num_codes(self) -> dict[str, int]:
        return {}

    def resolved_config(self) -> dict[str, Any]:
        return self.config.to_dict()
