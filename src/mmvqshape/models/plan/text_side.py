"""The plan's text side: fused text tokens -> action codes -> the label's embedding (reuses ../action.py).

::

    fused_z_t (B, C, K, d)
      -> TextAttributeDecoder (action.py): per channel d -> D, mean over channels
                                                                 action_embedding (B, K, D)
      -> unit length; quantised by cosine to the action codebook (action.py's ActionCodebook:
         M real sentence embeddings, unit, frozen; in training only the seen labels' codes),
         straight-through                                        codes (B, K, D), index (B, K)
         (``action_codebook: false``: the unit vectors go on unquantised)
      -> concatenated in slot order -> ActionDecoder (action.py) label_embedding_pred (B, D)

A candidate label is described by its own sentences put on the K slots in order
(``action.assign_slots``, stretch): :meth:`TextSide.candidate_embeddings` passes those codes
through the same ActionDecoder, so a label never trained on gets a reconstructed embedding too.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..action import ActionCodebook, ActionDecoder, TextAttributeDecoder, assign_slots


class TextSide(nn.Module):
    """fused_z_t (B, C, K, d) -> action codes and label_embedding_pred (see the module docstring)."""

    def __init__(self, dim: int, text_dim: int, n_channels: int, num_slots: int, *, quantize: bool = True,
                 text_hidden: int = 128, action_hidden: int = 256, commitment: float = 0.25):
        super().__init__()
        self.quantize, self.num_slots, self.commitment = quantize, num_slots, commitment
        self.decoder = TextAttributeDecoder(dim, text_dim, n_channels, text_hidden)
        self.codebook = ActionCodebook(text_dim)  # every corpus sentence, unit (set by the task)
        self.action_decoder = ActionDecoder(text_dim, num_slots, action_hidden)

    def forward(self, fused_z_t: torch.Tensor, usable: torch.Tensor | None = None) -> dict[str, Any]:
        """-> ``action_embedding`` (B, K, D), ``unit`` (B, K, D), ``code_index`` (B, K) (nearest
        usable code), ``label_embedding_pred`` (B, D), ``vq_loss`` (commitment; 0 unquantised)."""
        action_embedding = self.decoder(fused_z_t)  # (B, K, D)
        unit = F.normalize(action_embedding, dim=-1)
        codebook = self.codebook.unit_vectors()  # (M, D)
        similarity = unit @ codebook.T  # (B, K, M)
        if usable is not None:
            similarity = similarity.masked_fill(~usable.to(similarity.device), -2.0)
        index = similarity.argmax(-1)  # (B, K)
        if self.quantize:
            chosen = codebook[index]
            codes = unit + (chosen - unit).detach()  # straight-through
            vq_loss = self.commitment * (unit - chosen.detach()).pow(2).sum(-1).mean()
        else:
            codes, vq_loss = unit, unit.sum() * 0.0
        return {"action_embedding": action_embedding, "unit": unit, "code_index": index,
                "label_embedding_pred": self.action_decoder(codes), "vq_loss": vq_loss}

    def candidate_embeddings(self, slots: torch.Tensor) -> torch.Tensor:
        """Each candidate's own codes on the K slots (L', K, D) -> its reconstructed label embedding (L', D)."""
        return self.action_decoder(F.normalize(slots, dim=-1))


def candidate_slots(vectors: torch.Tensor, owner: torch.Tensor, n_labels: int, num_slots: int) -> torch.Tensor:
    """The sentences (M, D) of each of ``n_labels`` labels (``owner`` (M,)) in corpus order, spread over
    ``num_slots`` ordered slots (action.assign_slots, stretch) -> (L', K, D); zeros for a label without sentences."""
    counts = torch.bincount(owner, minlength=n_labels)
    k_max = max(1, int(counts.max()) if len(counts) else 1)
    table = vectors.new_zeros(n_labels, k_max, vectors.shape[1])
    mask = torch.zeros(n_labels, k_max, dtype=torch.bool)
    filled = [0] * n_labels
    for m, label in enumerate(owner.tolist()):
        table[label, filled[label]] = vectors[m]
        mask[label, filled[label]] = True
        filled[label] += 1
    slots, _ = assign_slots(table, mask, num_slots, "stretch")
    return slots
