"""Rounding, float tests, logic, copysign, nextafter, maximum, minimum and clip.

Rounding, the float tests and logic are piecewise constant: their results never require
grad. ``copysign``, ``nextafter``, ``maximum``, ``minimum`` and ``clip`` pass gradients to the inputs they take
their magnitude or value from.
"""

from __future__ import annotations

import math
from typing import Any

from .._core import primitive
from ..engine import apply1, apply2
from ..tensor import Tensor
from ._rules import diagonal_jvp, elementwise
from ._util import as_tensor, scalar_or_tensor
from .elementwise import greater, less, positive, where

__all__ = [
    "ceil",
    "clip",
    "copysign",
    "floor",
    "isfinite",
    "isinf",
    "isnan",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "nextafter",
    "round",
    "signbit",
    "trunc",
]

# -- rounding and float tests (results never require grad) -------------------------

floor_p = primitive("floor", lambda xp, a: xp.floor(a), batch=elementwise("floor"))
ceil_p = primitive("ceil", lambda xp, a: xp.ceil(a), batch=elementwise("ceil"))
round_p = primitive("round", lambda xp, a: xp.round(a), batch=elementwise("round"))
trunc_p = primitive("trunc", lambda xp, a: xp.trunc(a), batch=elementwise("trunc"))
signbit_p = primitive("signbit", lambda xp, a: xp.signbit(a), batch=elementwise("signbit"))
isnan_p = primitive("isnan", lambda xp, a: xp.isnan(a), batch=elementwise("isnan"))
isinf_p = primitive("isinf", lambda xp, a: xp.isinf(a), batch=elementwise("isinf"))
isfinite_p = primitive("isfinite", lambda xp, a: xp.isfinite(a), batch=elementwise("isfinite"))


def floor(x: Any, /) -> Tensor:
    """Round down; the result does not require grad.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.floor(ad.tensor(1.5)).item()
    1.0
    """
    return apply1(floor_p, as_tensor(x))


def ceil(x: Any, /) -> Tensor:
    """Round up; the result does not require grad.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.ceil(ad.tensor(1.5)).item()
    2.0
    """
    return apply1(ceil_p, as_tensor(x))


def round(x: Any, /) -> Tensor:  # noqa: A001 - the standard's name
    """Round half to even; the result does not require grad.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.round(ad.tensor(2.5)).item()
    2.0
    """
    return apply1(round_p, as_tensor(x))


def trunc(x: Any, /) -> Tensor:
    """Round toward zero; the result does not require grad.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.trunc(ad.tensor(-1.5)).item()
    -1.0
    """
    return apply1(trunc_p, as_tensor(x))


def signbit(x: Any, /) -> Tensor:
    """True where the sign bit is set (also for -0.0).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.signbit(ad.tensor([-0.0, 1.0])).tolist()
    [True, False]
    """
    return apply1(signbit_p, as_tensor(x))


def isnan(x: Any, /) -> Tensor:
    """True where an element is NaN.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.isnan(ad.tensor([ad.nan, 1.0])).tolist()
    [True, False]
    """
    return apply1(isnan_p, as_tensor(x))


def isinf(x: Any, /) -> Tensor:
    """True where an element is ±inf.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.isinf(ad.tensor([ad.inf, 1.0])).tolist()
    [True, False]
    """
    return apply1(isinf_p, as_tensor(x))


def isfinite(x: Any, /) -> Tensor:
    """True where an element is neither NaN nor ±inf.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.isfinite(ad.tensor([ad.inf, 1.0])).tolist()
    [False, True]
    """
    return apply1(isfinite_p, as_tensor(x))


# -- logic (results never require grad) --------------------------------------------

logical_not_p = primitive(
    "logical_not", lambda xp, a: xp.logical_not(a), batch=elementwise("logical_not")
)
logical_and_p = primitive(
    "logical_and", lambda xp, a, b: xp.logical_and(a, b), batch=elementwise("logical_and")
)
logical_or_p = primitive(
    "logical_or", lambda xp, a, b: xp.logical_or(a, b), batch=elementwise("logical_or")
)
logical_xor_p = primitive(
    "logical_xor", lambda xp, a, b: xp.logical_xor(a, b), batch=elementwise("logical_xor")
)


def logical_not(x: Any, /) -> Tensor:
    """Elementwise NOT of a bool tensor.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.logical_not(ad.tensor([True, False])).tolist()
    [False, True]
    """
    return apply1(logical_not_p, as_tensor(x))


