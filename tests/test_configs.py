"""The shipped ablation configs are valid training configs and each changes the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmvqshape.training.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "ablations").glob("*.yaml"))


def test_there_are_ablation_configs():
    assert {p.stem for p in CONFIGS} >= {"no-text", "no-action-quantisation", "k10", "flat-loss-weights"}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_ablation_config_loads(path):
    cfg = load_config(path, {"corpus": "basicmotions"})
    assert cfg.model_name == "mmvqshape"
    assert set(cfg.model) - {"objective", "channels"}  # each ablation sets a model key of its own
