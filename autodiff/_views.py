"""Views and in-place writes: NumPy's semantics over arrays that are never written.

autodiff never writes into a backend array: a graph node keeps the very arrays its rule
needs, and MLX, JAX and Dask have no views anyway. Views are therefore tracked here, the
same way on every backend:

- A view operation (basic indexing, ``reshape`` where NumPy would not copy,
  ``permute_dims``, ``matrix_transpose``, ``expand_dims``, ``squeeze``, ``broadcast_to``,
  ``flip``, and what is built from them) gives its result a ``View`` record: the root
  base tensor, the steps that derive the view from it, and the view's layout over the
  base's elements in C order (strides and offset in elements, as NumPy's). The base keeps
  weak references to its views.
- A write into a view (``v[k] = x``, ``v += y``; ``ops.indexing.assign``, in the op
  layer, as it writes with ops) computes the view's new value functionally, places it
  into the base at the view's positions (a differentiable scatter), rebinds the base,
  and rebinds every live view of the base to its steps replayed on the new base. A write
  into a base rebinds its live views the same way.
- ``rebind`` keeps the old state of a tensor for the nodes recorded before the write
  (``engine.REBOUND``): each rule sees, and each gradient goes to, the value the
  operation actually used.

Nothing here runs in ``apply1``/``apply2`` or in backward while no tensor has been
rebound by a recorded write: a program that writes into nothing pays only for the record
of each view it takes.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from .engine import apply1, record_rebind
from .grad_mode import GRAD_ENABLED
from .tensor import Tensor, wrap

__all__ = ["View", "fresh", "positions", "rebind", "refresh", "track"]

_new = object.__new__
_ref = weakref.ref

#: held from reading a tensor's value to rebinding it (setitem, in-place operators):
#: a write is read-compute-rebind, so two threads writing disjoint parts of one base
#: (scikit-learn's threaded ``pairwise_kernels``) would otherwise lose one of the writes
WRITE_LOCK = threading.RLock()
Layout = tuple[tuple[int, ...], int]


class View:
    """How a view tensor derives from its root base (``Tensor._view``)."""

    __slots__ = ("base", "base_shape", "offset", "part", "readonly", "steps", "strides")

    base: Tensor
    base_shape: tuple[int, ...]
    steps: tuple[tuple[Any, Any], ...]
    strides: tuple[int, ...]
    offset: int
    readonly: bool
    #: "real" or "imag" for a view of one part of a complex base, else None
    part: str | None


def _c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    step = 1
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return tuple(reversed(out))


# -- layouts: (shape, strides, offset, params, result shape) -> (strides, offset) or
# None where NumPy returns a copy


def _getitem(shape: Any, strides: Any, offset: int, p: Any, out: Any) -> Layout | None:
    key = p["key"]
    if all(isinstance(k, int) for k in key):
        return None  # every axis indexed by an int: NumPy gives a scalar, not a view
    new: list[int] = []
    dim = 0
    for i, k in enumerate(key):
        if k is None:
            new.append(0)
        elif k is Ellipsis:
            rest = sum(1 for q in key[i + 1 :] if q is not None and q is not Ellipsis)
            span = len(shape) - dim - rest
            new.extend(strides[dim : dim + span])
            dim += span
        elif isinstance(k, int):
            offset += (k % shape[dim]) * strides[dim]
            dim += 1
        else:
            start, _, step = k.indices(shape[dim])
            if len(range(*k.indices(shape[dim]))):
                offset += start * strides[dim]
            new.append(strides[dim] * step)
            dim += 1
    return tuple(new), offset


def _reshape(shape: Any, strides: Any, offset: int, p: Any, out: Any) -> Layout | None:
    # NumPy's _attempt_nocopy_reshape, C order, with strides in elements
    if p.get("copy"):
        return None
    if 0 in shape:
        return _c_strides(out), offset
    old = [(n, s) for n, s in zip(shape, strides) if n != 1]
    odims = [n for n, _ in old]
    ostr = [s for _, s in old]
    new = list(out)
    nstr = [0] * len(new)
    oi, oj, ni, nj = 0, 1, 0, 1
    while ni < len(new) and oi < len(odims):
        np_, op = new[ni], odims[oi]
        while np_ != op:
            if np_ < op:
                np_ *= new[nj]
                nj += 1
            else:
                op *= odims[oj]
                oj += 1
        for ok in range(oi, oj - 1):
            if ostr[ok] != odims[ok + 1] * ostr[ok + 1]:
                return None
        nstr[nj - 1] = ostr[oj - 1]
        for nk in range(nj - 1, ni, -1):
            nstr[nk - 1] = nstr[nk] * new[nk]
        ni = nj
        nj += 1
        oi = oj
        oj += 1
    last = nstr[ni - 1] if ni >= 1 else 1
    for nk in range(ni, len(new)):
        nstr[nk] = last
    return tuple(nstr), offset


def _permute(shape: Any, strides: Any, offset: int, p: Any, out: Any) -> Layout:
    return tuple(strides[a] for a in p["axes"]), offset


def _mT(shape: Any, strides: Any, offset: int, p: Any, out: Any) -> Layout:
    return (*strides[:-2], strides[-1], strides[-2]), offset


def _expand(shape: Any, strides: Any, offset: int, p: Any, out: Any) -> Layout:
    axis = p["axis"] % (len(shape) + 1)
    return (*strides[:axis], 0, *strides[axis:]), offset


def _squeeze(shape: Any, strides: Any, offset: int, p: Any, out: Any) -> Layout:
    axis = p["axis"]
    axes = {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}
    return tuple(s for i, s in enumerate(strides) if i not in axes), offset


def _broadcast(shape: Any, strides: Any, offset: int, p: Any, out: Any) -> Layout:
    lead = len(out) - len(shape)
    kept = [0 if n == 1 and m != 1 else s for n, m, s in zip(shape, out[lead:], strides)]
    return (0,) * lead + tuple(kept), offset


def _same(shape: Any, strides: Any, offset: int, p: Any, out: Any) -> Layout:
    return tuple(strides), offset


def _flip(shape: Any, strides: Any, offset: int, p: Any, out: Any) -> Layout:
    axis = p["axis"]
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    new = list(strides)
    for a in {a % len(shape) for a in axes} if shape else ():
        if shape[a] > 1:
            offset += (shape[a] - 1) * new[a]
        new[a] = -new[a]
    return tuple(new), offset


_LAYOUTS: dict[str, Callable[..., Layout | None]] = {
    "getitem": _getitem,
    "reshape": _reshape,
    "permute_dims": _permute,
    "matrix_transpose": _mT,
    "expand_dims": _expand,
    "squeeze": _squeeze,
    "broadcast_to": _broadcast,
    "flip": _flip,
    "real": _same,
    "imag": _same,
}


def track(out: Tensor, x: Tensor, prim: Any, params: Any = None) -> Tensor:
    """Record ``out = prim(x, **params)`` as a view of ``x``'s base, unless NumPy would
    have copied. Returns ``out``. Called by the view operations, never by ``apply1``."""
    if getattr(x, "_level", None) is not None:
        # a transform's value (vmap, jvp) is no array: its level decides
        hook = getattr(out, "_track_view", None)
        if hook is not None:
            hook(x, prim, params)
        return out
    info: View | None = getattr(x, "_view", None)
    shape = tuple(x.data.shape)
    steps: tuple[tuple[Any, Any], ...]
    if info is None:
        base, steps, strides, offset, readonly, part = x, (), _c_strides(shape), 0, False, None
    else:
        base, steps, strides, offset = info.base, info.steps, info.strides, info.offset
        readonly, part = info.readonly, info.part
    found = _LAYOUTS[prim.name](shape, strides, offset, params or {}, tuple(out.data.shape))
    if found is None:
        return out
    v = _new(View)
    v.base = base
    v.base_shape = tuple(base.data.shape) if info is None else info.base_shape
    v.steps = (*steps, (prim, params))
    v.strides, v.offset = found
    v.readonly = readonly or prim.name == "broadcast_to"
    if prim.name in ("real", "imag"):
        if x.dtype.kind == "complex floating":
            part = prim.name
        elif prim.name == "imag":
            v.readonly = True  # zeros, read-only in NumPy; real(x) is x itself
    v.part = part
    out._view = v  # type: ignore[attr-defined]
    refs: list[Any] | None = getattr(base, "_views", None)
    if refs is None:
        base._views = [_ref(out)]  # type: ignore[attr-defined]
        return out
    n = len(refs)
    if n >= 8 and not n & (n - 1):
        # at each power of two, forget the views that died: amortized O(1) per view
        refs[:] = [r for r in refs if r() is not None]
    refs.append(_ref(out))
    return out


def fresh(out: Tensor) -> Tensor:
    """``out`` as a new array, not a view: for functions that NumPy answers with a copy
    (``tile``, ``repeat``, ``meshgrid``) but that autodiff builds from view operations.
    A later write into their input must not reach ``out``, nor a write into ``out`` the
    input. The backend array may stay shared: autodiff never writes into one."""
    info: View | None = getattr(out, "_view", None)
    if info is None:
        return out
    refs: list[Any] | None = getattr(info.base, "_views", None)
    if refs:
        refs[:] = [r for r in refs if r() is not out]
    out._view = None  # type: ignore[attr-defined]
    return out


def rebind(t: Tensor, new: Tensor) -> None:
    """Give ``t`` the value of ``new`` and, when recording, its place in the graph.

    Nodes recorded before keep seeing ``t``'s old value and graph position: the old
    state is kept for them (``engine.record_rebind``), so a rule always uses the value
    its operation used and no cycle can form.
    """
    level = getattr(new, "_level", None)
    if level is not None and getattr(t, "_level", None) is None:
        raise TypeError(
            f"cannot write a value computed inside {level.kind} into a tensor made without "
            f"the {level.kind}'s inputs (it would lose its {level.kind} part); build the "
            "result functionally (ad.where, ad.concat, ad.pad ...) or start it from an "
            "input (y = x * 0, then y[k] = v)."
        )
    if GRAD_ENABLED.get() and (new._node is not t._node or new._rg is not t._rg):
        if t._node is None and t._rg:
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation: "
                "update it under `with ad.no_grad():`, or compute a new tensor (x = x + y)."
            )
        old = wrap(t.data, t._backend)
        old._rg, old._node, old._oi = t._rg, t._node, t._oi
        record_rebind(t, old)
        t._rg, t._node, t._oi = new._rg, new._node, new._oi
    t.data = new.data


def refresh(base: Tensor) -> None:
    """Rebind every live view of ``base`` to its steps replayed on ``base``'s value."""
    refs: list[Any] | None = getattr(base, "_views", None)
    if not refs:
        return
    alive = []
    shape = tuple(base.data.shape)
    for r in refs:
        w = r()
        if w is None:
            continue
        alive.append(r)
        info: View = w._view
        if info.base_shape != shape:
            continue  # the base was given data of another shape (t.data = ...)
        t = base
        for prim, params in info.steps:
            t = apply1(prim, t, params)
        rebind(w, t)
    refs[:] = alive


def positions(info: View, shape: tuple[int, ...]) -> Any:
    """The flat positions in the base (a host integer array of ``shape``) of a view."""
    backend = info.base._backend
    hx = backend.to_numpy(backend.asarray([0])).__array_namespace__()
    pos = hx.zeros(shape, dtype=hx.int64) + info.offset
    nd = len(shape)
    for i, (n, s) in enumerate(zip(shape, info.strides)):
        if n > 1 and s:
            along = hx.arange(n, dtype=hx.int64) * s
            pos = pos + hx.reshape(along, (1,) * i + (n,) + (1,) * (nd - i - 1))
    return pos
