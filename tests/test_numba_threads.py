"""numba (under UMAP and MiniRocket) leaves torch's OpenMP runtime alone (issue 19)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# numba's OpenMP layer calls omp_set_nested(1) when it starts its threads; when torch's own
# libgomp answers that call, torch's nested regions create and destroy threads from then on.
PROBE = """
import ctypes, pathlib
{imports}
import torch
numba.set_num_threads(1)  # numba starts its threading layer here
gomp = pathlib.Path(torch.__file__).parent / "lib" / "libgomp.so.1"
print(numba.threading_layer(), ctypes.CDLL(str(gomp)).omp_get_nested() if gomp.exists() else "no-libgomp")
"""


@pytest.mark.parametrize("imports", ["import mmvqshape, numba", "import numba, mmvqshape"],
                         ids=["package-first", "numba-first"])
def test_numba_starts_its_own_thread_pool_not_torchs_openmp(imports):
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_THREADING_LAYER"}
    probe = subprocess.run([sys.executable, "-c", PROBE.format(imports=imports)], env=env,
                           capture_output=True, text=True, check=True)
    layer, torch_nested = probe.stdout.split()
    assert layer == "workqueue"
    assert torch_nested in ("0", "no-libgomp")


def test_a_users_numba_threading_layer_wins():
    env = {**os.environ, "NUMBA_THREADING_LAYER": "omp"}
    probe = subprocess.run([sys.executable, "-c", "import mmvqshape, numba; print(numba.config.THREADING_LAYER)"],
                           env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "omp"
