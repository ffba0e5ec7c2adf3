"""Forward mode's fast path (``autodiff._forward._enter1``/``_enter2`` and the fused
rules of ``autodiff.ops._jvp_fused``): each fused rule against the primitive's general
JVP rule on raw arrays, and ``ad.jvp`` on the fast path against the general path and
against central finite differences, for every fused primitive, with tangents on one
operand or both, broadcasting, Python scalars and mixed dtypes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff._forward import DualTensor
from autodiff.engine import PRIMITIVES
from autodiff.ops import _jvp_fused
from autodiff.testing import tolerances

from .conftest import make

#: inputs in each primitive's domain (log, sqrt: positive)
_POSITIVE = {"log", "sqrt"}
#: the public function of each fused primitive
_UNARY_FN: dict[str, Callable[[Any], Any]] = {
    "negative": lambda x: -x,
    "tanh": ad.tanh,
    "exp": ad.exp,
    "log": ad.log,
    "sqrt": ad.sqrt,
    "square": ad.square,
    "sigmoid": ad.nn.functional.sigmoid if hasattr(ad.nn.functional, "sigmoid") else ad.sigmoid,
    "relu": ad.nn.functional.relu,
    "sum": lambda x: ad.sum(x, axis=0),
    "mean": lambda x: ad.mean(x, axis=-1, keepdims=True),
}
_BINARY_FN: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
    "matmul": lambda a, b: a @ b,
}


def test_every_fused_rule_is_tested() -> None:
    assert set(_UNARY_FN) == set(_jvp_fused.UNARY)
    assert set(_BINARY_FN) == set(_jvp_fused.BINARY)


def _dtype() -> Any:
    b = ad.get_backend()
    return ad.float64 if b.supports(ad.float64) and b.exact_float64 else ad.float32


def _values(rng: np.random.Generator, shape: tuple[int, ...], name: str) -> np.ndarray:
    if name in _POSITIVE:
        return rng.uniform(0.5, 2.0, shape)
    v = rng.uniform(-1.5, 1.5, shape)
    return np.where(np.abs(v) < 0.1, 0.3, v)  # relu: away from the kink


def _host(t: Any) -> np.ndarray:
    return np.asarray(t.numpy(), dtype=np.float64)


def _shapes(name: str) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    if name == "matmul":
        return [((3, 4), (4, 2)), ((2, 3, 4), (4,))]
    return [((3, 4), (3, 4)), ((3, 4), (4,)), ((1, 4), (3, 1))]


def _same(a: Any, b: Any) -> None:
    """Bit-for-bit equal arrays (NaN where NaN)."""
    np.testing.assert_array_equal(
        np.asarray(ad.tensor(a).numpy()), np.asarray(ad.tensor(b).numpy())
    )


def _fwds(prim: Any) -> list[Any]:
    """The forwards a fused rule may be given: none (its inline forward), the
    backend's kernel or the generic forward."""
    return [None, ad.get_backend().kernels.get(prim) or prim.forward]


@pytest.mark.parametrize("name", sorted(_jvp_fused.UNARY))
def test_unary_rule_matches_general_rule(name: str, rng: np.random.Generator) -> None:
    """The fused rule's output is the primitive's forward (bit for bit, inline or with
    the forward it is given) and its tangent the general JVP rule's."""
    prim = PRIMITIVES[name]
    backend = ad.get_backend()
    xp = backend.xp
    a = make(_values(rng, (3, 4), name), _dtype()).data
    t = make(rng.standard_normal((3, 4)), _dtype()).data
    params = {"axis": 0} if name in ("sum", "mean") else {}
    expected = (backend.kernels.get(prim) or prim.forward)(xp, a, **params)
    general = prim.jvp(xp, [t], expected, a, **params)  # type: ignore[misc]
    for fwd in _fwds(prim):
        out, tan = _jvp_fused.UNARY[name](xp, fwd, a, t, **params)
        if fwd is None:
            _same(out, prim.forward(xp, a, **params))
        else:
            _same(out, expected)
        np.testing.assert_allclose(
            np.asarray(ad.tensor(tan).numpy()), np.asarray(ad.tensor(general).numpy()), rtol=1e-6
        )


