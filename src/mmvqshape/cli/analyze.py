"""CLI commands under ``mmvq analyze``: projection, gram, recon, codebook (pipelines/analyze.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import UserError
from .limits import check_options

analyze_app = typer.Typer(help="Experiments on sub-action embeddings: projection, gram, recon, codebook.", no_args_is_help=True)

EMB_HELP = "Embedding folder written by `mmvq embed`."


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(option, f"expects comma-separated integers, got '{text}'") from None


def _names(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


@analyze_app.command("projection")
def projection(
    source: str = typer.Argument(..., help=EMB_HELP + " With --views: a corpus .json or shipped name instead."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (replaced atomically)."),
    method: str = typer.Option("tsne", "--method", "-m", help="tsne, umap or pca."),
    dims: int = typer.Option(2, "--dims", help="2 or 3 (3 also writes a rotatable projection.html)."),
    views: str = typer.Option(None, "--views", help="Comma-separated views of one corpus drawn side by side, e.g. arm,leg,armleg."),
    encoder: str = typer.Option("minilm", "--encoder", "-e", help="Text encoder for --views: minilm, bert, a cached hub id or a folder."),
    n_neighbors: int = typer.Option(70, "--n-neighbors", help="UMAP neighbours (clamped below the number of points)."),
    perplexity: float = typer.Option(30.0, "--perplexity", help="t-SNE perplexity (clamped for few points)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (t-SNE / UMAP)."),
) -> None:
    """Project sub-actions to 2-D / 3-D with t-SNE, UMAP or PCA, coloured by label."""
    check_options(dims=dims, n_neighbors=n_neighbors, perplexity=perplexity, seed=seed)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.analyze import run_projection

    result = run_projection(source, out, method=method, dims=dims, seed=seed, n_neighbors=n_neighbors,
                            perplexity=perplexity, views=_names(views), encoder=encoder)
    typer.echo(f"wrote {result['out']}: {', '.join(result['files'])}")


@analyze_app.command("gram")
def gram(
    emb: str = typer.Argument(..., help=EMB_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (replaced atomically)."),
    top: int = typer.Option(20, "--top", help="How many most similar cross-label pairs to list."),
) -> None:
    """Cosine Gram matrix of all sub-actions, within/between-label statistics, closest cross-label pairs."""
    check_options(top=top)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.analyze import run_gram

    result = run_gram(emb, out, top=top)
    w, b = result["within"], result["between"]
    typer.echo(f"within-label cosine {w['mean']:.3f} ± {w['std']:.3f}, between-label {b['mean']:.3f} ± {b['std']:.3f}, "
               f"separation {result['separation']:.3f}")
    if result["top_pair"]:
        p = result["top_pair"]
        typer.echo(f"closest cross-label pair ({p['cosine']:.3f}): [{p['label_a']}] {p['sentence_a']} | [{p['label_b']}] {p['sentence_b']}")
    typer.echo(f"wrote {result['out']}")


@analyze_app.command("recon")
def recon(
    emb: str = typer.Argument(..., help=EMB_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (replaced atomically)."),
    hidden: str = typer.Option("64,128,256,512,1024,2048", "--hidden", help="Comma-separated hidden sizes of the ProjectionModel."),
    seeds: int = typer.Option(5, "--seeds", help="Number of seeds (seed, seed+1, ...)."),
    seed: int = typer.Option(0, "--seed", help="First seed."),
    protocols: str = typer.Option("sentences,labels", "--protocols", help="sentences (held-out sentences) and/or labels (held-out labels, zero-shot)."),
    codebook: Path = typer.Option(None, "--codebook", help="Codebook folder from `mmvq analyze codebook`: also run on quantized sub-actions."),
    k: int = typer.Option(None, "--k", help="Sub-actions per sample (default: the documented rule)."),
    steps: int = typer.Option(60, "--steps", help="Full-batch Adam steps per probe."),
    lr: float = typer.Option(3e-3, "--lr", help="Adam learning rate."),
    test_fraction: float = typer.Option(0.5, "--test-fraction", help="`sentences`: share of each label's sentences held out."),
    heldout_labels: float = typer.Option(0.25, "--heldout-labels", help="`labels`: share of labels held out."),
    train_samples: int = typer.Option(4, "--train-samples", help="Training samples (ordered K-subsets) drawn per label."),
    test_samples: int = typer.Option(8, "--test-samples", help="Test samples drawn per label."),
    threads: int = typer.Option(1, "--threads", help="Torch threads."),
) -> None:
    """Can a label's embedding be reconstructed from its sub-actions? (the plan's ProjectionModel probe)"""
    check_options(seeds=seeds, seed=seed, k=k, steps=steps, lr=lr, test_fraction=test_fraction, heldout_labels=heldout_labels, train_samples=train_samples, test_samples=test_samples, threads=threads)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..analysis.recon import ProbeConfig
    from ..pipelines.analyze import run_recon

    config = ProbeConfig(steps=steps, lr=lr, test_fraction=test_fraction, heldout_label_fraction=heldout_labels, k=k,
                         train_samples_per_label=train_samples, test_samples_per_label=test_samples)
    result = run_recon(emb, out, hidden=_int_list(hidden, "--hidden"), seeds=seeds, seed=seed, protocols=_names(protocols) or [],
                       codebook=codebook, config=config, threads=threads)
    quantized = codebook is not None
    header = f"{'protocol':<10} {'model':<14} {'cosine':>15} {'top-1':>15}" + (f" {'quantized cos':>15} {'quantized top-1':>15}" if quantized else "")
    typer.echo(header)
    for row in result["summary"]:
        name = "mean baseline" if row["model"] == "baseline" else f"probe h={row['hidden']}"
        line = (f"{row['protocol']:<10} {name:<14} {row['cosine_mean']:>7.3f} ± {row['cosine_std']:.3f} "
                f"{row['top1_mean']:>7.3f} ± {row['top1_std']:.3f}")
        if quantized:
            line += f" {row['quantized_cosine_mean']:>7.3f} ± {row['quantized_cosine_std']:.3f} {row['quantized_top1_mean']:>7.3f} ± {row['quantized_top1_std']:.3f}"
        typer.echo(line)
    typer.echo(f"K = {result['k']}, chance top-1 = {result['chance_top1']:.3f}; wrote {result['out']}")


@analyze_app.command("codebook")
def codebook(
    emb: str = typer.Argument(..., help=EMB_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (replaced atomically)."),
    method: str = typer.Option(None, "--method", "-m", help="kmeans (default), prune, fps or community."),
    size: int = typer.Option(None, "--size", "-n", help="Number of codes (kmeans/fps default: min(64, sentences)); prune/community: instead of --threshold."),
    threshold: float = typer.Option(None, "--threshold", help="Cosine threshold (prune default 0.9; community default: 90th percentile)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (kmeans, community)."),
) -> None:
    """Select the action codebook (every code a real sub-action sentence) and report its coverage."""
    check_options(size=size, threshold=threshold, seed=seed)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.analyze import run_codebook

    result = run_codebook(emb, out, method=method, size=size, threshold=threshold, seed=seed)
    extra = f" at threshold {result['threshold']:.4f}" if result["threshold"] is not None else ""
    typer.echo(f"{result['method']}: kept {result['size']} of {result['n_subactions']} sub-actions{extra}; "
               f"{len(result['labels_without_own_code'])} labels without a code of their own, {result['n_shared_codes']} codes shared; "
               f"mean cosine to nearest code {result['mean_cosine_to_code']:.3f}")
    typer.echo(f"wrote {result['out']}")


def register(app: typer.Typer) -> None:
    """Add ``mmvq analyze ...`` to the root app."""
    app.add_typer(analyze_app, name="analyze")
