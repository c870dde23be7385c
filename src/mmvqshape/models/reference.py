"""Load the reference VQShape implementation's weights into our :class:`VQShape`.

The reference (YunshiWen/VQShape) names its modules ``encoder``, ``tokenizer``,
``attr_decoder``, ``codebook``, ``shape_decoder.layers.N`` (an ``nn.Sequential``),
``attr_encoder`` and ``decoder``; ours say what each part is. :data:`KEY_RULES` maps one
to the other (prefix rewrites, applied in order); :func:`to_reference_state_dict` is the
inverse. A Lightning checkpoint of the reference stores the same keys with a ``model.``
prefix under ``state_dict`` and its constructor arguments (under the training script's
names) under ``hyper_parameters``; :func:`config_from_hparams` reads those.

No I/O here: the pipeline ``mmvqshape.pipelines.vqshape_convert`` reads files.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from .vqshape import VQShape, VQShapeConfig

# (reference prefix, our prefix), applied to the start of each key, first match wins.
KEY_RULES: list[tuple[str, str]] = [
    ("encoder.pos_embed.positional_embeddings.", "patch_encoder.position_embedding."),
    ("encoder.", "patch_encoder."),
    ("tokenizer.tokens", "query_tokenizer.queries"),
    ("tokenizer.", "query_tokenizer."),
    ("attr_decoder.tl_mean_head.layers.", "attribute_decoder.tl_head."),
    ("attr_decoder.z_head.layers.", "attribute_decoder.z_head."),
    ("attr_decoder.mu_head.layers.", "attribute_decoder.mu_head."),
    ("attr_decoder.sigma_head.layers.", "attribute_decoder.sigma_head."),
    ("codebook.", "shape_codebook."),
    ("attr_encoder.", "attribute_encoder."),
    ("decoder.out_layer.", "series_decoder.to_patch."),
    ("decoder.", "series_decoder."),
    # shape decoder: Sequential(Linear, Rearrange, ResBlock, GELU, UpSample, ResBlock, GELU,
    # UpSample, GELU, Conv1d); a residual block is Sequential(GN, GELU, conv, GN, GELU, conv).
    ("shape_decoder.layers.0.", "shape_decoder.project."),
    ("shape_decoder.layers.2.block.0.", "shape_decoder.block1.norm1."),
    ("shape_decoder.layers.2.block.2.", "shape_decoder.block1.conv1."),
    ("shape_decoder.layers.2.block.3.", "shape_decoder.block1.norm2."),
    ("shape_decoder.layers.2.block.5.", "shape_decoder.block1.conv2."),
    ("shape_decoder.layers.4.", "shape_decoder.upsample1."),
    ("shape_decoder.layers.5.block.0.", "shape_decoder.block2.norm1."),
    ("shape_decoder.layers.5.block.2.", "shape_decoder.block2.conv1."),
    ("shape_decoder.layers.5.block.3.", "shape_decoder.block2.norm2."),
    ("shape_decoder.layers.5.block.5.", "shape_decoder.block2.conv2."),
    ("shape_decoder.layers.5.channel_up.", "shape_decoder.block2.skip."),
    ("shape_decoder.layers.7.", "shape_decoder.upsample2."),
    ("shape_decoder.layers.9.", "shape_decoder.to_shape."),
]

# the reference constructor's arguments that our config shares (same names)
REFERENCE_ARGS = (
    "dim_embedding", "patch_size", "num_patch", "num_enc_head", "num_enc_layer", "num_tokenizer_head",
    "num_tokenizer_layer", "num_dec_head", "num_dec_layer", "num_token", "len_s", "len_input",
    "s_smooth_factor", "num_code", "dim_code", "lambda_commit", "lambda_entropy", "entropy_gamma", "mask_ratio",
)

# the reference training script's hyper-parameter names -> constructor / our names
HPARAM_NAMES = {
    "normalize_length": "len_input",
    "num_transformer_enc_heads": "num_enc_head",
    "num_transformer_enc_layers": "num_enc_layer",
    "num_tokenizer_heads": "num_tokenizer_head",
    "num_tokenizer_layers": "num_tokenizer_layer",
    "num_transformer_dec_heads": "num_dec_head",
    "num_transformer_dec_layers": "num_dec_layer",
    "lambda_vq_commit": "lambda_commit",
    "lambda_vq_entropy": "lambda_entropy",
    "lambda_x": "weight_ts",
    "lambda_z": "weight_vq",
    "lambda_s": "weight_shape",
    "lambda_dist": "weight_dist",
}


def rename_reference_key(key: str) -> str:
    """A reference state_dict key (optionally ``model.``-prefixed) -> ours; KeyError if unknown."""
    if key.startswith("model."):
        key = key[len("model."):]
    for old, new in KEY_RULES:
        if key.startswith(old):
            return new + key[len(old):]
    raise KeyError(key)


def to_reference_state_dict(model: VQShape) -> dict[str, torch.Tensor]:
    """Our model's weights under the reference's key names (the inverse of the rules)."""
    out = {}
    for key, value in model.state_dict().items():
        for old, new in KEY_RULES:
            if key.startswith(new) and rename_reference_key(old + key[len(new):]) == key:
                out[old + key[len(new):]] = value
                break
        else:
            raise KeyError(key)
    return out


def config_from_reference(config: Mapping[str, Any]) -> VQShapeConfig:
    """The reference constructor's arguments (or its training hyper-parameters) -> VQShapeConfig.

    Keys that configure neither the model nor its loss (data paths, learning rate, ...) are ignored.
    """
    values: dict[str, Any] = {}
    for key, value in config.items():
        name = HPARAM_NAMES.get(key, key)
        if name in REFERENCE_ARGS or name.startswith("weight_"):
            values[name] = value
    codebook_type = config.get("codebook_type", "standard")
    if codebook_type != "standard":
        raise ValueError(f"codebook_type {codebook_type!r} is not supported (only 'standard')")
    return VQShapeConfig(**values)


config_from_hparams = config_from_reference


def load_reference(config: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor], **overrides: Any) -> VQShape:
    """Build our VQShape from the reference's constructor arguments and state_dict.

    ``state_dict`` keys as the reference names them, with or without the ``model.`` prefix of
    its Lightning checkpoints (other Lightning entries, without the prefix, are refused).
    ``overrides`` set further config fields (e.g. ``shape_decode="per_token"``).
    Raises ValueError for unknown, missing or mis-shaped weights.
    """
    cfg = config_from_reference(config)
    for key, value in overrides.items():
        setattr(cfg, key, value)
    cfg.__post_init__()
    model = VQShape(cfg)
    renamed = {}
    unknown = []
    for key, value in state_dict.items():
        try:
            renamed[rename_reference_key(key)] = value
        except KeyError:
            unknown.append(key)
    own = model.state_dict()
    unknown += [k for k in renamed if k not in own]
    missing = [k for k in own if k not in renamed]
    if unknown or missing:
        raise ValueError(
            "not a VQShape reference state_dict: "
            + "; ".join(p for p in (_few("unknown keys", unknown), _few("missing keys", missing)) if p)
        )
    bad = [f"{k} {tuple(v.shape)} != {tuple(own[k].shape)}" for k, v in renamed.items() if v.shape != own[k].shape]
    if bad:
        raise ValueError("weights do not fit the config: " + _few("", bad))
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in renamed.items()})
    return model


def _few(label: str, items: list[str], n: int = 4) -> str:
    if not items:
        return ""
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return f"{label + ': ' if label else ''}{', '.join(items[:n])}{more}"


def state_dict_prefix_stripped(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep only ``model.``-prefixed entries when any exist (a Lightning checkpoint's state_dict)."""
    if any(k.startswith("model.") for k in state_dict):
        return {k: v for k, v in state_dict.items() if k.startswith("model.")}
    return dict(state_dict)

