"""Shape tokens cut from the signal: a multi-scale grid of stretches, each coded by its nearest shape.

VQShape (``vqshape.py``) lets an attribute decoder *propose* where a token sits and a decoder
*imagine* its shape; measured on HAPT, the decoded forms fitted the stretches they claimed
worse than a flat line and most codes went unused. Here a token is what it claims by
construction (a VQ-VAE on the claimed stretches, with the identity as encoder and decoder)::

    signal (B, C, T)
      -> stretch grid: every scale l in ``scales`` (fractions of the window), stretches of l*T
         samples every ``hop`` * l*T samples, the last one flush with the window's end, so
         each scale covers every sample                                    N tokens per channel
      -> each stretch resampled to ``len_s`` points                          (B, C, N, len_s)
      -> mu = its mean, unit form u = (s - mu) / |s - mu|
      -> code = the shape codebook entry with the highest correlation  <u, code>
      -> sigma = least-squares scale of the code onto the stretch (>= 0), so
         decode(code) * sigma + mu is the code's best fit to the stretch and its R² is the
         squared correlation
      -> x_pred: the placed shapes of the finest scale, resampled back to their stretches and
         averaged where they overlap                                                (B, C, T)

The codebook holds ``num_code`` standardised shapes (zero mean, unit std, ``len_s`` points):
a 64-code VQ-VAE's decoder can output only 64 forms, so storing the forms themselves is the
same model without a decoder to train. :meth:`ShapeTokenizer.fit` learns them from training
stretches by spherical k-means (initialised from real stretches, codes that lose all their
stretches restarted on the worst-fitted ones) — the optimum an EMA codebook only approaches.

No I/O; the trainer calls ``fit`` on the training windows before training the heads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config_keys import config_from_dict


@dataclass
class ShapeTokensConfig:
    """The stretch grid and the shape codebook (see the module docstring)."""

    scales: tuple[float, ...] = (1 / 32, 1 / 20, 1 / 10)  # stretch lengths, fractions of the window (HAPT validation subjects)
    hop: float = 0.5  # step between stretches of one scale, fraction of the stretch length
    len_s: int = 32  # points each stretch is resampled to
    num_code: int = 64  # shape codebook size
    kmeans_iters: int = 30
    max_fit_stretches: int = 200_000  # stretches k-means sees at most (a seeded sample)

    def __post_init__(self) -> None:
        self.scales = tuple(float(s) for s in self.scales)
        problems = []
        if not self.scales or any(not 0 < s <= 1 for s in self.scales):
            problems.append(f"scales must be fractions of the window in (0, 1], got {list(self.scales)}")
        if not 0 < self.hop <= 1:
            problems.append(f"hop {self.hop} must be in (0, 1]")
        if self.len_s < 4:
            problems.append(f"len_s {self.len_s} must be at least 4")
        if self.num_code < 2:
            problems.append(f"num_code {self.num_code} must be at least 2")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ShapeTokensConfig":
        return config_from_dict(cls, values, "shape-token keys")

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["scales"] = list(self.scales)
        return values


@dataclass(frozen=True)
class StretchGrid:
    """Where the tokens of a window of ``length`` samples sit, scale by scale (coarse last)."""

    length: int
    stretch_len: tuple[int, ...]  # samples per stretch, one per scale
    hop: tuple[int, ...]  # samples between stretch starts, one per scale
    starts: tuple[tuple[int, ...], ...]  # start sample of each stretch, per scale

    @classmethod
    def build(cls, length: int, scales: tuple[float, ...], hop: float) -> "StretchGrid":
        lengths, hops, starts = [], [], []
        for scale in scales:
            n = min(length, max(2, round(scale * length)))
            step = max(1, round(hop * n))
            first = list(range(0, length - n + 1, step))
            if first[-1] != length - n:  # the last stretch ends with the window: every sample covered
                first.append(length - n)
            lengths.append(n)
            hops.append(step)
            starts.append(tuple(first))
        return cls(length, tuple(lengths), tuple(hops), tuple(starts))

    @property
    def n_tokens(self) -> int:
        return sum(len(s) for s in self.starts)

    def scale_index(self) -> torch.Tensor:
        """(N,) the scale of each token, in token order."""
        return torch.cat([torch.full((len(s),), i, dtype=torch.long) for i, s in enumerate(self.starts)])

    def start_end(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,) first and one-past-last sample of each token's stretch."""
        start = torch.tensor([s for starts in self.starts for s in starts], dtype=torch.long)
        end = start + torch.cat([torch.full((len(s),), n) for s, n in zip(self.starts, self.stretch_len)])
        return start, end

    def placement(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,) t and l as fractions: the stretch runs from t (T-1) to (t + l) (T-1), both samples included."""
        start, end = self.start_end()
        span = max(self.length - 1, 1)
        return start.float() / span, (end - 1 - start).float() / span


def cut_stretches(signal: torch.Tensor, grid: StretchGrid, len_s: int) -> torch.Tensor:
    """Every grid stretch of signal (B, C, T), resampled linearly to len_s points -> (B, C, N, len_s)."""
    parts = []
    for n, starts in zip(grid.stretch_len, grid.starts):
        index = torch.tensor(starts, device=signal.device)[:, None] + torch.arange(n, device=signal.device)  # (n_s, n)
        stretches = signal[..., index]  # (B, C, n_s, n)
        flat = stretches.reshape(-1, 1, n)
        parts.append(F.interpolate(flat, size=len_s, mode="linear", align_corners=True).view(*stretches.shape[:-1], len_s))
    return torch.cat(parts, dim=2)


def unit_forms(stretches: torch.Tensor, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """stretches (..., len_s) -> (unit form (..., len_s), mean (...), norm of the centred stretch (...))."""
    mean = stretches.mean(dim=-1)
    centred = stretches - mean[..., None]
    norm = centred.norm(dim=-1)
    return centred / norm.clamp(min=eps)[..., None], mean, norm


def spherical_kmeans(forms: torch.Tensor, k: int, iters: int, generator: torch.Generator) -> torch.Tensor:
    """Unit vectors (M, S) -> k unit centroids (k, S) maximising the summed cosine.

    Initialised from k distinct random rows; a centroid left without rows is restarted on the
    rows its neighbours fit worst. Deterministic given the generator.
    """
    centroids = forms[torch.randperm(len(forms), generator=generator)[:k]].clone()
    for _ in range(iters):
        similarity = forms @ centroids.T  # (M, k)
        best, assigned = similarity.max(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assigned, forms)
        dead = (torch.bincount(assigned, minlength=k) == 0).nonzero().flatten()
        if len(dead):
            sums[dead] = forms[best.argsort()[: len(dead)]]
        centroids = F.normalize(sums, dim=-1)
    return centroids


class ShapeTokenizer(nn.Module):
    """Windows (B, C, T) -> shape tokens on a fixed grid (see the module docstring)."""

    def __init__(self, cfg: ShapeTokensConfig, length: int):
        super().__init__()
        self.cfg = cfg
        self.grid = StretchGrid.build(length, cfg.scales, cfg.hop)
        t, l = self.grid.placement()
        self.register_buffer("t", t, persistent=False)  # (N,)
        self.register_buffer("l", l, persistent=False)  # (N,)
        self.register_buffer("scale_idx", self.grid.scale_index(), persistent=False)  # (N,)
        # standardised shapes (zero mean, unit std over len_s points); fitted by fit()
        self.register_buffer("shape_codebook", torch.zeros(cfg.num_code, cfg.len_s))

    @property
    def n_tokens(self) -> int:
        return self.grid.n_tokens

    def unit_codes(self) -> torch.Tensor:
        """The codebook as unit vectors (K, len_s)."""
        return F.normalize(self.shape_codebook, dim=-1)

    @torch.no_grad()
    def fit(self, signals: torch.Tensor, *, seed: int = 0) -> "ShapeTokenizer":
        """Learn the codebook from training windows (M, C, T) by spherical k-means over their stretches."""
        generator = torch.Generator().manual_seed(seed)
        forms, _, norm = unit_forms(cut_stretches(signals.float(), self.grid, self.cfg.len_s))
        forms = forms[norm > 1e-6]  # (M', len_s): flat stretches have no form to learn
        if len(forms) < self.cfg.num_code:
            raise ValueError(f"{len(forms)} non-flat stretches cannot fit {self.cfg.num_code} shape codes")
        if len(forms) > self.cfg.max_fit_stretches:
            forms = forms[torch.randperm(len(forms), generator=generator)[: self.cfg.max_fit_stretches]]
        centroids = spherical_kmeans(forms, self.cfg.num_code, self.cfg.kmeans_iters, generator)
        self.shape_codebook.copy_(centroids * (self.cfg.len_s - 1) ** 0.5)  # unit std
        return self

    def forward(self, signal: torch.Tensor) -> dict[str, torch.Tensor]:
        """signal (B, C, T) -> tokens: code_idx, t, l, mu, sigma, fit (B, C, N); s_true,
        s_pred (B, C, N, len_s); x_pred (B, C, T)."""
        if signal.shape[-1] != self.grid.length:
            raise ValueError(f"window length {signal.shape[-1]} != the tokenizer's {self.grid.length}")
        s_true = cut_stretches(signal, self.grid, self.cfg.len_s)  # (B, C, N, len_s)
        forms, mu, norm = unit_forms(s_true)
        correlation, code_idx = (forms @ self.unit_codes().T).max(dim=-1)  # (B, C, N)
        # least-squares scale of a unit-std shape onto the stretch: cov / var = corr * std
        sigma = correlation.clamp(min=0) * norm / (self.cfg.len_s - 1) ** 0.5
        s_pred = self.shape_codebook[code_idx] * sigma[..., None] + mu[..., None]  # (B, C, N, len_s)
        B, C, N = code_idx.shape
        return {
            "code_idx": code_idx, "t": self.t.expand(B, C, N), "l": self.l.expand(B, C, N), "mu": mu, "sigma": sigma,
            "fit": correlation.clamp(min=0) ** 2, "s_true": s_true, "s_pred": s_pred,
            "x_pred": self.reconstruct(s_pred),
        }

    def reconstruct(self, s_pred: torch.Tensor) -> torch.Tensor:
        """Placed shapes (B, C, N, len_s) -> the window (B, C, T) from the finest scale's tokens
        (each resampled back to its stretch; overlapping samples averaged)."""
        finest = min(range(len(self.grid.stretch_len)), key=lambda i: self.grid.stretch_len[i])
        first = sum(len(s) for s in self.grid.starts[:finest])
        starts, n = self.grid.starts[finest], self.grid.stretch_len[finest]
        shapes = s_pred[:, :, first:first + len(starts)]  # (B, C, n_s, len_s)
        B, C = shapes.shape[:2]
        resampled = F.interpolate(shapes.reshape(-1, 1, shapes.shape[-1]), size=n, mode="linear", align_corners=True)
        resampled = resampled.view(B, C, len(starts), n)
        index = (torch.tensor(starts, device=s_pred.device)[:, None] + torch.arange(n, device=s_pred.device)).flatten()
        total = s_pred.new_zeros(B, C, self.grid.length).index_add_(2, index, resampled.flatten(2))
        count = s_pred.new_zeros(self.grid.length).index_add_(0, index, s_pred.new_ones(index.numel()))
        return total / count
