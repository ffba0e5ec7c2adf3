"""Every primitive's gradient against finite differences, first and second order,
on broadcasting shapes drawn by hypothesis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from autodiff.testing import check_grads

from .conftest import make

# name → (function, low, high): inputs are drawn from [low, high]
UNARY: dict[str, tuple[Callable[[Any], Any], float, float]] = {
    "negative": (ad.negative, -2, 2),
    "positive": (ad.positive, -2, 2),
    "exp": (ad.exp, -2, 2),
    "log": (ad.log, 0.3, 3),
    "sin": (ad.sin, -3, 3),
    "cos": (ad.cos, -3, 3),
    "sqrt": (ad.sqrt, 0.3, 3),
    "tanh": (ad.tanh, -2, 2),
    "sigmoid": (ad.sigmoid, -4, 4),
    "relu": (ad.relu, -2, 2),
    "abs": (ad.abs, -2, 2),
    "pow_scalar": (lambda x: x**3, -2, 2),
    "pow_fractional": (lambda x: x**1.5, 0.3, 2),
    "rpow": (lambda x: 2.0**x, -2, 2),
    "square_div": (lambda x: 1.0 / x, 0.5, 2),
    "rsub": (lambda x: 1.0 - x, -2, 2),
}

BINARY: dict[str, tuple[Callable[[Any, Any], Any], float, float]] = {
    "add": (ad.add, -2, 2),
    "subtract": (ad.subtract, -2, 2),
    "multiply": (ad.multiply, -2, 2),
    "divide": (ad.divide, 0.5, 2),
    "pow": (ad.pow, 0.5, 2),
    "maximum": (ad.maximum, -2, 2),
    "minimum": (ad.minimum, -2, 2),
}

# kinks are avoided: inputs within this distance of a kink are moved away
KINKS = {"relu": 0.0, "abs": 0.0}


def _floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _array(draw: st.DrawFn, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    return draw(hnp.arrays(np.float64, shape, elements=_floats(low, high)))


def _away_from(x: np.ndarray, kink: float) -> np.ndarray:
    return np.where(np.abs(x - kink) < 0.1, kink + 0.5, x)


@pytest.mark.parametrize("name", list(UNARY))
@given(data=st.data())
def test_unary_grads(name: str, data: st.DataObject) -> None:
    fn, low, high = UNARY[name]
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), label="shape")
    x = _array(data.draw, shape, low, high)
    if name in KINKS:
        x = _away_from(x, KINKS[name])
    check_grads(fn, (make(x),), order=2)


@pytest.mark.parametrize("name", list(BINARY))
@given(data=st.data())
def test_binary_grads_broadcasting(name: str, data: st.DataObject) -> None:
    fn, low, high = BINARY[name]
    shapes = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
        label="shapes",
    )
    a = _array(data.draw, shapes.input_shapes[0], low, high)
    b = _array(data.draw, shapes.input_shapes[1], low, high)
    if name in ("maximum", "minimum"):
        b = np.where(np.abs(a - b) < 0.1, b + 0.5, b)  # no ties: the kink
    check_grads(fn, (make(a), make(b)), order=2)


@pytest.mark.parametrize("name", ["add", "multiply", "divide", "pow", "maximum"])
def test_binary_with_python_scalar(name: str) -> None:
    fn = BINARY[name][0]
    x = make([0.7, 1.3, 1.9])
    check_grads(lambda t: fn(t, 1.2), (x,), order=2)
    check_grads(lambda t: fn(1.2, t), (x,), order=2)


@given(data=st.data())
def test_matmul_grads(data: st.DataObject) -> None:
    m, k, n = (data.draw(st.integers(1, 3)) for _ in range(3))
    batch_a = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=2), label="batch")
    batch_b = data.draw(st.sampled_from([(), batch_a[-1:], batch_a]), label="batch_b")
    a = _array(data.draw, (*batch_a, m, k), -2, 2)
    b = _array(data.draw, (*batch_b, k, n), -2, 2)
    check_grads(ad.matmul, (make(a), make(b)), order=2)


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 2, 3), (3,)), ((3,), (2, 3, 4))],
)
def test_matmul_vector_cases(
    shape_a: tuple[int, ...], shape_b: tuple[int, ...], rng: np.random.Generator
) -> None:
    a = make(rng.standard_normal(shape_a))
    b = make(rng.standard_normal(shape_b))
    np.testing.assert_allclose((a @ b).numpy(), a.numpy() @ b.numpy(), rtol=1e-6)
    check_grads(ad.matmul, (a, b), order=2)


REDUCTIONS = {"sum": ad.sum, "mean": ad.mean, "max": ad.max, "min": ad.min}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(data=st.data())
def test_reduction_grads(name: str, data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), label="shape")
    ndim = len(shape)
    axis = data.draw(
        st.one_of(
            st.none(),
            st.integers(-ndim, ndim - 1),
            st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple),
        ),
        label="axis",
    )
    keepdims = data.draw(st.booleans(), label="keepdims")
    # distinct values keep max/min away from ties (ties are tested separately)
    x = np.random.default_rng(0).permutation(np.prod(shape)).reshape(shape) / 4.0 - 1.0
    fn = REDUCTIONS[name]
    check_grads(lambda t: fn(t, axis=axis, keepdims=keepdims), (make(x),), order=2)


def test_max_min_ties_share_equally() -> None:
    x = make([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    ad.max(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = make([1.0, 1.0, 4.0], requires_grad=True)
    ad.min(y).backward()
    np.testing.assert_allclose(y.grad.numpy(), [0.5, 0.5, 0.0])


def test_maximum_tie_shares() -> None:
    a = make([1.0, 2.0], requires_grad=True)
    b = make([1.0, 1.0], requires_grad=True)
    ad.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0]
    assert b.grad.tolist() == [0.5, 0.0]


SHAPE_OPS: dict[str, tuple[Callable[[Any], Any], tuple[int, ...]]] = {
    "reshape": (lambda x: ad.reshape(x, (3, 2)), (2, 3)),
    "reshape_infer": (lambda x: x.reshape(-1), (2, 3)),
    "broadcast_to": (lambda x: ad.broadcast_to(x, (2, 4, 3)), (4, 1)),
    "squeeze": (lambda x: ad.squeeze(x, axis=1), (2, 1, 3)),
    "expand_dims": (lambda x: ad.expand_dims(x, axis=-1), (2, 3)),
    "permute_dims": (lambda x: ad.permute_dims(x, (2, 0, 1)), (2, 3, 4)),
    "transpose_T": (lambda x: x.T, (2, 3)),
    "mT": (lambda x: x.mT, (2, 3, 4)),
    "transpose_method": (lambda x: x.transpose(1, 0, 2), (2, 3, 2)),
    "getitem_slice": (lambda x: x[1:, ::2], (3, 4)),
    "getitem_int": (lambda x: x[1], (3, 4)),
    "getitem_none_ellipsis": (lambda x: x[None, ..., -1], (2, 3, 4)),
    "getitem_negative_step": (lambda x: x[::-1, 1:3], (3, 4)),
    "astype_float32": (lambda x: x.astype(ad.float32) * 1.0, (3,)),
}


@pytest.mark.parametrize("name", list(SHAPE_OPS))
def test_shape_op_grads(name: str, rng: np.random.Generator) -> None:
    fn, shape = SHAPE_OPS[name]
    check_grads(fn, (make(rng.standard_normal(shape)),), order=2)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_concat_grads(axis: int | None, rng: np.random.Generator) -> None:
    a = make(rng.standard_normal((2, 3)))
    b = make(rng.standard_normal((2, 3)))
    c = make(rng.standard_normal((2, 3)))
    check_grads(lambda x, y, z: ad.concat([x, y, z], axis=axis), (a, b, c), order=2)


def test_concat_uneven(rng: np.random.Generator) -> None:
    a = make(rng.standard_normal((2, 1)))
    b = make(rng.standard_normal((2, 3)))
    check_grads(lambda x, y: ad.concat([x, y], axis=1), (a, b), order=2)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack_grads(axis: int, rng: np.random.Generator) -> None:
    a = make(rng.standard_normal((2, 3)))
    b = make(rng.standard_normal((2, 3)))
    check_grads(lambda x, y: ad.stack([x, y], axis=axis), (a, b), order=2)


def test_where_grads(rng: np.random.Generator) -> None:
    a = make(rng.standard_normal((2, 3)))
    b = make(rng.standard_normal((3,)))
    cond = make(rng.standard_normal((2, 3))) > 0
    check_grads(lambda x, y: ad.where(cond, x, y), (a, b), order=2)


def test_composite_mlp_second_order(rng: np.random.Generator) -> None:
    w1 = make(rng.standard_normal((3, 4)))
    w2 = make(rng.standard_normal((4, 1)))
    x = make(rng.standard_normal((5, 3)))

    def loss(a: ad.Tensor, b: ad.Tensor) -> ad.Tensor:
        return ((ad.tanh(x @ a) @ b) ** 2).mean()

    check_grads(loss, (w1, w2), order=2)
