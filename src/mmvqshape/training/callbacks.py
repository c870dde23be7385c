"""Checkpointing and logging for a run folder: ``checkpoints/`` and ``logs/`` (CSV + TensorBoard)."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger


def monitor_for(objective: str) -> tuple[str, str]:
    """What selects the best checkpoint: validation accuracy (ties: lower loss) to classify,
    the validation reconstruction R² (pooled as ``metrics.json``'s ``reconstruction.r2``) to
    pre-train — the weighted loss mixes terms whose scale moves as training goes on."""
    return ("val/select", "max") if objective == "classify" else ("val/r2", "max")


def build_callbacks(checkpoint_dir: Path, objective: str) -> tuple[ModelCheckpoint, list[Callback]]:
    """``last.ckpt`` after every epoch (what ``--resume`` continues from) and ``best.ckpt`` on
    the validation metric; returns ``(best_callback, all_callbacks)``.

    Two callbacks, because Lightning's ``save_last`` only refreshes ``last.ckpt`` on epochs
    that also produced a new best checkpoint.
    """
    monitor, mode = monitor_for(objective)
    best = ModelCheckpoint(
        dirpath=str(checkpoint_dir), filename="best", monitor=monitor, mode=mode, save_top_k=1,
        save_last=False, auto_insert_metric_name=False, enable_version_counter=False,
    )
    last = ModelCheckpoint(
        dirpath=str(checkpoint_dir), filename="last", monitor=None, save_top_k=1,
        save_last=False, auto_insert_metric_name=False, enable_version_counter=False,
    )
    return best, [best, last]


def build_loggers(log_dir: Path) -> list:
    """CSV (``logs/csv/metrics.csv``) and TensorBoard (``logs/tensorboard``) loggers."""
    loggers = [CSVLogger(save_dir=str(log_dir), name="csv", version="")]
    try:
        loggers.append(TensorBoardLogger(save_dir=str(log_dir), name="tensorboard", version="", default_hp_metric=False))
    except ModuleNotFoundError:  # pragma: no cover - tensorboard is a dependency
        pass
    return loggers


def build_refit_callbacks(checkpoint_dir: Path) -> tuple[ModelCheckpoint, list[Callback]]:
    """The refit run's callbacks (no validation): ``last.ckpt`` after every training epoch, which
    is what ``--resume`` continues from and, once the refit ends, the run's final weights."""
    last = ModelCheckpoint(
        dirpath=str(checkpoint_dir), filename="last", monitor=None, save_top_k=1, save_last=False,
        auto_insert_metric_name=False, enable_version_counter=False, save_on_train_epoch_end=True,
    )
    return last, [last]
