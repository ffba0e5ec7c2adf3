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

from typing import Any

from . import _forward_fast
from . import custom as _custom
from ._forward_fast import _raw
from ._forward_ops import DualWrites, _assign, _by_linearity, _fit
from ._interpose import Level, LevelTensor
from .engine import CURRENT_TRACER, Node, Primitive, _forward_error, apply
from .grad_mode import GRAD_ENABLED
from .tensor import Tensor, wrap

__all__ = ["DualTensor", "JVPLevel", "dual"]

_new = object.__new__
_SCALARS = frozenset((int, float, bool, complex))
_CURRENT_TRACER = CURRENT_TRACER.get


def _leaked(what: str) -> RuntimeError:
    return RuntimeError(
        f"{what} of a jvp that has finished was used (it was kept in a variable or "
        "closure outside the jvp'd function); return it from the function instead, so "
        "that jvp can turn it into a primal and a tangent."
    )


class DualTensor(DualWrites, LevelTensor):
    """A dual number of a running ``jvp``: a primal and its tangent (``None``: zero).

    Both are values of the level below (plain tensors, or values of an enclosing
    ``jvp``/``vmap``).
    """

    # ``_p``/``_t``: the primal and tangent tensors. A *raw* dual (``_pd`` not None: the
    # fast path's, or one over plain tensors off every tape) also holds their arrays,
    # ``_pd`` and ``_td`` (None: a zero tangent), and builds ``_p``/``_t`` when asked.
    # Every slot is always set: no ``__getattr__``, which would slow every attribute read.
    __slots__ = ("_p", "_pd", "_t", "_td", "_vbase", "_vkey", "_vlist")

    _p: Any
    _pd: Any
    _t: Any
    _td: Any
    _vbase: Any
    _vkey: Any
    _vlist: list[Any] | None

    @property
    def _primal(self) -> Any:
        p = self._p
        if p is None:
            p = self._p = wrap(self._pd, self._backend)
        return p

    @property
    def _tangent(self) -> Any:
        t = self._t
        if t is None and self._pd is not None and self._td is not None:
            t = self._t = wrap(self._td, self._backend)
        return t

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

    def __copy__(self) -> DualTensor:
        return self._leaf()

    def __deepcopy__(self, memo: dict[int, Any]) -> DualTensor:
        """A copy of the primal and the tangent (the same value, so the same tangent);
        like ``Tensor``'s, it is off every tape unless it is a leaf that requires grad."""
        import copy

        if not self._level.active:
            raise _leaked("a value")
        t = self._tangent
        d = dual(
            self._level,  # type: ignore[arg-type]
            copy.deepcopy(self._primal, memo),
            None if t is None else copy.deepcopy(t, memo),
        )
        d._rg = self._rg and self._node is None
        memo[id(self)] = d
        return d

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(
            "cannot pickle a value inside jvp (a primal with a tangent): a pickle holds one "
            "array, so the tangent would be lost. Return the value from the jvp'd function "
            "(jvp gives its primal and tangent as ordinary tensors) and pickle those, or "
            "pickle x.detach() for the primal alone."
        )

    def __repr__(self) -> str:
        if not self._level.active:
            return "<value of a finished jvp>"
        return f"DualTensor(primal={self._primal!r}, tangent={self._tangent!r})"

    __str__ = __repr__


def dual(level: JVPLevel, primal: Any, tangent: Any) -> DualTensor:
    """A new ``DualTensor`` of ``level`` (no tape: ``_rg`` False, no node)."""
    d = _forward_fast.blank(level, primal._backend)
    _assign(d, primal, tangent)
    if d._pd is not None:
        # raw: the fast path computes on these arrays, so ``_primal``/``_tangent`` wrap
        # them too (the caller's tensors, kept, would show a later write into them:
        # one dual reading two values)
        d._p = d._t = None
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
        level is involved: every tensor argument a raw dual of this level (see
        ``DualTensor``) or a plain tensor, nothing on a tape, no ``ad.compile`` trace.
        ``None`` when the general path must run."""
        backend = None
        datas: list[Any] = []
        tans: list[Any] = []
        has_tangent = False
        for a in args:
            cls = a.__class__
            if cls is DualTensor:
                p = a._pd
                if a._level is not self or a._rg or p is None:
                    return None
                t = a._td
                tans.append(t)
                has_tangent = has_tangent or t is not None
            elif cls is Tensor:
                if a._rg:
                    return None
                p = a.data
                tans.append(None)
            elif cls in _SCALARS:
                datas.append(a)
                tans.append(None)
                continue
            else:
                return None
            if backend is None:
                backend = a._backend
                first = p
            elif a._backend is not backend or (
                backend.multi_device and backend.device_of(p) != backend.device_of(first)
            ):
                return None  # mixed backends or devices: the general path raises the error
            datas.append(p)
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
            return _raw(self, backend, xp, out, tan)
        return tuple(_raw(self, backend, xp, o, t) for o, t in zip(out, tan))

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


_custom.LEVEL_RECORDERS["jvp"] = record_custom_jvp
_forward_fast.install(DualTensor)
