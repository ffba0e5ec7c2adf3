"""Fused JVP rules for forward mode's fast path: the output *and* its tangent of the
hottest primitives, on raw arrays, in one call with no per-input loop.

``ad.jvp``'s fast path (``autodiff._forward_fast``) calls::

    unary(xp, fwd, a, t, **params) -> (out, tangent)
    binary(xp, fwd, a, b, ta, tb) -> (out, tangent)

``fwd`` is the backend's kernel for the primitive, or ``None``: the rule then computes
the output with the primitive's own generic forward, written inline (the expression of
``forward=`` at the primitive's definition; a test checks they agree bit for bit), which
saves a call per operation. ``t``/``ta``/``tb`` is ``None`` for a zero tangent (a
constant operand, a Python scalar), and so is the returned tangent. A tangent may have a
broadcast input's shape or a weaker dtype: the caller fits it to ``out`` (so ``x + c``
passes ``x``'s tangent through, uncopied). Each rule's tangent is what the primitive's
general JVP rule (``jvp=`` at its definition, derived from its VJP rules) computes;
``tests/test_jvp_fast.py`` checks them against it, against the general path and against
finite differences. Written against the array API, as every rule in ``autodiff.ops``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._core import PRIMITIVES

__all__ = ["BINARY", "ELEMENTWISE", "UNARY"]


def _add(xp: Any, fwd: Any, a: Any, b: Any, ta: Any, tb: Any) -> Any:
    out = a + b if fwd is None else fwd(xp, a, b)
    if tb is None:
        return out, ta
    return out, (tb if ta is None else ta + tb)


def _subtract(xp: Any, fwd: Any, a: Any, b: Any, ta: Any, tb: Any) -> Any:
    out = a - b if fwd is None else fwd(xp, a, b)
    if tb is None:
        return out, ta
    return out, (-tb if ta is None else ta - tb)


def _multiply(xp: Any, fwd: Any, a: Any, b: Any, ta: Any, tb: Any) -> Any:
    out = a * b if fwd is None else fwd(xp, a, b)
    if tb is None:
        return out, ta * b
    if ta is None:
        return out, tb * a
    return out, ta * b + tb * a


def _divide(xp: Any, fwd: Any, a: Any, b: Any, ta: Any, tb: Any) -> Any:
    # d(a/b) = da / b - (a/b) db / b
    out = a / b if fwd is None else fwd(xp, a, b)
    if tb is None:
        return out, ta / b
    term = -(tb * out) / b
    return out, (term if ta is None else ta / b + term)


def _matmul(xp: Any, fwd: Any, a: Any, b: Any, ta: Any, tb: Any) -> Any:
    # bilinear: f(ta, b) + f(a, tb), each with the forward the call runs
    f = fwd if fwd is not None else _matmul_fwd
    out = f(xp, a, b)
    if tb is None:
        return out, f(xp, ta, b)
    if ta is None:
        return out, f(xp, a, tb)
    return out, f(xp, ta, b) + f(xp, a, tb)


def _matmul_fwd(xp: Any, a: Any, b: Any) -> Any:
    return xp.matmul(a, b)


def _sum(xp: Any, fwd: Any, a: Any, t: Any, **params: Any) -> Any:
    # linear: the primitive applied to the tangent
    f = fwd if fwd is not None else _sum_fwd
    return f(xp, a, **params), f(xp, t, **params)


def _sum_fwd(xp: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return xp.sum(a, axis=axis, keepdims=keepdims)


def _mean(xp: Any, fwd: Any, a: Any, t: Any, **params: Any) -> Any:
    f = fwd if fwd is not None else _mean_fwd
    return f(xp, a, **params), f(xp, t, **params)


def _mean_fwd(xp: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return xp.mean(a, axis=axis, keepdims=keepdims)


def _negative(xp: Any, fwd: Any, a: Any, t: Any) -> Any:
    return (-a if fwd is None else fwd(xp, a)), -t


def _tanh(xp: Any, fwd: Any, a: Any, t: Any) -> Any:
    out = xp.tanh(a) if fwd is None else fwd(xp, a)
    return out, t * (1 - out * out)


def _exp(xp: Any, fwd: Any, a: Any, t: Any) -> Any:
    out = xp.exp(a) if fwd is None else fwd(xp, a)
    return out, t * out


def _log(xp: Any, fwd: Any, a: Any, t: Any) -> Any:
    return (xp.log(a) if fwd is None else fwd(xp, a)), t / a


def _sqrt(xp: Any, fwd: Any, a: Any, t: Any) -> Any:
    out = xp.sqrt(a) if fwd is None else fwd(xp, a)
    return out, t / (out * 2)


def _square(xp: Any, fwd: Any, a: Any, t: Any) -> Any:
    return (xp.square(a) if fwd is None else fwd(xp, a)), t * (a * 2)


def _sigmoid(xp: Any, fwd: Any, a: Any, t: Any) -> Any:
    out = (fwd if fwd is not None else PRIMITIVES["sigmoid"].forward)(xp, a)
    return out, t * (out * (1 - out))


def _relu(xp: Any, fwd: Any, a: Any, t: Any) -> Any:
    out = xp.maximum(a, 0) if fwd is None else fwd(xp, a)
    return out, xp.where(a <= 0, 0.0, t)


#: one-input primitives by name: ``rule(xp, fwd, a, t, **params) -> (out, tangent)``
UNARY: dict[str, Callable[..., Any]] = {
    "negative": _negative,
    "tanh": _tanh,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "square": _square,
    "sigmoid": _sigmoid,
    "relu": _relu,
    "sum": _sum,
    "mean": _mean,
}

#: two-input primitives by name: ``rule(xp, fwd, a, b, ta, tb) -> (out, tangent)``
BINARY: dict[str, Callable[..., Any]] = {
    "add": _add,
    "subtract": _subtract,
    "multiply": _multiply,
    "divide": _divide,
    "matmul": _matmul,
}

#: the unary rules whose tangent has the output's shape and dtype whatever the input
#: (elementwise and dtype-preserving on a floating input, whose tangent has its dtype)
ELEMENTWISE = frozenset(("negative", "tanh", "exp", "log", "sqrt", "square", "sigmoid", "relu"))
