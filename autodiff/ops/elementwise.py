"""Elementwise primitives: arithmetic, comparisons, selection, complex parts and bits.

The primitives behind the ``Tensor`` operators live here; the transcendental functions
are in ``transcendental.py``; rounding, logic, maximum, minimum and clip in ``rounding.py``.
Every rule is array-API code on ``xp`` (the backend's namespace in first order, ``autodiff``
itself under ``create_graph=True``). The engine reduces broadcast dimensions and casts, so
rules work at the broadcast shape.
"""

from __future__ import annotations

import cmath
import math
from typing import Any

from .. import _views
from .._core import identity, primitive
from ..engine import apply, apply1, apply2
from ..tensor import Tensor
from ._rules import dense_jvp, diagonal_jvp, elementwise, linear, self_adjoint
from ._util import as_tensor, scalar_or_tensor

__all__ = [
    "abs",
    "add",
    "bitwise_and",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "conj",
    "divide",
    "equal",
    "floor_divide",
    "greater",
    "greater_equal",
    "imag",
    "less",
    "less_equal",
    "multiply",
    "negative",
    "not_equal",
    "positive",
    "pow",
    "real",
    "relu",
    "remainder",
    "sign",
    "square",
    "subtract",
    "where",
]

# -- arithmetic --------------------------------------------------------------------

# d(a+b) = da + db
add_p = primitive(
    "add",
    lambda xp, a, b: a + b,
    vjps=(identity, identity),
    jvp=diagonal_jvp("add"),
    batch=elementwise("add"),
)
# d(a-b) = da - db
sub_p = primitive(
    "subtract",
    lambda xp, a, b: a - b,
    vjps=(identity, lambda xp, g, ans, a, b: -g),
    jvp=diagonal_jvp("subtract"),
    batch=elementwise("subtract"),
)
# d(ab) = b da + a db
mul_p = primitive(
    "multiply",
    lambda xp, a, b: a * b,
    vjps=(lambda xp, g, ans, a, b: g * b, lambda xp, g, ans, a, b: g * a),
    holomorphic=True,
    jvp=diagonal_jvp("multiply"),
    batch=elementwise("multiply"),
)
# d(a/b) = da / b - (a/b) db / b
div_p = primitive(
    "divide",
    lambda xp, a, b: a / b,
    vjps=(lambda xp, g, ans, a, b: g / b, lambda xp, g, ans, a, b: -(g * ans) / b),
    holomorphic=True,
    jvp=diagonal_jvp("divide"),
    batch=elementwise("divide"),
)
neg_p = primitive(
    "negative",
    lambda xp, a: -a,
    lambda xp, g, ans, a: (-g,),
    jvp=diagonal_jvp("negative"),
    batch=elementwise("negative"),
)
pos_p = primitive(
    "positive",
    lambda xp, a: +a,
    vjps=(identity,),
    jvp=diagonal_jvp("positive"),
    batch=elementwise("positive"),
)


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


pow_p = primitive(
    "pow",
    lambda xp, a, b: a**b,
    vjps=(_pow_da, _pow_db),
    holomorphic=True,
    jvp=diagonal_jvp("pow"),
    batch=elementwise("pow"),
)
square_p = primitive(
    "square",
    lambda xp, a: xp.square(a),
    lambda xp, g, ans, a: (g * (a * 2),),
    holomorphic=True,
    jvp=diagonal_jvp("square"),
    batch=elementwise("square"),
)
floor_divide_p = primitive(
    "floor_divide", lambda xp, a, b: xp.floor_divide(a, b), batch=elementwise("floor_divide")
)
# remainder(a, b) = a - q b: d/da = 1, d/db = -q, with the quotient q = (a - ans) / b the
# forward used (floor(a / b) can differ by one near a jump: remainder(0.25, 0.001))
remainder_p = primitive(
    "remainder",
    lambda xp, a, b: xp.remainder(a, b),
    vjps=(lambda xp, g, ans, a, b: g, lambda xp, g, ans, a, b: -(g * xp.round((a - ans) / b))),
    jvp=diagonal_jvp("remainder"),
    batch=elementwise("remainder"),
)


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


