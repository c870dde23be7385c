"""``mmvq train``: one run folder from windows (+ a corpus) and a config.

Run folder (design.md): ``config.yaml`` (resolved), ``checkpoints/`` (``last.ckpt`` and
``best.ckpt``, best on the validation split), ``logs/`` (CSV + TensorBoard),
``metrics.json`` and ``predictions.csv`` (test split, scored once with the best checkpoint),
``timing.json``. Notebook use::

    from mmvqshape.pipelines.train import train
    from mmvqshape.training.config import merge_config
    result = train(merge_config({"data": "basicmotions", "max_epochs": 5}), "runs/vq")
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import ensure_folder, write_json
from ..errors import UserError
from ..training.config import TrainConfig, read_run_config, save_config

# Keys that may change between a run and its resumption without changing its numbers.
_RUNTIME_KEYS = {"progress", "num_workers", "devices", "accelerator", "strategy", "num_nodes", "probe"}
RUN_FILES = ("config.yaml", "metrics.json", "predictions.csv", "timing.json", "model.joblib", "probe.joblib")


# ---------------------------------------------------------------------------------- inputs
def load_data(cfg: TrainConfig, data: str | None = None):
    """The windows a run trains and is scored on (split fixed by the run's seed)."""
    from ..signals import load_windows

    return load_windows(data or cfg.data, channels=cfg.data_channels, seed=cfg.seed, val_fraction=cfg.val_fraction)


def load_text(corpus: str, encoder: str = "minilm", view: str | None = None):
    """An :class:`EmbeddingSet` from an embedding folder (has ``index.json``) or a corpus."""
    from ..text.embeddings import load_embeddings

    path = Path(corpus)
    if path.is_dir() and (path / "index.json").is_file():
        return load_embeddings(path)
    if path.is_dir():
        return load_embeddings(path)  # names the missing file
    try:
        from ..text.encoders import embed_corpus
    except ImportError:  # pragma: no cover - the text layer ships it
        raise UserError(corpus, "embedding a corpus needs mmvqshape.text.encoders; pass an embedding folder") from None
    kwargs: dict[str, Any] = {"encoder": encoder}
    if view is not None:
        kwargs["view"] = view
    return embed_corpus(corpus, **kwargs)


def drop_label_sentences(embeddings, labels):
    """The same EmbeddingSet without the sub-action rows of ``labels`` (labels stay candidates)."""
    from ..text.embeddings import EmbeddingSet

    dropped = {" ".join(str(n).split()).casefold() for n in labels}
    drop_index = [i for i, name in enumerate(embeddings.labels) if " ".join(name.split()).casefold() in dropped]
    keep = ~np.isin(embeddings.owner, drop_index)
    return EmbeddingSet(
        embeddings.subactions[keep], embeddings.label_vectors, list(embeddings.labels), embeddings.owner[keep],
        [s for s, k in zip(embeddings.sentences, keep) if k], dict(embeddings.meta),
    )


# ------------------------------------------------------------------------------ run folder
def _comparable(cfg_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cfg_dict.items() if k not in _RUNTIME_KEYS}


def prepare_run_folder(out: Path, cfg: TrainConfig, resume: bool) -> Path | None:
    """Check ``out`` and return the checkpoint to resume from (or None).

    A folder holding another run, or anything that is not a run, is a :class:`UserError`.
    The same run without ``--resume`` starts again from scratch.
    """
    if out.exists() and not out.is_dir():
        raise UserError(out, "exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return None
    existing = out / "config.yaml"
    if not existing.is_file():
        raise UserError(out, "is not empty and holds no run (no config.yaml); choose another --out")
    try:
        old = read_run_config(existing)
    except UserError:
        raise UserError(existing, "is not a readable run config; choose another --out") from None
    old_d, new_d = _comparable(old.to_dict()), _comparable(cfg.to_dict())
    if old_d != new_d:
        differs = sorted(k for k in set(old_d) | set(new_d) if old_d.get(k) != new_d.get(k))
        raise UserError(out, f"already holds a different run ({', '.join(differs)} differ); choose another --out")
    last = out / "checkpoints" / "last.ckpt"
    if resume and last.is_file():
        from ..training.checkpoint import read_checkpoint

        read_checkpoint(last)  # corrupt or foreign: a clear error before Lightning sees it
        return last
    if not resume:  # the same run again from scratch: clear what the previous attempt left
        for name in ("checkpoints", "logs"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    return None


# ------------------------------------------------------------------------------- training
def build_run_task(cfg: TrainConfig, windows, text_dim: int | None):
    """Build the task and fold its resolved model config back into ``cfg.model``."""
    from ..models import build_task

    try:
        task = build_task(cfg.model_name, dict(cfg.model), n_channels=windows.n_channels, length=cfg.length,
                          n_classes=len(windows.labels), text_dim=text_dim)
    except (ValueError, TypeError) as err:
        raise UserError("model config", str(err)) from None
    resolved = task.resolved_config()
    cfg.model = {**resolved, **{k: v for k, v in cfg.model.items() if k not in resolved}}
    return task


def install_text(task, embeddings, codebook=None, *, seed: int = 0) -> None:
    """Give an MMVQShape task its label candidates and action codebook from the training corpus.

    ``codebook``: an :class:`mmvqshape.analysis.codebook.ActionCodebook`, a codebook folder
    (``mmvq analyze codebook``'s output), or None to select one from ``embeddings`` with the
    default method. The model only receives tensors and sentences.
    """
    from ..analysis import codebook as cb

    task.set_label_candidates(embeddings.labels, embeddings.label_vectors)
    if not task.uses_text:
        return
    if codebook is None:
        codebook = cb.select_codebook(embeddings, cb.DEFAULT_METHOD, None, seed=seed)
    elif not isinstance(codebook, cb.ActionCodebook):
        codebook = cb.load_codebook(codebook)
    cb.check_codebook_dim(codebook, task.text_dim)
    try:
        task.set_action_codebook(codebook.vectors, codebook.sentences, codebook.source_labels)
    except ValueError as err:
        raise UserError("codebook", str(err)) from None


def train(cfg: TrainConfig, out: str | Path, *, resume: bool = False) -> dict[str, Any]:
    """Train ``cfg`` into run folder ``out``; returns ``{"out", "metrics", "best_checkpoint"}``.

    Test data chooses nothing: the checkpoint is the best on validation (accuracy when the
    objective classifies, loss when it pre-trains); the test split is scored once after.
    """
    cfg.validate()
    out = Path(out)
    if cfg.model_name == "minirocket":
        return train_minirocket(cfg, out, resume=resume)

    import lightning.pytorch as pl
    import torch

    from ..training.callbacks import build_callbacks, build_loggers
    from ..training.checkpoint import AtomicCheckpointIO
    from ..training.config import resolve_precision
    from ..training.data import TextTable, WindowDataModule
    from ..training.module import TaskModule

    _quiet_lightning(cfg.progress)
    started = time.time()
    windows = load_data(cfg)
    train_text = eval_text = train_embeddings = embeddings = None
    if cfg.model_name == "mmvqshape":
        embeddings = load_text(cfg.corpus, cfg.encoder, cfg.view)
        train_embeddings = drop_label_sentences(embeddings, cfg.holdout_labels) if cfg.holdout_labels else embeddings
        train_text = TextTable.build(embeddings, windows.labels, where=str(cfg.corpus), drop=cfg.holdout_labels)
        eval_text = TextTable.build(embeddings, windows.labels, where=str(cfg.corpus))

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    task = build_run_task(cfg, windows, eval_text.dim if eval_text is not None else None)
    if train_embeddings is not None:
        install_text(task, train_embeddings, cfg.codebook, seed=cfg.seed)  # action codebook from the training corpus only
    if _launching_rank():
        resume_from = prepare_run_folder(out, cfg, resume)
    else:  # a DDP worker started by the launcher: the folder is rank 0's to check and clear
        last = out / "checkpoints" / "last.ckpt"
        resume_from = last if resume and last.is_file() else None
    ensure_folder(out, what="run folder")

    datamodule = WindowDataModule(
        windows, length=cfg.length, normalize=cfg.normalize, batch_size=cfg.batch_size, seed=cfg.seed,
        num_workers=cfg.num_workers, holdout_labels=cfg.holdout_labels, train_text=train_text, eval_text=eval_text,
    )
    info = {
        "model_name": cfg.model_name, "model_cfg": dict(cfg.model), "n_channels": windows.n_channels,
        "length": cfg.length, "labels": list(windows.labels), "text_dim": eval_text.dim if eval_text is not None else None,
        "seed": cfg.seed, "scale": datamodule.scale,
    }
    module = TaskModule(task, cfg, info)
    checkpoint_cb, callbacks = build_callbacks(out / "checkpoints", cfg.objective)
    on_gpu = cfg.accelerator in ("gpu", "cuda") or (cfg.accelerator == "auto" and torch.cuda.is_available())
    trainer = pl.Trainer(
        max_epochs=cfg.max_epochs,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=_strategy(cfg.strategy),
        precision=resolve_precision(cfg.precision, cfg.accelerator),
        gradient_clip_val=cfg.grad_clip if cfg.grad_clip > 0 else None,
        deterministic=("warn" if on_gpu else True) if cfg.deterministic else False,
        callbacks=callbacks,
        logger=build_loggers(out / "logs"),
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        log_every_n_steps=max(1, min(50, len(datamodule.train_set) // cfg.batch_size)),
        num_sanity_val_steps=0,
        default_root_dir=str(out),
    )
    if _launching_rank():
        save_config(cfg, out / "config.yaml")
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None, weights_only=False)
    if not trainer.is_global_zero:
        return {"out": out, "metrics": None, "best_checkpoint": None}
    train_seconds = time.time() - started

    best = Path(checkpoint_cb.best_model_path) if checkpoint_cb.best_model_path else out / "checkpoints" / "last.ckpt"
    from .evaluate import score_run

    metrics = score_run(out, cfg=cfg, windows=windows, checkpoint=best, embeddings=embeddings,
                        fit_probe=cfg.probe is not None, figures=False)
    write_json(out / "timing.json", {"train_seconds": round(train_seconds, 2), "epochs": cfg.max_epochs})
    return {"out": out, "metrics": metrics, "best_checkpoint": best}


def _quiet_lightning(progress: bool) -> None:
    """Hide Lightning's start-up chatter (hardware lines, tips, a deprecation in its own code);
    without a progress bar only warnings remain."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    logging.getLogger("lightning.pytorch").setLevel(logging.NOTSET if progress else logging.WARNING)


def _launching_rank() -> bool:
    """True in the process the user started (global rank 0), false in DDP workers."""
    from lightning.pytorch.utilities import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def _strategy(name: str) -> str:
    """Plain ``ddp`` tolerates parameters a step leaves unused (text modules when text is
    dropped, the classifier when pre-training)."""
    return "ddp_find_unused_parameters_true" if name == "ddp" else name


# ----------------------------------------------------------------------------- minirocket
def train_minirocket(cfg: TrainConfig, out: Path, *, resume: bool = False) -> dict[str, Any]:
    """The MiniRocket baseline on the same windows and split; writes the same files."""
    import joblib

    from ..atomic import atomic_file
    from ..models.minirocket import MiniRocketClassifier, MiniRocketConfig
    from ..signals import WindowDataset
    from .evaluate import write_scores

    started = time.time()
    try:
        mr_cfg = MiniRocketConfig.from_dict(cfg.model)
    except (ValueError, TypeError) as err:
        raise UserError("model config", str(err)) from None
    cfg.model = {**mr_cfg.to_dict(), **{k: v for k, v in cfg.model.items() if k in ("objective", "channels")}}
    windows = load_data(cfg)
    prepare_run_folder(out, cfg, resume)
    ensure_folder(out, what="run folder")
    save_config(cfg, out / "config.yaml")
    X_train, y_train = WindowDataset(windows, "train", cfg.length, cfg.normalize == "window").arrays()
    X_val, y_val = WindowDataset(windows, "val", cfg.length, cfg.normalize == "window").arrays()
    test = WindowDataset(windows, "test", cfg.length, cfg.normalize == "window")
    X_test, y_test = test.arrays()
    model = MiniRocketClassifier(mr_cfg, n_classes=len(windows.labels), seed=cfg.seed).fit(X_train, y_train)
    with atomic_file(out / "model.joblib", "wb") as handle:
        joblib.dump(model, handle)
    val_acc = float((model.predict(X_val) == y_val).mean()) if len(y_val) else None
    proba = model.predict_proba(X_test)
    metrics = write_scores(out, cfg=cfg, windows=windows, index=test.rows, y_true=y_test, proba=proba,
                           extra={"val_accuracy": val_acc, "checkpoint": "model.joblib"})
    write_json(out / "timing.json", {"train_seconds": round(time.time() - started, 2)})
    return {"out": out, "metrics": metrics, "best_checkpoint": out / "model.joblib"}
