"""The task protocol: what the trainer and the pipelines may ask of any model.

Every model the trainer, ``evaluate``, ``explain`` and ``bench`` handle — :class:`VQShapeTask`
(``vqshape_task.py``), :class:`MMVQShapeTask` (``mmvqshape.py``) and the fitted baselines
:class:`MiniRocketClassifier` (``minirocket.py``) and :class:`SummaryLRClassifier`
(``summary_lr.py``) — implements :class:`Task`, so callers ask it directly instead of
probing attributes:

- ``task(batch) -> outputs``. ``batch``: ``signal`` (B, C, T) float, ``label`` (B,) int and,
  for a model with a text side, ``sub_actions`` (B, K, D), ``sub_action_mask`` (B, K),
  ``label_embedding`` (B, D), ``text_present`` (bool). ``outputs`` (the keys a model has;
  see :data:`OUTPUT_KEYS`).
- ``num_codes()``: the size of each codebook the outputs index, by name (``"shape"`` for
  ``code_idx``, ``"action"`` for ``action_idx``); ``{}`` for a model without codes.
- ``fit_shapes(signals, seed=)``: learn what is fitted before training (a frozen shape
  codebook) from training windows (M, C, T); a no-op for models trained end to end.
- ``frozen_features(signals)``: what the frozen parts make of windows (M, C, T), as one tensor
  per window that the trainer may cache and hand back as ``batch["frozen_features"]`` (the
  forward then skips the frozen parts); None for models trained end to end.
- ``resolved_config()``: the flat config dict the model was built with, defaults filled in
  (what ``config.yaml`` stores and ``mmvqshape.models.build_task`` rebuilds from).
- explanation hooks: ``label_candidates()`` (names, (L, D) embeddings kept with the model
  for zero-shot), ``zero_shot_scores(outputs, candidates)`` (B, L'), ``action_sentences`` /
  ``action_source_labels`` (the words behind ``action_idx``). A model without a text side
  inherits :class:`SignalOnly`: no candidates, and the other hooks raise ``ValueError``.

Models raise ``ValueError`` for a config or input they cannot use; the pipelines turn it
into the one-line user error.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

#: Output keys and their shapes (B windows, C channels, N shape tokens, K sub-action slots,
#: L classes, D text dimension, T samples, len_s samples per shape).
OUTPUT_KEYS: dict[str, str] = {
    "loss": "scalar: the weighted training loss",
    "losses": "{name: scalar}: every unweighted loss term",
    "logits": "(B, L) class scores (models that classify)",
    "code_idx": "(B, C, N) shape code of each token",
    "t": "(B, C, N) shape start, fraction of the window",
    "l": "(B, C, N) shape length, fraction of the window",
    "mu": "(B, C, N) shape offset (normalised units)",
    "sigma": "(B, C, N) shape scale (normalised units)",
    "s_pred": "(B, C, N, len_s) decoded shapes in the signal's units",
    "s_true": "(B, C, N, len_s) the signal under each shape",
    "x_pred": "(B, C, T) reconstruction",
    "action_embedding": "(B, K, D) decoded sub-action vectors (text side)",
    "action_idx": "(B, K) action codebook entry of each slot (text side)",
    "action_similarity": "(B, K) cosine of each slot to its entry (text side)",
    "label_embedding_pred": "(B, D) predicted label embedding (text side)",
    "segment_logits": "(B, S, L) class scores of each segment of the window (token MMVQShape)",
    "text_scores": "(B, L') each candidate label's sentences matched to the window's segments (token MMVQShape)",
    "action_span": "(B, K, 2) first and one-past-last sample of each chosen sentence's segment (token MMVQShape)",
}


@runtime_checkable
class Task(Protocol):
    """A model the trainer and the pipelines can run, score and explain (see the module docstring)."""

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]: ...

    def num_codes(self) -> dict[str, int]: ...

    def resolved_config(self) -> dict[str, Any]: ...

    def fit_shapes(self, signals: torch.Tensor, *, seed: int = 0) -> None: ...

    def frozen_features(self, signals: torch.Tensor) -> torch.Tensor | None: ...

    def label_candidates(self) -> tuple[list[str], torch.Tensor]: ...

    def zero_shot_scores(self, outputs_or_batch: dict[str, Any], candidates: Any) -> torch.Tensor: ...

    def action_sentences(self, action_idx: torch.Tensor) -> list[list[str]]: ...

    def action_source_labels(self, action_idx: torch.Tensor) -> list[list[str]]: ...


class SignalOnly:
    """The explanation hooks of a model without a text side: no words, no zero-shot candidates."""

    def fit_shapes(self, signals: torch.Tensor, *, seed: int = 0) -> None:
        """Fit the parts learnt before training from training windows (M, C, T); none here."""

    def frozen_features(self, signals: torch.Tensor) -> torch.Tensor | None:
        """Nothing frozen to cache."""
        return None

    def label_candidates(self) -> tuple[list[str], torch.Tensor]:
        return [], torch.zeros(0, 0)

    def zero_shot_scores(self, outputs_or_batch: dict[str, Any], candidates: Any) -> torch.Tensor:
        raise ValueError(f"{type(self).__name__} has no text side: no label embedding to score")

    def action_sentences(self, action_idx: torch.Tensor) -> list[list[str]]:
        raise ValueError(f"{type(self).__name__} has no action codebook")

    def action_source_labels(self, action_idx: torch.Tensor) -> list[list[str]]:
        raise ValueError(f"{type(self).__name__} has no action codebook")
