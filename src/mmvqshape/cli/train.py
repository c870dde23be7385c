"""CLI commands: ``mmvq train`` and ``mmvq evaluate`` (logic in mmvqshape.pipelines)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .limits import check_options


def train_command(
    out: Path = typer.Option(..., "--out", help="Run folder to write (config.yaml, checkpoints/, logs/, metrics.json, predictions.csv)."),
    model: Optional[str] = typer.Option(None, "--model", help="vqshape | mmvqshape | shape-tokens | minirocket | hydra | summary-lr (default vqshape)."),
    data: Optional[str] = typer.Option(None, "--data", help="basicmotions | hapt[:window=W,step=S] | hapt-transitions | path.npz | geneactiv-mat:DIR (default basicmotions)."),
    data_channels: Optional[str] = typer.Option(None, "--data-channels", help="acc | gyro | all: sensor channels of basicmotions / hapt (default acc)."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Sub-action corpus or embedding folder (mmvqshape)."),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Text encoder when --corpus is a corpus (default minilm)."),
    view: Optional[str] = typer.Option(None, "--view", help="Corpus view: armleg | arm | leg | text."),
    codebook: Optional[str] = typer.Option(None, "--codebook", help="Action codebook folder (mmvq analyze codebook)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config merged over the defaults (flags win)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN/checkpoints/last.ckpt (refit: a finished "
                                "selection run is kept, an unfinished one continues from RUN/selection/checkpoints/last.ckpt)."),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="refit (default): choose the epoch on validation "
                                           "subjects, then train again on training + validation for that many epochs "
                                           "(baselines: fit on training + validation); holdout: training windows only."),
    init: Optional[str] = typer.Option(None, "--init", help="Start the shape model from pre-trained VQShape weights: "
                                       "a .safetensors file (mmvq pretrain / convert-vqshape), a pre-training run folder, a .ckpt, "
                                       "or 'bundled' (the shape model shipped with the package)."),
    objective: Optional[str] = typer.Option(None, "--objective", help="classify | pretrain."),
    channels: Optional[str] = typer.Option(None, "--channels", help="joint | independent (how channels are treated)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Loss-weight preset of the model (e.g. reference | flat)."),
    architecture: Optional[str] = typer.Option(None, "--architecture", help="mmvqshape: bag (a head on bags of shape tokens, "
                                               "the default) | plan (the research plan's model on shape tokens)."),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    length: Optional[int] = typer.Option(None, "--length", help="Samples per window after interpolation (default 512)."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    holdout_labels: Optional[str] = typer.Option(None, "--holdout-labels", help="Comma-separated labels left out of training (zero-shot)."),
    probe: Optional[str] = typer.Option(None, "--probe", help="token | histogram: linear probe on a pre-trained vqshape."),
    accelerator: Optional[str] = typer.Option(None, "--accelerator", help="auto | cpu | gpu ..."),
    devices: Optional[str] = typer.Option(None, "--devices", help="Number of devices (or 'auto')."),
    num_nodes: Optional[int] = typer.Option(None, "--num-nodes"),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="auto | ddp | ddp_spawn | fsdp ..."),
    precision: Optional[str] = typer.Option(None, "--precision", help="auto | 32 | bf16-mixed | 16-mixed."),
    num_workers: Optional[int] = typer.Option(None, "--num-workers"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Show the progress bar."),
) -> None:
    """Train a model into a run folder; the test split is scored once, with the weights refitted on training +
    validation windows (--protocol refit, the default) or the best-on-validation checkpoint (holdout)."""
    check_options(max_epochs=max_epochs, batch_size=batch_size, lr=lr, length=length, seed=seed, num_nodes=num_nodes, num_workers=num_workers)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.train import train
    from ..training.config import load_config

    cfg = load_config(config, {
        "model_name": model, "data": data, "data_channels": data_channels, "corpus": corpus, "encoder": encoder, "view": view, "codebook": codebook, "init": init,
        "objective": objective, "channels": channels, "preset": preset, "architecture": architecture, "max_epochs": max_epochs, "batch_size": batch_size,
        "lr": lr, "length": length, "seed": seed, "holdout_labels": holdout_labels, "probe": probe, "protocol": protocol,
        "accelerator": accelerator, "devices": devices, "num_nodes": num_nodes, "strategy": strategy,
        "precision": precision, "num_workers": num_workers, "progress": progress,
    })
    result = train(cfg, out, resume=resume)
    if result["metrics"] is not None:
        _print_metrics(result["metrics"], result["out"])


def pretrain_command(
    data: list[str] = typer.Option(..., "--data", help="A source to pre-train on (repeat for several): every channel "
                                   "of every window becomes one series; hapt-unused adds HAPT's unlabelled stretches."),
    out: Path = typer.Option(..., "--out", help="Run folder to write (a training run plus vqshape.safetensors)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config merged over the defaults (flags win)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN/checkpoints/last.ckpt."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Loss recipe: shapes (default) | reference | flat."),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    length: Optional[int] = typer.Option(None, "--length", help="Samples per series after interpolation (default 512)."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Show the progress bar."),
) -> None:
    """Pre-train VQShape on every channel of several sources; writes RUN/vqshape.safetensors for `train --init`."""
    check_options(max_epochs=max_epochs, batch_size=batch_size, lr=lr, length=length, seed=seed)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.pretrain import pretrain
    from ..training.config import load_config

    cfg = load_config(config, {"preset": preset, "max_epochs": max_epochs, "batch_size": batch_size, "lr": lr,
                               "length": length, "seed": seed, "progress": progress})
    result = pretrain(list(data), out, cfg, resume=resume)
    if result["metrics"] is not None:
        _print_metrics(result["metrics"], result["out"])
        typer.echo(f"wrote {result['weights']}")


def evaluate_command(
    run: Path = typer.Argument(..., help="Run folder written by mmvq train."),
    data: Optional[str] = typer.Option(None, "--data", help="Score on this DATA's test split instead of the run's."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Corpus / embedding folder for label texts (mmvqshape)."),
    encoder: Optional[str] = typer.Option(None, "--encoder"),
    out: Optional[Path] = typer.Option(None, "--out", help="Write metrics and figures here instead of RUN."),
) -> None:
    """Recompute a run's test metrics; writes metrics.json, predictions.csv and figures/*.png."""
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.evaluate import evaluate

    metrics = evaluate(run, data=data, corpus=corpus, encoder=encoder, out=out)
    _print_metrics(metrics, out or run)


def _print_metrics(metrics: dict, where: Path) -> None:
    shown = {k: metrics.get(k) for k in ("model", "accuracy", "macro_f1", "n_test", "perplexity", "dead_codes")}
    if "zero_shot" in metrics:
        shown["zero_shot"] = metrics["zero_shot"]
    typer.echo(json.dumps(shown, default=str))
    typer.echo(f"wrote {Path(where) / 'metrics.json'}")


def register(app: typer.Typer) -> None:
    """Add ``train``, ``pretrain`` and ``evaluate`` to the root app."""
    app.command("train")(train_command)
    app.command("pretrain")(pretrain_command)
    app.command("evaluate")(evaluate_command)
