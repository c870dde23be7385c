"""Shared test set-up: offline text models, a private cache, small thread counts."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test gets the same session-wide cache folder, never the user's."""
    cache = tmp_path_factory.getbasetemp() / "mmvq-cache"
    monkeypatch.setenv("MMVQ_CACHE_DIR", str(cache))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run faster on one thread, above all on a shared, busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def hapt_slice(tmp_path, monkeypatch):
    """A small slice of the real HAPT recordings installed as the HAPT cache of a private folder.

    ``tests/data/hapt_slice.npz`` holds, in the cache's format, the first experiment of
    subjects 1, 3, 5 (training subjects) and 2, 4 (official test subjects): every transition
    whole, the first span of each activity cut to 760 samples, unlabelled spans to 200.
    ``mmvq data summary hapt`` and every ``--data hapt`` then run on it, without the package.
    """
    import shutil
    from pathlib import Path

    from mmvqshape.signals import hapt

    monkeypatch.setenv("MMVQ_CACHE_DIR", str(tmp_path / "cache"))
    target = hapt.cache_path()
    target.parent.mkdir(parents=True)
    shutil.copyfile(Path(__file__).parent / "data" / "hapt_slice.npz", target)
    return target
