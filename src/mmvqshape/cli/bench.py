"""CLI: ``mmvq bench speed``, ``mmvq bench accuracy``, ``mmvq bench ablation`` and ``mmvq bench zero-shot``."""

from __future__ import annotations

from pathlib import Path

import typer

from .limits import check_options

bench_app = typer.Typer(help="Benchmarks that compare like with like (ratios within one run).", no_args_is_help=True)


@bench_app.command("speed")
def speed(
    out: Path = typer.Option(Path("runs/bench-speed"), help="Output folder (speed.json, speed.md)."),
    quick: bool = typer.Option(False, help="Fewer steps and no 100k-window file."),
    seed: int = typer.Option(0),
) -> None:
    """Train windows/s and latency (VQShape per-token vs per-code, MMVQShape vs VQShape), text
    encoding with and without cache, and throughput / peak memory over memory-mapped files."""
    check_options(seed=seed)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.bench import run_bench_speed, speed_markdown

    result = run_bench_speed(out, quick=quick, seed=seed)
    typer.echo(speed_markdown(result))
    typer.echo(f"written: {out}")


@bench_app.command("accuracy")
def accuracy(
    data: str = typer.Option("basicmotions", help="DATA argument (basicmotions, hapt, hapt-transitions, PATH.npz, ...)."),
    corpus: str = typer.Option(None, help="Sub-action corpus for MMVQShape (default: the data's shipped corpus, e.g. hapt)."),
    channels: str = typer.Option("acc", help="Sensor channels of basicmotions / hapt: acc | gyro | all."),
    seeds: int = typer.Option(5, help="Number of seeds (0..seeds-1)."),
    shots: str = typer.Option("all", help="Training windows per class, comma separated, e.g. 1,2,4,all."),
    models: str = typer.Option("mmvqshape,shape-tokens,summary-lr,minirocket,hydra",
                               help="Models to compare (-no-stats: the classifier reads the shape tokens only, without "
                               "each channel's mean and std; also: vqshape-flat-weights, mmvqshape-flat-weights, "
                               "summary-lr: a logistic regression on per-window summary features; hydra, multirocket-hydra: aeon's Hydra)."),
    zero_shot: bool = typer.Option(True, help="Also the leave-one-label-out zero-shot figure for MMVQShape."),
    zero_shot_seeds: int = typer.Option(None, help="Seeds for the zero-shot runs (default: all --seeds)."),
    max_epochs: int = typer.Option(None, help="Training epochs of every neural model (default: per data source, e.g. 10 for hapt)."),
    batch_size: int = typer.Option(None, help="Batch size of every neural model (default: per data source, e.g. 32 for hapt)."),
    protocol: str = typer.Option("refit", help="refit: every model fitted on training + validation windows (trained "
                                 "models choose their epochs on validation first); holdout: training windows only."),
    out: Path = typer.Option(Path("runs/bench-accuracy"), help="Output folder (accuracy.md, accuracy.csv)."),
) -> None:
    """Accuracy and macro-F1, mean ± std over seeds, on identical splits (few-shot included)."""
    check_options(seeds=seeds, zero_shot_seeds=zero_shot_seeds, max_epochs=max_epochs, batch_size=batch_size)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.bench_accuracy import run_bench_accuracy

    result = run_bench_accuracy(
        data=data, corpus=corpus, seeds=seeds, shots=shots, models=models, zero_shot=zero_shot, zero_shot_seeds=zero_shot_seeds,
        max_epochs=max_epochs, batch_size=batch_size, channels=channels, protocol=protocol, out=out,
    )
    typer.echo(result["markdown"])
    typer.echo(f"written: {out}")