def square(x: Any, /) -> Tensor:
    """Elementwise ``x * x``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.square(ad.tensor(3.0)).item()
    9.0
    """
    return apply1(square_p, as_tensor(x))


def floor_divide(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 // x2``; the result does not require grad.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.floor_divide(ad.tensor(7.0), 2.0).item()
    3.0
    """
    return apply2(floor_divide_p, *scalar_or_tensor(x1, x2))


def remainder(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise remainder with the sign of the divisor (Python's ``%``); differentiable in both
    arguments away from the jumps.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.remainder(ad.tensor(-3.0), 2.0).item()
    1.0
    """
    return apply2(remainder_p, *scalar_or_tensor(x1, x2))


# -- absolute value, sign and relu -------------------------------------------------

# relu'(0) = 0; NaN passes g on, as in PyTorch (docs/conventions.md)
relu_p = primitive(
    "relu",
    lambda xp, a: xp.maximum(a, 0),
    lambda xp, g, ans, a: (xp.where(a <= 0, 0.0, g),),
    jvp=diagonal_jvp("relu"),
    batch=elementwise("relu"),
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


abs_p = primitive(
    "abs",
    lambda xp, a: xp.abs(a),
    _abs_vjp,
    jvp=dense_jvp("abs", reduce=False),
    batch=elementwise("abs"),
)
sign_p = primitive("sign", lambda xp, a: xp.sign(a), batch=elementwise("sign"))


def _sgn_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # sgn(z) = z/|z| is smooth away from 0: z̄ = (g - s Re(conj(s) g)) / |z|, 0 at z = 0
    r = xp.abs(a)
    zero = r == 0
    out = (g - ans * xp.real(xp.conj(ans) * g)) / xp.where(zero, xp.ones_like(r), r)
    return (xp.where(zero, xp.zeros_like(out), out),)


# complex sign: differentiable (real sign is piecewise constant and stays sign_p)
sgn_p = primitive(
    "sgn", lambda xp, a: _sgn(xp, a), _sgn_vjp, jvp=self_adjoint("sgn"), batch=elementwise("sgn")
)


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


# -- comparisons (results never require grad) --------------------------------------

equal_p = primitive("equal", lambda xp, a, b: a == b, batch=elementwise("equal"))
not_equal_p = primitive("not_equal", lambda xp, a, b: a != b, batch=elementwise("not_equal"))
less_p = primitive("less", lambda xp, a, b: a < b, batch=elementwise("less"))
less_equal_p = primitive("less_equal", lambda xp, a, b: a <= b, batch=elementwise("less_equal"))
greater_p = primitive("greater", lambda xp, a, b: a > b, batch=elementwise("greater"))
greater_equal_p = primitive(
    "greater_equal", lambda xp, a, b: a >= b, batch=elementwise("greater_equal")
)


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


# -- selection ---------------------------------------------------------------------

where_p = primitive(
    "where",
    lambda xp, c, a, b: xp.where(c, a, b),
    vjps=(
        None,
        lambda xp, g, ans, c, a, b: xp.where(c, g, 0.0),
        lambda xp, g, ans, c, a, b: xp.where(c, 0.0, g),
    ),
    jvp=diagonal_jvp("where"),
    batch=elementwise("where"),
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
    args = [condition, x1, x2]
    like = next((a for a in args if isinstance(a, Tensor)), None)
    if like is None:
        like = as_tensor(condition)
        args[0] = like
    for i, a in enumerate(args):
        if not isinstance(a, (Tensor, int, float, bool, complex)):
            args[i] = as_tensor(a, like=like)
    return apply(where_p, args)


# -- complex parts -----------------------------------------------------------------

# the complex parts: PyTorch's convention, grad = dL/d(re) + i dL/d(im)
conj_p = primitive(
    "conj",
    lambda xp, a: xp.conj(a),
    lambda xp, g, ans, a: (xp.conj(g),),
    jvp=linear("conj"),
    batch=elementwise("conj"),
)
real_p = primitive(
    "real",
    lambda xp, a: xp.real(a),
    lambda xp, g, ans, a: (g,),
    jvp=linear("real"),
    batch=elementwise("real"),
)
imag_p = primitive(
    "imag",
    lambda xp, a: xp.imag(a),
    lambda xp, g, ans, a: (g * 1j if xp.isdtype(a.dtype, "complex floating") else g * 0,),
    jvp=linear("imag"),
    batch=elementwise("imag"),
)


def conj(x: Any, /) -> Tensor:
    """Elementwise complex conjugate (the identity on real tensors).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.conj(ad.tensor(1 + 2j)).item()
    (1-2j)
    """
    return apply1(conj_p, as_tensor(x))


def real(x: Any, /) -> Tensor:
    """Real part of each element (a real tensor; a view of a complex ``x``).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.real(ad.tensor(1 + 2j)).item()
    1.0
    """
    # a view of the complex input, as NumPy's: a write into it reaches the input
    x = as_tensor(x)
    return _views.track(apply1(real_p, x), x, real_p)


def imag(x: Any, /) -> Tensor:
    """Imaginary part of each element (a real tensor; a view of a complex ``x``).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.imag(ad.tensor(1 + 2j)).item()
    2.0
    """
    # a view of the complex input, as NumPy's: a write into it reaches the input
    x = as_tensor(x)
    return _views.track(apply1(imag_p, x), x, imag_p)


# -- bits (results never require grad) ---------------------------------------------

bitwise_and_p = primitive(
    "bitwise_and", lambda xp, a, b: xp.bitwise_and(a, b), batch=elementwise("bitwise_and")
)
bitwise_or_p = primitive(
    "bitwise_or", lambda xp, a, b: xp.bitwise_or(a, b), batch=elementwise("bitwise_or")
)
bitwise_xor_p = primitive(
    "bitwise_xor", lambda xp, a, b: xp.bitwise_xor(a, b), batch=elementwise("bitwise_xor")
)
bitwise_invert_p = primitive(
    "bitwise_invert", lambda xp, a: xp.bitwise_invert(a), batch=elementwise("bitwise_invert")
)
bitwise_left_shift_p = primitive(
    "bitwise_left_shift",
    lambda xp, a, b: xp.bitwise_left_shift(a, b),
    batch=elementwise("bitwise_left_shift"),
)
bitwise_right_shift_p = primitive(
    "bitwise_right_shift",
    lambda xp, a, b: xp.bitwise_right_shift(a, b),
    batch=elementwise("bitwise_right_shift"),
)


def bitwise_and(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 & x2`` of integer or bool tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.bitwise_and(ad.tensor([6]), 3).tolist()
    [2]
    """
    return apply2(bitwise_and_p, *scalar_or_tensor(x1, x2))


def bitwise_or(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 | x2`` of integer or bool tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.bitwise_or(ad.tensor([6]), 3).tolist()
    [7]
    """
    return apply2(bitwise_or_p, *scalar_or_tensor(x1, x2))


def bitwise_xor(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 ^ x2`` of integer or bool tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.bitwise_xor(ad.tensor([6]), 3).tolist()
    [5]
    """
    return apply2(bitwise_xor_p, *scalar_or_tensor(x1, x2))


def bitwise_invert(x: Any, /) -> Tensor:
    """Elementwise bit inversion (``~x``) of an integer or bool tensor.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.bitwise_invert(ad.tensor([0, 1])).tolist()
    [-1, -2]
    """
    return apply1(bitwise_invert_p, as_tensor(x))


def bitwise_left_shift(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 << x2`` of integer tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.bitwise_left_shift(ad.tensor([1]), 3).tolist()
    [8]
    """
    return apply2(bitwise_left_shift_p, *scalar_or_tensor(x1, x2))


def bitwise_right_shift(x1: Any, x2: Any, /) -> Tensor:
    """Elementwise ``x1 >> x2`` of integer tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.bitwise_right_shift(ad.tensor([8]), 3).tolist()
    [1]
    """
    return apply2(bitwise_right_shift_p, *scalar_or_tensor(x1, x2))
