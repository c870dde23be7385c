"""A run folder: its files, its config, its checkpoint, and the data and text it was trained on.

Run folder (design.md): ``config.yaml`` (resolved), ``checkpoints/`` (``best.ckpt`` chosen
on validation, ``last.ckpt``), ``logs/``, ``metrics.json``, ``predictions.csv``,
``timing.json`` (and ``model.joblib`` / ``probe.joblib`` for MiniRocket / a probe).
``train`` prepares one (:func:`prepare_run_folder`); ``evaluate``, ``explain`` and
``tokenize`` read one back (:func:`read_run`, :func:`find_checkpoint`, :func:`load_data`,
:func:`load_text`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import UserError
from ..labels import normalize_label, same_labels
from ..signals import load_windows
from ..text.embeddings import EmbeddingSet, load_embeddings
from ..text.encoders import embed_corpus
from ..training.checkpoint import load_task, read_checkpoint
from ..training.config import TrainConfig, read_run_config
from .vqshape_convert import load_vqshape

CONFIG = "config.yaml"
CHECKPOINTS = "checkpoints"
CHECKPOINT_ORDER = ("best.ckpt", "last.ckpt")  # best on validation, else the latest epoch
RUN_FILES = (CONFIG, "metrics.json", "predictions.csv", "timing.json", "model.joblib", "probe.joblib")
# Keys that may change between a run and its resumption without changing its numbers.
RUNTIME_KEYS = {"progress", "num_workers", "devices", "accelerator", "strategy", "num_nodes", "probe"}


# ------------------------------------------------------------------------- reading a run
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


def check_same_labels(windows, labels: Sequence[str], where: str | Path) -> None:
    """A :class:`UserError` unless ``windows`` has the run's ``labels`` (compared by :func:`normalize_label`)."""
    if not same_labels(windows.labels, labels):
        raise UserError(where, f"labels {list(windows.labels)} differ from the run's {list(labels)}")


# --------------------------------------------------------------------------------- inputs
def load_data(cfg: TrainConfig, data: str | None = None):
    """The windows a run trains and is scored on (split fixed by the run's seed)."""
    return load_windows(data or cfg.data, channels=cfg.data_channels, seed=cfg.seed, val_fraction=cfg.val_fraction)


#: Models whose tokens are shapes (explain and tokenize read them).
SHAPE_MODELS = ("vqshape", "mmvqshape", "shape-tokens")


def load_shape_run(run: Path, checkpoint: Path, cfg: TrainConfig, data: str | None, command: str):
    """``(task, info, windows, labels)`` of a VQShape or MMVQShape run scored on ``data``
    (default: the run's own), with the run's labels checked; ``command`` names the caller in errors."""
    if cfg.model_name not in SHAPE_MODELS:
        raise UserError(run, f"{command} needs a {' or '.join(SHAPE_MODELS)} run, this one is {cfg.model_name}")
    task, info = load_task(checkpoint)
    windows = load_data(cfg, data)
    labels = list(info["labels"])
    check_same_labels(windows, labels, data or cfg.data)
    return task, info, windows, labels


def load_text(corpus: str, encoder: str = "minilm", view: str | None = None) -> EmbeddingSet:
    """An :class:`EmbeddingSet` from an embedding folder (has ``index.json``) or a corpus."""
    path = Path(corpus)
    if path.is_dir():
        return load_embeddings(path)  # names the missing file when it is not an embedding folder
    kwargs: dict[str, Any] = {"encoder": encoder}
    if view is not None:
        kwargs["view"] = view
    return embed_corpus(corpus, **kwargs)


def drop_label_sentences(embeddings: EmbeddingSet, labels: Sequence[str]) -> EmbeddingSet:
    """The same EmbeddingSet without the sub-action rows of ``labels`` (labels stay candidates)."""
    dropped = {normalize_label(n) for n in labels}
    drop_index = [i for i, name in enumerate(embeddings.labels) if normalize_label(name) in dropped]
    keep = ~np.isin(embeddings.owner, drop_index)
    return EmbeddingSet(
        embeddings.subactions[keep], embeddings.label_vectors, list(embeddings.labels), embeddings.owner[keep],
        [s for s, k in zip(embeddings.sentences, keep) if k], dict(embeddings.meta),
    )


# ---------------------------------------------------------------------- preparing a run
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
        for name in (CHECKPOINTS, "logs"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    return None


def resume_checkpoint(out: Path, resume: bool) -> Path | None:
    """What a DDP worker resumes from: ``last.ckpt`` when resuming (rank 0 checked the folder)."""
    last = out / CHECKPOINTS / "last.ckpt"
    return last if resume and last.is_file() else None


# ------------------------------------------------------------------ pre-trained weights
WEIGHTS_FILE = "vqshape.safetensors"  # what mmvq pretrain writes into its run folder
#: ``--init bundled``: a shape model shipped with the package (``make shapes-weights`` builds it:
#: mmvq pretrain on HAPT's and BasicMotions' training windows, 512 samples, default architecture)
BUNDLED_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "vqshape-hapt-basicmotions.safetensors"


def read_init_weights(init: str | Path):
    """The VQShape to start from: our ``.safetensors`` file (``mmvq pretrain`` or
    ``mmvq convert-vqshape``), a run folder holding one, a training checkpoint (``.ckpt``), or
    ``bundled`` (:data:`BUNDLED_WEIGHTS`)."""
    path = BUNDLED_WEIGHTS if str(init) == "bundled" else Path(init)
    if path.is_dir():
        if not (path / WEIGHTS_FILE).is_file():
            raise UserError(path, f"holds no {WEIGHTS_FILE} (a folder written by mmvq pretrain)")
        path = path / WEIGHTS_FILE
    if not path.is_file():
        raise UserError(path, "no such weights file")
    if path.suffix == ".ckpt":
        return load_task(path)[0].shape_model  # every trainer checkpoint holds a VQShape or MMVQShape
    return load_vqshape(path)


def apply_init(cfg: TrainConfig, model) -> None:
    """Make ``cfg`` build the architecture of ``model`` (a VQShape): its window length and
    every architecture field; a field the config sets differently is a :class:`UserError`."""
    arch = model.cfg.architecture()
    if cfg.length != arch["len_input"]:
        raise UserError("--init", f"{cfg.init} expects windows of {arch['len_input']} samples; pass --length {arch['len_input']}")
    clashes = sorted(k for k, v in arch.items() if k in cfg.model and cfg.model[k] != v)
    if clashes:
        raise UserError("--init", f"{cfg.init} was built with other {', '.join(clashes)} than the config sets")
    cfg.model = {**cfg.model, **arch}
