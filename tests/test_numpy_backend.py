"""The NumPy backend's own kernels and namespace adaptations, against NumPy itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodiff.backends._numpy import _WHERE_MIN, _where

FLOATS = (np.float16, np.float32, np.float64)


def _same_bits(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and bool((a.reshape(-1).view(np.uint8) == b.reshape(-1).view(np.uint8)).all())
    )


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    ("cond_shape", "x1_shape", "x2_shape"),
    [
        ((_WHERE_MIN,), (_WHERE_MIN,), ()),  # a ReLU's gradient: x2 is the scalar 0
        ((40, 30), (40, 30), (40, 30)),
        ((40, 30), (30,), (40, 30)),  # x1 broadcasts
        ((1, 700), (), (5, 700)),  # x2 is larger than the condition and x1
        ((3,), (3,), ()),  # small: NumPy's own where
    ],
)
@pytest.mark.parametrize("x2_scalar", [0.0, -0.0, 1.5, None])
def test_where_matches_numpy_bit_for_bit(
    dtype: Any,
    cond_shape: tuple[int, ...],
    x1_shape: tuple[int, ...],
    x2_shape: tuple[int, ...],
    x2_scalar: float | None,
) -> None:
    rng = np.random.default_rng(0)
    cond = rng.standard_normal(cond_shape) > 0
    x1 = rng.standard_normal(x1_shape).astype(dtype)
    if x1.size >= 3:
        x1.flat[:3] = [np.nan, np.inf, -0.0]  # special values pass through unchanged
    x2: Any = rng.standard_normal(x2_shape).astype(dtype) if x2_scalar is None else x2_scalar
    assert _same_bits(_where(cond, x1, x2), np.where(cond, x1, x2))
    assert _same_bits(_where(cond, x2, x1), np.where(cond, x2, x1))


def test_where_promotes_like_numpy() -> None:
    cond = np.ones(_WHERE_MIN, dtype=bool)
    cond[::3] = False
    a32 = np.arange(_WHERE_MIN, dtype=np.float32)
    a64 = np.arange(_WHERE_MIN, dtype=np.float64)
    assert _same_bits(_where(cond, a32, a64), np.where(cond, a32, a64))
    assert _same_bits(_where(cond, a32, 2), np.where(cond, a32, 2))  # a Python int stays weak
    ints = np.arange(_WHERE_MIN)
    assert _same_bits(_where(cond, ints, 0), np.where(cond, ints, 0))  # not floating: NumPy's


@given(st.lists(st.booleans(), min_size=_WHERE_MIN, max_size=_WHERE_MIN + 64))
def test_where_any_mask(mask: list[bool]) -> None:
    cond = np.array(mask)
    x = np.linspace(-1.0, 1.0, cond.size)
    assert _same_bits(_where(cond, x, 0.0), np.where(cond, x, 0.0))


def _kernel_and_generic(name: str) -> tuple[Any, Any]:
    import autodiff as ad
    from autodiff.engine import PRIMITIVES

    numpy = ad.backends.get("numpy")
    xp = numpy.xp  # loading the namespace registers the kernels
    prim = PRIMITIVES[name]
    kernel = numpy.kernels[prim]
    return (lambda *a, **k: kernel(xp, *a, **k)), (lambda *a, **k: prim.forward(xp, *a, **k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["plain", "batched", "inf row", "bad label", "nan"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ignore_index": -100, "mean": True},
        {"ignore_index": 3},
        {"ignore_index": 3, "mean": True},
    ],
)
def test_softmax_cross_entropy_kernel_is_the_generic_forward(
    dtype: Any, case: str, params: dict[str, Any]
) -> None:
    kernel, generic = _kernel_and_generic("softmax_cross_entropy")
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 6, 5) if case == "batched" else (6, 5)) * 4).astype(dtype)
    labels = rng.integers(0, 5, x.shape[:-1])
    if case == "inf row":
        x[1] = -np.inf
    elif case == "bad label":
        labels[..., 2] = 5
    elif case == "nan":
        x[0, 1] = np.nan
    if params.get("ignore_index") == 3:
        labels[..., :2] = 3  # ignored rows (a class index too)
    else:
        labels[..., 4] = -100  # not ignored without ignore_index: NaN
    with np.errstate(invalid="ignore"):
        for got, want in zip(kernel(x, labels, **params), generic(x, labels, **params)):
            assert _same_bits(got, want)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64, np.complex128])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_mean_kernel_is_numpy_mean(dtype: Any, axis: Any, keepdims: bool) -> None:
    kernel, _ = _kernel_and_generic("mean")
    a = np.random.default_rng(4).standard_normal((3, 4, 5)).astype(dtype)
    assert _same_bits(
        kernel(a, axis=axis, keepdims=keepdims), np.mean(a, axis=axis, keepdims=keepdims)
    )
