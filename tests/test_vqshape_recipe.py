"""The 'shapes' recipe's parts: split shape loss, shape losses off the encoder, series-loss warm-up."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

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
