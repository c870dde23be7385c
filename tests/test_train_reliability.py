"""Reliability of training on the real models at tiny sizes: determinism, kill and resume, DDP.

VQShape and MMVQShape (not a test double) train on a small windows file; a run killed with
SIGKILL after its first checkpoint and resumed gives the metrics of an unbroken run; two
CPU processes (DDP, gloo) write one valid run; only global rank 0 prepares the run folder.
"""

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
from mmvqshape.pipelines.run.prepare import prepares_run_folder

SCRIPT = Path(__file__).with_name("train_support.py")
MODELS = ("vqshape", "mmvqshape")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Windows, an embedding folder and a tiny config per model."""
    folder = tmp_path_factory.mktemp("inputs")
    configs = {}
    for model, text in (("vqshape", ts.TINY_VQSHAPE), ("mmvqshape", ts.TINY_MMVQSHAPE)):
        configs[model] = folder / f"{model}.yaml"
        configs[model].write_text(text)
    return {"data": ts.write_windows(folder / "w.npz", n_per_class=6), "corpus": ts.write_embeddings(folder / "emb", dim=8, k=4),
            "config": configs}


def _args(inputs, model: str, out: Path, epochs: int, *extra: str) -> list[str]:
    args = ["train", "--model", model, "--data", str(inputs["data"]), "--config", str(inputs["config"][model]),
            "--out", str(out), "--max-epochs", str(epochs), *ts.TINY_FLAGS, *extra]
    if model == "mmvqshape":
        args += ["--corpus", str(inputs["corpus"])]
    return args


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MMVQ_TEST_STEP_SLEEP"}
    env.update(PYTHONPATH=str(Path(__file__).parents[1] / "src"), OMP_NUM_THREADS="1", **extra)
    return env


def _weights(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}  # not the extra state (sentences, names)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_same_seed_same_metrics_other_seed_other_weights(inputs, tmp_path, model, one_thread):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(_args(inputs, model, a, 2)) == 0
    assert main(_args(inputs, model, b, 2)) == 0
    assert main(_args(inputs, model, c, 2, "--seed", "1")) == 0
    assert (a / "metrics.json").read_text() == (b / "metrics.json").read_text()
    assert (a / "predictions.csv").read_text() == (b / "predictions.csv").read_text()
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_sigkill_after_first_checkpoint_then_resume_matches_unbroken_run(inputs, tmp_path, model, one_thread):
    epochs = 3
    unbroken = tmp_path / "unbroken"
    assert main(_args(inputs, model, unbroken, epochs)) == 0

    run = tmp_path / "killed"
    cmd = [sys.executable, str(SCRIPT), *_args(inputs, model, run, epochs)]
    proc = subprocess.Popen(cmd, env=_env(MMVQ_TEST_STEP_SLEEP="1.0"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert last.exists(), proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no checkpoint in time"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "metrics.json").exists()
    epoch_at_kill = torch.load(last, weights_only=True)["epoch"]
    assert epoch_at_kill < epochs - 1

    done = subprocess.run([sys.executable, str(SCRIPT), *_args(inputs, model, run, epochs), "--resume"], env=_env(),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run / "metrics.json").read_text() == (unbroken / "metrics.json").read_text()
    assert (run / "predictions.csv").read_text() == (unbroken / "predictions.csv").read_text()


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_writes_a_valid_run(inputs, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, str(SCRIPT), *_args(inputs, "mmvqshape", run, 1), "--devices", "2", "--strategy", "ddp"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    # each test window scored once (no sampler padding across the two processes), accuracy from those rows
    assert metrics["n_test"] == 6 and ts.predictions_accuracy(run) == (metrics["accuracy"], 6) and metrics["model"] == "mmvqshape"
    assert (run / "selection" / "checkpoints" / "best.ckpt").is_file() and (run / "predictions.csv").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file() and metrics["protocol"] == "refit"  # the refit's final weights
    assert "devices: 2" in (run / "config.yaml").read_text()
    # Lightning's start-up chatter stays off the terminal in every process
    assert "GPU available" not in done.stderr + done.stdout and "litlogger" not in done.stderr + done.stdout


@pytest.mark.parametrize("env, prepares", [
    ({}, True),  # the process the user started
    ({"LOCAL_RANK": "1"}, False),  # a DDP worker on the first node
    ({"RANK": "0", "LOCAL_RANK": "0"}, True),
    ({"RANK": "3", "LOCAL_RANK": "1"}, False),
    ({"NODE_RANK": "1"}, False),  # the process started on a second node
    ({"NODE_RANK": "1", "LOCAL_RANK": "0"}, False),
    ({"NODE_RANK": "0", "LOCAL_RANK": "0"}, True),
    ({"SLURM_PROCID": "2"}, False),
])
def test_only_global_rank_zero_prepares_the_run_folder(env, prepares):
    assert prepares_run_folder(env) is prepares
