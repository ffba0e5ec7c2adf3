"""Indexing with gradients: integer arrays, boolean masks, None/ellipsis, take,
take_along_axis and ``__setitem__``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.testing import check_grads

from .conftest import make

KEYS: list[Any] = [
    (np.array([0, 2, 2, 1]),),
    (np.array([[0, 1], [1, 1]]), slice(1, None)),
    (slice(None), np.array([3, 0, 3])),
    (Ellipsis, None, np.array([1, 1])),
    (np.array([0, 1]), np.array([3, 3])),
    (np.array([1, 0]), None, np.array([2, 2])),
    (slice(None), None, [0, 0, 2]),
    (-1, [-1, 0]),
]


def _tensor_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(make(k) if isinstance(k, np.ndarray) else k for k in key)


@pytest.mark.parametrize("key", KEYS, ids=[str(i) for i in range(len(KEYS))])
def test_integer_array_indexing_matches_numpy_and_grads(key: Any, rng: Any) -> None:
    a = rng.normal(size=(3, 4))
    x = make(a)
    tkey = _tensor_key(key)
    np.testing.assert_array_equal(x[tkey].numpy(), a[key])
    check_grads(lambda t: t[tkey], (x,), order=2)


def test_repeated_indices_add_up() -> None:
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    x[make(np.array([2, 0, 2, 2]))].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 3.0])


def test_boolean_mask(rng: Any) -> None:
    a = rng.normal(size=(3, 4))
    x = make(a)
    mask = x.detach() > 0.0
    np.testing.assert_array_equal(x[mask].numpy(), a[a > 0])
    row_mask = make(np.array([True, False, True]))
    np.testing.assert_array_equal(x[row_mask, 1:].numpy(), a[[True, False, True], 1:])
    check_grads(lambda t: t[mask] ** 2, (x,), order=2)
    check_grads(lambda t: t[row_mask, None, ::2], (x,), order=2)


def test_zero_d_integer_tensor_is_a_basic_index() -> None:
    x = make([1.0, 2.0, 3.0])
    assert float(x[make(np.array(1))]) == 2.0
    assert float(x[np.int64(2)]) == 3.0
    y = make([1.0, 2.0, 3.0], requires_grad=True)
    assert y[np.int64(2)].grad_fn == "getitem"  # a basic index, not a take


@pytest.mark.parametrize(
    "key",
    [(np.array([0, 3]),), (np.array([1.5]),), (np.array([True, False]),), (True,)],
    ids=["out_of_range", "float", "mask_shape", "python_bool"],
)
def test_bad_keys_raise_index_error(key: Any) -> None:
    x = make(np.zeros((3, 2)))
    with pytest.raises(IndexError):
        x[_tensor_key(key)]


def test_take_along_axis(rng: Any) -> None:
    a = rng.normal(size=(3, 4))
    idx = np.array([[0, 3, 3], [1, 1, 1], [2, 0, 1]])
    x = make(a)
    got = ad.take_along_axis(x, make(idx), axis=1)
    np.testing.assert_array_equal(got.numpy(), np.take_along_axis(a, idx, axis=1))
    check_grads(lambda t: ad.take_along_axis(t, make(idx), axis=1), (x,), order=2)
    check_grads(
        lambda t: ad.take_along_axis(t, make(np.array([[2, 0, 1, 1]])), axis=0), (x,), order=2
    )
    with pytest.raises(ValueError, match="dimensions"):
        ad.take_along_axis(x, make(np.array([0])), axis=1)
    with pytest.raises(IndexError, match="out of range"):
        ad.take_along_axis(x, make(np.array([[4]])), axis=1)
    with pytest.raises(ValueError, match="do not fit"):
        ad.take_along_axis(x, make(np.zeros((2, 2), dtype=np.int64)), axis=1)


def test_take_grads(rng: Any) -> None:
    x = make(rng.normal(size=(3, 4)))
    idx = make(np.array([3, 3, -1, 0]))
    check_grads(lambda t: ad.take(t, idx, axis=1), (x,), order=2)


def test_scatter_add_forward_and_grads(rng: Any) -> None:
    v = make(rng.normal(size=(2, 3)))
    idx = make(np.array([1, 1, 4]))
    out = ad.ops.indexing.scatter_add(v, idx, axis=1, size=5)
    expect = np.zeros((2, 5))
    np.add.at(expect, (slice(None), [1, 1, 4]), v.numpy())
    np.testing.assert_allclose(out.numpy(), expect)
    check_grads(lambda t: ad.ops.indexing.scatter_add(t, idx, axis=1, size=5), (v,), order=2)


def test_generic_scatter_add_matches_kernel(rng: Any) -> None:
    # the array API forward (used where no kernel exists) equals NumPy's np.add.at
    from autodiff.ops.indexing import _scatter_add_fwd

    backend = ad.get_backend()
    g = backend.asarray(rng.normal(size=(4, 2)))
    idx = backend.asarray(np.array([2, 0, 2, 2]))
    out = backend.to_numpy(_scatter_add_fwd(backend.xp, g, idx, axis=0, size=3))
    expect = np.zeros((3, 2))
    np.add.at(expect, [2, 0, 2, 2], backend.to_numpy(g))
    np.testing.assert_allclose(out, expect)


def _assign(key: Any) -> Any:
    def f(x: ad.Tensor, v: ad.Tensor) -> ad.Tensor:
        z = x * 1.0
        z[key] = v
        return z * z

    return f


@pytest.mark.parametrize(
    ("key", "vshape"),
    [
        ((0, slice(1, 3)), (2,)),
        ((slice(None), 1), ()),
        ((np.array([0, 2, 0]), 0), (3,)),
        ((Ellipsis, np.array([1, 3])), (1, 2)),
        ((None, Ellipsis, slice(None, None, 2)), (3, 1)),
    ],
    ids=["basic", "broadcast_scalar", "repeated", "ellipsis_array", "none_ellipsis_step"],
)
def test_setitem_grads(key: Any, vshape: tuple[int, ...], rng: Any) -> None:
    a = rng.normal(size=(3, 4))
    va = rng.normal(size=vshape)
    tkey = _tensor_key(key) if isinstance(key, tuple) else key
    z = make(a) * 1.0
    z[tkey] = make(va)
    expect = a.copy()
    expect[key] = va
    np.testing.assert_allclose(z.numpy(), expect)
    check_grads(_assign(tkey), (make(a), make(va)), order=2)


def test_setitem_gradient_zero_where_overwritten() -> None:
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    v = make(5.0, requires_grad=True)
    z = x * 1.0
    z[1] = v
    (z * make([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 3.0])
    assert float(v.grad) == 2.0


def test_setitem_boolean_mask() -> None:
    x = make([1.0, -2.0, 3.0, -4.0], requires_grad=True)
    z = x * 1.0
    z[z.detach() < 0] = 0.0
    z.sum().backward()
    np.testing.assert_array_equal(z.numpy(), [1.0, 0.0, 3.0, 0.0])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0, 0.0])


def test_setitem_on_leaf_requiring_grad_raises() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 3.0
    with ad.no_grad():
        x[0] = 3.0
    assert x.tolist() == [3.0, 2.0]
    assert x.is_leaf and x.requires_grad


def test_setitem_shape_mismatch() -> None:
    z = make(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="cannot assign"):
        z[0] = make([1.0, 2.0])


@pytest.mark.parametrize(
    "key",
    [
        (Ellipsis, np.array([[2, -1], [0, 0]])),
        (slice(1, None), Ellipsis, np.array([3, 3, 1])),
        (np.array([-2, 1]), Ellipsis),
        (slice(None), np.array([1, 0, 1]), slice(None, None, 2)),
    ],
    ids=["ellipsis_first", "slice_ellipsis", "array_ellipsis", "middle"],
)
def test_one_array_key_takes_along_its_axis(key: Any, rng: Any, monkeypatch: Any) -> None:
    # one integer array among slices needs no flat positions of the whole tensor
    def no_flat(*args: Any) -> None:
        raise AssertionError("the general path ran")

    monkeypatch.setattr(ad.ops.indexing, "flat_positions", no_flat)
    a = rng.normal(size=(2, 3, 4))
    x = make(a)
    tkey = _tensor_key(key)
    np.testing.assert_array_equal(x[tkey].numpy(), a[key])
    check_grads(lambda t: t[tkey], (x,), order=2)
