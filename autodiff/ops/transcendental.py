"""Transcendental elementwise primitives: exponentials, logarithms, trigonometric and
hyperbolic functions, their inverses, sigmoid, logaddexp, hypot, atan2 and reciprocal.

Forward and gradient rule side by side, as array-API code on ``xp``; rules work at the
broadcast shape (the engine reduces and casts).
"""

from __future__ import annotations

import math
from typing import Any

from .._core import primitive
from ..engine import apply1, apply2
from ..tensor import Tensor
from ._rules import diagonal_jvp, elementwise
from ._util import as_tensor, scalar_or_tensor

__all__ = [
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cos",
    "cosh",
    "exp",
    "expm1",
    "hypot",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "reciprocal",
    "sigmoid",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
exp_p = primitive(
    "exp",
    lambda xp, a: xp.exp(a),
    lambda xp, g, ans, a: (g * ans,),
    holomorphic=True,
    jvp=diagonal_jvp("exp"),
    batch=elementwise("exp"),
)
log_p = primitive(
    "log",
    lambda xp, a: xp.log(a),
    lambda xp, g, ans, a: (g / a,),
    holomorphic=True,
    jvp=diagonal_jvp("log"),
    batch=elementwise("log"),
)
sin_p = primitive(
    "sin",
    lambda xp, a: xp.sin(a),
    lambda xp, g, ans, a: (g * xp.cos(a),),
    holomorphic=True,
    jvp=diagonal_jvp("sin"),
    batch=elementwise("sin"),
)
cos_p = primitive(
    "cos",
    lambda xp, a: xp.cos(a),
    lambda xp, g, ans, a: (-(g * xp.sin(a)),),
    holomorphic=True,
    jvp=diagonal_jvp("cos"),
    batch=elementwise("cos"),
)
# sqrt'(x) = 1 / (2 sqrt x); inf at 0, as in PyTorch
sqrt_p = primitive(
    "sqrt",
    lambda xp, a: xp.sqrt(a),
    lambda xp, g, ans, a: (g / (ans * 2),),
    holomorphic=True,
    jvp=diagonal_jvp("sqrt"),
    batch=elementwise("sqrt"),
)
# tanh' = 1 - tanh²
tanh_p = primitive(
    "tanh",
    lambda xp, a: xp.tanh(a),
    lambda xp, g, ans, a: (g * (1 - ans * ans),),
    holomorphic=True,
    jvp=diagonal_jvp("tanh"),
    batch=elementwise("tanh"),
)


def _sigmoid_fwd(xp: Any, a: Any) -> Any:
    if xp.isdtype(a.dtype, "complex floating"):
        return 1 / (1 + xp.exp(-a))  # no order on complex numbers: the plain formula
    # exp(-|x|) never overflows: 1/(1+e) for x >= 0, e/(1+e) for x < 0
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


# σ' = σ (1 - σ)
sigmoid_p = primitive(
    "sigmoid",
    _sigmoid_fwd,
    lambda xp, g, ans, a: (g * (ans * (1 - ans)),),
    holomorphic=True,
    jvp=diagonal_jvp("sigmoid"),
    batch=elementwise("sigmoid"),
)
tan_p = primitive(
    "tan",
    lambda xp, a: xp.tan(a),
    lambda xp, g, ans, a: (g * (1 + ans * ans),),
    holomorphic=True,
    jvp=diagonal_jvp("tan"),
    batch=elementwise("tan"),
)
asin_p = primitive(
    "asin",
    lambda xp, a: xp.asin(a),
    lambda xp, g, ans, a: (g / xp.sqrt(1 - a * a),),
    holomorphic=True,
    jvp=diagonal_jvp("asin"),
    batch=elementwise("asin"),
)
acos_p = primitive(
    "acos",
    lambda xp, a: xp.acos(a),
    lambda xp, g, ans, a: (-g / xp.sqrt(1 - a * a),),
    holomorphic=True,
    jvp=diagonal_jvp("acos"),
    batch=elementwise("acos"),
)
atan_p = primitive(
    "atan",
    lambda xp, a: xp.atan(a),
    lambda xp, g, ans, a: (g / (1 + a * a),),
    holomorphic=True,
    jvp=diagonal_jvp("atan"),
    batch=elementwise("atan"),
)
sinh_p = primitive(
    "sinh",
    lambda xp, a: xp.sinh(a),
    lambda xp, g, ans, a: (g * xp.cosh(a),),
    holomorphic=True,
    jvp=diagonal_jvp("sinh"),
    batch=elementwise("sinh"),
)
cosh_p = primitive(
    "cosh",
    lambda xp, a: xp.cosh(a),
    lambda xp, g, ans, a: (g * xp.sinh(a),),
    holomorphic=True,
    jvp=diagonal_jvp("cosh"),
    batch=elementwise("cosh"),
)
asinh_p = primitive(
    "asinh",
    lambda xp, a: xp.asinh(a),
    lambda xp, g, ans, a: (g / xp.sqrt(a * a + 1),),
    holomorphic=True,
    jvp=diagonal_jvp("asinh"),
    batch=elementwise("asinh"),
)


def _acosh_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # acosh'(z) = 1 / (sqrt(z - 1) sqrt(z + 1)): inf at 1, as in PyTorch; for complex z the
    # two roots (not sqrt((z-1)(z+1))) follow acosh's branch cut where Re z < 0
    if xp.isdtype(a.dtype, "complex floating"):
        return (g / (xp.sqrt(a - 1) * xp.sqrt(a + 1)),)
    return (g / xp.sqrt((a - 1) * (a + 1)),)


acosh_p = primitive(
    "acosh",
    lambda xp, a: xp.acosh(a),
    _acosh_vjp,
    holomorphic=True,
    jvp=diagonal_jvp("acosh"),
    batch=elementwise("acosh"),
)
atanh_p = primitive(
    "atanh",
    lambda xp, a: xp.atanh(a),
    lambda xp, g, ans, a: (g / (1 - a * a),),
    holomorphic=True,
    jvp=diagonal_jvp("atanh"),
    batch=elementwise("atanh"),
)
expm1_p = primitive(
    "expm1",
    lambda xp, a: xp.expm1(a),
    lambda xp, g, ans, a: (g * (ans + 1),),
    holomorphic=True,
    jvp=diagonal_jvp("expm1"),
    batch=elementwise("expm1"),
)
log1p_p = primitive(
    "log1p",
    lambda xp, a: xp.log1p(a),
    lambda xp, g, ans, a: (g / (a + 1),),
    holomorphic=True,
    jvp=diagonal_jvp("log1p"),
    batch=elementwise("log1p"),
)
log2_p = primitive(
    "log2",
    lambda xp, a: xp.log2(a),
    lambda xp, g, ans, a: (g / (a * _LN2),),
    holomorphic=True,
    jvp=diagonal_jvp("log2"),
    batch=elementwise("log2"),
)
log10_p = primitive(
    "log10",
    lambda xp, a: xp.log10(a),
    lambda xp, g, ans, a: (g / (a * _LN10),),
    holomorphic=True,
    jvp=diagonal_jvp("log10"),
    batch=elementwise("log10"),
)
# 1/x: d/dx = -1/x² = -ans²
reciprocal_p = primitive(
    "reciprocal",
    lambda xp, a: xp.reciprocal(a),
    lambda xp, g, ans, a: (-(g * ans * ans),),
    holomorphic=True,
    jvp=diagonal_jvp("reciprocal"),
    batch=elementwise("reciprocal"),
)


def _logaddexp_side(xp: Any, g: Any, ans: Any, x: Any, y: Any) -> Any:
    # d/dx log(e^x + e^y) = sigmoid(x - y), from the inputs rather than e^(x - ans) (ans
    # rounds: at x = y = 1e20 that gives 1, not 0.5); both inputs -inf gives 0, not NaN
    empty = ans == -math.inf
    d = xp.where(empty, 0.0, x) - y  # (0 - -inf, not -inf - -inf: no invalid-value warning)
    e = xp.exp(-xp.abs(d))
    s = xp.where(d >= 0, 1 / (1 + e), e / (1 + e))
    return xp.where(empty, 0.0, g * s)


logaddexp_p = primitive(
    "logaddexp",
    lambda xp, a, b: xp.logaddexp(a, b),
    vjps=(
        lambda xp, g, ans, a, b: _logaddexp_side(xp, g, ans, a, b),
        lambda xp, g, ans, a, b: _logaddexp_side(xp, g, ans, b, a),
    ),
    jvp=diagonal_jvp("logaddexp"),
    batch=elementwise("logaddexp"),
)


def _hypot_side(xp: Any, g: Any, ans: Any, x: Any) -> Any:
    # d hypot / dx = x / hypot; 0 at the origin (the subgradient PyTorch picks)
    safe = xp.where(ans == 0, 1.0, ans)
    return xp.where(ans == 0, 0.0, g * x / safe)


hypot_p = primitive(
    "hypot",
    lambda xp, a, b: xp.hypot(a, b),
    vjps=(
        lambda xp, g, ans, a, b: _hypot_side(xp, g, ans, a),
        lambda xp, g, ans, a, b: _hypot_side(xp, g, ans, b),
    ),
    jvp=diagonal_jvp("hypot"),
    batch=elementwise("hypot"),
)


def _atan2_side(xp: Any, g: Any, num: Any, y: Any, x: Any) -> Any:
    # num / (x² + y²); 0 at the origin (PyTorch's choice, docs/conventions.md)
    r2 = x * x + y * y
    zero = r2 == 0
    return xp.where(zero, 0.0, g * num / xp.where(zero, 1.0, r2))


# atan2(y, x): d/dy = x / (x² + y²), d/dx = -y / (x² + y²)
atan2_p = primitive(
    "atan2",
    lambda xp, y, x: xp.atan2(y, x),
    vjps=(
        lambda xp, g, ans, y, x: _atan2_side(xp, g, x, y, x),
        lambda xp, g, ans, y, x: _atan2_side(xp, g, -y, y, x),
    ),
    jvp=diagonal_jvp("atan2"),
    batch=elementwise("atan2"),
)


def exp(x: Any, /) -> Tensor:
    """Elementwise e**x.

    Examples
    --------
    >>> import autodiff as ad
    >>> f"{ad.exp(ad.tensor(1.0)).item():.6f}"
    '2.718282'
    """
    return apply1(exp_p, as_tensor(x))


def log(x: Any, /) -> Tensor:
    """Elementwise natural logarithm.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.log(ad.tensor(1.0)).item()
    0.0
    """
    return apply1(log_p, as_tensor(x))


def sin(x: Any, /) -> Tensor:
    """Elementwise sine.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.sin(ad.tensor(0.0)).item()
    0.0
    """
    return apply1(sin_p, as_tensor(x))


def cos(x: Any, /) -> Tensor:
    """Elementwise cosine.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.cos(ad.tensor(0.0)).item()
    1.0
    """
    return apply1(cos_p, as_tensor(x))


def sqrt(x: Any, /) -> Tensor:
    """Elementwise square root; its derivative at 0 is inf (as in PyTorch).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.sqrt(ad.tensor([4.0, 9.0])).tolist()
    [2.0, 3.0]
    """
    return apply1(sqrt_p, as_tensor(x))


def tanh(x: Any, /) -> Tensor:
    """Elementwise hyperbolic tangent.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.tanh(ad.tensor(0.0)).item()
    0.0
    """
    return apply1(tanh_p, as_tensor(x))


def sigmoid(x: Any, /) -> Tensor:
    """Elementwise logistic function, computed without overflow.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.sigmoid(ad.tensor([0.0, 1000.0])).tolist()
    [0.5, 1.0]
    """
    return apply1(sigmoid_p, as_tensor(x))


def tan(x: Any, /) -> Tensor:
    """Elementwise tangent.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.tan(ad.tensor(0.0)).item()
    0.0
    """
    return apply1(tan_p, as_tensor(x))


def asin(x: Any, /) -> Tensor:
    """Elementwise arcsine; the gradient is inf at ±1.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.asin(ad.tensor(0.0)).item()
    0.0
    """
    return apply1(asin_p, as_tensor(x))


def acos(x: Any, /) -> Tensor:
    """Elementwise arccosine; the gradient is -inf at ±1.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.acos(ad.tensor(1.0)).item()
    0.0
    """
    return apply1(acos_p, as_tensor(x))


def atan(x: Any, /) -> Tensor:
    """Elementwise arctangent.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.atan(ad.tensor(0.0)).item()
    0.0
    """
    return apply1(atan_p, as_tensor(x))


def sinh(x: Any, /) -> Tensor:
    """Elementwise hyperbolic sine.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.sinh(ad.tensor(0.0)).item()
    0.0
    """
    return apply1(sinh_p, as_tensor(x))


def cosh(x: Any, /) -> Tensor:
    """Elementwise hyperbolic cosine.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.cosh(ad.tensor(0.0)).item()
    1.0
    """
    return apply1(cosh_p, as_tensor(x))


def asinh(x: Any, /) -> Tensor:
    """Elementwise inverse hyperbolic sine.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.asinh(ad.tensor(0.0)).item()
    0.0
    """
    return apply1(asinh_p, as_tensor(x))


def acosh(x: Any, /) -> Tensor:
    """Elementwise inverse hyperbolic cosine; the gradient is inf at 1.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.acosh(ad.tensor(1.0)).item()
    0.0
    """
    return apply1(acosh_p, as_tensor(x))


def atanh(x: Any, /) -> Tensor:
    """Elementwise inverse hyperbolic tangent.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.atanh(ad.tensor(0.0)).item()
    0.0
    """
    return apply1(atanh_p, as_tensor(x))


def expm1(x: Any, /) -> Tensor:
    """Elementwise ``exp(x) - 1``, accurate near 0.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.expm1(ad.tensor(1e-10)).item()
    1.00000000005e-10
    """
    return apply1(expm1_p, as_tensor(x))


def log1p(x: Any, /) -> Tensor:
    """Elementwise ``log(1 + x)``, accurate near 0.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.log1p(ad.tensor(1e-10)).item()
    9.9999999995e-11
    """
    return apply1(log1p_p, as_tensor(x))


def log2(x: Any, /) -> Tensor:
    """Elementwise base-2 logarithm.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.log2(ad.tensor(8.0)).item()
    3.0
    """
    return apply1(log2_p, as_tensor(x))


def log10(x: Any, /) -> Tensor:
    """Elementwise base-10 logarithm.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.log10(ad.tensor(100.0)).item()
    2.0
    """
    return apply1(log10_p, as_tensor(x))


def logaddexp(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``log(exp(x1) + exp(x2))`` without overflow; where both are -inf the gradient
    is 0.

    Examples
    --------
    >>> import autodiff as ad
    >>> f"{ad.logaddexp(0.0, ad.tensor(0.0)).item():.6f}"
    '0.693147'
    """
    return apply2(logaddexp_p, *scalar_or_tensor(x1, x2))


def hypot(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``sqrt(x1**2 + x2**2)`` without overflow; the gradient at the origin is 0.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.hypot(ad.tensor(3.0), 4.0).item()
    5.0
    """
    return apply2(hypot_p, *scalar_or_tensor(x1, x2))


def atan2(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise angle of the point ``(x2, x1)``, in radians.

    Examples
    --------
    >>> import autodiff as ad
    >>> f"{ad.atan2(ad.tensor(1.0), 1.0).item():.6f}"
    '0.785398'
    """
    return apply2(atan2_p, *scalar_or_tensor(x1, x2))


def reciprocal(x: Any, /) -> Tensor:
    """Elementwise ``1 / x``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.reciprocal(ad.tensor(4.0)).item()
    0.25
    """
    return apply1(reciprocal_p, as_tensor(x))
