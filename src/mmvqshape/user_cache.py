"""The user's cache folder, shared by every cache the package keeps (embeddings, HAPT recordings).

``$MMVQ_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/mmvqshape``, else ``~/.cache/mmvqshape``.
A cache only ever saves time: deleting the folder is always safe.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The folder caches live in (not created here)."""
    if os.environ.get("MMVQ_CACHE_DIR"):
        return Path(os.environ["MMVQ_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "mmvqshape"
    return Path.home() / ".cache" / "mmvqshape"
