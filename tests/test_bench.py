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
