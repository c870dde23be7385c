"""VQShape: shape tokens from a learned codebook (Wen et al., "Abstracted Shapes as Tokens", 2024).

Our own implementation of the model, numerically equal to the reference implementation
(YunshiWen/VQShape) given the same weights: ``mmvqshape.models.reference.load_reference``
builds it from a reference checkpoint and the fixture test proves the outputs match.

One univariate series ``x`` (B, T) flows through:

1. ``normalize``        x -> x_norm = (x - mean) / sqrt(var + 1e-5) (per series, var unbiased)
2. ``encode``           x_norm -> patches (B, P, patch_size) -> linear + learned position
                        embedding -> post-norm Transformer encoder -> h_patch (B, P, d)
                        (optionally dropping a random ``mask_ratio`` of the patches, as the
                        reference does when it pre-trains)
3. ``forward_encoded``  everything after the encoder, from ``h_patch``:
   - ``query_tokenizer``     N learned queries cross-attend to h_patch        -> (B, N, d)
   - ``attribute_decoder``   z (B, N, dim_code), t, l, mu, sigma (B, N, 1)
   - ``shape_codebook``      nearest code by squared Euclidean distance, straight-through
                             z_q (B, N, dim_code), code_idx (B, N), vq loss
   - ``shape_decoder``       z_q -> standardised shape (B, N, len_s), scaled by sigma, mu and
                             de-normalised -> s_pred
   - ``extract_subsequence`` the target s_true: len_s points of x between t and t + l
   - ``attribute_encoder``   [z_q, mu, sigma, t, l] -> token embedding (B, N, d)
   - ``series_decoder``      CLS + Transformer encoder + linear per token -> x_pred (B, T)
   - the four losses: ts (x), vq, shape, dist (disentanglement of (t, l)).

The stages are public methods so that other models (the multimodal one) reuse them:
``normalize``, ``encode``, ``tokenize`` (tokenizer + attributes + codebook),
``decode_shapes``, ``embed_attributes``, ``reconstruct``, ``compute_losses`` and
``forward_encoded`` (all of them in order). ``reference_outputs(x)`` returns exactly the
dictionary of the reference's evaluate + tokenize modes (keys of the fixture).

Speed (``shape_decode``): the reference decodes one shape per token although each token's
input is one of ``num_code`` codebook vectors. ``"per_code"`` (default) decodes each *used*
code once and gathers; the straight-through gradient into z (which in the reference flows
through the decoder, evaluated at the token's code) is kept exact by adding the zero-valued
term ``J(code) @ (z_q - sg(z_q))`` with the decoder's Jacobian at each used code computed
by forward-mode differentiation (``ShapeDecoder.jacobian``: ``dim_code`` tangents propagated
by hand beside one primal pass, detached). Values and gradients equal
the per-token computation (``"per_token"``, the reference algorithm) up to float rounding.

:class:`VQShapeTask` wraps the model for the shared trainer (the model task protocol):
channels ``independent`` (each channel its own series, VQShape's way) or ``joint`` (per-channel
tokens joined for one classifier), objective ``pretrain`` or ``classify``, loss-weight
``preset`` ``reference`` or ``flat``; ``task.features(batch, kind)`` gives frozen token or
histogram features for a linear probe and ``task.shape_codebook`` the codebook.

Reference checkpoints: ``mmvqshape.models.reference.load_reference(config, state_dict)``;
files: ``mmvq convert-vqshape`` (``mmvqshape.pipelines.vqshape_convert``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from ..errors import UserError

# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

LOSS_PRESETS: dict[str, dict[str, float]] = {
    # the reference's pre-training weights (lambda_x, lambda_z, lambda_s, lambda_dist)
    "reference": {"weight_ts": 1.0, "weight_vq": 1.0, "weight_shape": 1.0, "weight_dist": 0.8},
    # the plan author's, after the shape loss flattened everything
    "flat": {"weight_ts": 1.0, "weight_vq": 0.1, "weight_shape": 0.001, "weight_dist": 0.01},
}


@dataclass
class VQShapeConfig:
    """Constructor arguments of :class:`VQShape` (reference names where the reference has one).

    The defaults are a small, CPU-friendly model for 512-sample windows (BasicMotions trains
    in minutes on two cores); the reference fixture uses d=64, 2+2+1 layers, 64 tokens.
    """

    len_input: int = 512  # samples per series (T)
    patch_size: int = 8  # samples per patch
    num_patch: int = 64  # patches per series (P); patches step len_input // num_patch
    dim_embedding: int = 64  # Transformer width (d)
    num_enc_head: int = 4
    num_enc_layer: int = 2
    num_tokenizer_head: int = 4
    num_tokenizer_layer: int = 1
    num_dec_head: int = 4
    num_dec_layer: int = 1
    num_token: int = 32  # shape tokens per series (N); must divide len_input
    len_s: int = 128  # samples of each decoded shape; multiple of 16
    s_smooth_factor: int = 1  # moving-average window of the target, kernel of the last decoder conv
    num_code: int = 64  # shape codebook size (K)
    dim_code: int = 8  # shape code dimension
    lambda_commit: float = 0.25  # commitment weight inside the vq loss
    lambda_entropy: float = 0.1  # entropy-term weight inside the vq loss
    entropy_gamma: float = 1.0  # weight of the batch-mean entropy inside the entropy term
    entropy_temperature: float = 0.01  # softmin(d / temperature) for the entropy term
    mask_ratio: float = 0.25  # fraction of patches dropped when pre-training (reference: 0.25)
    dropout: float = 0.1  # dropout of every Transformer layer
    min_shape_len: float = 1 / 64  # smallest shape length l (fraction of the series)
    dist_threshold: float = 0.2  # hinge of the disentanglement loss
    weight_ts: float = 1.0  # loss weights (the "reference" preset by default)
    weight_vq: float = 1.0
    weight_shape: float = 1.0
    weight_dist: float = 0.8
    shape_decode: str = "per_code"  # "per_code" (fast, exact) | "per_token" (the reference's)

    def __post_init__(self) -> None:
        problems = []
        step = self.len_input // max(self.num_patch, 1)
        if self.num_patch < 1 or step < 1 or (self.len_input - self.patch_size) // step + 1 != self.num_patch:
            problems.append(
                f"patch_size {self.patch_size} x num_patch {self.num_patch} does not tile len_input {self.len_input}"
            )
        if self.num_token < 1 or self.len_input % self.num_token:
            problems.append(f"num_token {self.num_token} must divide len_input {self.len_input}")
        if self.len_s % 16:
            problems.append(f"len_s {self.len_s} must be a multiple of 16")
        if self.s_smooth_factor < 1 or self.s_smooth_factor % 2 == 0:
            problems.append(f"s_smooth_factor {self.s_smooth_factor} must be odd and positive")
        for name in ("enc", "tokenizer", "dec"):
            heads = getattr(self, f"num_{name}_head")
            if self.dim_embedding % heads:
                problems.append(f"num_{name}_head {heads} must divide dim_embedding {self.dim_embedding}")
        if self.shape_decode not in ("per_code", "per_token"):
            problems.append(f"shape_decode must be 'per_code' or 'per_token', not {self.shape_decode!r}")
        if not 0.0 <= self.mask_ratio < 1.0:
            problems.append(f"mask_ratio {self.mask_ratio} must be in [0, 1)")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def patch_step(self) -> int:
        """Samples between the starts of consecutive patches."""
        return self.len_input // self.num_patch

    @property
    def samples_per_token(self) -> int:
        """Samples of x_pred each token's series-decoder output covers."""
        return self.len_input // self.num_token

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "VQShapeConfig":
        """Build from a plain dict; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown VQShapeConfig keys: {', '.join(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


def _encoder_layer(d: int, heads: int, dropout: float) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(
        d_model=d, nhead=heads, dim_feedforward=4 * d, dropout=dropout, activation="gelu", batch_first=True
    )


def _mlp(d_in: int, d_out: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


class PatchEncoder(nn.Module):
    """Series -> patch embeddings -> Transformer encoder (post-norm, GELU, ff 4d)."""

    def __init__(self, cfg: VQShapeConfig):
        super().__init__()
        self.patch_size, self.step = cfg.patch_size, cfg.patch_step
        self.input_project = nn.Linear(cfg.patch_size, cfg.dim_embedding)
        self.position_embedding = nn.Embedding(cfg.num_patch, cfg.dim_embedding)
        self.transformer = nn.TransformerEncoder(
            _encoder_layer(cfg.dim_embedding, cfg.num_enc_head, cfg.dropout),
            num_layers=cfg.num_enc_layer,
            enable_nested_tensor=False,
        )

    def embed(self, x_norm: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, P, d): linear patch projection plus learned position embedding."""
        patches = x_norm.unfold(-1, self.patch_size, self.step)  # (B, P, patch_size)
        positions = torch.arange(patches.shape[1], device=x_norm.device)
        return self.input_project(patches) + self.position_embedding(positions)

    def forward(self, x_norm: torch.Tensor, mask_ratio: float = 0.0) -> torch.Tensor:
        """(B, T) -> (B, P', d); P' = P - int(mask_ratio * P) patches kept at random."""
        h = self.embed(x_norm)
        n_masked = int(mask_ratio * h.shape[1])
        if n_masked > 0:
            order = torch.rand(h.shape[0], h.shape[1], device=h.device).argsort(dim=-1)
            kept = order[:, n_masked:]  # (B, P')
            h = h[torch.arange(h.shape[0], device=h.device).unsqueeze(1), kept]
        return self.transformer(h)


