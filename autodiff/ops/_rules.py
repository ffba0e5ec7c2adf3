"""Shared forward-mode (JVP) and batching (``vmap``) rules for the op modules.

A JVP rule is ``rule(xp, tangents, ans, *inputs, **params) -> tangent`` and a batching
rule ``rule(xp, dims, *inputs, **params) -> (out, out_dims)`` (see ``engine.Primitive``).
The factories here take the primitive's *name*: the rule looks the primitive up when it
runs, so a definition can name itself (``primitive("exp", ..., batch=elementwise("exp"))``).
Like the VJP rules, every rule here is written against the array API and runs both with a
backend's namespace on raw arrays and with ``xp = autodiff`` on tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._core import PRIMITIVES, identity
from ..engine import call

__all__ = [
    "along_axis",
    "batch_size",
    "bilinear",
    "dense_jvp",
    "diagonal_jvp",
    "elementwise",
    "front",
    "lift",
    "linear",
    "on_stacks",
    "per_example",
    "scatter_add_batch",
    "self_adjoint",
    "shift_axes",
    "take_batch",
]

Rule = Callable[..., Any]


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def _is_complex(xp: Any, x: Any) -> bool:
    return bool(xp.isdtype(x.dtype, "complex floating"))


# -- JVP rules ----------------------------------------------------------------------------


def linear(name: str, argnums: tuple[int, ...] | None = None) -> Rule:
    """The JVP of a primitive linear in its inputs ``argnums`` (all by default): the
    primitive itself applied to the tangents (zeros for a zero tangent), the other
    inputs (indices, say) passed as they are."""

    def rule(xp: Any, tangents: Any, ans: Any, *inputs: Any, **params: Any) -> Any:
        which = range(len(inputs)) if argnums is None else argnums
        if all(tangents[i] is None for i in which):
            return None
        args = list(inputs)
        for i in which:
            t = tangents[i]
            args[i] = t if t is not None else xp.zeros_like(inputs[i])
        return call(xp, PRIMITIVES[name], *args, **params)

    rule.__name__ = f"{name}_linear_jvp"
    return rule


def diagonal_jvp(name: str) -> Rule:
    """The JVP of an elementwise primitive from its per-input VJP rules: each input's
    Jacobian is diagonal (``g * df/dx_i``), so applying the VJP rule to the tangent gives
    that input's term; the terms are summed and broadcast to the output's shape. Valid for
    real functions and for rules written as ``g * f'(z)`` (``holomorphic=True``)."""

    def rule(xp: Any, tangents: Any, ans: Any, *inputs: Any, **params: Any) -> Any:
        prim = PRIMITIVES[name]
        out = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            if prim.vjps is not None:
                r = prim.vjps[i]
                if r is None:
                    continue
                term = t if r is identity else r(xp, t, ans, *inputs, **params)
            else:
                term = prim.vjp(xp, t, ans, *inputs, **params)[i]  # type: ignore[misc]
                if term is None:
                    continue
            out = term if out is None else out + term
        if out is None:
            return None
        if tuple(out.shape) != tuple(ans.shape):
            out = xp.broadcast_to(out, tuple(ans.shape))
        return out

    rule.__name__ = f"{name}_jvp"
    return rule


def bilinear(name: str) -> Rule:
    """The JVP of a primitive linear in each of its two inputs (``matmul``, ``cross``):
    ``f(ta, b) + f(a, tb)``, broadcast to the output's shape."""

    def rule(xp: Any, tangents: Any, ans: Any, a: Any, b: Any, **params: Any) -> Any:
        prim = PRIMITIVES[name]
        ta, tb = tangents
        out = None if ta is None else call(xp, prim, ta, b, **params)
        if tb is not None:
            term = call(xp, prim, a, tb, **params)
            out = term if out is None else out + term
        if out is not None and tuple(out.shape) != tuple(ans.shape):
            out = xp.broadcast_to(out, tuple(ans.shape))
        return out

    rule.__name__ = f"{name}_jvp"
    return rule


