"""MiniRocket baseline: aeon's multivariate MiniRocket features + a linear classifier.

No deep learning: random convolution features (Dempster et al. 2021) fitted on the training
windows, standardised, then the linear classifier of ``fitted_baseline.ConvolutionFeatureBaseline``
(ridge with leave-one-out regularisation, or a logistic regression). It implements the task
protocol (``task.py``) through ``fitted_baseline.py``: no codebooks, no text side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sklearn.preprocessing import StandardScaler

from .fitted_baseline import AlphasConfig, ConvolutionFeatureBaseline, ridge_alphas


@dataclass
class MiniRocketConfig(AlphasConfig):
    baseline_name: ClassVar[str] = "minirocket"
    n_kernels: int = 10_000
    max_dilations_per_kernel: int = 32
    classifier: str = "ridge"  # ridge | logistic
    alphas: tuple[float, ...] = field(default_factory=ridge_alphas)


class MiniRocketClassifier(ConvolutionFeatureBaseline):
    """fit(X (N, C, T), y) / predict_proba(X) -> (N, L); sklearn-like, picklable with joblib."""

    def make_transform(self):
        # lazy: aeon is a slow import (numba) and only fitting needs it
        from aeon.transformations.collection.convolution_based import MiniRocket

        return MiniRocket(n_kernels=self.config.n_kernels, max_dilations_per_kernel=self.config.max_dilations_per_kernel,
                          random_state=self.seed)

    def make_scaler(self):
        return StandardScaler()
