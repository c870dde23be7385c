"""``mmvq evaluate RUN``: score a run's best checkpoint on the test split, once.

Writes ``metrics.json``, ``predictions.csv`` and figures (``scoring.py`` says what each
holds). Honesty: test items never carry sub-action text, so the numbers do not depend on
the corpus sentences passed. Notebook use::

    from mmvqshape.pipelines.evaluate import evaluate
    metrics = evaluate("runs/vq")
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..models import BASELINES
from .run.folder import find_checkpoint, read_run
from .run.inputs import load_data, load_text
from .scoring import read_baseline, score_baseline, score_run


def evaluate(run: str | Path, *, data: str | None = None, corpus: str | None = None, encoder: str | None = None,
             out: str | Path | None = None) -> dict[str, Any]:
    """Recompute a run's test metrics (optionally on other ``data`` / with another ``corpus``)
    and write ``metrics.json``, ``predictions.csv`` and figures into ``out`` (default: the run)."""
    run = Path(run)
    cfg = read_run(run)
    out = Path(out) if out is not None else run
    out.mkdir(parents=True, exist_ok=True)
    windows = load_data(cfg, data)
    if cfg.model_name in BASELINES:
        return score_baseline(out, cfg=cfg, windows=windows, model=read_baseline(run / "model.joblib", cfg.model_name))
    checkpoint = find_checkpoint(run)
    embeddings = reader_text = None
    if cfg.model_name == "mmvqshape":
        embeddings = load_text(corpus or cfg.corpus, encoder or cfg.encoder, cfg.view)
        # the sub-action reader (explanations, zero-shot) reads the run's own corpus, not the one passed
        reader_text = load_text(cfg.corpus, cfg.encoder, cfg.view) if corpus or encoder else embeddings
    if out != run and cfg.probe and (run / "probe.joblib").is_file():
        shutil.copy2(run / "probe.joblib", out / "probe.joblib")
    return score_run(out, cfg=cfg, windows=windows, checkpoint=checkpoint, embeddings=embeddings,
                     reader_text=reader_text, fit_probe=False, figures=True)
