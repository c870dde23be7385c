"""CLI commands under ``mmvq corpus``: check (corpus issue) and generate (cli/generate.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from .limits import check_options

corpus_app = typer.Typer(help="Sub-action corpora: check and generate.", no_args_is_help=True)


@corpus_app.command("check")
def check(
    corpus: str = typer.Argument(..., help="Corpus .json, or a shipped name: basicmotions, geneactiv14, hapt, each with _unsplit, shoulder-watch, hapt_observable."),
    encoder: str = typer.Option(None, "--encoder", "-e", help="Also measure similarity with this encoder: minilm, bert, a cached hub id or a folder."),
    view: str = typer.Option("auto", "--view", help="armleg, arm, leg, text, or auto."),
    pooling: str = typer.Option(None, "--pooling", help="cls or mean (default: the model's own)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    near: float = typer.Option(0.95, "--near", help="Cosine at or above which two different sentences are near duplicates."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for check.json and quality figures (with --encoder: similarity and separation)."),
) -> None:
    """Validate CORPUS and print labels, counts, views, duplicates, style flags and (with --encoder) similarity
    and how well the sentences separate the labels (nearest label centroid on held-out sentences and labels)."""
    check_options(near=near)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.corpus_check import run_corpus_check

    run_corpus_check(corpus, encoder=encoder, out=out, view=view, pooling=pooling, device=device, near=near)


def register(app: typer.Typer) -> None:
    """Add ``mmvq corpus ...`` to the root app."""
    app.add_typer(corpus_app, name="corpus")
