"""mmvq pretrain over several sources, and train --init from its weights or a converted reference."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
import yaml

import train_support as ts
from mmvqshape.cli import main
from mmvqshape.models import build_task
from mmvqshape.models.vqshape import VQShape, VQShapeConfig
from mmvqshape.pipelines.run.weights import apply_init, read_init_weights
from mmvqshape.signals import load_windows
from mmvqshape.pipelines.vqshape_convert import load_vqshape, save_vqshape
from mmvqshape.training.callbacks import monitor_for
from mmvqshape.training.config import merge_config

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"dim_embedding": 16, "num_enc_head": 2, "num_enc_layer": 1, "num_tokenizer_head": 2, "num_dec_head": 2,
        "num_token": 8, "num_code": 16, "dim_code": 4, "len_s": 16, "patch_size": 4, "num_patch": 16}


@pytest.fixture
def sources(tmp_path):
    a = ts.write_windows(tmp_path / "a.npz", n_per_class=6, length=64, channels=3)
    b = ts.write_windows(tmp_path / "b.npz", n_per_class=6, length=40, channels=2, labels=("x", "y"), seed=1)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({"model": TINY}))
    return a, b, cfg


def test_series_windows_flatten_channels_and_keep_splits(sources):
    a, b, _ = sources
    w = load_windows(f"series:{a}+{b}")  # b's 40 samples interpolated to a's 64
    assert w.X.shape == (18 * 3 + 12 * 2, 64, 1)
    assert w.labels == [f"{a}/sit", f"{a}/walk", f"{a}/run", f"{b}/x", f"{b}/y"]
    assert (w.split == "test").sum() == 6 * 3 + 4 * 2  # each source's test windows, every channel
    assert {"train", "val"} <= set(w.split)


def test_pretrain_writes_weights_that_init_a_classifier(sources, tmp_path):
    a, b, cfg = sources
    run = tmp_path / "pre"
    assert main(["pretrain", "--data", str(a), "--data", str(b), "--config", str(cfg), "--out", str(run),
                 "--max-epochs", "1", "--length", "64", "--batch-size", "8", "--no-progress"]) == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["data"] == f"series:{a}+{b}" and config["model"]["objective"] == "pretrain"
    weights = load_vqshape(run / "vqshape.safetensors")
    assert weights.cfg.num_code == 16 and weights.cfg.len_input == 64
    assert main(["evaluate", str(run)]) == 0  # the run's data string loads again

    # --init: the classifier starts from exactly these weights, whatever its own config says
    for source in (run, run / "vqshape.safetensors", run / "checkpoints" / "last.ckpt"):
        model = read_init_weights(source)
        cfg_run = merge_config({"data": str(a), "length": 64, "init": str(source)})
        apply_init(cfg_run, model)
        assert cfg_run.model["num_code"] == 16 and cfg_run.model["dim_embedding"] == 16
    task = build_task("mmvqshape", cfg_run.model, n_channels=3, length=64, n_classes=3, text_dim=6)
    task.shape_model.load_state_dict(weights.state_dict())
    for key, value in weights.state_dict().items():
        assert torch.equal(task.shape_model.state_dict()[key], value), key

    emb = ts.write_embeddings(tmp_path / "emb", dim=6, k=3)
    out = tmp_path / "mm"
    # pre-trained VQShape weights start the design built on VQShape, named explicitly (--init never switches it)
    assert main(["train", "--model", "mmvqshape", "--architecture", "legacy-fusion", "--data", str(a), "--corpus", str(emb),
                 "--init", str(run), "--out", str(out), "--max-epochs", "1", *ts.TINY_FLAGS]) == 0
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["init"] == str(run) and resolved["model"]["num_code"] == 16
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["accuracy"], metrics["n_test"]) == ts.predictions_accuracy(out)


def test_pretraining_selects_its_checkpoint_on_the_validation_r2(sources, tmp_path):
    assert monitor_for("pretrain") == ("val/r2", "max") and monitor_for("classify") == ("val/select", "max")
    a, b, cfg = sources
    run = tmp_path / "pre"
    assert main(["pretrain", "--data", str(a), "--data", str(b), "--config", str(cfg), "--out", str(run),
                 "--max-epochs", "3", "--length", "64", "--batch-size", "8", "--no-progress"]) == 0
    logged = pd.read_csv(run / "logs" / "csv" / "metrics.csv")
    r2_per_epoch = logged.dropna(subset=["val/r2"]).set_index("epoch")["val/r2"]
    assert list(r2_per_epoch.index) == [0, 1, 2] and r2_per_epoch.between(-10, 1).all()
    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    selection = [state for name, state in best["callbacks"].items() if "'monitor': 'val/r2'" in name]
    assert len(selection) == 1 and "'mode': 'max'" in next(n for n in best["callbacks"] if "val/r2" in n)
    assert float(selection[0]["best_model_score"]) == pytest.approx(r2_per_epoch.max(), abs=1e-6)
    assert best["epoch"] == int(r2_per_epoch.idxmax())


def test_init_from_a_converted_reference_checkpoint(sources, tmp_path):
    a, _, _ = sources
    torch.manual_seed(0)
    reference = VQShape(VQShapeConfig(**{**TINY, "len_input": 64}))
    path = save_vqshape(reference, tmp_path / "ref.safetensors")  # what mmvq convert-vqshape writes
    out = tmp_path / "vq"
    # lr so small that one epoch leaves the loaded weights as they were
    assert main(["train", "--model", "vqshape", "--data", str(a), "--init", str(path), "--lr", "1e-12",
                 "--out", str(out), "--max-epochs", "1", *ts.TINY_FLAGS]) == 0
    from mmvqshape.training.checkpoint import load_task

    task, _ = load_task(out / "checkpoints" / "last.ckpt")
    after = task.shape_model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.allclose(after[key], value, atol=1e-6), key


def test_init_refuses_what_the_weights_cannot_be(sources, tmp_path, capsys):
    a, _, cfg = sources
    path = save_vqshape(VQShape(VQShapeConfig(**{**TINY, "len_input": 64})), tmp_path / "w.safetensors")
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"model": {"num_code": 32}}))
    cases = [
        (["--init", str(path), "--length", "128"], "--length 64"),
        (["--init", str(path), "--length", "64", "--config", str(other)], "num_code"),
        (["--init", str(tmp_path / "missing.safetensors"), "--length", "64"], "no such"),
        (["--init", str(tmp_path), "--length", "64"], "vqshape.safetensors"),
    ]
    for extra, message in cases:
        out = tmp_path / "never"
        assert main(["train", "--model", "vqshape", "--data", str(a), "--out", str(out), "--no-progress", *extra]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
    assert main(["train", "--model", "minirocket", "--data", str(a), "--init", str(path), "--out", str(tmp_path / "m")]) == 2


def test_bundled_weights_fit_the_default_model():
    from mmvqshape.pipelines.run.weights import BUNDLED_WEIGHTS

    assert BUNDLED_WEIGHTS.stat().st_size < 5 * 2**20  # small enough to ship in the package
    model = read_init_weights("bundled")
    cfg = merge_config({"data": "basicmotions", "init": "bundled"})
    apply_init(cfg, model)  # no clash with the defaults: the demo starts from it
    default = build_task("vqshape", {}, n_channels=3, length=512, n_classes=4)
    assert model.cfg.architecture() == default.cfg.architecture()
