"""CLI: ``mmvq data summary DATA``."""

from __future__ import annotations

import typer

from .limits import check_options

data_app = typer.Typer(help="Accelerometer windows: inspect a DATA argument.", no_args_is_help=True)


@data_app.command("summary")
def summary(
    data: str = typer.Argument(..., help="basicmotions | hapt[:window=W,step=S] | hapt-transitions | hapt-boundary | hapt-splice | PATH.npz | geneactiv-mat:DIR | geneactiv-bin:FILE.bin@ANNOT.csv"),
    channels: str = typer.Option("acc", help="BasicMotions / HAPT channels: acc | gyro | all."),
    length: int = typer.Option(512, help="Interpolate windows to this length (0 keeps the native length)."),
    seed: int = typer.Option(0, help="Seed for splits that are drawn at random."),
) -> None:
    """Print classes, counts, shapes and the split of a dataset."""
    check_options(length=length or None, seed=seed)  # 0 keeps the native length
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.data import format_summary, summarize_data

    typer.echo(format_summary(summarize_data(data, channels=channels, length=length or None, seed=seed)))


def register(app: typer.Typer) -> None:
    """Add ``mmvq data ...`` to the root app."""
    app.add_typer(data_app, name="data")