def self_adjoint(name: str) -> Rule:
    """The JVP of a one-input primitive whose Jacobian is symmetric (``softmax``): its
    VJP rule applied to the tangent."""

    def rule(xp: Any, tangents: Any, ans: Any, *inputs: Any, **params: Any) -> Any:
        t = tangents[0]
        if t is None:
            return None
        return PRIMITIVES[name].vjp(xp, t, ans, *inputs, **params)[0]  # type: ignore[misc]

    rule.__name__ = f"{name}_jvp"
    return rule


def dense_jvp(name: str, reduce: bool = True) -> Rule:
    """The JVP of a one-input primitive whose VJP is ``g`` (spread over the reduced axes)
    times a partial-derivative array ``D`` of the input's shape (``max``, ``prod``,
    ``logsumexp``, ``vector_norm``, ``abs``): ``D`` is the VJP of ones, and the tangent is
    ``sum(D * t)`` over the reduced axes (no sum when ``reduce`` is false). A real output
    of complex input (``abs``, norms) uses ``Re(conj(D) t)``: its gradient ``D`` is
    ``df/dx + i df/dy``; a holomorphic rule's ``D`` is ``f'(z)`` and multiplies."""

    def rule(xp: Any, tangents: Any, ans: Any, a: Any, **params: Any) -> Any:
        t = tangents[0]
        if t is None:
            return None
        prim = PRIMITIVES[name]
        d = prim.vjp(xp, xp.ones_like(ans), ans, a, **params)[0]  # type: ignore[misc]
        if _is_complex(xp, a) and not _is_complex(xp, ans):
            prod = xp.real(xp.conj(d) * t)
        else:
            prod = d * t
        if not reduce:
            return prod
        axis = params.get("axis")
        return xp.sum(prod, axis=axis, keepdims=params.get("keepdims", False))

    rule.__name__ = f"{name}_jvp"
    return rule


# -- batching rules --------------------------------------------------------------------


def front(xp: Any, x: Any, d: int | None) -> Any:
    """``x`` with its batch axis ``d`` moved to the front (unchanged when 0 or None)."""
    if d is None or d == 0:
        return x
    return xp.moveaxis(x, d, 0)


def batch_size(inputs: Any, dims: Any) -> int:
    """The batch size: the length of the first batched input's batch axis."""
    return next(int(x.shape[d]) for x, d in zip(inputs, dims) if d is not None)


def per_example(xp: Any, x: Any, d: int | None, size: int) -> Any:
    """``x`` with a leading batch axis of ``size``: moved there, or broadcast along it."""
    if d is not None:
        return front(xp, x, d)
    return xp.broadcast_to(xp.expand_dims(x, axis=0), (size, *tuple(x.shape)))


def lift(xp: Any, x: Any, rank: int) -> Any:
    """``(B, *s)`` as ``(B, 1, ..., 1, *s)`` with ``len(s)`` raised to ``rank``: batched
    examples that broadcast against each other (or against unbatched inputs) as the
    examples do."""
    shape = tuple(x.shape)
    k = rank - (len(shape) - 1)
    return xp.reshape(x, (shape[0], *(1,) * k, *shape[1:])) if k > 0 else x


