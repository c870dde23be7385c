"""The main job (``mmvq demo``): the whole plan on bundled BasicMotions data, one report.

Steps, each the same public function its own command calls:

1. data summary                                       → ``data/``
2. embed the shipped corpus with MiniLM, views armleg / arm / leg   → ``text/<view>/``
3. text analyses: projections (t-SNE 2-D, UMAP 3-D, PCA 3-D) of arm / leg / arm+leg side by
   side, Gram matrix, action-codebook selection, reconstruction probe with and without the
   action codebook                                    → ``analysis/``
4. train + evaluate MiniRocket, VQShape (joint) and MMVQShape on the official split → ``runs/``
5. explain the first test window of each class with MMVQShape → ``explain/``
6. ``report.html`` (:func:`~mmvqshape.pipelines.report.build_report`): the headline first,
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
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich.console import Console

from ..atomic import atomic_file, write_json
from ..errors import UserError
from ..signals import load_windows
from ..training.config import merge_config
from .analyze import run_codebook, run_gram, run_projection, run_recon
from .data import format_summary, summarize_data
from .embed import run_embed
from .evaluate import evaluate
from .explain import run_explain
from .report import build_report
from .train import train

CORPUS = "basicmotions"
VIEWS = ("armleg", "arm", "leg")
#: Epochs of the demo's neural models (None = the trainer's default); quick is a smoke run.
EPOCHS = {"full": {"vqshape": None, "mmvqshape": None}, "quick": {"vqshape": 2, "mmvqshape": 2}}


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


def run_demo(out: str | Path = "runs/demo", *, quick: bool = False, seed: int = 0) -> dict:
    """Run every step of the plan on BasicMotions into ``out``; returns ``{"report", "metrics", "seconds"}``."""
    out = Path(out)
    _clear_previous_demo(out)
    seconds: dict[str, float] = {}
    epochs = EPOCHS["quick" if quick else "full"]

    def summary() -> dict:
        result = summarize_data("basicmotions", seed=seed)
        text = format_summary(result)
        write_json(out / "data" / "summary.json", result)
        with atomic_file(out / "data" / "summary.txt") as handle:
            handle.write(text + "\n")
        print(text)
        return result

    _step(seconds, "data summary", summary)
    for view in VIEWS:
        _step(seconds, f"embed ({view})", lambda v=view: run_embed(CORPUS, encoder="minilm", view=v, out=out / "text" / v))
    armleg = out / "text" / "armleg"
    analysis = out / "analysis"
    view_dirs = [out / "text" / v for v in VIEWS]
    _step(seconds, "projection t-SNE 2-D", lambda: run_projection(view_dirs, method="tsne", dims=2, out=analysis / "projection_tsne_2d", seed=seed))
    _step(seconds, "projection UMAP 3-D", lambda: run_projection(view_dirs, method="umap", dims=3, out=analysis / "projection_umap_3d", seed=seed))
    _step(seconds, "projection PCA 3-D", lambda: run_projection(view_dirs, method="pca", dims=3, out=analysis / "projection_pca_3d", seed=seed))
    _step(seconds, "Gram matrix", lambda: run_gram(armleg, out=analysis / "gram"))
    codebook = analysis / "codebook"
    _step(seconds, "action codebook", lambda: run_codebook(armleg, method="kmeans", size=24, out=codebook, seed=seed))
    hidden = (64, 256) if quick else (64, 128, 256, 512)
    _step(seconds, "reconstruction probe", lambda: run_recon(armleg, hidden=hidden, seeds=2 if quick else 3, codebook=codebook,
                                                             out=analysis / "recon", seed=seed))

    runs = out / "runs"
    common = {"data": "basicmotions", "seed": seed, "progress": True}
    specs = {
        "minirocket": {"model_name": "minirocket"},
        "vqshape": {"model_name": "vqshape", "max_epochs": epochs["vqshape"]},
        "mmvqshape": {"model_name": "mmvqshape", "corpus": str(armleg), "codebook": str(codebook),
                      "max_epochs": epochs["mmvqshape"]},
    }
    metrics = {}
    for name, spec in specs.items():
        _step(seconds, f"train {name}", lambda s=spec, n=name: train(merge_config(common, s), runs / n))
        metrics[name] = _step(seconds, f"evaluate {name}", lambda n=name: evaluate(runs / n))
    for index in one_window_per_class(load_windows("basicmotions", seed=seed)):
        _step(seconds, f"explain window {index}", lambda i=index: run_explain(runs / "mmvqshape", index=i, out=out / "explain"))
    write_json(out / "timing.json", seconds)
    report = _step(seconds, "report", lambda: build_report(out, title="MMVQShape demo: BasicMotions"))
    table = {k: {"accuracy": m.get("accuracy"), "macro_f1": m.get("macro_f1")} for k, m in metrics.items()}
    print(json.dumps(table, indent=1))
    print(f"total {sum(seconds.values()):.0f} s")
    return {"report": report, "metrics": metrics, "seconds": seconds}