class QueryTokenizer(nn.Module):
    """N learned query tokens attend to the patch embeddings (Transformer decoder)."""

    def __init__(self, cfg: VQShapeConfig):
        super().__init__()
        d = cfg.dim_embedding
        self.queries = nn.Parameter(torch.randn(1, cfg.num_token, d) / d)
        layer = nn.TransformerDecoderLayer(
            d_model=d, nhead=cfg.num_tokenizer_head, dim_feedforward=4 * d, dropout=cfg.dropout,
            activation="gelu", batch_first=True,
        )
        self.transformer = nn.TransformerDecoder(layer, num_layers=cfg.num_tokenizer_layer)

    def forward(self, h_patch: torch.Tensor) -> torch.Tensor:
        """(B, P, d) -> (B, N, d)."""
        queries = repeat(self.queries, "1 n d -> b n d", b=h_patch.shape[0])
        return self.transformer(queries, h_patch)


class AttributeDecoder(nn.Module):
    """Token -> shape code z and its placement: start t, length l, offset mu, scale sigma."""

    def __init__(self, cfg: VQShapeConfig):
        super().__init__()
        d = cfg.dim_embedding
        self.min_shape_len = cfg.min_shape_len
        self.z_head = _mlp(d, cfg.dim_code, d)
        self.tl_head = _mlp(d, 2, d)
        self.mu_head = _mlp(d, 1, d)
        self.sigma_head = _mlp(d, 1, d)

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, N, d) -> z (B, N, dim_code); t, l, mu, sigma (B, N, 1)."""
        tl = torch.sigmoid(self.tl_head(h))
        t = tl[..., 0:1] * (1 - self.min_shape_len)  # start in [0, 1 - min_len)
        l = tl[..., 1:2] * (1 - t) + self.min_shape_len  # length, mostly inside the series
        return {"z": self.z_head(h), "t": t, "l": l, "mu": self.mu_head(h), "sigma": F.softplus(self.sigma_head(h))}


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return (-p * p.clamp(min=1e-5).log()).sum(dim=-1)


class ShapeCodebook(nn.Module):
    """Nearest-neighbour vector quantiser with straight-through gradient and entropy term."""

    def __init__(self, cfg: VQShapeConfig):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.num_code, cfg.dim_code)
        nn.init.uniform_(self.embedding.weight, -1.0 / cfg.num_code, 1.0 / cfg.num_code)

    @property
    def weight(self) -> torch.Tensor:
        """The codes (K, dim_code)."""
        return self.embedding.weight

    def distances(self, z_flat: torch.Tensor) -> torch.Tensor:
        """Squared Euclidean distance (M, dim_code) x codes -> (M, K)."""
        w = self.embedding.weight
        return z_flat.pow(2).sum(dim=1, keepdim=True) + w.pow(2).sum(dim=1) - 2 * (z_flat @ w.t())

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (B, N, dim_code) -> z_q (straight-through), code_idx (B, N), vq loss (scalar)."""
        cfg = self.cfg
        d = self.distances(rearrange(z, "b n e -> (b n) e"))  # (B*N, K)
        idx_flat = d.argmin(dim=1)
        code = self.embedding(idx_flat).view_as(z)
        loss = torch.mean((code.detach() - z) ** 2) + cfg.lambda_commit * torch.mean((code - z.detach()) ** 2)
        if cfg.lambda_entropy > 0:
            p = F.softmin(d / cfg.entropy_temperature, dim=-1)
            loss = loss + cfg.lambda_entropy * (_entropy(p).mean() - cfg.entropy_gamma * _entropy(p.mean(0)))
        z_q = z + (code - z).detach()
        return z_q, idx_flat.view(z.shape[:-1]), loss


