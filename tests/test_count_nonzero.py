"""``count_nonzero`` on every backend against NumPy, including ``axis=()``: the array API
says an empty tuple reduces over no axes (``x != 0`` in the default integer dtype)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autodiff as ad

from .conftest import make

VALUES = np.array([[0.0, 1.5, -2.0, 0.0], [3.0, 0.0, 0.0, -0.5], [0.0, 0.0, 7.0, 1.0]])


def _values(kind: str, backend: ad.Backend) -> tuple[np.ndarray, ad.DType | None]:
    if kind == "float":
        return VALUES, None
    if kind == "int":
        return VALUES.astype(np.int64), ad.int64
    if kind == "bool":
        return VALUES != 0, ad.bool
    if not backend.supports(ad.complex64):
        pytest.skip(f"{backend.name} has no complex64")
    return VALUES + 1j * VALUES[::-1], ad.complex64


@pytest.mark.parametrize("kind", ["float", "int", "bool", "complex"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [(), None, 0, 1, -1, (0,), (1, 0), (0, 1), (-1,)])
def test_count_nonzero_matches_numpy(
    axis: Any, keepdims: bool, kind: str, backend: ad.Backend
) -> None:
    values, dtype = _values(kind, backend)
    got = ad.count_nonzero(make(values, dtype=dtype), axis=axis, keepdims=keepdims)
    want = np.count_nonzero(values, axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(want)
    assert got.dtype == ad.__array_namespace_info__().default_dtypes()["integral"]
    np.testing.assert_array_equal(np.asarray(got.numpy()), want)


def test_count_nonzero_over_no_axes_is_elementwise(backend: ad.Backend) -> None:
    x = make(VALUES)
    got = ad.count_nonzero(x, axis=())
    assert got.shape == x.shape
    np.testing.assert_array_equal(np.asarray(got.numpy()), (VALUES != 0).astype(np.int64))
