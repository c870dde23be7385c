"""Zero-shot through sub-actions: metrics, the honest protocol, explanations and their control."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.models.zero_shot import CandidateTexts, SubActionZeroShot
from mmvqshape.pipelines.bench_zero_shot import choose_folds
from mmvqshape.evaluation.reader import explanation_check, zero_shot_fold
from mmvqshape.training.explanation_metrics import explanation_metrics
from mmvqshape.training.zero_shot_metrics import gzsl_metrics, wilson_interval

LABELS = ["still", "walk", "run", "lie", "jump", "sway"]
N_ATTR = 4


def _world(seed: int = 0, per_label: int = 60, n_sentences: int = 8, dim: int = 32):
    """Labels made of shared attributes: signal features and sentence embeddings both read the
    attributes (the features linearly, the sentences through a fixed random embedding)."""
    rng = np.random.default_rng(seed)
    attributes = np.array([[0, 0, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0], [0, 1, 1, 1]], dtype=float)
    attribute_text = rng.normal(size=(N_ATTR, dim))
    base = rng.normal(size=dim)  # what every sentence shares (the template)
    sentences = [base + attributes[c] @ attribute_text + 0.6 * rng.normal(size=(n_sentences, dim)) for c in range(len(LABELS))]
    y = np.repeat(np.arange(len(LABELS)), per_label)
    features = np.concatenate([attributes[y] + 0.25 * rng.normal(size=(len(y), N_ATTR)), rng.normal(size=(len(y), 3))], axis=1)
    split = np.array((["train"] * (per_label // 2) + ["val"] * (per_label // 6) + ["test"] * (per_label - per_label // 2 - per_label // 6)) * len(LABELS))
    return features, y, split, CandidateTexts(LABELS, sentences, rng.normal(size=(len(LABELS), dim)))


def test_wilson_interval_and_gzsl_keys():
    low, high = wilson_interval(8, 10)
    assert low < 0.8 < high and 0 <= low and high <= 1
    assert wilson_interval(0, 0) is None
    scores = np.array([[0.6, 0.1, 0.5], [0.8, 0.2, 0.7], [0.1, 0.9, 0.0], [0.6, 0.0, 0.55]])
    y = np.array([0, 2, 1, 2])
    m = gzsl_metrics(scores, y, ["a", "b", "c"], ["c"], gamma=0.0)
    assert m["unseen_accuracy"] == 1.0 and m["seen_accuracy"] == 1.0 and m["unseen_gzsl_accuracy"] == 0.0
    assert m["harmonic_mean"] == 0.0 and m["unseen_labels"] == ["c"]
    calibrated = gzsl_metrics(scores, y, ["a", "b", "c"], ["c"], gamma=0.2)  # seen scores lowered: both c windows flip, and one a window
    assert calibrated["unseen_gzsl_accuracy"] == 1.0 and calibrated["seen_accuracy"] == 0.5
    assert calibrated["harmonic_mean"] == pytest.approx(2 / 3)


def test_unseen_labels_recognised_from_their_sentences():
    features, y, split, texts = _world()
    results = [zero_shot_fold(features, y, split, texts, list(f)) for f in itertools.combinations(LABELS, 2)]
    assert np.mean([r["unseen_accuracy"] for r in results]) >= 0.8  # chance 0.5
    assert np.mean([r["harmonic_mean"] for r in results]) >= 0.5
    assert np.mean([r["baselines"]["name_only"]["harmonic_mean"] for r in results]) < 0.1  # names are random here
    assert set(results[0]) >= {"unseen_accuracy", "seen_accuracy", "unseen_gzsl_accuracy", "harmonic_mean", "gamma",
                               "unseen_accuracy_ci95", "candidates", "unseen_labels"}
    assert results[0]["baselines"]["text_only"]["unseen_accuracy"] > 0.9  # the synthetic text separates the labels


def test_unseen_windows_and_sentences_choose_nothing():
    """Changing the unseen labels' training/validation windows, or their sentences (beyond
    their role as candidates), changes nothing fitted: the calibration is the same."""
    features, y, split, texts = _world(seed=1)
    unseen = ["jump", "sway"]
    first = zero_shot_fold(features, y, split, texts, unseen)
    rows = np.isin(y, [4, 5]) & (split != "test")
    changed = features.copy()
    changed[rows] = np.random.default_rng(5).normal(size=changed[rows].shape) * 10
    second = zero_shot_fold(changed, y, split, texts, unseen)
    assert first == second
    # the fitted reader and the seen expert never see unseen sentences: only the candidates' prototypes move
    other = CandidateTexts(texts.labels, [s if i < 4 else s[::-1][:3] for i, s in enumerate(texts.sentences)], texts.names)
    fit_rows = (split == "train") & (y < 4)
    a = SubActionZeroShot().fit(features[fit_rows], y[fit_rows], [0, 1, 2, 3], texts)
    b = SubActionZeroShot().fit(features[fit_rows], y[fit_rows], [0, 1, 2, 3], other)
    np.testing.assert_allclose(a.read(features), b.read(features))
    np.testing.assert_allclose(a.novelty(features), b.novelty(features))


def test_choose_folds():
    labels = ["a", "b", "c", "d", "e", "f"]
    assert len(choose_folds(labels, None, 2, None)) == 15
    assert choose_folds(labels, None, 2, 3) == choose_folds(labels, None, 2, 3) and len(choose_folds(labels, None, 2, 3)) == 3
    assert choose_folds(labels, ["B", "c"], None, None) == [["b", "c"]]
    with pytest.raises(UserError, match="unknown labels"):
        choose_folds(labels, ["z"], None, None)
    with pytest.raises(UserError, match="--unseen-size"):
        choose_folds(labels, None, 5, None)


def test_explanation_metrics_by_hand():
    owner = np.array([0, 0, 0, 1, 1, 1])
    chosen = np.array([[0, 1], [0, 1], [3, 3], [4, 0]])
    m = explanation_metrics(chosen, owner, np.array([0, 0, 1, 1]))
    assert m["precision"] == pytest.approx(7 / 8)  # a repeated right sentence counts twice
    assert m["diversity"] == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert m["repeat_rate"] == pytest.approx(0.25)
    assert m["specificity"] == pytest.approx((0.0 + (1 - 0.0)) / 2)  # label 0 always {0, 1}; label 1 {3} vs {4, 0}
    assert m["precision_chance"] == pytest.approx(0.5)


def test_explanations_right_and_a_shuffled_corpus_at_chance():
    features, y, split, texts = _world(seed=2)
    real = explanation_check(features, y, split, texts, k=5)
    assert real["precision"] >= 0.8 and real["diversity"] == 1.0 and real["repeat_rate"] == 0.0
    assert real["faithfulness"] > real["faithfulness_random"]
    shuffled = np.mean([explanation_check(features, y, split, texts, k=5, shuffle_seed=s)["precision"] for s in range(6)])
    assert abs(shuffled - real["precision_chance"]) < 0.1  # chance 1/6


def test_bench_zero_shot_command_on_basicmotions(tmp_path, capsys):
    out = tmp_path / "zs"
    assert main(["bench", "zero-shot", "--data", "basicmotions", "--unseen", "running", "--out", str(out)]) == 0
    result = json.loads((out / "zero_shot.json").read_text())
    fold = result["per_fold"][0]
    assert fold["unseen_labels"] == ["running"] and fold["candidates"] == ["standing", "walking", "running", "badminton"]
    assert {"mean", "std"} <= set(result["summary"]["harmonic_mean"]) and result["explanation"]["k"] == 5
    assert (out / "zero_shot.md").read_text().count("| 0 | running |") == 1
    assert (out / "zero_shot.csv").read_text().splitlines()[1].startswith("0,0,running,")
    assert main(["bench", "zero-shot", "--data", "basicmotions", "--unseen", "swimming", "--out", str(tmp_path / "bad")]) == 2
    assert "swimming" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_generate_never_names_a_holdout_label_in_another_labels_prompt():
    from mmvqshape.text.generate import GenerationSettings, build_messages, load_template

    labels = ["walking", "walking upstairs", "sitting", "lying"]
    template = load_template(None, "split")
    plain = " ".join(m["content"] for m in build_messages("sitting", labels, GenerationSettings(n=5), template))
    assert '"lying"' in plain and '"walking upstairs"' in plain
    fold = GenerationSettings(n=5, holdout_labels=("Lying", "walking upstairs"))
    for label in ("walking", "sitting"):
        text = " ".join(m["content"] for m in build_messages(label, labels, fold, template))
        assert "lying" not in text.lower() and "upstairs" not in text.lower()
    assert "lying" in " ".join(m["content"] for m in build_messages("lying", labels, fold, template))  # its own prompt


def test_generate_refuses_an_unknown_holdout_label(tmp_path):
    from mmvqshape.pipelines.generate import generate

    with pytest.raises(UserError, match="--holdout-labels"):
        generate(tmp_path / "c.json", labels=["walking", "sitting"], holdout_labels=["swimming"], api_key="x")


def test_set_alignment_matches_slots_to_distinct_sentences():
    import torch
    import torch.nn.functional as F

    from mmvqshape.models.mmvqshape import set_alignment

    torch.manual_seed(0)
    sentences = F.normalize(torch.randn(2, 6, 8), dim=-1)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]]).bool()
    slots = torch.stack([sentences[0, [4, 2, 0, 1]], sentences[1, [2, 1, 0, 0]]])  # any order, any subset: no loss
    assert float(set_alignment(slots, sentences, mask)) == pytest.approx(0.0, abs=1e-6)
    repeated = sentences[:, [0, 0, 0, 0]].clone().requires_grad_()  # one sentence four times: three slots pay
    loss = set_alignment(repeated, sentences, mask)
    assert float(loss) > 0.1
    loss.backward()
    assert repeated.grad.abs().sum() > 0
    assert set_alignment(slots, sentences, torch.zeros_like(mask)) is None
