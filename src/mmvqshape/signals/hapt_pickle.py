"""Read pickles (HAPT's, seglearn's watch data) without running code from them.

The package ships ``res/HAPT.pkl.gz``: a pickle (protocol 2, written by pandas 0.x under
Python 2) of ``{subject id: [DataFrame per experiment]}`` with columns ``acc-x`` … ``gyro-z``,
``sequence``, ``label``. Its own ``import`` unpickles it with pandas, which fails with
pandas ≥ 2 and, like any ``pickle.load``, would run whatever the file names.

:func:`read_hapt_pickle` uses an :class:`pickle.Unpickler` whose ``find_class`` admits only
the twelve names such a file holds (:data:`ADMITTED`) and maps each to an inert stand-in:
plain classes that store their state, numpy's array / dtype reconstruction, ``slice``, and a
latin-1 ``codecs.encode``. Anything else is refused with :class:`~mmvqshape.errors.UserError`
naming the file and the class (:func:`load_admitted`, which
:mod:`~mmvqshape.signals.shoulder_watch` reuses for seglearn's object ``.npy``). The DataFrames are then rebuilt as numpy arrays from their
BlockManager state (the ``"0.14.1"`` layout pandas 0.14–0.25 write).
"""

from __future__ import annotations

import codecs
import gzip
import pickle
from pathlib import Path

import numpy as np

from ..errors import UserError

#: Column order of every rebuilt recording: accelerometer (g), gyroscope (rad/s).
SIGNAL_COLUMNS = ["acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z"]


class _Stored:
    """An inert stand-in for a pandas object: it only keeps the state the pickle gives it."""

    def __init__(self, *args):
        self.args = args
        self.state = None

    def __setstate__(self, state):
        self.state = state


class _DataFrame(_Stored):
    pass


class _BlockManager(_Stored):
    pass


class _Index(_Stored):
    pass


class _RangeIndex(_Stored):
    pass


class _Object:
    """Stands for Python 2's ``__builtin__.object``, the base ``copy_reg._reconstructor`` names."""


def _reconstructor(cls, base, state):
    """``copy_reg._reconstructor`` for the admitted stand-ins only: a bare instance."""
    if not (isinstance(cls, type) and issubclass(cls, _Stored)) or base is not _Object or state is not None:
        raise pickle.UnpicklingError("copy_reg._reconstructor with arguments outside the admitted set")
    return cls()


def _new_index(cls, state):
    """``pandas.core.indexes.base._new_Index``: the index class and its state dict."""
    if cls not in (_Index, _RangeIndex) or not isinstance(state, dict):
        raise pickle.UnpicklingError("_new_Index with arguments outside the admitted set")
    index = cls()
    index.state = state
    return index


class _NdarrayName:
    """Stands for ``numpy.ndarray`` where a pickle names it: only :func:`_reconstruct_array`
    accepts it, and calling it (a pickle asking for an array of any size) is refused."""

    def __new__(cls, *args, **kwargs):
        raise pickle.UnpicklingError("numpy.ndarray may only be named as _reconstruct's argument")


def _reconstruct_array(cls, shape, typecode):
    """``numpy.core.multiarray._reconstruct``: an empty array whose ``__setstate__`` follows
    (the data then comes from the file itself, so its size is bounded by the file's)."""
    if cls is not _NdarrayName or tuple(shape) != (0,):
        raise pickle.UnpicklingError("numpy _reconstruct outside the (ndarray, (0,)) form numpy writes")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _dtype(code, align=0, copy=1):
    """``numpy.dtype`` for the plain numeric and object codes only."""
    if code not in ("f8", "i8", "O8", "f4", "i4", "b1"):
        raise pickle.UnpicklingError(f"numpy dtype {code!r} outside the admitted set")
    return np.dtype(code, bool(align), bool(copy))


