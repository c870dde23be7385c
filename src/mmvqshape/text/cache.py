"""On-disk cache of sentence embeddings, so re-embedding a corpus costs no model forward.

One SQLite file, ``text-embeddings.sqlite`` in the user cache folder
(:func:`mmvqshape.user_cache.cache_dir`:
``$MMVQ_CACHE_DIR``, else ``$XDG_CACHE_HOME/mmvqshape``, else ``~/.cache/mmvqshape``).
A row is keyed by the SHA-256 of (encoder identity, pooling,
normalisation, text) and holds the float32 vector. SQLite makes concurrent readers and
writers safe and each write atomic. A cache that cannot be opened (read-only home, ...) is
skipped with a warning: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import warnings
from pathlib import Path

import numpy as np

from ..user_cache import cache_dir

_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER NOT NULL, vector BLOB NOT NULL)"


def cache_key(identity: str, pooling: str, normalized: bool, text: str) -> str:
    """The key of one sentence under one encoder configuration."""
    return hashlib.sha256(json.dumps([identity, pooling, bool(normalized), text]).encode("utf-8")).hexdigest()


class EmbeddingCache:
    """A persistent {key: float32 vector} store; every method is a no-op once disabled."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else cache_dir() / "text-embeddings.sqlite"
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as err:
            warnings.warn(f"embedding cache disabled ({self.path}: {err})", stacklevel=2)
            self._db = None

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those keys that are present."""
        if self._db is None or not keys:
            return {}
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # stay under SQLite's parameter limit
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = self._db.execute(f"SELECT key, dim, vector FROM vectors WHERE key IN ({marks})", chunk).fetchall()
            except sqlite3.Error as err:
                warnings.warn(f"embedding cache read failed ({err})", stacklevel=2)
                return found
            for key, dim, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (dim,):
                    found[key] = vector.copy()
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors (one transaction)."""
        if self._db is None or not items:
            return
        rows = [(k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()]
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors (key, dim, vector) VALUES (?, ?, ?)", rows)
        except sqlite3.Error as err:
            warnings.warn(f"embedding cache write failed ({err})", stacklevel=2)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "EmbeddingCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
