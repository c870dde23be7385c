"""A tiny trained VQShape run: its metrics.json reconstruction / shape entries, the explanation in
the data's units, and ``mmvq tokenize`` (token and histogram tables; bad input exits 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import train_support as ts
from mmvqshape.cli import main

TINY = (
    "model:\n  dim_embedding: 16\n  num_enc_head: 2\n  num_enc_layer: 1\n  num_tokenizer_head: 2\n  num_dec_head: 2\n"
    "  num_token: 8\n  num_code: 16\n  dim_code: 4\n  len_s: 16\n  patch_size: 4\n  num_patch: 16\n"
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tokenize")
    data = ts.write_windows(root / "w.npz", n_per_class=4)
    arrays = dict(np.load(data))
    arrays["X"] = arrays["X"] * 5.0 + 10.0  # units far from the model's standardised ones
    np.savez(data, **arrays)
    (root / "vq.yaml").write_text(TINY)
    assert main(["train", "--model", "vqshape", "--data", str(data), "--config", str(root / "vq.yaml"),
                 "--out", str(root / "vq"), "--max-epochs", "1", "--protocol", "holdout", *ts.TINY_FLAGS]) == 0
    return root, data


def model_on(root, data, split: str):
    """The run's model on every ``split`` window as scoring reads them: (signals (W, C, T), outputs, dataset)."""
    import torch

    from mmvqshape.signals import load_windows
    from mmvqshape.training.checkpoint import load_task
    from mmvqshape.training.data import SignalDataset, split_positions

    task, info = load_task(root / "vq" / "checkpoints" / "best.ckpt")
    windows = load_windows(str(data))
    dataset = SignalDataset(windows, split_positions(windows, split), 64, "train", scale=info["scale"])
    x = torch.stack([dataset[i]["signal"] for i in range(len(dataset))])
    with torch.no_grad():
        out = task({"signal": x, "label": torch.zeros(len(x), dtype=torch.long), "text_present": False})
    return x, out, dataset


def test_metrics_json_has_reconstruction_with_pca_baseline_and_shapes(run):
    import json

    from mmvqshape.training import shape_metrics as sm

    root, data = run
    metrics = json.loads((root / "vq" / "metrics.json").read_text())
    rec, shapes = metrics["reconstruction"], metrics["shapes"]
    assert set(rec["per_class"]) == {"sit", "walk", "run"} and set(rec["per_channel"]) == {"ch0", "ch1", "ch2"}
    assert set(rec["per_class"]["walk"]) == {"r2", "pca_r2"}
    assert shapes["tokens_per_series"] == 8 and shapes["fit_r2"]["n_tokens"] == metrics["n_test"] * 3 * 8
    assert shapes["sigma_ratio"]["median"] > 0
    assert sum(metrics["codebooks"]["shape"]["histogram"]) == metrics["n_test"] * 3 * 8
    # the same numbers straight from the model on the test windows
    x, out, test = model_on(root, data, "test")
    expected = sm.reconstruction_r2(x, out["x_pred"], test.labels(), ["sit", "walk", "run"], ["ch0", "ch1", "ch2"])
    assert rec["r2"] == pytest.approx(expected["r2"], abs=1e-5)
    assert rec["per_class"]["run"]["r2"] == pytest.approx(expected["per_class"]["run"], abs=1e-5)
    # the PCA baseline: 8 components (one per token) fitted on every training window, applied to the test windows
    train_x, _, _ = model_on(root, data, "train")
    pca = sm.reconstruction_r2(x, sm.pca_reconstruction(train_x, x, 8))
    assert rec["pca_components"] == 8 and rec["pca_r2"] == pytest.approx(pca["r2"], abs=1e-5)
    # the shape fit's quartiles over every test token
    fit = sm.shape_fit_r2(x, out["t"], out["l"], out["s_pred"]).reshape(-1)
    q1, median, q3 = np.percentile(fit[np.isfinite(fit)], [25, 50, 75])
    assert [shapes["fit_r2"][k] for k in ("q1", "median", "q3")] == pytest.approx([q1, median, q3], abs=1e-5)


