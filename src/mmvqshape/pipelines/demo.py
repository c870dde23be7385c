"""The main job (``mmvq demo``): the whole plan on bundled data, one report.

``mmvq demo`` runs on shoulder-watch (a smartwatch on the exercised wrist, 10 subjects, 7
shoulder exercises, fixed test subjects; from the ``seglearn`` package); ``mmvq demo --quick``
on BasicMotions (bundled with aeon) as a smoke run; ``mmvq demo --data hapt`` runs the same
story on UCI HAPT (30 subjects, test subjects held out).

Steps, each the same public function its own command calls:

1. data summary                                       → ``data/``
2. embed the shipped corpus with MiniLM, views armleg / arm / leg (a corpus of plain
   sentences: its one view, text)                   → ``text/<view>/``
3. text analyses: projections (t-SNE 2-D, UMAP 3-D, PCA 3-D) of the views side by side, Gram matrix, action-codebook selection, reconstruction probe with and without the
   action codebook                                    → ``analysis/``
4. train + evaluate MiniRocket, summary-lr, VQShape (joint), shape tokens alone, MMVQShape (the
   bag architecture, the default) and MMVQShape as the plan draws it (``--architecture plan``) on
   the official split, every model on the same labelled windows (holdout protocol) → ``runs/``
5. one zero-shot fold (``mmvq bench zero-shot``: two activities held out, chosen by the
   bench's fixed seeded draw)                        → ``zero-shot/``
6. explain the first test window of each class with MMVQShape → ``explain/``
7. ``report.html`` (:func:`~mmvqshape.pipelines.report.build_report`): the headline first,
   then the explanations, the shapes, the text analyses, data and method, provenance.

Every step writes its own output atomically (a temporary name renamed into place), so an
interrupted demo leaves only complete steps; paths recorded inside the outputs (a run's
corpus, say) stay valid. A previous demo in ``out`` is replaced; any other non-empty folder
is refused.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich.console import Console

from ..atomic import atomic_file, write_json
from ..errors import UserError
from ..signals import load_windows
from ..text.corpus import load_corpus
from ..training.config import merge_config
from .analyze import run_codebook, run_gram, run_projection, run_recon
from .bench_zero_shot import run_bench_zero_shot
from .data import format_summary, summarize_data
from .embed import run_embed
from .evaluate import evaluate
from .explain import run_explain
from .report import build_report
from .train import train

VIEWS = ("armleg", "arm", "leg")


@dataclass(frozen=True)
class DemoData:
    """What the demo runs on one data set."""

    name: str
    title: str
    corpus: str  # the shipped sub-action corpus
    codebook_size: int  # action codes chosen from the corpus
    budget: dict[str, Any] = field(default_factory=dict)  # training budget of the neural models (trainer defaults if empty)
    quick_budget: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 2})


#: Data sets the demo knows (``mmvq demo --data``). Budgets are fixed before any run.
DEMO_DATA = {
    "basicmotions": DemoData("BasicMotions", "BasicMotions (wrist smartwatch, 4 activities)", "basicmotions", 24),
    "shoulder-watch": DemoData("Shoulder-watch", "Shoulder-watch (smartwatch on the exercised wrist, 10 subjects, 7 exercises)",
                               "shoulder-watch", 24, budget={"max_epochs": 10, "batch_size": 32},
                               quick_budget={"max_epochs": 1, "batch_size": 32}),
    "hapt": DemoData("UCI HAPT", "UCI HAPT (30 subjects, waist phone, 6 activities)", "hapt", 36,
                     budget={"max_epochs": 10, "batch_size": 32}, quick_budget={"max_epochs": 1, "batch_size": 32}),
}
#: Models of the full story; a second data set's shorter part leaves out VQShape (end-to-end training).
MODELS = ("minirocket", "summary-lr", "vqshape", "shape-tokens", "mmvqshape", "mmvqshape-plan")
#: The main data set when ``--data`` is not given: the wrist data set, or BasicMotions for ``--quick``.
DEFAULT_DATA, QUICK_DATA = "shoulder-watch", "basicmotions"
PART_MODELS = ("minirocket", "summary-lr", "shape-tokens", "mmvqshape", "mmvqshape-plan")
#: The demo's training protocol (the page says it): see :func:`run_story`.
DEMO_PROTOCOL = "holdout"


def one_window_per_class(windows) -> list[int]:
    """Positions in the test split of the first test window of each class, in class order.

    Which windows are shown is chosen by their true label only, never by how well the model
    does on them.
    """
    test_labels = windows.y[windows.indices("test")]
    return [int(np.flatnonzero(test_labels == k)[0]) for k in range(len(windows.labels)) if (test_labels == k).any()]


def _step(log: dict, name: str, fn: Callable[[], Any]) -> Any:
    console = Console(stderr=True)
    console.rule(f"[bold]{name}")
    start = time.perf_counter()
    result = fn()
    log[name] = round(time.perf_counter() - start, 1)
    console.print(f"[green]✓[/green] {name} ({log[name]:.0f} s)")
    return result


def _clear_previous_demo(out: Path) -> None:
    """Remove an earlier demo in ``out``; refuse to touch a folder that holds anything else."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(out, "exists and is not a folder")
    if any(out.iterdir()):
        if not (out / "data" / "summary.json").is_file():
            raise UserError(out, "is not empty and holds no earlier demo; choose another --out")
        shutil.rmtree(out)


