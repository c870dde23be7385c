"""``mmvq explain``: figure + JSON for tiny trained runs (mmvqshape and vqshape), bad index."""

from __future__ import annotations

import json

import pytest

import train_support as ts
from mmvqshape.cli import main

TINY = (
    "model:\n  dim_embedding: 16\n  num_enc_head: 2\n  num_enc_layer: 1\n  num_tokenizer_head: 2\n  num_dec_head: 2\n"
    "  num_token: 8\n  num_code: 16\n  dim_code: 4\n  len_s: 16\n  patch_size: 4\n  num_patch: 16\n"
)
TINY_MM = TINY + "  num_slots: 3\n  fusion_heads: 2\n  text_hidden: 16\n  action_hidden: 16\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    data = ts.write_windows(root / "w.npz", n_per_class=6)
    emb = ts.write_embeddings(root / "emb", dim=8, k=4)
    (root / "mm.yaml").write_text(TINY_MM)
    (root / "vq.yaml").write_text(TINY)
    flags = ["--max-epochs", "1", *ts.TINY_FLAGS]
    assert main(["train", "--model", "mmvqshape", "--data", str(data), "--corpus", str(emb), "--config",
                 str(root / "mm.yaml"), "--out", str(root / "mm"), *flags]) == 0
    assert main(["train", "--model", "vqshape", "--data", str(data), "--config", str(root / "vq.yaml"),
                 "--out", str(root / "vq"), *flags]) == 0
    return root, data


def test_explain_mmvqshape_writes_png_and_json(runs, capsys):
    root, data = runs
    out = root / "out_mm"
    assert main(["explain", str(root / "mm"), "--data", str(data), "--index", "2", "--out", str(out)]) == 0
    png, js = out / "explain_2.png", out / "explain_2.json"
    assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"
    e = json.loads(js.read_text())
    assert e["index"] == 2 and e["true_label"] in ("sit", "walk", "run")
    assert e["predicted_label"] in ("sit", "walk", "run")
    assert len(e["channels"]) == 3 and len(e["channels"][0]["shapes"]) == 8
    shape = e["channels"][0]["shapes"][0]
    assert {"code", "t", "l", "mu", "sigma"} <= set(shape) and 0 <= shape["code"] < 16
    assert len(e["sub_actions"]) == 3 and all(s["sentence"] for s in e["sub_actions"])
    assert [z["label"] for z in e["zero_shot"]] and len(e["zero_shot"]) == 3
    assert "predicted" in capsys.readouterr().out


def test_explain_vqshape_run_has_no_words(runs):
    root, data = runs
    out = root / "out_vq"
    assert main(["explain", str(root / "vq"), "--index", "0", "--out", str(out)]) == 0
    e = json.loads((out / "explain_0.json").read_text())
    assert "sub_actions" not in e and len(e["channels"]) == 3
    assert (out / "explain_0.png").stat().st_size > 5000


@pytest.mark.parametrize("index", ["999", "-1"])
def test_explain_bad_index_exits_2(runs, capsys, index):
    root, data = runs
    assert main(["explain", str(root / "mm"), "--index", index, "--out", str(root / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--index" in err[0]
    assert not (root / "bad" / f"explain_{index}.png").exists()


def test_explain_not_a_run_exits_2(tmp_path, capsys):
    assert main(["explain", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_mmvqshape_run_measures_its_shapes_too(runs):
    root, data = runs
    metrics = json.loads((root / "mm" / "metrics.json").read_text())
    assert metrics["reconstruction"]["pca_components"] == 8
    # the pooled R² straight from the model's reconstruction of the test windows, signal only
    import torch

    from mmvqshape.signals import load_windows
    from mmvqshape.training import shape_metrics as sm
    from mmvqshape.pipelines.run.folder import find_checkpoint
    from mmvqshape.training.checkpoint import load_task
    from mmvqshape.training.data import SignalDataset, split_positions

    task, info = load_task(find_checkpoint(root / "mm"))  # the weights evaluate scored (refit: last.ckpt)
    windows = load_windows(str(data))
    test = SignalDataset(windows, split_positions(windows, "test"), 64, "train", scale=info["scale"])
    x = torch.stack([test[i]["signal"] for i in range(len(test))])
    task.eval()
    with torch.no_grad():
        out = task({"signal": x, "label": torch.zeros(len(x), dtype=torch.long), "text_present": False})
    sse, ss = sm.series_errors(x, out["x_pred"])  # (W, C)
    assert metrics["reconstruction"]["r2"] == pytest.approx(1 - sse.sum() / ss.sum(), abs=1e-5)
    assert metrics["shapes"]["fit_r2"]["n_tokens"] == metrics["n_test"] * 3 * 8
    assert sum(metrics["codebooks"]["shape"]["histogram"]) == metrics["n_test"] * 3 * 8