@pytest.mark.parametrize("name", sorted(_jvp_fused.BINARY))
@pytest.mark.parametrize("which", ["a", "b", "both"])
def test_binary_rule_matches_general_rule(name: str, which: str, rng: np.random.Generator) -> None:
    prim = PRIMITIVES[name]
    backend = ad.get_backend()
    xp = backend.xp
    for sa, sb in _shapes(name):
        a = make(_values(rng, sa, name), _dtype()).data
        b = make(rng.uniform(0.5, 2.0, sb), _dtype()).data
        ta = make(rng.standard_normal(sa), _dtype()).data if which != "b" else None
        tb = make(rng.standard_normal(sb), _dtype()).data if which != "a" else None
        expected = (backend.kernels.get(prim) or prim.forward)(xp, a, b)
        general = prim.jvp(xp, [ta, tb], expected, a, b)  # type: ignore[misc]
        shape = tuple(expected.shape)
        for fwd in _fwds(prim):
            out, tan = _jvp_fused.BINARY[name](xp, fwd, a, b, ta, tb)
            _same(out, prim.forward(xp, a, b) if fwd is None else expected)
            np.testing.assert_allclose(
                np.broadcast_to(np.asarray(ad.tensor(tan).numpy()), shape),
                np.broadcast_to(np.asarray(ad.tensor(general).numpy()), shape),
                rtol=1e-6,
            )


