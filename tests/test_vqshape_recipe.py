"""The 'shapes' recipe's parts: split shape loss, shape losses off the encoder, series-loss warm-up."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import yaml

import train_support as ts
from mmvqshape.models.vqshape import VQShape, VQShapeConfig, measured_placement, split_shape_loss

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(len_input=64, patch_size=8, num_patch=8, dim_embedding=16, num_enc_head=2, num_enc_layer=1,
            num_tokenizer_head=2, num_dec_head=2, num_token=8, len_s=16, num_code=8, dim_code=4, dropout=0.0)


def _standardised(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)


def test_split_loss_does_not_reward_a_collapsed_sigma():
    g = torch.Generator().manual_seed(0)
    target = 0.7 * torch.randn(4, 8, 16, generator=g).cumsum(-1)  # sub-sequences, window units
    shape = _standardised(torch.randn(4, 8, 16, generator=g))  # unrelated to the target
    mu, spread = target.mean(-1, keepdim=True), target.std(-1, keepdim=True)
    # the reference's single MSE prefers sigma = 0 for shapes unrelated to their targets ...
    reference = lambda sigma: F.mse_loss(shape * sigma + mu, target)  # noqa: E731
    assert reference(torch.zeros_like(spread)) < reference(spread)
    # ... the split loss prefers the target's spread, whatever the shape
    assert split_shape_loss(shape, mu, spread, target) < split_shape_loss(shape, mu, torch.zeros_like(spread), target)
    # and a shape of the target's form scores 0
    assert split_shape_loss(_standardised(target), mu, spread, target) < 1e-6


def test_measured_placement_is_the_best_fit_of_the_shape():
    x = torch.randn(2, 64).cumsum(-1)
    x = (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)
    t, l = torch.full((2, 3, 1), 0.2), torch.full((2, 3, 1), 0.5)
    shape = _standardised(torch.randn(2, 3, 16))
    placed = measured_placement(x, t, l, shape)
    from mmvqshape.models.vqshape import extract_subsequence

    s = extract_subsequence(x, t, l, 16)
    best = ((shape * placed["sigma"] + placed["mu"]) - s).pow(2).sum()
    for factor in (0.8, 1.2):
        assert best <= ((shape * placed["sigma"] * factor + placed["mu"]) - s).pow(2).sum() + 1e-6
    assert torch.all(placed["sigma"] >= 0)


@pytest.mark.parametrize("shape_grad,reaches_encoder", [("all", True), ("heads", False)])
def test_shape_losses_stay_off_the_encoder_with_heads(shape_grad, reaches_encoder):
    torch.manual_seed(0)
    model = VQShape(VQShapeConfig(**TINY, shape_loss="split", shape_grad=shape_grad)).train()
    out = model(torch.randn(4, 64).cumsum(-1))
    losses = out["losses"]
    (losses["shape"] + losses["vq"] + losses["dist"]).backward(retain_graph=True)
    encoder_grad = sum(p.grad.abs().sum() for p in model.patch_encoder.parameters() if p.grad is not None)
    heads_grad = sum(p.grad.abs().sum() for p in model.attribute_decoder.parameters() if p.grad is not None)
    assert (float(encoder_grad) > 0) == reaches_encoder and float(heads_grad) > 0
    model.zero_grad()
    losses["ts"].backward()
    assert float(sum(p.grad.abs().sum() for p in model.patch_encoder.parameters() if p.grad is not None)) > 0


def test_heads_mode_changes_no_number():
    torch.manual_seed(0)
    a = VQShape(VQShapeConfig(**TINY, shape_loss="split", shape_grad="all")).eval()
    b = VQShape(VQShapeConfig(**TINY, shape_loss="split", shape_grad="heads")).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(3, 64).cumsum(-1)
    with torch.no_grad():
        oa, ob = a(x), b(x)
    for key in ("x_pred", "s_pred", "code_idx", "mu", "sigma", "loss"):
        assert torch.equal(oa[key], ob[key]), key


def test_warmup_trains_the_series_loss_alone_first():
    torch.manual_seed(0)
    model = VQShape(VQShapeConfig(**TINY, shape_loss="split", shape_grad="heads", shape_warmup_steps=2)).train()
    x = torch.randn(4, 64).cumsum(-1)
    for step in range(3):
        out = model(x)
        only_series = torch.allclose(out["loss"], model.cfg.weight_ts * out["losses"]["ts"])
        assert only_series == (step < 2), step
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert not torch.allclose(out["loss"], out["losses"]["ts"])  # evaluation always counts every loss


class _StopAfterFirstEpoch(Exception):
    """Stands for a run killed between epochs (its last.ckpt written)."""


def test_a_resumed_run_past_the_warm_up_does_not_warm_up_again(tmp_path, monkeypatch):
    from mmvqshape.pipelines.train import train
    from mmvqshape.training.config import merge_config
    from mmvqshape.training.module import TaskModule

    warming_up = []  # one flag per training forward: did only the series loss count?
    total_loss = VQShape.total_loss

    def recording_total_loss(self, losses):
        loss = total_loss(self, losses)
        if self.training:
            warming_up.append(bool(torch.allclose(loss, self.cfg.weight_ts * losses["ts"])))
        return loss

    monkeypatch.setattr(VQShape, "total_loss", recording_total_loss)
    epoch_start = TaskModule.on_train_epoch_start

    def stop_at_second_epoch(self):
        if self.current_epoch == 1 and not self.trainer.ckpt_path:
            raise _StopAfterFirstEpoch
        epoch_start(self)

    monkeypatch.setattr(TaskModule, "on_train_epoch_start", stop_at_second_epoch)
    model = {**yaml.safe_load(ts.TINY_VQSHAPE)["model"], "shape_warmup_steps": 2}
    cfg = {"model_name": "vqshape", "data": str(ts.write_windows(tmp_path / "w.npz")), "length": 64, "batch_size": 4,
           "max_epochs": 2, "progress": False, "accelerator": "cpu", "model": model, "protocol": "holdout"}
    run = tmp_path / "run"
    with pytest.raises(_StopAfterFirstEpoch):
        train(merge_config(cfg), run)
    first_epoch, warming_up[:] = list(warming_up), []
    assert first_epoch[:2] == [True, True] and not any(first_epoch[2:]) and len(first_epoch) > 2
    train(merge_config(cfg), run, resume=True)
    assert len(warming_up) == len(first_epoch)  # the second epoch ran, from the checkpoint
    assert not any(warming_up)  # past the warm-up: every loss counts from the first resumed step
