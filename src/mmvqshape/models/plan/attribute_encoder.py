"""The plan's attribute encoder over the channels' (fused) tokens.

::

    fused_z_s (B, C, P, d)   (P time bins of tokens, tokens.py)
      -> per channel, Q learned latents read the channel's P tokens (cross-attention)  (B, C, Q, d)
      -> + channel embedding, a small Transformer over the C*Q latents               (B, C*Q, d)
      -> mean                                                                      pooled (B, d)

Reading P tokens through Q latents keeps the Transformer's sequence short (C*Q, not C*P), so an
epoch on cached tokens costs seconds on a CPU.
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn

from ..fusion import CrossAttentionBlock


class AttributeEncoder(nn.Module):
    """fused signal tokens (B, C, P, d) -> pooled (B, d) (see the module docstring)."""

    def __init__(self, dim: int, n_channels: int, heads: int = 4, latents: int = 4, layers: int = 1, dropout: float = 0.1):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(latents, dim) * 0.5)  # (Q, d)
        self.read = CrossAttentionBlock(dim, heads)
        self.channel = nn.Parameter(torch.zeros(n_channels, 1, dim))  # (C, 1, d)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, channels = tokens.shape[:2]
        queries = repeat(self.latents, "q d -> n q d", n=batch * channels)
        latents = self.read(queries, rearrange(tokens, "b c n d -> (b c) n d"))  # (B*C, Q, d)
        latents = rearrange(latents, "(b c) q d -> b c q d", c=channels) + self.channel
        encoded = self.encoder(rearrange(latents, "b c q d -> b (c q) d"))  # (B, C*Q, d)
        return self.norm(encoded.mean(dim=1))  # (B, d)
