"""Models: the VQShape branch, MMVQShape, and the task registry the trainer builds from.

Every trainable model is a *task*: ``task(batch) -> outputs`` with ``outputs["loss"]``
(see each model file for the keys). :func:`build_task` is the one place that maps a model
name to its class, so the trainer knows no model by name.
"""

from __future__ import annotations

from typing import Any

TASKS = ("vqshape", "mmvqshape")


def build_task(
    name: str,
    cfg: dict[str, Any],
    *,
    n_channels: int,
    length: int,
    n_classes: int,
    text_dim: int | None = None,
):
    """Build the task module named ``name`` from a plain config dict."""
    if name == "vqshape":
        from .vqshape import VQShapeTask

        return VQShapeTask.build(cfg, n_channels=n_channels, length=length, n_classes=n_classes)
    if name == "mmvqshape":
        from .mmvqshape import MMVQShapeTask

        if text_dim is None:
            raise ValueError("mmvqshape needs text_dim (the sub-action embedding size)")
        return MMVQShapeTask.build(cfg, n_channels=n_channels, length=length, n_classes=n_classes, text_dim=text_dim)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(TASKS)}")
