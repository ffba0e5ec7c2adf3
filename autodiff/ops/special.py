"""Numerically careful composites that deserve their own primitive."""

from __future__ import annotations

import math
import operator
from typing import Any

from .._core import primitive
from ..engine import apply, apply1, call
from ..tensor import Tensor
from ._rules import batch_size, dense_jvp, per_example, self_adjoint, shift_axes
from ._util import as_tensor, normalize_axes
from .reduction import kept_shape

__all__ = ["log_softmax", "logsumexp", "softmax", "softmax_cross_entropy"]


def _shifted(xp: Any, a: Any, axis: Any) -> tuple[Any, Any]:
    # (a - m, m) with m the max over axis (kept); a slice whose max is ±inf is shifted
    # by 0 instead (-inf - -inf and inf - inf would be NaN)
    m = xp.max(a, axis=axis, keepdims=True)
    m = xp.where(xp.isinf(m), 0.0, m)
    return a - m, m


def _log_sum(xp: Any, z: Any, axis: Any) -> Any:
    # log(sum(exp(z))) over axis (kept), -inf for an empty sum without log(0)
    s = xp.sum(xp.exp(z), axis=axis, keepdims=True)
    return xp.where(s == 0, -math.inf, xp.log(xp.where(s == 0, 1.0, s)))


