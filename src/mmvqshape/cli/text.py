"""CLI command ``mmvq embed``: a sub-action corpus through a text encoder into an embedding folder."""

from __future__ import annotations

from pathlib import Path

import typer


def embed(
    corpus: str = typer.Argument(..., help="Corpus .json, or a shipped name: basicmotions, geneactiv14, hapt, and each with _unsplit."),
    encoder: str = typer.Option("minilm", "--encoder", "-e", help="minilm, bert, a Hugging Face id in the local cache, or a model folder."),
    view: str = typer.Option("auto", "--view", help="armleg, arm, leg, text, or auto (armleg when every sub-action has Arm and Leg)."),
    pooling: str = typer.Option(None, "--pooling", help="cls or mean (default: the model's own; mean for plain transformers)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the embedding cache ($MMVQ_CACHE_DIR)."),
    out: Path = typer.Option(..., "--out", "-o", help="Embedding folder to write (replaced atomically)."),
) -> None:
    """Embed every sub-action (and each label's text) of CORPUS into an embedding folder."""
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.embed import run_embed

    run_embed(corpus, encoder=encoder, view=view, pooling=pooling, out=out, device=device, cache=not no_cache)


def register(app: typer.Typer) -> None:
    """Add ``mmvq embed`` to the root app."""
    app.command("embed")(embed)
