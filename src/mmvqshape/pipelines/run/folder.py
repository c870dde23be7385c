"""A run folder's layout, and reading a run back.

Run folder (design.md): ``config.yaml`` (resolved), ``checkpoints/`` (``holdout``:
``best.ckpt`` chosen on validation and ``last.ckpt``; ``refit``, the default: ``last.ckpt``, the
weights refitted on training + validation, with the selection run in ``selection/`` and what it
chose in ``selection.json``), ``logs/``, ``metrics.json``, ``predictions.csv``,
``timing.json`` (and ``model.joblib`` / ``probe.joblib`` for MiniRocket / a probe).
``train`` prepares one (:mod:`.prepare`); ``evaluate``, ``explain`` and ``tokenize`` read
one back (:func:`read_run`, :func:`find_checkpoint`).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import UserError
from ...training.config import TrainConfig, read_run_config

CONFIG = "config.yaml"
CHECKPOINTS = "checkpoints"
CHECKPOINT_ORDER = ("best.ckpt", "last.ckpt")  # best on validation, else the latest epoch
RUN_FILES = (CONFIG, "metrics.json", "predictions.csv", "timing.json", "model.joblib", "probe.joblib", "selection.json")
RUN_FOLDERS = (CHECKPOINTS, "logs", "selection")  # selection/: the refit protocol's selection run (training/refit.py)


def read_run(run: Path) -> TrainConfig:
    """The resolved config of run folder ``run`` (a :class:`UserError` when it is not one)."""
    if not (run / CONFIG).is_file():
        raise UserError(run, f"is not a run folder (no {CONFIG})")
    return read_run_config(run / CONFIG)


def find_checkpoint(run: Path) -> Path:
    """``RUN/checkpoints/best.ckpt``, else ``last.ckpt`` (a clear error when neither exists)."""
    if not (run / CONFIG).is_file():
        raise UserError(run, f"is not a run folder (no {CONFIG})")
    for name in CHECKPOINT_ORDER:
        if (run / CHECKPOINTS / name).is_file():
            return run / CHECKPOINTS / name
    raise UserError(run / CHECKPOINTS, "holds no checkpoint (best.ckpt or last.ckpt)")
