"""Zero-shot through the token MMVQShape itself: the bench's keys and the honest protocol."""

from __future__ import annotations

import json

import numpy as np
import torch

from mmvqshape.models.zero_shot import CandidateTexts
from mmvqshape.pipelines.bench_zero_shot import run_bench_zero_shot
from mmvqshape.evaluation.reader import development_split
from mmvqshape.evaluation.token_zero_shot import TokenZeroShotSettings, fit_token_model, token_zero_shot_fold

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


def test_bench_through_the_model_writes_its_numbers_and_the_readers(tmp_path):
    out = tmp_path / "zs"
    summary = run_bench_zero_shot(data="basicmotions", corpus="basicmotions", out=out, unseen=["running"],
                                  model="mmvqshape", settings=SMALL, progress=False)
    result = json.loads((out / "zero_shot.json").read_text())
    assert result["model"] == "mmvqshape" and result["model_settings"]["steps"] == SMALL.steps
    fold = result["per_fold"][0]
    assert fold["method"].startswith("token MMVQShape") and fold["unseen_labels"] == ["running"]
    assert {"unseen_accuracy", "seen_accuracy", "unseen_gzsl_accuracy", "harmonic_mean", "gamma", "calibration",
            "candidates"} <= set(fold)
    assert set(fold["baselines"]) == {"sentence_reader", "name_only", "text_only"}
    assert fold["baselines"]["sentence_reader"]["method"].startswith("sub-action sentences (ridge reader)")
    assert set(result["baselines"]) == {"sentence_reader", "name_only", "text_only"}
    assert {"mean", "std"} <= set(result["summary"]["harmonic_mean"])
    assert "token MMVQShape: its text scores" in summary["markdown"] and "baseline: sentence reader" in summary["markdown"]
    assert (out / "zero_shot.csv").read_text().splitlines()[0].endswith("sentence_reader_harmonic_mean")


def test_development_split_never_uses_test_windows():
    split = np.array(["train"] * 8 + ["val"] * 2 + ["test"] * 3)
    subject = np.array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6])
    dev = development_split(split, subject, seed=0)
    assert list(dev[8:10]) == ["test", "test"] and set(dev[10:]) == {"unused"}
    assert (dev[:8] == "val").sum() == 2 and len(set(subject[:8][dev[:8] == "val"])) == 1  # one whole subject
