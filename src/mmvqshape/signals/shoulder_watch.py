"""Shoulder-watch: a smartwatch on the wrist of the exercised arm, 7 shoulder exercises.

Burns et al. 2018 (arXiv 1802.01489), shipped (BSD licence) inside the PyPI package
``seglearn`` as ``seglearn/data/watch_dataset.npy``: 10 subjects, 140 recordings (two per
subject and exercise, 19–52 s each), accelerometer (in g) and gyroscope (rad/s) at 50 Hz.
The file is an object ``.npy`` — a pickle — so it is read through the allow-list of
:func:`~mmvqshape.signals.hapt_pickle.load_admitted` (never ``allow_pickle=True``); its
``.npy`` header is parsed by numpy's header reader, which runs no code. ``seglearn`` itself
is never imported: the file is located from the package's metadata. The recordings are
cached (checksummed ``.npz`` in the user cache folder, :mod:`~mmvqshape.signals.hapt`'s format).

DATA arguments::

    shoulder-watch                       500-sample windows (10 s), step 250, accelerometer
    shoulder-watch:window=250,step=125   other windows (samples)

Windows are cut within each recording (one exercise per recording). Split: the fixed test
subjects :data:`TEST_SUBJECTS` (every third subject, fixed before any model ran); validation is
carved by subject from the other seven (seeded). Channels: ``acc`` (default, m/s²), ``gyro``,
``all``. Labels: the paper's exercise names in the file's order (PEN, ABD, FEL, IR, ER, TRAP, ROW).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from ..errors import UserError
from .hapt import (Recordings, cached_recordings, installed_file, parse_options, subject_split_windows,
                   versioned_cache_path)
from .hapt_pickle import load_admitted
from .windows import Windows

PACKAGE = "seglearn"
DATA_PATH = "seglearn/data/watch_dataset.npy"
CACHE_FORMAT = 1  # bump when the cached arrays change meaning
SAMPLING_HZ = 50
#: The file's exercise codes, in its order, and the paper's names for them.
CODES = ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"]
LABELS = [
    "pendulum", "abduction", "forward elevation", "internal rotation",
    "external rotation", "trapezius extension", "upright row",
]
#: Held-out test subjects (every third of 1..10); the other seven train and give validation.
TEST_SUBJECTS = (3, 6, 9)
DEFAULT_WINDOW, DEFAULT_STEP = 500, 250


def package_file() -> Path:
    """Path of the bundled ``watch_dataset.npy``."""
    return installed_file(PACKAGE, DATA_PATH, "shoulder-watch")


def cache_path() -> Path:
    """Where the extracted recordings are cached."""
    return versioned_cache_path(PACKAGE, "shoulder-watch-recordings", CACHE_FORMAT)


def read_watch_file(path: str | Path) -> dict:
    """The dict an object ``.npy`` like seglearn's holds, unpickled through the allow-list."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            version = npy_format.read_magic(handle)
            if version not in ((1, 0), (2, 0)):
                raise UserError(path, f"unsupported .npy version {version}")
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = read_header(handle)
            if dtype != np.dtype(object) or shape != ():
                raise UserError(path, f"expected a 0-d object array, got dtype {dtype} shape {shape}")
            content = load_admitted(handle, path, "the watch data set")
    except (OSError, ValueError) as err:
        raise UserError(path, f"cannot read as .npy ({type(err).__name__}: {err})") from None
    if isinstance(content, np.ndarray) and content.dtype == object and content.shape == ():
        content = content.item()
    if not isinstance(content, dict):
        raise UserError(path, f"expected a dict of arrays, got {type(content).__name__}")
    return content


def recordings_from_file(path: str | Path) -> Recordings:
    """Check the unpickled dict and concatenate its recordings (label = exercise code 1..7 per sample)."""
    path = Path(path)
    content = read_watch_file(path)
    missing = [key for key in ("X", "y", "subject", "y_labels") if key not in content]
    if missing:
        raise UserError(path, f"missing keys {missing}")
    if [str(v) for v in content["y_labels"]] != CODES:
        raise UserError(path, f"y_labels {content['y_labels']!r} differ from {CODES}")
    signals, y, subject = content["X"], np.asarray(content["y"]), np.asarray(content["subject"])
    if not isinstance(signals, list) or not signals or y.shape != (len(signals),) or subject.shape != (len(signals),):
        raise UserError(path, "X must be a list of recordings with one y and one subject each")
    if not (np.issubdtype(y.dtype, np.integer) and np.issubdtype(subject.dtype, np.integer)):
        raise UserError(path, "y and subject must hold whole numbers")
    if y.min() < 0 or y.max() >= len(CODES):
        raise UserError(path, f"y out of range 0..{len(CODES) - 1}")
    for i, signal in enumerate(signals):
        if not (isinstance(signal, np.ndarray) and signal.ndim == 2 and signal.shape[1] == 6
                and np.issubdtype(signal.dtype, np.floating) and len(signal) > 0 and np.isfinite(signal).all()):
            raise UserError(path, f"recording {i}: expected a finite (T, 6) float array")
    order = np.argsort(subject, kind="stable")
    lengths = [len(signals[i]) for i in order]
    return Recordings(
        signal=np.concatenate([signals[i] for i in order]).astype(np.float32),
        label=np.concatenate([np.full(len(signals[i]), y[i] + 1) for i in order]).astype(np.int8),
        subject=subject[order].astype(np.int16),
        offset=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
    )


def load_recordings() -> Recordings:
    """The recordings: from the cache when it is whole, else from the package file (then cached)."""
    return cached_recordings(cache_path(), "shoulder-watch", PACKAGE, lambda: recordings_from_file(package_file()))


def load_shoulder_watch(spec: str = "shoulder-watch", *, channels: str = "acc", seed: int = 0,
                        val_fraction: float = 0.2) -> Windows:
    """Shoulder-watch windows with the fixed test subjects (validation carved by subject)."""
    if spec.strip().partition(":")[0].lower() != "shoulder-watch":
        raise UserError(spec, "expected shoulder-watch[:window=W,step=S]")
    options = parse_options(spec.strip(), {"window": DEFAULT_WINDOW, "step": DEFAULT_STEP})
    window, step = options["window"], options["step"]
    if window < 2:
        raise UserError(spec, "window must be at least 2 samples")
    return subject_split_windows(
        spec, load_recordings(), LABELS, window=window, step=step, channels=channels, test_subjects=TEST_SUBJECTS,
        name=f"shoulder-watch[{channels}, window {window}, step {step}]", split_method_name="fixed-test-subjects",
        empty=f"no recording is {window} samples long", seed=seed, val_fraction=val_fraction,
        extra={"sampling_hz": SAMPLING_HZ, "window": window, "step": step,
               "sensor": "smartwatch on the wrist of the exercised arm", "test_subjects": list(TEST_SUBJECTS)},
    )
