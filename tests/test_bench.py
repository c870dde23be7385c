"""`mmvq bench accuracy` compares like with like; few-shot subsets never touch test data."""

from __future__ import annotations

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
    assert "| minirocket | all |" in result["markdown"]
    assert (tmp_path / "b" / "accuracy.csv").is_file() and (tmp_path / "b" / "accuracy.md").is_file()
    assert not list((tmp_path / "b").rglob("*.npz"))  # the temporary subsets are not left behind


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
        "tasks": {"vqshape_joint": rate, "mmvqshape": rate, "mm_step_cost_ratio": 1.1},
        "text": {"sentences": 10, "cold_sentences_per_s": 5.0, "cached_sentences_per_s": 500.0, "cache_speedup": 100.0},
        "scaling": [{"windows": 1000, "file_mb": 6.0, "train_windows_per_s": 40.0, "peak_rss_mb": 900.0, "anon_rss_mb": 600.0}],
    }
    text = speed_markdown(result)
    assert "2 cores" in text and "**3.50×**" in text and "**1.10×**" in text and "| 1,000 |" in text