def elementwise(name: str, in_place: bool = True) -> Rule:
    """Batching rule of an elementwise primitive (any number of inputs broadcasting
    together): batch axes moved to the front, ranks aligned after them. With ``in_place``
    a lone batched input keeps its batch axis where no other input broadcasts against it
    (not for a primitive with a negative ``axis`` parameter: ``cross``)."""

    def rule(xp: Any, dims: Any, *inputs: Any, **params: Any) -> Any:
        prim = PRIMITIVES[name]
        # the usual case first: every batched input has its batch axis in front and the
        # same rank, no unbatched array is wider than an example (they broadcast as the
        # examples do, with nothing to move)
        nd = -1
        for x, d in zip(inputs, dims):
            if d is not None:
                if d != 0 or (nd >= 0 and x.ndim != nd):
                    nd = -2
                    break
                nd = x.ndim
        if nd >= 0 and all(
            d is not None or not _is_array(y) or y.ndim < nd for y, d in zip(inputs, dims)
        ):
            out = call(xp, prim, *inputs, **params)
            return out, (tuple(0 for _ in out) if prim.nout > 1 else 0)
        batched = [i for i, d in enumerate(dims) if d is not None]
        if not batched:
            return call(xp, prim, *inputs, **params), None
        if in_place and len(batched) == 1:
            # one batched input, the others scalars or no wider than the axes after its
            # batch axis: the batch axis stays where it is
            i = batched[0]
            x = inputs[i]
            d = dims[i] % x.ndim
            if all(
                j == i or not _is_array(y) or y.ndim <= x.ndim - 1 - d for j, y in enumerate(inputs)
            ):
                out = call(xp, prim, *inputs, **params)
                return out, (tuple(d for _ in out) if prim.nout > 1 else d)
        rank = max(x.ndim - (d is not None) for x, d in zip(inputs, dims) if _is_array(x))
        args = [
            lift(xp, front(xp, x, d), rank) if d is not None else x for x, d in zip(inputs, dims)
        ]
        out = call(xp, prim, *args, **params)
        return out, (tuple(0 for _ in out) if prim.nout > 1 else 0)

    rule.__name__ = f"{name}_batch"
    return rule


def _shift(axis: Any, ndim: int, none: str) -> Any:
    # a per-example axis parameter for the batched array (batch axis first)
    if axis is None:
        return tuple(range(1, ndim + 1)) if none == "all" else None
    if isinstance(axis, tuple | list):
        return tuple((int(a) % ndim if ndim else 0) + 1 for a in axis)
    return (int(axis) % ndim if ndim else 0) + 1


def shift_axes(name: str, param: str = "axis", none: str = "all", default: Any = None) -> Rule:
    """Batching rule of a one-input primitive whose ``param`` names axes of the example
    (reductions, scans, ``flip``, ``roll``, ``softmax``...): the batch axis goes first and
    the axes shift by one. ``none`` says what ``param=None`` means: ``"all"`` axes (a
    reduction), ``"flat"`` (``argmax``: the flattened example) or ``"keep"`` (a
    parameter whose None is not an axis); ``default`` is the forward's default."""

    def rule(xp: Any, dims: Any, a: Any, *rest: Any, **params: Any) -> Any:
        prim = PRIMITIVES[name]
        x = front(xp, a, dims[0])
        nd = x.ndim - 1
        axis = params.get(param, default)
        p = dict(params)
        if axis is None and none == "flat":
            flat = xp.reshape(x, (int(x.shape[0]), -1))
            p[param] = 1
            kd = bool(p.get("keepdims", False))
            p["keepdims"] = False
            out = call(xp, prim, flat, *rest, **p)
            if kd:
                out = xp.reshape(out, (int(x.shape[0]), *(1,) * nd))
            return out, 0
        if axis is None and none == "keep":
            return call(xp, prim, x, *rest, **params), 0
        p[param] = () if isinstance(axis, tuple | list) and not axis else _shift(axis, nd, none)
        if p[param] == () and "keepdims" in p:
            # a reduction over no axis (axis=(), or a 0-d example's axis=None) is one over
            # a new size-1 axis: some libraries read an empty axis tuple as "all axes"
            x = xp.expand_dims(x, axis=-1)
            p[param] = x.ndim - 1
            p["keepdims"] = False
        out = call(xp, prim, x, *rest, **p)
        return out, (tuple(0 for _ in out) if prim.nout > 1 else 0)

    rule.__name__ = f"{name}_batch"
    return rule


def on_stacks(name: str) -> Rule:
    """Batching rule of a one-input primitive that works on the last axes and accepts a
    stack of them in front (``matrix_transpose``, ``tril``, ``inv``, ``svd``...): the
    batch axis goes first and becomes one more stack axis."""

    def rule(xp: Any, dims: Any, a: Any, *rest: Any, **params: Any) -> Any:
        prim = PRIMITIVES[name]
        out = call(xp, prim, front(xp, a, dims[0]), *rest, **params)
        return out, (tuple(0 for _ in out) if prim.nout > 1 else 0)

    rule.__name__ = f"{name}_batch"
    return rule


