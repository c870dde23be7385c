"""The shape decoder's Jacobian by forward-mode differentiation, written out by hand.

VQShape's ``per_code`` shape decoding (``vqshape.py``) decodes each *used* codebook entry once
and keeps the straight-through gradient into the token's code exact by adding the zero-valued
term ``J(code) @ (z_q - sg(z_q))``. ``J`` is the decoder's Jacobian at that entry:
:func:`shape_decoder_jacobian` runs the decoder's primal pass once and propagates the
``dim_code`` tangent directions batched beside it (tangents (E, U, ...)): linear maps and
convs take tangents without their bias, norms and GELUs their derivatives at the primal.

It follows the layers of ``vqshape.ShapeDecoder`` one by one (project, block1, upsample1,
block2, upsample2, to_shape, standardisation); a change there needs the same change here,
and ``tests/test_vqshape_model.py`` checks the result against ``torch.func.jacfwd``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn


def shape_decoder_jacobian(decoder: nn.Module, code: torch.Tensor) -> torch.Tensor:
    """d decoder(c) / d c at each row of code (U, dim_code) -> (U, len_s, dim_code). Not differentiable itself."""
    h = rearrange(decoder.project(code), "u (c t) -> u c t", c=decoder.width)  # (U, 128, len_s/16)
    # the tangent of the first (linear) layer along code axis e is its weight column e
    dh = repeat(rearrange(decoder.project.weight, "(c t) e -> e c t", c=decoder.width), "e c t -> e u c t", u=len(code))
    h, dh = _block_tangent(decoder.block1, h, dh)
    h, dh = _gelu_tangent(h, dh)
    h, dh = _upsample_tangent(decoder.upsample1, h, dh)
    h, dh = _block_tangent(decoder.block2, h, dh)
    h, dh = _gelu_tangent(h, dh)
    h, dh = _upsample_tangent(decoder.upsample2, h, dh)
    h, dh = _gelu_tangent(h, dh)
    shape, d_shape = decoder.to_shape(h).squeeze(1), _conv_tangent(decoder.to_shape, dh).squeeze(2)  # (U, L), (E, U, L)
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


def _block_tangent(block: nn.Module, x: torch.Tensor, dx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h, dh = _group_norm_tangent(block.norm1, x, dx)
    h, dh = _gelu_tangent(h, dh)
    h, dh = block.conv1(h), _conv_tangent(block.conv1, dh)
    h, dh = _group_norm_tangent(block.norm2, h, dh)
    h, dh = _gelu_tangent(h, dh)
    h, dh = block.conv2(h), _conv_tangent(block.conv2, dh)
    if isinstance(block.skip, nn.Identity):
        return x + h, dx + dh
    return block.skip(x) + h, _conv_tangent(block.skip, dx) + dh


def _upsample_tangent(up: nn.Module, x: torch.Tensor, dx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dx_up = F.interpolate(dx.flatten(0, 1), scale_factor=float(up.factor))
    return up(x), _conv_tangent(up.conv, dx_up.view(*dx.shape[:2], *dx_up.shape[1:]))
