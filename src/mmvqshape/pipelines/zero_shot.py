"""The zero-shot evaluation's inputs read from a corpus: every window label's candidate texts.
The scoring and calibration live in :mod:`mmvqshape.evaluation` (no I/O there)."""

from __future__ import annotations

from typing import Sequence

from ..errors import UserError
from ..models.zero_shot import CandidateTexts
from ..training.data import match_labels


def candidate_texts(embeddings, window_labels: Sequence[str], where: str) -> CandidateTexts:
    """Every window label's sentences and name vector, in the windows' class order."""
    order = match_labels(window_labels, embeddings.labels, where)
    sentences = [embeddings.subactions[embeddings.owner == i] for i in order]
    empty = [window_labels[j] for j, s in enumerate(sentences) if len(s) == 0]
    if empty:
        raise UserError(where, f"labels without sub-action sentences: {', '.join(empty)}")
    return CandidateTexts(list(window_labels), sentences, embeddings.label_vectors[order])
