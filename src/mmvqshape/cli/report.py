"""CLI: ``mmvq report`` and ``mmvq demo`` (the main job)."""

from __future__ import annotations

from pathlib import Path

import typer

from .limits import check_options


def report(
    folder: Path = typer.Argument(..., help="A run folder (mmvq train), a demo folder, or a bench folder."),
    out: Path = typer.Option(None, help="Where to write the page (default FOLDER/report.html)."),
) -> None:
    """Build one self-contained HTML page (figures embedded, interactive 3-D) from a folder."""
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.report import build_report

    typer.echo(f"report: {build_report(folder, out)}")


def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Output folder."),
    data: str = typer.Option("basicmotions", help="basicmotions (bundled with aeon) or hapt (UCI HAPT, 30 subjects)."),
    also: str = typer.Option("", help="Second data sets, comma separated (hapt): MiniRocket vs MMVQShape and explanations, "
                                      "a part of their own on the same page."),
    quick: bool = typer.Option(False, help="Tiny epochs and sizes: a smoke run in about a minute."),
    seed: int = typer.Option(0, help="Seed for every step."),
) -> None:
    """The main job: the whole plan on bundled data (BasicMotions by default), ending in report.html."""
    check_options(seed=seed)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.demo import run_demo

    result = run_demo(out, data=data, also=tuple(a.strip() for a in also.split(",") if a.strip()), quick=quick, seed=seed)
    typer.echo(f"report: {result['report']}")


def register(app: typer.Typer) -> None:
    """Add ``mmvq report`` and ``mmvq demo``."""
    app.command("report")(report)
    app.command("demo")(demo)
