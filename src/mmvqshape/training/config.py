"""The training configuration: one typed dataclass, merged from defaults, a YAML file and flags.

Precedence is defaults < ``--config YAML`` < command-line flags. The resolved configuration
is written to ``RUN/config.yaml`` and is what ``--resume`` and ``mmvq evaluate`` read back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from ..atomic import atomic_file
from ..errors import UserError

MODELS = ("vqshape", "mmvqshape", "shape-tokens", "minirocket", "summary-lr", "hydra")
OBJECTIVES = ("pretrain", "classify")
CHANNEL_MODES = ("independent", "joint")
PROBES = ("token", "histogram")
PROTOCOLS = ("refit", "holdout")  # training/refit.py
DATA_CHANNELS = ("acc", "gyro", "all")
NORMALIZE = ("train", "window", "none")
#: Flags that set a key of the model's own config (``model`` in config.yaml).
MODEL_FLAGS = ("objective", "channels", "preset", "architecture")

#: The plan's architecture trains its attribute encoder and fusion end to end on cached tokens, so
#: an epoch costs more than the bag model's heads, and at the trainer's 40 epochs at batch 8 it
#: overfits after about 6 (HAPT validation subjects); 10 epochs at batch 32 reach the same validation
#: accuracy in a quarter of the time (docs/benchmarks.md). Used when neither YAML nor a flag sets them.
PLAN_BUDGET = {"max_epochs": 10, "batch_size": 32}


@dataclass
class TrainConfig:
    """Everything one training run depends on (``model`` is handed to the task's builder)."""

    # what to train, on what
    model_name: str = "vqshape"  # vqshape | mmvqshape | shape-tokens | minirocket | summary-lr
    data: str = "basicmotions"  # basicmotions | path.npz | geneactiv-mat:DIR
    data_channels: str = "acc"  # acc | gyro | all
    length: int = 512  # windows are linearly interpolated to this many samples
    normalize: str = "train"  # train: per-channel standardisation with training-split statistics
    #                           window: z-score every window and channel on its own; none
    val_fraction: float = 0.2  # share of the training windows kept for model selection
    # refit: choose on validation, then fit again on training + validation with what it chose
    # (fitted baselines: fit on training + validation); holdout: fit on training only (training/refit.py)
    protocol: str = "refit"
    # text side (mmvqshape)
    corpus: str | None = None  # an embedding folder (has index.json) or a sub-action corpus
    encoder: str = "minilm"
    view: str | None = None  # corpus view (armleg|arm|leg|text); None = the corpus' default
    codebook: str | None = None  # action codebook folder from `mmvq analyze codebook`
    holdout_labels: list[str] = field(default_factory=list)  # zero-shot protocol
    # VQShape weights to start from: a .safetensors file (mmvq pretrain / convert-vqshape), a
    # pre-training run folder or a training checkpoint; sets the signal model's architecture
    init: str | None = None
    # evaluation of a pretrained run
    probe: str | None = None  # token | histogram: linear probe on frozen features
    # optimisation
    seed: int = 0
    max_epochs: int = 40  # with batch_size 8: BasicMotions (32 training windows) in about a minute on 2 idle CPU cores
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_epochs: float = 2.0  # linear warm-up length in epochs ...
    warmup_steps: int = 0  # ... or in optimiser steps when > 0
    min_lr_ratio: float = 0.01  # cosine decays to lr * min_lr_ratio
    grad_clip: float = 1.0
    # hardware
    precision: str = "auto"  # auto = bf16-mixed/16-mixed on GPU, 32 on CPU
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    num_workers: int = 0
    deterministic: bool = True
    progress: bool = True
    # the model's own configuration (objective, channels, preset, sizes, loss weights ...)
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def objective(self) -> str:
        return str(self.model.get("objective", "classify"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> "TrainConfig":
        """Raise :class:`UserError` for a value no run could use."""
        if self.model_name not in MODELS:
            raise UserError("--model", f"unknown model {self.model_name!r}; choose one of {', '.join(MODELS)}")
        if self.data_channels not in DATA_CHANNELS:
            raise UserError("data_channels", f"must be one of {', '.join(DATA_CHANNELS)}")
        if isinstance(self.normalize, bool):  # older configs: true = per window
            self.normalize = "window" if self.normalize else "none"
        if self.normalize not in NORMALIZE:
            raise UserError("normalize", f"must be one of {', '.join(NORMALIZE)}")
        if self.objective not in OBJECTIVES:
            raise UserError("--objective", f"must be one of {', '.join(OBJECTIVES)}")
        channels = self.model.get("channels", "joint")
        if channels not in CHANNEL_MODES:
            raise UserError("--channels", f"must be one of {', '.join(CHANNEL_MODES)}")
        if self.probe is not None and self.probe not in PROBES:
            raise UserError("--probe", f"must be one of {', '.join(PROBES)}")
        if self.probe is not None and self.model_name != "vqshape":
            raise UserError("--probe", "a linear probe needs a vqshape run")
        if self.init is not None and self.model_name not in ("vqshape", "mmvqshape"):
            raise UserError("--init", "pre-trained VQShape weights need --model vqshape or mmvqshape")
        if self.model_name == "mmvqshape" and not self.corpus:
            raise UserError("--corpus", "mmvqshape needs a sub-action corpus or embedding folder")
        if "architecture" in self.model and self.model_name != "mmvqshape":
            raise UserError("--architecture", "chooses mmvqshape's architecture (bag | plan); pass --model mmvqshape")
        if self.holdout_labels and self.model_name != "mmvqshape":
            raise UserError("--holdout-labels", "the zero-shot protocol needs --model mmvqshape")
        for name in ("max_epochs", "batch_size", "length", "num_nodes"):
            if int(getattr(self, name)) < 1:
                raise UserError(name, "must be at least 1")
        if self.protocol not in PROTOCOLS:
            raise UserError("--protocol", f"must be one of {', '.join(PROTOCOLS)}")
        if not 0.0 < self.val_fraction < 1.0:
            raise UserError("val_fraction", "must be between 0 and 1")
        if self.lr <= 0:
            raise UserError("lr", "must be positive")
        return self


FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a dict (a user's bad file is a :class:`UserError`)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(path, "no such config file")
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise UserError(path, f"is not valid YAML ({str(err).splitlines()[0]})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UserError(path, "must hold a mapping of config keys")
    return loaded


def merge_config(*layers: dict[str, Any] | None, where: str | Path = "config") -> TrainConfig:
    """Merge dict layers (later wins, ``None`` values skipped; ``model`` merged key by key)."""
    merged: dict[str, Any] = {}
    model: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is None:
                continue
            if key not in FIELDS:
                raise UserError(where, f"unknown config key {key!r}")
            if key == "model":
                if not isinstance(value, dict):
                    raise UserError(where, "'model' must be a mapping")
                model.update(value)
            else:
                merged[key] = value
    if isinstance(merged.get("holdout_labels"), str):
        merged["holdout_labels"] = [s.strip() for s in merged["holdout_labels"].split(",") if s.strip()]
    if merged.get("model_name") == "mmvqshape" and model.get("architecture") == "plan":
        for key, value in PLAN_BUDGET.items():  # its own default budget; a YAML or flag value wins
            merged.setdefault(key, value)
    if merged.get("model_name", "vqshape") in ("vqshape", "mmvqshape"):  # the harness' defaults, explicit in config.yaml
        model.setdefault("objective", "classify")
        model.setdefault("channels", "joint")
    try:
        cfg = TrainConfig(**merged, model=model)
    except TypeError as err:
        raise UserError(where, str(err)) from None
    return cfg.validate()


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    with atomic_file(path) as handle:
        yaml.safe_dump(cfg.to_dict(), handle, sort_keys=False)


def read_run_config(path: str | Path) -> TrainConfig:
    """Read ``RUN/config.yaml`` back into a :class:`TrainConfig` (a config written before the
    ``protocol`` key existed was trained under ``holdout``)."""
    return merge_config({"protocol": "holdout"}, load_yaml(path), where=path)


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto`` becomes bf16-mixed (or 16-mixed) on a GPU and 32 on a CPU."""
    if precision != "auto":
        return precision
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if not on_gpu:
        return "32"
    return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "16-mixed"


def load_config(config_path: str | Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """Defaults < the YAML file < ``overrides`` (flags; ``None`` means not given).

    Flags that belong to the model (:data:`MODEL_FLAGS`) go under ``model``.
    """
    base = load_yaml(config_path) if config_path else {}
    flags = dict(overrides)
    model_flags = {k: flags.pop(k) for k in MODEL_FLAGS if k in flags and flags[k] is not None}
    for k in MODEL_FLAGS:
        flags.pop(k, None)
    if model_flags:
        flags["model"] = model_flags
    devices = flags.get("devices")
    if isinstance(devices, str) and devices.isdigit():
        flags["devices"] = int(devices)
    return merge_config(base, flags, where=config_path or "config")
