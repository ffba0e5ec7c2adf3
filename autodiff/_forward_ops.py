"""Forward mode's helpers on tensors: the ``zeros_like``/``ones_like`` primitives the
transforms use (traced, batched, carried by ``jvp``), the tangent of a primitive without
a JVP rule (its VJP rule by linearity), and ``x[key] = value`` on a dual number computed
from dual operations. Used by ``autodiff._forward`` and ``autodiff.transforms``."""

from __future__ import annotations

import weakref
from typing import Any

from ._backward import _unbroadcast, backward
from ._interpose import LevelTensor
from .engine import Primitive, _is_complex, apply, apply1, identity, record_rebind
from .grad_mode import GRAD_ENABLED, enable_grad
from .tensor import Tensor

__all__ = ["_by_linearity", "_ones_like", "_set", "_zeros_like"]


def _zeros_forward(xp: Any, a: Any) -> Any:
    return xp.zeros_like(a)


#: zeros shaped like a tensor, as an operation on it: ``ad.compile`` traces it, so a
#: compiled gradient of an input the function ignores is zeros, as in eager mode
_zeros_p: Primitive = Primitive(
    "zeros_like", _zeros_forward, batch=lambda xp, dims, a: _like_batch(_zeros_p, xp, dims, a)
)


def _like_batch(prim: Primitive, xp: Any, dims: Any, a: Any) -> Any:
    """vmap's rule for ``zeros_like``/``ones_like``: the same on the whole batch."""
    return apply1(prim, a), dims[0]


def _zeros_like(t: Tensor) -> Tensor:
    return apply1(_zeros_p, t)


def _ones_like(t: Tensor) -> Tensor:
    """Ones shaped like a tensor, as an operation on it (traced, batched, dual)."""
    return apply1(_ones_p, t)


def _ones_forward(xp: Any, a: Any) -> Any:
    return xp.ones_like(a)


_ones_p: Primitive = Primitive(
    "ones_like", _ones_forward, batch=lambda xp, dims, a: _like_batch(_ones_p, xp, dims, a)
)


def _set(x: Any, key: Any, value: Any) -> Any:
    """``x`` with ``value`` placed at ``key``, from operations on dual numbers (as
    ``ops.indexing.setitem`` computes it; positions come from a plain proxy)."""
    import math

    import autodiff as ad

    from .ops import indexing as ix

    v = value if isinstance(value, Tensor) else ad.asarray(value, dtype=x.dtype, device=x.device)
    if v.dtype != x.dtype:
        v = v.astype(x.dtype)
    shape = x.shape
    proxy = ad.zeros(shape, dtype=ad.bool, device=x.device)  # a plain tensor: host positions
    parts = key if isinstance(key, tuple) else (key,)
    if not any(ix._is_advanced(k) for k in parts):
        nkey = ix._normalize_key(key, shape)
        sel_shape = proxy[nkey].shape
        vb = ad.broadcast_to(v, sel_shape)
        placed = apply(ix.scatter_p, (vb,), {"key": nkey, "shape": shape})
        if math.prod(sel_shape) == math.prod(shape):
            return placed
        hit = apply(
            ix.scatter_p,
            (ad.ones(sel_shape, dtype=ad.bool, device=x.device),),
            {"key": nkey, "shape": shape},
        )
        return ad.where(hit, placed, x)
    pos = ix.flat_positions(proxy, key)
    vb = ad.broadcast_to(v, tuple(pos.shape))
    flat_pos = pos.reshape(-1)
    hx = flat_pos.__array_namespace__()
    uniq, first_rev = hx.unique(flat_pos[::-1], return_index=True)
    src = flat_pos.size - 1 - first_rev
    keep = hx.ones(x.size, dtype=bool)
    keep[uniq] = False

    def dev(a: Any) -> Any:
        return ad.asarray(a, device=x.device)

    picked = apply(ix.take_p, (ad.reshape(vb, (-1,)), dev(src)), {"axis": 0})
    placed = apply(ix.scatter_add_p, (picked, dev(uniq)), {"axis": 0, "size": x.size})
    if not keep.any():
        return ad.reshape(placed, shape)
    return ad.reshape(ad.where(dev(keep), ad.reshape(x, (-1,)), placed), shape)


