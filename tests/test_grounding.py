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


def test_one_activity_windows_count_in_precision_and_coverage_only():
    one = np.array([2, 2, 2, -1])
    result = grounding_metrics([[(2, 0, 4)], A_PLACED], [one, A])
    assert result["precision"] == pytest.approx((3 + 9) / (3 + 12))
    assert result["both_located"] == 1.0  # only window A has two activities
    assert result["coverage_per_activity"] == {"0": 1.0, "1": 1.0, "2": 1.0}  # label 2's 3 samples all covered
    assert grounding_metrics([[(2, 0, 4)]], [one])["both_located"] is None
    assert grounding_metrics([[]], [one])["precision"] is None  # nothing placed
    assert grounding_metrics([[(0, 0, 4)]], [np.full(4, -1)])["precision"] is None  # nothing labelled
    assert grounding_metrics([], np.zeros((0, 4), int)) == {
        "precision": None, "coverage": None, "coverage_per_activity": {}, "both_located": None, "both_placed": None,
        "unlabelled_samples": 0, "n_samples": 0, "n_windows": 0}


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


# ----------------------------------------------------------------------------- the sliding anchor
def _synthetic(n: int, activity: np.ndarray, rng) -> np.ndarray:
    """(n, T, 2) windows: label 0 is quiet, label 1 loud (noise 10x larger), -1 medium."""
    scale = np.where(activity == 1, 10.0, np.where(activity == 0, 1.0, 3.0))  # (n, T)
    return (rng.normal(size=(n, activity.shape[1], 2)) * scale[..., None]).astype(np.float32)


def _single_activity_windows(rng):
    from mmvqshape.signals import make_windows

    y = np.arange(40) % 2
    X = _synthetic(40, np.repeat(y[:, None], 100, axis=1), rng)
    split = np.array(["train"] * 30 + ["test"] * 10)
    return make_windows("single", X, y, ["quiet", "loud"], name="single", channel_names=None, subject=None,
                        given_split=split, seed=0, val_fraction=0.2)


def _two_activity_windows(rng):
    from mmvqshape.signals import make_windows

    activity = np.zeros((20, 100), np.int64)
    activity[:, 50:] = 1
    activity[:, 48:52] = -1  # a short unlabelled change
    activity[10:] = activity[10:, ::-1]  # half of the windows loud first
    X = _synthetic(20, activity, rng)
    split = np.array(["train"] * 8 + ["val"] * 4 + ["test"] * 8)
    return make_windows("two", X, (activity[:, 0] == 1).astype(int), ["quiet", "loud"], name="two", channel_names=None,
                        subject=None, given_split=split, seed=0, val_fraction=0.2, activity=activity)


def test_sliding_anchor_finds_easy_activities_on_their_parts():
    from mmvqshape.evaluation.grounding import sliding_anchor, sliding_geometry, sub_window_starts

    rng = np.random.default_rng(0)
    single, two = _single_activity_windows(rng), _two_activity_windows(rng)
    assert sliding_geometry(two) == (25, 5)  # no sampling rate: a quarter of the window, hop a fifth of that
    assert sub_window_starts(100, 25, 5).tolist() == list(range(0, 76, 5))
    assert sub_window_starts(100, 25, 30).tolist() == [0, 30, 60, 75]  # the last start covers the end
    result = sliding_anchor(single, two, split="test")
    assert result["grounding"]["n_windows"] == 8 and result["split"] == "test"
    assert result["grounding"]["both_located"] == 1.0
    assert result["sample_accuracy"] > 0.9 and result["grounding"]["precision"] > 0.85
    # the same measures as a model's, from the same function: each test window holds 4 unlabelled samples
    assert result["grounding"]["unlabelled_samples"] == 8 * 4 and result["grounding"]["n_samples"] == 8 * 100
    assert set(result["grounding"]["coverage_per_activity"]) == {"quiet", "loud"} and result["grounding"]["coverage"] > 0.8
    assert result["grounding"]["both_placed"] >= result["grounding"]["both_located"]
    # without single-activity data, pure pieces of the two-activity windows' own training split train it
    own = sliding_anchor(two, two, split="val")
    assert own["grounding"]["both_located"] == 1.0 and own["sample_accuracy"] > 0.9
    with pytest.raises(ValueError, match="carry each sample's activity"):
        sliding_anchor(single, single)


