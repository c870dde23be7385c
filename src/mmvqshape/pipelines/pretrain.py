"""``mmvq pretrain``: one VQShape pre-trained on every channel of several sources, and its reuse.

Pre-training data is the DATA form ``series:A+B+...`` (``signals.loaders.load_series``):
every channel of every window of each source (``hapt``, ``basicmotions``, a ``.npz`` ...)
becomes one univariate series; each source keeps its own train / val / test split (so
validation still chooses the checkpoint — the epoch with the highest reconstruction R² over
every validation series, ``val/r2`` — and test subjects stay unseen); the source
``hapt-unused`` adds the stretches HAPT's 6-activity task does not use (unlabelled spans and
transitions) of the non-test subjects. Labels become ``source/label`` and only feed the
per-class numbers.

:func:`pretrain` trains ``vqshape`` with ``objective: pretrain`` on such data and writes
``RUN/vqshape.safetensors`` (our VQShape file, the format ``mmvq convert-vqshape`` writes
for reference checkpoints). ``mmvq train --init WEIGHTS`` starts VQShape or MMVQShape from
such a file, a pre-training run folder or a training checkpoint
(:func:`mmvqshape.pipelines.run.weights.read_init_weights`, :func:`~mmvqshape.pipelines.run.weights.apply_init`).
Notebook use::

    from mmvqshape.pipelines.pretrain import pretrain
    from mmvqshape.training.config import merge_config
    pretrain(["hapt", "basicmotions"], "runs/pre", merge_config({"max_epochs": 10}))
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..training.checkpoint import load_task
from ..training.config import TrainConfig
from .run.weights import WEIGHTS_FILE
from .train import train
from .vqshape_convert import save_vqshape

SERIES_PREFIX = "series:"


# ---------------------------------------------------------------------------------- data
def series_data(sources: list[str]) -> str:
    """The DATA string of a pre-training run over ``sources`` (see ``signals.loaders.load_series``)."""
    if not sources:
        raise UserError("--data", "pre-training needs at least one --data source")
    for source in sources:
        if "+" in source or source.startswith(SERIES_PREFIX):
            raise UserError(source, "a pre-training source may not contain '+' or 'series:'")
    return SERIES_PREFIX + "+".join(sources)


# ----------------------------------------------------------------------------- pretrain
def pretrain(sources: list[str], out: str | Path, cfg: TrainConfig, *, resume: bool = False) -> dict[str, Any]:
    """Pre-train VQShape on ``sources`` into run folder ``out``; returns train()'s result plus
    ``weights`` (``out/vqshape.safetensors``, from the checkpoint with the best validation R²)."""
    cfg = dataclasses.replace(cfg, model_name="vqshape", data=series_data(sources),
                              model={**cfg.model, "objective": "pretrain", "channels": "independent"})
    result = train(cfg, out, resume=resume)
    if result["best_checkpoint"] is None:  # a DDP worker
        return result
    task, _ = load_task(result["best_checkpoint"])
    weights = save_vqshape(task.shape_model, Path(out) / WEIGHTS_FILE)
    return {**result, "weights": weights}