def corpus_views(corpus: str) -> tuple[str, ...]:
    """The views the demo embeds: armleg / arm / leg where the corpus has them, else its plain text."""
    available = load_corpus(corpus).available_views()
    return tuple(v for v in VIEWS if v in available) or ("text",)


def run_demo(out: str | Path = "runs/demo", *, data: str | None = None, also: tuple[str, ...] = (), quick: bool = False,
             seed: int = 0) -> dict:
    """Run every step of the plan on ``data`` (a name in :data:`DEMO_DATA`; by default
    :data:`DEFAULT_DATA`, :data:`QUICK_DATA` with ``quick``) into ``out``, then a
    shorter part (MiniRocket vs MMVQShape, explanations; no text analyses, no VQShape) for each
    data set in ``also`` into ``out/<name>``, which the report shows after the first.

    Returns ``{"report", "metrics", "seconds"}`` (metrics of the second parts as ``"<name>/<model>"``).
    """
    data = data or (QUICK_DATA if quick else DEFAULT_DATA)
    for name, where in [(data, "--data"), *[(a, "--also") for a in also]]:
        if name not in DEMO_DATA:
            raise UserError(where, f"the demo runs on {' or '.join(DEMO_DATA)}, not {name!r} (use mmvq train for other data)")
    if data in also:
        raise UserError("--also", f"{data} is already the demo's main data set")
    out = Path(out)
    _clear_previous_demo(out)
    seconds: dict[str, float] = {}
    metrics = run_story(out, data, quick=quick, seed=seed, seconds=seconds)
    for name in also:
        part = run_story(out / name, name, quick=quick, seed=seed, seconds=seconds, models=PART_MODELS,
                         analyses=False, tag=f"{name}: ")
        metrics.update({f"{name}/{model}": m for model, m in part.items()})
    write_json(out / "timing.json", {"kind": "timing", **seconds})
    title = f"MMVQShape demo: {DEMO_DATA[data].title}" if not also else (
        "MMVQShape demo: " + " and ".join(DEMO_DATA[name].name for name in (data, *also)))
    report = _step(seconds, "report", lambda: build_report(out, title=title))
    table = {k: {"accuracy": m.get("accuracy"), "macro_f1": m.get("macro_f1")} for k, m in metrics.items()}
    print(json.dumps(table, indent=1))
    print(f"total {sum(seconds.values()):.0f} s")
    return {"report": report, "metrics": metrics, "seconds": seconds}


