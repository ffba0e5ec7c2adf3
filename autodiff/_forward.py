"""Forward mode: ``jvp`` as one pass that carries tangents (dual numbers).

``ad.jvp`` runs its function as a ``JVPLevel`` (see ``autodiff._interpose``): the
inputs become ``DualTensor``s, each holding a primal and a tangent of the level
below, and every primitive called on them comes to ``JVPLevel.process``, which
computes the primal output and its tangent with the primitive's JVP rule
(``Primitive.jvp``). No reverse pass runs.

- **Fast path.** With one level, no ``ad.compile`` trace and nothing that requires
  grad, the forward and the JVP rule run on raw arrays with the backend's namespace
  (as first-order backward does) and the dual is built once.
- **General path.** Otherwise both run on tensors with ``xp = autodiff``, so they are
  recorded by an outer ``grad`` (JAX's rule: output tangents are differentiable
  functions of primals and tangents), processed by an enclosing level (``jvp`` of
  ``jvp``, ``vmap``) and traced by ``ad.compile``.
- **Tape at this level.** When an argument requires grad (a ``grad`` runs *inside*
  the ``jvp``), the output dual records a node whose inputs are the duals, so that
  ``backward`` runs the VJP rules on dual numbers: the gradient carries a tangent
  (forward-over-reverse: ``hvp``, ``hessian``).
- **No JVP rule.** A differentiable primitive without one gets its tangent from its
  VJP rule by linearity (one local double VJP): correct, slower. A primitive that is
  not differentiable has a zero tangent.

A dual's ``shape``, ``dtype``, ``device`` come from its primal, and so do ``float(x)``,
``x.item()``, ``bool(x)``: the primal values of a ``jvp`` are concrete, so Python
control flow on them works. A dual kept past its ``jvp`` raises when used.
"""

from __future__ import annotations

import weakref
from typing import Any

from . import custom as _custom
from ._forward_ops import _by_linearity, _set
from ._interpose import Level, LevelTensor
from .engine import (
    CURRENT_TRACER,
    Node,
    Primitive,
    _forward_error,
    _is_complex,
    apply,
    record_rebind,
)
from .grad_mode import GRAD_ENABLED
from .tensor import Tensor, wrap

__all__ = ["DualTensor", "JVPLevel", "dual"]

_new = object.__new__
#: the key of a view made by anything but ``getitem`` (a write into it raises)
_NOT_GETITEM = object()
_SCALARS = frozenset((int, float, bool, complex))
_CURRENT_TRACER = CURRENT_TRACER.get


def _leaked(what: str) -> RuntimeError:
    return RuntimeError(
        f"{what} of a jvp that has finished was used (it was kept in a variable or "
        "closure outside the jvp'd function); return it from the function instead, so "
        "that jvp can turn it into a primal and a tangent."
    )


