"""Preparing a run folder for ``mmvq train``: checked, cleared or resumed, by one process only.

Under DDP every rank runs the command; only global rank 0 (:func:`prepares_run_folder`)
checks and clears the folder (:func:`prepare_run_folder`), the others only find what to
resume from (:func:`resume_checkpoint`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Mapping

from ...errors import UserError
from ...training.checkpoint import read_checkpoint
from ...training.config import TrainConfig, read_run_config
from .folder import CHECKPOINTS, CONFIG, RUN_FILES, RUN_FOLDERS

# Keys that may change between a run and its resumption without changing its numbers.
RUNTIME_KEYS = {"progress", "num_workers", "devices", "accelerator", "strategy", "num_nodes", "probe"}


def prepares_run_folder(env: Mapping[str, str] = os.environ) -> bool:
    """True in the one process that checks, clears and writes the run folder: global rank 0.

    The launcher's variables say which process this is: ``RANK`` (torchrun, Lightning's DDP
    workers) or ``SLURM_PROCID`` when set; otherwise ``NODE_RANK`` and ``LOCAL_RANK``, so that
    on a second node the process the user started (local rank 0) leaves the folder alone.
    """
    for name in ("RANK", "SLURM_PROCID"):
        if env.get(name, "").strip():
            return int(env[name]) == 0
    node = env.get("NODE_RANK", "").strip() or env.get("GROUP_RANK", "").strip() or "0"
    return int(node) == 0 and int(env.get("LOCAL_RANK", "").strip() or 0) == 0


def _comparable(cfg_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cfg_dict.items() if k not in RUNTIME_KEYS}


def prepare_run_folder(out: Path, cfg: TrainConfig, resume: bool) -> Path | None:
    """Check ``out`` and return the checkpoint to resume from (or None).

    A folder holding another run, or anything that is not a run, is a :class:`UserError`.
    The same run without ``--resume`` starts again from scratch. Only the process the user
    started calls this (DDP workers use :func:`resume_checkpoint`).
    """
    if out.exists() and not out.is_dir():
        raise UserError(out, "exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return None
    existing = out / CONFIG
    if not existing.is_file():
        raise UserError(out, f"is not empty and holds no run (no {CONFIG}); choose another --out")
    try:
        old = read_run_config(existing)
    except UserError:
        raise UserError(existing, "is not a readable run config; choose another --out") from None
    old_d, new_d = _comparable(old.to_dict()), _comparable(cfg.to_dict())
    if old_d != new_d:
        differs = sorted(k for k in set(old_d) | set(new_d) if old_d.get(k) != new_d.get(k))
        raise UserError(out, f"already holds a different run ({', '.join(differs)} differ); choose another --out")
    last = out / CHECKPOINTS / "last.ckpt"
    if resume and last.is_file():
        read_checkpoint(last)  # corrupt or foreign: a clear error before Lightning sees it
        return last
    if not resume:  # the same run again from scratch: clear what the previous attempt left
        for name in RUN_FOLDERS:
            shutil.rmtree(out / name, ignore_errors=True)
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    return None


def resume_checkpoint(out: Path, resume: bool) -> Path | None:
    """What a DDP worker resumes from: ``last.ckpt`` when resuming (rank 0 checked the folder)."""
    last = out / CHECKPOINTS / "last.ckpt"
    return last if resume and last.is_file() else None
