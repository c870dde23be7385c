"""``mmvq evaluate RUN``: score a run's best checkpoint on the test split, once.

Writes ``metrics.json``, ``predictions.csv`` and figures (``scoring.py`` says what each
holds). Honesty: test items never carry sub-action text, so the numbers do not depend on
the corpus sentences passed. Notebook use::

    from mmvqshape.pipelines.evaluate import evaluate
    metrics = evaluate("runs/vq")

:func:`measure_sentences` scores a token MMVQShape's own chosen sentences (``explanation`` and,
for windows with ``activity``, ``grounding``) on another split, the validation split by default:
how an explanation rule is chosen without looking at test windows::

    from mmvqshape.pipelines.evaluate import measure_sentences
    val = measure_sentences("runs/mm", data="hapt-boundary", split="val")
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..labels import normalize_label
from ..models import BASELINES
from ..signals.windows import with_training_windows
from ..training.checkpoint import load_task, read_checkpoint
from ..training.module import CHECKPOINT_KEY
from ..training.data import SignalDataset, split_positions
from ..training.evaluation import collect_outputs
from ..training.explanation_metrics import explanation_metrics
from ..evaluation.grounding import sentence_label_index, token_model_grounding
from ..training.refit import SELECTION_FILE, run_windows
from .run.folder import find_checkpoint, read_run
from .run.inputs import check_same_labels, load_applied_data, load_data, load_text
from .scoring import read_baseline, score_baseline, score_run


def evaluate(run: str | Path, *, data: str | None = None, corpus: str | None = None, encoder: str | None = None,
             out: str | Path | None = None) -> dict[str, Any]:
    """Recompute a run's test metrics (optionally on other ``data`` / with another ``corpus``)
    and write ``metrics.json``, ``predictions.csv`` and figures into ``out`` (default: the run).

    Other ``data`` is read as new windows (:func:`~.run.inputs.load_applied_data`): any splits or
    none (every window is then test), cut as the run's were; it must hold ``y`` (scores need
    labels: a file without is a :class:`UserError` before anything is written). New windows
    without a training split are scored with the run's own training and validation windows
    appended behind them (:func:`~mmvqshape.signals.windows.with_training_windows`): the
    reconstruction, shape and baseline yardsticks fit on training windows, as at training."""
    run = Path(run)
    cfg = read_run(run)
    out = Path(out) if out is not None else run
    checkpoint = None if cfg.model_name in BASELINES else find_checkpoint(run)
    info = None if checkpoint is None else read_checkpoint(checkpoint)[CHECKPOINT_KEY]
    windows = run_windows(cfg, load_applied_data(cfg, data, info))  # refit: the validation windows were trained on
    if not windows.labelled:
        raise UserError(data, "has no y (each window's label): evaluate scores against labels; "
                              "mmvq explain RUN --data FILE --all applies the model without them")
    if len(windows.indices("test")) == 0:
        raise UserError(data or cfg.data, "has no test windows to evaluate")
    out.mkdir(parents=True, exist_ok=True)
    if checkpoint is None:
        return score_baseline(out, cfg=cfg, windows=windows, model=read_baseline(run / "model.joblib", cfg.model_name))
    embeddings = reader_text = None
    if cfg.model_name == "mmvqshape":
        embeddings = load_text(corpus or cfg.corpus, encoder or cfg.encoder, cfg.view)
        # the sub-action reader (explanations, zero-shot) reads the run's own corpus, not the one passed
        reader_text = load_text(cfg.corpus, cfg.encoder, cfg.view) if corpus or encoder else embeddings
    if out != run and cfg.probe and (run / "probe.joblib").is_file():
        shutil.copy2(run / "probe.joblib", out / "probe.joblib")
    if not len(windows.indices("train")):  # new windows without a training split: yardsticks fit on the run's own
        windows = with_training_windows(windows, run_windows(cfg, load_data(cfg)))
    selection = run / SELECTION_FILE  # the refit protocol: what validation chose, kept beside the scores
    return score_run(out, cfg=cfg, windows=windows, checkpoint=checkpoint, embeddings=embeddings,
                     reader_text=reader_text, fit_probe=False, figures=True,
                     selection=json.loads(selection.read_text())["selection"] if selection.is_file() else None)


def measure_sentences(run: str | Path, *, data: str | None = None, split: str = "val", batch_size: int = 256) -> dict[str, Any]:
    """A token MMVQShape run's own chosen sentences on the ``split`` windows of ``data`` (default:
    the run's data): ``explanation`` (precision, diversity, repeat rate ... over the windows of
    seen labels) and, for windows with ``activity``, ``grounding``. Signal only, as in
    evaluation; nothing is written. A run of another model is a :class:`UserError`."""
    run = Path(run)
    cfg = read_run(run)
    task, info = load_task(find_checkpoint(run))
    if not getattr(task, "sentences", None) or not hasattr(task, "segment_span"):
        raise UserError(run, "measuring chosen sentences needs a token mmvqshape run")
    windows = load_data(cfg, data)
    labels = list(windows.labels)
    check_same_labels(windows, list(info["labels"]), data or cfg.data)
    dataset = SignalDataset(windows, split_positions(windows, split), cfg.length, cfg.normalize, scale=info.get("scale"))
    if len(dataset) == 0:
        raise UserError(data or cfg.data, f"has no {split} windows")
    outputs = collect_outputs(task, dataset, batch_size=batch_size, figure_at=[])  # (N, K) action_idx, (N, K, 2) spans
    owner = sentence_label_index(task.source_labels, labels)
    held_out = {normalize_label(n) for n in cfg.holdout_labels or []}
    seen = np.isin(outputs["label"], [i for i, name in enumerate(labels) if normalize_label(name) not in held_out])
    result: dict[str, Any] = {"split": split, "data": str(windows.name), "n_windows": len(dataset),
                              "explanation": explanation_metrics(outputs["action_idx"][seen], np.where(owner < 0, len(labels), owner),
                                                                 outputs["label"][seen], candidates=task.sentence_seen.numpy())}
    if windows.activity is not None:
        result["grounding"] = token_model_grounding(windows, outputs, task.source_labels, int(info["length"]))
    return result
