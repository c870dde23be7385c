"""What the fitted baselines (``minirocket.py``, ``summary_lr.py``) share: the task protocol
(``task.py``) on top of ``predict_proba``, and reading their config from a trainer config.

A fitted baseline learns in one call, ``fit(X (N, C, T), y)``, with no gradient and no
codebook; a subclass gives ``fit`` and ``predict_proba``, and its config is a dataclass with
``to_dict``. It is sklearn-like and picklable with joblib.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import torch

from .config_keys import field_names, reject_unknown_keys
from .task import SignalOnly

#: Keys of the trainer's model config that a baseline's config may hold and ignores.
RUN_KEYS = ("objective", "channels")


def baseline_config_values(config_class: type, cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """The keys of ``cfg`` that are fields of ``config_class``; :data:`RUN_KEYS` are dropped and
    any other key is a ``ValueError`` ("unknown <name> config keys: ...")."""
    known = field_names(config_class)
    reject_unknown_keys(cfg, known | set(RUN_KEYS), f"{name} config keys")
    return {k: v for k, v in cfg.items() if k in known}


def probabilities_of_every_class(part: np.ndarray, seen_classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities ``part`` (N, classes seen in training) -> (N, n_classes) in class-index
    order, 0 for a class unseen in training."""
    proba = np.zeros((len(part), n_classes))
    proba[:, seen_classes] = part
    return proba


class FittedBaseline(SignalOnly):
    """The task protocol of a baseline fitted in one call (see the module docstring)."""

    def __init__(self, config: Any, n_classes: int, seed: int = 0):
        self.config = config
        self.n_classes = n_classes
        self.seed = seed

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, n_classes) probabilities of windows ``X`` (N, C, T) in class-index order."""
        raise NotImplementedError

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


def ridge_alphas() -> tuple[float, ...]:
    """The regularisation grid of the convolution baselines' ridge (aeon's: 10 values from 1e-3 to 1e3)."""
    return tuple(float(a) for a in np.logspace(-3, 3, 10))


class AlphasConfig:
    """What the convolution baselines' configs share: built from a plain dict (unknown keys
    rejected under ``baseline_name``), the ridge ``alphas`` a tuple inside and a list in YAML."""

    baseline_name: ClassVar[str]

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]):
        values = baseline_config_values(cls, cfg, cls.baseline_name)
        if "alphas" in values:
            values["alphas"] = tuple(float(a) for a in values["alphas"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["alphas"] = [float(a) for a in out["alphas"]]
        return out


class ConvolutionFeatureBaseline(FittedBaseline):
    """Random-convolution features (MiniRocket, Hydra: ``make_transform``), a scaler
    (``make_scaler``) and a linear classifier: ``RidgeClassifierCV`` (its regularisation chosen by
    leave-one-out on the training windows only) or a logistic regression (``config.classifier``).
    Ridge probabilities are the softmax of its decision function (documented approximation; the
    argmax is the prediction)."""

    def __init__(self, config: Any, n_classes: int, seed: int = 0):
        super().__init__(config, n_classes, seed)
        self.transform = None
        self.scaler = None
        self.classifier = None

    def make_transform(self):
        """An unfitted aeon collection transformer (fit_transform / transform on (N, C, T))."""
        raise NotImplementedError

    def make_scaler(self):
        """An unfitted scaler of the features (fit / transform)."""
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray) -> "ConvolutionFeatureBaseline":
        # lazy: sklearn's linear models are only needed once a baseline is fitted
        from sklearn.linear_model import LogisticRegression, RidgeClassifierCV

        self.transform = self.make_transform()
        features = np.asarray(self.transform.fit_transform(np.asarray(X, dtype=np.float32)))  # (N, F)
        self.scaler = self.make_scaler().fit(features)
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
        if self.classifier is None:
            raise ValueError("fit the baseline before predicting")
        features = self.scaler.transform(np.asarray(self.transform.transform(np.asarray(X, dtype=np.float32))))
        if self.config.classifier == "ridge":
            scores = self.classifier.decision_function(features)
            if scores.ndim == 1:  # two classes: sklearn gives one score column
                scores = np.stack([-scores, scores], axis=1)
            scores = scores - scores.max(1, keepdims=True)
            part = np.exp(scores)
            part /= part.sum(1, keepdims=True)
        else:
            part = self.classifier.predict_proba(features)
        return probabilities_of_every_class(part, self.classifier.classes_, self.n_classes)