def _fresh(x: Any) -> Any:
    """A leaf on the tape with ``x``'s value (and level)."""
    y = x._leaf() if isinstance(x, LevelTensor) else x.detach()
    y._rg = True
    return y


def _real_dot(a: Any, b: Any) -> Any:
    import autodiff as ad

    if _is_complex(a) or _is_complex(b):
        return (ad.real(a) * ad.real(b) + ad.imag(a) * ad.imag(b)).sum()
    return (a * b).sum()


def _by_linearity(
    prim: Primitive, primals: list[Any], tangents: list[Any], out: Any, params: Any
) -> Any:
    """``J · tangents`` of a primitive without a JVP rule, from its VJP rule: the
    gradient of ``<VJPᵀ(c), tangents>`` with respect to the cotangent ``c`` (the
    transpose of a linear map), as the engine's backward would apply the rule (complex
    convention, broadcasting, dtypes), both passes local to this one call."""
    import autodiff as ad

    params = params or {}
    outs = out if prim.nout > 1 else (out,)
    with enable_grad():
        cts = [_fresh(_zeros_like(o)) for o in outs]
        g: Any = tuple(cts) if prim.nout > 1 else cts[0]
        conj = prim.holomorphic and _is_complex(out)
        if conj:
            g = ad.conj(g)
        res = None if prim.vjps is not None else prim.vjp(ad, g, out, *primals, **params)  # type: ignore[misc]
        total: Any = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            if prim.vjps is not None:
                rule = prim.vjps[i]
                if rule is None:
                    continue
                gi = g if rule is identity else rule(ad, g, out, *primals, **params)
            else:
                gi = res[i]  # type: ignore[index]
            if gi is None:
                continue
            if conj:
                gi = ad.conj(gi)
            p = primals[i]
            if gi.shape != p.shape:
                gi = _unbroadcast(ad, gi, tuple(p.shape), prim)
            if gi.dtype != p.dtype:
                if _is_complex(gi) and not _is_complex(p):
                    gi = ad.real(gi)
                gi = gi.astype(p.dtype)
            term = _real_dot(gi, t)
            total = term if total is None else total + term
        if total is None or not total._rg:
            return None if prim.nout == 1 else (None,) * prim.nout
        # stop where this call's inputs and outputs join a larger graph
        stops = cts + [
            x for x in (*primals, *outs, *tangents) if isinstance(x, Tensor) and x._node is not None
        ]
        back = backward(
            [total],
            [_ones(total)],
            create_graph=True,
            inputs=stops,
            accumulate=False,
            stop_at_inputs=True,
        )
    result = []
    for c in cts:
        entry = back.get(id(c))
        result.append(None if entry is None else entry[1])
    return result[0] if prim.nout == 1 else tuple(result)


def _ones(t: Any) -> Any:
    import autodiff as ad

    return ad.ones_like(t)


#: the key of a view made by anything but ``getitem`` (a write into it raises)
_NOT_GETITEM = object()


