"""How well sentences separate labels (``mmvqshape.analysis.separation``), checked against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from mmvqshape.analysis.separation import (
    centroid_predictions,
    label_fold_separation,
    sentence_separation,
    separation_report,
)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, owner: np.ndarray, n_labels: int) -> np.ndarray:
    """Each sentence left out, every centroid rebuilt from the rest, the nearest one by cosine."""
    x = unit(vectors)
    predicted = []
    for i in range(len(x)):
        if (owner == owner[i]).sum() < 2:
            predicted.append(-1)
            continue
        keep = np.arange(len(x)) != i
        sims = [unit(x[keep & (owner == k)].mean(0, keepdims=True))[0] @ x[i] for k in range(n_labels)]
        predicted.append(int(np.argmax(sims)))
    return np.array(predicted)


def clusters(rng: np.random.Generator, centres: np.ndarray, counts: list[int], spread: float) -> tuple[np.ndarray, np.ndarray]:
    owner = np.repeat(np.arange(len(counts)), counts)
    return centres[owner] + spread * rng.standard_normal((len(owner), centres.shape[1])), owner


def test_leave_one_out_matches_brute_force_with_uneven_counts_and_a_single_sentence_label():
    rng = np.random.default_rng(0)
    vectors, owner = clusters(rng, rng.standard_normal((5, 8)), [6, 3, 1, 9, 4], spread=1.0)
    predicted = centroid_predictions(unit(vectors), owner, 5)
    np.testing.assert_array_equal(predicted, brute_force(vectors, owner, 5))
    result = sentence_separation(vectors, owner, list("abcde"))
    assert result["n_sentences"] == 23 and result["n_scored"] == 22 and result["per_label"]["c"] is None
    confusion = np.array(result["confusion"])
    assert confusion.sum() == 22 and confusion[2].sum() == 0
    scored = predicted >= 0
    assert result["accuracy"] == pytest.approx(np.mean(predicted[scored] == owner[scored]))
    assert result["chance"] == pytest.approx(1 / 5)


def test_a_sentence_is_never_scored_against_a_centroid_it_built():
    # label a: two sentences 67 degrees apart; label b: two sentences in one direction between them.
    # Left out, an a-sentence's own centroid is the other a-sentence, farther than b's centroid.
    vectors = np.array([[1.0, 0.2], [0.2, 1.0], [1.0, 0.8], [2.0, 1.6]])
    owner = np.array([0, 0, 1, 1])
    result = sentence_separation(vectors, owner, ["a", "b"])
    assert result["per_label"] == {"a": 0.0, "b": 1.0} and result["confusion"] == [[0, 2], [0, 2]]


def test_well_separated_labels_score_one():
    rng = np.random.default_rng(1)
    vectors, owner = clusters(rng, 10 * np.eye(4), [5, 5, 5, 5], spread=0.1)
    report = separation_report(vectors, owner, ["w", "x", "y", "z"])
    assert report["sentence_folds"]["accuracy"] == 1.0 and report["sentence_folds"]["macro_accuracy"] == 1.0
    assert report["label_folds"]["mean_accuracy"] == 1.0 and report["label_folds"]["chance"] == pytest.approx(0.25)
    assert [f["unseen"] for f in report["label_folds"]["per_fold"]] == [["w"], ["x"], ["y"], ["z"]]


def test_label_folds_compare_held_out_labels_with_seen_ones_only():
    rng = np.random.default_rng(2)
    centres = np.array([[5.0, 0, 0, 1], [0, 5.0, 0, 1], [0, 0, 5.0, 1], [0, 0, 5.0, 1]])  # y and z: the same sentences
    vectors, owner = clusters(rng, centres, [6, 6, 6, 6], spread=0.3)
    labels = ["w", "x", "y", "z"]
    assert sentence_separation(vectors, owner, labels)["per_label"]["y"] < 0.9  # y and z confuse each other
    folds = label_fold_separation(vectors, owner, labels, folds=[["y", "z"]])
    held = folds["per_fold"][0]["held_out"]
    assert set(held) == {"y", "z"} and held["y"]["candidates"] == 3 and held["y"]["chance"] == pytest.approx(1 / 3)
    assert held["y"]["accuracy"] == 1.0 and held["z"]["accuracy"] == 1.0  # the other unseen label is no candidate
    assert held["y"]["assigned"] == {"y": 6}


def test_label_folds_centre_on_the_seen_labels_mean():
    rng = np.random.default_rng(3)
    vectors, owner = clusters(rng, rng.standard_normal((4, 6)) + 3.0, [5, 5, 5, 5], spread=1.0)
    labels = ["w", "x", "y", "z"]
    fold = label_fold_separation(vectors, owner, labels, folds=[["x"]])["per_fold"][0]["held_out"]["x"]
    x = unit(vectors)
    centred = x - x[owner != 1].mean(0)
    expected = brute_force(centred, owner, 4)[owner == 1]
    assert fold["accuracy"] == pytest.approx(np.mean(expected == 1))


@pytest.mark.parametrize("fold", [["nope"], [], ["w", "x", "y", "z"]])
def test_bad_label_folds(fold):
    vectors, owner = clusters(np.random.default_rng(4), np.eye(4), [2, 2, 2, 2], spread=0.1)
    with pytest.raises(ValueError, match="label fold"):
        label_fold_separation(vectors, owner, ["w", "x", "y", "z"], folds=[fold])
