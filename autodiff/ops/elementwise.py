"""Elementwise primitives: forward and gradient rule side by side.

Every rule is array-API code on ``xp`` (the backend's namespace in first
order, ``autodiff`` itself under ``create_graph=True``). The engine reduces
broadcast dimensions and casts, so rules work at the broadcast shape.
"""

from __future__ import annotations

import math
from typing import Any

from ..engine import apply1, apply2, primitive
from ..tensor import Tensor
from ._util import as_tensor, scalar_or_tensor

__all__ = [
    "abs",
    "add",
    "cos",
    "divide",
    "equal",
    "exp",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "log",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "not_equal",
    "positive",
    "pow",
    "relu",
    "sigmoid",
    "sign",
    "sin",
    "sqrt",
    "subtract",
    "tanh",
    "where",
]

# -- arithmetic ----------------------------------------------------------------

# d(a+b) = da + db
add_p = primitive("add", lambda xp, a, b: a + b, lambda xp, g, ans, a, b: (g, g))
# d(a-b) = da - db
sub_p = primitive("subtract", lambda xp, a, b: a - b, lambda xp, g, ans, a, b: (g, -g))
# d(ab) = b da + a db
mul_p = primitive(
    "multiply",
    lambda xp, a, b: a * b,
    vjps=(lambda xp, g, ans, a, b: g * b, lambda xp, g, ans, a, b: g * a),
)
# d(a/b) = da / b - (a/b) db / b
div_p = primitive(
    "divide",
    lambda xp, a, b: a / b,
    vjps=(lambda xp, g, ans, a, b: g / b, lambda xp, g, ans, a, b: -(g * ans) / b),
)
neg_p = primitive("negative", lambda xp, a: -a, lambda xp, g, ans, a: (-g,))
pos_p = primitive("positive", lambda xp, a: +a, lambda xp, g, ans, a: (g,))


