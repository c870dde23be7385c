"""mmvq convert-vqshape: reference checkpoints in, our checkpoint out; bad files exit 2."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
from safetensors.torch import save_file

from mmvqshape.cli import main
from mmvqshape.models.reference import to_reference_state_dict
from mmvqshape.models.vqshape import VQShape, VQShapeConfig
from mmvqshape.pipelines.vqshape_convert import load_vqshape

REFERENCE_ARGS = {"dim_embedding": 16, "patch_size": 8, "num_patch": 8, "num_enc_head": 2, "num_enc_layer": 1,
                  "num_tokenizer_head": 2, "num_tokenizer_layer": 1, "num_dec_head": 2, "num_dec_layer": 1,
                  "num_token": 8, "len_s": 16, "len_input": 64, "s_smooth_factor": 1, "num_code": 6, "dim_code": 4,
                  "codebook_type": "standard", "lambda_commit": 0.25, "lambda_entropy": 0.1, "entropy_gamma": 1.0,
                  "mask_ratio": 0.25}
# the same model as the reference training script's hyper-parameters
HPARAMS = {"normalize_length": 64, "dim_embedding": 16, "patch_size": 8, "num_patch": 8, "num_token": 8,
           "num_transformer_enc_heads": 2, "num_transformer_enc_layers": 1, "num_tokenizer_heads": 2,
           "num_tokenizer_layers": 1, "num_transformer_dec_heads": 2, "num_transformer_dec_layers": 1,
           "num_code": 6, "dim_code": 4, "codebook_type": "standard", "len_s": 16, "s_smooth_factor": 1,
           "lambda_x": 1.0, "lambda_z": 1.0, "lambda_s": 1.0, "lambda_dist": 0.8, "lambda_vq_commit": 0.25,
           "lambda_vq_entropy": 0.1, "entropy_gamma": 1.0, "lr": 3e-4, "mask_ratio": 0.25, "data_root": "x"}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def reference_model():
    torch.manual_seed(5)
    return VQShape(VQShapeConfig(**{k: v for k, v in REFERENCE_ARGS.items() if k != "codebook_type"})).eval()


def _same_outputs(a: VQShape, b: VQShape) -> None:
    x = torch.randn(2, 64).cumsum(-1)
    with torch.no_grad():
        oa, ob = a.eval().reference_outputs(x), b.eval().reference_outputs(x)
    for key in oa:
        assert torch.equal(oa[key], ob[key]), key


def test_lightning_checkpoint_round_trip(tmp_path, reference_model, capsys):
    ckpt = tmp_path / "VQShape.ckpt"
    state = {"model." + k: v for k, v in to_reference_state_dict(reference_model).items()}
    from lightning.fabric.utilities.data import AttributeDict  # how Lightning stores hyper-parameters

    torch.save({"state_dict": state, "hyper_parameters": AttributeDict(HPARAMS), "epoch": 3}, ckpt)
    out = tmp_path / "ours.safetensors"
    assert main(["convert-vqshape", str(ckpt), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    model = load_vqshape(out)
    _same_outputs(reference_model, model)
    assert model.cfg.weight_dist == 0.8 and model.cfg.lambda_commit == 0.25


def test_safetensors_with_config_json(tmp_path, reference_model):
    weights = tmp_path / "state_dict.safetensors"
    save_file({k: v.contiguous() for k, v in to_reference_state_dict(reference_model).items()}, str(weights))
    (tmp_path / "config.json").write_text(json.dumps(REFERENCE_ARGS))
    out = tmp_path / "a.safetensors"
    assert main(["convert-vqshape", str(weights), "--out", str(out)]) == 0
    _same_outputs(reference_model, load_vqshape(out))
    out2 = tmp_path / "b.safetensors"
    assert main(["convert-vqshape", str(weights), "--out", str(out2), "--config", str(tmp_path / "config.json")]) == 0
    assert load_vqshape(out2, shape_decode="per_token").cfg.shape_decode == "per_token"
    namespaced = tmp_path / "namespace.ckpt"
    torch.save({"state_dict": to_reference_state_dict(reference_model), "hyper_parameters": argparse.Namespace(**HPARAMS)},
               namespaced)
    assert main(["convert-vqshape", str(namespaced), "--out", str(tmp_path / "c.safetensors")]) == 0


def _one_error_line(capsys, path) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(path) in err[0], err
    return err[0]


def test_bad_inputs_exit_2(tmp_path, reference_model, capsys):
    out = tmp_path / "o.safetensors"
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    assert main(["convert-vqshape", str(text), "--out", str(out)]) == 2
    assert "not a PyTorch checkpoint" in _one_error_line(capsys, text)

    missing = tmp_path / "missing.ckpt"
    assert main(["convert-vqshape", str(missing), "--out", str(out)]) == 2
    _one_error_line(capsys, missing)

    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"model.backbone.weight": torch.zeros(2)}, "hyper_parameters": HPARAMS}, foreign)
    assert main(["convert-vqshape", str(foreign), "--out", str(out)]) == 2
    assert "not a VQShape reference state_dict" in _one_error_line(capsys, foreign)

    pickled = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": HPARAMS, "callback": _Opaque()}, pickled)
    assert main(["convert-vqshape", str(pickled), "--out", str(out)]) == 2
    assert "--trust-pickle" in _one_error_line(capsys, pickled)

    bare = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in to_reference_state_dict(reference_model).items()}, str(bare))
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "bare.safetensors").write_bytes(bare.read_bytes())
    assert main(["convert-vqshape", str(sub / "bare.safetensors"), "--out", str(out)]) == 2
    assert "--config" in _one_error_line(capsys, sub / "bare.safetensors")
    assert not out.exists()

    ours = tmp_path / "ours.safetensors"
    save_file({"a": torch.zeros(1)}, str(ours))
    with pytest.raises(Exception, match="not an mmvqshape VQShape checkpoint"):
        load_vqshape(ours)


class _Opaque:
    pass