def test_explanation_is_in_the_data_units_with_its_r2(run):
    import json

    root, data = run
    out = root / "explain"
    assert main(["explain", str(root / "vq"), "--index", "1", "--out", str(out)]) == 0
    e = json.loads((out / "explain_1.json").read_text())
    # test window 1's R², pooled over its channels and per channel, as the model reconstructs it
    from mmvqshape.training import shape_metrics as sm

    x, outputs, _ = model_on(root, data, "test")
    sse, ss = sm.series_errors(x[1], outputs["x_pred"][1])  # (C,)
    assert e["reconstruction_r2"] == pytest.approx(1 - sse.sum() / ss.sum(), abs=1e-5)
    assert [ch["reconstruction_r2"] for ch in e["channels"]] == pytest.approx(list(1 - sse / ss), abs=1e-5)
    shapes = [s for ch in e["channels"] for s in ch["shapes"]]
    assert all({"fit_r2", "mu_signal", "sigma_signal"} <= set(s) for s in shapes)
    levels = np.array([s["mu_signal"] for s in shapes])
    assert 5 < np.median(levels) < 15  # around the data's level of 10, not the model's standardised 0
    assert (out / "explain_1.png").stat().st_size > 5000


def test_tokenize_writes_one_row_per_token_and_histograms_that_count_them(run, capsys):
    root, data = run
    out = root / "tokens.csv.gz"
    assert main(["tokenize", str(root / "vq"), "--data", str(data), "--out", str(out)]) == 0
    tokens = pd.read_csv(out)
    histograms = pd.read_csv(root / "tokens.histograms.csv.gz")
    n_windows, n_channels, n_tokens = 12, 3, 8
    assert len(tokens) == n_windows * n_channels * n_tokens
    assert {"window", "split", "label", "channel", "token", "code", "t", "l", "mu", "sigma", "mu_signal",
            "sigma_signal"} <= set(tokens.columns)
    assert set(tokens["split"]) == {"train", "val", "test"} and set(tokens["label"]) == {"sit", "walk", "run"}
    assert tokens["code"].between(0, 15).all() and tokens["t"].between(0, 1).all() and (tokens["sigma"] > 0).all()
    # the table's labels and splits are the data's
    windows = np.load(data)
    first = tokens.groupby("window").first()
    assert list(first["label"]) == [str(windows["labels"][k]) for k in windows["y"][first.index]]
    # histograms: one row per window and channel, counting that series' codes
    assert len(histograms) == n_windows * n_channels
    codes = [f"code_{k}" for k in range(16)]
    assert (histograms[codes].sum(axis=1) == n_tokens).all()
    row = histograms.iloc[4]
    mine = tokens[(tokens["window"] == row["window"]) & (tokens["channel"] == row["channel"])]
    assert np.array_equal(np.bincount(mine["code"], minlength=16), row[codes].to_numpy(dtype=int))
    assert "tokens" in capsys.readouterr().out
    # only the test split, plain CSV
    assert main(["tokenize", str(root / "vq" / "checkpoints" / "last.ckpt"), "--data", str(data), "--split", "test",
                 "--out", str(root / "test.csv")]) == 0
    test = pd.read_csv(root / "test.csv")
    assert set(test["split"]) == {"test"} and (root / "test.histograms.csv").is_file()


