"""Shape tokens cut from the signal (models/shape_tokens.py, token_bag.py, shape_tokens_task.py,
mmvqshape_tokens.py) and the shape metrics that judge them (coverage, the k-means yardstick)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmvqshape.models import build_task, mmvqshape_architecture
from mmvqshape.models.shape_tokens import ShapeTokenizer, ShapeTokensConfig, StretchGrid, spherical_kmeans, unit_forms
from mmvqshape.models.token_bag import masked_stats, segment_spans
from mmvqshape.training.shape_metrics import claimed_subsequence, coverage, kmeans_fit_r2, shape_fit_r2


def _signals(n: int = 40, channels: int = 3, length: int = 128, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    time = torch.linspace(0, 8 * torch.pi, length)
    phase = torch.rand(n, channels, 1, generator=g) * 6.28
    return torch.sin(time * (1 + torch.rand(n, channels, 1, generator=g)) + phase) + 0.1 * torch.randn(n, channels, length, generator=g)


def test_every_scale_of_the_grid_covers_every_sample():
    grid = StretchGrid.build(500, (1 / 32, 1 / 16, 1 / 8), 0.5)
    for n, starts in zip(grid.stretch_len, grid.starts):
        covered = np.zeros(500, dtype=bool)
        for s in starts:
            covered[s:s + n] = True
        assert covered.all() and starts[-1] + n == 500
    t, l = grid.placement()
    assert coverage(t[None, None].numpy(), l[None, None].numpy(), 500).item() == 1.0


def test_a_token_claims_exactly_its_stretch_and_its_fit_is_the_squared_correlation():
    signals = _signals()
    tokenizer = ShapeTokenizer(ShapeTokensConfig(num_code=8, len_s=16), 128).fit(signals[:30], seed=0)
    out = tokenizer(signals[30:])
    # the metrics' claimed sub-sequence at (t, l) is the stretch the tokenizer cut
    claimed = claimed_subsequence(signals[30:].numpy(), out["t"].numpy(), out["l"].numpy(), 16)
    np.testing.assert_allclose(claimed, out["s_true"].numpy(), atol=1e-5)
    fit = shape_fit_r2(signals[30:].numpy(), out["t"].numpy(), out["l"].numpy(), out["s_pred"].numpy())
    np.testing.assert_allclose(fit, out["fit"].numpy(), atol=1e-4)
    assert (out["sigma"] >= 0).all()


def test_a_stretch_that_is_a_code_is_reproduced_exactly():
    tokenizer = ShapeTokenizer(ShapeTokensConfig(scales=(0.25,), hop=1.0, num_code=2, len_s=32), 128)
    ramp = torch.linspace(-1, 1, 32)
    tokenizer.shape_codebook.copy_(torch.stack([ramp, torch.sin(torch.linspace(0, 6.28, 32))]) )
    tokenizer.shape_codebook.copy_((tokenizer.shape_codebook - tokenizer.shape_codebook.mean(1, keepdim=True))
                                   / tokenizer.shape_codebook.std(1, keepdim=True))
    signal = torch.cat([3.0 * ramp + 5.0] * 4)[None, None]  # four stretches, each a scaled, shifted ramp
    out = tokenizer(signal)
    assert out["code_idx"].tolist() == [[[0, 0, 0, 0]]]
    torch.testing.assert_close(out["s_pred"], out["s_true"], atol=1e-4, rtol=0)
    torch.testing.assert_close(out["x_pred"], signal, atol=1e-4, rtol=0)


def test_spherical_kmeans_is_seeded_and_leaves_no_code_dead():
    forms, _, _ = unit_forms(torch.randn(500, 16))
    a = spherical_kmeans(forms, 20, 10, torch.Generator().manual_seed(3))
    b = spherical_kmeans(forms, 20, 10, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assigned = (forms @ a.T).argmax(1)
    assert torch.bincount(assigned, minlength=20).min() > 0


def test_masked_stats_match_numpy():
    values = torch.randn(2, 3, 10)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[0, :4] = True
    mask[1, 3:] = True
    stats = masked_stats(values, mask)  # (B, C, S, 7)
    for s, member in enumerate(mask):
        chosen = values[..., member].numpy()
        np.testing.assert_allclose(stats[:, :, s, 0], chosen.mean(-1), atol=1e-5)
        np.testing.assert_allclose(stats[:, :, s, 1], chosen.std(-1), atol=1e-5)
        np.testing.assert_allclose(stats[:, :, s, 4], np.quantile(chosen, 0.5, axis=-1), atol=1e-5)


def test_segments_cover_the_window():
    spans = segment_spans(512, 0.25, 0.5)
    assert spans[0, 0] == 0 and spans[-1, 1] == 512 and len(spans) == 7


def test_kmeans_yardstick_fits_its_own_centroids_perfectly():
    rng = np.random.default_rng(0)
    centroids = rng.normal(size=(4, 12))
    train = np.repeat(centroids, 20, axis=0) * rng.uniform(0.5, 2, size=(80, 1)) + rng.normal(size=(80, 1))
    np.testing.assert_allclose(kmeans_fit_r2(train, centroids * 3 - 1, 4), 1.0, atol=1e-9)


def _token_mm(holdout: bool = False):
    task = build_task("mmvqshape", {"num_code": 8, "len_s": 16}, n_channels=3, length=128, n_classes=3, text_dim=6)
    task.set_label_candidates(["a", "b", "c", "d"], torch.randn(4, 6))
    g = torch.Generator().manual_seed(0)
    sources = [name for name in "abcd" for _ in range(3)]
    seen = [s != "d" and not (holdout and s == "c") for s in sources] if holdout else [s != "d" for s in sources]
    task.set_action_codebook(torch.randn(12, 6, generator=g), [f"sentence {i}" for i in range(12)], sources, seen=seen)
    task.fit_shapes(_signals(), seed=0)
    return task


def test_default_mmvqshape_is_the_token_model_and_old_configs_keep_the_fusion_design():
    assert mmvqshape_architecture({"objective": "classify", "channels": "joint"}) == "bag"
    assert mmvqshape_architecture({"dim_embedding": 16, "num_token": 8}) == "legacy-fusion"
    assert mmvqshape_architecture({"architecture": "fusion"}) == "legacy-fusion"


def test_cached_frozen_features_give_the_same_logits_and_loss():
    task = _token_mm().eval()
    signal, label = _signals(4, seed=1), torch.tensor([0, 1, 2, 0])
    full = task({"signal": signal, "label": label})
    cached = task({"signal": signal, "label": label, "frozen_features": task.frozen_features(signal)})
    torch.testing.assert_close(full["logits"], cached["logits"])
    torch.testing.assert_close(full["loss"], cached["loss"])


def test_explanations_are_distinct_seen_sentences_placed_inside_the_window():
    task = _token_mm().eval()
    out = task({"signal": _signals(5, seed=2)})
    idx, span = out["action_idx"], out["action_span"]
    k = task.text_cfg.num_slots
    assert idx.shape == (5, k) and span.shape == (5, k, 2)
    assert all(len(set(row)) == len(row) for row in idx.tolist())
    assert bool(task.sentence_seen[idx].all())  # never a held-out or foreign label's sentence
    assert (span[..., 0] >= 0).all() and (span[..., 1] <= 128).all() and (span[..., 0] < span[..., 1]).all()


def test_held_out_sentences_never_reach_the_training_loss():
    task = _token_mm(holdout=True).train()
    torch.manual_seed(0)
    batch = {"signal": _signals(6, seed=3), "label": torch.tensor([0, 1, 0, 1, 0, 1])}
    loss = task(batch)["loss"]
    task.sentence_vectors[6:9] = torch.randn(3, 6)  # label c's sentences (held out)
    torch.manual_seed(0)
    assert torch.equal(loss, task(batch)["loss"])


def test_bad_token_config_is_refused():
    with pytest.raises(ValueError, match="scales"):
        ShapeTokensConfig(scales=(0.0,))
    with pytest.raises(ValueError, match="unknown keys"):
        build_task("shape-tokens", {"nonsense": 1}, n_channels=3, length=128, n_classes=3)