class DualTensor(LevelTensor):
    """A dual number of a running ``jvp``: a primal and its tangent (``None``: zero).

    Both are values of the level below (plain tensors, or values of an enclosing
    ``jvp``/``vmap``).
    """

    __slots__ = ("_primal", "_tangent", "_vbase", "_vkey", "_vlist")

    _primal: Any
    _tangent: Any
    _vbase: Any
    _vkey: Any
    _vlist: list[Any] | None

    @property
    def data(self) -> Any:
        """Raises: a dual number has no one array (code that reads ``.data`` to skip the
        engine would drop the tangent, a silent zero); ``float(x)``, ``x.item()`` and
        ``x.numpy()`` read the primal."""
        if not self._level.active:
            raise _leaked("a value")
        raise TypeError(
            "a value inside jvp has no .data (it is a primal with a tangent); use "
            "float(x), x.item() or x.numpy() for its primal value, or autodiff "
            "operations, which carry the tangent."
        )

    @data.setter
    def data(self, value: Any) -> None:
        raise TypeError(
            "the array of a value inside jvp cannot be replaced; compute a new tensor instead."
        )

    def numpy(self) -> Any:
        """The primal's values (concrete: Python control flow may use them)."""
        if not self._level.active:
            raise _leaked("a value")
        return self._primal.numpy()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        return self._primal.__array__(dtype) if dtype is not None else self._primal.__array__()

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return int(self.shape[0])

    def __iter__(self) -> Any:
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def _moved(self, dst: Any, src: Any) -> DualTensor:
        """``to_device`` of a dual: its primal and tangent move (and a tape records the
        move when a ``grad`` runs inside the ``jvp``)."""
        t = self._tangent
        out = dual(
            self._level,  # type: ignore[arg-type]
            self._primal.to_device(dst),
            None if t is None else t.to_device(dst),
        )
        if self._rg and GRAD_ENABLED.get():
            from . import engine

            move_p = engine.PRIMITIVES["to_device"]
            params = {"dst": dst, "src": src}
            out._node = Node(move_p, out._backend, (self,), params, out, (self,))
            out._rg = True
        return out

    def backward(self, grad: Any = None, **kwargs: Any) -> Any:
        if grad is None and self.size == 1:
            import autodiff as ad

            grad = ad.ones_like(self._primal)
        return Tensor.backward(self, grad, **kwargs)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._primal.shape

    @property
    def dtype(self) -> Any:
        return self._primal.dtype

    @property
    def ndim(self) -> int:
        return self._primal.ndim

    @property
    def size(self) -> int:
        return self._primal.size

    @property
    def device(self) -> Any:
        return self._primal.device

    def detach(self) -> Any:
        """The primal cut from every tape: a constant, so its tangent is zero (as
        reverse mode sees a detached value)."""
        if not self._level.active:
            raise _leaked("a value")
        return self._primal.detach()

    def _leaf(self) -> DualTensor:
        return dual(self._level, self._primal, self._tangent)  # type: ignore[arg-type]

    def _snapshot(self) -> DualTensor:
        """This dual as it is now, tape included (what a rebinding keeps for the
        operations recorded before it)."""
        d = dual(self._level, self._primal, self._tangent)  # type: ignore[arg-type]
        d._rg, d._node, d._oi = self._rg, self._node, self._oi
        return d

    def _rebind(self, new: Any) -> None:
        """``self`` takes the value of ``new`` (an in-place write, done functionally)."""
        if isinstance(new, DualTensor) and new._level is self._level:
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
        self._primal, self._tangent = p, t

    def _track_view(self, x: Any, prim: Any, params: Any) -> None:
        """``self = prim(x)`` is a view of the dual ``x`` (``_views.track`` calls this):
        a write into ``self`` goes through to ``x`` (a ``getitem`` view), and a write
        into ``x`` while ``self`` is alive raises (``self`` would not see it)."""
        if not isinstance(x, DualTensor) or x._level is not self._level:
            return
        self._vbase = weakref.ref(x)  # a base nobody else holds cannot see a write
        self._vkey = params["key"] if prim.name == "getitem" else _NOT_GETITEM
        if x._vlist is None:
            x._vlist = []
        x._vlist = [r for r in x._vlist if r() is not None]
        x._vlist.append(weakref.ref(self))

    def _write(self, new: Any, exclude: tuple[Any, ...]) -> None:
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

    def _inplace(self, prim: Any, other: Any) -> Tensor:
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

    def __setitem__(self, key: Any, value: Any) -> None:
        """``x[key] = value`` on a dual: computed functionally from dual operations
        (the tangent at the written positions becomes the value's), then ``x`` is
        rebound; as in NumPy, a write into a view (``x[i][j] = v``) reaches its base."""
        self._write(_set(self._snapshot(), key, value), (value,))

    def __copy__(self) -> DualTensor:
        return self._leaf()

    def __repr__(self) -> str:
        if not self._level.active:
            return "<value of a finished jvp>"
        return f"DualTensor(primal={self._primal!r}, tangent={self._tangent!r})"

    __str__ = __repr__


def dual(level: JVPLevel, primal: Any, tangent: Any) -> DualTensor:
    """A new ``DualTensor`` of ``level`` (no tape: ``_rg`` False, no node)."""
    d = _new(DualTensor)
    d._level = level
    d._primal = primal
    d._tangent = tangent
    d._backend = primal._backend
    d._rg = False
    d._node = None
    d._oi = 0
    d._grad = None
    d.name = None
    d._hooks = None
    d._vbase = d._vkey = d._vlist = None
    return d


