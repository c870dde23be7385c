"""Zero-shot through the token MMVQShape itself: the bench's keys and the honest protocol."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

import train_support as ts
from mmvqshape.cli import main
from mmvqshape.evaluation.token_zero_shot import trained_model_fold
from mmvqshape.models.zero_shot import CandidateTexts
from mmvqshape.pipelines.run.folder import find_checkpoint
from mmvqshape.pipelines.run.inputs import load_data
from mmvqshape.pipelines.scoring import run_outputs, scored_dataset
from mmvqshape.training.checkpoint import load_task
from mmvqshape.training.config import read_run_config
from mmvqshape.pipelines.bench_zero_shot import run_bench_zero_shot
from mmvqshape.evaluation.reader import development_split
from mmvqshape.evaluation.token_zero_shot import (TokenZeroShot, TokenZeroShotSettings, fit_token_model, resampled_signals,
                                                  token_zero_shot_fold)
from mmvqshape.pipelines.zero_shot import candidate_texts
from mmvqshape.signals import load_windows
from mmvqshape.text.encoders import embed_corpus
from mmvqshape.training.zero_shot_metrics import harmonic

LABELS = ["still", "walk", "run", "lie", "jump"]
SMALL = TokenZeroShotSettings(model={"num_code": 8, "kmeans_iters": 5}, steps=15, batch_size=32, novelty="mahalanobis")


def _world(seed: int = 0, per_label: int = 18, length: int = 64, dim: int = 16):
    """Windows (N, 3, length) whose rhythm and offset depend on the label; random sentences."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(LABELS)), per_label)
    t = np.linspace(0, 1, length)
    X = np.stack([np.stack([np.sin(2 * np.pi * (1 + 2 * c) * t + rng.uniform(0, 6)) + 0.3 * c * ch for ch in range(3)])
                  for c in y]) + 0.2 * rng.normal(size=(len(y), 3, length))
    split = np.array((["train"] * (per_label // 2) + ["val"] * (per_label // 4)
                      + ["test"] * (per_label - per_label // 2 - per_label // 4)) * len(LABELS))
    texts = CandidateTexts(LABELS, [rng.normal(size=(4, dim)) for _ in LABELS], rng.normal(size=(len(LABELS), dim)))
    return X.astype(np.float32), y, split, texts


def _fitted_state(model) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of the fitted task (the sentence bank, extra state, left out)."""
    task = model.task
    return {**dict(task.named_parameters()), **dict(task.named_buffers())}


def test_unseen_windows_and_sentences_reach_nothing_fitted():
    X, y, split, texts = _world()
    seen, unseen = [0, 1, 2], [3, 4]
    first, _ = fit_token_model(X, y, split, texts, seen, range(len(LABELS)), SMALL)
    changed = X.copy()
    rows = np.isin(y, unseen)  # every unseen window, test ones too: none is fitted on
    changed[rows] = np.random.default_rng(3).normal(size=changed[rows].shape) * 5
    other_text = CandidateTexts(LABELS, [s if i in seen else -s[::-1][:2] for i, s in enumerate(texts.sentences)], texts.names)
    second, _ = fit_token_model(changed, y, split, other_text, seen, range(len(LABELS)), SMALL)
    a, b = _fitted_state(first), _fitted_state(second)
    assert set(a) == set(b) and any("sentence_projection" in k for k in a) and any("shape_codebook" in k for k in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)
    # the whole fold, calibration included: unseen training/validation windows change nothing
    off_test = rows & (split != "test")
    changed = X.copy()
    changed[off_test] = np.random.default_rng(4).normal(size=changed[off_test].shape) * 5
    fold = token_zero_shot_fold(X, y, split, texts, ["lie", "jump"], SMALL)
    assert fold == token_zero_shot_fold(changed, y, split, texts, ["lie", "jump"], SMALL)
    # unseen sentences are candidates only: the calibration and the seen labels' numbers stay
    moved = token_zero_shot_fold(X, y, split, other_text, ["lie", "jump"], SMALL)
    assert moved["calibration"] == fold["calibration"] and moved["gamma"] == fold["gamma"]
    assert moved["seen_accuracy"] == fold["seen_accuracy"]


def test_bench_through_the_model_reports_the_folds_own_numbers(tmp_path):
    """The bench's row is the fold computed directly on the same windows (an invariance), its
    summary the mean of its rows, its harmonic mean that of its two generalised accuracies, and
    with one unseen label the unseen accuracy is no result (marked, not 1.0)."""
    out = tmp_path / "zs"
    summary = run_bench_zero_shot(data="basicmotions", corpus="basicmotions", out=out, unseen=["running"],
                                  model="mmvqshape", settings=SMALL, progress=False)
    result = json.loads((out / "zero_shot.json").read_text())
    fold = result["per_fold"][0]
    windows = load_windows("basicmotions", channels="acc", seed=0)
    texts = candidate_texts(embed_corpus("basicmotions", "minilm", view="armleg"), list(windows.labels), "basicmotions")
    direct = token_zero_shot_fold(resampled_signals(np.asarray(windows.X), SMALL.length), np.asarray(windows.y),
                                  np.asarray(windows.split), texts, ["running"], SMALL, 0)
    for key in ("seen_accuracy", "unseen_gzsl_accuracy", "harmonic_mean", "gamma", "calibration"):
        assert fold[key] == direct[key], key
    assert fold["unseen_accuracy"] is None and fold["unseen_accuracy_by_construction"] is True
    assert fold["baselines"]["sentence_reader"]["unseen_accuracy"] is None
    assert fold["harmonic_mean"] == pytest.approx(harmonic(fold["seen_accuracy"], fold["unseen_gzsl_accuracy"]))
    assert result["summary"]["seen_accuracy"]["mean"] == pytest.approx(fold["seen_accuracy"])
    assert len(fold["calibration"]["nested_labels"]) == 3  # each seen label of BasicMotions plays unseen once
    assert "1 by construction" in summary["markdown"] and "baseline: sentence reader" in summary["markdown"]


def test_restricted_model_is_the_inner_labels_model_without_a_refit():
    """A nested calibration fold reads the fold's own heads: its novelty is the Mahalanobis
    distance to the inner labels' training bags only, its seen probabilities a softmax over them."""
    X, y, split, texts = _world()
    seen = [0, 1, 2]
    model, bags = fit_token_model(X, y, split, texts, seen, range(len(LABELS)), SMALL)
    inner = model.restricted([0, 1], bags, y, split)
    assert inner.task is model.task and inner.seen == [0, 1] and inner.candidates == seen
    rows = (split == "train") & np.isin(y, [0, 1])
    again = TokenZeroShot(model.task, [0, 1], seen, "mahalanobis", bags[rows], y[rows])
    np.testing.assert_allclose(inner.novelty(bags), again.novelty(bags))
    scores = inner.generalised_scores(bags)
    assert np.isneginf(scores[:, 3:]).all() and np.isfinite(scores[:, :3]).all()  # label 2 plays unseen
    # label 2's windows are farther from labels 0 and 1 than those labels' own validation windows
    val = split == "val"
    assert inner.novelty(bags[val & (y == 2)]).mean() > inner.novelty(bags[val & np.isin(y, [0, 1])]).mean()


def test_ridge_route_sends_training_segments_to_their_label_prototype():
    X, y, split, texts = _world()
    seen = [0, 1, 2]
    settings = dataclasses.replace(SMALL, text_route="ridge", ridge_alpha=1e-3)
    model, bags = fit_token_model(X, y, split, texts, seen, range(len(LABELS)), settings)
    train = (split == "train") & np.isin(y, seen)
    with torch.no_grad():
        projected = model.task.sentence_projection(torch.from_numpy(bags[train][:, 1:])).double().numpy()
    target = texts.prototypes(seen)[y[train]]
    fitted = ((projected - target[:, None]) ** 2).sum()
    spread = ((target - target.mean(0)) ** 2).sum() * projected.shape[1]
    assert fitted < 0.2 * spread  # least squares on the training segments: most of the prototype spread explained


TINY_TOKENS = "model:\n  scales: [0.125, 0.25]\n  len_s: 8\n  num_code: 8\n  kmeans_iters: 3\n  num_slots: 3\n"


def test_holdout_run_of_the_default_model_takes_the_benchs_decision(tmp_path):
    """``mmvq train --model mmvqshape --holdout-labels`` (the default token architecture, tiny):
    metrics.json's zero_shot is calibrated on seen labels by the bench's code path, so recomputing
    it from the saved model with that path gives the same numbers, and its one unseen label's
    unseen accuracy is marked as true by construction."""
    labels = ("sit", "walk", "run", "jump")
    data = ts.write_windows(tmp_path / "w.npz", n_per_class=18, labels=labels)
    emb = ts.write_embeddings(tmp_path / "emb", labels=labels, dim=8, k=4)
    (tmp_path / "tokens.yaml").write_text(TINY_TOKENS)
    run = tmp_path / "run"
    assert main(["train", "--model", "mmvqshape", "--data", str(data), "--corpus", str(emb), "--config", str(tmp_path / "tokens.yaml"),
                 "--holdout-labels", "run", "--out", str(run), "--max-epochs", "2", *ts.TINY_FLAGS]) == 0
    zero_shot = json.loads((run / "metrics.json").read_text())["zero_shot"]
    assert zero_shot["unseen_labels"] == ["run"] and zero_shot["unseen_accuracy"] is None
    assert zero_shot["unseen_accuracy_by_construction"] is True and "by construction" in zero_shot["unseen_accuracy_note"]
    assert zero_shot["method"].startswith("token MMVQShape") and zero_shot["calibration"]["nested_labels"]
    assert zero_shot["harmonic_mean"] == pytest.approx(harmonic(zero_shot["seen_accuracy"], zero_shot["unseen_gzsl_accuracy"]))
    assert zero_shot["n_unseen_windows"] == 6 and zero_shot["n_seen_windows"] == 18  # every test window scored once
    cfg = read_run_config(run / "config.yaml")
    task, info = load_task(find_checkpoint(run))
    windows = load_data(cfg, None)
    dataset = lambda split: scored_dataset(windows, split, cfg, info, None)  # noqa: E731
    again = trained_model_fold(*run_outputs(task, dataset, len(windows.labels)), list(windows.labels), ["run"])
    for key in ("seen_accuracy", "unseen_gzsl_accuracy", "harmonic_mean", "gamma", "calibration"):
        assert again[key] == zero_shot[key], key
