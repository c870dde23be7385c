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

Shape-loss recipe (``shape_loss``, ``shape_grad``; the presets in :data:`LOSS_PRESETS`):
``shape_loss="reference"`` and ``shape_grad="all"`` are the reference's. ``shape_loss="split"``
(:func:`split_shape_loss`) learns each token's form, offset and scale against their own
targets, so sigma cannot collapse to 0; ``shape_grad="heads"`` runs the tokens a second time
from a detached tokenizer output for the vq, shape and dist losses (same numbers), so those
train the attribute heads, codebook and shape decoder while the series loss alone trains
the patch encoder and tokenizer.

Speed (``shape_decode``): the reference decodes one shape per token although each token's
input is one of ``num_code`` codebook vectors. ``"per_code"`` (default) decodes each *used*
code once and gathers; the straight-through gradient into z (which in the reference flows
through the decoder, evaluated at the token's code) is kept exact by adding the zero-valued
term ``J(code) @ (z_q - sg(z_q))`` with the decoder's Jacobian at each used code
(``shape_jacobian.py``, forward mode by hand). Values and gradients equal the per-token
computation (``"per_token"``, the reference algorithm) up to float rounding.

The file holds the model only, in the manner of nanoGPT's ``model.py``: the config
dataclass, the modules in the order data meets them, then :class:`VQShape`. The trainer's
adapter (multichannel windows, classifier, probe features) is ``vqshape_task.py``.
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

from .config_keys import config_from_dict
from .shape_jacobian import shape_decoder_jacobian

# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

LOSS_PRESETS: dict[str, dict[str, Any]] = {
    # the reference's pre-training losses and weights (lambda_x, lambda_z, lambda_s, lambda_dist)
    "reference": {"weight_ts": 1.0, "weight_vq": 1.0, "weight_shape": 1.0, "weight_dist": 0.8,
                  "shape_loss": "reference", "shape_grad": "all"},
    # the plan author's, after the shape loss flattened everything
    "flat": {"weight_ts": 1.0, "weight_vq": 0.1, "weight_shape": 0.001, "weight_dist": 0.01,
             "shape_loss": "reference", "shape_grad": "all"},
    # shapes that follow the signal (docs/shapes.md, "Shapes that explain"; measured on HAPT validation
    # subjects): the same four losses and weights, but the shape loss split into form / offset /
    # scale (sigma cannot collapse), the vq, shape and dist losses kept off the encoder and no
    # codebook entropy term (both stalled the reconstruction), shapes at least 5 % of the
    # window, no patch masking or dropout, 64-sample decoded shapes
    "shapes": {"weight_ts": 1.0, "weight_vq": 1.0, "weight_shape": 1.0, "weight_dist": 0.8,
               "shape_loss": "split", "shape_grad": "heads", "lambda_entropy": 0.0, "min_shape_len": 0.05,
               "mask_ratio": 0.0, "dropout": 0.0, "len_s": 64, "shape_warmup_steps": 300},
}
DEFAULT_PRESET = "shapes"


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
    shape_loss: str = "reference"  # "reference" (one MSE of placed shapes) | "split" (split_shape_loss)
    shape_grad: str = "all"  # "all": vq/shape/dist losses train the encoder too (reference) | "heads": they do not
    shape_warmup_steps: int = 0  # first training steps with the series loss only (0: none, the reference)
    placement: str = "predicted"  # mu, sigma "predicted" by the attribute decoder (reference) | "measured" (measured_placement)

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
        if self.placement not in ("predicted", "measured"):
            problems.append(f"placement must be 'predicted' or 'measured', not {self.placement!r}")
        if self.shape_grad not in ("all", "heads"):
            problems.append(f"shape_grad must be 'all' or 'heads', not {self.shape_grad!r}")
        if self.shape_loss not in ("reference", "split"):
            problems.append(f"shape_loss must be 'reference' or 'split', not {self.shape_loss!r}")
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

    #: Fields that fix a trained model's parameters or what its tokens mean: weights trained
    #: with one value cannot be reused with another (``mmvq train --init``).
    ARCHITECTURE = (
        "len_input", "patch_size", "num_patch", "dim_embedding", "num_enc_head", "num_enc_layer",
        "num_tokenizer_head", "num_tokenizer_layer", "num_dec_head", "num_dec_layer", "num_token",
        "len_s", "s_smooth_factor", "num_code", "dim_code", "min_shape_len",
    )

    def architecture(self) -> dict[str, Any]:
        """The :attr:`ARCHITECTURE` fields and their values."""
        return {name: getattr(self, name) for name in self.ARCHITECTURE}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "VQShapeConfig":
        """Build from a plain dict; unknown keys are an error."""
        return config_from_dict(cls, values, "VQShapeConfig keys")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


def encoder_layer(d: int, heads: int, dropout: float) -> nn.TransformerEncoderLayer:
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
            encoder_layer(cfg.dim_embedding, cfg.num_enc_head, cfg.dropout),
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
            encoder_layer(d, cfg.num_dec_head, cfg.dropout), num_layers=cfg.num_dec_layer, enable_nested_tensor=False
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


def split_shape_loss(shape: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor,
                     min_spread: float = 1e-2) -> torch.Tensor:
    """The shape loss of ``shape_loss="split"``: form, offset and scale, each against its own target.

    ``shape`` (B, N, len_s) standardised decoded shapes, ``mu``/``sigma`` (B, N, 1), ``target``
    (B, N, len_s) the claimed sub-sequences in window-normalised units (detached). Returns
    ``MSE(shape, standardised target) + MSE(mu, target mean) + MSE(sigma, target std)``.

    The reference compares ``shape * sigma + mu`` with the target in one MSE: while decoded
    shapes are still unrelated to their targets the best sigma is 0, sigma collapses within a
    few hundred steps and, since the shape's gradient is scaled by sigma, the decoder stops
    learning (measured: median sigma 0.46 -> 0.015 in 100 steps, R² 0). Here the form is
    learnt at unit scale whatever sigma is, and sigma is the target's spread, so it cannot
    collapse. Targets flatter than ``min_spread`` (of the window's std) have no form to learn
    and only count through mu and sigma.
    """
    mean = target.mean(dim=-1, keepdim=True)
    spread = target.std(dim=-1, keepdim=True)  # unbiased, as the decoder standardises
    form_target = (target - mean) / spread.clamp(min=min_spread)
    has_form = (spread > min_spread).to(shape.dtype)  # (B, N, 1)
    form = (((shape - form_target) ** 2).mean(dim=-1, keepdim=True) * has_form).sum() / has_form.sum().clamp(min=1)
    return form + F.mse_loss(mu, mean) + F.mse_loss(sigma, spread)


def measured_placement(x_norm: torch.Tensor, t: torch.Tensor, l: torch.Tensor, shape: torch.Tensor) -> dict[str, torch.Tensor]:
    """``placement="measured"``: each token's offset and scale read off the signal it claims.

    x_norm (B, T) the normalised series, t/l (B, N, 1), shape (B, N, len_s) standardised
    decoded shapes. ``mu`` is the mean of the claimed sub-sequence and ``sigma`` the
    least-squares scale of the shape onto it (its covariance with the sub-sequence, at least
    0): the placement that fits the token's shape best, so ``s_pred`` explains the signal as
    far as the shape's form allows (fit R² = its squared correlation with the sub-sequence).
    """
    s = extract_subsequence(x_norm, t, l, shape.shape[-1])  # (B, N, len_s)
    mu = s.mean(dim=-1, keepdim=True)
    sigma = ((shape * (s - mu)).sum(dim=-1, keepdim=True) / (shape.shape[-1] - 1)).clamp(min=0.0)
    return {"mu": mu, "sigma": sigma}


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
        # training forwards so far (shape_warmup_steps); not saved: the trainer sets it from its
        # global step before every batch, so a resumed run goes on counting where it stopped
        self.train_steps = 0

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
        return self.read_tokens(self.query_tokenizer(h_patch))

    def read_tokens(self, h_token: torch.Tensor) -> dict[str, torch.Tensor]:
        """Tokenizer output (B, N, d) -> the tokens of :meth:`tokenize` (attribute decoder + codebook)."""
        attrs = self.attribute_decoder(h_token)
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
        return shape_decoder_jacobian(self.shape_decoder, codes)

    def decode_shapes(self, tokens: dict[str, torch.Tensor], mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Tokens -> shapes placed in the series' units: (B, N, len_s)."""
        return self.place_shapes(self.decode_codes(tokens["code"], tokens["code_idx"]), tokens, mean, std)

    @staticmethod
    def place_shapes(shape: torch.Tensor, tokens: dict[str, torch.Tensor], mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Standardised shapes (B, N, len_s) scaled by sigma, shifted by mu, in the series' units."""
        s = shape * tokens["sigma"] + tokens["mu"]
        return s * std.unsqueeze(1) + mean.unsqueeze(1)

    def embed_attributes(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """Tokens -> attribute-encoder embeddings (B, N, d)."""
        return self.attribute_encoder(tokens["code"], tokens["t"], tokens["l"], tokens["mu"], tokens["sigma"])

    def reconstruct(self, h_attr: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attribute embeddings (B, N, d) -> x_pred (B, T) in the series' units, CLS output (B, d)."""
        x_norm, cls = self.series_decoder(h_attr)
        return x_norm * std + mean, cls

    def compute_losses(self, x, tokens, s_pred, x_pred, shape=None, mean=None, std=None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The four unweighted losses (scalars) and the shape target s_true (B, N, len_s).

        ``shape_loss="split"`` needs the standardised shapes ``shape`` (B, N, len_s) and the
        series' ``mean`` / ``std`` (B, 1) (see :func:`split_shape_loss`).
        """
        cfg = self.cfg
        s_true = extract_subsequence(x, tokens["t"], tokens["l"], cfg.len_s, cfg.s_smooth_factor)
        if cfg.shape_loss == "split":
            target = (s_true.detach() - mean.unsqueeze(1)) / std.unsqueeze(1)  # window-normalised units
            shape_loss = split_shape_loss(shape, tokens["mu"], tokens["sigma"], target)
        else:
            shape_loss = F.mse_loss(s_pred, s_true.detach())
        losses = {
            "ts": F.mse_loss(x_pred, x),
            "vq": tokens["vq_loss"],
            "shape": shape_loss,
            "dist": disentanglement_loss(tokens["t"], tokens["l"], cfg.min_shape_len, cfg.dist_threshold),
        }
        return losses, s_true

    def total_loss(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """Weighted sum of the four losses with the config's weights; during the first
        ``shape_warmup_steps`` training forwards only the series loss counts."""
        cfg = self.cfg
        warming_up = self.training and self.train_steps <= cfg.shape_warmup_steps and cfg.shape_warmup_steps > 0
        shape_terms = cfg.weight_vq * losses["vq"] + cfg.weight_shape * losses["shape"] + cfg.weight_dist * losses["dist"]
        return cfg.weight_ts * losses["ts"] + (0.0 if warming_up else 1.0) * shape_terms

    def forward_encoded(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, h_patch: torch.Tensor) -> dict[str, Any]:
        """Everything after the patch encoder.

        x (B, T) raw series, mean/std (B, 1) from :meth:`normalize`, h_patch (B, P', d).
        Returns tokens (``code``, ``code_idx``, ``z``, ``t``, ``l``, ``mu``, ``sigma``),
        ``h_attr`` (B, N, d), ``cls`` (B, d), ``s_pred``, ``s_true`` (B, N, len_s),
        ``x_pred`` (B, T), ``mean``/``std`` (B, 1) (given), ``losses`` {ts, vq, shape, dist}
        and ``loss`` (weighted).
        """
        if self.training and torch.is_grad_enabled():
            self.train_steps += 1
        h_token = self.query_tokenizer(h_patch)  # (B, N, d)
        tokens = self.read_tokens(h_token)
        # with shape_grad "heads" the vq, shape and dist losses see the same numbers through a
        # detached tokenizer output: they train the heads, codebook and shape decoder only
        shape_tokens = self.read_tokens(h_token.detach()) if self.cfg.shape_grad == "heads" else tokens
        shape = self.decode_codes(shape_tokens["code"], shape_tokens["code_idx"])  # (B, N, len_s) standardised
        if self.cfg.placement == "measured":  # mu, sigma read off the signal under each token
            x_norm = (x - mean) / std
            same = tokens is shape_tokens
            shape_tokens = {**shape_tokens, **measured_placement(x_norm, shape_tokens["t"], shape_tokens["l"], shape)}
            # the series decoder's tokens (shape_grad "heads"): no gradient from them into the shapes
            tokens = shape_tokens if same else {**tokens, **measured_placement(x_norm, tokens["t"], tokens["l"], shape.detach())}
        s_pred = self.place_shapes(shape, shape_tokens, mean, std)
        h_attr = self.embed_attributes(tokens)
        x_pred, cls = self.reconstruct(h_attr, mean, std)
        losses, s_true = self.compute_losses(x, shape_tokens, s_pred, x_pred, shape, mean, std)
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