def _jvp_paths(
    f: Callable[..., Any], xs: list[np.ndarray], us: list[np.ndarray | None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tangent of ``f`` at ``xs`` along ``us`` three ways: the fast path (inputs
    plain tensors; checked to stay on raw duals), the general path (inputs that require
    grad), central finite differences."""
    dt = _dtype()
    eps, atol, rtol = tolerances(dt)
    seen: list[bool] = []

    def watched(*args: Any) -> Any:
        out = f(*args)
        seen.append(isinstance(out, DualTensor) and out._pd is not None)
        return out

    tangents = [None if u is None else make(u, dt) for u in us]
    fast_out, fast = ad.jvp(watched, [make(x, dt) for x in xs], tangents)
    assert seen == [True], "the fast path did not run"
    slow_out, slow = ad.jvp(watched, [make(x, dt, requires_grad=True) for x in xs], tangents)
    assert seen == [True, False], "the general path did not run"
    np.testing.assert_allclose(_host(fast_out), _host(slow_out), rtol=1e-12, atol=0)
    assert fast.dtype == fast_out.dtype and fast.shape == fast_out.shape
    assert slow.dtype == slow_out.dtype and slow.shape == slow_out.shape

    def shifted(s: float) -> np.ndarray:
        args = [make(x + (0 if u is None else s * eps * u), dt) for x, u in zip(xs, us)]
        return _host(f(*args))

    fd = (shifted(1.0) - shifted(-1.0)) / (2 * eps)
    np.testing.assert_allclose(_host(fast), fd, atol=atol, rtol=rtol)
    return _host(fast), _host(slow), fd


@pytest.mark.parametrize("name", sorted(_UNARY_FN))
def test_fast_unary_against_general_and_fd(name: str, rng: np.random.Generator) -> None:
    x = _values(rng, (3, 4), name)
    u = rng.standard_normal((3, 4))
    fast, slow, _ = _jvp_paths(_UNARY_FN[name], [x], [u])
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(_BINARY_FN))
@pytest.mark.parametrize("which", ["a", "b", "both"])
def test_fast_binary_against_general_and_fd(
    name: str, which: str, rng: np.random.Generator
) -> None:
    for sa, sb in _shapes(name):
        xs = [_values(rng, sa, name), rng.uniform(0.5, 2.0, sb)]
        us = [
            rng.standard_normal(sa) if which != "b" else None,
            rng.standard_normal(sb) if which != "a" else None,
        ]
        fast, slow, _ = _jvp_paths(_BINARY_FN[name], xs, us)
        np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(_BINARY_FN))
def test_fast_binary_with_constants(name: str, rng: np.random.Generator) -> None:
    """A Python scalar or a plain tensor (no tangent) as the other operand, either side:
    ``x + c`` passes the tangent through."""
    if name == "matmul":
        c, d = make(rng.standard_normal((4, 4))), make(rng.standard_normal((2, 3)))
        pairs: list[Callable[[Any], Any]] = [lambda x: x @ c, lambda x: d @ x]
    else:
        fn = _BINARY_FN[name]
        c = make(rng.uniform(0.5, 2.0, (4,)))
        pairs = [
            lambda x: fn(x, 1.5),
            lambda x: fn(1.5, x),
            lambda x: fn(x, c),
            lambda x: fn(c, x),
        ]
    x = rng.uniform(0.5, 2.0, (3, 4))
    u = rng.standard_normal((3, 4))
    for g in pairs:
        fast, slow, _ = _jvp_paths(g, [x], [u])
        np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


def test_fast_path_chain_and_mixed_dtypes(rng: np.random.Generator) -> None:
    """A W1-style chain, and a float32 dual times a float64 constant (the tangent takes
    the output's dtype)."""

    def chain(y: Any) -> Any:
        for _ in range(10):
            y = (y * 1.0001 + 0.001).tanh()
        return ad.sum(ad.exp(y) / (1 + y * y))

    x, u = rng.uniform(-1, 1, 16), rng.standard_normal(16)
    fast, slow, _ = _jvp_paths(chain, [x], [u])
    np.testing.assert_allclose(fast, slow, rtol=1e-10)
    if not ad.get_backend().supports(ad.float64):
        pytest.skip("no float64 on this backend")
    c = make(rng.standard_normal(4), ad.float64)
    out, t = ad.jvp(lambda z: z * c, (make(x[:4], ad.float32),), (make(u[:4], ad.float32),))
    assert out.dtype == ad.float64 and t.dtype == ad.float64
    np.testing.assert_allclose(_host(t), u[:4].astype(np.float32) * _host(c), rtol=1e-6)


def test_zero_tangent_gives_a_plain_tensor() -> None:
    """A dual with a zero tangent: operations on it return the value of the level below,
    as on the general path."""
    kinds: list[type] = []

    def f(x: Any) -> Any:
        y = ad.tanh(x) * 2.0
        kinds.append(type(y))
        return y

    out, t = ad.jvp(f, (make([0.5, 1.0]),), (None,))
    assert kinds == [ad.Tensor]
    np.testing.assert_allclose(_host(t), 0.0)
    np.testing.assert_allclose(_host(out), 2 * np.tanh([0.5, 1.0]), rtol=1e-6)


def test_fast_path_stays_off_where_a_tape_watches(rng: np.random.Generator) -> None:
    """A parameter that requires grad, closed over by the jvp'd function (grad of a
    tangent): its operations leave the fast path, so the gradient is recorded; against
    the closed form d/dw sum(u w sech²(x w)) and finite differences."""
    x, u, w0 = rng.uniform(-1, 1, 5), rng.standard_normal(5), rng.uniform(0.5, 1.5, 5)
    dt = _dtype()
    eps, atol, rtol = tolerances(dt)

    def tangent_sum(w: Any) -> Any:
        return ad.sum(ad.jvp(lambda z: ad.tanh(z * w), (make(x, dt),), (make(u, dt),))[1])

    g = _host(ad.grad(tangent_sum)(make(w0, dt)))
    s = 1 - np.tanh(x * w0) ** 2  # sech²(x w)
    expected = u * s - 2 * u * w0 * x * np.tanh(x * w0) * s
    np.testing.assert_allclose(g, expected, atol=atol, rtol=rtol)
    e = np.eye(5)
    fd = [
        (
            float(tangent_sum(make(w0 + eps * e[i], dt)))
            - float(tangent_sum(make(w0 - eps * e[i], dt)))
        )
        / (2 * eps)
        for i in range(5)
    ]
    np.testing.assert_allclose(g, fd, atol=atol, rtol=rtol)
