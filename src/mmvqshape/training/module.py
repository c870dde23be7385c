"""One LightningModule that trains any task following the model task protocol.

``task(batch) -> {"loss", "losses": {name: scalar}, "logits"?, "x_pred"?, ...}``. The module
adds the optimiser (AdamW), the schedule (linear warm-up then cosine), logging of every loss,
and validation accuracy, loss and reconstruction R² (``val/r2``, pooled over every validation
series as ``metrics.json``'s ``reconstruction.r2``). Gradient clipping and precision are the
Trainer's.
"""

from __future__ import annotations

import math
import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn

from .config import TrainConfig
from .shape_metrics import series_errors

CHECKPOINT_KEY = "mmvq"  # where the rebuild information lives inside a checkpoint


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear from ~0 to 1 over ``warmup`` steps, then cosine to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class TaskModule(pl.LightningModule):
    """Wraps ``task`` (an ``nn.Module`` following the task protocol) for the Trainer.

    ``build_info`` (model name, resolved config, sizes, labels) is stored in every
    checkpoint so that :func:`mmvqshape.training.checkpoint.load_task` can rebuild the task.
    """

    def __init__(self, task: nn.Module, cfg: TrainConfig, build_info: dict[str, Any]):
        super().__init__()
        self.task = task
        self.cfg = cfg
        self.build_info = build_info

    # -- steps ---------------------------------------------------------------------------
    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        return self.task(batch)

    def _log_losses(self, prefix: str, out: dict[str, Any], labels: torch.Tensor, on_step: bool) -> None:
        sync = self.trainer.world_size > 1
        n = labels.shape[0]
        self.log(f"{prefix}/loss", out["loss"].detach().float(), batch_size=n, on_step=on_step, on_epoch=True, prog_bar=True, sync_dist=sync)
        for name, value in out.get("losses", {}).items():
            self.log(f"{prefix}/{name}", torch.as_tensor(value).detach().float(), batch_size=n, on_step=on_step, on_epoch=True, sync_dist=sync)
        if out.get("logits") is not None:
            acc = (out["logits"].detach().argmax(-1) == labels).float().mean()
            self.log(f"{prefix}/acc", acc, batch_size=n, on_step=False, on_epoch=True, prog_bar=True, sync_dist=sync)

    def on_train_batch_start(self, batch: dict[str, Any], batch_idx: int) -> None:
        """The shape model's warm-up (``shape_warmup_steps``) counts the run's optimiser steps, a
        resumed run's included: its step counter restarts from the trainer's, not from 0."""
        shape_model = getattr(self.task, "shape_model", None)  # VQShape and MMVQShape tasks have one
        if shape_model is not None:
            shape_model.train_steps = self.global_step

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self.task(batch)
        self._log_losses("train", out, batch["label"], on_step=True)
        return out["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self.task(batch)
        self._log_losses("val", out, batch["label"], on_step=False)
        if out.get("logits") is not None:
            n = batch["label"].shape[0]
            correct = (out["logits"].detach().argmax(-1) == batch["label"]).sum().float()
            self._val_sums += torch.stack([correct, torch.tensor(float(n), device=correct.device), out["loss"].detach().float() * n])
        if out.get("x_pred") is not None:
            sse, ss = series_errors(batch["signal"], out["x_pred"])  # (B, C) each: one per series
            self._val_r2_sums += np.array([sse.sum(), ss.sum()])

    def on_validation_epoch_start(self) -> None:
        self._val_sums = torch.zeros(3, device=self.device)
        self._val_r2_sums = np.zeros(2)  # summed squared error, summed squares around each series' mean

    def on_validation_epoch_end(self) -> None:
        """``val/select`` = accuracy - 0.001 * loss: accuracy, ties (frequent on a small
        validation split) broken by the lower loss; ``val/r2`` = 1 - Σ SSE / Σ SS over every
        validation series. The best checkpoint is chosen on one of them (``callbacks.monitor_for``)."""
        sums = self.trainer.strategy.reduce(self._val_sums, reduce_op="sum")
        if float(sums[1]) > 0:
            self.log("val/select", sums[0] / sums[1] - 1e-3 * sums[2] / sums[1], on_epoch=True)
        sse, ss = self.trainer.strategy.reduce(torch.tensor(self._val_r2_sums, device=self.device, dtype=torch.float32),
                                               reduce_op="sum")
        if float(ss) > 0:
            self.log("val/r2", 1.0 - sse / ss, on_epoch=True, prog_bar=True)

    # -- reproducibility -----------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        """Reseed every RNG from (seed, epoch): a resumed run draws what an unbroken one drew."""
        seed = (self.cfg.seed * 1_000_003 + self.current_epoch * 7919 + self.global_rank) % (2**31)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    # -- optimisation --------------------------------------------------------------------
    def configure_optimizers(self):
        decay, no_decay = [], []
        for name, param in self.task.named_parameters():
            if not param.requires_grad:
                continue
            (no_decay if param.ndim < 2 or name.endswith(".bias") else decay).append(param)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.cfg.lr,
        )
        # the schedule spans cfg.max_epochs even when the trainer stops earlier (a refit run
        # trains the epochs validation chose: its weights see the schedule the chosen checkpoint saw)
        per_epoch = max(1, int(self.trainer.estimated_stepping_batches) // max(1, int(self.trainer.max_epochs)))
        total = per_epoch * max(1, self.cfg.max_epochs)
        warmup = self.cfg.warmup_steps if self.cfg.warmup_steps > 0 else int(round(self.cfg.warmup_epochs * per_epoch))
        warmup = min(warmup, max(0, total - 1))
        ratio = self.cfg.min_lr_ratio
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total, ratio))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # -- checkpoints ---------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = dict(self.build_info)
