"""The text side of MMVQShape (plan §5.2): text attribute decoder, action codebook, action decoder.

Shapes (B batch, C channels, K slots, d model width, D sentence-embedding width, M codes)::

    fused_z_t (B, C, K, d) + channel embedding (C, d) + projected channel (mean, log std) (B, C, d)
      -> TextAttributeDecoder (shared MLP d -> hidden -> D)        per channel (B, C, K, D)
      -> mean over channels                                         action_embedding (B, K, D)
      -> L2-normalise, quantise by cosine against the action codebook (M, D), unit vectors too:
         the nearest code is the sentence embedding with the highest cosine; the decoder sees
         it through a straight-through estimator                   action_idx (B, K), codes (B, K, D)
      -> concatenate the K slots in order                           (B, K*D)
      -> ActionDecoder (K*D -> hidden -> D, the plan's ProjectionModel)  label_embedding_pred (B, D)

So quantisation happens in the sentence-embedding space itself, on the unit sphere: every code
is a real sub-action sentence, and its words explain the slot. Channels are joined *before*
quantising (one code per slot, not per channel), because the plan wants the sub-actions of
the whole 3-axis window.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class TextAttributeDecoder(nn.Module):
    """Refine each fused text token and map it into the sentence-embedding space (d -> D)."""

    def __init__(self, dim: int, text_dim: int, n_channels: int, hidden: int = 128):
        super().__init__()
        self.channel_embedding = nn.Parameter(torch.zeros(n_channels, dim))  # (C, d): which axis spoke
        self.stats_projection = nn.Linear(2, dim)  # a channel's (mean, log std), which normalising removed
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, text_dim))

    def forward(self, fused_z_t: torch.Tensor, stats: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, K, d) [+ channel stats (B, C, 2)] -> action_embedding (B, K, D):
        decoded per channel, then averaged over channels."""
        h = fused_z_t + self.channel_embedding[:, None, :]
        if stats is not None:
            h = h + self.stats_projection(stats)[:, :, None, :]
        per_channel = self.mlp(h)  # (B, C, K, D)
        return per_channel.mean(dim=1)