def logical_and(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise AND of bool tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.logical_and(ad.tensor([True, True]), ad.tensor([True, False])).tolist()
    [True, False]
    """
    return apply2(logical_and_p, *scalar_or_tensor(x1, x2))


def logical_or(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise OR of bool tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.logical_or(ad.tensor([True, False]), ad.tensor([False, False])).tolist()
    [True, False]
    """
    return apply2(logical_or_p, *scalar_or_tensor(x1, x2))


def logical_xor(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise XOR of bool tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.logical_xor(ad.tensor([True, True]), ad.tensor([True, False])).tolist()
    [False, True]
    """
    return apply2(logical_xor_p, *scalar_or_tensor(x1, x2))


# -- sign and ulp ------------------------------------------------------------------


def _copysign_da(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    # copysign(a, b) = |a| sign(b): d/da = ±1 (+ where a and the result share a sign),
    # 0 at a = 0, NaN at a = NaN on every backend (their sign(NaN) differ); d/db = 0
    flip = xp.where(xp.signbit(a) == xp.signbit(ans), g, -g)
    return xp.where(a == 0, 0.0, xp.where(xp.isnan(a), math.nan, flip))


copysign_p = primitive(
    "copysign",
    lambda xp, a, b: xp.copysign(a, b),
    vjps=(_copysign_da, None),
    jvp=diagonal_jvp("copysign"),
    batch=elementwise("copysign"),
)
# nextafter moves x1 by one ulp: d/dx1 = 1 (as PyTorch), x2 only picks a direction; where
# x1 == x2 the result is x2 itself (IEEE), and x1 gets 0, as PyTorch
nextafter_p = primitive(
    "nextafter",
    lambda xp, a, b: xp.nextafter(a, b),
    vjps=(lambda xp, g, ans, a, b: xp.where(a == b, 0.0, g), None),
    jvp=diagonal_jvp("nextafter"),
    batch=elementwise("nextafter"),
)


def copysign(x1: Any, x2: Any, /) -> Tensor:
    """Magnitude of ``x1`` with the sign of ``x2``; differentiable in ``x1``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.copysign(ad.tensor(2.0), -1.0).item()
    -2.0
    """
    return apply2(copysign_p, *scalar_or_tensor(x1, x2))


def nextafter(x1: Any, x2: Any, /) -> Tensor:
    """The next representable float after ``x1`` toward ``x2``; the gradient is 1 in ``x1`` and
    none in ``x2``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nextafter(ad.tensor(1.0), 2.0).item() > 1.0
    True
    """
    return apply2(nextafter_p, *scalar_or_tensor(x1, x2))


# -- maximum, minimum and clip -----------------------------------------------------


def _pick(xp: Any, g: Any, lose: Any, tie: Any) -> Any:
    # the larger (smaller) input takes g; ties share it equally; an input that does not
    # lose (NaN against anything) keeps g, as in PyTorch (docs/conventions.md)
    return xp.where(tie, g * 0.5, xp.where(lose, 0.0, g))


maximum_p = primitive(
    "maximum",
    lambda xp, a, b: xp.maximum(a, b),
    vjps=(
        lambda xp, g, ans, a, b: _pick(xp, g, a < b, a == b),
        lambda xp, g, ans, a, b: _pick(xp, g, b < a, a == b),
    ),
    jvp=diagonal_jvp("maximum"),
    batch=elementwise("maximum"),
)
minimum_p = primitive(
    "minimum",
    lambda xp, a, b: xp.minimum(a, b),
    vjps=(
        lambda xp, g, ans, a, b: _pick(xp, g, a > b, a == b),
        lambda xp, g, ans, a, b: _pick(xp, g, b > a, a == b),
    ),
    jvp=diagonal_jvp("minimum"),
    batch=elementwise("minimum"),
)


def maximum(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise maximum; where the inputs tie, each gets half the gradient.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.maximum(ad.tensor([1.0, 5.0]), 2.0).tolist()
    [2.0, 5.0]
    """
    return apply2(maximum_p, *scalar_or_tensor(x1, x2))


def minimum(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise minimum; where the inputs tie, each gets half the gradient.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.minimum(ad.tensor([1.0, 5.0]), 2.0).tolist()
    [1.0, 2.0]
    """
    return apply2(minimum_p, *scalar_or_tensor(x1, x2))


def clip(x: Any, /, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp ``x`` to ``[min, max]`` (either bound may be None, a number or a tensor).

    The gradient goes to ``x`` where it lies inside the bounds (ends included, as in
    PyTorch) and to a tensor bound where that bound is the result.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.clip(ad.tensor([-2.0, 0.5, 3.0]), -1.0, 1.0).tolist()
    [-1.0, 0.5, 1.0]
    """
    x = as_tensor(x)
    lo, hi = min, max
    if lo is None and hi is None:
        return positive(x)
    out = x
    if lo is not None:
        out = where(_beyond(x, lo, less), _bound(lo, x), out)
    if hi is not None:
        out = where(_beyond(x, hi, greater), _bound(hi, x), out)
    if out.dtype != x.dtype:
        out = out.astype(x.dtype)
    return out


def _bound(b: Any, x: Tensor) -> Any:
    # a clip bound as where() takes it: a tensor, or an int or float left as a scalar
    if isinstance(b, (Tensor, int)) or (isinstance(b, float) and not math.isnan(b)):
        return b
    return as_tensor(b, x)


def _beyond(x: Tensor, b: Any, past: Any) -> Tensor:
    # where the bound wins: x is past it, or it is NaN (NaN propagates, as in NumPy)
    b = _bound(b, x)
    if isinstance(b, Tensor) and b.dtype.is_floating:
        return logical_or(past(x, b), isnan(b))
    return past(x, b)
