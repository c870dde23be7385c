"""ShapeTokensTask: a classifier on shape tokens alone, for the shared trainer (model ``shape-tokens``).

::

    signal (B, C, T) -> ShapeTokenizer (shape_tokens.py, frozen once fitted)   tokens (B, C, N)
                     -> TokenBag (token_bag.py) over the whole window            (B, F)
                     -> dropout -> linear (or an MLP with ``classifier_hidden``)  logits (B, L)

Each token is (code, t, l, mu, sigma) per channel; the classifier sees nothing else (no
summary statistic of the raw signal). Before training, :meth:`fit_shapes` learns the shape
codebook and the feature standardisation from the training windows; the trainer then fits
the head alone, so an epoch costs milliseconds per batch. The same parts make MMVQShape's
signal side (``mmvqshape.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config_keys import field_names, reject_unknown_keys
from .shape_tokens import ShapeTokenizer, ShapeTokensConfig
from .task import SignalOnly
from .token_bag import TokenBag


#: The tokenizer's outputs every token model returns (task.OUTPUT_KEYS).
TOKEN_OUTPUTS = ("code_idx", "t", "l", "mu", "sigma", "s_pred", "s_true", "x_pred")


@dataclass
class TokenHeadConfig:
    """The classifier on the window's bag of tokens."""

    classifier_hidden: int = 0  # 0: one linear layer; else an MLP with this hidden width
    dropout: float = 0.3  # on the standardised bag features
    weight_cls: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def split_keys(cfg: dict[str, Any], *configs: type) -> list[dict[str, Any]]:
    """One flat dict -> one dict per dataclass of its keys; a key no dataclass has is an error."""
    reject_unknown_keys(cfg, field_names(*configs), "keys")
    names_per_config = [field_names(config) for config in configs]
    return [{k: v for k, v in cfg.items() if k in names} for names in names_per_config]


def classifier_head(d_in: int, n_classes: int, cfg: TokenHeadConfig) -> nn.Module:
    if cfg.classifier_hidden > 0:
        return nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(d_in, cfg.classifier_hidden), nn.GELU(),
                             nn.Linear(cfg.classifier_hidden, n_classes))
    return nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(d_in, n_classes))


class ShapeTokensTask(SignalOnly, nn.Module):
    """The task protocol (``task.py``) for the tokens-only classifier; see the module docstring."""

    def __init__(self, tokens_cfg: ShapeTokensConfig, head_cfg: TokenHeadConfig, *, n_channels: int, length: int,
                 n_classes: int):
        super().__init__()
        self.tokens_cfg, self.head_cfg = tokens_cfg, head_cfg
        self.n_channels, self.n_classes = n_channels, n_classes
        self.tokenizer = ShapeTokenizer(tokens_cfg, length)
        self.bag = TokenBag(self.tokenizer.grid, tokens_cfg.num_code, n_channels)
        self.register_buffer("whole_window", torch.ones(1, self.tokenizer.n_tokens, dtype=torch.bool), persistent=False)
        self.classifier = classifier_head(self.bag.dim, n_classes, head_cfg)

    @classmethod
    def build(cls, cfg: dict[str, Any], *, n_channels: int, length: int, n_classes: int) -> "ShapeTokensTask":
        tokens, head = split_keys(dict(cfg or {}), ShapeTokensConfig, TokenHeadConfig)
        return cls(ShapeTokensConfig(**tokens), TokenHeadConfig(**head), n_channels=n_channels, length=length,
                   n_classes=n_classes)

    # ---- the task protocol -----------------------------------------------------------------
    def num_codes(self) -> dict[str, int]:
        return {"shape": self.tokens_cfg.num_code}

    def resolved_config(self) -> dict[str, Any]:
        return {**self.tokens_cfg.to_dict(), **self.head_cfg.to_dict()}

    # ---- fitting the frozen parts ------------------------------------------------------------
    @torch.no_grad()
    def fit_shapes(self, signals: torch.Tensor, *, seed: int = 0, chunk: int = 256) -> None:
        """Learn the shape codebook and the bag standardisation from training windows (M, C, T)."""
        self.tokenizer.fit(signals, seed=seed)
        bags = [self.bag.raw(self.tokenizer(part), self.whole_window)[:, 0] for part in signals.split(chunk)]
        self.bag.fit_standardizer(torch.cat(bags))

    @torch.no_grad()
    def frozen_features(self, signals: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        """Standardised window bags of windows (M, C, T) -> (M, 1, F): all the head reads."""
        return torch.cat([self.bag(self.tokenizer(part), self.whole_window) for part in signals.split(chunk)])

    # ---- the forward pass ----------------------------------------------------------------------
    def tokens(self, signal: torch.Tensor) -> dict[str, torch.Tensor]:
        """signal (B, C, T) -> the tokenizer's outputs; no gradient flows into the frozen tokenizer."""
        with torch.no_grad():
            return self.tokenizer(signal)

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        """With ``batch["frozen_features"]`` (cached :meth:`frozen_features`) the tokenizer is
        skipped and only ``logits`` and the losses are returned (training); else every token output."""
        cached = batch.get("frozen_features")
        tokens = self.tokens(batch["signal"]) if cached is None else {}
        window_bag = (self.bag(tokens, self.whole_window) if cached is None else cached)[:, 0]  # (B, F)
        logits = self.classifier(window_bag)  # (B, L)
        losses: dict[str, torch.Tensor] = {}
        loss = logits.sum() * 0.0
        if batch.get("label") is not None:
            losses["cls"] = F.cross_entropy(logits, batch["label"])
            loss = self.head_cfg.weight_cls * losses["cls"]
        outputs = {k: tokens[k] for k in TOKEN_OUTPUTS if k in tokens}
        return {**outputs, "logits": logits, "losses": losses, "loss": loss}