class ActionCodebook(nn.Module):
    """M real sub-action sentence embeddings (unit vectors) and their sentences.

    The vectors are a buffer (frozen) or a parameter (trainable); they are set by
    :meth:`set` before training and resized on ``load_state_dict`` so that a task built from
    its config loads any codebook size. Sentences and their source labels travel in the
    checkpoint as extra state, so a loaded model explains in words without the corpus.
    """

    def __init__(self, text_dim: int, trainable: bool = False):
        super().__init__()
        self.trainable = trainable
        self._register_vectors(torch.zeros(0, text_dim))
        self.sentences: list[str] = []
        self.source_labels: list[str] = []

    def _register_vectors(self, vectors: torch.Tensor) -> None:
        if "vectors" in self._parameters:
            del self._parameters["vectors"]
        if "vectors" in self._buffers:
            del self._buffers["vectors"]
        if self.trainable:
            self.vectors = nn.Parameter(vectors)
        else:
            self.register_buffer("vectors", vectors)

    @property
    def size(self) -> int:
        return int(self.vectors.shape[0])

    def set(self, vectors: Any, sentences: Sequence[str] | None = None, source_labels: Sequence[str] | None = None) -> None:
        """Install M code vectors (M, D) (normalised here) with their sentences and source labels."""
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.vectors.shape[1] or vectors.shape[0] == 0:
            raise ValueError(f"action codebook must be (M>0, {self.vectors.shape[1]}), got {tuple(vectors.shape)}")
        if sentences is not None and len(sentences) != len(vectors):
            raise ValueError("one sentence per code vector is needed")
        vectors = F.normalize(vectors, dim=-1).to(self.vectors.device)
        self._register_vectors(vectors.clone())
        self.sentences = list(sentences) if sentences is not None else [f"code {i}" for i in range(len(vectors))]
        self.source_labels = list(source_labels) if source_labels is not None else [""] * len(vectors)

    def unit_vectors(self) -> torch.Tensor:
        return F.normalize(self.vectors, dim=-1)

    def quantize(self, embedding: torch.Tensor, commitment: float = 0.25) -> dict[str, torch.Tensor]:
        """Nearest code by cosine for each vector of ``embedding`` (..., D).

        Returns ``codes`` (..., D) with a straight-through gradient to ``embedding``, ``index``
        (...,), ``similarity`` (..., M) and ``loss`` = commitment·‖e − sg[c]‖² (+ ‖sg[e] − c‖²
        when the codebook is trainable), on unit vectors (‖a − b‖² = 2 − 2 cos).
        """
        if self.size == 0:
            raise RuntimeError("the action codebook is empty: call set_action_codebook(vectors, sentences) first")
        unit = F.normalize(embedding, dim=-1)  # (..., D)
        codebook = self.unit_vectors()  # (M, D)
        similarity = unit @ codebook.T  # (..., M)
        index = similarity.argmax(dim=-1)  # (...,)
        chosen = codebook[index]  # (..., D)
        loss = commitment * (unit - chosen.detach()).pow(2).sum(-1).mean()
        if self.trainable:
            loss = loss + (unit.detach() - chosen).pow(2).sum(-1).mean()
        codes = unit + (chosen - unit).detach()
        return {"codes": codes, "index": index, "similarity": similarity, "loss": loss}

    # --- checkpoint plumbing -------------------------------------------------------------
    def get_extra_state(self) -> dict[str, Any]:
        return {"sentences": list(self.sentences), "source_labels": list(self.source_labels)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.sentences = list(state.get("sentences", []))
        self.source_labels = list(state.get("source_labels", []))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001 - torch's signature
        incoming = state_dict.get(prefix + "vectors")
        if incoming is not None and incoming.shape != self.vectors.shape:
            self._register_vectors(torch.zeros_like(incoming, device=self.vectors.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class ActionDecoder(nn.Module):
    """The plan's projection: K slot vectors concatenated in order -> hidden -> label embedding (D)."""

    def __init__(self, text_dim: int, num_slots: int, hidden: int = 256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(num_slots * text_dim, hidden), nn.ReLU(), nn.Linear(hidden, text_dim))

    def forward(self, slots: torch.Tensor) -> torch.Tensor:
        """(B, K, D) -> (B, D)."""
        return self.mlp(rearrange(slots, "b k d -> b (k d)"))


def assign_slots(
    sub_actions: torch.Tensor, mask: torch.Tensor | None, num_slots: int, how: str = "stretch"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Put a label's ordered sub-actions (B, K_data, D) + mask (B, K_data) onto the model's K slots.

    ``pad``: slot k is sub-action k (truncated / padded to K, the mask says which are real).
    ``stretch``: the n real sub-actions of each sample are spread evenly over the K slots as
    ordered phases (slot k gets sub-action round(k·(n−1)/(K−1))), so every slot has a target
    whether the label has 5 sentences or 10. Returns (B, K, D) and the slot mask (B, K).
    """
    batch, k_data, _ = sub_actions.shape
    if mask is None:
        mask = torch.ones(batch, k_data, dtype=torch.bool, device=sub_actions.device)
    mask = mask.bool()
    if how == "pad":
        if k_data >= num_slots:
            return sub_actions[:, :num_slots], mask[:, :num_slots]
        pad = num_slots - k_data
        return F.pad(sub_actions, (0, 0, 0, pad)), F.pad(mask, (0, pad), value=False)
    if how != "stretch":
        raise ValueError(f"slot assignment must be 'stretch' or 'pad', got {how!r}")
    # real sub-actions are assumed to come first (padding at the end), as the data module builds them
    count = mask.sum(dim=1)  # (B,)
    slot = torch.arange(num_slots, device=sub_actions.device, dtype=torch.float32)
    scale = (count.clamp(min=1) - 1).float()[:, None] / max(num_slots - 1, 1)  # (B, 1)
    source = torch.round(slot[None, :] * scale).long().clamp(max=k_data - 1)  # (B, K)
    gathered = torch.gather(sub_actions, 1, source[..., None].expand(-1, -1, sub_actions.shape[-1]))
    slot_mask = (count > 0)[:, None].expand(-1, num_slots)
    return gathered, slot_mask
