"""The classifier the plan's model shares with the bag model.

::

    window bag (B, F)  -> the bag model's classifier (shape_tokens_task.classifier_head)   (B, L)
    pooled     (B, d)  -> dropout -> linear                                              (B, L)
    logits = their sum: one linear read of [bag, pooled]                            logits (B, L)

The segments' bags (B, S, F) go through the same bag classifier -> segment_logits (B, S, L):
each sample's label, which places the sub-actions (plan.py).
"""

from __future__ import annotations

import torch
from torch import nn


class SharedHead(nn.Module):
    """logits of [window bag, pooled tokens]; ``bag_classifier`` is the bag model's head (shared, not copied)."""

    def __init__(self, bag_classifier: nn.Module, dim: int, n_classes: int, dropout: float = 0.1, use_bag: bool = True):
        super().__init__()
        self.bag_classifier = bag_classifier if use_bag else None
        self.pooled = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, n_classes))

    def forward(self, bags: torch.Tensor, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """bags (B, 1 + S, F), pooled (B, d) -> logits (B, L), segment_logits (B, S, L) (None without the bag)."""
        logits = self.pooled(pooled)
        if self.bag_classifier is None:
            return logits, None
        all_logits = self.bag_classifier(bags)  # (B, 1 + S, L)
        return logits + all_logits[:, 0], all_logits[:, 1:]
