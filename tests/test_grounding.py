"""Grounding metrics on hand-made windows (answers computed by hand in the comments), and the
sliding-classifier anchor on synthetic windows whose activities are easy to tell apart."""

from __future__ import annotations

import numpy as np
import pytest

from mmvqshape.training.grounding import grounding_metrics, main_activities, sample_accuracy, span_counts

# window A: 4 samples of label 0, one unlabelled, 5 of label 1
A = np.array([0, 0, 0, 0, -1, 1, 1, 1, 1, 1])
A_PLACED = [(0, 0, 5), (1, 3, 10), (2, 0, 2)]  # right/labelled: 4/4, 5/6, 0/2
# window B: 6 samples of label 1, then 4 of label 0
B = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
B_PLACED = [(0, 0, 6), (1, 6, 10), (0, 6, 10)]  # right/labelled: 0/6, 0/4, 4/4


def test_one_window_by_hand():
    result = grounding_metrics([A_PLACED], [A])
    assert result["precision"] == pytest.approx(9 / 12)  # (4 + 5 + 0) / (4 + 6 + 2): the -1 sample counts in neither
    assert result["both_located"] == 1.0  # label 0: 4/4 on its part, label 1: 5/6
    assert result["n_windows"] == 1


def test_two_windows_pool_sentences_and_count_located_windows():
    result = grounding_metrics([A_PLACED, B_PLACED], np.stack([A, B]))
    assert result["precision"] == pytest.approx(13 / 26)  # (9 + 4) / (12 + 14)
    # B: label 0's sentences hold 4 right of 10 labelled (0.4, not more than half); label 1's 0 of 4
    assert result["both_located"] == 0.5
    assert result["n_windows"] == 2


def test_weights_scale_each_sentence():
    result = grounding_metrics([B_PLACED], [B], weights=[[0.5, 1.0, 2.0]])
    # right 0.5*0 + 1*0 + 2*4 = 8; labelled 0.5*6 + 1*4 + 2*4 = 15
    assert result["precision"] == pytest.approx(8 / 15)
    # label 0: 8 right of 0.5*6 + 2*4 = 11 labelled (> half): located; label 1: 0 of 4: not
    assert result["both_located"] == 0.0
    with pytest.raises(ValueError, match="2 weights for 3 placements"):
        grounding_metrics([B_PLACED], [B], weights=[[1.0, 1.0]])
    with pytest.raises(ValueError, match="non-negative"):
        grounding_metrics([B_PLACED], [B], weights=[[1.0, -1.0, 1.0]])


def test_exactly_half_or_a_missing_activity_is_not_located():
    activity = np.array([0, 0, 1, 1])
    assert grounding_metrics([[(0, 1, 3), (1, 2, 4)]], [activity])["both_located"] == 0.0  # label 0: 1 of 2, not more
    assert grounding_metrics([[(0, 0, 2)]], [activity])["both_located"] == 0.0  # label 1 has no sentence
    assert grounding_metrics([[(0, 0, 2), (1, 2, 4)]], [activity])["both_located"] == 1.0


def test_spans_are_clipped_to_the_window():
    activity = np.array([1, 1, 0, 0])
    assert span_counts((1, -5, 3), activity) == (2, 3)
    assert span_counts((0, 3, 100), activity) == (1, 1)
    assert span_counts((0, 7, 9), activity) == (0, 0)
    assert span_counts((-1, 0, 4), activity) == (0, 4)  # a sentence of no label is never right


def test_one_activity_windows_count_in_precision_only():
    one = np.array([2, 2, 2, -1])
    result = grounding_metrics([[(2, 0, 4)], A_PLACED], [one, A])
    assert result["precision"] == pytest.approx((3 + 9) / (3 + 12))
    assert result["both_located"] == 1.0  # only window A has two activities
    assert grounding_metrics([[(2, 0, 4)]], [one])["both_located"] is None
    assert grounding_metrics([[]], [one])["precision"] is None  # nothing placed
    assert grounding_metrics([[(0, 0, 4)]], [np.full(4, -1)])["precision"] is None  # nothing labelled
    assert grounding_metrics([], np.zeros((0, 4), int)) == {"precision": None, "both_located": None, "n_windows": 0}


def test_two_activity_windows_need_min_samples_of_each():
    activity = np.array([0] * 9 + [1])
    assert main_activities(activity) == (0, 1)
    assert main_activities(activity, min_samples=2) is None
    assert main_activities(np.array([3, 3, 1, 1, 1, 2])) == (1, 3)  # the two most frequent, lower first
    assert grounding_metrics([[(0, 0, 9)]], [activity], min_samples=2)["both_located"] is None


def test_windows_of_different_lengths_and_mismatched_inputs():
    result = grounding_metrics([[(0, 0, 2)], A_PLACED], [np.array([0, 0]), A])
    assert result["precision"] == pytest.approx((2 + 9) / (2 + 12))
    with pytest.raises(ValueError, match="2 windows of placements but 1 activity rows"):
        grounding_metrics([A_PLACED, B_PLACED], [A])


def test_sample_accuracy_counts_labelled_samples_only():
    predicted = np.array([[0, 0, 1, 1], [2, 2, 2, 2]])
    activity = np.array([[0, -1, 1, 0], [2, -1, -1, -1]])
    assert sample_accuracy(predicted, activity) == 0.75  # right at (0,0), (0,2), (1,0); wrong at (0,3)
    assert sample_accuracy(predicted, np.full((2, 4), -1)) is None
    with pytest.raises(ValueError, match="differ in shape"):
        sample_accuracy(predicted[:, :3], activity)
