"""The inputs of a run: the windows it trains and is scored on, and its sub-action text."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import UserError
from ...labels import normalize_label, same_labels
from ...signals import load_new_windows, load_windows
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


def load_applied_data(cfg: TrainConfig, data: str | None, info: dict[str, Any] | None = None):
    """The windows a run is applied to (``explain``, ``evaluate``): the run's own data as trained
    when ``data`` is None or the run's; else ``data`` read as new windows (any splits or none,
    ``y`` optional, :func:`~mmvqshape.signals.load_new_windows`), which must have the window
    length and channels the run was trained on (``info``: the checkpoint's; without it the run's
    data is read to learn them)."""
    if data is None or str(data) == str(cfg.data):
        return load_data(cfg, data)
    labels = list(info["labels"]) if info else None
    windows = load_new_windows(data, channels=cfg.data_channels, seed=cfg.seed, val_fraction=cfg.val_fraction, labels=labels)
    check_as_trained(windows, *trained_shape(cfg, info), data)
    return windows


def trained_shape(cfg: TrainConfig, info: dict[str, Any] | None) -> tuple[int, int]:
    """(window length as loaded, channels) of the data a run was trained on: from its checkpoint's
    ``info`` (``data_length``, ``n_channels``), else by reading the run's data."""
    if info and info.get("data_length") is not None:
        return int(info["data_length"]), int(info["n_channels"])
    trained = load_data(cfg)
    return trained.length, trained.n_channels


def check_as_trained(windows, length: int, n_channels: int, where: str | Path) -> None:
    """A one-line :class:`UserError` naming ``where`` unless ``windows`` hold ``length``-sample
    windows of ``n_channels`` channels, as the run was trained on."""
    differs = [f"{what} {got} where the run was trained on {expected}"
               for what, got, expected in (("window length", windows.length, length), ("channels", windows.n_channels, n_channels))
               if got != expected]
    if differs:
        raise UserError(where, "has " + " and ".join(differs) + " (the windows must be cut as the run's were)")


#: Models whose tokens are shapes (explain and tokenize read them).
SHAPE_MODELS = ("vqshape", "mmvqshape", "shape-tokens")


def load_shape_run(run: Path, checkpoint: Path, cfg: TrainConfig, data: str | None, command: str):
    """``(task, info, windows, labels)`` of a VQShape or MMVQShape run scored on ``data``
    (default: the run's own), with the run's labels checked; ``command`` names the caller in errors."""
    if cfg.model_name not in SHAPE_MODELS:
        raise UserError(run, f"{command} needs a {' or '.join(SHAPE_MODELS)} run, this one is {cfg.model_name}")
    task, info = load_task(checkpoint)
    windows = load_applied_data(cfg, data, info)
    if not windows.labelled and command != "explain":
        raise UserError(data, f"has no y (each window's label), which {command} writes; mmvq explain reads files without it")
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
