"""CLI command: ``mmvq tokenize RUN|CHECKPOINT|WEIGHTS --data D --out FILE`` (logic in mmvqshape.pipelines.tokenize)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .limits import check_options


def tokenize_command(
    source: Path = typer.Argument(..., help="Run folder written by mmvq train (vqshape or mmvqshape), a checkpoint in one, "
                                  "or VQShape weights (.safetensors from mmvq pretrain or mmvq convert-vqshape; needs --data)."),
    data: Optional[str] = typer.Option(None, "--data", help="basicmotions | hapt | path.npz | ... (default: the run's data)."),
    out: Path = typer.Option(..., "--out", help="Token table, .csv or .csv.gz; code histograms go beside it (NAME.histograms.csv[.gz])."),
    split: str = typer.Option("all", "--split", help="all | train | val | test: which windows to tokenise."),
    batch_size: int = typer.Option(256, "--batch-size", help="Windows per forward pass."),
) -> None:
    """Every window's shape tokens per channel (code, t, l, mu, sigma) and code histograms, as CSV tables."""
    check_options(batch_size=batch_size)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.tokenize import tokenize

    result = tokenize(source, data=data, out=out, split=split, batch_size=batch_size)
    typer.echo(f"{result['n_windows']} windows, {result['n_tokens']} tokens: wrote {result['tokens']} and {result['histograms']}")


def register(app: typer.Typer) -> None:
    """Add ``tokenize`` to the root app."""
    app.command("tokenize")(tokenize_command)
