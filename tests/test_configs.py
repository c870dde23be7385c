"""The shipped ablation configs are valid training configs and each changes the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmvqshape.training.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "ablations").glob("*.yaml"))


def test_there_are_ablation_configs():
    assert {p.stem for p in CONFIGS} >= {"fusion", "no-text", "no-action-quantisation", "k10", "flat-loss-weights"}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_ablation_config_loads(path):
    cfg = load_config(path, {"corpus": "basicmotions"})
    assert cfg.model_name == "mmvqshape"
    assert set(cfg.model) - {"objective", "channels"}  # each ablation sets a model key of its own


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_ablation_builds_the_design_it_changes(path):
    """Each changes one thing of the fusion design (fusion.yaml): a key the token design also has
    (K slots) must not switch it to that design."""
    from mmvqshape.models import build_task, mmvqshape_architecture

    cfg = load_config(path, {"corpus": "basicmotions"})
    assert mmvqshape_architecture(cfg.model) == "legacy-fusion"
    task = build_task("mmvqshape", cfg.model, n_channels=3, length=64, n_classes=2, text_dim=8)
    assert mmvqshape_architecture(task.resolved_config()) == "legacy-fusion"
    if path.stem == "k10":
        assert task.resolved_config()["num_slots"] == 10


def test_the_plan_architecture_has_its_own_default_budget_and_flags_win():
    from mmvqshape.training.config import PLAN_BUDGET, merge_config

    plan = merge_config({"model_name": "mmvqshape", "corpus": "hapt", "model": {"architecture": "plan"}})
    assert (plan.max_epochs, plan.batch_size) == (PLAN_BUDGET["max_epochs"], PLAN_BUDGET["batch_size"]) == (10, 32)
    bag = merge_config({"model_name": "mmvqshape", "corpus": "hapt"})
    assert (bag.max_epochs, bag.batch_size) == (40, 8)
    given = merge_config({"model_name": "mmvqshape", "corpus": "hapt", "model": {"architecture": "plan"}}, {"max_epochs": 3})
    assert (given.max_epochs, given.batch_size) == (3, 32)
