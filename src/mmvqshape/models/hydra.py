"""Hydra baseline: aeon's Hydra features (Dempster et al. 2023, competing convolution kernels)
+ a linear classifier, as aeon's ``HydraClassifier`` builds it (Hydra transform, aeon's sparse
scaler, ``RidgeClassifierCV`` over 10 alphas from 1e-3 to 1e3), through
``fitted_baseline.ConvolutionFeatureBaseline`` so that it has probabilities and the task protocol.

No deep learning and no selection on validation windows; it fits in one call on the training
windows. ``multirocket: true`` adds MultiRocket features beside Hydra's (aeon's
``MultiRocketHydraClassifier``; optional, slower).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from .fitted_baseline import AlphasConfig, ConvolutionFeatureBaseline, ridge_alphas


@dataclass
class HydraConfig(AlphasConfig):
    baseline_name: ClassVar[str] = "hydra"
    n_kernels: int = 8  # kernels per group (aeon's default)
    n_groups: int = 64  # groups of competing kernels (aeon's default)
    multirocket: bool = False  # also MultiRocket's features (MultiRocket-Hydra)
    classifier: str = "ridge"  # ridge | logistic
    alphas: tuple[float, ...] = field(default_factory=ridge_alphas)


class HydraFeatures:
    """Hydra's features, with MultiRocket's beside them when ``multirocket`` (each block scaled on
    its own, as aeon's MultiRocket-Hydra does): fit_transform / transform (N, C, T) -> (N, F).
    ``n_hydra``: the columns of Hydra's block (they come first)."""

    def __init__(self, n_kernels: int, n_groups: int, multirocket: bool, seed: int):
        # lazy: aeon is a slow import (numba, torch) and only fitting needs it
        from aeon.transformations.collection.convolution_based import HydraTransformer, MultiRocket

        self.hydra = HydraTransformer(n_kernels=n_kernels, n_groups=n_groups, random_state=seed)
        self.multirocket = MultiRocket(random_state=seed) if multirocket else None
        self.n_hydra = 0

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        with torch_threads_kept():  # aeon's Hydra sets torch's thread count for the whole process
            parts = [np.asarray(self.hydra.fit_transform(X))]
        self.n_hydra = parts[0].shape[1]
        if self.multirocket is not None:
            parts.append(np.asarray(self.multirocket.fit_transform(X)))
        return np.concatenate(parts, axis=1)

    def transform(self, X: np.ndarray) -> np.ndarray:
        with torch_threads_kept():
            parts = [np.asarray(self.hydra.transform(X))]
        if self.multirocket is not None:
            parts.append(np.asarray(self.multirocket.transform(X)))
        return np.concatenate(parts, axis=1)


@contextmanager
def torch_threads_kept():
    """Restore torch's intra-op thread count after the block."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class HydraScaler:
    """Hydra's sparse scaler on its count columns (as aeon's: square root of the clamped counts,
    minus their mean, divided by their std + (share of zeros)^4, zeros kept at 0), a standard
    scaler on MultiRocket's columns (when present)."""

    def __init__(self, n_hydra: int):
        self.n_hydra = n_hydra
        self.mu = self.sigma = None
        self.dense = None

    def fit(self, features: np.ndarray) -> "HydraScaler":
        # lazy: only MultiRocket-Hydra needs a standard scaler
        from sklearn.preprocessing import StandardScaler

        root = np.sqrt(np.clip(features[:, :self.n_hydra], 0, None))
        epsilon = (root == 0).mean(0) ** 4 + 1e-8
        self.mu = root.mean(0)
        self.sigma = root.std(0, ddof=1) + epsilon if len(root) > 1 else np.ones(root.shape[1]) + epsilon
        if features.shape[1] > self.n_hydra:
            self.dense = StandardScaler().fit(features[:, self.n_hydra:])
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        root = np.sqrt(np.clip(features[:, :self.n_hydra], 0, None))
        parts = [((root - self.mu) * (root != 0)) / self.sigma]
        if self.dense is not None:
            parts.append(self.dense.transform(features[:, self.n_hydra:]))
        return np.concatenate(parts, axis=1)


class HydraClassifier(ConvolutionFeatureBaseline):
    """fit(X (N, C, T), y) / predict_proba(X) -> (N, L); sklearn-like, picklable with joblib."""

    def make_transform(self) -> HydraFeatures:
        return HydraFeatures(self.config.n_kernels, self.config.n_groups, self.config.multirocket, self.seed)

    def make_scaler(self) -> HydraScaler:
        return HydraScaler(self.transform.n_hydra)
