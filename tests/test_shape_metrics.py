"""Shape metrics (training.shape_metrics) on hand-made numbers, and against the VQShape model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmvqshape.training import shape_metrics as sm


def test_perfect_reconstruction_scores_one_and_window_mean_scores_zero():
    x = np.random.default_rng(0).normal(size=(5, 3, 20))
    assert sm.reconstruction_r2(x, x)["r2"] == pytest.approx(1.0)
    means = np.broadcast_to(x.mean(axis=-1, keepdims=True), x.shape)
    result = sm.reconstruction_r2(x, means)
    assert result["r2"] == pytest.approx(0.0)
    assert result["window_r2"]["median"] == pytest.approx(0.0)
    # torch tensors are read the same way
    assert sm.reconstruction_r2(torch.tensor(x), torch.tensor(x))["r2"] == pytest.approx(1.0)


def test_r2_pools_sums_over_series_per_class_and_channel():
    # window 0: channel 0 = [0, 2] (SS 2), predicted [0, 1] (SSE 1); channel 1 = [0, 4] (SS 8), exact
    # window 1: channel 0 = [1, 1] (constant, SS 0) predicted [1, 2] (SSE 1); channel 1 = [0, 2] (SS 2) predicted [1, 1] (SSE 2)
    x = np.array([[[0, 2], [0, 4]], [[1, 1], [0, 2]]], dtype=float)
    x_pred = np.array([[[0, 1], [0, 4]], [[1, 2], [1, 1]]], dtype=float)
    result = sm.reconstruction_r2(x, x_pred, labels=[0, 1], class_names=["walk", "sit", "lie"], channel_names=["x", "y"])
    assert result["r2"] == pytest.approx(1 - (1 + 0 + 1 + 2) / (2 + 8 + 0 + 2))
    assert result["per_channel"] == {"x": pytest.approx(1 - 2 / 2), "y": pytest.approx(1 - 2 / 10)}
    assert result["per_class"] == {"walk": pytest.approx(1 - 1 / 10), "sit": pytest.approx(1 - 3 / 2)}  # "lie" has no window
    np.testing.assert_allclose(sm.window_r2(x, x_pred), [0.9, -0.5])
    assert result["window_r2"]["median"] == pytest.approx(0.2)
    assert result["n_windows"] == 2 and "SS" in result["pooling"]


def test_constant_windows_have_no_r2():
    x = np.ones((2, 1, 8))
    assert sm.reconstruction_r2(x, x + 1)["r2"] is None
    assert np.isnan(sm.window_r2(x, x)).all()
    with pytest.raises(ValueError):
        sm.reconstruction_r2(x, x[..., :4])


def test_pca_with_enough_components_reconstructs_a_low_rank_family_and_fewer_do_not():
    rng = np.random.default_rng(1)
    T = 32
    time = np.arange(T) / T
    basis = np.stack([np.sin(2 * np.pi * time), np.cos(2 * np.pi * 3 * time)])  # rank 2 after centring

    def windows(n):  # each series: a mix of the two waves, with its own offset and scale
        mix = rng.normal(size=(n, 2, 2))
        return mix @ basis * rng.uniform(0.5, 3, size=(n, 2, 1)) + rng.normal(size=(n, 2, 1))

    train, test = windows(200), windows(50)
    assert sm.reconstruction_r2(test, sm.pca_reconstruction(train, test, 2))["r2"] == pytest.approx(1.0, abs=1e-6)
    one = sm.reconstruction_r2(test, sm.pca_reconstruction(train, test, 1))["r2"]
    assert 0.0 < one < 0.9
    # fitted on training series only: a test family outside their span is not reconstructed
    other = np.cos(2 * np.pi * 7 * time)[None, None, :] * np.ones((4, 2, 1))
    assert sm.reconstruction_r2(other, sm.pca_reconstruction(train, other, 2))["r2"] < 0.1


def test_standardize_series_is_vqshape_normalize():
    from mmvqshape.models.vqshape import VQShape

    x = np.random.default_rng(2).normal(size=(4, 16)) * 3 + 1
    ours, mean, std = sm.standardize_series(x)
    theirs, their_mean, their_std = VQShape.normalize(torch.tensor(x))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10)
    np.testing.assert_allclose(std, their_std.numpy(), rtol=1e-10)


def test_claimed_subsequence_on_a_ramp_and_as_vqshape_samples_it():
    from mmvqshape.models.vqshape import extract_subsequence

    T = 11
    x = np.arange(T, dtype=float)[None, None, :]  # x[i] = i
    t = np.array([[[0.0, 0.5, 0.8]]])
    l = np.array([[[1.0, 0.2, 0.5]]])  # the last one runs past the end: clipped at 1
    sub = sm.claimed_subsequence(x, t, l, 5)
    np.testing.assert_allclose(sub[0, 0, 0], np.linspace(0, 10, 5))
    np.testing.assert_allclose(sub[0, 0, 1], np.linspace(5, 7, 5))
    np.testing.assert_allclose(sub[0, 0, 2], np.linspace(8, 10, 5))

    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 2, 40))
    t, l = rng.uniform(0, 0.9, size=(3, 2, 6)), rng.uniform(0.02, 0.6, size=(3, 2, 6))
    ours = sm.claimed_subsequence(x, t, l, 16)
    theirs = extract_subsequence(torch.tensor(x).reshape(6, 40), torch.tensor(t).reshape(6, 6, 1),
                                 torch.tensor(l).reshape(6, 6, 1), 16)
    np.testing.assert_allclose(ours.reshape(6, 6, 16), theirs.numpy(), atol=1e-5)  # its grid is float32


def test_shape_fit_is_one_for_the_claimed_shape_zero_for_its_mean_and_nan_on_flat_stretches():
    T = 64
    x = np.sin(np.linspace(0, 6 * np.pi, T))[None, None, :].copy()
    x[..., 48:] = 0.25  # a flat end
    t = np.array([[[0.0, 0.2, 0.8]]])
    l = np.array([[[0.3, 0.4, 0.15]]])  # the third token claims only the flat end
    exact = sm.claimed_subsequence(x, t, l, 16)
    fit = sm.shape_fit_r2(x, t, l, exact)
    np.testing.assert_allclose(fit[0, 0, :2], [1.0, 1.0])
    assert np.isnan(fit[0, 0, 2])
    flat = np.broadcast_to(exact.mean(axis=-1, keepdims=True), exact.shape)
    np.testing.assert_allclose(sm.shape_fit_r2(x, t, l, flat)[0, 0, :2], [0.0, 0.0], atol=1e-12)
    summary = sm.shape_summary(x, t, l, exact)
    assert summary["fit_r2"]["median"] == pytest.approx(1.0)
    assert summary["fit_r2"]["n_tokens"] == 3 and summary["fit_r2"]["n_undefined"] == 1


def test_sigma_ratio_by_hand():
    x = np.array([[[0.0, 2.0, 0.0, 2.0]]])  # std (ddof 1) = sqrt(4/3)
    shape = np.array([-1.0, 1.0, -1.0, 1.0])  # std (ddof 1) = sqrt(4/3)
    s_pred = np.stack([0.5 * shape + 7, 0.0 * shape, 2 * shape])[None, None]  # (1, 1, 3, 4)
    np.testing.assert_allclose(sm.sigma_ratio(x, s_pred)[0, 0], [0.5, 0.0, 2.0])
    assert np.isnan(sm.sigma_ratio(np.ones((1, 1, 4)), s_pred)).all()
    assert sm.shape_summary(x, np.zeros((1, 1, 3)), np.ones((1, 1, 3)), s_pred)["sigma_ratio"]["median"] == pytest.approx(0.5)


def test_vqshape_sigma_ratio_is_its_sigma():
    from mmvqshape.models.vqshape import VQShape, VQShapeConfig

    torch.manual_seed(0)
    cfg = VQShapeConfig(len_input=64, patch_size=8, num_patch=8, dim_embedding=16, num_enc_head=2, num_enc_layer=1,
                        num_tokenizer_head=2, num_tokenizer_layer=1, num_dec_head=2, num_dec_layer=1, num_token=8,
                        len_s=16, num_code=6, dim_code=4, dropout=0.0, mask_ratio=0.0)
    model = VQShape(cfg).eval().double()
    x = torch.randn(3, 64, dtype=torch.float64).cumsum(-1) * 2
    with torch.no_grad():
        out = model(x)
    ratio = sm.sigma_ratio(x[:, None], out["s_pred"][:, None])[:, 0]  # (3, N)
    var = x.var(dim=-1, keepdim=True)
    expected = out["sigma"].squeeze(-1) * torch.sqrt((var + 1e-5) / var)
    np.testing.assert_allclose(ratio, expected.numpy(), rtol=1e-6)
    fit = sm.shape_fit_r2(x[:, None], out["t"].squeeze(-1)[:, None], out["l"].squeeze(-1)[:, None], out["s_pred"][:, None])
    s_true = out["s_true"]  # VQShape's own target (no smoothing here): the same R²
    sse = ((out["s_pred"] - s_true) ** 2).sum(-1)
    ss = ((s_true - s_true.mean(-1, keepdim=True)) ** 2).sum(-1)
    np.testing.assert_allclose(fit[:, 0], (1 - sse / ss).numpy(), rtol=1e-6)


def test_code_usage_by_hand():
    usage = sm.code_usage(np.array([[0, 0], [1, 1]]), 4)
    assert usage["histogram"] == [2, 2, 0, 0]
    assert usage["used_codes"] == 2 and usage["dead_codes"] == 2
    assert usage["perplexity"] == pytest.approx(2.0)
    assert sm.code_usage(np.arange(8), 8)["perplexity"] == pytest.approx(8.0)
    assert sm.code_usage(np.zeros(0), 3) == {"num_codes": 3, "used_codes": 0, "dead_codes": 3, "perplexity": 0.0,
                                            "histogram": [0, 0, 0]}
    with pytest.raises(ValueError):
        sm.code_histogram(np.array([0, 4]), 4)
    assert math.isclose(sm.code_usage(torch.tensor([3, 3, 3]), 5)["perplexity"], 1.0)


def test_accumulator_over_batches_equals_the_whole_and_sits_beside_pca():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(10, 2, 24))
    x_pred = x + rng.normal(scale=0.5, size=x.shape)
    labels = np.array([0, 1] * 5)
    t, l = rng.uniform(0, 0.8, size=(10, 2, 3)), rng.uniform(0.1, 0.5, size=(10, 2, 3))
    s_pred = sm.claimed_subsequence(x, t, l, 8) + rng.normal(scale=0.1, size=(10, 2, 3, 8))
    acc = sm.ShapeMetricsAccumulator()
    assert not acc
    for part in (slice(0, 4), slice(4, 10)):
        acc.add(torch.tensor(x[part]), {"x_pred": torch.tensor(x_pred[part]), "t": t[part], "l": l[part], "s_pred": s_pred[part]},
                labels[part])
    whole = sm.reconstruction_r2(x, x_pred, labels, ["a", "b"], ["u", "v"])
    assert acc.reconstruction(["a", "b"], ["u", "v"]) == whole
    shapes = acc.shapes()
    assert shapes["fit_r2"] == sm.shape_summary(x, t, l, s_pred)["fit_r2"] and shapes["tokens_per_series"] == 3
    merged = sm.with_pca_baseline(whole, sm.reconstruction_r2(x, x, labels, ["a", "b"], ["u", "v"]), 3)
    assert merged["pca_r2"] == pytest.approx(1.0) and merged["r2"] == whole["r2"]
    assert merged["per_class"]["b"] == {"r2": whole["per_class"]["b"], "pca_r2": pytest.approx(1.0)}
    assert set(merged["per_channel"]) == {"u", "v"} and merged["pca_components"] == 3
    # a model without a reconstruction adds nothing
    empty = sm.ShapeMetricsAccumulator()
    empty.add(x, {"logits": np.zeros((10, 2))}, labels)
    assert not empty and empty.shapes() is None


def test_accumulator_fits_the_pca_baseline_on_training_windows_with_one_component_per_token():
    rng = np.random.default_rng(5)
    time = np.linspace(0, 1, 16)
    basis = np.stack([np.sin(2 * np.pi * time), np.cos(2 * np.pi * 2 * time), np.sin(2 * np.pi * 5 * time)])
    train = rng.normal(size=(40, 2, 3)) @ basis
    test = rng.normal(size=(6, 2, 3)) @ basis
    outputs = {"x_pred": test, "code_idx": np.zeros((6, 2, 3), dtype=int)}  # 3 tokens per series
    acc = sm.ShapeMetricsAccumulator(pca_train=train)
    acc.add(test[:2], {k: v[:2] for k, v in outputs.items()}, [0, 1])
    acc.add(test[2:], {k: v[2:] for k, v in outputs.items()}, [0, 1, 0, 1])
    rec = acc.reconstruction()
    assert rec["pca_components"] == 3 and rec["pca_r2"] == pytest.approx(1.0, abs=1e-9) and rec["r2"] == pytest.approx(1.0)
    two = sm.ShapeMetricsAccumulator(pca_train=train)
    two.add(test, {"x_pred": test, "code_idx": np.zeros((6, 2, 2), dtype=int)}, [0] * 6)
    assert two.reconstruction()["pca_r2"] < 0.99
