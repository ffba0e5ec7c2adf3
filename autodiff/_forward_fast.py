"""Forward mode's fast path: ``engine.apply1``/``apply2`` hand a call on *raw* dual
numbers (see ``autodiff._forward.DualTensor``) straight here while a transform runs.

A raw dual holds its primal and tangent as arrays of one backend, off every tape. When
every tensor operand of a call is a raw dual of one running ``jvp`` or a plain tensor
off every tape, nothing records it (no ``ad.compile`` trace) and some operand has a
tangent, the forward runs on the arrays, then the tangent: the fused rule of
``autodiff.ops._jvp_fused`` where the primitive has one, its general JVP rule on the
arrays otherwise. The result is a new raw dual, built with the few slots it needs. Any
other call goes to ``_interpose.dispatch`` (the general path: nested levels, ``grad``
inside or around the ``jvp``, ``vmap``, ``ad.compile``), which handles it as before.
"""

from __future__ import annotations

from typing import Any

from . import engine
from ._core import PRIMITIVES
from ._forward_ops import _fit_raw
from ._interpose import dispatch as _dispatch
from .engine import CURRENT_TRACER, Primitive, _forward_error, _operands
from .ops import _jvp_fused
from .tensor import Tensor

__all__ = ["blank", "install"]

_new = object.__new__
_SCALARS = frozenset((int, float, bool, complex))
#: the Python scalars the fast path takes (a complex one would make a real tangent's
#: output complex: the general path fits it)
_REALS = frozenset((int, float, bool))
_CURRENT_TRACER = CURRENT_TRACER.get
#: ``autodiff._forward.DualTensor`` (set by ``install``: that module imports this one)
Dual: Any = None
#: the fused rules by primitive; ``_SAME``: unary ones whose tangent always has the
#: output's shape and dtype (elementwise, dtype-preserving: no fitting needed)
_UNARY: dict[Primitive, Any] = {}
_BINARY: dict[Primitive, Any] = {}
_SAME: frozenset[Primitive] = frozenset()


def blank(level: Any, backend: Any) -> Any:
    """A new dual of ``level`` with no tape, every slot set (``_pd``, ``_td``, ``_p``,
    ``_t`` None: the caller sets them)."""
    d = _new(Dual)
    d._level = level
    d._backend = backend
    d._rg = False
    d._node = None
    d._oi = 0
    d._grad = None
    d.name = None
    d._hooks = None
    d._p = d._t = d._pd = d._td = None
    d._vbase = d._vkey = d._vlist = None
    return d


def _raw(level: Any, backend: Any, xp: Any, out: Any, tan: Any) -> Any:
    """The raw dual of the arrays ``out`` and ``tan`` (fitted to ``out``'s shape and
    dtype: a rule may give a broadcast input's tangent)."""
    d = blank(level, backend)
    d._pd = out
    if tan is not None and (
        type(tan) is not type(out) or tan.shape != out.shape or tan.dtype != out.dtype
    ):
        tan = _fit_raw(xp, backend, tan, out)
    d._td = tan
    return d


def _enter1(prim: Primitive, x: Any, params: Any) -> Any:
    """``engine.apply1`` while a transform runs."""
    if type(x) is Dual and not x._rg:
        p = x._pd
        t = x._td
        level = x._level
        if p is not None and t is not None and level.active and _CURRENT_TRACER() is None:
            rule = _UNARY.get(prim)
            if rule is not None or (prim.jvp is not None and prim.differentiable):
                backend = x._backend
                xp = backend.xp
                try:
                    if rule is not None:
                        fwd = backend.kernels.get(prim)
                        out, tan = rule(xp, fwd, p, t, **params) if params else rule(xp, fwd, p, t)
                    else:
                        fwd = backend.kernels.get(prim) or prim.forward
                        out = fwd(xp, p, **params) if params else fwd(xp, p)
                except Exception as err:
                    raise _forward_error(prim, (x,), err) from err
                if rule is None:
                    jvp: Any = prim.jvp
                    tan = jvp(xp, [t], out, p, **params) if params else jvp(xp, [t], out, p)
                elif prim in _SAME and type(tan) is type(out):
                    # elementwise: the tangent has the output's shape and dtype (a class
                    # differs where NumPy gives a scalar for 0-d arrays)
                    # ``blank`` inline (this runs per operation)
                    d = _new(Dual)
                    d._level = level
                    d._backend = backend
                    d._rg = False
                    d._node = None
                    d._oi = 0
                    d._grad = None
                    d.name = None
                    d._hooks = None
                    d._p = d._t = None
                    d._vbase = d._vkey = d._vlist = None
                    d._pd = out
                    d._td = tan
                    return d
                return _raw(level, backend, xp, out, tan)
    return _dispatch(prim, (x,), params)


