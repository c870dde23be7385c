"""Thread limits for the small computations of the analysis suite.

The matrices here are small (hundreds of rows): one thread is as fast as several on an idle
machine and far faster on a busy one, where OpenMP threads spin waiting for each other.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from threadpoolctl import threadpool_limits

from ..errors import UserError


@contextlib.contextmanager
def limited_threads(threads: int | None) -> Iterator[None]:
    """Run with at most ``threads`` torch / BLAS / OpenMP threads (None: leave as is), then restore."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise UserError("--threads", f"must be at least 1, got {threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)
