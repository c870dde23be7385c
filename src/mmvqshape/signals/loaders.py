"""One validated door for accelerometer windows: the DATA argument of design.md.

``load_windows(data)`` accepts

* ``basicmotions`` — aeon's bundled BasicMotions (a wrist smartwatch, 100 samples per window;
  accelerometer channels by default, ``channels="gyro"|"all"``), its official split;
* ``hapt`` / ``hapt-transitions`` (options ``:window=W,step=S``) — UCI HAPT, a smartphone at
  the waist, 30 subjects, UCI's test subjects (:mod:`~mmvqshape.signals.hapt`);
* ``shoulder-watch`` (options ``:window=W,step=S``) — seglearn's smartwatch data, the wrist
  of the exercised arm, 7 shoulder exercises, 10 subjects, fixed test subjects 3, 6, 9
  (:mod:`~mmvqshape.signals.shoulder_watch`);
* ``hapt-boundary`` / ``hapt-splice`` — HAPT windows holding two activities with each
  sample's activity, ``hapt``'s subjects per split (:mod:`~mmvqshape.signals.hapt_boundary`);
* a path to an ``.npz`` — ``X`` (N, T, C) time-major, ``y`` (N,), ``labels`` (L,), optional
  ``subject`` (N,), ``split`` (N,) and ``activity`` (N, T) (each sample's label index, -1 =
  none, for windows holding two activities). ``X`` may instead live in a separate ``.npy`` opened
  memory-mapped: name it in a string entry ``X_file`` (relative to the ``.npz``), or put it
  beside the ``.npz`` as ``<stem>.X.npy``;
* ``geneactiv-mat:DIR`` — files ``ID-<subject>_CLASS-<k>_Window-<n>.mat`` holding ``xw`` (T, 3);
* ``geneactiv-bin:FILE.bin@ANNOTATIONS.csv`` — a raw GENEActiv recording read by actipy (needs
  the optional extra and Java) cut into windows by an annotation CSV of (start, end, label);
* ``series:A+B+...`` — for pre-training: every channel of every window of the sources A, B ...
  as one univariate series (:func:`load_series`).

The source is chosen from :data:`SOURCES` by the text before the first ``:``; anything else
ending in ``.npz`` is a windows file. Every loader returns
:class:`~mmvqshape.signals.windows.Windows` through
:func:`~mmvqshape.signals.windows.make_windows`. Every problem with a user's file is a
:class:`~mmvqshape.errors.UserError` naming the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.io import loadmat

from ..errors import UserError
from .geneactiv_bin import load_geneactiv_bin
from .hapt import load_hapt, load_unlabelled_hapt
from .hapt_boundary import load_hapt_boundary, load_hapt_splice
from .preprocess import interpolate
from .shoulder_watch import load_shoulder_watch
from .windows import Windows, make_windows

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


def load_windows(
    data: str | Path,
    *,
    channels: str = "acc",
    seed: int = 0,
    val_fraction: float = 0.2,
) -> Windows:
    """Load and validate windows from a DATA argument; assign train / val / test splits.

    ``channels`` (acc | gyro | all) applies to sources that record more than acceleration
    (BasicMotions, HAPT, shoulder-watch); the others ignore it.
    """
    text = str(data).strip()
    loader = SOURCES.get(text.partition(":")[0].lower())
    if loader is not None:
        return loader(text, channels=channels, seed=seed, val_fraction=val_fraction)
    path = Path(text)
    if path.suffix == ".npz":
        return _npz(path, seed, val_fraction)
    raise UserError(
        text,
        f"unknown DATA (expected one of {', '.join(SOURCE_FORMS)} or a path to an .npz)",
    )


def load_new_windows(
    data: str | Path,
    *,
    channels: str = "acc",
    seed: int = 0,
    val_fraction: float = 0.2,
    labels: list[str] | None = None,
) -> Windows:
    """Windows a trained model is applied to (``mmvq explain`` / ``evaluate --data``): as
    :func:`load_windows`, except that an ``.npz`` may hold any splits or none (then every window
    is "test") and may lack ``y`` (``Windows.labelled`` is then False and ``y`` all 0); without
    ``labels`` in the file, ``labels`` (the run's) name the classes."""
    text = str(data).strip()
    if SOURCES.get(text.partition(":")[0].lower()) is None and Path(text).suffix == ".npz":
        return _npz(Path(text), seed, val_fraction, new=True, run_labels=labels)
    return load_windows(data, channels=channels, seed=seed, val_fraction=val_fraction)


def load_basicmotions(spec: str = "basicmotions", *, channels: str = "acc", seed: int = 0, val_fraction: float = 0.2) -> Windows:
    """aeon's BasicMotions with its official split (``spec`` takes no options)."""
    if spec.strip().lower() != "basicmotions":
        raise UserError(spec, "basicmotions takes no options")
    from aeon.datasets import load_basic_motions  # lazy: importing aeon takes seconds and only this source needs it

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
    return make_windows(
        "basicmotions", X, y, BASICMOTIONS_LABELS,
        name=f"basicmotions[{channels}]",
        channel_names=[channel_names[i] for i in select],
        subject=None, given_split=given, seed=seed, val_fraction=val_fraction,
        split_method_name="official",
    )


def _npz(path: Path, seed: int, val_fraction: float, *, new: bool = False, run_labels: list[str] | None = None) -> Windows:
    """An ``.npz`` of windows; ``new``: windows to apply a model to (``y`` and ``split`` optional,
    ``labels`` too when ``run_labels`` is given)."""
    if not path.is_file():
        raise UserError(path, "file not found")
    try:
        archive = np.load(path, allow_pickle=False)
        keys = set(archive.files)
    except Exception as err:  # zipfile / pickle / OS errors: the file is not a readable npz
        raise UserError(path, f"cannot read as .npz ({type(err).__name__}: {err})") from None
    required = ("y", "labels")
    if new:  # windows to apply a model to: y optional, labels too when the run names them
        required = ("labels",) if "y" in keys or run_labels is None else ()
    for key in required:
        if key not in keys:
            raise UserError(path, f"missing key '{key}' (found: {', '.join(sorted(keys)) or 'none'})")
    if "X" in keys:
        X = archive["X"]
    else:
        X = _open_sidecar(path, archive)
    try:
        labels = [str(v) for v in np.atleast_1d(archive["labels"]).tolist()] if "labels" in keys else list(run_labels or [])
        y = archive["y"] if "y" in keys else np.zeros(len(X), dtype=np.int64)
        subject = archive["subject"] if "subject" in keys else None
        split = archive["split"].astype(str) if "split" in keys else None
        activity = archive["activity"] if "activity" in keys else None
    except ValueError as err:  # object arrays need pickle, which we refuse
        raise UserError(path, f"cannot read arrays ({err})") from None
    if np.issubdtype(X.dtype, np.integer):
        X = X.astype(np.float32)
    return make_windows(
        path, X, y, labels,
        name=str(path), channel_names=None, subject=subject, given_split=split,
        seed=seed, val_fraction=val_fraction, activity=activity, as_given=new, labelled="y" in keys,
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


def load_geneactiv_mat(spec: str, *, channels: str = "acc", seed: int = 0, val_fraction: float = 0.2) -> Windows:
    """``geneactiv-mat:DIR``: one ``.mat`` per window (3 accelerometer channels; ``channels`` is ignored)."""
    folder = Path(spec.split(":", 1)[1])
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
    return make_windows(
        folder, X, y, [names[k] for k in order],
        name=f"geneactiv-mat:{folder}", channel_names=["acc_x", "acc_y", "acc_z"],
        subject=np.array(subjects), given_split=None, seed=seed, val_fraction=val_fraction,
    )


def load_series(data: str, *, channels: str = "acc", seed: int = 0, val_fraction: float = 0.2) -> Windows:
    """``series:A+B+...`` -> every channel of every window of each source as one series (N, T, 1).

    Sources of other lengths are linearly interpolated to the longest one's; each keeps its own
    train / val / test split (validation still chooses, test subjects stay unseen). The source
    ``hapt-unused`` is the stretches HAPT's 6-activity task leaves unused (unlabelled spans and
    transitions) of its non-test subjects, all for training (measured: mostly still, they kept
    the reconstruction of walking on its plateau longer; docs/shapes.md). Labels become ``source/label``.
    """
    sources = [part for part in data.partition(":")[2].split("+") if part]
    if not sources or any(part.startswith("series") for part in sources):
        raise UserError(data, "expected series:SOURCE+SOURCE+... with at least one source (and no nested series:)")
    unused = "hapt-unused" in sources
    parts = [(source, load_windows(source, channels=channels, seed=seed, val_fraction=val_fraction))
             for source in sources if source != "hapt-unused"]
    extra = load_unlabelled_hapt(stretches="unused", channels=channels, subjects="train") if unused else None
    if not parts:
        raise UserError(data, "hapt-unused only adds training series: name a labelled source too")
    length = max([windows.length for _, windows in parts] + ([extra.X.shape[1]] if unused else []))
    X, y, split, subject, labels = [], [], [], [], []

    def add(source: str, x: np.ndarray, codes: np.ndarray, splits, subjects) -> None:
        x = interpolate(np.asarray(x, dtype=np.float32), length, axis=1)  # (n, length, c)
        n, _, c = x.shape
        X.append(x.transpose(0, 2, 1).reshape(n * c, length, 1))
        y.append(np.repeat(codes, c))
        split.append(np.repeat(np.asarray(splits), c))
        subject.append(np.repeat(np.array([f"{source}:{s}" for s in subjects]), c))

    for source, windows in parts:
        subjects = windows.subject if windows.subject is not None else np.arange(len(windows.y))
        add(source, windows.X, np.asarray(windows.y) + len(labels), windows.split, subjects)
        labels += [f"{source}/{name}" for name in windows.labels]
    if extra is not None:
        add("hapt-unused", extra.X, np.full(len(extra.X), len(labels)), np.full(len(extra.X), "train"), extra.subject)
        labels.append("hapt-unused/unlabelled")
    return make_windows(
        data, np.concatenate(X), np.concatenate(y), labels, name=f"{data} (every channel a series, {length} samples)",
        channel_names=["series"], subject=np.concatenate(subject), given_split=np.concatenate(split), seed=seed,
        val_fraction=val_fraction, split_method_name="each source's own split",
    )


#: DATA sources by the text before the first ``:``. Each loader takes the whole DATA text and
#: the keyword options ``channels``, ``seed``, ``val_fraction``.
SOURCES: dict[str, Callable[..., Windows]] = {
    "basicmotions": load_basicmotions,
    "hapt": load_hapt,
    "hapt-transitions": load_hapt,
    "hapt-boundary": load_hapt_boundary,
    "hapt-splice": load_hapt_splice,
    "shoulder-watch": load_shoulder_watch,
    "geneactiv-mat": load_geneactiv_mat,
    "geneactiv-bin": load_geneactiv_bin,
    "series": load_series,
}
#: How each source is written, for messages and help texts.
SOURCE_FORMS = ("basicmotions", "hapt[:window=W,step=S]", "hapt-transitions", "hapt-boundary", "hapt-splice", "shoulder-watch[:window=W,step=S]", "geneactiv-mat:DIR", "geneactiv-bin:FILE.bin@ANNOT.csv", "series:A+B")