def test_model_grounding_reads_explain_sub_actions():
    from mmvqshape.evaluation.grounding import model_grounding, placements_from_sub_actions

    rng = np.random.default_rng(1)
    two = _two_activity_windows(rng)  # window 0: quiet 0..47, -1 48..51, loud 52..99
    chosen = [{"sentence": "s", "source_label": "Quiet", "score": 2.0, "start": 0, "end": 50},
              {"sentence": "t", "source_label": "loud", "score": 1.0, "start": 40, "end": 100},
              {"sentence": "u", "source_label": "swimming", "score": -1.0, "start": 0, "end": 10}]
    placements, weights = placements_from_sub_actions(chosen, two.labels)
    assert placements == [(0, 0, 50), (1, 40, 100), (-1, 0, 10)] and weights == [2.0, 1.0, 0.0]
    result = model_grounding(two, np.array([0]), [placements], [weights])
    # right: 2*48 + 1*48 + 0 = 144; labelled: 2*48 + 1*(8 + 48) + 0 = 152
    assert result["precision"] == pytest.approx(144 / 152)
    assert result["both_located"] == 1.0 and result["n_windows"] == 1
    # quiet: 48 samples, all inside 0..50; loud: 48 samples, all inside 40..100; the change: 4 unlabelled
    assert result["coverage_per_activity"] == {"quiet": 1.0, "loud": 1.0} and result["unlabelled_samples"] == 4


def test_one_short_right_span_places_an_activity_but_does_not_locate_it():
    """The issue's case: label 1 fills 400 samples; its only sentence is right but spans 50."""
    activity = np.r_[np.zeros(100, int), np.ones(400, int)]
    result = grounding_metrics([[(0, 0, 100), (1, 450, 500)]], [activity], labels=["sit", "walk"])
    assert result["both_placed"] == 1.0  # each label's sentences are all on its own samples
    assert result["both_located"] == 0.0  # but walk's cover 50 of its 400 samples (0.125 < 0.5)
    assert result["coverage_per_activity"] == {"sit": 1.0, "walk": pytest.approx(0.125)}
    assert result["coverage"] == pytest.approx((1.0 + 0.125) / 2)


def test_coverage_counts_the_union_of_a_labels_own_spans():
    activity = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    # label 0: spans 0..3 and 2..5 overlap: samples 0..4 covered once = 5 of 6; label 1's span over
    # label 0's samples covers nothing of label 0; label 1: samples 6, 7 = 2 of 4 (exactly half: located)
    result = grounding_metrics([[(0, 0, 3), (0, 2, 5), (1, 5, 8)]], [activity])  # label 1: 2 right of 3
    assert result["coverage_per_activity"] == {"0": pytest.approx(5 / 6), "1": 0.5}
    assert result["both_located"] == 1.0 and result["both_placed"] == 1.0
    # label 1's sentences only on label 0's samples: placed wrong and covering nothing of label 1
    wrong = grounding_metrics([[(0, 0, 6), (1, 0, 6)]], [activity])
    assert wrong["coverage_per_activity"] == {"0": 1.0, "1": 0.0} and wrong["both_located"] == 0.0


def test_unlabelled_samples_are_counted_on_their_own():
    result = grounding_metrics([A_PLACED, B_PLACED], np.stack([A, B]))
    assert result["unlabelled_samples"] == 1 and result["n_samples"] == 20
    # A: label 0 covered 4/4, label 1 5/5; B: label 1 (samples 0..5) by its own span 6..10: 0/6, label 0 4/4
    assert result["coverage_per_activity"] == {"0": 1.0, "1": 0.5}
    assert result["coverage"] == pytest.approx((1 + 1 + 0 + 1) / 4)
    assert result["both_placed"] == 0.5 and result["both_located"] == 0.5


def test_an_activity_under_min_samples_has_no_coverage():
    activity = np.array([0, 0, 0, 0, 2, 2, 1, 1, 1, 1])
    result = grounding_metrics([[(0, 0, 4), (1, 6, 10)]], [activity], min_samples=3)
    assert result["coverage_per_activity"] == {"0": 1.0, "1": 1.0}  # label 2 (2 samples) is not counted
    assert grounding_metrics([[(0, 0, 4), (1, 6, 10)]], [activity])["coverage_per_activity"]["2"] == 0.0
