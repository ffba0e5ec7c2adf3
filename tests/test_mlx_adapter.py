"""The MLX adapter namespace fills MLX's gaps with the standard's semantics: each function
against NumPy, edge cases included (signed zeros, infinities, NaN, ties)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

mx = pytest.importorskip("mlx.core")

import autodiff as ad  # noqa: E402

if "mlx" not in ad.backends.available():
    pytest.skip("MLX cannot run here", allow_module_level=True)

xp = ad.backends.get("mlx").xp

F = np.array([-2.5, -0.0, 0.0, 1.5, np.inf, -np.inf, 3.0], dtype=np.float32)
G = np.array([1.0, -1.0, 2.0, -0.0, 1.0, 2.0, np.inf], dtype=np.float32)


@pytest.mark.parametrize(
    ("ours", "numpys"),
    [
        (lambda a, b: xp.copysign(a, b), np.copysign),
        (lambda a, b: xp.hypot(a, b), np.hypot),
        (lambda a, b: xp.nextafter(a, b), np.nextafter),
        (lambda a, b: xp.signbit(a), lambda a, b: np.signbit(a)),
        (lambda a, b: xp.isin(a, b), np.isin),
        (lambda a, b: xp.isin(a, b, invert=True), lambda a, b: np.isin(a, b, invert=True)),
    ],
)
def test_elementwise_gaps(ours: Callable[..., Any], numpys: Callable[..., Any]) -> None:
    got = np.array(ours(mx.array(F), mx.array(G)))
    np.testing.assert_array_equal(got, numpys(F, G))
    assert got.dtype == numpys(F, G).dtype


def test_nextafter_steps_by_one_ulp_through_zero_and_subnormals() -> None:
    a = np.array([0.0, -0.0, 1e-45, 1.0, -1.0], dtype=np.float32)
    b = np.array([1.0, -1.0, 0.0, 0.0, -2.0], dtype=np.float32)
    np.testing.assert_array_equal(
        np.array(xp.nextafter(mx.array(a), mx.array(b))), np.nextafter(a, b)
    )


def test_hypot_does_not_overflow() -> None:
    a = np.array([3e30, 1e-30], dtype=np.float32)
    np.testing.assert_allclose(
        np.array(xp.hypot(mx.array(a), mx.array(a))), np.hypot(a, a), rtol=1e-6
    )


def test_index_results_are_signed_int64() -> None:
    x = mx.array(np.array([[3.0, 1.0, 3.0], [0.0, 5.0, 5.0]], dtype=np.float32))
    for out in (xp.argmax(x, axis=1), xp.argmin(x, axis=0), xp.argsort(x, axis=1)):
        assert out.dtype == mx.int64
    # ties: the first occurrence, as NumPy
    assert np.array(xp.argmax(x, axis=1)).tolist() == [0, 1]


@pytest.mark.parametrize("descending", [False, True])
def test_stable_sorts_keep_ties_in_order(descending: bool) -> None:
    host = np.array([2, 1, 2, 1, 2, 3, 1], dtype=np.float32)
    got = np.array(xp.argsort(mx.array(host), descending=descending))
    key = -host if descending else host
    np.testing.assert_array_equal(got, np.argsort(key, kind="stable"))
    values = np.array(xp.sort(mx.array(host), descending=descending))
    np.testing.assert_array_equal(values, np.sort(host)[::-1] if descending else np.sort(host))


def test_scans_with_include_initial() -> None:
    host = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    out = np.array(xp.cumulative_sum(mx.array(host), axis=1, include_initial=True))
    np.testing.assert_array_equal(out, [[0, 1, 3, 6], [0, 4, 9, 15]])
    out = np.array(xp.cumulative_prod(mx.array(host), axis=0, include_initial=True))
    np.testing.assert_array_equal(out, [[1, 1, 1], [1, 2, 3], [4, 10, 18]])


def test_data_dependent_shapes_go_through_the_host() -> None:
    host = np.array([3, 1, 3, 0, 2], dtype=np.int32)
    values, index, inverse, counts = xp.unique_all(mx.array(host))
    ref = np.unique(host, return_index=True, return_inverse=True, return_counts=True)
    for got, want in zip((values, index, inverse, counts), ref):
        np.testing.assert_array_equal(np.array(got), want)
    (nz,) = xp.nonzero(mx.array(host))
    np.testing.assert_array_equal(np.array(nz), np.nonzero(host)[0])


def test_flip_clip_count_nonzero() -> None:
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(np.array(xp.flip(mx.array(host), axis=1)), np.flip(host, axis=1))
    np.testing.assert_array_equal(np.array(xp.flip(mx.array(host))), np.flip(host))
    np.testing.assert_array_equal(
        np.array(xp.clip(mx.array(host), min=1.0, max=4.0)), np.clip(host, 1, 4)
    )
    assert np.array(xp.count_nonzero(mx.array(host), axis=0)).tolist() == [1, 2, 2]


def test_fft_runs_in_complex64_and_refuses_to_narrow_float64() -> None:
    with ad.use_backend("mlx"):
        x = ad.tensor(np.arange(4.0), dtype=ad.float32)
        np.testing.assert_allclose(ad.fft.fft(x).numpy(), np.fft.fft(np.arange(4.0)), atol=1e-5)
        with pytest.raises(TypeError, match="no complex128"):
            ad.fft.fft(ad.tensor(np.arange(4.0), dtype=ad.float64, device="mlx:cpu"))


@pytest.mark.parametrize(
    ("shape", "axis", "keepdims"),
    [
        ((0,), None, False),
        ((0, 3), 0, False),
        ((0, 3), 0, True),
        ((2, 0), 1, False),
        ((0, 3), 1, False),
    ],
)
def test_empty_reductions_are_not_asked_of_mlx(
    shape: tuple[int, ...], axis: Any, keepdims: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLX's own mean/prod of an empty array can hang when evaluated: the adapter answers
    # (NaN mean, product 1, sum 0, any False, all True) without calling them, with NumPy's shapes and values
    a = np.zeros(shape, dtype=np.float32)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("MLX was asked to reduce an empty array")

    for name, ref in (
        ("mean", np.mean),
        ("prod", np.prod),
        ("sum", np.sum),
        ("any", np.any),
        ("all", np.all),
    ):
        monkeypatch.setattr(xp._mx, name, refuse)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = ref(a, axis=axis, keepdims=keepdims)
        got = np.array(getattr(xp, name)(mx.array(a), axis=axis, keepdims=keepdims))
        np.testing.assert_array_equal(got, want)
        assert got.shape == np.shape(want)
