"""``mmvq embed``: a corpus through a text encoder into an embedding folder (design.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..text.corpus import Corpus
from ..text.embeddings import save_embeddings
from ..text.encoders import embed_corpus


def run_embed(
    corpus: Corpus | str | Path,
    *,
    encoder: str | Path = "minilm",
    view: str | None = None,
    pooling: str | None = None,
    out: str | Path,
    device: str = "auto",
    cache: bool = True,
    verbose: bool = True,
) -> Path:
    """Embed every sub-action and label of ``corpus`` and write the folder ``out`` atomically.

    ``view`` ``None`` = auto (armleg when every sub-action has Arm and Leg, else text).
    The on-disk cache (``$MMVQ_CACHE_DIR``) makes a re-run encode nothing; ``cache=False``
    neither reads nor writes it. Returns ``out``. With ``verbose`` a one-line summary is
    printed (rows, dimension, encoder, view, how many sentences were encoded vs cached).
    """
    stats: dict[str, Any] = {}
    embeddings = embed_corpus(corpus, encoder=encoder, view=view, pooling=pooling, device=device, cache=cache, stats=stats)
    path = save_embeddings(embeddings, out)
    if verbose:
        meta = embeddings.meta
        cached = stats["n_texts"] - stats["n_encoded"]
        print(
            f"wrote {path}: {len(embeddings.sentences)} sub-actions x {embeddings.dim} and {len(embeddings.labels)} labels "
            f"({meta['encoder']}, pooling {meta['pooling']}, view {meta['view']}, normalized {meta['normalized']}); "
            f"encoded {stats['n_encoded']}, from cache {cached}, {stats['seconds']:.1f} s"
        )
    return path
