"""The array API namespace beyond the core: the functions that never carry gradient, the
dtype functions and ``__array_namespace_info__`` (every differentiable function's gradient
is checked from the sample table ``autodiff._samples`` by ``test_primitives.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad

from .conftest import make, rtol

R = np.random.default_rng(7)


def u(low: float, high: float, *shape: int) -> np.ndarray:
    return R.uniform(low, high, size=shape)


def test_cumulative_prod_with_zeros_matches_the_product_rule() -> None:
    x = make([2.0, 0.0, 3.0, 0.0], requires_grad=True)
    ad.cumulative_prod(x).sum().backward()
    # d/dx0 = 1 + 0..., d/dx1 = x0 + x0 x2 + 0 = 2 + 6, others see a zero
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 8.0, 0.0, 0.0], rtol=rtol())


@pytest.mark.parametrize(
    "fn",
    [
        ad.floor,
        ad.ceil,
        ad.round,
        ad.trunc,
        ad.sign,
        ad.signbit,
        ad.isnan,
        ad.isinf,
        ad.isfinite,
        ad.argsort,
        lambda x: ad.argmax(x),
        lambda x: ad.argmin(x, axis=0),
        lambda x: x // 2.0,
        lambda x: x > 0,
        lambda x: ad.searchsorted(ad.sort(x), x),
        lambda x: ad.unique_values(x),
        lambda x: ad.count_nonzero(x),
        lambda x: ad.all(x > 0),
    ],
)
def test_non_differentiable_results_do_not_require_grad(fn: Callable[..., Any]) -> None:
    x = make([1.5, -0.5, 2.5], requires_grad=True)
    assert not fn(x).requires_grad


def test_clip_gradient_passes_at_the_bounds_as_in_pytorch() -> None:
    x = make([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
    ad.clip(x, -1.0, 1.0).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 0.0]


def test_logaddexp_of_two_minus_infinities_has_zero_gradient() -> None:
    a = make([-np.inf, 0.0], requires_grad=True)
    b = make([-np.inf, 0.0], requires_grad=True)
    ad.logaddexp(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.5]


def test_hypot_gradient_at_the_origin_is_zero() -> None:
    a = make([0.0], requires_grad=True)
    ad.hypot(a, 0.0).sum().backward()
    assert a.grad.tolist() == [0.0]


def test_sort_gradient_follows_the_values() -> None:
    x = make([3.0, 1.0, 2.0], requires_grad=True)
    (ad.sort(x) * make([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]


def test_sort_without_grad_matches_the_library() -> None:
    host = u(-2, 2, 3, 5)
    np.testing.assert_array_equal(ad.sort(make(host), axis=0).numpy(), np.sort(host, axis=0))
    np.testing.assert_array_equal(
        ad.sort(make(host), descending=True).numpy(), -np.sort(-host, axis=-1)
    )


@pytest.mark.parametrize(
    ("ours", "numpys"),
    [
        (lambda x: ad.tile(x, (2, 3)), lambda x: np.tile(x, (2, 3))),
        (lambda x: ad.repeat(x, 3), lambda x: np.repeat(x, 3)),
        (lambda x: ad.repeat(x, 2, axis=0), lambda x: np.repeat(x, 2, axis=0)),
        (lambda x: ad.roll(x, 1, axis=1), lambda x: np.roll(x, 1, axis=1)),
        (lambda x: ad.roll(x, -4), lambda x: np.roll(x, -4)),
        (lambda x: ad.moveaxis(x, 0, 1), lambda x: np.moveaxis(x, 0, 1)),
        (lambda x: ad.tril(x, k=1), lambda x: np.tril(x, k=1)),
        (lambda x: ad.diff(x, axis=0), lambda x: np.diff(x, axis=0)),
        (lambda x: ad.var(x, axis=1, correction=1), lambda x: np.var(x, axis=1, ddof=1)),
        (lambda x: ad.prod(x, axis=0), lambda x: np.prod(x, axis=0)),
        (lambda x: ad.cumulative_prod(x, axis=1), lambda x: np.cumprod(x, axis=1)),
        (lambda x: ad.logaddexp(x, 1.0), lambda x: np.logaddexp(x, 1.0)),
        (lambda x: ad.flip(x), lambda x: np.flip(x)),
    ],
)
def test_forward_values_match_numpy(ours: Callable[..., Any], numpys: Callable[..., Any]) -> None:
    host = u(-2, 2, 3, 4)
    np.testing.assert_allclose(ours(make(host)).numpy(), numpys(host), rtol=rtol(1e-12))


def test_meshgrid_matches_numpy() -> None:
    a, b = np.arange(3.0), np.arange(2.0)
    for indexing in ("xy", "ij"):
        ours = ad.meshgrid(make(a), make(b), indexing=indexing)
        for o, n in zip(ours, np.meshgrid(a, b, indexing=indexing)):
            np.testing.assert_array_equal(o.numpy(), n)


def test_unique_and_nonzero() -> None:
    x = ad.tensor([3, 1, 3, 2])
    res = ad.unique_all(x)
    assert res.values.tolist() == [1, 2, 3]
    assert res.counts.tolist() == [1, 1, 2]
    assert res.inverse_indices.tolist() == [2, 0, 2, 1]
    assert [t.tolist() for t in ad.nonzero(ad.tensor([[0, 1], [2, 0]]))] == [[0, 1], [1, 0]]


def test_repeat_by_counts_and_its_errors() -> None:
    x = ad.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert ad.repeat(x, ad.tensor([1, 2]), axis=0).tolist() == [[1, 2], [3, 4], [3, 4]]
    assert ad.repeat(x, ad.tensor([2]), axis=1).tolist() == [[1, 1, 2, 2], [3, 3, 4, 4]]
    assert ad.repeat(x, ad.tensor([0, 0]), axis=0).shape == (0, 2)
    with pytest.raises(ValueError, match="non-negative"):
        ad.repeat(x, ad.tensor([1, -1]), axis=0)
    for bad in (ad.tensor([1.0, 2.0]), ad.tensor([1, 2, 3]), ad.tensor([[1, 2]])):
        with pytest.raises(ValueError, match="1-d integer tensor of length 1 or 2"):
            ad.repeat(x, bad, axis=0)


def test_var_keeps_the_named_leaf_form() -> None:
    x = ad.var("x", 2.0)
    assert x.name == "x" and x.requires_grad
    with pytest.raises(TypeError, match="named leaf"):
        ad.var(make([1.0, 2.0]), 3.0)


def test_integer_dunders() -> None:
    x = ad.tensor([5, 6])
    assert (x // 2).tolist() == [2, 3]
    assert (x % 4).tolist() == [1, 2]
    assert (x & 3).tolist() == [1, 2]
    assert (x | 1).tolist() == [5, 7]
    assert (x ^ 1).tolist() == [4, 7]
    assert (~x).tolist() == [-6, -7]
    assert (x << 1).tolist() == [10, 12]
    assert (x >> 1).tolist() == [2, 3]
    assert (7 // x).tolist() == [1, 1]


# -- errors ------------------------------------------------------------------------------


def test_bad_axes_raise_standard_errors() -> None:
    x = make(u(-1, 1, 2, 3))
    with pytest.raises(IndexError, match="axis 2"):
        ad.argmax(x, axis=2)
    with pytest.raises(IndexError, match="axis -3"):
        ad.flip(x, axis=-3)
    with pytest.raises(ValueError, match="axis is required"):
        ad.cumulative_sum(x)
    with pytest.raises(ValueError, match="2 dimensions"):
        ad.tril(make([1.0, 2.0]))
    with pytest.raises(ValueError, match="tuple axis"):
        ad.roll(x, (1, 2), axis=0)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        ad.broadcast_arrays(make([1.0, 2.0]), make([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="floating"):
        ad.var(ad.tensor([1, 2]))


# -- dtype functions and the inspection API ---------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (ad.int8, ad.uint8, ad.int16),
        (ad.int32, ad.uint32, ad.int64),
        (ad.uint8, ad.uint16, ad.uint16),
        (ad.float32, ad.float64, ad.float64),
        (ad.float32, ad.complex64, ad.complex64),
        (ad.float64, ad.complex64, ad.complex128),
        (ad.bool, ad.bool, ad.bool),
    ],
)
def test_result_type_follows_the_standard(a: ad.DType, b: ad.DType, expected: ad.DType) -> None:
    if not ad.get_backend().supports(expected):
        # the backend's own promotion then (MLX: float64 with complex64 is complex64)
        pytest.skip(f"the {ad.get_backend().name} backend has no {expected.name}")
    assert ad.result_type(a, b) is expected
    assert ad.result_type(b, a) is expected


def test_result_type_scalars_are_weak_and_bad_pairs_raise() -> None:
    assert ad.result_type(ad.tensor([1.0], dtype=ad.float32), 1.0) is ad.float32
    assert ad.result_type(ad.int8, 3) is ad.int8
    assert ad.result_type(ad.float32, 1j) is ad.complex64
    # where the standard is silent, the backend's own rule (tests/test_numpy_bridge.py)
    backend = ad.get_backend()
    for a, b in ((ad.int64, ad.uint64), (ad.bool, ad.int8)):
        if backend.promoted(a, b) is None:
            with pytest.raises(TypeError, match=f"{a.name} and {b.name}"):
                ad.result_type(a, b)
        else:
            assert ad.result_type(a, b) is backend.promoted(a, b)


def test_can_cast_isdtype_finfo_iinfo() -> None:
    assert ad.can_cast(ad.int8, ad.int64) and not ad.can_cast(ad.int64, ad.int8)
    assert not ad.can_cast(ad.float32, ad.int32)
    assert ad.isdtype(ad.uint8, "integral") and not ad.isdtype(ad.float32, "integral")
    assert ad.isdtype(ad.complex64, ("bool", "complex floating"))
    with pytest.raises(ValueError, match="unknown kind"):
        ad.isdtype(ad.int8, "integer")
    fi = ad.finfo(ad.float32)
    assert fi.bits == 32 and fi.eps == float(np.finfo(np.float32).eps) and fi.dtype is ad.float32
    assert ad.iinfo(ad.int16).max == 32767
    with pytest.raises(TypeError, match="iinfo"):
        ad.finfo(ad.int8)


def test_array_namespace_info() -> None:
    info = ad.__array_namespace_info__()
    assert info.default_device() == ad.get_device()
    defaults = info.default_dtypes()
    assert defaults["real floating"] is ad.get_default_dtype()
    assert defaults["indexing"] is ad.int64
    assert set(info.dtypes(kind="real floating").values()) <= {ad.float32, ad.float64}
    assert ad.get_device() in info.devices()
    # Dask refuses arrays of unknown shape, so it declares no boolean indexing
    assert info.capabilities()["boolean indexing"] is (ad.get_backend().name != "dask")


def test_from_dlpack_round_trip() -> None:
    x = make([1.0, 2.0])
    y = ad.from_dlpack(x)
    assert y.tolist() == [1.0, 2.0]


def test_array_api_constants() -> None:
    assert ad.__array_api_version__ == "2024.12"
    assert ad.newaxis is None and ad.e == np.e and ad.inf == np.inf


# -- complex gradients: PyTorch's convention, grad = dL/dx + i dL/dy ------------------------


def _complex_leaf(values: list[complex]) -> ad.Tensor:
    backend = ad.get_backend()
    if not backend.supports(ad.complex64):
        pytest.skip(f"{backend.name} has no complex dtypes")
    dtype = ad.complex128 if backend.supports(ad.complex128) else ad.complex64
    return ad.tensor(values, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        (lambda z: ad.real(z * ad.conj(z)), lambda z: 2 * z),
        (lambda z: ad.real(ad.exp(z)), lambda z: np.conj(np.exp(z))),
        (lambda z: ad.imag(z * z), lambda z: 1j * np.conj(2 * z)),  # 2y + 2x i
        (
            lambda z: ad.real(ad.sin(z) / (z + 3)),
            lambda z: np.conj(np.cos(z) / (z + 3) - np.sin(z) / (z + 3) ** 2),
        ),
        (lambda z: ad.abs(z), lambda z: z / np.abs(z)),
    ],
)
def test_complex_gradients_follow_pytorch(
    loss: Callable[[ad.Tensor], ad.Tensor], expected: Callable[[np.ndarray], np.ndarray]
) -> None:
    z = _complex_leaf([1 + 2j, -0.5 + 0.25j])
    loss(z).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), expected(z.numpy()), rtol=rtol(1e-10) * 10)


def test_a_real_input_mixed_with_complex_gets_a_real_gradient() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    ad.real(ad.conj(x * (1 + 2j)) * (0.5 + 1j)).sum().backward()
    assert x.grad.dtype == x.dtype
    np.testing.assert_allclose(x.grad.numpy(), [2.5, 2.5], rtol=rtol())


def test_assigning_infinities_through_a_mask_keeps_the_rest() -> None:
    x = make([[1.0, 5.0], [7.0, 2.0]], requires_grad=True)
    y = x * 1
    y[y > 4] = -np.inf
    assert y.tolist() == [[1.0, -np.inf], [-np.inf, 2.0]]
    ad.exp(y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[np.e, 0.0], [0.0, np.e**2]], rtol=rtol())


def test_asarray_copy_stays_on_the_graph() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    y = ad.asarray(x, copy=True)
    assert y.requires_grad and y is not x
    (y * y).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


# -- findings of the array-api-tests conformance run -----------------------------------------


def test_in_place_operators_keep_shape_and_dtype_and_record_gradients() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    y = x * 1
    y += x
    y *= 3
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    z = ad.tensor([1, 2], dtype=ad.int32)
    z += 1
    assert z.dtype is ad.int32 and z.tolist() == [2, 3]
    with pytest.raises(TypeError, match="int32"):
        z += 1.5
    w = make([0.0, 0.0])
    with pytest.raises(ValueError, match="cannot change the shape"):
        w += make(np.zeros((3, 2)))
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x += 1
    with ad.no_grad():
        x -= 1
    assert x.is_leaf and x.requires_grad and x.tolist() == [0.0, 1.0]


def test_explicit_small_integer_dtypes_are_kept_by_reductions() -> None:
    x = ad.tensor([200, 100], dtype=ad.uint8)
    assert ad.sum(x, dtype=ad.uint8).dtype is ad.uint8
    assert ad.sum(x, dtype=ad.uint8).item() == 44  # modulo 256, as in uint8 arithmetic
    if ad.get_backend().supports(ad.uint16):
        assert ad.prod(x, dtype=ad.uint16).dtype is ad.uint16
    assert ad.cumulative_sum(x, dtype=ad.uint8).tolist() == [200, 44]
    small = ad.tensor([1, 2], dtype=ad.int8)
    assert ad.vecdot(small, small).dtype is ad.int8


def test_vecdot_conjugates_its_first_argument() -> None:
    z = _complex_leaf([1 + 1j, 2 - 1j])
    w = ad.tensor([0.5j, 1.0 + 0j], dtype=z.dtype)
    assert complex(ad.vecdot(z, w).item()) == pytest.approx((1 - 1j) * 0.5j + (2 + 1j))
    ad.real(ad.vecdot(z, w)).backward()
    np.testing.assert_allclose(z.grad.numpy(), w.numpy())


def test_indices_after_an_ellipsis_index_the_last_axes() -> None:
    assert ad.zeros((1, 5))[:, ..., 3].shape == (1,)
    assert ad.zeros((2, 3, 4))[0, ..., 1:].shape == (3, 3)
    with pytest.raises(IndexError, match="axis 1 with size 5"):
        ad.zeros((1, 5))[..., 7]


def test_full_with_a_complex_fill_is_complex() -> None:
    backend = ad.get_backend()
    if not backend.supports(ad.complex64):
        pytest.skip(f"{backend.name} has no complex dtypes")
    assert ad.full((), 1 + 2j).dtype.kind == "complex floating"
    assert complex(ad.full((), 1 + 2j).item()) == 1 + 2j
