"""Property-based tests for the loaders and pre-processing, and atomic outputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mmvqshape.atomic import atomic_dir, write_json
from mmvqshape.errors import UserError
from mmvqshape.signals import check_windows, interpolate, preprocess

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(
    n=st.integers(1, 6), t=st.integers(2, 40), c=st.integers(1, 4), length=st.integers(2, 64),
    dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int16, np.int32]),
)
def test_preprocess_shape_dtype_and_endpoints(n, t, c, length, dtype):
    x = np.random.default_rng(n * t).normal(size=(n, t, c)) * 10
    x = x.astype(dtype)
    out = preprocess(x, length)
    assert out.shape == (n, c, length) and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], np.swapaxes(x, 1, 2)[..., 0].astype(np.float32), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(out[..., -1], np.swapaxes(x, 1, 2)[..., -1].astype(np.float32), rtol=1e-3, atol=1e-3)


@FAST
@given(values=arrays(np.float64, st.integers(2, 50), elements=st.floats(-1e3, 1e3)), length=st.integers(2, 80))
def test_interpolation_stays_within_range(values, length):
    out = interpolate(values, length)
    assert out.min() >= values.min() - 1e-3 and out.max() <= values.max() + 1e-3


@FAST
@given(
    n=st.integers(1, 5), t=st.integers(1, 12), c=st.integers(1, 3),
    where=st.integers(0, 10_000), bad=st.sampled_from([np.nan, np.inf, -np.inf]),
)
def test_any_nan_or_inf_is_refused_naming_the_file(n, t, c, where, bad):
    x = np.zeros((n, t, c), np.float32)
    x.reshape(-1)[where % x.size] = bad
    with pytest.raises(UserError) as err:
        check_windows("f.npz", x, np.zeros(n, int), ["a"])
    assert "f.npz" in str(err.value) and "NaN or inf" in str(err.value)


@FAST
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=4))
def test_wrong_rank_or_empty_is_refused(shape):
    x = np.zeros(shape, np.float32)
    if x.ndim == 3 and x.size > 0:
        return
    with pytest.raises(UserError):
        check_windows("f.npz", x, np.zeros(shape[0], int), ["a"])


def test_atomic_dir_keeps_previous_output_on_error(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "a.txt").write_text("second")
            raise RuntimeError("interrupted")
    assert (out / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_dir_leaves_nothing_when_first_run_fails(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "partial").write_text("x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder_is_a_user_error(tmp_path):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            target = tmp_path / "file-in-the-way"
            target.write_text("")
            with pytest.raises(UserError):
                write_json(target / "x.json", {})
        else:
            with pytest.raises(UserError):
                write_json(locked / "x.json", {})
    finally:
        locked.chmod(0o700)