class JVPLevel(Level):
    """One running ``jvp``: processes the primitive calls on its ``DualTensor``s."""

    __slots__ = ()

    kind = "jvp"

    def process(self, prim: Primitive, args: tuple[Any, ...], params: Any) -> Any:
        if prim.jvp is not None and prim.differentiable:
            fast = self._fast(prim, args, params)
            if fast is not None:
                return fast
        return self._general(prim, args, params)

    def _fast(self, prim: Primitive, args: tuple[Any, ...], params: Any) -> Any:
        """One pass over raw arrays with the backend's ``xp`` when nothing but this
        level is involved: every tensor argument a plain tensor or a dual of this level
        over plain tensors, nothing on a tape, no ``ad.compile`` trace. ``None`` when
        the general path must run."""
        backend = None
        datas: list[Any] = []
        tans: list[Any] = []
        has_tangent = False
        for a in args:
            cls = a.__class__
            if cls is DualTensor:
                if a._level is not self or a._rg:
                    return None
                p = a._primal
                t = a._tangent
                if p.__class__ is not Tensor or p._rg:
                    return None
                if t is None:
                    tans.append(None)
                else:
                    if t.__class__ is not Tensor or t._rg:
                        return None
                    tans.append(t.data)
                    has_tangent = True
            elif cls is Tensor:
                if a._rg:
                    return None
                p = a
                tans.append(None)
            elif cls in _SCALARS:
                datas.append(a)
                tans.append(None)
                continue
            else:
                return None
            if backend is None:
                backend = p._backend
            elif p._backend is not backend:
                return None  # mixed backends: the general path raises the error
            datas.append(p.data)
        if not has_tangent or backend is None or _CURRENT_TRACER() is not None:
            return None
        xp = backend.xp
        fwd = backend.kernels.get(prim) or prim.forward
        jvp: Any = prim.jvp
        try:
            out = fwd(xp, *datas, **params) if params else fwd(xp, *datas)
        except Exception as err:
            raise _forward_error(prim, args, err) from err
        tan = jvp(xp, tans, out, *datas, **params) if params else jvp(xp, tans, out, *datas)
        if prim.nout == 1:
            # the dual, its primal and its tangent built inline (this runs per operation)
            d = _new(DualTensor)
            d._level = self
            d._primal = p = _new(Tensor)
            p.data = out
            p._backend = d._backend = backend
            p._rg = d._rg = False
            p._node = d._node = None
            p._oi = d._oi = 0
            p._grad = d._grad = None
            p.name = d.name = None
            p._hooks = d._hooks = None
            d._vbase = d._vkey = d._vlist = None
            if tan is None:
                d._tangent = None
            elif (
                tan.__class__ is out.__class__ and tan.shape == out.shape and tan.dtype == out.dtype
            ):
                d._tangent = t = _new(Tensor)
                t.data = tan
                t._backend = backend
                t._rg = False
                t._node = None
                t._oi = 0
                t._grad = None
                t.name = None
                t._hooks = None
            else:
                d._tangent = _fit_raw(xp, backend, tan, out)
            return d
        return tuple(
            dual(self, wrap(o, backend), _fit_raw(xp, backend, t, o)) for o, t in zip(out, tan)
        )

    def _general(self, prim: Primitive, args: tuple[Any, ...], params: Any) -> Any:
        """Primal and tangent as operations on tensors (recorded, traced, or processed
        by the levels below), and a node at this level when an argument is on a tape."""
        primals: list[Any] = []
        tangents: list[Any] = []
        has_tangent = False
        rg = False  # an argument is on a tape: record a node at this level
        for a in args:
            if isinstance(a, DualTensor) and a._level is self:
                p, t = a._primal, a._tangent
                rg = rg or a._rg
                has_tangent = has_tangent or t is not None
            else:
                p, t = a, None
                if isinstance(a, Tensor):
                    rg = rg or a._rg
            primals.append(p)
            tangents.append(t)
        differentiable = prim.differentiable and has_tangent
        record = rg and prim.differentiable and GRAD_ENABLED.get()
        out = apply(prim, primals, params)
        if not differentiable:
            if not record:
                return out  # a zero tangent: the value of the level below will do
            tan: Any = None if prim.nout == 1 else (None,) * prim.nout
        elif prim.jvp is not None:
            import autodiff as xp

            jvp = prim.jvp
            tan = (
                jvp(xp, tangents, out, *primals, **params)
                if params
                else jvp(xp, tangents, out, *primals)
            )
        else:
            tan = _by_linearity(prim, primals, tangents, out, params)
        if prim.nout == 1:
            result: Any = dual(self, out, _fit(tan, out))
            outs: tuple[DualTensor, ...] = (result,)
        else:
            outs = tuple(dual(self, o, _fit(t, o)) for o, t in zip(out, tan))
            result = outs
        if record:
            node = Node(prim, outs[0]._backend, tuple(args), params, result, tuple(args))
            for i, d in enumerate(outs):
                d._rg = True
                d._node = node
                d._oi = i
        return result


def record_custom_jvp(
    prim: Primitive, inputs: list[Any], outs: list[Any], params: dict[str, Any]
) -> list[Any]:
    """A ``custom_vjp`` or ``checkpoint`` call on dual numbers: ``fwd`` ran on them, so
    its outputs carry the tangent of ``fwd``'s own computation; they get one node at
    this level whose rule is the custom ``bwd`` (run on dual numbers: the gradient
    carries a tangent)."""
    level = max(
        (t._level for t in (*inputs, *outs) if isinstance(t, DualTensor)),
        key=lambda lvl: lvl.depth,
    )
    attached = []
    for o in outs:
        if isinstance(o, DualTensor) and o._level is level:
            attached.append(dual(level, o._primal, o._tangent))  # type: ignore[arg-type]
        else:
            attached.append(dual(level, o, None))  # type: ignore[arg-type]
    ans = attached[0] if len(attached) == 1 else tuple(attached)
    node = Node(prim, attached[0]._backend, tuple(inputs), params, ans, tuple(inputs))
    for i, d in enumerate(attached):
        d._rg = True
        d._node = node
        d._oi = i
    return attached


def _fit_raw(xp: Any, backend: Any, t: Any, out: Any) -> Any:
    """The tangent ``t`` of the raw output ``out`` as a tensor of its shape and dtype."""
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
    return wrap(t, backend)


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


_custom.LEVEL_RECORDERS["jvp"] = record_custom_jvp
