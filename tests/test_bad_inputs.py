"""The bad-input table: every command, given a user's mistake, exits 2 with one line on
stderr naming the file (or argument) and the problem, and leaves no output behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmvqshape.cli import main


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "not.json").write_text("{ not json")
    (tmp_path / "empty_label.json").write_text(json.dumps({"walking": []}))
    (tmp_path / "garbage.ckpt").write_bytes(b"\x00garbage")
    fake_run = tmp_path / "fake_run"
    (fake_run / "checkpoints").mkdir(parents=True)
    (fake_run / "config.yaml").write_text("model_name: vqshape\ndata: basicmotions\n")
    (fake_run / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    fake_baseline = tmp_path / "fake_baseline"
    fake_baseline.mkdir()
    (fake_baseline / "config.yaml").write_text("model_name: summary-lr\ndata: basicmotions\n")
    (fake_baseline / "model.joblib").write_bytes(b"not a model")
    emb = tmp_path / "emb"
    emb.mkdir()
    (emb / "index.json").write_text(json.dumps({"labels": ["a"], "owner": [0], "sentences": ["x"]}))
    np.save(emb / "subactions.npy", np.ones((1, 4), np.float32))
    np.save(emb / "labels.npy", np.ones((1, 4), np.float32))
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    return tmp_path


# (argv with {tmp} placeholders, text that must appear in the one error line, output path that must not exist)
TABLE = [
    (["data", "summary", "{tmp}/missing.npz"], "missing.npz", None),
    (["corpus", "check", "{tmp}/not.json"], "not.json", None),
    (["embed", "{tmp}/not.json", "--out", "{tmp}/out"], "not.json", "out"),
    (["embed", "{tmp}/empty_label.json", "--out", "{tmp}/out"], "empty_label.json", "out"),
    (["embed", "basicmotions", "--encoder", "{tmp}/no-such-model", "--out", "{tmp}/out"], "no-such-model", "out"),
    (["analyze", "gram", "{tmp}/missing-emb", "--out", "{tmp}/out"], "missing-emb", "out"),
    (["analyze", "codebook", "{tmp}/emb", "--method", "kmeans", "--size", "5", "--out", "{tmp}/out"], "size", "out"),
    (["analyze", "codebook", "{tmp}/emb", "--method", "magic", "--out", "{tmp}/out"], "magic", "out"),
    (["train", "--model", "lstm", "--out", "{tmp}/out"], "lstm", "out"),
    (["train", "--model", "vqshape", "--data", "{tmp}/missing.npz", "--out", "{tmp}/out"], "missing.npz", "out"),
    (["train", "--model", "mmvqshape", "--corpus", "{tmp}/emb", "--out", "{tmp}/out"], "emb", "out"),
    (["train", "--model", "minirocket", "--out", "{tmp}/a-file/run"], "a-file", None),
    (["train", "--model", "summary-lr", "--data", "{tmp}/missing.npz", "--out", "{tmp}/out"], "missing.npz", "out"),
    (["evaluate", "{tmp}/fake_baseline"], "model.joblib", None),
    (["evaluate", "{tmp}/missing-run"], "missing-run", None),
    (["evaluate", "{tmp}/fake_run"], "last.ckpt", None),
    (["explain", "{tmp}/fake_run", "--out", "{tmp}/out"], "last.ckpt", "out"),
    (["tokenize", "{tmp}/fake_run", "--out", "{tmp}/out.csv"], "last.ckpt", "out.csv"),
    (["tokenize", "{tmp}/garbage.ckpt", "--out", "{tmp}/out.csv"], "garbage.ckpt", "out.csv"),
    (["tokenize", "{tmp}/missing.safetensors", "--data", "basicmotions", "--out", "{tmp}/out.csv"], "missing.safetensors", "out.csv"),
    (["convert-vqshape", "{tmp}/garbage.ckpt", "--out", "{tmp}/out.safetensors"], "garbage.ckpt", "out.safetensors"),
    (["report", "{tmp}/missing-folder"], "missing-folder", None),
    (["bench", "accuracy", "--models", "lstm", "--out", "{tmp}/out"], "lstm", "out"),
    (["bench", "zero-shot", "--data", "basicmotions", "--unseen", "swimming", "--out", "{tmp}/out"], "swimming", "out"),
    (["bench", "zero-shot", "--data", "basicmotions", "--unseen-size", "7", "--out", "{tmp}/out"], "unseen-size", "out"),
    (["corpus", "generate", "--labels", "{tmp}/missing.txt", "--out", "{tmp}/out.json"], "missing.txt", "out.json"),
]


@pytest.mark.parametrize("argv,needle,output", TABLE, ids=[" ".join(row[0][:2]) + f" #{i}" for i, row in enumerate(TABLE)])
def test_bad_input_exits_2_with_one_line_and_no_output(argv, needle, output, files, capsys):
    args = [a.replace("{tmp}", str(files)) for a in argv]
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("error:") and needle in err[0], err[0]
    if output is not None:
        assert not (files / output).exists()
    assert not [p for p in files.iterdir() if ".tmp-" in p.name]  # no temporary leftovers