def _enter2(prim: Primitive, a: Any, b: Any) -> Any:
    """``engine.apply2`` while a transform runs: as ``_enter1``; each operand a raw dual
    of one level, a plain tensor off every tape or a Python scalar."""
    if type(a) is Dual:
        level = a._level
        backend = a._backend
        pa = a._pd
        ta = a._td
        ok = pa is not None and not a._rg
        cls = type(b)
        if cls in _REALS:
            pb = b
            tb = None
        elif cls is Dual:
            pb = b._pd
            tb = b._td
            ok = ok and pb is not None and not b._rg and b._level is level
        elif cls is Tensor:
            pb = b.data
            tb = None
            ok = ok and not b._rg and b._backend is backend
        else:
            ok = False
    elif type(b) is Dual:
        level = b._level
        backend = b._backend
        pb = b._pd
        tb = b._td
        ok = pb is not None and not b._rg
        cls = type(a)
        if cls in _REALS:
            pa = a
            ta = None
        elif cls is Tensor:
            pa = a.data
            ta = None
            ok = ok and not a._rg and a._backend is backend
        else:
            ok = False
    else:
        ok = False
    if ok and (ta is not None or tb is not None) and level.active and _CURRENT_TRACER() is None:
        rule = _BINARY.get(prim)
        if (rule is not None or (prim.jvp is not None and prim.differentiable)) and not (
            backend.multi_device
            and type(pa) not in _SCALARS
            and type(pb) not in _SCALARS
            and backend.device_of(pa) != backend.device_of(pb)
        ):
            xp = backend.xp
            try:
                if rule is not None:
                    out, tan = rule(xp, backend.kernels.get(prim), pa, pb, ta, tb)
                else:
                    fwd = backend.kernels.get(prim) or prim.forward
                    out = fwd(xp, pa, pb)
            except Exception as err:
                raise _forward_error(prim, (a, b), err) from err
            if rule is None:
                jvp: Any = prim.jvp
                tan = jvp(xp, [ta, tb], out, pa, pb)
            # ``blank`` inline (this runs per operation)
            d = _new(Dual)
            d._level = level
            d._backend = backend
            d._rg = False
            d._node = None
            d._oi = 0
            d._grad = None
            d.name = None
            d._hooks = None
            d._p = d._t = None
            d._vbase = d._vkey = d._vlist = None
            d._pd = out
            if tan is not None and (
                type(tan) is not type(out)
                # a fused rule with a real Python scalar: the tangent is like the output
                or (
                    not (rule is not None and cls in _REALS)
                    and (tan.shape != out.shape or tan.dtype != out.dtype)
                )
            ):
                tan = _fit_raw(xp, backend, tan, out)
            d._td = tan
            return d
    return _dispatch(prim, _operands(a, b), None)


def install(dual_cls: type) -> None:
    """Route ``engine.apply1``/``apply2`` under a transform through the fast path, for
    duals of class ``dual_cls``."""
    global Dual, _SAME
    Dual = dual_cls
    for name, rule in _jvp_fused.UNARY.items():
        if name in PRIMITIVES:
            _UNARY[PRIMITIVES[name]] = rule
    for name, rule in _jvp_fused.BINARY.items():
        if name in PRIMITIVES:
            _BINARY[PRIMITIVES[name]] = rule
    _SAME = frozenset(PRIMITIVES[n] for n in _jvp_fused.ELEMENTWISE if n in PRIMITIVES)
    engine.INTERPOSE1[0] = _enter1
    engine.INTERPOSE2[0] = _enter2
