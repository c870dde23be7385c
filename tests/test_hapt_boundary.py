"""HAPT windows holding two activities: ``hapt-boundary`` (the recordings' own changes) and
``hapt-splice`` (two single-activity pieces of one subject), on ``tests/data/hapt_slice.npz``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.signals import HAPT_LABELS, hapt, load_windows
from mmvqshape.signals.hapt_boundary import majority_activity


def _slice_recordings():
    with np.load(Path(__file__).parent / "data" / "hapt_slice.npz") as archive:
        return hapt.Recordings(archive["signal"], archive["label"], archive["subject"], archive["offset"])


def _find_in_recordings(recordings, subject: int, piece: np.ndarray) -> np.ndarray | None:
    """The labels (T,) under ``piece`` (T, 3) in m/s² where it occurs in ``subject``'s recordings."""
    for s, signal, label in recordings.experiments():
        if s != subject:
            continue
        raw = signal[:, :3] * hapt.GRAVITY
        for h in np.flatnonzero(np.all(np.isclose(raw, piece[0], atol=1e-5), axis=1)):
            if h + len(piece) <= len(raw) and np.allclose(raw[h : h + len(piece)], piece, atol=1e-4):
                return label[h : h + len(piece)]
    return None


def _subjects_per_split(windows) -> dict[str, set]:
    return {split: set(windows.subject[windows.indices(split)].tolist()) for split in ("train", "val", "test")}


def test_boundary_windows_hold_two_activities_with_each_samples_label(hapt_slice):
    recordings = _slice_recordings()
    windows = load_windows("hapt-boundary")
    assert windows.labels == HAPT_LABELS and windows.X.shape[1:] == (500, 3)
    assert windows.activity.shape == (len(windows.y), 500)
    for row in range(len(windows.y)):
        activity = windows.activity[row]
        counts = np.bincount(activity[activity >= 0], minlength=6)
        assert (counts >= 100).sum() == 2  # 2 s of each of exactly two activities
        assert windows.y[row] == int(np.argmax(counts))  # no tie here: y is the majority
        codes = _find_in_recordings(recordings, int(windows.subject[row]), windows.X[row])
        assert codes is not None  # a real stretch of that subject's recording
        expected = np.where((codes >= 1) & (codes <= 6), codes - 1, -1)  # transitions, unlabelled: -1
        assert np.array_equal(activity, expected)
    assert (windows.activity == -1).any()  # the transitions between the two activities


def test_boundary_and_splice_use_hapts_subjects_per_split(hapt_slice):
    single = _subjects_per_split(load_windows("hapt", seed=3))
    for data in ("hapt-boundary", "hapt-splice"):
        windows = load_windows(data, seed=3)
        for split, subjects in _subjects_per_split(windows).items():
            assert subjects <= single[split], (data, split)
        assert windows.split_summary()["method"] == "hapt's subjects per split"
    assert _subjects_per_split(load_windows("hapt-splice", seed=3))["test"] == {2, 4}


def test_splice_is_two_halves_of_one_subject_and_repeatable(hapt_slice):
    recordings = _slice_recordings()
    windows = load_windows("hapt-splice:per_pair=1", seed=5)
    assert windows.labels == HAPT_LABELS and windows.X.shape[1:] == (500, 3)
    first, second = windows.activity[:, 0], windows.activity[:, -1]
    assert np.all(windows.activity[:, :250] == first[:, None]) and np.all(windows.activity[:, 250:] == second[:, None])
    assert np.all(first != second) and np.array_equal(windows.y, first)  # a tie goes to the first half
    pairs = {(a, b) for a, b in zip(first.tolist(), second.tolist())}
    assert len(pairs) == 30  # every ordered pair of the 6 activities, natural ones (sitting, standing) and others
    for row in range(0, len(windows.y), 11):
        subject = int(windows.subject[row])
        for half, label in ((windows.X[row, :250], first[row]), (windows.X[row, 250:], second[row])):
            codes = _find_in_recordings(recordings, subject, half)
            assert codes is not None and np.all(codes == label + 1)
    again = load_windows("hapt-splice:per_pair=1", seed=5)
    other = load_windows("hapt-splice:per_pair=1", seed=6)
    assert np.array_equal(again.X, windows.X) and np.array_equal(again.activity, windows.activity)
    assert not np.array_equal(other.X, windows.X)
    assert len(load_windows("hapt-splice", seed=5).y) == 2 * len(windows.y)  # per_pair=2 by default


def test_majority_tie_goes_to_the_first_in_time():
    activity = np.array([[-1, 2, 2, 0, 0, -1], [1, 1, 3, 3, 3, -1], [-1, -1, 4, 4, 4, 4]])
    assert majority_activity(activity, 6).tolist() == [2, 3, 4]
    with pytest.raises(ValueError, match="no labelled sample"):
        majority_activity(np.full((1, 4), -1), 6)


def test_summary_prints_windows_per_pair(hapt_slice, capsys):
    assert main(["data", "summary", "hapt-boundary"]) == 0
    out = capsys.readouterr().out
    assert "windows per pair of activities" in out
    assert "walking upstairs + walking downstairs" in out and "sitting + standing" in out


@pytest.mark.parametrize("spec, problem", [
    ("hapt-boundary:min=300", "min=300 twice does not fit a window of 500 samples"),
    ("hapt-boundary:size=3", "unknown option 'size=3' (expected window=SAMPLES, step=SAMPLES, min=SAMPLES)"),
    ("hapt-boundary:window=50000", "no 50000-sample window holds"),
    ("hapt-splice:per_pair=x", "per_pair must be a positive whole number, got 'x'"),
])
def test_bad_boundary_specs(hapt_slice, spec, problem):
    with pytest.raises(UserError) as err:
        load_windows(spec)
    assert problem in str(err.value)


def test_evaluate_writes_the_sliding_classifier_under_baselines_only(hapt_slice, tmp_path, one_thread):
    import json

    run = tmp_path / "run"
    assert main(["train", "--model", "minirocket", "--data", "hapt-boundary", "--out", str(run), "--no-progress"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    anchor = metrics["baselines"]["sliding_classifier"]
    windows = load_windows("hapt-boundary")
    assert anchor["grounding"]["n_windows"] == len(windows.indices("test")) and anchor["split"] == "test"
    assert set(anchor["grounding"]) == {"precision", "coverage", "coverage_per_activity", "both_located", "both_placed",
                                        "unlabelled_samples", "n_samples", "n_windows"}
    assert anchor["grounding"]["unlabelled_samples"] == int((windows.activity[windows.indices("test")] < 0).sum())
    assert anchor["sub_window"] == 125 and anchor["hop"] == 25 and anchor["trained_on"].startswith("hapt[acc")
    assert "grounding" not in metrics  # the model's own grounding is not computed by this hook
    assert main(["evaluate", str(run)]) == 0
    assert json.loads((run / "metrics.json").read_text())["baselines"] == metrics["baselines"]
