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

import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import lightning.pytorch as pl
import torch

from .. import models
from ..analysis import codebook as cb
from ..atomic import atomic_file, ensure_folder, write_json
from ..errors import UserError
from ..labels import normalize_label
from ..models.fitted_baseline import RUN_KEYS
from ..signals import WindowDataset
from ..training.callbacks import build_callbacks, build_loggers, build_refit_callbacks, monitor_for
from ..training.checkpoint import AtomicCheckpointIO
from ..training.config import TrainConfig, resolve_precision, save_config
from ..training.data import TextTable, WindowDataModule
from ..training.module import TaskModule
from ..training.refit import SELECTION, SELECTION_FILE, EpochRecorder, effective_protocol, refit_windows, run_windows
from .run.folder import CONFIG
from .run.inputs import drop_label_sentences, load_data, load_text
from .run.prepare import prepare_run_folder, prepares_run_folder, resume_checkpoint
from .run.weights import apply_init, read_init_weights
from .scoring import score_baseline, score_run


# ------------------------------------------------------------------------------- training
def build_run_task(cfg: TrainConfig, windows, text_dim: int | None):
    """Build the task and fold its resolved model config back into ``cfg.model``."""
    try:
        task = models.build_task(cfg.model_name, dict(cfg.model), n_channels=windows.n_channels, length=cfg.length,
                          n_classes=len(windows.labels), text_dim=text_dim)
    except (ValueError, TypeError) as err:
        raise UserError("model config", str(err)) from None
    resolved = task.resolved_config()
    cfg.model = {**resolved, **{k: v for k, v in cfg.model.items() if k not in resolved}}
    return task


def resolve_architecture(cfg: TrainConfig) -> None:
    """Write mmvqshape's architecture into ``cfg.model`` before anything else reads the config:
    ``--preset`` and ``--init`` (VQShape weights) belong to the legacy fusion design only and
    never switch to it; they are an error with the bag and plan architectures."""
    if cfg.model_name != "mmvqshape":
        return
    try:
        architecture = models.mmvqshape_architecture({k: v for k, v in cfg.model.items() if k != "preset"})  # a flag, not a design
    except ValueError as err:
        raise UserError("--architecture", str(err)) from None
    cfg.model["architecture"] = architecture
    if architecture != "legacy-fusion":
        for flag, given in (("--init", cfg.init is not None), ("--preset", "preset" in cfg.model)):
            if given:
                raise UserError(flag, f"belongs to the VQShape-based design (--model vqshape or --architecture legacy-fusion); "
                                      f"the {architecture} architecture fits its shape tokens instead")


def install_sentence_bank(task, embeddings, class_names: list[str], holdout: list[str], codebook=None) -> None:
    """Give a token MMVQShape every sentence of the corpus (or, for the plan's model, the codes of
    ``codebook``: an ``mmvq analyze codebook`` folder). Its label candidates are the windows'
    classes in class order, then the corpus' other labels; a sentence is trained on only when its
    label is a class and not held out (the others are zero-shot candidates)."""
    known = {normalize_label(n) for n in class_names}
    names = list(class_names) + [n for n in embeddings.labels if normalize_label(n) not in known]
    row = {normalize_label(n): i for i, n in enumerate(embeddings.labels)}
    task.set_label_candidates(names, embeddings.label_vectors[[row[normalize_label(n)] for n in names]])
    trained = known - {normalize_label(n) for n in holdout}
    vectors, sentences = embeddings.subactions, embeddings.sentences
    sources = [embeddings.labels[o] for o in embeddings.owner]
    if codebook is not None:
        book = cb.load_codebook(codebook)
        cb.check_codebook_dim(book, task.text_dim)
        vectors, sentences, sources = book.vectors, book.sentences, book.source_labels
    try:
        task.set_action_codebook(vectors, sentences, sources, seen=[normalize_label(s) in trained for s in sources])
    except ValueError as err:
        raise UserError("codebook" if codebook is not None else "corpus", str(err)) from None


