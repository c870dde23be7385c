"""CLI command: ``mmvq explain RUN --data D --index I --out DIR`` (logic in mmvqshape.pipelines.explain)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def explain_command(
    run: Path = typer.Argument(..., help="Run folder written by mmvq train (vqshape or mmvqshape)."),
    data: Optional[str] = typer.Option(None, "--data", help="basicmotions | hapt | hapt-transitions | path.npz | geneactiv-mat:DIR (default: the run's data)."),
    index: int = typer.Option(0, "--index", help="Position of the window in the test split (0-based)."),
    out: Path = typer.Option(Path("explain"), "--out", help="Folder for explain_<I>.png and explain_<I>.json."),
    top: int = typer.Option(5, "--top", help="How many zero-shot label candidates to list."),
) -> None:
    """Explain one test window: its shapes per channel and, for mmvqshape, the sub-actions it chose (signal only)."""
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.explain import run_explain

    result = run_explain(run, data=data, index=index, out=out, top=top)
    e = result["explanation"]
    typer.echo(f"true: {e.get('true_label')}  predicted: {e.get('predicted_label', '-')}")
    for s in e.get("sub_actions", []):
        typer.echo(f"  {s['slot'] + 1}. {s['sentence']}")
    typer.echo(f"wrote {result['png']} and {result['json']}")


def register(app: typer.Typer) -> None:
    """Add ``explain`` to the root app."""
    app.command("explain")(explain_command)