class DualWrites:
    """``DualTensor``'s writes: ``x[key] = value``, ``x op= y`` and views of duals, done
    functionally (the dual is rebound to a new primal and tangent)."""

    __slots__ = ()

    def _rebind(self: Any, new: Any) -> None:
        """``self`` takes the value of ``new`` (an in-place write, done functionally)."""
        if isinstance(new, type(self)) and new._level is self._level:
            p, t, rg, node, oi = new._primal, new._tangent, new._rg, new._node, new._oi
        else:
            p, t, rg, node, oi = new, None, new._rg, None, 0
            if rg:  # a value of the level below on a tape: the write is not on this level's
                rg = False
        if GRAD_ENABLED.get() and (node is not self._node or rg is not self._rg):
            if self._node is None and self._rg:
                raise RuntimeError(
                    "a leaf tensor that requires grad is being used in an in-place "
                    "operation: update it under `with ad.no_grad():`, or compute a new "
                    "tensor (x = x + y)."
                )
            record_rebind(self, self._snapshot())
            self._rg, self._node, self._oi = rg, node, oi
        _assign(self, p, t)

    def _track_view(self: Any, x: Any, prim: Any, params: Any) -> None:
        """``self = prim(x)`` is a view of the dual ``x`` (``_views.track`` calls this):
        a write into ``self`` goes through to ``x`` (a ``getitem`` view), and a write
        into ``x`` while ``self`` is alive raises (``self`` would not see it)."""
        if not isinstance(x, type(self)) or x._level is not self._level:
            return
        self._vbase = weakref.ref(x)  # a base nobody else holds cannot see a write
        self._vkey = params["key"] if prim.name == "getitem" else _NOT_GETITEM
        if x._vlist is None:
            x._vlist = []
        x._vlist = [r for r in x._vlist if r() is not None]
        x._vlist.append(weakref.ref(self))

    def _write(self: Any, new: Any, exclude: tuple[Any, ...]) -> None:
        """Rebind to ``new``, through to the base when this dual is a view."""
        for r in self._vlist or ():
            v = r()
            if v is not None and all(v is not e for e in exclude):
                raise TypeError(
                    "a view of this value inside jvp (y = x[k], x.reshape(...) ...) is still "
                    "alive and would not see this write; write before taking the view, or "
                    "write through the view."
                )
        base = self._vbase() if self._vbase is not None else None
        if base is not None:
            if self._vkey is _NOT_GETITEM:
                raise TypeError(
                    "writing into a reshaped, transposed or broadcast view of a value inside "
                    "jvp is not supported; write into the value itself (x[i, j] = v)."
                )
            base._write(_set(base._snapshot(), self._vkey, new), (*exclude, self))
        self._rebind(new)

    def _inplace(self: Any, prim: Any, other: Any) -> Tensor:
        """``x op= y`` on a dual: ``x`` is rebound to ``x op y`` (primal and tangent)."""
        from .ops.linalg import matmul

        old = self._snapshot()
        out = matmul(old, other) if prim is None else apply(prim, (old, other))
        if out.shape != self.shape or out.dtype != self.dtype:
            raise TypeError(
                f"an in-place operation cannot change the shape or dtype of a tensor: "
                f"{self.shape} {self.dtype.name} would become {out.shape} {out.dtype.name}; "
                "write x = x op y instead."
            )
        self._write(out, (other,))
        return self

    def __setitem__(self: Any, key: Any, value: Any) -> None:
        """``x[key] = value`` on a dual: computed functionally from dual operations
        (the tangent at the written positions becomes the value's), then ``x`` is
        rebound; as in NumPy, a write into a view (``x[i][j] = v``) reaches its base."""
        self._write(_set(self._snapshot(), key, value), (value,))


def _assign(d: Any, p: Any, t: Any) -> None:
    """Give ``d`` the primal ``p`` and tangent ``t`` (tensors of the level below; ``t``
    None: zero); ``d`` is raw when both are plain tensors off every tape."""
    d._p = p
    d._t = t
    if (
        p.__class__ is Tensor
        and not p._rg
        and (t is None or (t.__class__ is Tensor and not t._rg and t._backend is p._backend))
    ):
        d._pd = p.data
        d._td = None if t is None else t.data
    else:
        d._pd = d._td = None


def _fit_raw(xp: Any, backend: Any, t: Any, out: Any) -> Any:
    """The tangent ``t`` of the raw output ``out`` fitted to its shape and dtype (an array)."""
    if t is None:
        return None
    if t.shape != out.shape or t.dtype != out.dtype:
        if not backend.dtype_of(out).is_floating:
            return None
        t = xp.asarray(t)
        if t.dtype != out.dtype:
            if _is_complex(t) and not _is_complex(out):
                t = xp.real(t)
            t = xp.astype(t, out.dtype)
        if t.shape != out.shape:
            t = xp.broadcast_to(t, out.shape)
    return t


def _fit(t: Any, out: Any) -> Any:
    """The tangent ``t`` of tensor ``out`` with its shape and dtype (a rule may return
    the tangent of a broadcast input, or a Python scalar)."""
    if t is None:
        return None
    import autodiff as ad

    if not isinstance(t, Tensor):
        if not out.dtype.is_floating:
            return None
        t = ad.full_like(out, t)
    if t.dtype != out.dtype:
        if not out.dtype.is_floating:
            return None
        if _is_complex(t) and not _is_complex(out):
            t = ad.real(t)
        t = t.astype(out.dtype)
    if t.shape != out.shape:
        t = ad.broadcast_to(t, out.shape)
    return t
