"""VQShape model: fidelity to the reference fixture, reference loading, per-code gradients."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmvqshape.models.reference import load_reference, rename_reference_key, to_reference_state_dict
from mmvqshape.models.vqshape import VQShape, VQShapeConfig, extract_subsequence

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "vqshape-reference"  # the reference's own outputs (README there)


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_config(**changes) -> VQShapeConfig:
    values = dict(len_input=64, patch_size=8, num_patch=8, dim_embedding=16, num_enc_head=2, num_enc_layer=1,
                  num_tokenizer_head=2, num_tokenizer_layer=1, num_dec_head=2, num_dec_layer=1, num_token=8,
                  len_s=16, num_code=6, dim_code=4, dropout=0.0, mask_ratio=0.0)
    values.update(changes)
    return VQShapeConfig(**values)


def series(batch: int, length: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, length, generator=g).cumsum(-1) + 3.0).to(dtype)


@pytest.fixture(scope="module")
def fixture_files():
    config = json.loads((FIXTURE / "config.json").read_text())
    return config, load_file(str(FIXTURE / "state_dict.safetensors")), load_file(str(FIXTURE / "io.safetensors"))


def test_fixture_outputs_match_reference(fixture_files):
    config, state_dict, io = fixture_files
    model = load_reference(config, state_dict).eval()
    with torch.no_grad():
        out = model.reference_outputs(io["x"])
    assert set(out) == set(io) - {"x"}
    for key, ours in out.items():
        ref = io[key]
        assert ours.shape == ref.shape, key
        if ref.dtype == torch.long:
            assert torch.equal(ours, ref), key
        elif key in ("s_pred", "s_true"):
            continue
        else:
            assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-5), (key, (ours - ref).abs().max())
    # The extraction is exact given the reference's own (t, l) ...
    s_true = extract_subsequence(io["x"], io["t_pred"], io["l_pred"], config["len_s"], config["s_smooth_factor"])
    assert torch.allclose(s_true, io["s_true"], atol=1e-5)
    # ... and so is the shape decoder given its codes, in the decoder's (standardised) units.
    _, mean, std = model.normalize(io["x"])
    with torch.no_grad():
        shape = model.shape_decoder(io["code"].reshape(-1, config["dim_code"])).view_as(io["s_pred"])
    scale = io["sigma_pred"] * std.unsqueeze(1)
    ref_shape = (io["s_pred"] - mean.unsqueeze(1)) / std.unsqueeze(1) - io["mu_pred"]
    assert ((shape * io["sigma_pred"] - ref_shape).abs() * std.unsqueeze(1) / scale).max() < 2e-5
    # End to end, a one-ulp difference in t moves 511-sample positions; allow for that amplification.
    assert torch.allclose(out["s_true"], io["s_true"], atol=2e-4)
    assert torch.allclose(out["s_pred"], io["s_pred"], rtol=1e-5, atol=5e-5)


def test_fixture_per_token_path_agrees(fixture_files):
    config, state_dict, io = fixture_files
    fast = load_reference(config, state_dict).eval()
    slow = load_reference(config, state_dict, shape_decode="per_token").eval()
    with torch.no_grad():
        a, b = fast.reference_outputs(io["x"][:2]), slow.reference_outputs(io["x"][:2])
    assert torch.equal(a["code_idx"], b["code_idx"])
    assert torch.allclose(a["s_pred"], b["s_pred"], atol=5e-5)


@pytest.mark.parametrize("prefix", ["", "model."])
def test_load_reference_with_and_without_model_prefix(prefix):
    torch.manual_seed(1)
    ours = VQShape(tiny_config()).eval()
    reference_sd = {prefix + k: v for k, v in to_reference_state_dict(ours).items()}
    assert "shape_decoder.layers.5.channel_up.weight" in {k.removeprefix(prefix) for k in reference_sd}
    config = {k: v for k, v in tiny_config().to_dict().items()
              if k in ("len_input", "patch_size", "num_patch", "dim_embedding", "num_enc_head", "num_enc_layer",
                       "num_tokenizer_head", "num_tokenizer_layer", "num_dec_head", "num_dec_layer", "num_token",
                       "len_s", "s_smooth_factor", "num_code", "dim_code")}
    loaded = load_reference({**config, "codebook_type": "standard"}, reference_sd).eval()
    x = series(3, 64)
    with torch.no_grad():
        a, b = ours.reference_outputs(x), loaded.reference_outputs(x)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_load_reference_refuses_foreign_weights():
    ours = VQShape(tiny_config())
    reference_sd = to_reference_state_dict(ours)
    config = {"len_input": 64, "patch_size": 8, "num_patch": 8, "dim_embedding": 16, "num_enc_head": 2,
              "num_enc_layer": 1, "num_tokenizer_head": 2, "num_tokenizer_layer": 1, "num_dec_head": 2,
              "num_dec_layer": 1, "num_token": 8, "len_s": 16, "num_code": 6, "dim_code": 4}
    with pytest.raises(ValueError, match="unknown keys"):
        load_reference(config, {**reference_sd, "something.else": torch.zeros(1)})
    with pytest.raises(ValueError, match="missing keys"):
        load_reference(config, {k: v for k, v in reference_sd.items() if not k.startswith("decoder.")})
    with pytest.raises(ValueError, match="do not fit"):
        load_reference({**config, "num_code": 7}, reference_sd)
    with pytest.raises(KeyError):
        rename_reference_key("optimizer.state")


def _spread_codebook(model: VQShape, x: torch.Tensor) -> None:
    """Set the codes to some tokens' z, so that several codes are in use."""
    with torch.no_grad():
        x_norm, _, _ = model.normalize(x)
        z = model.tokenize(model.encode(x_norm))["z"].reshape(-1, model.cfg.dim_code)
        picks = torch.linspace(0, len(z) - 1, model.cfg.num_code).long()
        model.shape_codebook.embedding.weight.copy_(z[picks])


