"""Argument handling shared by the op modules."""

from __future__ import annotations

from typing import Any

from ..creation import asarray
from ..tensor import Tensor, wrap

__all__ = ["as_tensor", "normalize_axes", "normalize_axis", "scalar_or_tensor"]

_PY_SCALARS = (int, float, bool, complex)


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """Return ``x`` if it is a tensor, else a constant tensor made from it.

    With ``like``, the new tensor goes to ``like``'s backend and device;
    otherwise to the current default backend.
    """
    if isinstance(x, Tensor):
        return x
    if like is not None:
        backend = like._backend
        return wrap(backend.asarray(x, device=like.device), backend)

    return asarray(x)


def scalar_or_tensor(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Normalize the operands of a binary function: tensors and Python scalars pass,
    anything else (lists, NumPy arrays) becomes a tensor like the other operand."""
    t1 = isinstance(x1, Tensor)
    t2 = isinstance(x2, Tensor)
    if t1 and t2:
        return x1, x2
    if t1:
        return x1, x2 if isinstance(x2, _PY_SCALARS) else as_tensor(x2, x1)
    if t2:
        return (x1 if isinstance(x1, _PY_SCALARS) else as_tensor(x1, x2)), x2
    a = as_tensor(x1)
    return a, x2 if isinstance(x2, _PY_SCALARS) else as_tensor(x2, a)


def normalize_axis(axis: int, ndim: int) -> int:
    """Map a possibly negative axis into ``range(ndim)``; ``IndexError`` if out of range."""
    if not -ndim <= axis < ndim:
        raise IndexError(f"axis {axis} is out of range for a tensor with {ndim} dimensions.")
    return axis % ndim if ndim else 0


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """All axes for None, else a tuple of non-negative axes (no repeats)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = tuple(normalize_axis(int(a), ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis!r}.")
    return out