def test_signal_units_undo_the_normalisations(run):
    """mu_signal / sigma_signal are in the data's units; signal_affine inverts every normalisation."""
    root, data = run
    from mmvqshape.pipelines.tokenize import tokenize
    from mmvqshape.signals import load_windows
    from mmvqshape.signals.preprocess import preprocess
    from mmvqshape.training.data import SignalDataset, channel_scale

    paths = tokenize(root / "vq", data=str(data), out=root / "units.csv", split="test", progress=False)
    tokens = pd.read_csv(paths["tokens"])
    X = np.load(data)["X"]  # (W, T, C)
    series_std = {(w, c): X[w, :, i].std(ddof=1) for w in set(tokens["window"]) for i, c in enumerate(["ch0", "ch1", "ch2"])}
    # VQShape's placed shape has std sigma x the series' std: in data units, sigma x the data's std
    expected = tokens["sigma"] * [series_std[(w, c)] for w, c in zip(tokens["window"], tokens["channel"])]
    np.testing.assert_allclose(tokens["sigma_signal"], expected, rtol=2e-3)
    level = tokens.groupby(["window", "channel"])["mu_signal"].mean()
    assert level.between(5, 15).all()  # around the data's level of 10, not the model's 0

    windows = load_windows(str(data))
    rows = windows.indices("test")
    for normalize in ("train", "window", "none"):
        scale = channel_scale(windows, windows.indices("train")) if normalize == "train" else None
        dataset = SignalDataset(windows, rows, 64, normalize, scale=scale)
        offset, factor = dataset.signal_affine(1)
        raw = preprocess(X[rows[1]], 64, False)  # (C, 64)
        np.testing.assert_allclose(dataset[1]["signal"].numpy() * factor[:, None] + offset[:, None], raw, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("args, where", [
    (["--out", "{root}/t.parquet"], "t.parquet"),
    (["--out", "{root}/t.csv", "--split", "dev"], "--split"),
])
def test_tokenize_bad_input_exits_2_without_output(run, capsys, args, where):
    root, data = run
    args = [a.format(root=root) for a in args]
    assert main(["tokenize", str(root / "vq"), "--data", str(data), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and where in err[0]
    assert not (root / "t.csv").exists() and not (root / "t.parquet").exists()


def test_tokenize_with_a_weights_file_gives_the_runs_tokens(run, capsys):
    from mmvqshape.pipelines.vqshape_convert import save_vqshape
    from mmvqshape.training.checkpoint import load_task

    root, data = run
    task, _ = load_task(root / "vq" / "checkpoints" / "best.ckpt")
    weights = save_vqshape(task.vqshape, root / "vq.safetensors")
    assert main(["tokenize", str(weights), "--data", str(data), "--split", "test", "--out", str(root / "w.csv")]) == 0
    assert main(["tokenize", str(root / "vq"), "--data", str(data), "--split", "test", "--out", str(root / "r.csv")]) == 0
    from_weights, from_run = pd.read_csv(root / "w.csv"), pd.read_csv(root / "r.csv")
    # VQShape standardises each series itself: the data's own units give the run's tokens
    assert (from_weights["code"] == from_run["code"]).mean() > 0.98
    np.testing.assert_allclose(from_weights["t"], from_run["t"], atol=1e-3)
    np.testing.assert_allclose(from_weights["mu_signal"], from_run["mu_signal"], rtol=1e-3, atol=1e-2)
    capsys.readouterr()
    assert main(["tokenize", str(weights), "--out", str(root / "n.csv")]) == 2
    assert "--data" in capsys.readouterr().err and not (root / "n.csv").exists()


def test_tokenize_not_a_run_exits_2(tmp_path, capsys):
    assert main(["tokenize", str(tmp_path / "nothing"), "--out", str(tmp_path / "t.csv")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_shape_scores_on_validation_windows(run):
    """The same entries on any split (validation chooses a recipe), from one call."""
    from mmvqshape.signals import load_windows
    from mmvqshape.training.checkpoint import load_task
    from mmvqshape.training.data import SignalDataset, split_positions
    from mmvqshape.training.evaluation import shape_scores

    root, data = run
    task, info = load_task(root / "vq" / "checkpoints" / "best.ckpt")
    windows = load_windows(str(data))

    def dataset(split):
        return SignalDataset(windows, split_positions(windows, split), 64, "train", scale=info["scale"])

    val = shape_scores(task, dataset("val"), dataset("train"), class_names=windows.labels, channel_names=windows.channel_names)
    test = shape_scores(task, dataset("test"), dataset("train"), class_names=windows.labels, channel_names=windows.channel_names)
    assert val["reconstruction"]["n_windows"] == len(windows.indices("val")) and val["reconstruction"]["pca_components"] == 8
    assert val["shapes"]["fit_r2"]["n_tokens"] == len(windows.indices("val")) * 3 * 8
    import json

    metrics = json.loads((root / "vq" / "metrics.json").read_text())
    assert test["reconstruction"]["r2"] == pytest.approx(metrics["reconstruction"]["r2"], abs=1e-6)
    assert test["reconstruction"]["pca_r2"] == pytest.approx(metrics["reconstruction"]["pca_r2"], abs=1e-6)
    assert "pca_r2" not in shape_scores(task, dataset("val"))["reconstruction"]


def test_evaluation_figure_windows_go_to_the_data_units_keeping_the_models_r2():
    from mmvqshape.pipelines.scoring import figure_in_data_units

    signal = np.array([[[0.0, 1.0, 2.0, 3.0]]], dtype=np.float32)  # (W 1, C 1, T 4) in model units
    figure = {"signal": signal.copy(), "x_pred": signal + np.float32(0.5), "s_pred": np.ones((1, 1, 2, 3), dtype=np.float32)}
    figure_in_data_units(figure, [(np.array([10.0]), np.array([2.0]))])
    np.testing.assert_allclose(figure["signal"][0, 0], [10, 12, 14, 16])
    np.testing.assert_allclose(figure["x_pred"][0, 0], [11, 13, 15, 17])
    np.testing.assert_allclose(figure["s_pred"], 12.0)
    assert figure["r2"][0] == pytest.approx(1 - 4 * 0.25 / 5.0)  # SSE 1, SS 5 in the model's units