def install_text(task, embeddings, codebook=None, *, seed: int = 0) -> None:
    """Give an MMVQShape task its label candidates and action codebook from the training corpus.

    ``codebook``: an :class:`mmvqshape.analysis.codebook.ActionCodebook`, a codebook folder
    (``mmvq analyze codebook``'s output), or None to select one from ``embeddings`` with the
    default method. The model only receives tensors and sentences.
    """
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

    Test data chooses nothing. ``holdout``: the checkpoint is the best on validation (accuracy
    when the objective classifies, reconstruction R² when it pre-trains). ``refit`` (the default,
    :mod:`mmvqshape.training.refit`): that selection run goes to ``out/selection/``, then the
    model trains again from the same seed on training + validation windows for the epochs
    validation chose, into ``out/checkpoints/last.ckpt`` (what evaluate and explain load). The
    test split is scored once after.
    """
    cfg.validate()
    out = Path(out)
    if cfg.model_name in models.BASELINES:
        return train_baseline(cfg, out, resume=resume)

    _quiet_lightning(cfg.progress)
    started = time.time()
    windows = load_data(cfg)
    text = load_run_text(cfg, windows.labels)
    resolve_architecture(cfg)
    init = None
    if cfg.init is not None:
        init = read_init_weights(cfg.init)
        apply_init(cfg, init)  # the config builds the weights' architecture
    task = new_task(cfg, windows, text, init)  # also folds the resolved model config into cfg
    if prepares_run_folder():
        resume_from = prepare_run_folder(out, cfg, resume)
        ensure_folder(out, what="run folder")
        save_config(cfg, out / CONFIG)
    else:  # a DDP worker started by the launcher: the folder is rank 0's to check and clear
        resume_from = resume_checkpoint(out, resume)
    selection = None
    if effective_protocol(cfg) == "refit":
        selection = select_epochs(cfg, task, windows, text, out, resume)
        windows = refit_windows(windows)
        task = new_task(cfg, windows, text, init)  # the same seed: the selection run's starting weights
        trainer, checkpoint_cb = fit_task(cfg, task, windows, text, out, resume_from, epochs=selection["epochs"])
    else:
        trainer, checkpoint_cb = fit_task(cfg, task, windows, text, out, resume_from)
    if not trainer.is_global_zero:
        return {"out": out, "metrics": None, "best_checkpoint": None}
    train_seconds = time.time() - started

    best = Path(checkpoint_cb.best_model_path) if checkpoint_cb.best_model_path else out / "checkpoints" / "last.ckpt"
    if selection is not None:
        best = out / "checkpoints" / "last.ckpt"  # the refit's final weights
    metrics = score_run(out, cfg=cfg, windows=windows, checkpoint=best, embeddings=text.embeddings,
                        fit_probe=cfg.probe is not None, figures=False, selection=selection)
    epochs = cfg.max_epochs if selection is None else {"selection": selection["epochs_run"], "refit": selection["epochs"]}
    write_json(out / "timing.json", {"kind": "timing", "train_seconds": round(train_seconds, 2), "epochs": epochs})
    return {"out": out, "metrics": metrics, "best_checkpoint": best}


def new_task(cfg: TrainConfig, windows, text: "RunText", init):
    """A freshly seeded task with its text installed (the same seed gives the same start)."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    task = build_run_task(cfg, windows, text.dim)
    if init is not None:
        task.shape_model.load_state_dict(init.state_dict())
    if isinstance(task, models.TokenMMVQShapeTask):  # the whole corpus, held-out labels' sentences as candidates only
        own_codebook = cfg.codebook if isinstance(task, models.PlanTask) else None  # the plan's action codebook
        install_sentence_bank(task, text.embeddings, list(windows.labels), cfg.holdout_labels, own_codebook)
    elif text.train_embeddings is not None:
        install_text(task, text.train_embeddings, cfg.codebook, seed=cfg.seed)  # action codebook from the training corpus only
    return task


