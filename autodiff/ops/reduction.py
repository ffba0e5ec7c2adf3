"""Reductions: forward and gradient rule side by side."""

from __future__ import annotations

import builtins
import math
from typing import Any

from .._core import primitive
from .._dtypes import to_dtype
from ..engine import apply1
from ..tensor import Tensor
from ._rules import dense_jvp, linear, shift_axes
from ._util import as_tensor, normalize_axes

__all__ = ["in_dtype", "kept_shape", "max", "mean", "min", "sum"]


def kept_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """``shape`` with the reduced axes set to 1 (the keepdims shape).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.ops.reduction.kept_shape((2, 3, 4), axis=(0, 2))
    (1, 3, 1)
    """
    axes = normalize_axes(axis, len(shape))
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _spread(xp: Any, g: Any, a: Any, axis: Any) -> Any:
    # the gradient of a reduction, broadcast back over the reduced axes (a view)
    shape = tuple(a.shape)
    if axis is None:  # g has no axes, or only size-1 ones (keepdims): it broadcasts as is
        return xp.broadcast_to(g, shape)
    return xp.broadcast_to(xp.reshape(g, kept_shape(shape, axis)), shape)


def _count(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[i] for i in normalize_axes(axis, len(shape)))


sum_p = primitive(
    "sum",
    lambda xp, a, axis=None, keepdims=False: xp.sum(a, axis=axis, keepdims=keepdims),
    lambda xp, g, ans, a, axis=None, keepdims=False: (_spread(xp, g, a, axis),),
    jvp=linear("sum"),
    batch=shift_axes("sum"),
)
mean_p = primitive(
    "mean",
    lambda xp, a, axis=None, keepdims=False: xp.mean(a, axis=axis, keepdims=keepdims),
    # d mean = g / n on every reduced element: divide the (small) g, then broadcast
    lambda xp, g, ans, a, axis=None, keepdims=False: (
        _spread(xp, g / builtins.max(_count(tuple(a.shape), axis), 1), a, axis),
    ),
    jvp=linear("mean"),
    batch=shift_axes("mean"),
)


def _extreme_vjp(
    xp: Any, g: Any, ans: Any, a: Any, axis: Any = None, keepdims: bool = False
) -> Any:
    # every element equal to the extreme gets an equal share of g
    kept = kept_shape(tuple(a.shape), axis)
    hit = xp.astype(a == xp.reshape(ans, kept), g.dtype)
    share = xp.sum(hit, axis=normalize_axes(axis, a.ndim), keepdims=True)
    return (xp.reshape(g, kept) * hit / share,)


max_p = primitive(
    "max",
    lambda xp, a, axis=None, keepdims=False: xp.max(a, axis=axis, keepdims=keepdims),
    _extreme_vjp,
    jvp=dense_jvp("max"),
    batch=shift_axes("max"),
)
min_p = primitive(
    "min",
    lambda xp, a, axis=None, keepdims=False: xp.min(a, axis=axis, keepdims=keepdims),
    _extreme_vjp,
    jvp=dense_jvp("min"),
    batch=shift_axes("min"),
)


def _reduce(prim: Any, x: Any, axis: Any, keepdims: bool) -> Tensor:
    x = as_tensor(x)
    if axis is not None:
        axes = normalize_axes(axis, x.ndim)
        axis = axes[0] if isinstance(axis, int) else axes
    return apply1(prim, x, {"axis": axis, "keepdims": bool(keepdims)})


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None for all axes).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.sum(ad.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0).tolist()
    [4.0, 6.0]
    """
    x = as_tensor(x)
    if dtype is None:
        return _reduce(sum_p, x, axis, keepdims)
    return in_dtype(_reduce(sum_p, x.astype(dtype), axis, keepdims), dtype)


def in_dtype(out: Tensor, dtype: Any) -> Tensor:
    """``out`` cast to an explicitly requested ``dtype``: libraries widen small integers
    when they sum or multiply them; wrapping back gives the same result modulo 2**bits.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.ops.reduction import in_dtype
    >>> in_dtype(ad.tensor(300), ad.uint8).item()
    44
    """
    target = to_dtype(dtype)
    return out if out.dtype is target else out.astype(target)


def mean(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.mean(ad.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1).tolist()
    [1.5, 3.5]
    """
    return _reduce(mean_p, x, axis, keepdims)


def max(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; tied maxima share the gradient equally.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([1.0, 3.0, 3.0], requires_grad=True)
    >>> _ = ad.max(x).backward()
    >>> x.grad.tolist()
    [0.0, 0.5, 0.5]
    """
    return _reduce(max_p, x, axis, keepdims)


def min(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over ``axis``; tied minima share the gradient equally.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.min(ad.tensor([3.0, 1.0, 2.0])).item()
    1.0
    """
    return _reduce(min_p, x, axis, keepdims)