def along_axis(name: str, param: str = "axis") -> Rule:
    """Batching rule of a one-input primitive on a stack with an axis parameter that may
    be negative (counted from the end: unchanged) or not (shifted by one): the FFTs."""

    def rule(xp: Any, dims: Any, a: Any, **params: Any) -> Any:
        p = dict(params)
        axis = p[param]
        if isinstance(axis, tuple | list):
            p[param] = tuple(int(ax) + 1 if ax >= 0 else int(ax) for ax in axis)
        elif axis is not None:
            p[param] = int(axis) + 1 if axis >= 0 else int(axis)
        return call(xp, PRIMITIVES[name], front(xp, a, dims[0]), **p), 0

    rule.__name__ = f"{name}_batch"
    return rule


# -- gathers and scatters -----------------------------------------------------------


def _offsets(xp: Any, idx: Any, n: int) -> Any:
    # batched indices (B, k) into n positions -> flat positions into B * n (wrapped first)
    idx = xp.where(idx < 0, idx + n, idx)
    b = int(idx.shape[0])
    start = xp.arange(b, dtype=idx.dtype, device=getattr(idx, "device", None)) * n
    return xp.reshape(idx + xp.reshape(start, (b, 1)), (-1,))


def take_batch(xp: Any, dims: Any, a: Any, indices: Any, axis: int) -> tuple[Any, int]:
    """Batching rule of ``take``: batched indices take from the examples laid end to end."""
    da, di = dims
    if di is None:
        x = front(xp, a, da)
        return call(xp, PRIMITIVES["take"], x, indices, axis=axis % (x.ndim - 1) + 1), 0
    idx = front(xp, indices, di)
    b, k = int(idx.shape[0]), int(idx.shape[1])
    if da is None:
        # one take of every example's indices, then the batch split out of the axis
        ax = axis % a.ndim
        out = call(xp, PRIMITIVES["take"], a, xp.reshape(idx, (-1,)), axis=ax)
        shape = tuple(out.shape)
        out = xp.reshape(out, (*shape[:ax], b, k, *shape[ax + 1 :]))
        return xp.moveaxis(out, ax, 0), 0
    # both batched: one take from the examples laid end to end along the axis
    x = front(xp, a, da)
    ax = axis % (x.ndim - 1) + 1
    moved = xp.moveaxis(x, ax, 1)
    n = int(moved.shape[1])
    rest = tuple(moved.shape[2:])
    flat = xp.reshape(moved, (b * n, *rest))
    out = call(xp, PRIMITIVES["take"], flat, _offsets(xp, idx, n), axis=0)
    return xp.moveaxis(xp.reshape(out, (b, k, *rest)), 1, ax), 0


def scatter_add_batch(
    xp: Any, dims: Any, g: Any, indices: Any, axis: int, size: int
) -> tuple[Any, int]:
    """Batching rule of ``scatter_add``: batched indices scatter into the examples laid
    end to end."""
    dg, di = dims
    if di is None:
        x = front(xp, g, dg)
        return call(
            xp, PRIMITIVES["scatter_add"], x, indices, axis=axis % (x.ndim - 1) + 1, size=size
        ), 0
    # batched indices: one scatter into the examples laid end to end along the axis
    idx = front(xp, indices, di)
    b = int(idx.shape[0])
    x = per_example(xp, g, dg, b)
    ax = axis % (x.ndim - 1) + 1
    moved = xp.moveaxis(x, ax, 1)
    k = int(moved.shape[1])
    rest = tuple(moved.shape[2:])
    flat = xp.reshape(moved, (b * k, *rest))
    out = call(xp, PRIMITIVES["scatter_add"], flat, _offsets(xp, idx, size), axis=0, size=b * size)
    return xp.moveaxis(xp.reshape(out, (b, size, *rest)), 1, ax), 0