def _encode(text, encoding="latin1"):
    """``_codecs.encode`` as Python 2 pickles of bytes use it: latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode outside latin-1 text")
    return codecs.encode(text, "latin1")


#: (module, name) → stand-in; nothing else is admitted.
ADMITTED = {
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("__builtin__", "object"): _Object,
    ("__builtin__", "slice"): slice,
    ("_codecs", "encode"): _encode,
    ("numpy", "ndarray"): _NdarrayName,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_array,
    ("pandas.core.frame", "DataFrame"): _DataFrame,
    ("pandas.core.internals.managers", "BlockManager"): _BlockManager,
    ("pandas.core.indexes.base", "_new_Index"): _new_index,
    ("pandas.core.indexes.base", "Index"): _Index,
    ("pandas.core.indexes.range", "RangeIndex"): _RangeIndex,
}


class RefusedClass(pickle.UnpicklingError):
    """The pickle names a class or function outside :data:`ADMITTED`."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return ADMITTED[(module, name)]
        except KeyError:
            raise RefusedClass(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not admitted")


def load_admitted(handle, path: str | Path, what: str = "the pickle"):
    """Unpickle ``handle`` (an open binary stream) admitting only :data:`ADMITTED`.

    Any class outside the allow-list, and any damaged or unexpected stream, is a
    :class:`~mmvqshape.errors.UserError` naming ``path`` and the problem in one line.
    Numpy's own pickles (object ``.npy`` files) need nothing beyond the admitted numpy names.
    """
    try:
        return _RestrictedUnpickler(handle, encoding="latin1").load()
    except RefusedClass as err:
        raise UserError(path, f"refused to unpickle: {err} is outside the admitted classes") from None
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, RecursionError) as err:
        raise UserError(path, f"cannot read {what} ({type(err).__name__}: {err})") from None


def _frame_columns(frame: _DataFrame, where: Path) -> dict[str, np.ndarray]:
    """{column name: 1-D array} of one pickled DataFrame, from its BlockManager state."""
    state = frame.state
    manager = state.get("_data") if isinstance(state, dict) else None
    if not isinstance(manager, _BlockManager) or not isinstance(manager.state, tuple) or len(manager.state) != 4:
        raise UserError(where, "unexpected DataFrame layout (no pandas 0.x BlockManager state)")
    layout = manager.state[3].get("0.14.1") if isinstance(manager.state[3], dict) else None
    if not layout:
        raise UserError(where, "unexpected BlockManager layout (no '0.14.1' state)")
    columns_index = layout["axes"][0]
    names = [str(v) for v in np.asarray(columns_index.state["data"]).tolist()]
    out: dict[str, np.ndarray] = {}
    for block in layout["blocks"]:
        values = np.asarray(block["values"])  # (columns in block, rows)
        locs = block["mgr_locs"]
        positions = range(len(names))[locs] if isinstance(locs, slice) else np.asarray(locs).tolist()
        for row, position in zip(values, positions):
            out[names[position]] = row
    return out


def read_hapt_pickle(path: str | Path) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """The recordings of a HAPT pickle as ``[(subject, signal (T, 6) float32, label (T,) int8)]``.

    ``signal`` columns follow :data:`SIGNAL_COLUMNS` (acceleration in g, rotation in rad/s);
    ``label`` is HAPT's 1..12 per sample, -1 where unlabelled. Subjects ascending, each
    subject's experiments in file order.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as handle:
            content = load_admitted(handle, path, "the HAPT pickle")
    except OSError as err:
        raise UserError(path, f"cannot read the HAPT pickle ({type(err).__name__}: {err})") from None
    if not isinstance(content, dict):
        raise UserError(path, "expected a dict of subject -> recordings")
    recordings = []
    for subject in sorted(content):
        for frame in content[subject]:
            if not isinstance(frame, _DataFrame):
                raise UserError(path, f"subject {subject}: expected DataFrames, got {type(frame).__name__}")
            try:
                columns = _frame_columns(frame, path)
            except (KeyError, TypeError, IndexError, AttributeError, ValueError) as err:
                raise UserError(path, f"subject {subject}: unexpected DataFrame layout ({type(err).__name__}: {err})") from None
            missing = [c for c in SIGNAL_COLUMNS + ["label"] if c not in columns]
            if missing:
                raise UserError(path, f"subject {subject}: missing columns {missing}")
            signal = np.stack([columns[c] for c in SIGNAL_COLUMNS], axis=1).astype(np.float32)  # (T, 6)
            recordings.append((int(subject), signal, columns["label"].astype(np.int8)))
    return recordings