def _pow_da(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    # d(a**b)/da = b a**(b-1); 0 where b == 0 (PyTorch's convention: no 0 * inf)
    if isinstance(b, (int, float)):
        if b == 0:
            return g * 0
        return g * (b * a ** (b - 1))
    return xp.where(b == 0, 0.0, g * (b * a ** (b - 1)))


def _pow_db(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    # d(a**b)/db = a**b log(a); at a == 0 the limit 0 is used (PyTorch's convention)
    if isinstance(a, (int, float)):
        if a == 0:
            return g * 0
        return g * ans * (math.log(a) if a > 0 else math.nan)
    safe = xp.where(a == 0, 1.0, a)
    return xp.where(a == 0, 0.0, g * ans * xp.log(safe))


pow_p = primitive("pow", lambda xp, a, b: a**b, vjps=(_pow_da, _pow_db))


def add(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 + x2``, broadcasting. Python scalars mix in.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.add(ad.tensor([1.0, 2.0]), 1.0).tolist()
    [2.0, 3.0]
    """
    return apply2(add_p, *scalar_or_tensor(x1, x2))


def subtract(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 - x2``, broadcasting."""
    return apply2(sub_p, *scalar_or_tensor(x1, x2))


def multiply(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 * x2``, broadcasting."""
    return apply2(mul_p, *scalar_or_tensor(x1, x2))


def divide(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise true division ``x1 / x2``, broadcasting."""
    return apply2(div_p, *scalar_or_tensor(x1, x2))


def negative(x: Any, /) -> Tensor:
    """Elementwise ``-x``."""
    return apply1(neg_p, as_tensor(x))


def positive(x: Any, /) -> Tensor:
    """Elementwise ``+x``."""
    return apply1(pos_p, as_tensor(x))


def pow(x1: Any, x2: Any, /) -> Tensor:  # noqa: A001 - the standard's name
    """Elementwise ``x1 ** x2``; differentiable in base and exponent.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.pow(ad.tensor([2.0, 3.0]), 2).tolist()
    [4.0, 9.0]
    """
    return apply2(pow_p, *scalar_or_tensor(x1, x2))


# -- transcendental ------------------------------------------------------------

exp_p = primitive("exp", lambda xp, a: xp.exp(a), lambda xp, g, ans, a: (g * ans,))
log_p = primitive("log", lambda xp, a: xp.log(a), lambda xp, g, ans, a: (g / a,))
sin_p = primitive("sin", lambda xp, a: xp.sin(a), lambda xp, g, ans, a: (g * xp.cos(a),))
cos_p = primitive("cos", lambda xp, a: xp.cos(a), lambda xp, g, ans, a: (-(g * xp.sin(a)),))
# sqrt'(x) = 1 / (2 sqrt x); inf at 0, as in PyTorch
sqrt_p = primitive("sqrt", lambda xp, a: xp.sqrt(a), lambda xp, g, ans, a: (g / (ans * 2),))
# tanh' = 1 - tanh²
tanh_p = primitive("tanh", lambda xp, a: xp.tanh(a), lambda xp, g, ans, a: (g * (1 - ans * ans),))


def _sigmoid_fwd(xp: Any, a: Any) -> Any:
    # exp(-|x|) never overflows: 1/(1+e) for x >= 0, e/(1+e) for x < 0
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


# σ' = σ (1 - σ)
sigmoid_p = primitive("sigmoid", _sigmoid_fwd, lambda xp, g, ans, a: (g * (ans * (1 - ans)),))
# relu'(0) = 0
relu_p = primitive(
    "relu", lambda xp, a: xp.maximum(a, 0), lambda xp, g, ans, a: (xp.where(a > 0, g, 0.0),)
)
# abs'(x) = sign(x), so abs'(0) = 0
abs_p = primitive("abs", lambda xp, a: xp.abs(a), lambda xp, g, ans, a: (g * xp.sign(a),))


def _pick(xp: Any, g: Any, win: Any, tie: Any) -> Any:
    # the larger (smaller) input takes g; ties share it equally
    return xp.where(tie, g * 0.5, xp.where(win, g, 0.0))


maximum_p = primitive(
    "maximum",
    lambda xp, a, b: xp.maximum(a, b),
    vjps=(
        lambda xp, g, ans, a, b: _pick(xp, g, a > b, a == b),
        lambda xp, g, ans, a, b: _pick(xp, g, b > a, a == b),
    ),
)
minimum_p = primitive(
    "minimum",
    lambda xp, a, b: xp.minimum(a, b),
    vjps=(
        lambda xp, g, ans, a, b: _pick(xp, g, a < b, a == b),
        lambda xp, g, ans, a, b: _pick(xp, g, b < a, a == b),
    ),
)


def exp(x: Any, /) -> Tensor:
    """Elementwise e**x.

    Examples
    --------
    >>> import autodiff as ad
    >>> round(ad.exp(ad.tensor(1.0)).item(), 6)
    2.718282
    """
    return apply1(exp_p, as_tensor(x))


def log(x: Any, /) -> Tensor:
    """Elementwise natural logarithm."""
    return apply1(log_p, as_tensor(x))


def sin(x: Any, /) -> Tensor:
    """Elementwise sine."""
    return apply1(sin_p, as_tensor(x))


def cos(x: Any, /) -> Tensor:
    """Elementwise cosine."""
    return apply1(cos_p, as_tensor(x))


def sqrt(x: Any, /) -> Tensor:
    """Elementwise square root; its derivative at 0 is inf (as in PyTorch)."""
    return apply1(sqrt_p, as_tensor(x))


def tanh(x: Any, /) -> Tensor:
    """Elementwise hyperbolic tangent."""
    return apply1(tanh_p, as_tensor(x))


def sigmoid(x: Any, /) -> Tensor:
    """Elementwise logistic function, computed without overflow."""
    return apply1(sigmoid_p, as_tensor(x))


def relu(x: Any, /) -> Tensor:
    """Elementwise ``max(x, 0)``; the gradient at 0 is 0.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.relu(ad.tensor([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.0, 2.0]
    """
    return apply1(relu_p, as_tensor(x))


def abs(x: Any, /) -> Tensor:  # noqa: A001 - the standard's name
    """Elementwise absolute value; the gradient at 0 is 0."""
    return apply1(abs_p, as_tensor(x))


def maximum(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise maximum; where the inputs tie, each gets half the gradient."""
    return apply2(maximum_p, *scalar_or_tensor(x1, x2))


def minimum(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise minimum; where the inputs tie, each gets half the gradient."""
    return apply2(minimum_p, *scalar_or_tensor(x1, x2))


# -- non-differentiable: results never require grad ------------------------------

sign_p = primitive("sign", lambda xp, a: xp.sign(a))
equal_p = primitive("equal", lambda xp, a, b: a == b)
not_equal_p = primitive("not_equal", lambda xp, a, b: a != b)
less_p = primitive("less", lambda xp, a, b: a < b)
less_equal_p = primitive("less_equal", lambda xp, a, b: a <= b)
greater_p = primitive("greater", lambda xp, a, b: a > b)
greater_equal_p = primitive("greater_equal", lambda xp, a, b: a >= b)


def sign(x: Any, /) -> Tensor:
    """Elementwise sign (-1, 0 or 1); its result does not require grad."""
    return apply1(sign_p, as_tensor(x))


def equal(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 == x2`` (a bool tensor)."""
    return apply2(equal_p, *scalar_or_tensor(x1, x2))


def not_equal(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 != x2`` (a bool tensor)."""
    return apply2(not_equal_p, *scalar_or_tensor(x1, x2))


def less(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 < x2`` (a bool tensor)."""
    return apply2(less_p, *scalar_or_tensor(x1, x2))


def less_equal(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 <= x2`` (a bool tensor)."""
    return apply2(less_equal_p, *scalar_or_tensor(x1, x2))


def greater(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 > x2`` (a bool tensor)."""
    return apply2(greater_p, *scalar_or_tensor(x1, x2))


def greater_equal(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 >= x2`` (a bool tensor)."""
    return apply2(greater_equal_p, *scalar_or_tensor(x1, x2))


# -- selection -------------------------------------------------------------------

where_p = primitive(
    "where",
    lambda xp, c, a, b: xp.where(c, a, b),
    vjps=(
        None,
        lambda xp, g, ans, c, a, b: xp.where(c, g, 0.0),
        lambda xp, g, ans, c, a, b: xp.where(c, 0.0, g),
    ),
)


def where(condition: Any, x1: Any, x2: Any, /) -> Tensor:
    """Pick ``x1`` where ``condition`` holds, else ``x2``; gradients go to the picked side.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([-1.0, 2.0])
    >>> ad.where(x > 0, x, 0.0).tolist()
    [0.0, 2.0]
    """
    from ..engine import apply

    args = [condition, x1, x2]
    like = next((a for a in args if isinstance(a, Tensor)), None)
    if like is None:
        like = as_tensor(condition)
        args[0] = like
    for i, a in enumerate(args):
        if not isinstance(a, (Tensor, int, float, bool, complex)):
            args[i] = as_tensor(a, like=like)
    return apply(where_p, args)
