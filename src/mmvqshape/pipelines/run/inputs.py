"""The inputs of a run: the windows it trains and is scored on, and its sub-action text."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import UserError
from ...labels import normalize_label, same_labels
from ...signals import load_windows
from ...text.embeddings import EmbeddingSet, load_embeddings
from ...text.encoders import embed_corpus
from ...training.checkpoint import load_task
from ...training.config import TrainConfig


def check_same_labels(windows, labels: Sequence[str], where: str | Path) -> None:
    """A :class:`UserError` unless ``windows`` has the run's ``labels`` (compared by :func:`normalize_label`)."""
    if not same_labels(windows.labels, labels):
        raise UserError(where, f"labels {list(windows.labels)} differ from the run's {list(labels)}")


def load_data(cfg: TrainConfig, data: str | None = None):
    """The windows a run trains and is scored on (split fixed by the run's seed)."""
    return load_windows(data or cfg.data, channels=cfg.data_channels, seed=cfg.seed, val_fraction=cfg.val_fraction)


#: Models whose tokens are shapes (explain and tokenize read them).
SHAPE_MODELS = ("vqshape", "mmvqshape", "shape-tokens")


def load_shape_run(run: Path, checkpoint: Path, cfg: TrainConfig, data: str | None, command: str):
    """``(task, info, windows, labels)`` of a VQShape or MMVQShape run scored on ``data``
    (default: the run's own), with the run's labels checked; ``command`` names the caller in errors."""
    if cfg.model_name not in SHAPE_MODELS:
        raise UserError(run, f"{command} needs a {' or '.join(SHAPE_MODELS)} run, this one is {cfg.model_name}")
    task, info = load_task(checkpoint)
    windows = load_data(cfg, data)
    labels = list(info["labels"])
    check_same_labels(windows, labels, data or cfg.data)
    return task, info, windows, labels


def load_text(corpus: str, encoder: str = "minilm", view: str | None = None) -> EmbeddingSet:
    """An :class:`EmbeddingSet` from an embedding folder (has ``index.json``) or a corpus."""
    path = Path(corpus)
    if path.is_dir():
        return load_embeddings(path)  # names the missing file when it is not an embedding folder
    kwargs: dict[str, Any] = {"encoder": encoder}
    if view is not None:
        kwargs["view"] = view
    return embed_corpus(corpus, **kwargs)


def drop_label_sentences(embeddings: EmbeddingSet, labels: Sequence[str]) -> EmbeddingSet:
    """The same EmbeddingSet without the sub-action rows of ``labels`` (labels stay candidates)."""
    dropped = {normalize_label(n) for n in labels}
    drop_index = [i for i, name in enumerate(embeddings.labels) if normalize_label(name) in dropped]
    keep = ~np.isin(embeddings.owner, drop_index)
    return EmbeddingSet(
        embeddings.subactions[keep], embeddings.label_vectors, list(embeddings.labels), embeddings.owner[keep],
        [s for s, k in zip(embeddings.sentences, keep) if k], dict(embeddings.meta),
    )