def _lse_fwd(xp: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    kept = kept_shape(tuple(a.shape), axis)
    if math.prod(a.shape) == 0:  # nothing to take a max of: the empty sum, -inf
        out = xp.full(kept, -math.inf, dtype=a.dtype, device=getattr(a, "device", None))
    else:
        z, m = _shifted(xp, a, axis)
        out = _log_sum(xp, z, axis) + m
    return out if keepdims else xp.reshape(out, _dropped(a.shape, axis))


def _dropped(shape: Any, axis: Any) -> tuple[int, ...]:
    axes = normalize_axes(axis, len(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _lse_vjp(
    xp: Any, g: Any, ans: Any, a: Any, axis: Any = None, keepdims: bool = False
) -> tuple[Any]:
    # d lse / d a = softmax(a), recomputed from a shifted by its max (exp(a - lse) is off
    # where lse rounds: float32 at 1e7); an all -inf slice gets zero gradient, not NaN
    kept = kept_shape(tuple(a.shape), axis)
    if math.prod(a.shape) == 0:
        return (xp.zeros_like(a),)
    return (xp.reshape(g, kept) * _softmax_fwd_axes(xp, a, axis),)


def _softmax_fwd_axes(xp: Any, a: Any, axis: Any) -> Any:
    z, _ = _shifted(xp, a, axis)
    e = xp.exp(z)
    s = xp.sum(e, axis=axis, keepdims=True)
    return e / xp.where(s == 0, 1.0, s)


logsumexp_p = primitive(
    "logsumexp",
    _lse_fwd,
    _lse_vjp,
    jvp=dense_jvp("logsumexp"),
    batch=shift_axes("logsumexp"),
)


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


def _log_softmax_fwd(xp: Any, a: Any, axis: int = -1) -> Any:
    # (a - m) - log(sum(exp(a - m))): a - logsumexp(a) loses everything where lse rounds
    if math.prod(a.shape) == 0:
        return a + 0  # empty in, empty out (not every library takes a max of nothing)
    z, _ = _shifted(xp, a, axis)
    return z - _log_sum(xp, z, axis)


def _log_softmax_vjp(xp: Any, g: Any, ans: Any, a: Any, axis: int = -1) -> tuple[Any]:
    # d log_softmax: ā = g - softmax(a) Σ g (an all -inf slice: softmax 0, not NaN)
    p = xp.where(ans == -math.inf, 0.0, xp.exp(ans))
    return (g - p * xp.sum(g, axis=axis, keepdims=True),)


def _softmax_fwd(xp: Any, a: Any, axis: int = -1) -> Any:
    if math.prod(a.shape) == 0:
        return a + 0
    return _softmax_fwd_axes(xp, a, axis)


def _softmax_vjp(xp: Any, g: Any, ans: Any, a: Any, axis: int = -1) -> tuple[Any]:
    # d softmax: ā = p (g - Σ g p)
    return (ans * (g - xp.sum(g * ans, axis=axis, keepdims=True)),)


def _log_softmax_jvp(xp: Any, tangents: Any, ans: Any, a: Any, axis: int = -1) -> Any:
    # d log_softmax = t - Σ softmax(a) t
    t = tangents[0]
    if t is None:
        return None
    p = xp.where(ans == -math.inf, 0.0, xp.exp(ans))
    return t - xp.sum(p * t, axis=axis, keepdims=True)


log_softmax_p = primitive(
    "log_softmax",
    _log_softmax_fwd,
    _log_softmax_vjp,
    jvp=_log_softmax_jvp,
    batch=shift_axes("log_softmax", default=-1),
)
# softmax's Jacobian diag(p) - p pᵀ is symmetric: the VJP rule is the JVP rule
softmax_p = primitive(
    "softmax",
    _softmax_fwd,
    _softmax_vjp,
    jvp=self_adjoint("softmax"),
    batch=shift_axes("softmax", default=-1),
)


def log_softmax(x: Any, /, *, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``, computed from ``x`` shifted by its maximum, so
    it stays accurate where ``logsumexp`` rounds (float32 at large magnitudes).

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.ops.special import log_softmax
    >>> [round(v, 4) for v in log_softmax(ad.tensor([1000.0, 1000.0])).tolist()]
    [-0.6931, -0.6931]
    """
    x = as_tensor(x)
    return apply1(log_softmax_p, x, {"axis": _one_axis(axis, x)})


def softmax(x: Any, /, *, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed from ``x`` shifted by its maximum.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.ops.special import softmax
    >>> softmax(ad.tensor([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    x = as_tensor(x)
    return apply1(softmax_p, x, {"axis": _one_axis(axis, x)})


def _one_axis(axis: int, x: Tensor) -> int:
    if x.ndim == 0:
        raise ValueError("softmax needs at least one dimension, got a 0-d tensor.")
    return normalize_axes(int(axis), x.ndim)[0]


def _ce_fwd(
    xp: Any, x: Any, labels: Any, ignore_index: int | None = None, mean: bool = False
) -> tuple[Any, Any]:
    # (-log softmax(x)[label], logsumexp(x)) per row, classes on the last axis; a label
    # outside [0, C) gives NaN (no host read, so it also holds under ad.compile). A row
    # whose label is ignore_index gives 0; mean=True divides each row's loss by the
    # number of rows kept (so their sum is the mean over them: 0/0, NaN, if none is)
    m = xp.max(x, axis=-1, keepdims=True)
    m = xp.where(m == -math.inf, 0.0, m)  # an all -inf row is not shifted by -inf
    s = xp.sum(xp.exp(x - m), axis=-1)
    lse = xp.where(s == 0, -math.inf, xp.log(xp.where(s == 0, 1.0, s))) + m[..., 0]
    picked = xp.sum(xp.where(_one_hot(xp, x, labels), x, 0.0), axis=-1)
    valid = (labels >= 0) & (labels < x.shape[-1])
    loss = xp.where(valid, lse - picked, math.nan)
    if ignore_index is not None:
        loss = xp.where(labels == ignore_index, 0.0, loss)
    if mean:
        loss = loss / _kept_count(xp, labels, ignore_index, x.dtype)
    return loss, lse


def _kept_count(xp: Any, labels: Any, ignore_index: int | None, dtype: Any) -> Any:
    # the number of rows not ignored, in the loss's dtype (a 0-d array)
    kept = xp.ones_like(labels) if ignore_index is None else labels != ignore_index
    return xp.sum(xp.astype(kept, dtype))


def _ce_vjp(
    xp: Any,
    g: Any,
    ans: Any,
    x: Any,
    labels: Any,
    ignore_index: int | None = None,
    mean: bool = False,
) -> tuple[Any, None]:
    # d loss/dx = softmax(x) - onehot(label), d lse/dx = softmax(x); softmax from the saved
    # lse. Ignored rows get no gradient from the loss (PyTorch's zeros, even when all are)
    g_loss, g_lse = g
    loss, lse = ans
    p = xp.exp(x - lse[..., None])
    g_loss = xp.where(loss == loss, g_loss, math.nan)  # NaN rows (labels out of range) stay NaN
    if ignore_index is None:
        if mean:
            g_loss = g_loss / max(math.prod(labels.shape), 1)
    else:
        kept = labels != ignore_index
        if mean:  # (at least 1: when every row is ignored, every gradient is 0 below)
            n = xp.sum(xp.astype(kept, x.dtype))
            g_loss = g_loss / xp.where(n == 0, 1.0, n)
        g_loss = xp.where(kept, g_loss, 0.0)
    d = p - xp.astype(_one_hot(xp, x, labels), x.dtype)
    return g_loss[..., None] * d + g_lse[..., None] * p, None


def _one_hot(xp: Any, x: Any, labels: Any) -> Any:
    # Dask's arrays have no .device (they live on one): the default device is theirs
    classes = xp.arange(x.shape[-1], dtype=labels.dtype, device=getattr(x, "device", None))
    return labels[..., None] == classes


def _ce_jvp(
    xp: Any,
    tangents: Any,
    ans: Any,
    x: Any,
    labels: Any,
    ignore_index: int | None = None,
    mean: bool = False,
) -> tuple[Any, Any]:
    # d lse = Σ softmax(x) t, d loss = d lse - t[label], masked and scaled as the forward
    t = tangents[0]
    if t is None:
        return None, None
    loss, lse = ans
    p = xp.exp(x - lse[..., None])
    d_lse = xp.sum(p * t, axis=-1)
    d_loss = d_lse - xp.sum(xp.where(_one_hot(xp, x, labels), t, 0.0), axis=-1)
    d_loss = xp.where(loss == loss, d_loss, math.nan)
    if ignore_index is not None:
        d_loss = xp.where(labels == ignore_index, 0.0, d_loss)
    if mean:
        d_loss = d_loss / _kept_count(xp, labels, ignore_index, x.dtype)
    return d_loss, d_lse


def _ce_batch(
    xp: Any, dims: Any, x: Any, labels: Any, ignore_index: int | None = None, mean: bool = False
) -> tuple[Any, Any]:
    # rows are independent: batch them as more rows; mean=True divides by each example's
    # own count of kept rows
    size = batch_size((x, labels), dims)
    xb = per_example(xp, x, dims[0], size)
    lb = per_example(xp, labels, dims[1], size)
    loss, lse = call(xp, softmax_cross_entropy_p, xb, lb, ignore_index=ignore_index, mean=False)
    if mean:
        kept = xp.ones_like(lb) if ignore_index is None else lb != ignore_index
        n = xp.astype(kept, loss.dtype)
        if lb.ndim > 1:
            n = xp.sum(n, axis=tuple(range(1, lb.ndim)), keepdims=True)
        loss = loss / n
    return (loss, lse), (0, 0)


softmax_cross_entropy_p = primitive(
    "softmax_cross_entropy", _ce_fwd, _ce_vjp, nout=2, jvp=_ce_jvp, batch=_ce_batch
)


def softmax_cross_entropy(
    logits: Any, labels: Any, /, *, ignore_index: int | None = None, mean: bool = False
) -> Tensor:
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
    ignore_index : int, optional
        A label whose samples get loss 0 and no gradient (PyTorch's ``ignore_index``).
    mean : bool, optional
        Divide each sample's loss by the number of samples kept (not ignored), so that the
        losses sum to their mean, still in one node: ``ad.nn.cross_entropy``'s default
        reduction is this and a sum.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.ops.special import softmax_cross_entropy
    >>> losses = softmax_cross_entropy(ad.tensor([[2.0, 0.0], [0.0, 2.0]]), ad.tensor([0, 1]))
    >>> [round(v, 4) for v in losses.tolist()]
    [0.1269, 0.1269]
    >>> softmax_cross_entropy(ad.tensor([[1.0, 1.0]]), ad.tensor([2])).tolist()
    [nan]
    >>> softmax_cross_entropy(ad.tensor([[1.0, 1.0]]), ad.tensor([-100]), ignore_index=-100).tolist()
    [0.0]
    >>> halves = softmax_cross_entropy(ad.tensor([[2.0, 0.0], [0.0, 2.0]]), ad.tensor([0, 1]), mean=True)
    >>> [round(v, 4) for v in halves.tolist()]
    [0.0635, 0.0635]
    """
    # with mean=True each loss is divided by the number of samples kept, so that their
    # sum is the mean (ad.nn.cross_entropy's default: two operations)
    x = as_tensor(logits)
    t = as_tensor(labels, x)
    if t.dtype.kind not in ("signed integer", "unsigned integer"):
        raise TypeError(f"softmax_cross_entropy needs integer labels, got {t.dtype.name}.")
    if x.ndim < 1 or t.shape != x.shape[:-1]:
        raise ValueError(
            f"labels must have the logits' shape without the class axis, {x.shape[:-1]}; "
            f"got {t.shape}."
        )
    if ignore_index is None and not mean:
        loss, _ = apply(softmax_cross_entropy_p, (x, t))
    else:
        if ignore_index is not None:
            ignore_index = operator.index(ignore_index)
        params = {"ignore_index": ignore_index, "mean": mean}
        loss, _ = apply(softmax_cross_entropy_p, (x, t), params)
    return loss


def _cross_entropy(logits: Any, labels: Any, ignore_index: int | None, mean: bool) -> Tensor:
    """``softmax_cross_entropy`` with its options as positional arguments."""
    return softmax_cross_entropy(logits, labels, ignore_index=ignore_index, mean=mean)
