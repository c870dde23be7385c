"""CLI command: ``mmvq explain RUN --data D --index I|--all --out DIR`` (logic in mmvqshape.pipelines.explain)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from .limits import check_options


def explain_command(
    run: Path = typer.Argument(..., help="Run folder written by mmvq train (vqshape or mmvqshape)."),
    data: Optional[str] = typer.Option(None, "--data", help="basicmotions | hapt | hapt-boundary | path.npz | geneactiv-mat:DIR (default: the run's data)."),
    index: Optional[int] = typer.Option(None, "--index", help="Position of the window in the split (0-based; default 0)."),
    every: bool = typer.Option(False, "--all", help="Explain every window of the split into explanations_<split>.jsonl (one line per window)."),
    split: str = typer.Option("test", "--split", help="train | val | test: the split --index and --all read."),
    shapes: bool = typer.Option(True, "--shapes/--no-shapes", help="With --all: each window's shape tokens (code, t, l, mu, sigma per channel)."),
    figures: bool = typer.Option(False, "--figures", help="With --all: also a figure and JSON per window (slow)."),
    batch_size: int = typer.Option(256, "--batch-size", help="Windows per model call with --all."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="With --all: a progress bar on stderr."),
    out: Path = typer.Option(Path("explain"), "--out", help="Folder for explain_<I>.png / .json or explanations_<split>.jsonl."),
    top: int = typer.Option(5, "--top", help="How many zero-shot label candidates to list."),
) -> None:
    """Explain test windows: their shapes per channel and, for mmvqshape, the sub-actions chosen (signal only)."""
    check_options(index=index, batch_size=batch_size, top=top)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.explain import run_explain, run_explain_all

    if every:
        if index is not None:
            raise UserError("--all", "give either --index or --all, not both")
        result = run_explain_all(run, data=data, out=out, split=split, batch_size=batch_size, shapes=shapes,
                                 figures=figures, top=top, progress=progress)
        typer.echo(f"explained {result['n_windows']} {result['split']} windows: wrote {result['jsonl']}")
        return
    result = run_explain(run, data=data, index=0 if index is None else index, out=out, top=top, split=split)
    e = result["explanation"]
    typer.echo(f"true: {e.get('true_label')}  predicted: {e.get('predicted_label', '-')}")
    for s in e.get("sub_actions", []):
        typer.echo(f"  {s['slot'] + 1}. {s['sentence']}")
    typer.echo(f"wrote {result['png']} and {result['json']}")


def register(app: typer.Typer) -> None:
    """Add ``explain`` to the root app."""
    app.command("explain")(explain_command)
