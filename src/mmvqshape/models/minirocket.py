"""MiniRocket baseline: aeon's multivariate MiniRocket features + a linear classifier.

No deep learning: random convolution features (Dempster et al. 2021) fitted on the training
windows, then ``RidgeClassifierCV`` (its regularisation chosen by leave-one-out on the
training windows only) or a logistic regression. Per-class probabilities for ridge are the
softmax of its decision function (documented approximation; the argmax is the prediction).
It implements the task protocol (``task.py``) through ``fitted_baseline.py``: no codebooks, no text side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
from sklearn.preprocessing import StandardScaler

from .fitted_baseline import FittedBaseline, baseline_config_values, probabilities_of_every_class


@dataclass
class MiniRocketConfig:
    n_kernels: int = 10_000
    max_dilations_per_kernel: int = 32
    classifier: str = "ridge"  # ridge | logistic
    alphas: tuple[float, ...] = tuple(float(a) for a in np.logspace(-3, 3, 10))

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> "MiniRocketConfig":
        values = baseline_config_values(cls, cfg, "minirocket")
        if "alphas" in values:
            values["alphas"] = tuple(float(a) for a in values["alphas"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["alphas"] = [float(a) for a in self.alphas]
        return out


class MiniRocketClassifier(FittedBaseline):
    """fit(X (N, C, T), y) / predict_proba(X) -> (N, L); sklearn-like, picklable with joblib."""

    def __init__(self, config: MiniRocketConfig, n_classes: int, seed: int = 0):
        super().__init__(config, n_classes, seed)
        self.transform = None
        self.scaler = None
        self.classifier = None

    def fit(self, X: np.ndarray, y: np.ndarray) -> "MiniRocketClassifier":
        # lazy: aeon is a slow import (numba) and only fitting needs it
        from aeon.transformations.collection.convolution_based import MiniRocket

        self.transform = MiniRocket(
            n_kernels=self.config.n_kernels,
            max_dilations_per_kernel=self.config.max_dilations_per_kernel,
            random_state=self.seed,
        )
        features = self.transform.fit_transform(np.asarray(X, dtype=np.float32))  # (N, F)
        self.scaler = StandardScaler().fit(features)
        features = self.scaler.transform(features)
        if self.config.classifier == "ridge":
            self.classifier = RidgeClassifierCV(alphas=np.asarray(self.config.alphas))
        elif self.config.classifier == "logistic":
            self.classifier = LogisticRegression(max_iter=2000)
        else:
            raise ValueError(f"unknown classifier {self.config.classifier!r} (ridge | logistic)")
        self.classifier.fit(features, y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, n_classes) probabilities in class-index order (classes unseen in training get 0)."""
        features = self.scaler.transform(self.transform.transform(np.asarray(X, dtype=np.float32)))
        classes = self.classifier.classes_
        if self.config.classifier == "ridge":
            scores = self.classifier.decision_function(features)
            if scores.ndim == 1:  # two classes: sklearn gives one score column
                scores = np.stack([-scores, scores], axis=1)
            scores = scores - scores.max(1, keepdims=True)
            part = np.exp(scores)
            part /= part.sum(1, keepdims=True)
        else:
            part = self.classifier.predict_proba(features)
        return probabilities_of_every_class(part, classes, self.n_classes)
