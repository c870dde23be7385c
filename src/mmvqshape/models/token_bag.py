"""A bag of shape tokens: what a window (or a stretch of it) is made of, as one feature vector.

For each channel and each scale of the stretch grid: how often each shape code occurs
(normalised histogram, ``num_code`` values); the mean, std and 10/25/50/75/90 % quantiles of
the tokens' offsets ``mu`` and of their log scales ``log(sigma)`` (14 values); and the mean and
std of the channel's share of each token's offset direction across channels,
``mu_c / |mu|`` (2 values: how the window sits against gravity). Tokens only: no summary statistic of
the raw signal enters. A *segment* is a span of the window; its bag holds the tokens whose
stretch lies inside it, so the same features describe the whole window and its parts.

Features are standardised with the training windows' mean and std (buffers fitted by
:meth:`TokenBag.fit_standardizer`), so one linear map reads every scale and channel alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .shape_tokens import StretchGrid

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
STATS_PER_VALUE = 2 + len(QUANTILES)  # mean, std, quantiles
DIRECTION_STATS = 2  # mean, std


def segment_spans(length: int, span: float, hop: float) -> torch.Tensor:
    """Segments of ``span`` (fraction of the window) every ``hop`` * span samples, the last
    flush with the end -> (S, 2) [start, end) samples."""
    n = min(length, max(2, round(span * length)))
    step = max(1, round(hop * n))
    starts = list(range(0, length - n + 1, step))
    if starts[-1] != length - n:
        starts.append(length - n)
    return torch.tensor([[s, s + n] for s in starts], dtype=torch.long)


def token_membership(grid: StretchGrid, spans: torch.Tensor) -> torch.Tensor:
    """(S, N) bool: token n's stretch lies inside segment s."""
    start, end = grid.start_end()  # (N,)
    return (start[None] >= spans[:, :1]) & (end[None] <= spans[:, 1:])


def masked_moments(values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """values (B, C, N), mask (S, N) bool -> mean and std over the masked tokens, each (B, C, S)."""
    weight = mask.to(values.dtype)  # (S, N)
    count = weight.sum(-1).clamp(min=1)  # (S,)
    mean = torch.einsum("bcn,sn->bcs", values, weight) / count
    square = torch.einsum("bcn,sn->bcs", values ** 2, weight) / count
    return mean, (square - mean ** 2).clamp(min=0).sqrt()


def masked_stats(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """values (B, C, N), mask (S, N) bool -> mean, std and :data:`QUANTILES` over the masked
    tokens (B, C, S, STATS_PER_VALUE)."""
    mean, std = masked_moments(values, mask)
    masked = torch.where(mask, values[:, :, None, :], torch.nan)  # (B, C, S, N)
    q = torch.tensor(QUANTILES, dtype=values.dtype, device=values.device)
    quantiles = torch.nanquantile(masked, q, dim=-1).nan_to_num(0.0)  # (Q, B, C, S); empty segments give 0
    return torch.cat([mean[..., None], std[..., None], quantiles.permute(1, 2, 3, 0)], dim=-1)


class TokenBag(nn.Module):
    """Tokens (code_idx, mu, sigma (B, C, N)) -> standardised bag features (B, S, F) per segment."""

    def __init__(self, grid: StretchGrid, num_code: int, n_channels: int, sigma_floor: float = 1e-3):
        super().__init__()
        self.num_code, self.n_channels, self.sigma_floor = num_code, n_channels, sigma_floor
        self.n_scales = len(grid.stretch_len)
        scale_idx = grid.scale_index()  # (N,)
        self.register_buffer("scale_mask", torch.stack([scale_idx == s for s in range(self.n_scales)]), persistent=False)  # (scales, N)
        self.register_buffer("feature_mean", torch.zeros(self.dim))
        self.register_buffer("feature_std", torch.ones(self.dim))

    @property
    def dim(self) -> int:
        """F: per channel and scale, the code histogram, the statistics of mu and of log sigma,
        and those of the offset direction."""
        return self.n_channels * self.n_scales * (self.num_code + 2 * STATS_PER_VALUE + DIRECTION_STATS)

    def raw(self, tokens: dict[str, torch.Tensor], segments: torch.Tensor) -> torch.Tensor:
        """Unstandardised features (B, S, F); ``segments`` (S, N) bool token membership."""
        code_idx, mu = tokens["code_idx"], tokens["mu"]  # (B, C, N)
        log_sigma = (tokens["sigma"] + self.sigma_floor).log()
        direction = mu / mu.norm(dim=1, keepdim=True).clamp(min=1e-6)  # (B, C, N): each channel's share of the offset
        one_hot = F.one_hot(code_idx, self.num_code).to(mu.dtype)  # (B, C, N, K)
        parts = []
        for scale_mask in self.scale_mask:  # (N,)
            mask = segments & scale_mask  # (S, N)
            weight = mask.to(mu.dtype)
            histogram = torch.einsum("bcnk,sn->bcsk", one_hot, weight) / weight.sum(-1).clamp(min=1)[:, None]
            stats = torch.cat([masked_stats(mu, mask), masked_stats(log_sigma, mask),
                               torch.stack(masked_moments(direction, mask), dim=-1)], dim=-1)  # (B, C, S, 16)
            parts.append(torch.cat([histogram, stats], dim=-1))  # (B, C, S, K + 16)
        features = torch.stack(parts, dim=2)  # (B, C, scales, S, K + 16)
        return features.permute(0, 3, 1, 2, 4).flatten(2)  # (B, S, F)

    def forward(self, tokens: dict[str, torch.Tensor], segments: torch.Tensor) -> torch.Tensor:
        return (self.raw(tokens, segments) - self.feature_mean) / self.feature_std

    @torch.no_grad()
    def fit_standardizer(self, raw_features: torch.Tensor) -> None:
        """Mean and std of each feature over training bags (M, F); constant features keep std 1."""
        self.feature_mean.copy_(raw_features.mean(0))
        std = raw_features.std(0)
        self.feature_std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))
