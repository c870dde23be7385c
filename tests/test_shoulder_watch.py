"""shoulder-watch: seglearn's watch data read through the allow-list, windows, subjects, cache, refusals."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from numpy.lib import format as npy_format

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.signals import load_windows, shoulder_watch
from mmvqshape.signals.shoulder_watch import LABELS, TEST_SUBJECTS, read_watch_file


def _object_npy(path, payload: bytes):
    """An object .npy: numpy's header for a 0-d object array, then the given pickle bytes."""
    with open(path, "wb") as handle:
        npy_format.write_array_header_1_0(handle, {"descr": "|O", "fortran_order": False, "shape": ()})
        handle.write(payload)
    return path


def _numpy1_pickle(obj) -> bytes:
    """Protocol-2 pickle naming numpy's modules as numpy 1 did (as seglearn's file does)."""
    return pickle.dumps(obj, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


@pytest.fixture(scope="module")
def watch_cache(tmp_path_factory):
    """The real package file read once into a private cache folder."""
    folder = tmp_path_factory.mktemp("cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("MMVQ_CACHE_DIR", str(folder))
    try:
        recordings = shoulder_watch.load_recordings()
        yield recordings
    finally:
        patch.undo()


def test_real_file_gives_140_recordings_of_10_subjects(watch_cache):
    assert len(watch_cache.subject) == 140
    assert sorted(np.unique(watch_cache.subject).tolist()) == list(range(1, 11))
    assert sorted(np.unique(watch_cache.label).tolist()) == list(range(1, 8))
    # the accelerometer is in g: its magnitude averages about 1
    magnitude = np.linalg.norm(watch_cache.signal[:, :3], axis=1)
    assert 0.9 < float(magnitude.mean()) < 1.2


def test_windows_stay_in_one_recording_and_test_subjects_are_fixed(watch_cache, monkeypatch):
    monkeypatch.setattr(shoulder_watch, "load_recordings", lambda: watch_cache)
    windows = load_windows("shoulder-watch")
    assert windows.labels == LABELS and windows.labels[0] == "pendulum" and windows.labels[-1] == "upright row"
    assert windows.X.shape[1:] == (500, 3) and windows.channel_names == ["acc_x", "acc_y", "acc_z"]
    assert set(np.unique(windows.subject[windows.split == "test"]).tolist()) == set(TEST_SUBJECTS)
    assert not set(windows.subject[windows.split == "val"].tolist()) & set(windows.subject[windows.split == "train"].tolist())
    # per recording of length T: (T - 500) // 250 + 1 windows
    lengths = np.diff(watch_cache.offset)
    assert len(windows.y) == int(sum((t - 500) // 250 + 1 for t in lengths if t >= 500))
    other = load_windows("shoulder-watch:window=250,step=125", channels="all")
    assert other.X.shape[1:] == (250, 6) and len(other.y) > len(windows.y)
    # m/s² like the other sources
    assert 8.0 < float(np.linalg.norm(windows.X, axis=2).mean()) < 12.0


@pytest.mark.parametrize("spec, problem", [
    ("shoulder-watch:window=0", "positive whole number"),
    ("shoulder-watch:size=3", "unknown option"),
    ("shoulder-watch:window=100000", "no recording is 100000 samples long"),
])
def test_bad_specs(watch_cache, monkeypatch, spec, problem):
    monkeypatch.setattr(shoulder_watch, "load_recordings", lambda: watch_cache)
    with pytest.raises(UserError, match=problem):
        load_windows(spec)


def test_cache_round_trip(tmp_path, monkeypatch, watch_cache):
    monkeypatch.setenv("MMVQ_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shoulder_watch, "recordings_from_file", lambda path: watch_cache)
    first = shoulder_watch.load_recordings()
    assert shoulder_watch.cache_path().is_file()
    monkeypatch.setattr(shoulder_watch, "recordings_from_file", lambda path: pytest.fail("cache not used"))
    again = shoulder_watch.load_recordings()
    assert np.array_equal(first.signal, again.signal) and np.array_equal(first.subject, again.subject)


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    command = f"touch {marker}".encode()
    payload = b"\x80\x02cos\nsystem\nq\x00X" + len(command).to_bytes(4, "little") + command + b"\x85R."
    path = _object_npy(tmp_path / "watch_dataset.npy", payload)
    with pytest.raises(UserError) as err:
        read_watch_file(path)
    assert "os.system is outside the admitted classes" in str(err.value) and str(path) in str(err.value)
    assert not marker.exists()


def test_malicious_package_file_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMVQ_CACHE_DIR", str(tmp_path / "cache"))
    path = _object_npy(tmp_path / "watch_dataset.npy", _numpy1_pickle(np.array({"X": print}, dtype=object)))
    monkeypatch.setattr(shoulder_watch, "package_file", lambda: path)
    assert main(["data", "summary", "shoulder-watch"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refused to unpickle" in err and "print is outside the admitted classes" in err
    assert not shoulder_watch.cache_path().exists()


@pytest.mark.parametrize("content, problem", [
    ({"X": [np.zeros((10, 6))]}, "missing keys"),
    ({"X": [np.zeros((10, 5))], "y": np.array([0]), "subject": np.array([1]), "y_labels": shoulder_watch.CODES}, "recording 0"),
    ({"X": [np.zeros((10, 6))], "y": np.array([9]), "subject": np.array([1]), "y_labels": shoulder_watch.CODES}, "out of range"),
    ([1, 2, 3], "expected a dict"),
])
def test_admitted_but_unexpected_content_is_a_user_error(tmp_path, content, problem):
    wrapped = np.empty((), dtype=object)
    wrapped[()] = content
    path = _object_npy(tmp_path / "watch_dataset.npy", _numpy1_pickle(wrapped))
    with pytest.raises(UserError, match=problem):
        shoulder_watch.recordings_from_file(path)


def test_a_plain_npy_or_truncated_file_is_a_user_error(tmp_path):
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros(3))
    with pytest.raises(UserError, match="expected a 0-d object array"):
        read_watch_file(plain)
    good = _numpy1_pickle(np.array({"X": []}, dtype=object))
    with pytest.raises(UserError, match="cannot read the watch data set"):
        read_watch_file(_object_npy(tmp_path / "cut.npy", good[:-4]))


def test_corpus_labels_match_and_shared_motion_shares_sentences():
    from mmvqshape.text.corpus import load_corpus

    corpus = load_corpus("shoulder-watch")
    assert corpus.labels == LABELS
    sentences = {label: set(corpus.sentences(label)) for label in corpus.labels}
    assert sentences["internal rotation"] & sentences["external rotation"]
    assert sentences["abduction"] & sentences["forward elevation"] & sentences["upright row"]
    assert all(len(s) >= 8 for s in sentences.values())
    hapt = load_corpus("hapt_observable")
    one_move = set.intersection(*(set(hapt.sentences(label)) for label in hapt.labels[6:]))
    assert one_move and not one_move & set(hapt.sentences("walking"))
