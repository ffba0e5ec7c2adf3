"""Elementwise primitives: forward and gradient rule side by side.

Every rule is array-API code on ``xp`` (the backend's namespace in first
order, ``autodiff`` itself under ``create_graph=True``). The engine reduces
broadcast dimensions and casts, so rules work at the broadcast shape.
"""

from __future__ import annotations

import cmath
import math
from typing import Any

from .. import _views
from ..engine import apply1, apply2, identity, primitive
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
add_p = primitive("add", lambda xp, a, b: a + b, vjps=(identity, identity))
# d(a-b) = da - db
sub_p = primitive("subtract", lambda xp, a, b: a - b, vjps=(identity, lambda xp, g, ans, a, b: -g))
# d(ab) = b da + a db
mul_p = primitive(
    "multiply",
    lambda xp, a, b: a * b,
    vjps=(lambda xp, g, ans, a, b: g * b, lambda xp, g, ans, a, b: g * a),
    holomorphic=True,
)
# d(a/b) = da / b - (a/b) db / b
div_p = primitive(
    "divide",
    lambda xp, a, b: a / b,
    vjps=(lambda xp, g, ans, a, b: g / b, lambda xp, g, ans, a, b: -(g * ans) / b),
    holomorphic=True,
)
neg_p = primitive("negative", lambda xp, a: -a, lambda xp, g, ans, a: (-g,))
pos_p = primitive("positive", lambda xp, a: +a, vjps=(identity,))