def fit_task(cfg: TrainConfig, task, windows, text: "RunText", folder: Path, resume_from: Path | None, *,
             epochs: int | None = None, recorder: EpochRecorder | None = None):
    """Fit ``task`` on ``windows``' training split into ``folder`` (checkpoints/, logs/); returns
    ``(trainer, checkpoint callback)``. ``epochs`` (a refit): train that many epochs with no
    validation, keeping ``last.ckpt``; else validate every epoch and keep ``best.ckpt`` too."""
    refit = epochs is not None
    datamodule = WindowDataModule(
        windows, length=cfg.length, normalize=cfg.normalize, batch_size=cfg.batch_size, seed=cfg.seed,
        num_workers=cfg.num_workers, holdout_labels=cfg.holdout_labels, train_text=text.train_text, eval_text=text.eval_text,
        validate=not refit,
    )
    info = {
        "model_name": cfg.model_name, "model_cfg": dict(cfg.model), "n_channels": windows.n_channels,
        "data_length": windows.length, "length": cfg.length, "labels": list(windows.labels), "text_dim": text.dim,
        "seed": cfg.seed, "scale": datamodule.scale,
    }
    task.fit_shapes(datamodule.train_signals(), seed=cfg.seed)  # frozen parts learnt before the heads (no-op for most)
    datamodule.cache_frozen_features(task.frozen_features)  # then computed once, not every epoch
    module = TaskModule(task, cfg, info)
    if refit:
        checkpoint_cb, callbacks = build_refit_callbacks(folder / "checkpoints")
    else:
        checkpoint_cb, callbacks = build_callbacks(folder / "checkpoints", cfg.objective)
        callbacks.append(recorder or EpochRecorder(monitor_for(cfg.objective)[0]))
    trainer = build_trainer(cfg, folder, callbacks, n_train_windows=len(datamodule.train_set), epochs=epochs)
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None, weights_only=False)
    return trainer, checkpoint_cb


def select_epochs(cfg: TrainConfig, task, windows, text: "RunText", out: Path, resume: bool) -> dict[str, Any]:
    """The refit protocol's selection run in ``out/selection/`` (training split, validated every
    epoch); returns what validation chose (``EpochRecorder.chosen``), also written to
    ``out/selection.json``. With ``resume``: a finished selection is read back, an unfinished
    one continues from its ``last.ckpt``."""
    record = out / SELECTION_FILE
    if resume and record.is_file():
        return json.loads(record.read_text())["selection"]
    folder = out / SELECTION
    recorder = EpochRecorder(monitor_for(cfg.objective)[0])
    resume_from = resume_checkpoint(folder, resume)
    if prepares_run_folder():
        ensure_folder(folder, what="selection folder")
    trainer, _ = fit_task(cfg, task, windows, text, folder, resume_from, recorder=recorder)
    try:
        chosen = {**recorder.chosen(), "epochs_run": int(trainer.current_epoch)}
    except ValueError as err:
        raise UserError(folder, str(err)) from None
    if trainer.is_global_zero:
        write_json(record, {"kind": "selection", "selection": chosen})
    return chosen


@dataclass
class RunText:
    """A run's sub-action text: all None unless the model is ``mmvqshape``."""

    embeddings: Any = None  # the whole corpus (scoring, the token model's sentence bank)
    train_embeddings: Any = None  # the corpus without the held-out labels' sentences
    train_text: TextTable | None = None  # what training batches read (held-out labels dropped)
    eval_text: TextTable | None = None  # what validation batches read (every label)

    @property
    def dim(self) -> int | None:
        """The sentence embedding size, or None without text."""
        return self.eval_text.dim if self.eval_text is not None else None


