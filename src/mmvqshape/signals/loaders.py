"""One validated door for accelerometer windows: the DATA argument of design.md.

``load_windows(data)`` accepts

* ``basicmotions`` — aeon's bundled BasicMotions (a wrist smartwatch, 100 samples per window;
  accelerometer channels by default, ``channels="gyro"|"all"``), its official split;
* a path to an ``.npz`` — ``X`` (N, T, C) time-major, ``y`` (N,), ``labels`` (L,), optional
  ``subject`` (N,) and ``split`` (N,). ``X`` may instead live in a separate ``.npy`` opened
  memory-mapped: name it in a string entry ``X_file`` (relative to the ``.npz``), or put it
  beside the ``.npz`` as ``<stem>.X.npy``;
* ``geneactiv-mat:DIR`` — files ``ID-<subject>_CLASS-<k>_Window-<n>.mat`` holding ``xw`` (T, 3);
* ``geneactiv-bin:FILE.bin@ANNOTATIONS.csv`` — a raw GENEActiv recording read by actipy (needs
  the optional extra and Java) cut into windows by an annotation CSV of (start, end, label).

Every problem with a user's file is a :class:`~mmvqshape.errors.UserError` naming the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from .splits import assign_splits

BASICMOTIONS_LABELS = ["standing", "walking", "running", "badminton"]
BASICMOTIONS_CHANNELS = {
    "acc": ["acc_x", "acc_y", "acc_z"],
    "gyro": ["gyro_x", "gyro_y", "gyro_z"],
}

#: The 14 GENEActiv activities of the plan. ``CLASS-k`` in a file name is the 0-based index
#: into this list (CLASS-0 = "Treadmill 1mph (0% grade)"), unless a ``labels.json`` beside the
#: files says otherwise: a JSON list (index k → name) or an object {"k": name}.
GENEACTIV_LABELS = [
    "Treadmill 1mph (0% grade)",
    "Treadmill 3mph (0% grade)",
    "Treadmill 3mph (5% grade)",
    "Treadmill 4mph (0% grade)",
    "Treadmill 6mph (0% grade)",
    "Treadmill 6mph (5% grade)",
    "Seated-fold/stack laundry",
    "Stand-fidget with hands",
    "1 min brush teeth/hair",
    "Drive car",
    "Hard surface walk",
    "Carpet with high heels/dress shoes",
    "Walk up-stairs 5 floors",
    "Walk down-stairs 5 floors",
]

MAT_NAME = re.compile(r"^ID-(?P<subject>[^_]+)_CLASS-(?P<k>-?\d+)_Window-(?P<n>\d+)\.mat$")
SPLIT_VALUES = {"train", "val", "test"}
_CHUNK = 65536  # windows checked at a time, so memory-mapped files are never loaded whole


@dataclass
class Windows:
    """Windows of one data source, before pre-processing.

    ``X`` is (N, T, C) time-major float32 and may be a read-only memory map.
    """

    X: np.ndarray  # (N, T, C)
    y: np.ndarray  # (N,) int64 in [0, L)
    labels: list[str]  # (L,) class-index order
    split: np.ndarray  # (N,) "train" / "val" / "test"
    split_method: str
    name: str
    channel_names: list[str]
    subject: np.ndarray | None = None  # (N,)
    seed: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[2])

    @property
    def length(self) -> int:
        return int(self.X.shape[1])

    def indices(self, split: str) -> np.ndarray:
        """Row indices of one split ("train", "val" or "test")."""
        if split not in SPLIT_VALUES:
            raise ValueError(f"unknown split {split!r}")
        return np.flatnonzero(self.split == split)

    def split_summary(self) -> dict:
        """What every output records about the split used."""
        return {
            "method": self.split_method,
            "seed": self.seed,
            "sizes": {s: int((self.split == s).sum()) for s in ("train", "val", "test")},
            "data": self.name,
        }


def load_windows(
    data: str | Path,
    *,
    channels: str = "acc",
    seed: int = 0,
    val_fraction: float = 0.2,
) -> Windows:
    """Load and validate windows from a DATA argument; assign train / val / test splits."""
    text = str(data)
    if text.lower() == "basicmotions":
        return _basicmotions(channels, seed, val_fraction)
    if text.startswith("geneactiv-mat:"):
        return _geneactiv_mat(Path(text.split(":", 1)[1]), seed, val_fraction)
    if text.startswith("geneactiv-bin:"):
        from .geneactiv_bin import load_geneactiv_bin

        return load_geneactiv_bin(text.split(":", 1)[1], seed=seed, val_fraction=val_fraction)
    path = Path(text)
    if path.suffix == ".npz":
        return _npz(path, seed, val_fraction)
    raise UserError(
        text,
        "unknown DATA (expected 'basicmotions', a path to an .npz, 'geneactiv-mat:DIR' or 'geneactiv-bin:FILE.bin@ANNOT.csv')",
    )


def _finish(
    where: str | Path,
    X: np.ndarray,
    y: np.ndarray,
    labels: list[str],
    *,
    name: str,
    channel_names: list[str] | None,
    subject: np.ndarray | None,
    given_split: np.ndarray | None,
    seed: int,
    val_fraction: float,
    split_method_name: str | None = None,
) -> Windows:
    """Validate arrays from any loader and assign splits."""
    check_windows(where, X, y, labels, subject=subject, split=given_split)
    split, method = assign_splits(
        np.asarray(y), subject=subject, given=given_split, seed=seed, val_fraction=val_fraction
    )
    if split_method_name:
        method = method.replace("file", split_method_name, 1)
    c = X.shape[2]
    return Windows(
        X=X,
        y=np.asarray(y, dtype=np.int64),
        labels=[str(v) for v in labels],
        split=split,
        split_method=method,
        name=name,
        channel_names=channel_names or [f"ch{i}" for i in range(c)],
        subject=None if subject is None else np.asarray(subject),
        seed=seed,
    )


def check_windows(
    where: str | Path,
    X: np.ndarray,
    y: np.ndarray,
    labels,
    *,
    subject: np.ndarray | None = None,
    split: np.ndarray | None = None,
) -> None:
    """Raise :class:`UserError` naming ``where`` for every inconsistency design.md forbids."""
    if X.ndim != 3:
        raise UserError(where, f"X must be 3-D (N, T, C) time-major, got shape {tuple(X.shape)}")
    n, t, c = X.shape
    if n == 0 or t == 0 or c == 0:
        raise UserError(where, f"X is empty (shape {tuple(X.shape)})")
    if not np.issubdtype(X.dtype, np.floating) and not np.issubdtype(X.dtype, np.integer):
        raise UserError(where, f"X must be numeric, got dtype {X.dtype}")
    for start in range(0, n, _CHUNK):
        chunk = np.asarray(X[start : start + _CHUNK])
        if not np.isfinite(chunk).all():
            bad = start + int(np.flatnonzero(~np.isfinite(chunk).reshape(len(chunk), -1).all(axis=1))[0])
            raise UserError(where, f"X contains NaN or inf (first in window {bad})")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise UserError(where, f"y must have shape ({n},), got {tuple(y.shape)}")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            pass  # whole numbers stored as floats are accepted
        else:
            raise UserError(where, f"y must hold integer class indices, got dtype {y.dtype}")
    labels = list(labels)
    if len(labels) == 0:
        raise UserError(where, "labels is empty")
    if len(set(labels)) != len(labels):
        raise UserError(where, "labels contains duplicate names")
    if y.min() < 0 or y.max() >= len(labels):
        raise UserError(
            where,
            f"y out of range: values {int(y.min())}..{int(y.max())} but labels has {len(labels)} names "
            f"(y must be in [0, {len(labels)}))",
        )
    if subject is not None and len(subject) != n:
        raise UserError(where, f"subject has {len(subject)} entries but X has {n} windows")
    if split is not None:
        if len(split) != n:
            raise UserError(where, f"split has {len(split)} entries but X has {n} windows")
        unknown = set(map(str, np.unique(split))) - SPLIT_VALUES
        if unknown:
            raise UserError(where, f"split holds unknown values {sorted(unknown)} (allowed: train, val, test)")
        if not (np.asarray(split) == "train").any() or not (np.asarray(split) == "test").any():
            raise UserError(where, "split must contain both 'train' and 'test' windows")


def _basicmotions(channels: str, seed: int, val_fraction: float) -> Windows:
    from aeon.datasets import load_basic_motions

    if channels not in ("acc", "gyro", "all"):
        raise UserError("--channels", f"unknown value {channels!r} (expected acc, gyro or all)")
    parts = []
    for split in ("train", "test"):
        X, y = load_basic_motions(split=split)  # X (N, 6, 100) channel-major
        parts.append((np.asarray(X, dtype=np.float32), np.asarray(y).astype(str), split))
    X = np.concatenate([p[0] for p in parts])
    names = np.concatenate([p[1] for p in parts])
    given = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    select = {"acc": [0, 1, 2], "gyro": [3, 4, 5], "all": [0, 1, 2, 3, 4, 5]}[channels]
    X = np.ascontiguousarray(X[:, select, :].transpose(0, 2, 1))  # (N, T, C) time-major
    y = np.array([BASICMOTIONS_LABELS.index(v) for v in names], dtype=np.int64)
    channel_names = BASICMOTIONS_CHANNELS["acc"] + BASICMOTIONS_CHANNELS["gyro"]
    return _finish(
        "basicmotions", X, y, BASICMOTIONS_LABELS,
        name=f"basicmotions[{channels}]",
        channel_names=[channel_names[i] for i in select],
        subject=None, given_split=given, seed=seed, val_fraction=val_fraction,
        split_method_name="official",
    )


def _npz(path: Path, seed: int, val_fraction: float) -> Windows:
    if not path.is_file():
        raise UserError(path, "file not found")
    try:
        archive = np.load(path, allow_pickle=False)
        keys = set(archive.files)
    except Exception as err:  # zipfile / pickle / OS errors: the file is not a readable npz
        raise UserError(path, f"cannot read as .npz ({type(err).__name__}: {err})") from None
    for key in ("y", "labels"):
        if key not in keys:
            raise UserError(path, f"missing key '{key}' (found: {', '.join(sorted(keys)) or 'none'})")
    if "X" in keys:
        X = archive["X"]
    else:
        X = _open_sidecar(path, archive)
    try:
        labels = [str(v) for v in np.atleast_1d(archive["labels"]).tolist()]
        y = archive["y"]
        subject = archive["subject"] if "subject" in keys else None
        split = archive["split"].astype(str) if "split" in keys else None
    except ValueError as err:  # object arrays need pickle, which we refuse
        raise UserError(path, f"cannot read arrays ({err})") from None
    if np.issubdtype(X.dtype, np.integer):
        X = X.astype(np.float32)
    return _finish(
        path, X, y, labels,
        name=str(path), channel_names=None, subject=subject, given_split=split,
        seed=seed, val_fraction=val_fraction,
    )


def _open_sidecar(path: Path, archive) -> np.ndarray:
    """Open the memory-mapped ``.npy`` that holds X for a large ``.npz``."""
    if "X_file" in archive.files:
        sidecar = path.parent / str(archive["X_file"])
    else:
        sidecar = path.with_name(path.stem + ".X.npy")
    if not sidecar.is_file():
        raise UserError(path, f"missing key 'X' and no X_file / sidecar {sidecar.name} beside it")
    try:
        return np.load(sidecar, mmap_mode="r")
    except Exception as err:
        raise UserError(sidecar, f"cannot memory-map ({type(err).__name__}: {err})") from None


def _geneactiv_label_names(folder: Path) -> dict[int, str]:
    labels_file = folder / "labels.json"
    if not labels_file.exists():
        return dict(enumerate(GENEACTIV_LABELS))
    try:
        raw = json.loads(labels_file.read_text())
    except (OSError, ValueError) as err:
        raise UserError(labels_file, f"is not valid JSON ({err})") from None
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return dict(enumerate(raw))
    if isinstance(raw, dict):
        try:
            return {int(k): str(v) for k, v in raw.items()}
        except ValueError:
            pass
    raise UserError(labels_file, 'must be a JSON list of names or an object {"k": name}')


def _geneactiv_mat(folder: Path, seed: int, val_fraction: float) -> Windows:
    from scipy.io import loadmat

    if not folder.is_dir():
        raise UserError(folder, "is not a folder (geneactiv-mat:DIR)")
    names = _geneactiv_label_names(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix == ".mat")
    if not files:
        raise UserError(folder, "holds no .mat files")
    rows, ys, subjects = [], [], []
    for file in files:
        match = MAT_NAME.match(file.name)
        if not match:
            raise UserError(file, "name does not follow ID-<subject>_CLASS-<k>_Window-<n>.mat")
        k = int(match["k"])
        if k not in names:
            raise UserError(file, f"CLASS-{k} is out of range (known classes: {min(names)}..{max(names)})")
        try:
            content = loadmat(file)
        except Exception as err:
            raise UserError(file, f"cannot read .mat ({type(err).__name__}: {err})") from None
        if "xw" not in content:
            raise UserError(file, "has no array 'xw'")
        xw = np.asarray(content["xw"], dtype=np.float32)
        if xw.ndim != 2 or xw.shape[1] != 3:
            raise UserError(file, f"'xw' must be (T, 3), got {xw.shape}")
        if rows and xw.shape != rows[0].shape:
            raise UserError(file, f"'xw' has shape {xw.shape}, other windows have {rows[0].shape}")
        rows.append(xw)
        ys.append(k)
        subjects.append(match["subject"])
    order = sorted(names)
    index_of = {k: i for i, k in enumerate(order)}
    X = np.stack(rows)  # (N, T, 3)
    y = np.array([index_of[k] for k in ys], dtype=np.int64)
    return _finish(
        folder, X, y, [names[k] for k in order],
        name=f"geneactiv-mat:{folder}", channel_names=["acc_x", "acc_y", "acc_z"],
        subject=np.array(subjects), given_split=None, seed=seed, val_fraction=val_fraction,
    )
