"""VQShapeTask: VQShape (``vqshape.py``) on multichannel windows, for the shared trainer.

It implements the task protocol (``task.py``): channels ``independent`` (each channel its own
series, VQShape's way) or ``joint`` (per-channel tokens joined for one classifier),
objective ``pretrain`` or ``classify``, loss-weight ``preset`` ``reference`` or ``flat``.
Its stages are public so MMVQShape composes them: :meth:`VQShapeTask.encode` (windows ->
per-channel series through the patch encoder, :class:`EncodedSeries`) and
:meth:`VQShapeTask.decode` (encoder output -> tokens, shapes, reconstruction, losses and,
when classifying, logits); ``forward`` is the two in turn. ``features(batch, kind)`` gives
frozen token or histogram features for a linear probe.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .config_keys import field_names, reject_unknown_keys
from .task import SignalOnly
from .vqshape import DEFAULT_PRESET, LOSS_PRESETS, ShapeCodebook, VQShape, VQShapeConfig, encoder_layer

TASK_KEYS = {
    "channels": "independent | joint: how accelerometer channels are treated (see VQShapeTask)",
    "objective": "pretrain (the four VQShape losses) | classify (plus cross-entropy on the label)",
    "preset": "shapes (split shape loss, shape losses off the encoder; docs/shapes.md 'Shapes that explain') | reference "
    "(the reference's losses: x 1, vq 1, shape 1, dist 0.8) | flat (x 1, vq 0.1, shape 0.001, dist 0.01); "
    "default: vqshape.DEFAULT_PRESET; explicit keys override it",
    "weight_cls": "weight of the cross-entropy loss (classify)",
    "classifier_hidden": "hidden width of the classifier MLP (0: one linear layer)",
    "joint_layers": "Transformer layers over the joined channel tokens before pooling (joint)",
    "series_stats": "also give the classifier each channel's mean and log std, which VQShape's "
    "per-series normalisation removes from the tokens (true/false)",
}


def _default_patches(length: int) -> tuple[int, int]:
    """(patch_size, num_patch) for a window length: 16 x 32 for 512, 20 x 25 for 500 (half the
    encoder's cost of 64 / 50 patches; measured as good on HAPT validation, docs/shapes.md)."""
    for num_patch in (32, 25, 20, 16, 64, 50, 10):
        if length % num_patch == 0 and length // num_patch >= 2:
            return length // num_patch, num_patch
    raise ValueError(f"no default patching for length {length}; set patch_size and num_patch")


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


class VQShapeTask(SignalOnly, nn.Module):
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
            raise ValueError(f"channels must be 'independent' or 'joint', not {channels!r}")
        if objective not in ("pretrain", "classify"):
            raise ValueError(f"objective must be 'pretrain' or 'classify', not {objective!r}")
        self.channels, self.objective, self.weight_cls = channels, objective, weight_cls
        self.series_stats = bool(series_stats)
        self.n_channels, self.n_classes = n_channels, n_classes
        # the task keys resolved_config() reports (build() keeps only those its config gave)
        self.task_keys: dict[str, Any] = {"channels": channels, "objective": objective, "weight_cls": weight_cls,
                                          "classifier_hidden": classifier_hidden, "joint_layers": joint_layers,
                                          "series_stats": series_stats}
        self.vqshape = VQShape(model_cfg)
        d = model_cfg.dim_embedding
        if objective == "classify":
            if channels == "joint":
                self.channel_embedding = nn.Parameter(torch.randn(n_channels, d) / d)
                self.joint_transformer = (
                    nn.TransformerEncoder(encoder_layer(d, model_cfg.num_dec_head, model_cfg.dropout),
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
        model_fields = field_names(VQShapeConfig)
        reject_unknown_keys(cfg, model_fields | set(TASK_KEYS), "vqshape keys")
        model = {k: v for k, v in cfg.items() if k in model_fields}
        if model.setdefault("len_input", length) != length:
            raise ValueError(f"len_input {model['len_input']} != the data's window length {length}")
        if "patch_size" not in model and "num_patch" not in model:
            model["patch_size"], model["num_patch"] = _default_patches(length)
        elif "num_patch" not in model:
            model["num_patch"] = length // model["patch_size"]
        elif "patch_size" not in model:
            model["patch_size"] = length // model["num_patch"]
        model.setdefault("num_token", _default_num_token(length))
        # Default: DEFAULT_PRESET (vqshape.py); "reference" keeps the reference's exact losses.
        preset = cfg.get("preset", DEFAULT_PRESET)
        if preset not in LOSS_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(LOSS_PRESETS)}, not {preset!r}")
        for key, value in LOSS_PRESETS[preset].items():
            model.setdefault(key, value)
        try:
            model_cfg = VQShapeConfig(**model)
        except TypeError as err:  # a key of the wrong kind: the same error as a bad value
            raise ValueError(str(err)) from None
        task = {k: cfg[k] for k in TASK_KEYS if k in cfg and k != "preset"}
        built = cls(model_cfg, n_channels=n_channels, n_classes=n_classes, **task)
        built.task_keys = {k: v for k, v in cfg.items() if k in TASK_KEYS}  # as given: config.yaml lists what was chosen
        return built

    @property
    def shape_codebook(self) -> ShapeCodebook:
        """The shape codebook (codes: ``.weight`` (K, dim_code))."""
        return self.vqshape.shape_codebook

    @property
    def shape_model(self) -> VQShape:
        """The VQShape inside (what ``mmvq pretrain`` saves and ``--init`` loads)."""
        return self.vqshape

    @property
    def cfg(self) -> VQShapeConfig:
        return self.vqshape.cfg

    # ---- the task protocol (task.py) -----------------------------------------------------
    def num_codes(self) -> dict[str, int]:
        return {"shape": self.cfg.num_code}

    def resolved_config(self) -> dict[str, Any]:
        """The resolved :class:`VQShapeConfig` fields and the task keys the config gave (their
        defaults are left out, so ``config.yaml`` lists what was chosen); rebuilds this task."""
        return {**self.cfg.to_dict(), **self.task_keys}

    # ---- stages ------------------------------------------------------------------------
    def series(self, signal: torch.Tensor) -> torch.Tensor:
        """Windows (B, C, T) -> one univariate series per channel (B*C, T)."""
        if signal.ndim != 3 or signal.shape[-1] != self.cfg.len_input:
            raise ValueError(f"signal must be (B, C, {self.cfg.len_input}), got {tuple(signal.shape)}")
        return rearrange(signal, "b c t -> (b c) t")

    def encode(self, batch: dict[str, Any]) -> "EncodedSeries":
        """batch["signal"] (B, C, T) -> every channel normalised and through the patch encoder.

        Pre-training in train mode drops ``mask_ratio`` of the patches, as the reference does.
        """
        signal = batch["signal"]
        series = self.series(signal)  # (B*C, T)
        x_norm, mean, std = self.vqshape.normalize(series)
        mask_ratio = self.cfg.mask_ratio if (self.training and self.objective == "pretrain") else 0.0
        h_patch = self.vqshape.encode(x_norm, mask_ratio)  # (B*C, P', d)
        return EncodedSeries(series, mean, std, h_patch, n_windows=signal.shape[0], n_channels=signal.shape[1])

    def decode(self, encoded: "EncodedSeries", label: torch.Tensor | None = None) -> dict[str, Any]:
        """Everything after the patch encoder -> the protocol's output dict.

        Tokens, shapes and reconstruction per channel, VQShape's four losses and, when the
        objective classifies, ``logits`` (B, L) (and the cross-entropy when ``label`` is given).
        """
        B = encoded.n_windows
        out = self.vqshape.forward_encoded(encoded.series, encoded.mean, encoded.std, encoded.h_patch)
        losses = dict(out["losses"])
        loss = out["loss"]
        per_channel = lambda v: rearrange(v, "(b c) ... -> b c ...", b=B)  # noqa: E731
        result: dict[str, Any] = {
            "code_idx": per_channel(out["code_idx"]),  # (B, C, N)
            **{k: per_channel(out[k].squeeze(-1)) for k in ("t", "l", "mu", "sigma")},  # (B, C, N)
            "s_pred": per_channel(out["s_pred"]),  # (B, C, N, len_s)
            "s_true": per_channel(out["s_true"]),  # (B, C, N, len_s)
            "x_pred": per_channel(out["x_pred"]),  # (B, C, T)
        }
        if self.objective == "classify":
            stats = torch.cat([out["mean"], out["std"].log()], dim=-1)  # (B*C, 2): what normalising removed
            logits, cls_loss = self.classify(out["h_attr"], stats, B, encoded.n_channels, label)
            result["logits"] = logits
            if cls_loss is not None:
                losses["cls"] = cls_loss
                loss = loss + self.weight_cls * cls_loss
        result["losses"] = losses
        result["loss"] = loss
        return result

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        """batch["signal"] (B, C, T) [, batch["label"] (B,)] -> the protocol's output dict."""
        return self.decode(self.encode(batch), batch.get("label"))

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
        out = self.vqshape(self.series(x))
        if kind == "token":
            feats = self.vqshape.token_features(out)  # (B*C, N, F)
        elif kind == "histogram":
            feats = self.vqshape.histogram(out["code_idx"]).float()  # (B*C, K)
        else:
            raise ValueError(f"kind must be 'token' or 'histogram', not {kind!r}")
        return rearrange(feats, "(b c) ... -> b (c ...)", b=B)


@dataclass
class EncodedSeries:
    """A batch of windows after VQShape's patch encoder, one univariate series per channel."""

    series: torch.Tensor  # (B*C, T) the raw series
    mean: torch.Tensor  # (B*C, 1) what normalising removed
    std: torch.Tensor  # (B*C, 1)
    h_patch: torch.Tensor  # (B*C, P', d) patch encoder output
    n_windows: int  # B
    n_channels: int  # C

    def with_patches(self, h_patch: torch.Tensor) -> "EncodedSeries":
        """The same series with another encoder output (MMVQShape's fused one)."""
        return dataclasses.replace(self, h_patch=h_patch)