def load_run_text(cfg: TrainConfig, labels: list[str]) -> RunText:
    """The corpus embeddings and text tables of an ``mmvqshape`` run on windows labelled ``labels``."""
    if cfg.model_name != "mmvqshape":
        return RunText()
    embeddings = load_text(cfg.corpus, cfg.encoder, cfg.view)
    return RunText(
        embeddings=embeddings,
        train_embeddings=drop_label_sentences(embeddings, cfg.holdout_labels) if cfg.holdout_labels else embeddings,
        train_text=TextTable.build(embeddings, labels, where=str(cfg.corpus), drop=cfg.holdout_labels),
        eval_text=TextTable.build(embeddings, labels, where=str(cfg.corpus)),
    )


def build_trainer(cfg: TrainConfig, out: Path, callbacks: list, *, n_train_windows: int, epochs: int | None = None) -> pl.Trainer:
    """The Lightning trainer of run folder ``out`` (logs under ``out/logs``, checkpoints written
    atomically); ``epochs``: a refit's epochs (no validation loop), else ``cfg.max_epochs``."""
    on_gpu = cfg.accelerator in ("gpu", "cuda") or (cfg.accelerator == "auto" and torch.cuda.is_available())
    return pl.Trainer(
        max_epochs=cfg.max_epochs if epochs is None else epochs,
        limit_val_batches=None if epochs is None else 0,
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
        log_every_n_steps=max(1, min(50, n_train_windows // cfg.batch_size)),
        num_sanity_val_steps=0,
        default_root_dir=str(out),
    )


#: Lightning's start-up lines (hardware, a logging-service tip, a step estimate): never shown.
STARTUP_CHATTER = ("GPU available", "TPU available", "HPU available", "💡 Tip", "Loading `train_dataloader` to estimate")


class _DropStartupChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(STARTUP_CHATTER)


def _quiet_lightning(progress: bool) -> None:
    """Hide Lightning's start-up chatter (hardware lines, tips, a deprecation in its own code)
    whatever the progress setting; without a progress bar only warnings remain."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    logging.getLogger("lightning.pytorch").setLevel(logging.NOTSET if progress else logging.WARNING)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        source = logging.getLogger(name)  # where rank_zero_info records start
        if not any(isinstance(f, _DropStartupChatter) for f in source.filters):
            source.addFilter(_DropStartupChatter())


def _strategy(name: str) -> str:
    """Plain ``ddp`` tolerates parameters a step leaves unused (text modules when text is
    dropped, the classifier when pre-training)."""
    return "ddp_find_unused_parameters_true" if name == "ddp" else name


# ------------------------------------------------------------------------------ baselines
def train_baseline(cfg: TrainConfig, out: Path, *, resume: bool = False) -> dict[str, Any]:
    """A fitted baseline (``models.BASELINES``: MiniRocket, Hydra, summary-lr) on the windows the
    neural models are finally fitted on (``refit``: training + validation; ``holdout``: training);
    writes the same files, the model as ``model.joblib``."""
    started = time.time()
    windows = run_windows(cfg, load_data(cfg))  # refit: training + validation windows (a baseline chooses nothing)
    try:
        model = models.build_baseline(cfg.model_name, dict(cfg.model), n_classes=len(windows.labels), seed=cfg.seed)
    except (ValueError, TypeError) as err:
        raise UserError("model config", str(err)) from None
    cfg.model = {**model.resolved_config(), **{k: v for k, v in cfg.model.items() if k in RUN_KEYS}}
    prepare_run_folder(out, cfg, resume)
    ensure_folder(out, what="run folder")
    save_config(cfg, out / CONFIG)
    X_train, y_train = WindowDataset(windows, "train", cfg.length, cfg.normalize == "window").arrays()  # (N, C, T), (N,)
    model.fit(X_train, y_train)
    with atomic_file(out / "model.joblib", "wb") as handle:
        joblib.dump(model, handle)
    metrics = score_baseline(out, cfg=cfg, windows=windows, model=model)
    write_json(out / "timing.json", {"kind": "timing", "train_seconds": round(time.time() - started, 2)})
    return {"out": out, "metrics": metrics, "best_checkpoint": out / "model.joblib"}
