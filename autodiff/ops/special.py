"""Numerically careful composites that deserve their own primitive."""

from __future__ import annotations

import math
from typing import Any

from ..engine import apply, apply1, primitive
from ..tensor import Tensor
from ._util import as_tensor, normalize_axes
from .reduction import kept_shape

__all__ = ["logsumexp", "softmax_cross_entropy"]


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


def _ce_fwd(xp: Any, x: Any, labels: Any) -> tuple[Any, Any]:
    # (-log softmax(x)[label], logsumexp(x)) per row, classes on the last axis; a label
    # outside [0, C) gives NaN (no host read, so it also holds under ad.compile)
    m = xp.max(x, axis=-1, keepdims=True)
    m = xp.where(m == -math.inf, 0.0, m)  # an all -inf row is not shifted by -inf
    s = xp.sum(xp.exp(x - m), axis=-1)
    lse = xp.where(s == 0, -math.inf, xp.log(xp.where(s == 0, 1.0, s))) + m[..., 0]
    picked = xp.sum(xp.where(_one_hot(xp, x, labels), x, 0.0), axis=-1)
    valid = (labels >= 0) & (labels < x.shape[-1])
    return xp.where(valid, lse - picked, math.nan), lse


def _ce_vjp(xp: Any, g: Any, ans: Any, x: Any, labels: Any) -> tuple[Any, None]:
    # d loss/dx = softmax(x) - onehot(label), d lse/dx = softmax(x); softmax from the saved lse
    g_loss, g_lse = g
    loss, lse = ans
    p = xp.exp(x - lse[..., None])
    g_loss = xp.where(loss == loss, g_loss, math.nan)  # NaN rows (labels out of range) stay NaN
    d = p - xp.astype(_one_hot(xp, x, labels), x.dtype)
    return g_loss[..., None] * d + g_lse[..., None] * p, None


def _one_hot(xp: Any, x: Any, labels: Any) -> Any:
    # Dask's arrays have no .device (they live on one): the default device is theirs
    classes = xp.arange(x.shape[-1], dtype=labels.dtype, device=getattr(x, "device", None))
    return labels[..., None] == classes


softmax_cross_entropy_p = primitive("softmax_cross_entropy", _ce_fwd, _ce_vjp, nout=2)


def softmax_cross_entropy(logits: Any, labels: Any, /) -> Tensor:
    """Per-sample ``-log softmax(logits)[label]``, classes on the last axis, in one primitive.

    One node instead of the dozen a ``log_softmax`` and a one-hot product record, and one
    rule, ``g (softmax - onehot)``; ``ad.nn.cross_entropy`` uses it for class-index
    targets. A label outside ``[0, C)`` gives NaN for its sample (and its gradient), never
    a silently wrong loss.

    Parameters
    ----------
    logits : Tensor
        Floating scores of shape ``(..., C)``.
    labels : Tensor
        Integer classes of shape ``(...)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.ops.special import softmax_cross_entropy
    >>> losses = softmax_cross_entropy(ad.tensor([[2.0, 0.0], [0.0, 2.0]]), ad.tensor([0, 1]))
    >>> [round(v, 4) for v in losses.tolist()]
    [0.1269, 0.1269]
    >>> softmax_cross_entropy(ad.tensor([[1.0, 1.0]]), ad.tensor([2])).tolist()
    [nan]
    """
    x = as_tensor(logits)
    t = as_tensor(labels, x)
    if t.dtype.kind not in ("signed integer", "unsigned integer"):
        raise TypeError(f"softmax_cross_entropy needs integer labels, got {t.dtype.name}.")
    if x.ndim < 1 or t.shape != x.shape[:-1]:
        raise ValueError(
            f"labels must have the logits' shape without the class axis, {x.shape[:-1]}; "
            f"got {t.shape}."
        )
    loss, _ = apply(softmax_cross_entropy_p, (x, t))
    return loss