@bench_app.command("ablation")
def ablation(
    data: str = typer.Option("hapt", help="DATA argument."),
    corpus: str = typer.Option(None, help="Sub-action corpus (default: the data's shipped corpus, e.g. hapt)."),
    channels: str = typer.Option("acc", help="Sensor channels: acc | gyro | all."),
    seeds: int = typer.Option(3, help="Number of seeds (0..seeds-1)."),
    rows: str = typer.Option("bag,plan,plan-no-fusion,plan-no-action-codebook,plan-no-label-recon,plan-no-text",
                             help="Named rows (model configs), comma separated."),
    grounding_data: str = typer.Option("hapt-boundary", help="Windows with each sample's activity whose test split scores "
                                       "grounding ('none': skip)."),
    zero_shot_folds: int = typer.Option(0, help="Two-unseen zero-shot folds per row (0: no zero-shot column)."),
    max_epochs: int = typer.Option(None, help="Training epochs of every row (default: the trainer's)."),
    batch_size: int = typer.Option(None, help="Batch size of every row (default: the trainer's)."),
    protocol: str = typer.Option("refit", help="refit (default) | holdout, as mmvq train."),
    out: Path = typer.Option(Path("runs/bench-ablation"), help="Output folder (ablation.md, ablation.csv, ablation.json)."),
) -> None:
    """The plan's model part by part: accuracy, validation accuracy, own explanation, grounding,
    zero-shot and training seconds per named row, mean ± std over seeds; the default's rule on validation."""
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.bench_ablation import run_bench_ablation

    result = run_bench_ablation(data=data, corpus=corpus, channels=channels, seeds=seeds, rows=rows,
                                grounding_data=None if grounding_data.lower() == "none" else grounding_data,
                                zero_shot_folds=zero_shot_folds, max_epochs=max_epochs, batch_size=batch_size,
                                protocol=protocol, out=out)
    typer.echo(result["markdown"])
    typer.echo(f"written: {out}")


@bench_app.command("zero-shot")
def zero_shot(
    data: str = typer.Option("hapt", help="DATA argument."),
    corpus: str = typer.Option(None, help="Sub-action corpus (default: the shipped one named like the data)."),
    unseen: str = typer.Option(None, help="Unseen labels of one fold, comma separated (else --unseen-size)."),
    unseen_size: int = typer.Option(None, help="Unseen labels per fold: every combination of this many (default 1)."),
    folds: int = typer.Option(None, help="Use this many of the combinations (a fixed seeded choice; default all)."),
    seeds: int = typer.Option(1, help="Validation splits drawn (0..seeds-1)."),
    encoder: str = typer.Option("minilm", help="Text encoder."),
    view: str = typer.Option("auto", help="Corpus view embedded: armleg, arm, leg, text, or auto (what the corpus holds: "
                             "armleg when every sub-action has Arm and Leg, else text)."),
    out: Path = typer.Option(Path("runs/bench-zero-shot"), help="Output folder (zero_shot.md/.json/.csv)."),
    model: str = typer.Option("sentence-reader", help="Whose numbers the table heads: sentence-reader or mmvqshape "
                              "(the token model fitted per fold; the reader then sits among the baselines)."),
    evaluate_on: str = typer.Option("test", help="test, or val: score validation subjects (for design choices)."),
    architecture: str = typer.Option("bag", "--architecture", help="--model mmvqshape: bag (heads on cached token bags) or "
                                     "plan (the plan's model, trained per fold 10 epochs at batch 32)."),
) -> None:
    """Unseen activities from their sub-action sentences: per fold and mean ± std of
    unseen_accuracy, seen_accuracy, unseen_gzsl_accuracy, harmonic_mean, with baselines and explanations."""
    check_options(unseen_size=unseen_size, folds=folds, seeds=seeds)
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.bench_zero_shot import run_bench_zero_shot

    names = [s.strip() for s in unseen.split(",") if s.strip()] if unseen else None
    result = run_bench_zero_shot(data=data, corpus=corpus or data.split(":")[0], out=out, unseen=names, unseen_size=unseen_size,
                                 folds=folds, seeds=seeds, encoder=encoder, view=view, model=model, evaluate_on=evaluate_on,
                                 architecture=architecture)
    typer.echo(result["markdown"])
    typer.echo(f"written: {out}")


def register(app: typer.Typer) -> None:
    """Add ``mmvq bench ...``."""
    app.add_typer(bench_app, name="bench")
