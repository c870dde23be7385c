"""`mmvq bench accuracy` compares like with like; few-shot subsets never touch test data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.pipelines.bench_accuracy import few_shot_npz, parse_shots, run_bench_accuracy
from mmvqshape.signals import load_windows


def test_parse_shots():
    assert parse_shots("1,2, all") == [1, 2, None]
    with pytest.raises(UserError):
        parse_shots("0")
    with pytest.raises(UserError):
        parse_shots("few")


def test_few_shot_keeps_test_and_val_and_k_per_class(tmp_path):
    windows = load_windows("basicmotions", seed=3)
    path = few_shot_npz(windows, 2, seed=3, path=tmp_path / "two.npz")
    subset = load_windows(path, seed=3)
    assert np.bincount(subset.y[subset.indices("train")]).tolist() == [2, 2, 2, 2]
    assert len(subset.indices("test")) == len(windows.indices("test"))
    assert len(subset.indices("val")) == len(windows.indices("val"))
    np.testing.assert_array_equal(np.asarray(subset.X)[subset.indices("test")], np.asarray(windows.X)[windows.indices("test")])


def test_bench_accuracy_minirocket_rows_and_table(tmp_path):
    result = run_bench_accuracy(seeds=2, shots="2,all", models="minirocket", zero_shot=False, out=tmp_path / "b")
    assert len(result["rows"]) == 4
    assert {(r["shots"], r["seed"]) for r in result["rows"]} == {("2-shot", 0), ("2-shot", 1), ("all", 0), ("all", 1)}
    assert "| minirocket | — | all |" in result["markdown"]
    assert (tmp_path / "b" / "accuracy.csv").is_file() and (tmp_path / "b" / "accuracy.md").is_file()
    assert not list((tmp_path / "b").rglob("*.npz"))  # the temporary subsets are not left behind


def test_bench_accuracy_takes_the_summary_lr_baseline(tmp_path):
    result = run_bench_accuracy(seeds=1, models="summary-lr,minirocket", zero_shot=False, out=tmp_path / "b")
    assert [r["model"] for r in result["rows"]] == ["summary-lr", "minirocket"]
    assert "| summary-lr | — | all |" in result["markdown"]
    assert "model_name: summary-lr" in (tmp_path / "b" / "runs" / "summary-lr-seed0-all" / "config.yaml").read_text()


def test_bench_accuracy_rows_with_and_without_series_stats_side_by_side():
    from mmvqshape.models import build_task
    from mmvqshape.pipelines.bench_accuracy import MODELS, accuracy_markdown, summarize

    tiny = {"dim_embedding": 16, "num_enc_head": 2, "num_tokenizer_head": 2, "num_dec_head": 2, "num_token": 8,
            "patch_size": 8, "num_patch": 8, "len_s": 16, "num_code": 8}
    for name, expected in (("vqshape", True), ("vqshape-no-stats", False)):
        task = build_task("vqshape", {**MODELS[name]["model"], **tiny}, n_channels=3, length=64, n_classes=4, text_dim=None)
        assert task.series_stats is expected
    rows = [{"model": m, "shots": "all", "seed": 0, "accuracy": a, "macro_f1": a}
            for m, a in (("vqshape", 0.9), ("vqshape-no-stats", 0.5), ("vqshape-probe", 0.7), ("minirocket", 1.0))]
    lines = accuracy_markdown(summarize(rows), data="d", seeds=1).splitlines()
    assert "| vqshape | yes | all | 0.900 ± 0.000 |" in lines[4] and "| vqshape-no-stats | no | all | 0.500" in lines[5]
    assert "| vqshape-probe | — |" in lines[6] and "| minirocket | — |" in lines[7]


def test_bench_accuracy_unknown_model_exits_2(tmp_path, capsys):
    assert main(["bench", "accuracy", "--models", "lstm", "--out", str(tmp_path / "b")]) == 2
    assert "lstm" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_scaling_reads_memory_mapped_windows_through_the_real_path():
    from mmvqshape.pipelines.bench import scaling_speed

    (row,) = scaling_speed(sizes=(120,), batch=4, steps=1)
    assert row["windows"] == 120 and row["train_windows_per_s"] > 0
    assert row["anon_rss_mb"] <= row["peak_rss_mb"]


def test_speed_markdown_names_the_machine_and_the_ratios():
    from mmvqshape.pipelines.bench import speed_markdown

    rate = {"train_windows_per_s": 10.0, "tokenize_windows_per_s": 20.0, "inference_ms_per_window": 5.0}
    result = {
        "machine": {"cpu": "x86_64", "cores": 2, "torch": "2.13.0", "torch_threads": 2, "cuda": None},
        "vqshape_decode": {"per_token": rate, "per_code": rate, "train_speedup": 3.5, "tokenize_speedup": 4.0},
        "tasks": {"vqshape_joint": rate, "mmvqshape": {**rate, "architecture": "tokens", "frozen_features_windows_per_s": 80.0},
                  "mm_step_cost_ratio": 1.1},
        "text": {"sentences": 10, "cold_sentences_per_s": 5.0, "cached_sentences_per_s": 500.0, "cache_speedup": 100.0},
        "scaling": [{"windows": 1000, "file_mb": 6.0, "train_windows_per_s": 40.0, "peak_rss_mb": 900.0, "anon_rss_mb": 600.0}],
        "hapt_epoch": {"architecture": "tokens", "train_windows": 998, "val_windows": 254, "batch_size": 8, "length": 512,
                       "train_windows_per_s": 60.0, "epoch_s": 18.25, "frozen_features_s": 9.5},
        "training_around_umap": {"architecture": "tokens", "steps": 20, "batch_size": 8, "numba_threading_layer": "workqueue",
                                 "before": {"user_s": 2.0, "system_s": 0.2, "wall_s": 2.5},
                                 "after": {"user_s": 2.2, "system_s": 0.3, "wall_s": 2.5},
                                 "ratios": {"user": 1.1, "system": 1.5, "wall": 1.0}},
    }
    text = speed_markdown(result)
    assert "998 training windows" in text and "**18.2 s**" in text
    # every MMVQShape row names the design it timed; a design with frozen features says they are cached, and their cost
    assert "| MMVQShape (3 ch" not in text and "| MMVQShape (tokens) (3 ch, K=10 text) train on cached frozen features | 10.0" in text
    assert "**MMVQShape (tokens) epoch over HAPT's 998" in text and "| MMVQShape (tokens) frozen features, computed once and cached | 9.5 s" in text
    assert "| MMVQShape (tokens) training on HAPT (20 steps" in text
    older = {**result, "hapt_epoch": {k: v for k, v in result["hapt_epoch"].items() if k != "architecture"}}
    assert "MMVQShape (architecture not recorded) epoch" in speed_markdown(older)
    assert "2 cores" in text and "**3.50×**" in text and "**1.10×**" in text and "| 1,000 |" in text
    assert "after / before a UMAP projection" in text and "1.10× / 1.50× / 1.00×" in text and "workqueue" in text


def test_training_around_umap_row_reports_cpu_times_and_ratios(hapt_slice):
    from mmvqshape.pipelines.bench import training_around_umap_speed

    row = training_around_umap_speed(steps=1, batch=2, points=30)
    for phase in ("before", "umap", "after"):
        assert set(row[phase]) == {"user_s", "system_s", "wall_s"}
    assert set(row["ratios"]) == {"user", "system", "wall"}
    assert row["umap"]["user_s"] > 0.05  # a projection (and numba's compilation) costs CPU time: zero means it was not timed
    for key in ("user", "system", "wall"):  # after / before, NaN where nothing was spent before
        before, after = row["before"][f"{key}_s"], row["after"][f"{key}_s"]
        assert row["ratios"][key] == pytest.approx(after / before if before > 0 else math.nan, nan_ok=True)
    assert row["numba_threading_layer"] == "workqueue"  # the package's choice (issue 19)
    assert row["architecture"] == default_architecture()


def default_architecture() -> str:
    """The MMVQShape design ``mmvq train`` builds when nothing is configured."""
    from mmvqshape.models import build_task, mmvqshape_architecture

    task = build_task("mmvqshape", {}, n_channels=3, length=64, n_classes=2, text_dim=8)
    return mmvqshape_architecture(task.resolved_config())


def test_epoch_speed_times_the_default_mmvqshape_and_names_it(hapt_slice):
    from mmvqshape.pipelines.bench import hapt_epoch_speed

    row = hapt_epoch_speed(steps=1, batch_size=2)
    assert row["architecture"] == default_architecture() != "fusion"  # not the plan's first design
    assert row["frozen_features_s"] > 0 and row["epoch_s"] > 0  # its cached features, timed apart from the epoch


def test_bench_accuracy_on_hapt_writes_per_class_f1_and_confusion(hapt_slice, tmp_path):
    result = run_bench_accuracy(data="hapt", seeds=1, models="minirocket", zero_shot=False, out=tmp_path / "b")
    labels = load_windows("hapt").labels
    row = result["rows"][0]
    assert set(row["per_class_f1"]) == set(labels)
    assert np.asarray(row["confusion"]).shape == (6, 6) and np.sum(row["confusion"]) == row["n_test"]
    assert "Per-class F1" in result["markdown"] and "| walking upstairs |" in result["markdown"]
    assert result["setup"]["corpus"] == "hapt" and result["setup"]["budget"] == {"max_epochs": 10, "batch_size": 32}
    assert (tmp_path / "b" / "per_class.csv").read_text().count("\n") == 1 + len(labels)


def test_bench_accuracy_trains_every_model_on_the_same_split_with_the_data_budget(hapt_slice, tmp_path, monkeypatch):
    import mmvqshape.pipelines.bench_accuracy as bench

    seen = []

    def fake_train(cfg, run):
        windows = load_windows(cfg.data, seed=cfg.seed)
        seen.append((cfg.model_name, cfg.max_epochs, cfg.batch_size, cfg.corpus, windows.split.tolist(), windows.y.tolist()))
        n = len(windows.labels)
        return {"metrics": {"accuracy": 0.5, "macro_f1": 0.4, "n_test": 1, "confusion": np.eye(n, dtype=int).tolist(),
                            "per_class": {label: {"f1": 0.4} for label in windows.labels}}}

    monkeypatch.setattr(bench, "train", fake_train)
    bench.run_bench_accuracy(data="hapt", seeds=1, models="mmvqshape,vqshape,minirocket", zero_shot=False,
                             max_epochs=3, out=tmp_path / "b")
    assert [s[0] for s in seen] == ["mmvqshape", "vqshape", "minirocket"]
    assert seen[1][1:3] == (3, 32)  # the flag wins over the source's default epochs
    assert seen[0][1:3] == (3, 8)  # a heads-only model takes the flag, not the source's end-to-end budget
    assert seen[0][3] == "hapt"
    assert seen[0][4] == seen[1][4] == seen[2][4] and seen[0][5] == seen[2][5]


def test_bench_accuracy_states_its_protocol_and_fits_baselines_on_the_same_windows(tmp_path):
    fitted = {}
    for protocol in ("refit", "holdout"):
        result = run_bench_accuracy(seeds=1, models="summary-lr", zero_shot=False, protocol=protocol, out=tmp_path / protocol)
        row = result["rows"][0]
        assert row["protocol"] == protocol and result["setup"]["protocol"] == protocol
        assert result["setup"]["fitted_windows"] == {"all": row["n_fitted"]}
        fitted[protocol] = row["n_fitted"]
        assert f"Protocol {protocol}: every model fitted on the same {row['n_fitted']} " in result["markdown"]
        summary = json.loads((tmp_path / protocol / "summary.json").read_text())
        assert summary["setup"]["protocol"] == protocol
        assert (tmp_path / protocol / "accuracy.csv").read_text().splitlines()[1].split(",")[3] == protocol
    windows = load_windows("basicmotions")
    assert fitted["refit"] == len(windows.indices("train")) + len(windows.indices("val")) > fitted["holdout"]
