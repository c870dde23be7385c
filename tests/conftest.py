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
