"""Outputs that appear whole or not at all.

Commands write into a temporary sibling (``.name.tmp-XXXX``) and rename it into place when
done, so an interrupted command leaves the previous complete output or nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ensure_folder(folder: Path, *, where: Path | None = None, what: str = "output folder") -> Path:
    """Create ``folder`` (with parents) and check it is writable; a :class:`UserError` naming
    ``where`` (default the folder) otherwise."""
    where = folder if where is None else where
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(where, f"cannot create the {what} ({err.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise UserError(where, f"the {what} is not writable")
    return folder


def _check_parent_writable(path: Path) -> None:
    ensure_folder(path.parent, where=path)


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` when the block ends without error.

    On error the temporary folder is removed and ``path`` is left as it was.
    """
    path = Path(path)
    _check_parent_writable(path)
    if path.exists() and not path.is_dir():
        raise UserError(path, "exists and is not a folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; outputs get the usual permissions
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        if not overwrite:
            shutil.rmtree(tmp, ignore_errors=True)
            raise UserError(path, "already exists")
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary sibling of ``path`` for writing; rename it into place on success."""
    path = Path(path)
    _check_parent_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
    try:
        with open(tmp, mode) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically, pretty-printed, keys in insertion order."""
    with atomic_file(path) as handle:
        json.dump(obj, handle, indent=2, default=_json_default)
        handle.write("\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
