"""Reliability of training (issue 9): kill and resume, determinism, multi-process DDP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import train_support as ts
from mmvqshape.cli import main

SCRIPT = Path(__file__).with_name("train_support.py")


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    import mmvqshape.models

    monkeypatch.setattr(mmvqshape.models, "build_task", ts.tiny_build_task)
    return ts.write_windows(tmp_path / "w.npz")


def _args(data, out, epochs=3, *extra):
    return ["train", "--data", str(data), "--out", str(out), "--max-epochs", str(epochs), *ts.TINY_FLAGS, *extra]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"), **extra)
    env.pop("MMVQ_TEST_STEP_SLEEP", None)
    env.update(extra)
    return env


def test_same_seed_same_metrics_other_seed_other_weights(tiny, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(_args(tiny, a)) == 0
    assert main(_args(tiny, b)) == 0
    assert main(_args(tiny, c, 3, "--seed", "1")) == 0
    assert (a / "metrics.json").read_text() == (b / "metrics.json").read_text()
    assert (a / "predictions.csv").read_text() == (b / "predictions.csv").read_text()
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa)


def test_sigkill_after_first_checkpoint_then_resume_matches_unbroken_run(tiny, tmp_path):
    epochs = 4
    unbroken = tmp_path / "unbroken"
    assert main(_args(tiny, unbroken, epochs)) == 0

    run = tmp_path / "killed"
    cmd = [sys.executable, str(SCRIPT), *_args(tiny, run, epochs)]
    proc = subprocess.Popen(cmd, env=_env(MMVQ_TEST_STEP_SLEEP="0.4"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert last.exists(), proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no checkpoint in time"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "metrics.json").exists()
    epoch_at_kill = torch.load(last, weights_only=True)["epoch"]
    assert epoch_at_kill < epochs - 1

    done = subprocess.run([sys.executable, str(SCRIPT), *_args(tiny, run, epochs), "--resume"], env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run / "metrics.json").read_text() == (unbroken / "metrics.json").read_text()
    assert (run / "predictions.csv").read_text() == (unbroken / "predictions.csv").read_text()


def test_ddp_on_two_cpu_processes_writes_a_valid_run(tiny, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, str(SCRIPT), *_args(tiny, run, 2), "--devices", "2", "--strategy", "ddp"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_test"] == 12 and 0.0 <= metrics["accuracy"] <= 1.0
    assert (run / "checkpoints" / "best.ckpt").is_file() and (run / "predictions.csv").is_file()
    assert "devices: 2" in (run / "config.yaml").read_text()
