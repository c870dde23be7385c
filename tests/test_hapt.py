"""UCI HAPT: the restricted unpickler, the recordings cache, windows, splits, unlabelled windows.

Most tests run on ``tests/data/hapt_slice.npz`` (a slice of the real recordings, see the
``hapt_slice`` fixture); one reads the installed package's whole pickle (no network).
"""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.signals import HAPT_LABELS, HAPT_TRANSITIONS, load_unlabelled_hapt, load_windows
from mmvqshape.signals import hapt
from mmvqshape.signals.hapt_pickle import ADMITTED, read_hapt_pickle

SLICE_SUBJECTS = {1, 2, 3, 4, 5}


def _gzip_pickle(path, payload: bytes):
    with gzip.open(path, "wb") as handle:
        handle.write(payload)
    return path


# ----------------------------------------------------------------------------- unpickler
def test_tampered_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    # protocol 2: GLOBAL os.system, the argument tuple, REDUCE — what a malicious pickle does
    command = f"touch {marker}".encode()
    payload = b"\x80\x02cos\nsystem\nq\x00X" + len(command).to_bytes(4, "little") + command + b"\x85R."
    path = _gzip_pickle(tmp_path / "HAPT.pkl.gz", payload)
    with pytest.raises(UserError) as err:
        read_hapt_pickle(path)
    assert "os.system is outside the admitted classes" in str(err.value)
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_tampered_package_pickle_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMVQ_CACHE_DIR", str(tmp_path / "cache"))
    evil = pickle.dumps(print, protocol=2)  # builtins.print: harmless, but outside the admitted set
    path = _gzip_pickle(tmp_path / "HAPT.pkl.gz", evil)
    monkeypatch.setattr(hapt, "package_pickle", lambda: path)
    assert main(["data", "summary", "hapt"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refused to unpickle" in err and "__builtin__.print is outside the admitted classes" in err
    assert not hapt.cache_path().exists()


def test_admitted_names_are_exactly_the_pickles_own():
    assert {f"{m}.{n}" for m, n in ADMITTED} == {
        "copy_reg._reconstructor", "__builtin__.object", "__builtin__.slice", "_codecs.encode", "numpy.ndarray",
        "numpy.dtype", "numpy.core.multiarray._reconstruct", "pandas.core.frame.DataFrame",
        "pandas.core.internals.managers.BlockManager", "pandas.core.indexes.base._new_Index",
        "pandas.core.indexes.base.Index", "pandas.core.indexes.range.RangeIndex",
    }


def test_truncated_pickle_is_a_user_error(tmp_path):
    path = _gzip_pickle(tmp_path / "HAPT.pkl.gz", pickle.dumps({1: [1, 2, 3]}, protocol=2)[:-5])
    with pytest.raises(UserError, match="cannot read the HAPT pickle"):
        read_hapt_pickle(path)


@pytest.mark.slow
def test_package_pickle_gives_every_recording_and_1734_default_windows(tmp_path, monkeypatch):
    """The fresh-install path: the installed package's whole pickle, then the cache."""
    monkeypatch.setenv("MMVQ_CACHE_DIR", str(tmp_path / "cache"))
    recordings = hapt.load_recordings()
    assert len(recordings.subject) == 61 and set(recordings.subject.tolist()) == set(range(1, 31))
    assert len(recordings.label) == 1_122_772
    assert set(np.unique(recordings.label).tolist()) == {-1, *range(1, 13)}
    assert hapt.read_cache(hapt.cache_path()) is not None
    windows = load_windows("hapt")
    assert windows.X.shape == (1734, 500, 3) and windows.labels == HAPT_LABELS
    assert set(windows.subject[windows.indices("test")].tolist()) == set(hapt.TEST_SUBJECTS)


# ----------------------------------------------------------------------------- cache
def _slice_recordings():
    from pathlib import Path

    with np.load(Path(__file__).parent / "data" / "hapt_slice.npz") as archive:
        return hapt.Recordings(archive["signal"], archive["label"], archive["subject"], archive["offset"])


def test_slice_is_a_valid_cache(hapt_slice):
    recordings = hapt.read_cache(hapt_slice)
    assert recordings is not None and set(recordings.subject.tolist()) == SLICE_SUBJECTS


@pytest.mark.parametrize("damage", ["truncate", "flip", "missing-key", "not-a-zip"])
def test_damaged_cache_is_detected_and_rebuilt(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("MMVQ_CACHE_DIR", str(tmp_path))
    good = _slice_recordings()
    path = hapt.cache_path()
    hapt.write_cache(good, path)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":  # one byte inside the signal array: only the checksum sees it
        with np.load(path) as archive:
            arrays = {k: archive[k] for k in archive.files}
        arrays["signal"][10, 2] += 1.0
        np.savez(path, **arrays)
    elif damage == "missing-key":
        with np.load(path) as archive:
            arrays = {k: archive[k] for k in archive.files if k != "offset"}
        np.savez(path, **arrays)
    else:
        path.write_bytes(b"not a zip file at all")
    assert hapt.read_cache(path) is None
    rebuilt = []
    monkeypatch.setattr(hapt, "package_pickle", lambda: "HAPT.pkl.gz")
    monkeypatch.setattr(hapt, "recordings_from_pickle", lambda p: rebuilt.append(p) or good)
    with pytest.warns(UserWarning, match="damaged HAPT cache"):
        recordings = hapt.load_recordings()
    assert rebuilt == ["HAPT.pkl.gz"]
    assert np.array_equal(recordings.signal, good.signal)
    again = hapt.read_cache(path)
    assert again is not None and np.array_equal(again.label, good.label)


# ----------------------------------------------------------------------------- windows
def _expected_counts(recordings, codes, window, step):
    counts = {}
    for subject, _, label in recordings.experiments():
        for start, end, code in hapt.label_spans(label):
            if code in codes and end - start >= window:
                counts[code] = counts.get(code, 0) + (end - start - window) // step + 1
    return counts


def test_windows_follow_spans_labels_and_official_subjects(hapt_slice):
    recordings = _slice_recordings()
    windows = load_windows("hapt", seed=0)
    assert windows.labels == ["walking", "walking upstairs", "walking downstairs", "sitting", "standing", "lying"]
    expected = _expected_counts(recordings, set(range(1, 7)), 500, 250)
    assert {k + 1: int((windows.y == k).sum()) for k in range(6) if (windows.y == k).any()} == expected
    assert windows.X.shape[1:] == (500, 3) and windows.channel_names == ["acc_x", "acc_y", "acc_z"]
    test_subjects = set(windows.subject[windows.indices("test")].tolist())
    assert test_subjects == {2, 4}
    val_subjects = set(windows.subject[windows.indices("val")].tolist())
    train_subjects = set(windows.subject[windows.indices("train")].tolist())
    assert val_subjects and train_subjects and not (val_subjects & train_subjects) and not (val_subjects & test_subjects)
    assert windows.split_summary()["method"] == "official-test-subjects/val-by-subject"


def test_windows_never_cross_a_label_change(hapt_slice):
    recordings = _slice_recordings()
    windows = load_windows("hapt-transitions", channels="all")
    raw = recordings.signal
    # every window is a contiguous stretch of the raw signal whose samples all carry its label
    for row in range(0, len(windows.y), 7):
        x = windows.X[row] / np.array([hapt.GRAVITY] * 3 + [1.0] * 3, np.float32)
        hits = np.flatnonzero(np.all(np.isclose(raw, x[0], atol=1e-6), axis=1))
        assert any(np.allclose(raw[h : h + len(x)], x, atol=1e-5) and
                   np.all(recordings.label[h : h + len(x)] == windows.y[row] + 1) for h in hits)


def test_acceleration_in_metres_per_second_squared(hapt_slice):
    acc = load_windows("hapt").X
    gyro = load_windows("hapt", channels="gyro").X
    both = load_windows("hapt", channels="all").X
    norm = np.linalg.norm(acc, axis=2).mean()
    assert 9.0 < norm < 10.6  # gravity plus motion, in m/s² (it would be ~1 in g)
    assert np.allclose(both[:, :, :3], acc) and np.allclose(both[:, :, 3:], gyro)


def test_transitions_variant_and_window_options(hapt_slice):
    recordings = _slice_recordings()
    windows = load_windows("hapt-transitions")
    assert windows.labels == HAPT_LABELS + HAPT_TRANSITIONS
    assert HAPT_TRANSITIONS == ["stand to sit", "sit to stand", "sit to lie", "lie to sit", "stand to lie", "lie to stand"]
    assert windows.X.shape[1] == 100
    expected = _expected_counts(recordings, set(range(1, 13)), 100, 50)
    assert len(windows.y) == sum(expected.values()) and (windows.y >= 6).any()
    short = load_windows("hapt:window=250,step=125")
    assert short.X.shape[1] == 250
    assert len(short.y) == sum(_expected_counts(recordings, set(range(1, 7)), 250, 125).values())


@pytest.mark.parametrize("spec, problem", [
    ("hapt:window=abc", "positive whole number"),
    ("hapt:size=100", "unknown option"),
    ("hapt:window=5000", "no labelled span is 5000 samples long"),
])
def test_bad_hapt_specs(hapt_slice, spec, problem):
    with pytest.raises(UserError, match=problem):
        load_windows(spec)


def test_bad_channels_is_a_user_error(hapt_slice):
    with pytest.raises(UserError, match="expected acc, gyro or all"):
        load_windows("hapt", channels="mag")


# ----------------------------------------------------------------------------- unlabelled
def test_unlabelled_windows_come_from_unlabelled_spans_of_training_subjects(hapt_slice):
    recordings = _slice_recordings()
    unlabelled = load_unlabelled_hapt(window=100, step=50)
    assert not hasattr(unlabelled, "y") and not hasattr(unlabelled, "labels")
    assert set(unlabelled.subject.tolist()) <= {1, 3, 5}
    train_only = hapt.cut_windows(recordings, codes=[-1], window=100, step=50, subjects=[1, 3, 5])[0]
    assert len(unlabelled.X) == len(train_only) > 0
    assert np.allclose(unlabelled.X, train_only[:, :, :3] * hapt.GRAVITY)
    every = load_unlabelled_hapt(stretches="all", subjects="all", window=100, step=50)
    assert set(every.subject.tolist()) == SLICE_SUBJECTS and len(every.X) > len(unlabelled.X)


def test_summary_shows_subjects_per_split(hapt_slice, capsys):
    assert main(["data", "summary", "hapt"]) == 0
    out = capsys.readouterr().out
    assert "test    2 subjects: 2, 4" in out
    assert "no subject is in two splits" in out
    assert "classes   6: walking, walking upstairs, walking downstairs, sitting, standing, lying" in out


# ----------------------------------------------------------------------------- corpus
@pytest.mark.parametrize("name", ["hapt", "hapt_unsplit"])
def test_shipped_hapt_corpus_matches_the_labels_and_says_waist(name):
    from mmvqshape.text.corpus import load_corpus
    from mmvqshape.text.style import style_flags

    corpus = load_corpus(name)
    assert corpus.labels == HAPT_LABELS + HAPT_TRANSITIONS
    assert all(n == 10 for n in corpus.counts().values())
    assert "waist" in corpus.meta["description"]
    assert style_flags(corpus) == []
    sentences, _ = corpus.flat()
    assert len(set(sentences)) == len(sentences) == 120


def test_corpus_check_passes_on_hapt(capsys):
    assert main(["corpus", "check", "hapt"]) == 0
    out = capsys.readouterr().out
    assert "12 labels, 120 sub-actions" in out and "style flags: 0" in out and "exact duplicates: 0" in out


def test_generate_takes_hapt_labels_and_the_waist_description(hapt_slice):
    from mmvqshape.pipelines.generate import DEVICE_DESCRIPTIONS, labels_of_data

    assert labels_of_data("hapt") == HAPT_LABELS
    assert labels_of_data("hapt-transitions") == HAPT_LABELS + HAPT_TRANSITIONS
    assert "waist" in DEVICE_DESCRIPTIONS["hapt"] and DEVICE_DESCRIPTIONS["hapt-transitions"] == DEVICE_DESCRIPTIONS["hapt"]


@pytest.mark.slow
def test_train_and_evaluate_minirocket_on_hapt(hapt_slice, tmp_path, capsys, one_thread):
    import json

    run = tmp_path / "run"
    assert main(["train", "--model", "minirocket", "--data", "hapt", "--data-channels", "all", "--out", str(run),
                 "--no-progress"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    windows = load_windows("hapt", channels="all")
    assert metrics["n_test"] == len(windows.indices("test"))
    assert "data_channels: all" in (run / "config.yaml").read_text()
    assert main(["evaluate", str(run)]) == 0
    assert json.loads((run / "metrics.json").read_text())["accuracy"] == metrics["accuracy"]


def test_admitted_names_in_an_unexpected_layout_are_a_user_error(tmp_path):
    # a dict of subject -> [DataFrame stand-in] whose state is not a pandas 0.x BlockManager
    payload = (b"\x80\x02}q\x00K\x01]q\x01ccopy_reg\n_reconstructor\nq\x02cpandas.core.frame\nDataFrame\nq\x03"
               b"c__builtin__\nobject\nq\x04N\x87Rq\x05}q\x06X\x05\x00\x00\x00_dataq\x07K\x07sbas.")
    path = _gzip_pickle(tmp_path / "HAPT.pkl.gz", payload)
    with pytest.raises(UserError, match="unexpected DataFrame layout"):
        read_hapt_pickle(path)


@pytest.mark.slow
def test_mmvqshape_trains_and_explains_on_hapt(hapt_slice, tmp_path, one_thread):
    import json

    run = tmp_path / "run"
    assert main(["train", "--model", "mmvqshape", "--data", "hapt", "--corpus", "hapt", "--max-epochs", "1",
                 "--batch-size", "16", "--out", str(run), "--no-progress"]) == 0
    assert json.loads((run / "metrics.json").read_text())["n_test"] == len(load_windows("hapt").indices("test"))
    assert main(["explain", str(run), "--data", "hapt", "--index", "0", "--out", str(tmp_path / "explain")]) == 0
    explained = json.loads((tmp_path / "explain" / "explain_0.json").read_text())
    assert explained["n_channels"] == 3


def test_admitted_ndarray_cannot_be_called_for_a_huge_array(tmp_path):
    # REDUCE numpy.ndarray((10**12,)): an admitted name used to allocate memory, refused
    payload = b"\x80\x02cnumpy\nndarray\nq\x00\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85\x85R."
    path = _gzip_pickle(tmp_path / "HAPT.pkl.gz", payload)
    with pytest.raises(UserError, match="cannot read the HAPT pickle"):
        read_hapt_pickle(path)
