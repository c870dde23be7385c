"""Applying a trained run to new windows (issue 24, item 1): ``mmvq explain`` and ``evaluate``
read a windows file with only test windows, with no split, or without ``y``; windows cut
otherwise than the run's (length, channels) stop with one line and write nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

import train_support as ts
from mmvqshape.cli import main
from mmvqshape.signals import load_new_windows, load_windows

LABELS = ("sit", "walk", "run")
TINY_TOKENS = "model:\n  scales: [0.125, 0.25]\n  len_s: 8\n  num_code: 8\n  kmeans_iters: 3\n  num_slots: 3\n"


def new_windows(path, n: int = 7, length: int = 64, channels: int = 3, *, y: bool = True, split: str | None = None, seed: int = 5):
    """``n`` windows of the classes' sines; ``split`` "test" for every window or none at all."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    classes = np.arange(n) % 3
    X = np.stack([np.sin(2 * np.pi * (k + 1) * 2 * t[:, None] + rng.uniform(0, 6, channels)) for k in classes]).astype(np.float32)
    arrays = {"X": X}
    if y:
        arrays.update(y=classes, labels=np.array(LABELS))
    if split:
        arrays["split"] = np.array([split] * n)
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("apply")
    data = ts.write_windows(root / "w.npz", n_per_class=6)
    emb = ts.write_embeddings(root / "emb", labels=LABELS, dim=8, k=4)
    (root / "tokens.yaml").write_text(TINY_TOKENS)
    assert main(["train", "--model", "mmvqshape", "--data", str(data), "--corpus", str(emb), "--config",
                 str(root / "tokens.yaml"), "--out", str(root / "mm"), "--max-epochs", "1", *ts.TINY_FLAGS]) == 0
    return root


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_explain_all_on_a_file_of_only_test_windows(run):
    data = new_windows(run / "only_test.npz", split="test")
    assert main(["explain", str(run / "mm"), "--data", str(data), "--all", "--no-progress", "--out", str(run / "a")]) == 0
    got = lines(run / "a" / "explanations_test.jsonl")
    assert [e["row"] for e in got] == list(range(7))
    assert [e["true_label"] for e in got] == [LABELS[k % 3] for k in range(7)]
    assert all(e["predicted_label"] in LABELS and len(e["sub_actions"]) == 3 for e in got)


def test_a_file_without_split_is_all_test_and_without_y_reads_unknown(run):
    data = new_windows(run / "bare.npz", y=False)
    windows = load_new_windows(str(data), labels=list(LABELS))
    assert not windows.labelled and windows.indices("test").tolist() == list(range(7))
    assert main(["explain", str(run / "mm"), "--data", str(data), "--all", "--no-progress", "--out", str(run / "b")]) == 0
    got = lines(run / "b" / "explanations_test.jsonl")
    assert len(got) == 7 and {e["true_label"] for e in got} == {"unknown"}
    assert all(e["predicted_label"] in LABELS for e in got)
    assert main(["explain", str(run / "mm"), "--data", str(data), "--index", "6", "--out", str(run / "b1")]) == 0
    one = json.loads((run / "b1" / "explain_6.json").read_text())
    assert one["true_label"] == "unknown" and one["row"] == 6


def test_training_still_needs_both_splits(tmp_path):
    data = new_windows(tmp_path / "only_test.npz", split="test")
    with pytest.raises(Exception, match="both 'train' and 'test'"):
        load_windows(str(data))


def test_evaluate_on_only_test_windows_scores_every_window(run):
    data = new_windows(run / "only_test_eval.npz", n=9, split="test")
    assert main(["evaluate", str(run / "mm"), "--data", str(data), "--out", str(run / "e")]) == 0
    metrics = json.loads((run / "e" / "metrics.json").read_text())
    assert metrics["n_test"] == 9 and metrics["split"]["sizes"]["test"] == 9
    # the yardsticks fitted on training windows use the run's own (appended behind the new ones):
    # as many as the run itself was scored with (train, or train + val under the refit protocol)
    own = json.loads((run / "mm" / "metrics.json").read_text())["split"]["sizes"]["train"]
    assert metrics["split"]["sizes"]["train"] == own >= len(load_windows(str(run / "w.npz")).indices("train"))
    assert "the run's own data" in metrics["split"]["method"]
    rows = [int(r["index"]) for r in __import__("csv").DictReader((run / "e" / "predictions.csv").open())]
    assert sorted(rows) == list(range(9))  # the new file's own rows


def test_evaluate_without_y_exits_2_and_writes_nothing(run, capsys):
    data = new_windows(run / "bare_eval.npz", y=False)
    assert main(["evaluate", str(run / "mm"), "--data", str(data), "--out", str(run / "no_y")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bare_eval.npz" in err[0] and "no y" in err[0]
    assert not (run / "no_y").exists()


@pytest.mark.parametrize("command", ["explain-all", "explain", "evaluate"])
@pytest.mark.parametrize("shape, says", [({"length": 80}, "window length 80 where the run was trained on 64"),
                                         ({"channels": 2}, "channels 2 where the run was trained on 3")])
def test_windows_cut_otherwise_exit_2_with_one_line_and_no_output(run, capsys, command, shape, says):
    data = new_windows(run / f"other_{'_'.join(shape)}.npz", split="test", **shape)
    out = run / f"mismatch_{command}_{'_'.join(shape)}"
    args = {"explain-all": ["explain", str(run / "mm"), "--all"], "explain": ["explain", str(run / "mm"), "--index", "0"],
            "evaluate": ["evaluate", str(run / "mm")]}[command]
    assert main([*args, "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and data.name in err[0] and says in err[0]
    assert not out.exists() or not list(out.iterdir())


def test_tokenize_refuses_a_file_without_y_rather_than_invent_labels(run, capsys):
    data = new_windows(run / "bare_tokens.npz", y=False)
    assert main(["tokenize", str(run / "mm"), "--data", str(data), "--out", str(run / "tok" / "t.csv")]) == 2
    assert "no y" in capsys.readouterr().err and not (run / "tok").exists()


def test_the_runs_own_test_windows_as_a_new_file_score_the_same(run):
    """Test windows taken out of the run's data into a file of their own (no training windows)
    give the numbers the run's own evaluation gives: the yardsticks fit on the run's training windows."""
    own = load_windows(str(run / "w.npz"))
    rows = own.indices("test")
    np.savez(run / "own_test.npz", X=np.asarray(own.X[rows]), y=own.y[rows], labels=np.array(LABELS))
    assert main(["evaluate", str(run / "mm"), "--out", str(run / "own_eval")]) == 0
    assert main(["evaluate", str(run / "mm"), "--data", str(run / "own_test.npz"), "--out", str(run / "copy_eval")]) == 0
    a, b = (json.loads((run / name / "metrics.json").read_text()) for name in ("own_eval", "copy_eval"))
    assert b["n_test"] == len(rows) and b["accuracy"] == a["accuracy"] and b["confusion"] == a["confusion"]
    assert b["reconstruction"] == a["reconstruction"]  # its PCA baseline fitted on the same training windows
