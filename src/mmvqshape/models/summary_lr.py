"""Summary-feature baseline: a logistic regression on each window's physical summary features.

The features are :func:`mmvqshape.signals.features.summary_features` (per channel and for the
magnitude: mean, spread, percentiles, mean absolute difference, band energies, spectral
centroid; plus the gravity direction), standardised with the training windows' statistics,
then a multinomial logistic regression with a fixed ``C`` (nothing is tuned, so no data
chooses anything). lbfgs is deterministic: the same windows give the same model.
It implements the task protocol (``task.py``) through ``fitted_baseline.py``: no codebooks, no text side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..signals.features import summary_features
from .fitted_baseline import FittedBaseline, baseline_config_values, probabilities_of_every_class


@dataclass
class SummaryLRConfig:
    C: float = 1.0  # inverse L2 strength of the logistic regression (fixed, not tuned)
    max_iter: int = 2000

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> "SummaryLRConfig":
        config = cls(**baseline_config_values(cls, cfg, "summary-lr"))
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


class SummaryLRClassifier(FittedBaseline):
    """fit(X (N, C, T), y) / predict_proba(X) -> (N, L); sklearn-like, picklable with joblib."""

    def __init__(self, config: SummaryLRConfig, n_classes: int, seed: int = 0):
        super().__init__(config, n_classes, seed)
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
        return probabilities_of_every_class(part, self.classifier.classes_, self.n_classes)
