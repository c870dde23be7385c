"""CLI commands under ``mmvq corpus``: check (corpus issue) and generate (cli/generate.py)."""

from __future__ import annotations

import typer

corpus_app = typer.Typer(help="Sub-action corpora: check and generate.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``mmvq corpus ...`` to the root app."""
    app.add_typer(corpus_app, name="corpus")