def _pow_da(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    # d(a**b)/da = b a**(b-1); 0 where b == 0 (PyTorch's convention: no 0 * inf)
    if isinstance(b, (int, float, complex)):
        if b == 0:
            return g * 0
        return g * (b * a ** (b - 1))
    return xp.where(b == 0, 0.0, g * (b * a ** (b - 1)))


def _pow_db(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    # d(a**b)/db = a**b log(a); at a == 0 with b >= 0 the limit 0 is used (PyTorch's
    # convention); with b < 0 it is -inf (a**b = inf, log a = -inf), as PyTorch.
    # (b requires grad here, so it is an array; a may be a Python scalar)
    nonneg = (xp.real(b) if xp.isdtype(b.dtype, "complex floating") else b) >= 0
    if isinstance(a, (int, float, complex)):
        if a == 0:
            return xp.where(nonneg, 0.0, -(g * ans) * math.inf)
        if isinstance(a, complex):
            return g * ans * cmath.log(a)
        return g * ans * (math.log(a) if a > 0 else math.nan)
    limit = (a == 0) & nonneg
    safe = xp.where(limit, 1.0, a)
    return xp.where(limit, 0.0, g * ans * xp.log(safe))


pow_p = primitive("pow", lambda xp, a, b: a**b, vjps=(_pow_da, _pow_db), holomorphic=True)


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
    """Elementwise ``x1 - x2``, broadcasting.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.subtract(ad.tensor([3.0, 4.0]), 1.0).tolist()
    [2.0, 3.0]
    """
    return apply2(sub_p, *scalar_or_tensor(x1, x2))


def multiply(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 * x2``, broadcasting.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.multiply(ad.tensor([1.0, 2.0]), 3.0).tolist()
    [3.0, 6.0]
    """
    if x1 is x2 and isinstance(x1, Tensor):
        return apply1(square_p, x1)  # one rule (2 x g) instead of two products and a sum
    return apply2(mul_p, *scalar_or_tensor(x1, x2))


def divide(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise true division ``x1 / x2``, broadcasting.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.divide(ad.tensor([1.0, 3.0]), 2.0).tolist()
    [0.5, 1.5]
    """
    return apply2(div_p, *scalar_or_tensor(x1, x2))


def negative(x: Any, /) -> Tensor:
    """Elementwise ``-x``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.negative(ad.tensor([1.0, -2.0])).tolist()
    [-1.0, 2.0]
    """
    return apply1(neg_p, as_tensor(x))


def positive(x: Any, /) -> Tensor:
    """Elementwise ``+x``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.positive(ad.tensor([-1.0])).tolist()
    [-1.0]
    """
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

exp_p = primitive(
    "exp", lambda xp, a: xp.exp(a), lambda xp, g, ans, a: (g * ans,), holomorphic=True
)
log_p = primitive("log", lambda xp, a: xp.log(a), lambda xp, g, ans, a: (g / a,), holomorphic=True)
sin_p = primitive(
    "sin", lambda xp, a: xp.sin(a), lambda xp, g, ans, a: (g * xp.cos(a),), holomorphic=True
)
cos_p = primitive(
    "cos", lambda xp, a: xp.cos(a), lambda xp, g, ans, a: (-(g * xp.sin(a)),), holomorphic=True
)
# sqrt'(x) = 1 / (2 sqrt x); inf at 0, as in PyTorch
sqrt_p = primitive(
    "sqrt", lambda xp, a: xp.sqrt(a), lambda xp, g, ans, a: (g / (ans * 2),), holomorphic=True
)
# tanh' = 1 - tanh²
tanh_p = primitive(
    "tanh", lambda xp, a: xp.tanh(a), lambda xp, g, ans, a: (g * (1 - ans * ans),), holomorphic=True
)


def _sigmoid_fwd(xp: Any, a: Any) -> Any:
    if xp.isdtype(a.dtype, "complex floating"):
        return 1 / (1 + xp.exp(-a))  # no order on complex numbers: the plain formula
    # exp(-|x|) never overflows: 1/(1+e) for x >= 0, e/(1+e) for x < 0
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


# σ' = σ (1 - σ)
sigmoid_p = primitive(
    "sigmoid", _sigmoid_fwd, lambda xp, g, ans, a: (g * (ans * (1 - ans)),), holomorphic=True
)
# relu'(0) = 0; NaN passes g on, as in PyTorch (docs/conventions.md)
relu_p = primitive(
    "relu", lambda xp, a: xp.maximum(a, 0), lambda xp, g, ans, a: (xp.where(a <= 0, 0.0, g),)
)


def _sgn(xp: Any, z: Any) -> Any:
    # z / |z| for complex z, 0 at 0
    r = xp.abs(z)
    zero = r == 0
    return xp.where(zero, xp.zeros_like(z), z / xp.where(zero, xp.ones_like(r), r))


def _abs_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # abs'(x) = sign(x), so abs'(0) = 0; abs'(NaN) = 0 on every backend (as PyTorch's);
    # complex: g z/|z| (the engine does not conjugate: the rule is already real-valued)
    if xp.isdtype(a.dtype, "complex floating"):
        return (g * _sgn(xp, a),)
    return (xp.where(a > 0, g, xp.where(a < 0, -g, 0.0)),)


abs_p = primitive("abs", lambda xp, a: xp.abs(a), _abs_vjp)


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
)
minimum_p = primitive(
    "minimum",
    lambda xp, a, b: xp.minimum(a, b),
    vjps=(
        lambda xp, g, ans, a, b: _pick(xp, g, a > b, a == b),
        lambda xp, g, ans, a, b: _pick(xp, g, b > a, a == b),
    ),
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
    """Elementwise absolute value; the gradient at 0 is 0.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.abs(ad.tensor([-2.0, 3.0])).tolist()
    [2.0, 3.0]
    """
    return apply1(abs_p, as_tensor(x))


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


# -- non-differentiable: results never require grad ------------------------------

sign_p = primitive("sign", lambda xp, a: xp.sign(a))


def _sgn_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # sgn(z) = z/|z| is smooth away from 0: z̄ = (g - s Re(conj(s) g)) / |z|, 0 at z = 0
    r = xp.abs(a)
    zero = r == 0
    out = (g - ans * xp.real(xp.conj(ans) * g)) / xp.where(zero, xp.ones_like(r), r)
    return (xp.where(zero, xp.zeros_like(out), out),)


# complex sign: differentiable (real sign is piecewise constant and stays sign_p)
sgn_p = primitive("sgn", lambda xp, a: _sgn(xp, a), _sgn_vjp)
equal_p = primitive("equal", lambda xp, a, b: a == b)
not_equal_p = primitive("not_equal", lambda xp, a, b: a != b)
less_p = primitive("less", lambda xp, a, b: a < b)
less_equal_p = primitive("less_equal", lambda xp, a, b: a <= b)
greater_p = primitive("greater", lambda xp, a, b: a > b)
greater_equal_p = primitive("greater_equal", lambda xp, a, b: a >= b)


def sign(x: Any, /) -> Tensor:
    """Elementwise sign: -1, 0 or 1 for real ``x`` (the result does not require grad),
    ``x / |x|`` (0 at 0) for complex ``x``, differentiable away from 0.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.sign(ad.tensor([-3.0, 0.0, 2.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    x = as_tensor(x)
    if x.dtype.kind == "complex floating":
        return apply1(sgn_p, x)
    return apply1(sign_p, x)


def equal(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 == x2`` (a bool tensor).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.equal(ad.tensor([1.0, 2.0]), 2.0).tolist()
    [False, True]
    """
    return apply2(equal_p, *scalar_or_tensor(x1, x2))


def not_equal(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 != x2`` (a bool tensor).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.not_equal(ad.tensor([1.0, 2.0]), 2.0).tolist()
    [True, False]
    """
    return apply2(not_equal_p, *scalar_or_tensor(x1, x2))


def less(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 < x2`` (a bool tensor).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.less(ad.tensor([1.0, 2.0]), 2.0).tolist()
    [True, False]
    """
    return apply2(less_p, *scalar_or_tensor(x1, x2))


def less_equal(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 <= x2`` (a bool tensor).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.less_equal(ad.tensor([1.0, 2.0]), 1.0).tolist()
    [True, False]
    """
    return apply2(less_equal_p, *scalar_or_tensor(x1, x2))


def greater(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 > x2`` (a bool tensor).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.greater(ad.tensor([1.0, 2.0]), 1.0).tolist()
    [False, True]
    """
    return apply2(greater_p, *scalar_or_tensor(x1, x2))


def greater_equal(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 >= x2`` (a bool tensor).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.greater_equal(ad.tensor([1.0, 2.0]), 2.0).tolist()
    [False, True]
    """
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


# -- the rest of the standard's elementwise family -------------------------------------
#
# One primitive per function, its rule beside it. Public functions are made by
# ``_unary``/``_binary`` so each is one line plus its docstring.


def _unary(prim: Any, doc: str) -> Any:
    def fn(x: Any, /) -> Tensor:
        return apply1(prim, as_tensor(x))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc
    return fn


def _binary(prim: Any, doc: str) -> Any:
    def fn(x1: Any, x2: Any, /) -> Tensor:
        return apply2(prim, *scalar_or_tensor(x1, x2))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc
    return fn


def _example(call: str, result: str) -> str:
    return f"\n\n    Examples\n    --------\n    >>> import autodiff as ad\n    >>> {call}\n    {result}\n    "


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)

tan_p = primitive(
    "tan", lambda xp, a: xp.tan(a), lambda xp, g, ans, a: (g * (1 + ans * ans),), holomorphic=True
)
asin_p = primitive(
    "asin",
    lambda xp, a: xp.asin(a),
    lambda xp, g, ans, a: (g / xp.sqrt(1 - a * a),),
    holomorphic=True,
)
acos_p = primitive(
    "acos",
    lambda xp, a: xp.acos(a),
    lambda xp, g, ans, a: (-g / xp.sqrt(1 - a * a),),
    holomorphic=True,
)
atan_p = primitive(
    "atan", lambda xp, a: xp.atan(a), lambda xp, g, ans, a: (g / (1 + a * a),), holomorphic=True
)
sinh_p = primitive(
    "sinh", lambda xp, a: xp.sinh(a), lambda xp, g, ans, a: (g * xp.cosh(a),), holomorphic=True
)
cosh_p = primitive(
    "cosh", lambda xp, a: xp.cosh(a), lambda xp, g, ans, a: (g * xp.sinh(a),), holomorphic=True
)
asinh_p = primitive(
    "asinh",
    lambda xp, a: xp.asinh(a),
    lambda xp, g, ans, a: (g / xp.sqrt(a * a + 1),),
    holomorphic=True,
)


def _acosh_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # acosh'(z) = 1 / (sqrt(z - 1) sqrt(z + 1)): inf at 1, as in PyTorch; for complex z the
    # two roots (not sqrt((z-1)(z+1))) follow acosh's branch cut where Re z < 0
    if xp.isdtype(a.dtype, "complex floating"):
        return (g / (xp.sqrt(a - 1) * xp.sqrt(a + 1)),)
    return (g / xp.sqrt((a - 1) * (a + 1)),)


acosh_p = primitive("acosh", lambda xp, a: xp.acosh(a), _acosh_vjp, holomorphic=True)
atanh_p = primitive(
    "atanh", lambda xp, a: xp.atanh(a), lambda xp, g, ans, a: (g / (1 - a * a),), holomorphic=True
)
expm1_p = primitive(
    "expm1", lambda xp, a: xp.expm1(a), lambda xp, g, ans, a: (g * (ans + 1),), holomorphic=True
)
log1p_p = primitive(
    "log1p", lambda xp, a: xp.log1p(a), lambda xp, g, ans, a: (g / (a + 1),), holomorphic=True
)
log2_p = primitive(
    "log2", lambda xp, a: xp.log2(a), lambda xp, g, ans, a: (g / (a * _LN2),), holomorphic=True
)
log10_p = primitive(
    "log10", lambda xp, a: xp.log10(a), lambda xp, g, ans, a: (g / (a * _LN10),), holomorphic=True
)
square_p = primitive(
    "square", lambda xp, a: xp.square(a), lambda xp, g, ans, a: (g * (a * 2),), holomorphic=True
)
# the complex parts: PyTorch's convention, grad = dL/d(re) + i dL/d(im)
conj_p = primitive("conj", lambda xp, a: xp.conj(a), lambda xp, g, ans, a: (xp.conj(g),))
real_p = primitive("real", lambda xp, a: xp.real(a), lambda xp, g, ans, a: (g,))
imag_p = primitive(
    "imag",
    lambda xp, a: xp.imag(a),
    lambda xp, g, ans, a: (g * 1j if xp.isdtype(a.dtype, "complex floating") else g * 0,),
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
)


def _copysign_da(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    # copysign(a, b) = |a| sign(b): d/da = ±1 (+ where a and the result share a sign),
    # 0 at a = 0, NaN at a = NaN on every backend (their sign(NaN) differ); d/db = 0
    flip = xp.where(xp.signbit(a) == xp.signbit(ans), g, -g)
    return xp.where(a == 0, 0.0, xp.where(xp.isnan(a), math.nan, flip))


copysign_p = primitive("copysign", lambda xp, a, b: xp.copysign(a, b), vjps=(_copysign_da, None))
# remainder(a, b) = a - q b: d/da = 1, d/db = -q, with the quotient q = (a - ans) / b the
# forward used (floor(a / b) can differ by one near a jump: remainder(0.25, 0.001))
remainder_p = primitive(
    "remainder",
    lambda xp, a, b: xp.remainder(a, b),
    vjps=(lambda xp, g, ans, a, b: g, lambda xp, g, ans, a, b: -(g * xp.round((a - ans) / b))),
)

tan = _unary(tan_p, "Elementwise tangent." + _example("ad.tan(ad.tensor(0.0)).item()", "0.0"))
asin = _unary(
    asin_p,
    "Elementwise arcsine; the gradient is inf at ±1."
    + _example("ad.asin(ad.tensor(0.0)).item()", "0.0"),
)
acos = _unary(
    acos_p,
    "Elementwise arccosine; the gradient is -inf at ±1."
    + _example("ad.acos(ad.tensor(1.0)).item()", "0.0"),
)
atan = _unary(atan_p, "Elementwise arctangent." + _example("ad.atan(ad.tensor(0.0)).item()", "0.0"))
sinh = _unary(
    sinh_p, "Elementwise hyperbolic sine." + _example("ad.sinh(ad.tensor(0.0)).item()", "0.0")
)
cosh = _unary(
    cosh_p, "Elementwise hyperbolic cosine." + _example("ad.cosh(ad.tensor(0.0)).item()", "1.0")
)
asinh = _unary(
    asinh_p,
    "Elementwise inverse hyperbolic sine." + _example("ad.asinh(ad.tensor(0.0)).item()", "0.0"),
)
acosh = _unary(
    acosh_p,
    "Elementwise inverse hyperbolic cosine; the gradient is inf at 1."
    + _example("ad.acosh(ad.tensor(1.0)).item()", "0.0"),
)
atanh = _unary(
    atanh_p,
    "Elementwise inverse hyperbolic tangent." + _example("ad.atanh(ad.tensor(0.0)).item()", "0.0"),
)
expm1 = _unary(
    expm1_p,
    "Elementwise ``exp(x) - 1``, accurate near 0."
    + _example("ad.expm1(ad.tensor(1e-10)).item()", "1.00000000005e-10"),
)
log1p = _unary(
    log1p_p,
    "Elementwise ``log(1 + x)``, accurate near 0."
    + _example("ad.log1p(ad.tensor(1e-10)).item()", "9.9999999995e-11"),
)
log2 = _unary(
    log2_p, "Elementwise base-2 logarithm." + _example("ad.log2(ad.tensor(8.0)).item()", "3.0")
)
log10 = _unary(
    log10_p,
    "Elementwise base-10 logarithm." + _example("ad.log10(ad.tensor(100.0)).item()", "2.0"),
)
square = _unary(
    square_p, "Elementwise ``x * x``." + _example("ad.square(ad.tensor(3.0)).item()", "9.0")
)
conj = _unary(
    conj_p,
    "Elementwise complex conjugate (the identity on real tensors)."
    + _example("ad.conj(ad.tensor(1 + 2j)).item()", "(1-2j)"),
)


def _part(prim: Any, doc: str) -> Any:
    # a view of the complex input, as NumPy's: a write into it reaches the input
    def fn(x: Any, /) -> Tensor:
        x = as_tensor(x)
        return _views.track(apply1(prim, x), x, prim)

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc
    return fn


real = _part(
    real_p,
    "Real part of each element (a real tensor; a view of a complex ``x``)."
    + _example("ad.real(ad.tensor(1 + 2j)).item()", "1.0"),
)
imag = _part(
    imag_p,
    "Imaginary part of each element (a real tensor; a view of a complex ``x``)."
    + _example("ad.imag(ad.tensor(1 + 2j)).item()", "2.0"),
)
logaddexp = _binary(
    logaddexp_p,
    "Elementwise ``log(exp(x1) + exp(x2))`` without overflow; where both are -inf the "
    "gradient is 0." + _example('f"{ad.logaddexp(0.0, ad.tensor(0.0)).item():.6f}"', "'0.693147'"),
)
hypot = _binary(
    hypot_p,
    "Elementwise ``sqrt(x1**2 + x2**2)`` without overflow; the gradient at the origin is 0."
    + _example("ad.hypot(ad.tensor(3.0), 4.0).item()", "5.0"),
)
atan2 = _binary(
    atan2_p,
    "Elementwise angle of the point ``(x2, x1)``, in radians."
    + _example('f"{ad.atan2(ad.tensor(1.0), 1.0).item():.6f}"', "'0.785398'"),
)
copysign = _binary(
    copysign_p,
    "Magnitude of ``x1`` with the sign of ``x2``; differentiable in ``x1``."
    + _example("ad.copysign(ad.tensor(2.0), -1.0).item()", "-2.0"),
)
remainder = _binary(
    remainder_p,
    "Elementwise remainder with the sign of the divisor (Python's ``%``); "
    "differentiable in both arguments away from the jumps."
    + _example("ad.remainder(ad.tensor(-3.0), 2.0).item()", "1.0"),
)


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


# -- non-differentiable: rounding, tests, logic and bits ------------------------------


def _flat(name: str, fwd: Any, doc: str, nargs: int = 1) -> Any:
    prim = primitive(name, fwd)
    return prim, (_unary if nargs == 1 else _binary)(prim, doc)


floor_p, floor = _flat(
    "floor",
    lambda xp, a: xp.floor(a),
    "Round down; the result does not require grad."
    + _example("ad.floor(ad.tensor(1.5)).item()", "1.0"),
)
ceil_p, ceil = _flat(
    "ceil",
    lambda xp, a: xp.ceil(a),
    "Round up; the result does not require grad."
    + _example("ad.ceil(ad.tensor(1.5)).item()", "2.0"),
)
round_p, round = _flat(  # noqa: A001 - the standard's name
    "round",
    lambda xp, a: xp.round(a),
    "Round half to even; the result does not require grad."
    + _example("ad.round(ad.tensor(2.5)).item()", "2.0"),
)
trunc_p, trunc = _flat(
    "trunc",
    lambda xp, a: xp.trunc(a),
    "Round toward zero; the result does not require grad."
    + _example("ad.trunc(ad.tensor(-1.5)).item()", "-1.0"),
)
signbit_p, signbit = _flat(
    "signbit",
    lambda xp, a: xp.signbit(a),
    "True where the sign bit is set (also for -0.0)."
    + _example("ad.signbit(ad.tensor([-0.0, 1.0])).tolist()", "[True, False]"),
)
isnan_p, isnan = _flat(
    "isnan",
    lambda xp, a: xp.isnan(a),
    "True where an element is NaN."
    + _example("ad.isnan(ad.tensor([ad.nan, 1.0])).tolist()", "[True, False]"),
)
isinf_p, isinf = _flat(
    "isinf",
    lambda xp, a: xp.isinf(a),
    "True where an element is ±inf."
    + _example("ad.isinf(ad.tensor([ad.inf, 1.0])).tolist()", "[True, False]"),
)
isfinite_p, isfinite = _flat(
    "isfinite",
    lambda xp, a: xp.isfinite(a),
    "True where an element is neither NaN nor ±inf."
    + _example("ad.isfinite(ad.tensor([ad.inf, 1.0])).tolist()", "[False, True]"),
)
logical_not_p, logical_not = _flat(
    "logical_not",
    lambda xp, a: xp.logical_not(a),
    "Elementwise NOT of a bool tensor."
    + _example("ad.logical_not(ad.tensor([True, False])).tolist()", "[False, True]"),
)
bitwise_invert_p, bitwise_invert = _flat(
    "bitwise_invert",
    lambda xp, a: xp.bitwise_invert(a),
    "Elementwise bit inversion (``~x``) of an integer or bool tensor."
    + _example("ad.bitwise_invert(ad.tensor([0, 1])).tolist()", "[-1, -2]"),
)
floor_divide_p, floor_divide = _flat(
    "floor_divide",
    lambda xp, a, b: xp.floor_divide(a, b),
    "Elementwise ``x1 // x2``; the result does not require grad."
    + _example("ad.floor_divide(ad.tensor(7.0), 2.0).item()", "3.0"),
    2,
)
# nextafter moves x1 by one ulp: d/dx1 = 1 (as PyTorch), x2 only picks a direction; where
# x1 == x2 the result is x2 itself (IEEE), and x1 gets 0, as PyTorch
nextafter_p = primitive(
    "nextafter",
    lambda xp, a, b: xp.nextafter(a, b),
    vjps=(lambda xp, g, ans, a, b: xp.where(a == b, 0.0, g), None),
)
nextafter = _binary(
    nextafter_p,
    "The next representable float after ``x1`` toward ``x2``; the gradient is 1 in "
    "``x1`` and none in ``x2``."
    + _example("ad.nextafter(ad.tensor(1.0), 2.0).item() > 1.0", "True"),
)
logical_and_p, logical_and = _flat(
    "logical_and",
    lambda xp, a, b: xp.logical_and(a, b),
    "Elementwise AND of bool tensors."
    + _example(
        "ad.logical_and(ad.tensor([True, True]), ad.tensor([True, False])).tolist()",
        "[True, False]",
    ),
    2,
)
logical_or_p, logical_or = _flat(
    "logical_or",
    lambda xp, a, b: xp.logical_or(a, b),
    "Elementwise OR of bool tensors."
    + _example(
        "ad.logical_or(ad.tensor([True, False]), ad.tensor([False, False])).tolist()",
        "[True, False]",
    ),
    2,
)
logical_xor_p, logical_xor = _flat(
    "logical_xor",
    lambda xp, a, b: xp.logical_xor(a, b),
    "Elementwise XOR of bool tensors."
    + _example(
        "ad.logical_xor(ad.tensor([True, True]), ad.tensor([True, False])).tolist()",
        "[False, True]",
    ),
    2,
)
bitwise_and_p, bitwise_and = _flat(
    "bitwise_and",
    lambda xp, a, b: xp.bitwise_and(a, b),
    "Elementwise ``x1 & x2`` of integer or bool tensors."
    + _example("ad.bitwise_and(ad.tensor([6]), 3).tolist()", "[2]"),
    2,
)
bitwise_or_p, bitwise_or = _flat(
    "bitwise_or",
    lambda xp, a, b: xp.bitwise_or(a, b),
    "Elementwise ``x1 | x2`` of integer or bool tensors."
    + _example("ad.bitwise_or(ad.tensor([6]), 3).tolist()", "[7]"),
    2,
)
bitwise_xor_p, bitwise_xor = _flat(
    "bitwise_xor",
    lambda xp, a, b: xp.bitwise_xor(a, b),
    "Elementwise ``x1 ^ x2`` of integer or bool tensors."
    + _example("ad.bitwise_xor(ad.tensor([6]), 3).tolist()", "[5]"),
    2,
)
bitwise_left_shift_p, bitwise_left_shift = _flat(
    "bitwise_left_shift",
    lambda xp, a, b: xp.bitwise_left_shift(a, b),
    "Elementwise ``x1 << x2`` of integer tensors."
    + _example("ad.bitwise_left_shift(ad.tensor([1]), 3).tolist()", "[8]"),
    2,
)
bitwise_right_shift_p, bitwise_right_shift = _flat(
    "bitwise_right_shift",
    lambda xp, a, b: xp.bitwise_right_shift(a, b),
    "Elementwise ``x1 >> x2`` of integer tensors."
    + _example("ad.bitwise_right_shift(ad.tensor([8]), 3).tolist()", "[1]"),
    2,
)

__all__ += [
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "bitwise_and",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "ceil",
    "clip",
    "conj",
    "copysign",
    "cosh",
    "expm1",
    "floor",
    "floor_divide",
    "hypot",
    "imag",
    "isfinite",
    "isinf",
    "isnan",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "nextafter",
    "real",
    "remainder",
    "round",
    "signbit",
    "sinh",
    "square",
    "tan",
    "trunc",
]

# 1/x: d/dx = -1/x² = -ans²
reciprocal_p = primitive(
    "reciprocal",
    lambda xp, a: xp.reciprocal(a),
    lambda xp, g, ans, a: (-(g * ans * ans),),
    holomorphic=True,
)
reciprocal = _unary(
    reciprocal_p,
    "Elementwise ``1 / x``." + _example("ad.reciprocal(ad.tensor(4.0)).item()", "0.25"),
)
__all__ += ["reciprocal"]