def run_story(out: Path, data: str, *, quick: bool, seed: int, seconds: dict[str, float],
              models: tuple[str, ...] = MODELS, analyses: bool = True, tag: str = "") -> dict[str, dict]:
    """The steps of the plan on one data set into ``out``; each step's wall time into ``seconds``
    (step names prefixed with ``tag``).

    ``analyses`` False skips the text analyses (MMVQShape then embeds the corpus itself and
    chooses its action codebook as training does by default).
    """
    spec_of = DEMO_DATA[data]
    budget = spec_of.quick_budget if quick else spec_of.budget

    def summary() -> dict:
        result = summarize_data(data, seed=seed)
        text = format_summary(result)
        write_json(out / "data" / "summary.json", {"kind": "data_summary", **result})
        with atomic_file(out / "data" / "summary.txt") as handle:
            handle.write(text + "\n")
        print(text)
        return result

    _step(seconds, f"{tag}data summary", summary)
    corpus: str = spec_of.corpus
    codebook: Path | None = None
    if analyses:
        views = corpus_views(spec_of.corpus)
        for view in views:
            _step(seconds, f"{tag}embed ({view})",
                  lambda v=view: run_embed(spec_of.corpus, encoder="minilm", view=v, out=out / "text" / v))
        armleg = out / "text" / views[0]  # armleg where the corpus has it
        analysis = out / "analysis"
        view_dirs = [out / "text" / v for v in views]
        for method, dims in (("tsne", 2), ("umap", 3), ("pca", 3)):
            _step(seconds, f"{tag}projection {method} {dims}-D",
                  lambda m=method, d=dims: run_projection(view_dirs, method=m, dims=d, out=analysis / f"projection_{m}_{d}d", seed=seed))
        _step(seconds, f"{tag}Gram matrix", lambda: run_gram(armleg, out=analysis / "gram"))
        codebook = analysis / "codebook"
        _step(seconds, f"{tag}action codebook",
              lambda: run_codebook(armleg, method="kmeans", size=spec_of.codebook_size, out=codebook, seed=seed))
        hidden = (64, 256) if quick else (64, 128, 256, 512)
        _step(seconds, f"{tag}reconstruction probe",
              lambda: run_recon(armleg, hidden=hidden, seeds=2 if quick else 3, codebook=codebook, out=analysis / "recon", seed=seed))
        corpus = str(armleg)

    runs = out / "runs"
    # every model on the same labelled windows: the holdout protocol (baselines fit on the training
    # subjects, trained models choose their epoch on the validation subjects), not mmvq train's
    # refit, which would train each model twice; the page states the protocol
    common = {"data": data, "seed": seed, "progress": True, "protocol": DEMO_PROTOCOL}
    specs = {
        "minirocket": {"model_name": "minirocket"},
        "summary-lr": {"model_name": "summary-lr"},
        # VQShape starts from the shape model shipped with the package (docs/shapes.md, "Shapes that explain")
        "vqshape": {"model_name": "vqshape", "init": "bundled", **budget},
        "shape-tokens": {"model_name": "shape-tokens", **budget},
        "mmvqshape": {"model_name": "mmvqshape", "corpus": corpus, **budget},  # the bag model, the default architecture
        "mmvqshape-plan": {"model_name": "mmvqshape", "model": {"architecture": "plan"}, "corpus": corpus, **budget},
    }
    metrics = {}
    for name in models:
        _step(seconds, f"{tag}train {name}", lambda n=name: train(merge_config(common, specs[n]), runs / n))
        metrics[name] = _step(seconds, f"{tag}evaluate {name}", lambda n=name: evaluate(runs / n))
    _step(seconds, f"{tag}zero-shot fold", lambda: run_bench_zero_shot(
        data=data, corpus=spec_of.corpus, view=corpus_views(spec_of.corpus)[0], unseen_size=2, folds=1, seeds=1,
        out=out / "zero-shot", progress=False, model="mmvqshape"))  # through the model itself; the sentence reader is among its baselines
    if "mmvqshape" in models:
        for index in one_window_per_class(load_windows(data, seed=seed)):
            _step(seconds, f"{tag}explain window {index}",
                  lambda i=index: run_explain(runs / "mmvqshape", index=i, out=out / "explain"))
    return metrics
