"""Models: the VQShape branch, MMVQShape, the fitted baselines, and the task registry.

Every trainable model is a *task* (the protocol in ``task.py``): ``task(batch) -> outputs``
with ``outputs["loss"]``, ``num_codes()``, ``resolved_config()`` and the explanation hooks.
:func:`build_task` is the one place that maps a model name to its class, so the trainer
knows no model by name; :func:`build_baseline` does the same for the baselines fitted in one
call (no gradient, no checkpoints: MiniRocket, the summary-feature logistic regression).
Models do no I/O and raise ``ValueError`` for what they cannot use.
"""

from __future__ import annotations

from typing import Any

from .config_keys import field_names
from .hydra import HydraClassifier, HydraConfig
from .minirocket import MiniRocketClassifier, MiniRocketConfig
from .mmvqshape import MMVQShapeConfig, MMVQShapeTask
from .mmvqshape_tokens import TokenMMVQShapeTask, TokenTextConfig
from .plan import PlanConfig, PlanTask
from .shape_tokens import ShapeTokensConfig
from .shape_tokens_task import ShapeTokensTask, TokenHeadConfig
from .summary_lr import SummaryLRClassifier, SummaryLRConfig
from .task import Task
from .vqshape import VQShapeConfig
from .vqshape_task import TASK_KEYS, VQShapeTask

TASKS = ("vqshape", "mmvqshape", "shape-tokens")
__all__ = ["MMVQShapeTask", "PlanTask", "ShapeTokensTask", "Task", "TokenMMVQShapeTask", "VQShapeTask", "TASKS",
           "ARCHITECTURES", "build_task"]

#: ``mmvqshape``'s architectures (``--architecture``): ``bag`` (mmvqshape_tokens.py, the default),
#: ``plan`` (plan/), and ``legacy-fusion``, the plan's first design on VQShape's learned tokenizer
#: (mmvqshape.py), kept to load and bench old run folders and never chosen by another flag.
ARCHITECTURES = ("bag", "plan", "legacy-fusion")
DEFAULT_ARCHITECTURE = "bag"
#: Older names still read from config.yaml files and bench rows.
ARCHITECTURE_ALIASES = {"tokens": "bag", "fusion": "legacy-fusion"}

#: Baselines fitted in one call on the training windows: name -> (config class, model class).
#: Each model has ``fit(X (N, C, T), y)``, ``predict_proba`` / ``predict`` and the task protocol.
BASELINES: dict[str, tuple[type, type]] = {
    "minirocket": (MiniRocketConfig, MiniRocketClassifier),
    "summary-lr": (SummaryLRConfig, SummaryLRClassifier),
    "hydra": (HydraConfig, HydraClassifier),
}


def mmvqshape_architecture(cfg: dict[str, Any]) -> str:
    """The architecture ``cfg`` names (``architecture``, old names mapped by :data:`ARCHITECTURE_ALIASES`).

    Without the key: ``legacy-fusion`` for a config.yaml written before the key existed by the
    fusion design (it sets a VQShape or fusion key only that design has), else the default."""
    if "architecture" in cfg:
        name = str(cfg["architecture"])
        name = ARCHITECTURE_ALIASES.get(name, name)
        if name not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {cfg['architecture']!r}; choose one of {', '.join(ARCHITECTURES)}")
        return name
    own_keys = field_names(ShapeTokensConfig, TokenHeadConfig, TokenTextConfig, PlanConfig)
    fusion_keys = field_names(VQShapeConfig, MMVQShapeConfig) | set(TASK_KEYS)
    return "legacy-fusion" if set(cfg) & (fusion_keys - own_keys) else DEFAULT_ARCHITECTURE


def build_task(
    name: str,
    cfg: dict[str, Any],
    *,
    n_channels: int,
    length: int,
    n_classes: int,
    text_dim: int | None = None,
) -> Task:
    """Build the task module named ``name`` from a plain config dict."""
    if name == "vqshape":
        return VQShapeTask.build(cfg, n_channels=n_channels, length=length, n_classes=n_classes)
    if name == "shape-tokens":
        return ShapeTokensTask.build(cfg, n_channels=n_channels, length=length, n_classes=n_classes)
    if name == "mmvqshape":
        if text_dim is None:
            raise ValueError("mmvqshape needs text_dim (the sub-action embedding size)")
        architecture = mmvqshape_architecture(cfg)
        own = {**{k: v for k, v in cfg.items() if k != "architecture"}}
        sizes = dict(n_channels=n_channels, length=length, n_classes=n_classes, text_dim=text_dim)
        if architecture == "bag":  # the default: a head on bags of shape tokens, sub-actions placed by segment
            return TokenMMVQShapeTask.build({**own, "architecture": "bag"}, **sizes)
        if architecture == "plan":  # the plan's model on shape tokens (plan/)
            return PlanTask.build({**own, "architecture": "plan"}, **sizes)
        return MMVQShapeTask.build(own, **sizes)  # legacy-fusion: the plan's first design (mmvqshape.py)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(TASKS)}")


def build_baseline(name: str, cfg: dict[str, Any], *, n_classes: int, seed: int = 0):
    """An unfitted baseline named ``name`` (a key of :data:`BASELINES`) from a plain config dict
    (``objective`` / ``channels`` are ignored; other unknown keys raise ``ValueError``)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    config_class, model_class = BASELINES[name]
    return model_class(config_class.from_dict(cfg), n_classes=n_classes, seed=seed)
