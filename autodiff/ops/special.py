"""Numerically careful composites that deserve their own primitive."""

from __future__ import annotations

import math
from typing import Any

from ..engine import apply1, primitive
from ..tensor import Tensor
from ._util import as_tensor, normalize_axes
from .reduction import kept_shape

__all__ = ["logsumexp"]


def _lse_fwd(xp: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    # shift by the max; an all -inf slice has max -inf, shifted by 0 instead
    m = xp.max(a, axis=axis, keepdims=True)
    m = xp.where(m == -math.inf, 0.0, m)
    s = xp.sum(xp.exp(a - m), axis=axis, keepdims=True)
    out = xp.where(s == 0, -math.inf, xp.log(xp.where(s == 0, 1.0, s)) + m)
    return (
        out
        if keepdims
        else xp.reshape(
            out,
            tuple(out.shape[i] for i in range(out.ndim) if i not in normalize_axes(axis, out.ndim)),
        )
    )


def _lse_vjp(
    xp: Any, g: Any, ans: Any, a: Any, axis: Any = None, keepdims: bool = False
) -> tuple[Any]:
    # d lse / d a = softmax(a); an all -inf slice gets zero gradient, not NaN
    kept = kept_shape(tuple(a.shape), axis)
    lse = xp.reshape(ans, kept)
    shift = xp.where(lse == -math.inf, 0.0, lse)
    return (xp.reshape(g, kept) * xp.exp(a - shift),)


logsumexp_p = primitive("logsumexp", _lse_fwd, _lse_vjp)


def logsumexp(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis`` without overflow.

    A slice that is entirely ``-inf`` gives ``-inf`` and a zero gradient.

    Examples
    --------
    >>> import autodiff as ad
    >>> round(ad.logsumexp(ad.tensor([1000.0, 1000.0])).item(), 4)
    1000.6931
    """
    x = as_tensor(x)
    if axis is not None:
        axes = normalize_axes(axis, x.ndim)
        axis = axes[0] if isinstance(axis, int) else axes
    return apply1(logsumexp_p, x, {"axis": axis, "keepdims": bool(keepdims)})