def _grads(model: VQShape, x: torch.Tensor):
    x = x.clone().requires_grad_(True)
    out = model.reference_outputs(x)
    loss = out["ts_loss"] + out["vq_loss"] + out["shape_loss"] + 0.8 * out["dist_loss"]
    loss.backward()
    return out, x.grad, {n: p.grad for n, p in model.named_parameters()}


def test_per_code_gradients_equal_per_token_gradients(monkeypatch):
    torch.manual_seed(0)
    per_code = VQShape(tiny_config()).double()
    x = series(6, 64, dtype=torch.float64)  # 48 tokens > (used codes x dim_code): the Jacobian path runs
    _spread_codebook(per_code, x)
    per_token = copy.deepcopy(per_code)
    per_token.cfg.shape_decode = "per_token"
    assert per_code.cfg.shape_decode == "per_code"
    jacobian_calls = []
    original = VQShape.decoder_jacobian
    monkeypatch.setattr(VQShape, "decoder_jacobian", lambda self, c: jacobian_calls.append(len(c)) or original(self, c))
    out_c, gx_c, gp_c = _grads(per_code, x)
    assert jacobian_calls, "the per-code path did not use the decoder Jacobian"
    monkeypatch.setattr(VQShape, "decoder_jacobian", original)
    out_t, gx_t, gp_t = _grads(per_token, x)
    assert out_c["code_idx"].unique().numel() > 1
    for key in out_c:
        assert torch.allclose(out_c[key].double(), out_t[key].double(), rtol=1e-9, atol=1e-9), key
    assert gx_c.abs().max() > 0
    assert torch.allclose(gx_c, gx_t, rtol=1e-9, atol=1e-12)
    for name in gp_t:
        assert (gp_c[name] is None) == (gp_t[name] is None), name
        if gp_t[name] is not None:
            assert torch.allclose(gp_c[name], gp_t[name], rtol=1e-8, atol=1e-10), name
    # the decoder's gradient reaches z (the straight-through path), not the codebook
    assert gp_c["attribute_decoder.z_head.2.weight"].abs().max() > 0


def test_per_code_gradients_float32_close():
    torch.manual_seed(2)
    per_code = VQShape(tiny_config())
    x = series(6, 64, seed=3)
    _spread_codebook(per_code, x)
    per_token = copy.deepcopy(per_code)
    per_token.cfg.shape_decode = "per_token"
    _, gx_c, gp_c = _grads(per_code, x)
    _, gx_t, gp_t = _grads(per_token, x)
    assert torch.allclose(gx_c, gx_t, rtol=1e-4, atol=1e-5)
    # float32 rounding, amplified by the shape standardisation of a random decoder (raw std
    # ~0.02): e.g. the last conv's bias has true gradient 0 and float32 noise ~1e-4 both ways
    scale = max(g.abs().max().item() for g in gp_t.values() if g is not None)
    for name in gp_t:
        if gp_t[name] is not None:
            assert (gp_c[name] - gp_t[name]).abs().max() <= 5e-5 * max(scale, 1.0), name


@pytest.mark.parametrize("length,patch_size,num_patch,num_token", [(512, 8, 64, 32), (500, 10, 50, 25)])
def test_patch_configs_shapes(length, patch_size, num_patch, num_token):
    cfg = tiny_config(len_input=length, patch_size=patch_size, num_patch=num_patch, num_token=num_token, len_s=32)
    model = VQShape(cfg)
    x_norm, _, _ = model.normalize(series(2, length))
    assert model.encode(x_norm).shape == (2, num_patch, 16)
    model.train()
    assert model.encode(x_norm, mask_ratio=0.25).shape == (2, num_patch - int(0.25 * num_patch), 16)
    out = model.reference_outputs(series(2, length))
    assert out["x_pred"].shape == (2, length)
    assert out["s_pred"].shape == out["s_true"].shape == (2, num_token, 32)
    assert out["token"].shape == (2, num_token, cfg.dim_code + 4)
    assert out["histogram"].sum(dim=1).tolist() == [num_token, num_token]
    assert 0 <= out["t_pred"].min() and out["l_pred"].min() >= cfg.min_shape_len


def test_config_rejects_inconsistent_values():
    with pytest.raises(ValueError, match="tile"):
        VQShapeConfig(len_input=500, patch_size=8, num_patch=64)
    with pytest.raises(ValueError, match="num_token"):
        VQShapeConfig(len_input=500, patch_size=10, num_patch=50, num_token=32)
    with pytest.raises(ValueError, match="shape_decode"):
        VQShapeConfig(shape_decode="fast")
    with pytest.raises(ValueError, match="unknown"):
        VQShapeConfig.from_dict({"dim_embeding": 3})


def test_decoder_jacobian_matches_autodiff():
    from torch.func import jacfwd

    torch.manual_seed(4)
    model = VQShape(tiny_config(len_s=32, s_smooth_factor=3)).double()
    codes = torch.randn(3, 4, dtype=torch.float64)
    ours = model.decoder_jacobian(codes)
    expected = torch.stack([jacfwd(lambda c: model.shape_decoder(c[None])[0])(c) for c in codes]).detach()
    assert ours.shape == (3, 32, 4)
    assert torch.allclose(ours, expected, rtol=1e-9, atol=1e-12)
