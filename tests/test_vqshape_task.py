"""VQShapeTask: the model task protocol for both channel modes and objectives."""

from __future__ import annotations

import pytest
import torch

from mmvqshape.models import build_task
from mmvqshape.models.vqshape_task import VQShapeTask

SMALL = {"dim_embedding": 16, "num_enc_head": 2, "num_enc_layer": 1, "num_tokenizer_head": 2, "num_dec_head": 2,
         "num_token": 8, "len_s": 16, "num_code": 8, "dim_code": 4, "classifier_hidden": 8}


pytestmark = pytest.mark.usefixtures("one_thread")


def batch(B=2, C=3, T=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"signal": torch.randn(B, C, T, generator=g).cumsum(-1), "label": torch.tensor([0, 2, 1, 3][:B])}


@pytest.mark.parametrize("channels", ["independent", "joint"])
@pytest.mark.parametrize("objective", ["pretrain", "classify"])
def test_outputs_follow_the_protocol(channels, objective):
    torch.manual_seed(0)
    task = build_task("vqshape", {**SMALL, "channels": channels, "objective": objective, "patch_size": 8},
                      n_channels=3, length=64, n_classes=4).train()
    out = task(batch())
    B, C, N = 2, 3, 8
    for key in ("t", "l", "mu", "sigma"):
        assert out[key].shape == (B, C, N), key
    assert out["code_idx"].shape == (B, C, N) and out["code_idx"].dtype == torch.long
    assert out["s_pred"].shape == out["s_true"].shape == (B, C, N, 16)
    assert out["x_pred"].shape == (B, C, 64)
    expected = {"ts", "vq", "shape", "dist"} | ({"cls"} if objective == "classify" else set())
    assert set(out["losses"]) == expected
    assert ("logits" in out) == (objective == "classify")
    if objective == "classify":
        assert out["logits"].shape == (B, 4)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    assert all(torch.isfinite(v) for v in out["losses"].values())
    out["loss"].backward()
    grads = [p.grad for p in task.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    if objective == "classify":
        assert task.classifier[0].weight.grad.abs().sum() > 0
    assert task.shape_codebook.weight.shape == (8, 4)


@pytest.mark.parametrize("channels", ["independent", "joint"])
def test_series_stats_reach_the_classifier_only_when_asked(channels):
    b = batch()
    louder = {"signal": b["signal"] * 3.0, "label": b["label"]}
    for stats in (True, False):
        torch.manual_seed(0)
        task = build_task("vqshape", {**SMALL, "channels": channels, "objective": "classify", "series_stats": stats},
                          n_channels=3, length=64, n_classes=4).eval()
        with torch.no_grad():
            same = torch.allclose(task(b)["logits"], task(louder)["logits"], atol=1e-5)
        assert same != stats  # VQShape itself is scale-invariant; only the stats see the scale


def test_joint_logits_depend_on_channel_identity():
    torch.manual_seed(0)
    task = build_task("vqshape", {**SMALL, "channels": "joint", "objective": "classify"},
                      n_channels=3, length=64, n_classes=4).eval()
    b = batch()
    swapped = {"signal": b["signal"][:, [1, 0, 2]], "label": b["label"]}
    with torch.no_grad():
        assert not torch.allclose(task(b)["logits"], task(swapped)["logits"])


def test_independent_logits_are_the_mean_of_channel_logits():
    torch.manual_seed(0)
    task = build_task("vqshape", {**SMALL, "objective": "classify"}, n_channels=3, length=64, n_classes=4).eval()
    b = batch()
    with torch.no_grad():
        logits = task(b)["logits"]
        per_channel = [task({"signal": b["signal"][:, [c]]})["logits"] for c in range(3)]
    assert torch.allclose(logits, torch.stack(per_channel).mean(0), atol=1e-5)


def test_defaults_pick_patches_tokens_and_presets():
    t512 = build_task("vqshape", {}, n_channels=3, length=512, n_classes=4)
    assert (t512.cfg.patch_size, t512.cfg.num_patch, t512.cfg.num_token) == (16, 32, 32)
    t500 = build_task("vqshape", {"preset": "flat"}, n_channels=3, length=500, n_classes=4)
    assert (t500.cfg.patch_size, t500.cfg.num_patch, t500.cfg.num_token) == (20, 25, 25)
    assert (t500.cfg.weight_vq, t500.cfg.weight_shape, t500.cfg.weight_dist) == (0.1, 0.001, 0.01)
    assert t512.cfg.weight_dist == 0.8 and (t512.cfg.shape_loss, t512.cfg.shape_grad) == ("split", "heads")
    reference = build_task("vqshape", {"preset": "reference"}, n_channels=3, length=512, n_classes=4)
    assert (reference.cfg.shape_loss, reference.cfg.shape_grad, reference.cfg.lambda_entropy) == ("reference", "all", 0.1)
    assert (reference.cfg.mask_ratio, reference.cfg.len_s, reference.cfg.min_shape_len) == (0.25, 128, 1 / 64)
    custom = build_task("vqshape", {"preset": "flat", "weight_shape": 0.5}, n_channels=3, length=512, n_classes=4)
    assert custom.cfg.weight_shape == 0.5 and custom.cfg.weight_vq == 0.1


@pytest.mark.parametrize("cfg,match", [
    ({"dim_embeding": 8}, "unknown"),
    ({"channels": "stacked"}, "channels"),
    ({"objective": "forecast"}, "objective"),
    ({"preset": "mine"}, "preset"),
    ({"len_input": 256}, "len_input"),
    ({"num_token": 33}, "num_token"),
])
def test_bad_config_is_a_value_error(cfg, match):
    with pytest.raises(ValueError, match=match):
        VQShapeTask.build(cfg, n_channels=3, length=512, n_classes=4)


def test_wrong_length_is_a_value_error():
    task = build_task("vqshape", SMALL, n_channels=3, length=64, n_classes=4)
    with pytest.raises(ValueError, match="64"):
        task(batch(T=48))


def test_probe_features():
    task = build_task("vqshape", SMALL, n_channels=3, length=64, n_classes=4).eval()
    b = batch()
    token = task.features(b, kind="token")
    histogram = task.features(b, kind="histogram")
    assert token.shape == (2, 3 * 8 * (4 + 4)) and not token.requires_grad
    assert histogram.shape == (2, 3 * 8)
    assert histogram.sum(dim=1).tolist() == [24.0, 24.0]
    with pytest.raises(ValueError):
        task.features(b, kind="cls")
