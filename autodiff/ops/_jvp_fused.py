"""Raw JVP rules for forward mode's fast path: the tangent of the hottest primitives
computed directly on raw arrays, in one call, with no per-input loop.

``ad.jvp``'s fast path (``autodiff._forward``) runs the primitive's forward on the
primal arrays and then one of these rules for the tangent::

    unary(xp, fwd, out, t, a, **params) -> tangent
    binary(xp, fwd, out, ta, tb, a, b) -> tangent

``fwd`` is the forward the call ran (the backend's kernel, or ``Primitive.forward``):
a linear primitive's tangent is that forward applied to the tangent. ``t``/``ta``/``tb``
is ``None`` for a zero tangent (a constant operand, a Python scalar); the result is
``None`` for a zero tangent. A tangent may have a broadcast input's shape or a weaker
dtype: the caller fits it to ``out`` (so ``x + c`` passes ``x``'s tangent through,
uncopied). Each rule computes what the primitive's general JVP rule (``jvp=`` at its
definition, derived from its VJP rules) computes; ``tests/test_forward_mode.py`` checks
them against it and against finite differences. Written against the array API, as every
rule in ``autodiff.ops``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["BINARY", "UNARY"]


def _add(xp: Any, fwd: Any, out: Any, ta: Any, tb: Any, a: Any, b: Any) -> Any:
    if tb is None:
        return ta
    if ta is None:
        return tb
    return ta + tb


def _subtract(xp: Any, fwd: Any, out: Any, ta: Any, tb: Any, a: Any, b: Any) -> Any:
    if tb is None:
        return ta
    if ta is None:
        return -tb
    return ta - tb


def _multiply(xp: Any, fwd: Any, out: Any, ta: Any, tb: Any, a: Any, b: Any) -> Any:
    if tb is None:
        return ta * b
    if ta is None:
        return tb * a
    return ta * b + tb * a


def _divide(xp: Any, fwd: Any, out: Any, ta: Any, tb: Any, a: Any, b: Any) -> Any:
    # d(a/b) = da / b - (a/b) db / b
    if tb is None:
        return ta / b
    term = -(tb * out) / b
    return term if ta is None else ta / b + term


def _bilinear(xp: Any, fwd: Any, out: Any, ta: Any, tb: Any, a: Any, b: Any) -> Any:
    # matmul: f(ta, b) + f(a, tb), each with the forward the call ran
    if tb is None:
        return fwd(xp, ta, b)
    if ta is None:
        return fwd(xp, a, tb)
    return fwd(xp, ta, b) + fwd(xp, a, tb)


def _linear(xp: Any, fwd: Any, out: Any, t: Any, a: Any, **params: Any) -> Any:
    # sum, mean, reshape...: the primitive applied to the tangent
    return fwd(xp, t, **params) if params else fwd(xp, t)


def _negative(xp: Any, fwd: Any, out: Any, t: Any, a: Any) -> Any:
    return -t


def _tanh(xp: Any, fwd: Any, out: Any, t: Any, a: Any) -> Any:
    return t * (1 - out * out)


def _exp(xp: Any, fwd: Any, out: Any, t: Any, a: Any) -> Any:
    return t * out


def _log(xp: Any, fwd: Any, out: Any, t: Any, a: Any) -> Any:
    return t / a


def _sqrt(xp: Any, fwd: Any, out: Any, t: Any, a: Any) -> Any:
    return t / (out * 2)


def _square(xp: Any, fwd: Any, out: Any, t: Any, a: Any) -> Any:
    return t * (a * 2)


def _sigmoid(xp: Any, fwd: Any, out: Any, t: Any, a: Any) -> Any:
    return t * (out * (1 - out))


def _relu(xp: Any, fwd: Any, out: Any, t: Any, a: Any) -> Any:
    return xp.where(a <= 0, 0.0, t)


#: one-input primitives by name: ``rule(xp, fwd, out, t, a, **params)``
UNARY: dict[str, Callable[..., Any]] = {
    "negative": _negative,
    "tanh": _tanh,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "square": _square,
    "sigmoid": _sigmoid,
    "relu": _relu,
    "sum": _linear,
    "mean": _linear,
}

#: two-input primitives by name: ``rule(xp, fwd, out, ta, tb, a, b)``
BINARY: dict[str, Callable[..., Any]] = {
    "add": _add,
    "subtract": _subtract,
    "multiply": _multiply,
    "divide": _divide,
    "matmul": _bilinear,
}
