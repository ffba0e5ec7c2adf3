"""Forward mode's helpers on tensors: the ``zeros_like``/``ones_like`` primitives the
transforms use (traced, batched, carried by ``jvp``), the tangent of a primitive without
a JVP rule (its VJP rule by linearity), and ``x[key] = value`` on a dual number computed
from dual operations. Used by ``autodiff._forward`` and ``autodiff.transforms``."""

from __future__ import annotations

from typing import Any

from ._backward import _unbroadcast, backward
from ._interpose import LevelTensor
from .engine import Primitive, _is_complex, apply, apply1, identity
from .grad_mode import enable_grad
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
