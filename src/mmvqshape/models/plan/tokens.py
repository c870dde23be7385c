"""The plan's signal tokens: frozen shape tokens as one cached tensor, and their embeddings.

::

    tokenizer outputs code_idx, mu, sigma, t, l      each (B, C, N)
      -> token_features: [code, mu, log sigma, t, l]  (B, C, N, 5)   what the trainer caches per window
      -> TokenEmbedding: code embedding (num_code, d) + MLP(mu, log sigma, t, l -> d)
         + channel embedding (C, d)                   (B, C, N, d)
      -> mean over the tokens whose centre falls in each of P equal time bins, + bin position
         (``bins``; 0 keeps every token)                (B, C, P, d)

Binning keeps what the fusion and the attribute encoder attend over short (P = 16 bins for 121
tokens per channel by default), so an epoch on cached tokens costs seconds on a CPU, while the
window's bag keeps every token for the classifier.
"""

from __future__ import annotations

import torch
from torch import nn

N_FEATURES = 5  # code, mu, log sigma, t, l
SIGMA_FLOOR = 1e-3


def token_features(tokens: dict[str, torch.Tensor]) -> torch.Tensor:
    """The tokenizer's outputs -> (B, C, N, 5): code (as a float), mu, log sigma, t, l."""
    log_sigma = (tokens["sigma"] + SIGMA_FLOOR).log()
    return torch.stack([tokens["code_idx"].float(), tokens["mu"], log_sigma, tokens["t"], tokens["l"]], dim=-1)


def bin_weights(start: torch.Tensor, end: torch.Tensor, length: int, bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens' [start, end) samples (N,) -> (N, P) weights averaging the tokens whose centre lies
    in each of ``bins`` equal spans of the window, and the bins' [start, end) samples (P, 2)."""
    edges = torch.linspace(0, length, bins + 1).round().long()
    centre = (start + end).float() / 2
    which = torch.bucketize(centre, edges[1:-1].float(), right=True)  # (N,)
    weights = torch.nn.functional.one_hot(which, bins).float()
    weights = weights / weights.sum(0, keepdim=True).clamp(min=1)
    return weights, torch.stack([edges[:-1], edges[1:]], dim=-1)


class TokenEmbedding(nn.Module):
    """(B, C, N, 5) token features -> (B, C, P, d) embeddings (see the module docstring)."""

    def __init__(self, num_code: int, n_channels: int, dim: int, bin_weights: torch.Tensor | None = None):
        super().__init__()
        self.register_buffer("bin_weights", bin_weights, persistent=False)  # (N, P) or None
        if bin_weights is not None:
            self.bin_position = nn.Parameter(torch.randn(bin_weights.shape[1], dim) * 0.1)  # (P, d)
        self.code = nn.Embedding(num_code, dim)  # (num_code, d)
        self.attributes = nn.Sequential(nn.Linear(N_FEATURES - 1, dim), nn.GELU(), nn.Linear(dim, dim))
        self.channel = nn.Parameter(torch.zeros(n_channels, dim))  # (C, d)
        self.norm = nn.LayerNorm(dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        code = features[..., 0].long()  # (B, C, N)
        h = self.code(code) + self.attributes(features[..., 1:]) + self.channel[:, None, :]  # (B, C, N, d)
        if self.bin_weights is not None:
            h = torch.einsum("bcnd,np->bcpd", h, self.bin_weights) + self.bin_position  # (B, C, P, d)
        return self.norm(h)
