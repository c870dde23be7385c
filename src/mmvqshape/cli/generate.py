"""CLI command ``mmvq corpus generate`` (an LLM writes the sub-action corpus)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .corpus import corpus_app
from .limits import check_options


def corpus_generate(
    out: Path = typer.Option(..., "--out", help="Corpus JSON to write (continued when it exists)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Label file: one label per line, or a JSON list."),
    data: Optional[str] = typer.Option(None, "--data", help="Take the labels of a DATA argument (basicmotions, hapt, hapt-transitions, .npz, geneactiv-mat:DIR)."),
    n: int = typer.Option(10, "--n", help="Sub-actions per label (5 or 10 in the plan)."),
    style: str = typer.Option("split", "--style", help="split: Arm and Leg fields; unsplit: one sentence; observable: one sentence of what a worn accelerometer records (orientation to gravity, rhythm, vertical motion, intensity)."),
    shared: int = typer.Option(0, "--shared", help="How many of the n sub-actions are shared with other labels (the rest unique)."),
    holdout_labels: Optional[str] = typer.Option(None, "--holdout-labels", help="A zero-shot fold's unseen labels (comma separated): never named in another label's prompt."),
    api_base: Optional[str] = typer.Option(None, "--api-base", help="OpenAI-compatible base URL (default $OPENAI_BASE_URL or api.openai.com/v1)."),
    model: Optional[str] = typer.Option(None, "--model", help="Chat model name (default gpt-4o-mini)."),
    temperature: float = typer.Option(0.5, "--temperature", help="Sampling temperature."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Sampling seed passed to the server (where supported)."),
    prompt: Optional[Path] = typer.Option(None, "--prompt", help="Prompt template file (default: the packaged one for --style)."),
    description: Optional[str] = typer.Option(None, "--description", help="Dataset description for the prompt: device, placement, sampling rate."),
    max_retries: int = typer.Option(3, "--max-retries", help="Re-asks after an invalid reply, and retries after a network error."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for one reply."),
    backoff: float = typer.Option(2.0, "--backoff", help="First wait in seconds after a network error (doubles each retry)."),
    json_mode: bool = typer.Option(True, "--json-mode/--no-json-mode", help="Ask the server for JSON output (response_format)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start over instead of continuing an existing --out."),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse valid raw replies kept in OUT.raw/."),
) -> None:
    """Ask an OpenAI-compatible chat endpoint for the sub-actions of every label (key: $OPENAI_API_KEY)."""
    check_options(n=n, shared=shared, temperature=temperature, seed=seed, max_retries=max_retries, timeout=timeout, backoff=backoff)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.generate import generate, summary

    result = generate(
        out, labels_file=labels, data=data, n=n, style=style, shared=shared, api_base=api_base,
        holdout_labels=[x.strip() for x in holdout_labels.split(",") if x.strip()] if holdout_labels else None,
        model=model, temperature=temperature, seed=seed, prompt=prompt, description=description,
        max_retries=max_retries, timeout=timeout, backoff=backoff, json_mode=json_mode,
        overwrite=overwrite, use_cache=cache, progress=sys.stderr.isatty(),
    )
    info = summary(result)
    typer.echo(
        f"wrote {info['out']}: {info['labels']} labels ({info['generated']} generated, "
        f"{info['already_there']} already there, {info['from_cache']} from cache); "
        f"{info['requests']} requests, {info['invalid_replies']} invalid replies, "
        f"{info['network_retries']} network retries"
    )


def register(app: typer.Typer) -> None:
    """Add ``mmvq corpus generate`` to the ``corpus`` sub-app."""
    corpus_app.command("generate")(corpus_generate)
