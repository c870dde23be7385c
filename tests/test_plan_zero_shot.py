"""Zero-shot through the plan's model: a ``--holdout-labels`` run and ``bench zero-shot
--architecture plan`` give the numbers the shared decision computes from the model's own outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import train_support as ts
from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.evaluation.plan_zero_shot import PlanBudget, fit_plan_model
from mmvqshape.evaluation.token_zero_shot import TokenZeroShotSettings, resampled_signals, token_zero_shot_fold, trained_model_fold
from mmvqshape.pipelines.bench_zero_shot import run_bench_zero_shot
from mmvqshape.pipelines.run.folder import find_checkpoint
from mmvqshape.pipelines.run.inputs import load_data
from mmvqshape.pipelines.scoring import run_outputs, scored_dataset
from mmvqshape.pipelines.zero_shot import candidate_texts
from mmvqshape.signals import load_windows
from mmvqshape.text.encoders import embed_corpus
from mmvqshape.training.checkpoint import load_task
from mmvqshape.training.config import read_run_config

PLAN_KEYS = {"d_model": 8, "heads": 2, "bins": 4, "text_hidden": 8, "action_hidden": 8, "num_slots": 3}
TINY_PLAN = ("model:\n  scales: [0.125, 0.25]\n  len_s: 8\n  num_code: 8\n  kmeans_iters: 3\n"
             + "".join(f"  {k}: {v}\n" for k, v in PLAN_KEYS.items()))
SMALL = TokenZeroShotSettings(model={"num_code": 8, "kmeans_iters": 5, **PLAN_KEYS}, length=128)
KEYS = ("seen_accuracy", "unseen_gzsl_accuracy", "harmonic_mean", "gamma", "calibration")


def test_holdout_run_of_the_plan_takes_the_benchs_decision(tmp_path, one_thread):
    """``mmvq train --architecture plan --holdout-labels run`` (tiny): metrics.json's zero_shot is
    what :func:`trained_model_fold` computes from the saved model's own outputs (an invariance)."""
    labels = ("sit", "walk", "run", "jump")
    data = ts.write_windows(tmp_path / "w.npz", n_per_class=18, labels=labels)
    emb = ts.write_embeddings(tmp_path / "emb", labels=labels, dim=8, k=4)
    (tmp_path / "plan.yaml").write_text(TINY_PLAN)
    run = tmp_path / "run"
    assert main(["train", "--model", "mmvqshape", "--architecture", "plan", "--data", str(data), "--corpus", str(emb),
                 "--config", str(tmp_path / "plan.yaml"), "--holdout-labels", "run", "--out", str(run),
                 "--max-epochs", "2", *ts.TINY_FLAGS]) == 0
    zero_shot = json.loads((run / "metrics.json").read_text())["zero_shot"]
    assert zero_shot["unseen_labels"] == ["run"] and zero_shot["scoring"].startswith("a label's own sentences")
    cfg = read_run_config(run / "config.yaml")
    task, info = load_task(find_checkpoint(run))
    windows = load_data(cfg, None)
    dataset = lambda split: scored_dataset(windows, split, cfg, info, None)  # noqa: E731
    again = trained_model_fold(*run_outputs(task, dataset, len(windows.labels)), list(windows.labels), ["run"])
    for key in KEYS:
        assert again[key] == zero_shot[key], key
    assert zero_shot["n_unseen_windows"] == 6 and zero_shot["n_seen_windows"] == 18


def test_bench_plan_fold_is_the_fold_computed_directly(tmp_path, one_thread):
    """``bench zero-shot --model mmvqshape --architecture plan``: its row is the plan's fold
    computed directly on the same windows, and the output says which architecture it holds."""
    out, budget = tmp_path / "zs", PlanBudget(epochs=1, batch_size=16)
    summary = run_bench_zero_shot(data="basicmotions", corpus="basicmotions", out=out, unseen=["running", "walking"],
                                  model="mmvqshape", settings=SMALL, architecture="plan", budget=budget, progress=False)
    result = json.loads((out / "zero_shot.json").read_text())
    fold = result["per_fold"][0]
    windows = load_windows("basicmotions", channels="acc", seed=0)
    texts = candidate_texts(embed_corpus("basicmotions", "minilm", view="armleg"), list(windows.labels), "basicmotions")
    direct = token_zero_shot_fold(resampled_signals(np.asarray(windows.X), SMALL.length), np.asarray(windows.y),
                                  np.asarray(windows.split), texts, ["running", "walking"], SMALL, 0,
                                  fit=lambda *args: fit_plan_model(*args, budget=budget))
    for key in (*KEYS, "unseen_accuracy"):
        assert fold[key] == direct[key], key
    assert result["architecture"] == "plan" and result["training_budget"]["epochs"] == 1
    assert "architecture plan" in summary["markdown"] and "plan's model" in result["signal_representation"]


def test_architecture_is_checked(tmp_path):
    with pytest.raises(UserError, match="--architecture"):
        run_bench_zero_shot(data="basicmotions", corpus="basicmotions", out=tmp_path / "x", unseen=["running"],
                            architecture="fusion", model="mmvqshape", progress=False)
    with pytest.raises(UserError, match="mmvqshape only"):
        run_bench_zero_shot(data="basicmotions", corpus="basicmotions", out=tmp_path / "x", unseen=["running"],
                            architecture="plan", progress=False)
