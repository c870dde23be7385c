"""The fusion layer of MMVQShape (plan §5.1): signal and text tokens meet, channel by channel.

Shapes (B batch, C channels, P patches, K sub-action slots, d model width, D text width)::

    signal tokens  (B, C, P, d)   the VQShape patch encoder's output, per channel
    text tokens    (B, K, D)      sub-action sentence embeddings (or nothing: see below)
        -> project to d, add a learned slot position                    (B, K, d)
        -> copy to every channel                                          (B, C, K, d)
    in each channel, one cross-attention block per direction, both reading the *inputs*:
        fused_z_s = LN(z_s + Attn(query=z_s, key=value=text))            (B, C, P, d)
        fused_z_t = LN(text + Attn(query=text, key=value=z_s[c]))        (B, C, K, d)

When text is absent (always at validation, test and explanation; a share of training
samples by modality dropout) the K text tokens are replaced by K learned *sub-action query*
tokens, so the same two attention blocks run and the model reads only the signal.
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn


class CrossAttentionBlock(nn.Module):
    """``LN(query + MultiHeadAttention(query, context, context))`` — one block, batch first."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        # query (N, Q, d), context (N, S, d) -> (N, Q, d)
        attended, _ = self.attention(query, context, context, need_weights=False)
        return self.norm(query + attended)


class TextTokens(nn.Module):
    """Sub-action embeddings -> K text tokens of width d, or K learned queries when text is absent.

    ``present`` (B,) bool chooses per sample: a sample whose text is present uses its projected
    sub-actions (slots whose ``mask`` is False fall back to that slot's query); an absent sample
    uses the queries only. With ``sub_actions=None`` nothing text-side is read at all.
    """

    def __init__(self, text_dim: int, dim: int, num_slots: int):
        super().__init__()
        self.num_slots = num_slots
        self.text_projection = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, dim))
        self.slot_position = nn.Parameter(torch.randn(num_slots, dim))  # (K, d): slot k = phase k; unit scale so slots stay distinct
        self.subaction_queries = nn.Parameter(torch.randn(num_slots, dim))  # (K, d)

    def queries(self, batch_size: int) -> torch.Tensor:
        """The signal-only text tokens, (B, K, d)."""
        return repeat(self.subaction_queries + self.slot_position, "k d -> b k d", b=batch_size)

    def forward(
        self,
        batch_size: int,
        sub_actions: torch.Tensor | None = None,  # (B, K, D)
        mask: torch.Tensor | None = None,  # (B, K) bool
        present: torch.Tensor | None = None,  # (B,) bool
    ) -> torch.Tensor:
        tokens = self.queries(batch_size)  # (B, K, d)
        if sub_actions is None:
            return tokens
        projected = self.text_projection(sub_actions) + self.slot_position  # (B, K, d)
        use_text = torch.ones(sub_actions.shape[:2], dtype=torch.bool, device=sub_actions.device)
        if mask is not None:
            use_text = use_text & mask.bool()
        if present is not None:
            use_text = use_text & present.bool()[:, None]
        return torch.where(use_text[..., None], projected, tokens)


class FusionLayer(nn.Module):
    """Per-channel cross-attention + residual in both directions (see the module docstring)."""

    def __init__(self, dim: int, heads: int = 4, dropout: float = 0.0):
        super().__init__()
        self.signal_reads_text = CrossAttentionBlock(dim, heads, dropout)
        self.text_reads_signal = CrossAttentionBlock(dim, heads, dropout)

    def forward(self, signal_tokens: torch.Tensor, text_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``signal_tokens`` (B, C, P, d), ``text_tokens`` (B, K, d) -> fused_z_s (B, C, P, d), fused_z_t (B, C, K, d)."""
        channels = signal_tokens.shape[1]
        z_s = rearrange(signal_tokens, "b c p d -> (b c) p d")
        z_t = repeat(text_tokens, "b k d -> (b c) k d", c=channels)
        fused_s = self.signal_reads_text(z_s, z_t)  # (B*C, P, d)
        fused_t = self.text_reads_signal(z_t, z_s)  # (B*C, K, d)
        fused_z_s = rearrange(fused_s, "(b c) p d -> b c p d", c=channels)
        fused_z_t = rearrange(fused_t, "(b c) k d -> b c k d", c=channels)
        return fused_z_s, fused_z_t

    def text_attention(self, signal_tokens: torch.Tensor, text_tokens: torch.Tensor) -> torch.Tensor:
        """Where each text token reads the signal: ``signal_tokens`` (B, C, P, d), ``text_tokens``
        (B, K, d) -> attention weights (B, C, K, P), mean over heads (rows sum to 1)."""
        channels = signal_tokens.shape[1]
        z_s = rearrange(signal_tokens, "b c p d -> (b c) p d")
        z_t = repeat(text_tokens, "b k d -> (b c) k d", c=channels)
        _, weights = self.text_reads_signal.attention(z_t, z_s, z_s, need_weights=True, average_attn_weights=True)
        return rearrange(weights, "(b c) k p -> b c k p", c=channels)
