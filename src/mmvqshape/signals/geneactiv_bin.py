"""Raw GENEActiv recordings (``.bin``) cut into labelled windows.

``geneactiv-bin:RECORDING.bin@ANNOTATIONS.csv``: the recording is read with actipy (optional
extra ``mmvqshape[geneactiv]``; actipy needs Java), the annotation CSV has columns ``start``,
``end`` (timestamps) and ``label``; every annotated span is cut into non-overlapping windows
of :data:`WINDOW` samples. :func:`windows_from_recording` does the cutting on any time-indexed
table with x, y, z columns, so it is tested without a device file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from .windows import make_windows

WINDOW = 500  # samples per window, as the GENEActiv windows of the plan (500, 3)


def windows_from_recording(recording, annotations, window: int = WINDOW):
    """Cut a time-indexed table (x, y, z columns) into windows inside annotated spans.

    Returns ``(X (N, window, 3) float32, y (N,) int64, labels list[str])``; labels in order
    of first appearance in ``annotations``.
    """
    labels: list[str] = []
    rows, ys = [], []
    values = recording[["x", "y", "z"]].to_numpy(dtype=np.float32)
    times = recording.index
    for start, end, label in annotations[["start", "end", "label"]].itertuples(index=False):
        start, end, label = pd.Timestamp(start), pd.Timestamp(end), str(label)
        if label not in labels:
            labels.append(label)
        lo, hi = times.searchsorted(start), times.searchsorted(end)
        for begin in range(lo, hi - window + 1, window):
            rows.append(values[begin : begin + window])
            ys.append(labels.index(label))
    X = np.stack(rows) if rows else np.zeros((0, window, 3), np.float32)
    return X, np.asarray(ys, dtype=np.int64), labels


def load_geneactiv_bin(spec: str, *, channels: str = "acc", seed: int = 0, val_fraction: float = 0.2):
    """Load ``geneactiv-bin:RECORDING.bin@ANNOTATIONS.csv`` into :class:`~mmvqshape.signals.windows.Windows`.

    ``channels`` is ignored: the recording holds acceleration only.
    """
    if spec.startswith("geneactiv-bin:"):
        spec = spec.split(":", 1)[1]
    if "@" not in spec:
        raise UserError(spec, "expected geneactiv-bin:RECORDING.bin@ANNOTATIONS.csv")
    bin_path, csv_path = (Path(p) for p in spec.split("@", 1))
    for path in (bin_path, csv_path):
        if not path.is_file():
            raise UserError(path, "file not found")
    try:
        import actipy  # lazy: an optional extra that needs Java
    except ImportError:
        raise UserError(bin_path, "reading .bin needs the optional extra: pip install 'mmvqshape[geneactiv]' (and Java)") from None
    try:
        annotations = pd.read_csv(csv_path)
    except Exception as err:
        raise UserError(csv_path, f"cannot read CSV ({err})") from None
    missing = {"start", "end", "label"} - set(annotations.columns)
    if missing:
        raise UserError(csv_path, f"missing columns {sorted(missing)} (need start, end, label)")
    try:
        recording, _info = actipy.read_device(str(bin_path), lowpass_hz=None, calibrate_gravity=False, detect_nonwear=False, resample_hz=None)
    except Exception as err:
        raise UserError(bin_path, f"actipy could not read the recording ({type(err).__name__}: {err})") from None
    X, y, labels = windows_from_recording(recording, annotations)
    if len(X) == 0:
        raise UserError(csv_path, f"no annotated span is {WINDOW} samples long")
    return make_windows(
        spec, X, y, labels, name=f"geneactiv-bin:{bin_path.name}", channel_names=["acc_x", "acc_y", "acc_z"],
        subject=None, given_split=None, seed=seed, val_fraction=val_fraction,
    )