class ResidualConvBlock(nn.Module):
    """GroupNorm(16) -> GELU -> conv3 -> GroupNorm(16) -> GELU -> conv3, plus a (1x1) skip."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(16, c_in)
        self.conv1 = nn.Conv1d(c_in, c_out, 3, padding="same")
        self.norm2 = nn.GroupNorm(16, c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, padding="same")
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.gelu(self.norm1(x)))
        h = self.conv2(F.gelu(self.norm2(h)))
        return self.skip(x) + h


class UpsampleConv(nn.Module):
    """Nearest-neighbour x4 upsampling followed by a kernel-3 conv."""

    def __init__(self, channels: int, factor: int = 4):
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv1d(channels, channels, 3, padding="same")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=float(self.factor)))


class ShapeDecoder(nn.Module):
    """Shape code (M, dim_code) -> standardised shape (M, len_s) (zero mean, unit std)."""

    width = 128

    def __init__(self, cfg: VQShapeConfig):
        super().__init__()
        self.project = nn.Linear(cfg.dim_code, cfg.len_s * 8)  # -> 128 channels x len_s / 16 steps
        self.block1 = ResidualConvBlock(128, 128)
        self.upsample1 = UpsampleConv(128)
        self.block2 = ResidualConvBlock(128, 64)
        self.upsample2 = UpsampleConv(64)
        self.to_shape = nn.Conv1d(64, 1, cfg.s_smooth_factor, padding="same")

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        h = rearrange(self.project(code), "m (c t) -> m c t", c=self.width)  # (M, 128, len_s/16)
        h = self.upsample1(F.gelu(self.block1(h)))  # (M, 128, len_s/4)
        h = self.upsample2(F.gelu(self.block2(h)))  # (M, 64, len_s)
        shape = self.to_shape(F.gelu(h)).squeeze(1)  # (M, len_s)
        return (shape - shape.mean(dim=-1, keepdim=True)) / (shape.std(dim=-1, keepdim=True) + 1e-8)


    def jacobian(self, code: torch.Tensor) -> torch.Tensor:
        """d forward(c) / d c at each row of code (U, dim_code) -> (U, len_s, dim_code).

        Forward mode by hand: the primal runs once and the dim_code tangent directions run
        batched beside it (tangents (E, U, ...)); convs take tangents without their bias,
        norms and GELUs their derivatives at the primal. Not differentiable itself.
        """
        h = rearrange(self.project(code), "u (c t) -> u c t", c=self.width)  # (U, 128, len_s/16)
        # the tangent of the first (linear) layer along code axis e is its weight column e
        dh = repeat(rearrange(self.project.weight, "(c t) e -> e c t", c=self.width), "e c t -> e u c t", u=len(code))
        h, dh = _block_tangent(self.block1, h, dh)
        h, dh = _gelu_tangent(h, dh)
        h, dh = _upsample_tangent(self.upsample1, h, dh)
        h, dh = _block_tangent(self.block2, h, dh)
        h, dh = _gelu_tangent(h, dh)
        h, dh = _upsample_tangent(self.upsample2, h, dh)
        h, dh = _gelu_tangent(h, dh)
        shape, d_shape = self.to_shape(h).squeeze(1), _conv_tangent(self.to_shape, dh).squeeze(2)  # (U, L), (E, U, L)
        # standardisation y = c / (std + 1e-8), c = shape - mean, std unbiased
        centred = shape - shape.mean(dim=-1, keepdim=True)
        d_centred = d_shape - d_shape.mean(dim=-1, keepdim=True)
        std = shape.std(dim=-1, keepdim=True)
        d_std = (centred * d_centred).sum(dim=-1, keepdim=True) / ((shape.shape[-1] - 1) * std)
        d_out = d_centred / (std + 1e-8) - centred * d_std / (std + 1e-8) ** 2  # (E, U, L)
        return rearrange(d_out, "e u l -> u l e")


def _conv_tangent(conv: nn.Conv1d, dx: torch.Tensor) -> torch.Tensor:
    """A conv's tangent (linear part only): dx (E, U, C, T) -> (E, U, C', T)."""
    out = F.conv1d(dx.flatten(0, 1), conv.weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
    return out.view(*dx.shape[:2], *out.shape[1:])


def _gelu_tangent(x: torch.Tensor, dx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gelu(x), gelu'(x) dx) for the exact (erf) GELU."""
    slope = 0.5 * (1 + torch.erf(x / math.sqrt(2))) + x * torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return F.gelu(x), slope * dx


