"""The signal data layer: loaders, pre-processing, splits and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.io import savemat

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.signals import (
    GENEACTIV_LABELS,
    WindowDataset,
    assign_splits,
    from_channel_independent,
    interpolate,
    load_windows,
    preprocess,
    to_channel_independent,
)
from mmvqshape.signals.geneactiv_bin import windows_from_recording
from mmvqshape.signals.preprocess import resample_labels
from mmvqshape.signals.windows import activity_pairs


def make_npz(path, n=24, t=50, c=3, n_labels=3, subject=True, split=None, **override):
    rng = np.random.default_rng(0)
    arrays = {
        "X": rng.normal(size=(n, t, c)).astype(np.float32),
        "y": np.arange(n) % n_labels,
        "labels": np.array([f"class{i}" for i in range(n_labels)]),
    }
    if subject:
        arrays["subject"] = np.repeat(np.arange(6), n // 6)
    if split is not None:
        arrays["split"] = np.array(split)
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


# --- real data -------------------------------------------------------------------------


def test_basicmotions_official_split_and_shapes():
    w = load_windows("basicmotions")
    assert w.X.shape == (80, 100, 3)
    assert w.labels == ["standing", "walking", "running", "badminton"]
    assert w.split_method.startswith("official")
    fit = np.concatenate([w.indices("train"), w.indices("val")])
    assert len(fit) == 40 and len(w.indices("test")) == 40
    assert np.bincount(w.y[w.indices("test")]).tolist() == [10, 10, 10, 10]
    X, _ = WindowDataset(w, "test").arrays()
    assert X.shape == (40, 3, 512) and X.dtype == np.float32


def test_basicmotions_channels():
    assert load_windows("basicmotions", channels="all").X.shape[2] == 6
    gyro = load_windows("basicmotions", channels="gyro")
    acc = load_windows("basicmotions", channels="acc")
    assert not np.allclose(gyro.X, acc.X)
    with pytest.raises(UserError):
        load_windows("basicmotions", channels="magnetometer")


def test_basicmotions_summary_command(capsys):
    assert main(["data", "summary", "basicmotions"]) == 0
    out = capsys.readouterr().out
    assert "(40, 3, 512)" in out and "standing" in out


# --- pre-processing --------------------------------------------------------------------


def test_interpolation_keeps_ramp_linear_and_endpoints():
    ramp = np.linspace(-3.0, 7.0, 500, dtype=np.float32)
    out = interpolate(ramp, 512)
    assert out.shape == (512,)
    assert out[0] == pytest.approx(-3.0) and out[-1] == pytest.approx(7.0)
    np.testing.assert_allclose(np.diff(out), np.full(511, 10.0 / 511), rtol=1e-4)


def test_preprocess_joint_view_and_native_length():
    x = np.random.default_rng(1).normal(size=(4, 500, 3)).astype(np.float32)
    assert preprocess(x, 512).shape == (4, 3, 512)
    native = preprocess(x, None)
    np.testing.assert_array_equal(native, x.transpose(0, 2, 1))
    normed = preprocess(x, 512, normalize=True)
    np.testing.assert_allclose(normed.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(normed.std(-1), 1, atol=1e-3)


def test_channel_independent_round_trip():
    x = np.random.default_rng(2).normal(size=(5, 3, 64)).astype(np.float32)
    y = np.arange(5)
    series, labels = to_channel_independent(x, y)
    assert series.shape == (15, 64)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    np.testing.assert_array_equal(series[4], x[1, 1])
    np.testing.assert_array_equal(from_channel_independent(series, 3), x)


# --- splits ----------------------------------------------------------------------------


def test_subject_wise_split_keeps_subjects_on_one_side(tmp_path):
    w = load_windows(make_npz(tmp_path / "d.npz", n=60), seed=3)
    assert w.split_method == "subject/val-by-subject"
    sides = {s: set(w.subject[w.indices(s)]) for s in ("train", "val", "test")}
    assert sides["train"] and sides["val"] and sides["test"]
    assert not sides["train"] & sides["test"]
    assert not sides["train"] & sides["val"]
    assert not sides["val"] & sides["test"]


def test_stratified_random_split_is_seeded():
    y = np.repeat(np.arange(4), 10)
    a, method = assign_splits(y, seed=1)
    b, _ = assign_splits(y, seed=1)
    c, _ = assign_splits(y, seed=2)
    assert method == "stratified/val-random"
    assert (a == b).all() and not (a == c).all()
    for s in ("train", "test"):
        assert sorted(set(y[a == s])) == [0, 1, 2, 3]


def test_file_split_is_used_and_val_carved_from_train(tmp_path):
    split = ["train"] * 18 + ["test"] * 6
    w = load_windows(make_npz(tmp_path / "d.npz", split=split, subject=False))
    assert w.split_method == "file/val-random"
    assert set(w.indices("test")) == set(range(18, 24))
    assert set(w.indices("val")) <= set(range(18))


# --- loaders ---------------------------------------------------------------------------


def test_npz_with_memory_mapped_sidecar(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 40, 3)).astype(np.float32)
    np.save(tmp_path / "big.X.npy", X)
    np.savez(tmp_path / "big.npz", y=np.arange(12) % 2, labels=np.array(["a", "b"]))
    w = load_windows(tmp_path / "big.npz")
    assert isinstance(w.X, np.memmap)
    np.testing.assert_array_equal(np.asarray(w.X), X)
    item = WindowDataset(w, "train", length=64)[0]
    assert tuple(item["signal"].shape) == (3, 64)


def _write_mat_folder(folder, classes=(0, 3, 13), subjects=("s1", "s2", "s3"), t=500, labels_json=None):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for s in subjects:
        for k in classes:
            for n in range(2):
                savemat(folder / f"ID-{s}_CLASS-{k}_Window-{n}.mat", {"xw": rng.normal(size=(t, 3))})
    if labels_json is not None:
        (folder / "labels.json").write_text(json.dumps(labels_json))
    return folder


def test_geneactiv_mat_default_labels(tmp_path):
    folder = _write_mat_folder(tmp_path / "mat")
    w = load_windows(f"geneactiv-mat:{folder}")
    assert w.X.shape == (18, 500, 3)
    assert w.labels == GENEACTIV_LABELS  # CLASS-k indexes the full 14-class list
    assert sorted(set(w.y.tolist())) == [0, 3, 13]
    assert set(w.subject) == {"s1", "s2", "s3"}
    assert WindowDataset(w, "train")[0]["signal"].shape[-1] == 512


def test_geneactiv_mat_labels_json(tmp_path):
    folder = _write_mat_folder(tmp_path / "mat", classes=(0, 1), labels_json=["sit", "walk"])
    assert load_windows(f"geneactiv-mat:{folder}").labels == ["sit", "walk"]


def test_windows_from_recording():
    import pandas as pd

    index = pd.date_range("2024-01-01", periods=3000, freq="10ms")
    recording = pd.DataFrame(np.ones((3000, 3)), index=index, columns=["x", "y", "z"])
    notes = pd.DataFrame({"start": [index[0], index[1500]], "end": [index[1200], index[2999]], "label": ["sit", "walk"]})
    X, y, labels = windows_from_recording(recording, notes)
    assert labels == ["sit", "walk"] and X.shape == (4, 500, 3) and y.tolist() == [0, 0, 1, 1]


# --- bad input -------------------------------------------------------------------------

BAD_NPZ = {
    "nan": dict(X=np.full((24, 50, 3), np.nan, np.float32)),
    "rank": dict(X=np.zeros((24, 50), np.float32)),
    "y_range": dict(y=np.arange(24) % 5),
    "y_float": dict(y=(np.arange(24) % 3) + 0.5),
    "labels_len": dict(labels=np.array(["only"])),
    "empty": dict(X=np.zeros((0, 50, 3), np.float32), y=np.zeros(0, int), subject=None),
    "missing_y": dict(y=None),
    "dup_labels": dict(labels=np.array(["a", "a", "b"])),
    "activity_shape": dict(activity=np.zeros((24, 49), np.int64)),
    "activity_range": dict(activity=np.full((24, 50), 3, np.int64)),
    "activity_below": dict(activity=np.full((24, 50), -2, np.int64)),
    "activity_float": dict(activity=np.full((24, 50), 0.5)),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_bad_npz_exits_2_with_one_line(case, tmp_path, capsys):
    path = make_npz(tmp_path / f"{case}.npz", **BAD_NPZ[case])
    assert main(["data", "summary", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0]


@pytest.mark.parametrize("case,problem", [
    ("activity_shape", "activity must have shape (24, 50) like X's (N, T), got (24, 49)"),
    ("activity_range", "activity out of range: values 3..3 but labels has 3 names"),
    ("activity_below", "activity out of range: values -2..-2"),
    ("activity_float", "activity must hold integer label indices"),
])
def test_bad_activity_names_the_problem(case, problem, tmp_path, capsys):
    path = make_npz(tmp_path / f"{case}.npz", **BAD_NPZ[case])
    assert main(["data", "summary", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and problem in err


def _two_activity_npz(tmp_path):
    activity = np.zeros((24, 50), np.int64)  # window i: label i % 3 for 30 samples, then -1, then (i + 1) % 3
    for i in range(24):
        activity[i, :30], activity[i, 30:35], activity[i, 35:] = i % 3, -1, (i + 1) % 3
    return make_npz(tmp_path / "two.npz", activity=activity), activity


def test_npz_activity_is_kept_through_splits_subsets_and_resampling(tmp_path, capsys):
    path, activity = _two_activity_npz(tmp_path)
    w = load_windows(path)
    assert np.array_equal(w.activity, activity) and w.activity.dtype == np.int64
    rows = w.indices("test")
    part = w.subset(rows)
    assert np.array_equal(part.activity, activity[rows]) and np.array_equal(part.y, w.y[rows])
    assert list(part.split) == ["test"] * len(rows) and np.array_equal(part.X, w.X[rows])
    item = WindowDataset(w, "test", length=99)[0]
    expected = resample_labels(activity[rows[0]], 99)
    assert item["activity"].shape == (99,) and np.array_equal(item["activity"].numpy(), expected)
    assert "activity" not in WindowDataset(load_windows(make_npz(tmp_path / "plain.npz")), "test", 64)[0]
    assert main(["data", "summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "windows per pair of activities" in out and "class0 + class1" in out


def test_resample_labels_is_nearest_neighbour_on_the_interpolation_grid():
    # output j sits at j * 3 / 6 = 0, 0.5, 1, 1.5, 2, 2.5, 3 input samples; .5 rounds up
    assert resample_labels(np.array([0, 0, 1, 1]), 7).tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert resample_labels(np.array([2, -1, 5]), 3).tolist() == [2, -1, 5]  # same length: unchanged
    assert resample_labels(np.array([[0, 1, 2, 3, 4]]), 3).tolist() == [[0, 2, 4]]  # down-sampling, last axis
    labels = np.repeat(np.array([0, 1]), 250)
    assert (resample_labels(labels, 512) == 0).sum() == 256  # a change at the middle stays at the middle


def test_activity_pairs_name_the_two_main_activities():
    activity = np.array([[0, 0, 0, 2, 2, 1], [1, 1, 1, 1, -1, -1], [-1, -1, -1, -1, -1, -1]])
    assert activity_pairs(activity, ["a", "b", "c"]) == ["a + c", "b", "none"]


def test_bad_files_exit_2(tmp_path, capsys):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    no_xw = _write_mat_folder(tmp_path / "noxw", classes=(0,), subjects=("a", "b"))
    savemat(no_xw / "ID-a_CLASS-0_Window-9.mat", {"other": np.zeros((500, 3))})
    out_of_range = _write_mat_folder(tmp_path / "range", classes=(0, 14), subjects=("a", "b"))
    cases = [
        (str(garbage), "garbage.npz"),
        (str(tmp_path / "missing.npz"), "missing.npz"),
        ("no-such-dataset", "no-such-dataset"),
        (f"geneactiv-mat:{no_xw}", "ID-a_CLASS-0_Window-9.mat"),
        (f"geneactiv-mat:{out_of_range}", "CLASS-14"),
        (f"geneactiv-mat:{tmp_path / 'nope'}", "nope"),
    ]
    for data, needle in cases:
        assert main(["data", "summary", data]) == 2, data
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], (data, err)
