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