def _group_norm_tangent(norm: nn.GroupNorm, x: torch.Tensor, dx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(norm(x), its tangent): x (U, C, T), dx (E, U, C, T)."""
    groups = x.reshape(x.shape[0], norm.num_groups, -1)  # (U, G, C/G*T)
    inv_std = (groups.var(dim=-1, unbiased=False, keepdim=True) + norm.eps).rsqrt()
    x_hat = (groups - groups.mean(dim=-1, keepdim=True)) * inv_std
    d_groups = dx.reshape(dx.shape[0], *groups.shape)
    d_hat = (d_groups - d_groups.mean(dim=-1, keepdim=True) - x_hat * (x_hat * d_groups).mean(dim=-1, keepdim=True))
    d_hat = (d_hat * inv_std).view_as(dx)
    return norm(x), d_hat * norm.weight[:, None]


def _block_tangent(block: ResidualConvBlock, x: torch.Tensor, dx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h, dh = _group_norm_tangent(block.norm1, x, dx)
    h, dh = _gelu_tangent(h, dh)
    h, dh = block.conv1(h), _conv_tangent(block.conv1, dh)
    h, dh = _group_norm_tangent(block.norm2, h, dh)
    h, dh = _gelu_tangent(h, dh)
    h, dh = block.conv2(h), _conv_tangent(block.conv2, dh)
    if isinstance(block.skip, nn.Identity):
        return x + h, dx + dh
    return block.skip(x) + h, _conv_tangent(block.skip, dx) + dh


def _upsample_tangent(up: UpsampleConv, x: torch.Tensor, dx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dx_up = F.interpolate(dx.flatten(0, 1), scale_factor=float(up.factor))
    return up(x), _conv_tangent(up.conv, dx_up.view(*dx.shape[:2], *dx_up.shape[1:]))


class AttributeEncoder(nn.Module):
    """[z_q, mu, sigma, t, l] -> token embedding (one linear layer)."""

    def __init__(self, cfg: VQShapeConfig):
        super().__init__()
        self.project = nn.Linear(cfg.dim_code + 4, cfg.dim_embedding)

    def forward(self, z_q, t, l, mu, sigma) -> torch.Tensor:
        return self.project(torch.cat([z_q, mu, sigma, t, l], dim=-1))


class SeriesDecoder(nn.Module):
    """Token embeddings (B, N, d) -> normalised series (B, T) and the CLS output (B, d)."""

    def __init__(self, cfg: VQShapeConfig):
        super().__init__()
        d = cfg.dim_embedding
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) / d)
        self.transformer = nn.TransformerEncoder(
            _encoder_layer(d, cfg.num_dec_head, cfg.dropout), num_layers=cfg.num_dec_layer, enable_nested_tensor=False
        )
        self.to_patch = nn.Linear(d, cfg.samples_per_token)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.transformer(torch.cat([repeat(self.cls_token, "1 1 d -> b 1 d", b=h.shape[0]), h], dim=1))
        x_norm = rearrange(self.to_patch(out[:, 1:]), "b n s -> b (n s)")  # (B, T)
        return x_norm, out[:, 0]


def extract_subsequence(x: torch.Tensor, t: torch.Tensor, l: torch.Tensor, length: int, smooth: int = 1) -> torch.Tensor:
    """Sample ``length`` points of x (B, T) linearly between t and min(t + l, 1) -> (B, N, length).

    t, l: (B, N, 1) fractions of the series. Bilinear ``grid_sample`` (align_corners, border),
    then a moving average of ``smooth`` samples (edge-replicated).
    """
    T = x.shape[-1]
    steps = torch.linspace(0, 1, steps=length, device=x.device)
    start = t * (T - 1)
    end = torch.clamp(t + l, max=1) * (T - 1)
    pos = start + (end - start) * steps  # (B, N, length) in samples
    grid_x = 2.0 * pos / (T - 1) - 1
    grid = torch.stack([grid_x, torch.ones_like(grid_x)], dim=-1)  # (B, N, length, 2)
    s = F.grid_sample(x[:, None, None, :], grid, mode="bilinear", padding_mode="border", align_corners=True)
    s = s[:, 0]  # (B, N, length)
    if smooth > 1:
        pad = smooth // 2
        s = torch.cat([s[..., :1].expand(*s.shape[:-1], pad), s, s[..., -1:].expand(*s.shape[:-1], pad)], dim=-1)
        kernel = torch.ones(s.shape[1], 1, smooth, device=x.device, dtype=s.dtype) / smooth
        s = F.conv1d(s, kernel, groups=s.shape[1])
    return s


def disentanglement_loss(t: torch.Tensor, l: torch.Tensor, min_shape_len: float, threshold: float) -> torch.Tensor:
    """Mean of relu(threshold - pairwise distance) between tokens' (t, l) points; diagonal 0.

    Each token maps to (cos pi t, sin pi t) * log(l) / log(min_shape_len).
    """
    radius = l.log() / math.log(min_shape_len)
    points = torch.cat([torch.cos(torch.pi * t) * radius, torch.sin(torch.pi * t) * radius], dim=-1)  # (B, N, 2)
    dist = torch.linalg.vector_norm(points.unsqueeze(1) - points.unsqueeze(2), dim=-1)  # (B, N, N)
    off_diagonal = 1.0 - torch.eye(dist.shape[-1], device=dist.device, dtype=dist.dtype)
    return (F.relu(threshold - dist) * off_diagonal).mean()


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


class VQShape(nn.Module):
    """VQShape for univariate series (B, T); see the module docstring for the stages."""

    def __init__(self, cfg: VQShapeConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or VQShapeConfig()
        self.patch_encoder = PatchEncoder(cfg)
        self.query_tokenizer = QueryTokenizer(cfg)
        self.attribute_decoder = AttributeDecoder(cfg)
        self.shape_codebook = ShapeCodebook(cfg)
        self.shape_decoder = ShapeDecoder(cfg)
        self.attribute_encoder = AttributeEncoder(cfg)
        self.series_decoder = SeriesDecoder(cfg)

    # ---- stages ------------------------------------------------------------------------
    @staticmethod
    def normalize(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T) -> (x_norm, mean (B, 1), std (B, 1)); std = sqrt(unbiased var + 1e-5)."""
        mean = x.mean(dim=-1, keepdim=True)
        std = (x.var(dim=-1, keepdim=True) + 1e-5).sqrt()
        return (x - mean) / std, mean, std

    def encode(self, x_norm: torch.Tensor, mask_ratio: float = 0.0) -> torch.Tensor:
        """x_norm (B, T) -> patch encoder output (B, P', d)."""
        return self.patch_encoder(x_norm, mask_ratio)

    def tokenize(self, h_patch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encoder output (B, P, d) -> shape tokens: z (B, N, dim_code), code (z_q, straight-through),
        code_idx (B, N), t, l, mu, sigma (B, N, 1), vq_loss (scalar)."""
        attrs = self.attribute_decoder(self.query_tokenizer(h_patch))
        code, code_idx, vq_loss = self.shape_codebook(attrs["z"])
        return {**attrs, "code": code, "code_idx": code_idx, "vq_loss": vq_loss}

    def decode_codes(self, code: torch.Tensor, code_idx: torch.Tensor) -> torch.Tensor:
        """Standardised shapes of the tokens: code (B, N, dim_code), code_idx (B, N) -> (B, N, len_s).

        ``per_token`` runs the decoder on every token (the reference). ``per_code`` runs it once
        per used codebook entry and keeps the straight-through gradient into ``code`` exact
        with the decoder's Jacobian at that entry (see the module docstring); when a batch has
        fewer tokens than (used codes x dim_code), it decodes per token, which is then cheaper.
        """
        used, inverse = torch.unique(code_idx.reshape(-1), return_inverse=True)  # (U,), (B*N,)
        needs_jacobian = torch.is_grad_enabled() and code.requires_grad
        # the Jacobian costs about dim_code decoder passes per used code: with fewer tokens than
        # that, decoding every token is the cheaper exact way
        cheaper_per_token = needs_jacobian and used.numel() * code.shape[-1] >= code_idx.numel()
        if self.cfg.shape_decode == "per_token" or cheaper_per_token:
            flat = self.shape_decoder(rearrange(code, "b n e -> (b n) e"))
            return flat.view(*code.shape[:-1], -1)
        entries = self.shape_codebook.weight.detach()[used]  # (U, dim_code): no decoder grad to the codebook
        shapes = self.shape_decoder(entries)[inverse]  # (B*N, len_s)
        if needs_jacobian:
            jacobian = self.decoder_jacobian(entries)[inverse]  # (B*N, len_s, dim_code), detached
            delta = rearrange(code - code.detach(), "b n e -> (b n) e")  # exactly 0, gradient identity
            shapes = shapes + torch.einsum("mse,me->ms", jacobian.to(delta.dtype), delta)
        return shapes.view(*code.shape[:-1], -1)

    @torch.no_grad()
    def decoder_jacobian(self, codes: torch.Tensor) -> torch.Tensor:
        """d shape_decoder(c) / d c at each row of codes (U, dim_code) -> (U, len_s, dim_code), detached."""
        return self.shape_decoder.jacobian(codes)

    def decode_shapes(self, tokens: dict[str, torch.Tensor], mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Tokens -> shapes placed in the series' units: (B, N, len_s)."""
        shape_norm = self.decode_codes(tokens["code"], tokens["code_idx"])
        s = shape_norm * tokens["sigma"] + tokens["mu"]
        return s * std.unsqueeze(1) + mean.unsqueeze(1)

    def embed_attributes(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """Tokens -> attribute-encoder embeddings (B, N, d)."""
        return self.attribute_encoder(tokens["code"], tokens["t"], tokens["l"], tokens["mu"], tokens["sigma"])

    def reconstruct(self, h_attr: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attribute embeddings (B, N, d) -> x_pred (B, T) in the series' units, CLS output (B, d)."""
        x_norm, cls = self.series_decoder(h_attr)
        return x_norm * std + mean, cls

    def compute_losses(self, x, tokens, s_pred, x_pred) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The four unweighted losses (scalars) and the shape target s_true (B, N, len_s)."""
        cfg = self.cfg
        s_true = extract_subsequence(x, tokens["t"], tokens["l"], cfg.len_s, cfg.s_smooth_factor)
        losses = {
            "ts": F.mse_loss(x_pred, x),
            "vq": tokens["vq_loss"],
            "shape": F.mse_loss(s_pred, s_true.detach()),
            "dist": disentanglement_loss(tokens["t"], tokens["l"], cfg.min_shape_len, cfg.dist_threshold),
        }
        return losses, s_true

    def total_loss(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """Weighted sum of the four losses with the config's weights."""
        cfg = self.cfg
        return (
            cfg.weight_ts * losses["ts"] + cfg.weight_vq * losses["vq"]
            + cfg.weight_shape * losses["shape"] + cfg.weight_dist * losses["dist"]
        )

    def forward_encoded(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, h_patch: torch.Tensor) -> dict[str, Any]:
        """Everything after the patch encoder.

        x (B, T) raw series, mean/std (B, 1) from :meth:`normalize`, h_patch (B, P', d).
        Returns tokens (``code``, ``code_idx``, ``z``, ``t``, ``l``, ``mu``, ``sigma``),
        ``h_attr`` (B, N, d), ``cls`` (B, d), ``s_pred``, ``s_true`` (B, N, len_s),
        ``x_pred`` (B, T), ``mean``/``std`` (B, 1) (given), ``losses`` {ts, vq, shape, dist}
        and ``loss`` (weighted).
        """
        tokens = self.tokenize(h_patch)
        s_pred = self.decode_shapes(tokens, mean, std)
        h_attr = self.embed_attributes(tokens)
        x_pred, cls = self.reconstruct(h_attr, mean, std)
        losses, s_true = self.compute_losses(x, tokens, s_pred, x_pred)
        return {**tokens, "h_attr": h_attr, "cls": cls, "s_pred": s_pred, "s_true": s_true, "x_pred": x_pred,
                "mean": mean, "std": std, "losses": losses, "loss": self.total_loss(losses)}

    def forward(self, x: torch.Tensor, mask_ratio: float = 0.0) -> dict[str, Any]:
        """x (B, T) -> :meth:`forward_encoded`'s dict (all stages, losses included)."""
        if x.shape[-1] != self.cfg.len_input:
            raise ValueError(f"series length {x.shape[-1]} != len_input {self.cfg.len_input}")
        x_norm, mean, std = self.normalize(x)
        return self.forward_encoded(x, mean, std, self.encode(x_norm, mask_ratio))

    # ---- the reference's view ------------------------------------------------------------
    @staticmethod
    def token_features(out: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-token features [z_q, t, l, mu, sigma] (B, N, dim_code + 4) (the reference's 'token')."""
        return torch.cat([out["code"], out["t"], out["l"], out["mu"], out["sigma"]], dim=-1)

    def histogram(self, code_idx: torch.Tensor) -> torch.Tensor:
        """Count of each code among a series' tokens: code_idx (B, N) -> (B, num_code) int64."""
        return F.one_hot(code_idx, self.cfg.num_code).sum(dim=1)  # deterministic on every device

    def reference_outputs(self, x: torch.Tensor, mask_ratio: float = 0.0) -> dict[str, torch.Tensor]:
        """The reference's evaluate + tokenize outputs for x (B, T), under its key names.

        Differentiable; in train mode the same computation with dropout (and, if
        ``mask_ratio`` > 0, the reference's pre-training patch masking).
        """
        out = self.forward(x, mask_ratio)
        return {
            "x_pred": out["x_pred"], "s_pred": out["s_pred"], "s_true": out["s_true"],
            "code": out["code"], "code_idx": out["code_idx"], "t_pred": out["t"], "l_pred": out["l"],
            "mu_pred": out["mu"], "sigma_pred": out["sigma"], "token": self.token_features(out),
            "histogram": self.histogram(out["code_idx"]),
            "ts_loss": out["losses"]["ts"].unsqueeze(0), "vq_loss": out["losses"]["vq"].unsqueeze(0),
            "shape_loss": out["losses"]["shape"].unsqueeze(0), "dist_loss": out["losses"]["dist"].unsqueeze(0),
        }


# --------------------------------------------------------------------------------------
# The task the trainer runs (model task protocol)
# --------------------------------------------------------------------------------------

TASK_KEYS = {
    "channels": "independent | joint: how accelerometer channels are treated (see VQShapeTask)",
    "objective": "pretrain (the four VQShape losses) | classify (plus cross-entropy on the label)",
    "preset": "reference (x 1, vq 1, shape 1, dist 0.8) | flat (x 1, vq 0.1, shape 0.001, dist 0.01); "
    "default reference; explicit weight_* keys override it",
    "weight_cls": "weight of the cross-entropy loss (classify)",
    "classifier_hidden": "hidden width of the classifier MLP (0: one linear layer)",
    "joint_layers": "Transformer layers over the joined channel tokens before pooling (joint)",
    "series_stats": "also give the classifier each channel's mean and log std, which VQShape's "
    "per-series normalisation removes from the tokens (true/false)",
}


def _default_patches(length: int) -> tuple[int, int]:
    """(patch_size, num_patch) for a window length: 8 x 64 for 512, 10 x 50 for 500."""
    for num_patch in (64, 50, 32, 25, 20, 16, 10):
        if length % num_patch == 0 and length // num_patch >= 2:
            return length // num_patch, num_patch
    raise UserError("config", f"no default patching for length {length}; set patch_size and num_patch")


def _default_num_token(length: int, at_most: int = 32) -> int:
    """The largest divisor of ``length`` not above ``at_most`` (32 for 512, 25 for 500)."""
    return max(n for n in range(1, at_most + 1) if length % n == 0)


class AttentionPool(nn.Module):
    """One learned query attends over tokens (B, M, d) -> (B, d), then LayerNorm."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, d) / d)
        self.attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm = nn.LayerNorm(d)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        pooled, _ = self.attention(self.query.expand(h.shape[0], -1, -1), h, h, need_weights=False)
        return self.norm(pooled[:, 0])


class VQShapeTask(nn.Module):
    """VQShape on (B, C, T) windows for the shared trainer.

    Config keys (``build``): every :class:`VQShapeConfig` field plus :data:`TASK_KEYS`.

    - ``channels="independent"`` (VQShape's way): each channel is its own univariate series
      through VQShape; the classifier (MLP on the mean of a channel's attribute-encoder
      tokens) gives per-channel logits trained with the window's label copied to each
      channel; the window's logits are the mean of its channels' logits.
    - ``channels="joint"`` (the plan's): tokens and shape losses per channel as above; the
      channels' attribute-encoder tokens, each plus a learned channel embedding, are
      concatenated along the token axis (B, C*N, d), pass ``joint_layers`` Transformer
      layers and an attention pool (one learned query) and one MLP gives (B, L) logits.
      With ``objective="pretrain"`` there is no classifier, so both modes pre-train alike.
    - ``series_stats`` (default true): the classifier also gets each channel's mean and log
      std. VQShape normalises every series, so its tokens carry no amplitude; on BasicMotions
      a classifier on the tokens of a briefly trained VQShape alone stays at chance (the
      untrained tokens barely depend on the input), while intensity separates the classes.

    Pre-training in train mode drops ``mask_ratio`` of the patches, as the reference does.
    """

    def __init__(self, model_cfg: VQShapeConfig, *, n_channels: int, n_classes: int, channels: str = "independent",
                 objective: str = "pretrain", weight_cls: float = 1.0, classifier_hidden: int = 64,
                 joint_layers: int = 1, series_stats: bool = True):
        super().__init__()
        if channels not in ("independent", "joint"):
            raise UserError("config", f"channels must be 'independent' or 'joint', not {channels!r}")
        if objective not in ("pretrain", "classify"):
            raise UserError("config", f"objective must be 'pretrain' or 'classify', not {objective!r}")
        self.channels, self.objective, self.weight_cls = channels, objective, weight_cls
        self.series_stats = bool(series_stats)
        self.n_channels, self.n_classes = n_channels, n_classes
        self.vqshape = VQShape(model_cfg)
        d = model_cfg.dim_embedding
        if objective == "classify":
            if channels == "joint":
                self.channel_embedding = nn.Parameter(torch.randn(n_channels, d) / d)
                self.joint_transformer = (
                    nn.TransformerEncoder(_encoder_layer(d, model_cfg.num_dec_head, model_cfg.dropout),
                                          num_layers=joint_layers, enable_nested_tensor=False)
                    if joint_layers > 0 else nn.Identity()
                )
                self.pool = AttentionPool(d, model_cfg.num_dec_head)
            # stats: (mean, log std) of each channel (independent) or of all channels (joint)
            d_in = d + (2 * (1 if channels == "independent" else n_channels) if self.series_stats else 0)
            self.classifier = (
                nn.Sequential(nn.Linear(d_in, classifier_hidden), nn.GELU(), nn.Linear(classifier_hidden, n_classes))
                if classifier_hidden > 0 else nn.Linear(d_in, n_classes)
            )

    @classmethod
    def build(cls, cfg: dict[str, Any], *, n_channels: int, length: int, n_classes: int) -> "VQShapeTask":
        """Build from a plain config dict (see the class docstring for the keys)."""
        cfg = dict(cfg or {})
        model_fields = {f.name for f in dataclasses.fields(VQShapeConfig)}
        unknown = sorted(k for k in cfg if k not in model_fields and k not in TASK_KEYS)
        if unknown:
            raise UserError("config", f"unknown vqshape keys: {', '.join(unknown)}")
        model = {k: v for k, v in cfg.items() if k in model_fields}
        if model.setdefault("len_input", length) != length:
            raise UserError("config", f"len_input {model['len_input']} != the data's window length {length}")
        if "patch_size" not in model and "num_patch" not in model:
            model["patch_size"], model["num_patch"] = _default_patches(length)
        elif "num_patch" not in model:
            model["num_patch"] = length // model["patch_size"]
        elif "patch_size" not in model:
            model["patch_size"] = length // model["num_patch"]
        model.setdefault("num_token", _default_num_token(length))
        # Default weights: the reference's. `mmvq bench accuracy` on BasicMotions (2 seeds, 40
        # epochs) measured them better than the plan author's "flat" ones for classification
        # too: VQShape joint 0.975 +- 0.000 vs 0.912 +- 0.088, MMVQShape 0.988 +- 0.013 vs 0.837 +- 0.112.
        preset = cfg.get("preset", "reference")
        if preset not in LOSS_PRESETS:
            raise UserError("config", f"preset must be one of {', '.join(LOSS_PRESETS)}, not {preset!r}")
        for key, value in LOSS_PRESETS[preset].items():
            model.setdefault(key, value)
        try:
            model_cfg = VQShapeConfig(**model)
        except (TypeError, ValueError) as err:
            raise UserError("config", str(err)) from None
        task = {k: cfg[k] for k in TASK_KEYS if k in cfg and k != "preset"}
        return cls(model_cfg, n_channels=n_channels, n_classes=n_classes, **task)

    @property
    def shape_codebook(self) -> ShapeCodebook:
        """The shape codebook (codes: ``.weight`` (K, dim_code))."""
        return self.vqshape.shape_codebook

    @property
    def cfg(self) -> VQShapeConfig:
        return self.vqshape.cfg

    def _series(self, batch: dict[str, Any]) -> torch.Tensor:
        x = batch["signal"]
        if x.ndim != 3 or x.shape[-1] != self.cfg.len_input:
            raise ValueError(f"signal must be (B, C, {self.cfg.len_input}), got {tuple(x.shape)}")
        return rearrange(x, "b c t -> (b c) t")

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        """batch["signal"] (B, C, T) [, batch["label"] (B,)] -> the protocol's output dict."""
        x = batch["signal"]
        B, C = x.shape[:2]
        mask_ratio = self.cfg.mask_ratio if (self.training and self.objective == "pretrain") else 0.0
        out = self.vqshape(self._series(batch), mask_ratio=mask_ratio)
        losses = dict(out["losses"])
        loss = self.vqshape.total_loss(losses)
        per_channel = lambda v: rearrange(v, "(b c) ... -> b c ...", b=B)  # noqa: E731
        result: dict[str, Any] = {
            "code_idx": per_channel(out["code_idx"]),
            **{k: per_channel(out[k].squeeze(-1)) for k in ("t", "l", "mu", "sigma")},
            "s_pred": per_channel(out["s_pred"]),
            "s_true": per_channel(out["s_true"]),
            "x_pred": per_channel(out["x_pred"]),
        }
        if self.objective == "classify":
            stats = torch.cat([out["mean"], out["std"].log()], dim=-1)  # (B*C, 2)
            logits, cls_loss = self.classify(out["h_attr"], stats, B, C, batch.get("label"))
            result["logits"] = logits
            if cls_loss is not None:
                losses["cls"] = cls_loss
                loss = loss + self.weight_cls * cls_loss
        result["losses"] = losses
        result["loss"] = loss
        return result

    def classify(self, h_attr: torch.Tensor, stats: torch.Tensor, B: int, C: int, label: torch.Tensor | None):
        """Logits (B, L) and cross-entropy (None without ``label``) from the attribute-encoded
        tokens ``h_attr`` (B*C, N, d) and per-series stats (B*C, 2); MMVQShape reuses it."""
        if self.channels == "independent":
            pooled = h_attr.mean(dim=1)  # (B*C, d)
            if self.series_stats:
                pooled = torch.cat([pooled, stats], dim=-1)
            channel_logits = self.classifier(pooled)  # (B*C, L)
            logits = rearrange(channel_logits, "(b c) l -> b c l", b=B).mean(dim=1)  # (B, L)
            cls = None if label is None else F.cross_entropy(channel_logits, label.repeat_interleave(C))
            return logits, cls
        h = rearrange(h_attr, "(b c) n d -> b c n d", b=B) + self.channel_embedding[:C, None, :]
        h = self.joint_transformer(rearrange(h, "b c n d -> b (c n) d"))  # (B, C*N, d)
        pooled = self.pool(h)  # (B, d)
        if self.series_stats:
            pooled = torch.cat([pooled, rearrange(stats, "(b c) s -> b (c s)", b=B)], dim=-1)
        logits = self.classifier(pooled)  # (B, L)
        return logits, None if label is None else F.cross_entropy(logits, label)

    @torch.no_grad()
    def features(self, batch: dict[str, Any], kind: str = "token") -> torch.Tensor:
        """Frozen features for a linear probe (VQShape's evaluation), no patch masking.

        ``token``: every channel's tokens [z_q, t, l, mu, sigma] flattened, (B, C*N*(dim_code+4));
        ``histogram``: every channel's code counts, (B, C*num_code) float.
        """
        x = batch["signal"]
        B = x.shape[0]
        out = self.vqshape(self._series(batch))
        if kind == "token":
            feats = self.vqshape.token_features(out)  # (B*C, N, F)
        elif kind == "histogram":
            feats = self.vqshape.histogram(out["code_idx"]).float()  # (B*C, K)
        else:
            raise ValueError(f"kind must be 'token' or 'histogram', not {kind!r}")
        return rearrange(feats, "(b c) ... -> b (c ...)", b=B)
