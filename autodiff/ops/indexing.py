"""Indexing primitives: forward and gradient rule side by side."""

from __future__ import annotations

from typing import Any

from ..engine import apply1, call, primitive
from ..tensor import Tensor

__all__ = ["getitem"]


def _scatter_fwd(xp: Any, g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    out = xp.zeros(shape, dtype=g.dtype, device=g.device)
    # None (new axes) cannot appear in an assignment: drop them, and g's size-1 axes
    plain = tuple(k for k in key if k is not None)
    out[plain] = xp.reshape(g, tuple(out[plain].shape))
    return out


def _getitem_vjp(xp: Any, g: Any, ans: Any, a: Any, key: Any) -> tuple[Any]:
    # the gradient of a[key] is g placed at key in zeros of a's shape
    return (call(xp, scatter_p, g, key=key, shape=tuple(a.shape)),)


getitem_p = primitive("getitem", lambda xp, a, key: a[key], _getitem_vjp)
scatter_p = primitive(
    "scatter_into_zeros",
    _scatter_fwd,
    lambda xp, g, ans, a, key, shape: (call(xp, getitem_p, g, key=key),),
)


def _normalize_key(key: Any, shape: tuple[int, ...]) -> Any:
    parts = key if isinstance(key, tuple) else (key,)
    out: list[Any] = []
    dim = 0
    for k in parts:
        if isinstance(k, Tensor):
            raise IndexError(
                "indexing with a tensor is not supported yet; use Python ints and slices."
            )
        if k is None:
            out.append(None)
            continue
        if k is Ellipsis:
            out.append(k)
            dim = len(shape) - sum(1 for p in parts if p is not None and p is not Ellipsis)
            continue
        if isinstance(k, bool) or not isinstance(k, (int, slice)):
            if hasattr(k, "__index__") and not isinstance(k, bool):
                k = int(k.__index__())
            else:
                raise IndexError(f"unsupported index {k!r}: use ints, slices, None and ...")
        if dim >= len(shape):
            raise IndexError(f"too many indices for a tensor of shape {shape}.")
        if isinstance(k, int) and not -shape[dim] <= k < shape[dim]:
            raise IndexError(f"index {k} is out of bounds for axis {dim} with size {shape[dim]}.")
        out.append(k)
        dim += 1
    if Ellipsis not in out and dim < len(shape):
        out.append(Ellipsis)  # the remaining axes are taken whole
    return tuple(out)


def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]`` for basic indices: ints, slices, ``None`` and ``...``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.arange(6.0)[1:4].tolist()
    [1.0, 2.0, 3.0]
    """
    return apply1(getitem_p, x, {"key": _normalize_key(key, x.shape)})


def _scatter_add_fwd(xp: Any, g: Any, indices: Any, axis: int, size: int) -> Any:
    # out[..., indices[j], ...] += g[..., j, ...], written with a one-hot matmul so it
    # runs on any array API library (backends override it with a native kernel)
    onehot = xp.astype(
        xp.reshape(indices, (-1, 1)) == xp.arange(size, dtype=indices.dtype), g.dtype
    )
    out = xp.matmul(xp.moveaxis(g, axis, -1), onehot)
    return xp.moveaxis(out, -1, axis)


def _take_vjp(xp: Any, g: Any, ans: Any, a: Any, indices: Any, axis: int) -> tuple[Any, None]:
    # repeated indices add up
    return (call(xp, scatter_add_p, g, indices, axis=axis, size=a.shape[axis]), None)


take_p = primitive("take", lambda xp, a, indices, axis: xp.take(a, indices, axis=axis), _take_vjp)
scatter_add_p = primitive(
    "scatter_add",
    _scatter_add_fwd,
    vjps=(
        lambda xp, g, ans, g0, indices, axis, size: call(xp, take_p, g, indices, axis=axis),
        None,
    ),
)


def take(x: Tensor, indices: Any, /, *, axis: int | None = None) -> Tensor:
    """Elements of ``x`` at integer ``indices`` along ``axis``; gradients of repeated
    indices add up.

    Examples
    --------
    >>> import autodiff as ad
    >>> w = ad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> ad.take(w, ad.tensor([1, 1, 0]), axis=0).sum().backward() is not None
    True
    >>> w.grad.tolist()
    [[1.0, 1.0], [2.0, 2.0]]
    """
    from ..engine import apply
    from ._util import as_tensor, normalize_axis

    x = as_tensor(x)
    idx = as_tensor(indices, like=x)
    if idx.dtype.kind not in ("signed integer", "unsigned integer") or idx.ndim != 1:
        raise IndexError(
            f"take needs a 1-d integer index tensor, got {idx.dtype.name} of shape {idx.shape}."
        )
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take without axis needs a 1-d tensor, got shape {x.shape}.")
        axis = 0
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    host = idx._backend.to_numpy(idx.data)
    if host.size and (host.min() < -n or host.max() >= n):
        raise IndexError(f"take: an index is out of range for axis {axis} with size {n}.")
    if host.size and host.min() < 0:
        idx = as_tensor(host % n, like=x)
    return apply(take_p, (x, idx), {"axis": axis})
