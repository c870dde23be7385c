"""Checkpoints: written atomically, read back with a clear error for a corrupt or foreign file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from .. import models
from ..errors import UserError
from .module import CHECKPOINT_KEY


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary sibling and renames it into place, so a kill never leaves half a file."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a checkpoint is an ordinary file
        try:
            torch.save(checkpoint, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint written by ``mmvq train``; anything else is a :class:`UserError`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(path, "no such checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # no code from a foreign file
    except Exception as err:  # noqa: BLE001 - any unreadable file is the user's problem here
        raise UserError(path, f"is not a readable checkpoint ({type(err).__name__})") from None
    if not isinstance(checkpoint, dict) or CHECKPOINT_KEY not in checkpoint or "state_dict" not in checkpoint:
        raise UserError(path, "is not an mmvq training checkpoint")
    return checkpoint


def task_state_dict(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The task's own weights (the LightningModule stores them under ``task.``)."""
    return {k[len("task."):]: v for k, v in checkpoint["state_dict"].items() if k.startswith("task.")}


def load_task(path: str | Path):
    """Rebuild the task saved in a checkpoint: returns ``(task in eval mode, build_info)``."""
    checkpoint = read_checkpoint(path)
    info = checkpoint[CHECKPOINT_KEY]
    try:
        task = models.build_task(
            info["model_name"], dict(info["model_cfg"]),
            n_channels=info["n_channels"], length=info["length"], n_classes=len(info["labels"]), text_dim=info.get("text_dim"),
        )
        task.load_state_dict(task_state_dict(checkpoint), strict=True)
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise UserError(path, f"does not match the model it names ({str(err).splitlines()[0][:200]})") from None
    task.eval()
    info = {**info, "epoch": checkpoint.get("epoch")}
    return task, info
