"""Precision by chance is the chance of the chooser that was measured: a uniform choice among
the sentences *it* can choose (the token model: its seen classes' sentences; the sentence
reader: its own candidates), never every sentence of the bank."""

from __future__ import annotations

import json

import numpy as np
import pytest

import train_support as ts
from mmvqshape.cli import main
from mmvqshape.models.zero_shot import CandidateTexts
from mmvqshape.evaluation.reader import explanation_check
from mmvqshape.training.explanation_metrics import explanation_metrics, precision_chance

TINY_TOKENS = "model:\n  scales: [0.125, 0.25]\n  len_s: 8\n  num_code: 8\n  kmeans_iters: 3\n  num_slots: 2\n"


def test_chance_counts_only_the_sentences_that_can_be_chosen():
    # HAPT's shape: 12 labels of 4 sentences each, the model has classes for the first 6 only
    owner = np.repeat(np.arange(12), 4)
    y_true = np.array([0, 1, 2, 3, 4, 5, 5])
    assert precision_chance(owner, y_true) == pytest.approx(1 / 12)  # the whole bank: not what the model faces
    assert precision_chance(owner, y_true, owner < 6) == pytest.approx(1 / 6)
    # unequal banks: label 0 owns 3 of the 4 candidates, label 1 one; windows 0, 0, 1
    owner = np.array([0, 0, 0, 1, 2, 2])
    assert precision_chance(owner, np.array([0, 0, 1]), owner < 2) == pytest.approx((3 / 4 + 3 / 4 + 1 / 4) / 3)
    m = explanation_metrics(np.array([[0, 3], [1, 2], [3, 0]]), owner, np.array([0, 0, 1]), candidates=owner < 2)
    assert m["precision_chance"] == pytest.approx(7 / 12) and m["precision"] == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="candidates"):
        precision_chance(owner, np.array([0]), np.ones(3, dtype=bool))


def test_the_readers_chance_is_over_its_seen_labels_sentences():
    rng = np.random.default_rng(0)
    labels = ["a", "b", "c", "d", "e", "f"]
    y = np.repeat(np.arange(6), 20)
    features = np.eye(6)[y] + 0.1 * rng.normal(size=(len(y), 6))
    split = np.array((["train"] * 12 + ["test"] * 8) * 6)
    texts = CandidateTexts(labels, [rng.normal(size=(3, 8)) + 2 * np.eye(8)[i] for i in range(6)])
    # fitted on labels 0-3: it can choose 12 sentences, 3 of each window's label
    reader = explanation_check(features, y, split, texts, k=2, seen=[0, 1, 2, 3])
    assert reader["n_windows"] == 32 and reader["precision_chance"] == pytest.approx(1 / 4)


@pytest.fixture(scope="module")
def run_with_a_label_without_windows(tmp_path_factory, one_thread):
    """A token run on 3 labels whose corpus also writes sentences for a fourth, "jump"."""
    root = tmp_path_factory.mktemp("chance")
    data = ts.write_windows(root / "w.npz", labels=("sit", "walk", "run"))
    emb = ts.write_embeddings(root / "emb", labels=("sit", "walk", "run", "jump"), dim=8, k=4)
    (root / "tokens.yaml").write_text(TINY_TOKENS)
    assert main(["train", "--model", "mmvqshape", "--data", str(data), "--corpus", str(emb), "--config", str(root / "tokens.yaml"),
                 "--out", str(root / "mm"), "--max-epochs", "1", *ts.TINY_FLAGS]) == 0
    return root


def test_the_token_models_chance_leaves_out_a_label_it_has_no_class_for(run_with_a_label_without_windows):
    metrics = json.loads((run_with_a_label_without_windows / "mm" / "metrics.json").read_text())
    assert metrics["explanation"]["precision_chance"] == pytest.approx(1 / 3)  # 4, 3, 2 sentences, 4 windows each; not 9 / 30
