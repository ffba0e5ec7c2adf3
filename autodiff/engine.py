"""The engine: primitives, graph nodes, and recording them.

A primitive is a forward ``f(xp, *arrays, **params)`` and a VJP rule
``vjp(xp, g, ans, *inputs, **params) -> tuple`` (one entry per input,
``None`` for no gradient), both written against the array API. Calling a
primitive unwraps its tensors, runs the forward on the inputs' backend and,
only when grad mode is on and an input requires grad, records one ``Node``.

The reverse pass that walks these nodes, ``backward``, is in ``autodiff._backward``.
"""

from __future__ import annotations

import itertools
import weakref
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from . import _core
from . import anomaly as _anomaly
from ._core import (
    CURRENT_TRACER,
    PRIMITIVES,
    TRACING,
    Primitive,
    current_tracer,
    identity,
    primitive,
)
from ._dtypes import ALL_DTYPES
from .backends._base import BY_NAMESPACE
from .grad_mode import GRAD_ENABLED
from .tensor import Tensor, wrap

__all__ = [
    "CURRENT_TRACER",
    "PRIMITIVES",
    "TRACING",
    "Node",
    "Primitive",
    "apply",
    "apply1",
    "apply2",
    "apply_plain",
    "call",
    "current_tracer",
    "identity",
    "primitive",
]

_SCALARS = frozenset((int, float, bool, complex))
#: creation order of nodes, counting down: a heap of (seq, node) pops the newest first
_seq = itertools.count(0, -1)
_new = object.__new__
_ANOMALY_ACTIVE = _anomaly.ACTIVE

_TRACING = TRACING
_CURRENT_TRACER = CURRENT_TRACER.get
#: the transform levels (``vmap``, ``jvp``) active in this thread and context, innermost
#: last; each one also counts in ``TRACING`` while it runs (see ``autodiff._interpose``)
LEVELS: ContextVar[tuple[Any, ...]] = ContextVar("autodiff_levels", default=())


#: Tensors rebound by a recorded in-place write (``x[k] = v``, ``x += y``, a write
#: through a view), by ``id``: ``(weak reference, marks, old states)``. A mark is a
#: sequence number taken at the write (negated, so ascending); the old state is the
#: tensor as it was before that write. Nodes recorded before a write keep seeing the
#: old state (``as_used``). Empty, as it stays in programs without in-place writes,
#: backward does not look.
REBOUND: dict[int, tuple[Any, list[int], list[Tensor]]] = {}


def record_rebind(t: Tensor, old: Tensor) -> None:
    """Remember that ``t`` is about to leave the state ``old`` (see ``REBOUND``)."""
    key = id(t)
    entry = REBOUND.get(key)
    if entry is None:
        ref = weakref.ref(t, lambda _, key=key, rebound=REBOUND: rebound.pop(key, None))  # type: ignore[misc]
        entry = REBOUND[key] = (ref, [], [])
    olds = entry[2]
    n = len(olds)
    if n >= 8 and not n & (n - 1):
        # a long-lived tensor written at every step: the states whose graph a backward
        # has freed cannot be differentiated again, so their arrays need not be kept
        for state in olds:
            node = state._node
            if node is not None and node.args is None:
                state.data = None
    entry[1].append(-next(_seq))
    olds.append(old)


def as_used(t: Tensor, seq: int) -> Tensor:
    """``t`` as the node with sequence number ``seq`` used it: its state before the
    first in-place write recorded after that node, or ``t`` itself."""
    entry = REBOUND.get(id(t))
    if entry is None:
        return t
    i = bisect_right(entry[1], -seq)
    return entry[2][i] if i < len(entry[2]) else t


class Node:
    """One recorded primitive call: what backward needs to run its rule.

    ``inputs`` are the call's arguments as given (tensors and Python scalars), ``args``
    the same with each tensor replaced by its raw array: first-order backward hands
    ``args`` to the rule without unwrapping anything, and a later rebinding of an
    input's ``.data`` (``x[k] = v``, ``x += y``) cannot change the saved value.
    """

    __slots__ = ("ans", "args", "backend", "hooks", "inputs", "params", "prim", "seq", "trace")

    def __init__(
        self,
        prim: Primitive,
        backend: Any,
        inputs: tuple[Any, ...],
        params: Any,
        ans: Any,
        args: tuple[Any, ...] | None = None,
    ) -> None:
        self.prim = prim
        self.backend = backend
        self.inputs: tuple[Any, ...] | None = inputs
        self.args: tuple[Any, ...] | None = (
            tuple(t.data if isinstance(t, Tensor) else t for t in inputs) if args is None else args
        )
        self.params = params
        self.ans = ans
        self.seq = next(_seq)
        self.hooks: list[tuple[int, Callable[[Any], Any]]] | None = None
        if _ANOMALY_ACTIVE[0] and _anomaly.enabled():
            self.trace = _anomaly.creation_site()

    def __repr__(self) -> str:
        return f"<node {self.prim.name} #{self.seq}>"


# -- forward ------------------------------------------------------------------


def _mixed(a: Tensor, b: Tensor, prim: Primitive) -> ValueError:
    return ValueError(
        f"{prim.name}: tensors on different devices, {a.device} and {b.device}; "
        f"move one with .to_device() first (for example x.to_device('{a.device}'))."
    )


def _broadcastable(shapes: list[tuple[int, ...]]) -> bool:
    for dims in zip(*(reversed(s) for s in shapes)):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            return False
    return True


def _forward_error(prim: Primitive, args: Sequence[Any], err: Exception) -> Exception:
    """Re-raise an array library's error as a standard exception naming the inputs."""
    if isinstance(err, AttributeError) and getattr(err, "name", None):
        backend = next((a._backend for a in args if isinstance(a, Tensor)), None)
        where = f"the {backend.name} backend" if backend is not None else "this backend"
        if err.name in {d.name for d in ALL_DTYPES}:
            return TypeError(
                f"{prim.name}: {where} has no {err.name} dtype, which this operation needs for "
                f"inputs of dtype {', '.join(a.dtype.name for a in args if isinstance(a, Tensor))}; "
                "use a narrower dtype (e.g. float32 to get complex64) or another backend."
            )
        return NotImplementedError(
            f"{prim.name}: {where} does not implement '{err.name}' (its array library has "
            "no such function); see docs/capabilities.md for what each backend runs, or "
            "move the tensor to another backend with .to_device()."
        )
    shapes = [tuple(a.shape) for a in args if isinstance(a, Tensor)]
    described = " and ".join(
        str(tuple(a.shape)) if isinstance(a, Tensor) else repr(a) for a in args
    )
    dtypes = ", ".join(a.dtype.name for a in args if isinstance(a, Tensor))
    if len(shapes) > 1 and not _broadcastable(shapes):
        return ValueError(f"{prim.name}: shapes {described} cannot be broadcast together ({err})")
    msg = f"{prim.name}: cannot apply to inputs of shapes {described} ({dtypes}): {err}"
    if isinstance(err, IndexError):
        return IndexError(msg)
    if isinstance(err, TypeError):
        return TypeError(msg)
    if isinstance(err, (ValueError, RuntimeError)) and not isinstance(err, NotImplementedError):
        # array libraries signal bad input as ValueError (NumPy) or RuntimeError (PyTorch)
        return ValueError(msg)
    return err


def _coerce(obj: Any, like: Tensor) -> Tensor:
    """Turn a non-tensor operand (array, list, NumPy scalar) into a constant tensor."""
    backend = like._backend
    try:
        data = backend.asarray(obj, device=like.device)
    except Exception as err:
        raise TypeError(
            f"cannot combine a tensor with {type(obj).__name__} {obj!r}: {err}"
        ) from err
    return wrap(data, backend)


def apply1(prim: Primitive, x: Tensor, params: Mapping[str, Any] | None = None) -> Tensor:
    """Call a one-input primitive on tensor ``x``.

    This and ``apply2`` are the hot path of every operation: the result tensor and its
    node are built inline (no ``wrap`` or ``Node.__init__`` call).
    """
    if _TRACING[0]:  # a trace or a transform runs: the slow path decides
        return INTERPOSE1[0](prim, x, params)
    backend = x._backend
    xd = x.data
    fwd = backend.kernels.get(prim) or prim.forward
    try:
        out = fwd(backend.xp, xd, **params) if params else fwd(backend.xp, xd)
    except Exception as err:
        raise _forward_error(prim, (x,), err) from err
    t = _new(Tensor)
    t.data = out
    t._backend = backend
    t._oi = 0
    t._grad = None
    t.name = None
    t._hooks = None
    if x._rg and prim.differentiable and GRAD_ENABLED.get():
        t._rg = True
        t._node = node = _new(Node)
        node.prim = prim
        node.backend = backend
        node.inputs = (x,)
        node.args = (xd,)
        node.params = params
        node.ans = out
        node.seq = next(_seq)
        node.hooks = None
        if _ANOMALY_ACTIVE[0] and _anomaly.enabled():
            node.trace = _anomaly.creation_site()
    else:
        t._rg = False
        t._node = None
    return t


def apply2(prim: Primitive, a: Any, b: Any) -> Tensor:
    """Call a two-input primitive; at least one of ``a``, ``b`` is a tensor."""
    if _TRACING[0]:  # a trace or a transform runs: the slow path decides
        return INTERPOSE2[0](prim, a, b)
    if isinstance(a, Tensor):
        backend = a._backend
        if isinstance(b, Tensor):
            if b._backend is not backend or (
                backend.multi_device and backend.device_of(a.data) != backend.device_of(b.data)
            ):
                raise _mixed(a, b, prim)
            bd = b.data
            rg = a._rg or b._rg
        elif b.__class__ in _SCALARS:
            bd = b
            rg = a._rg
        else:
            b = _coerce(b, a)
            bd = b.data
            rg = a._rg
        ad_ = a.data
    else:
        backend = b._backend
        if a.__class__ not in _SCALARS:
            a = _coerce(a, b)
        ad_ = a.data if isinstance(a, Tensor) else a
        bd = b.data
        rg = b._rg
    fwd = backend.kernels.get(prim) or prim.forward
    try:
        out = fwd(backend.xp, ad_, bd)
    except Exception as err:
        raise _forward_error(prim, (a, b), err) from err
    t = _new(Tensor)
    t.data = out
    t._backend = backend
    t._oi = 0
    t._grad = None
    t.name = None
    t._hooks = None
    if rg and prim.differentiable and GRAD_ENABLED.get():
        t._rg = True
        t._node = node = _new(Node)
        node.prim = prim
        node.backend = backend
        node.inputs = (a, b)
        node.args = (ad_, bd)
        node.params = None
        node.ans = out
        node.seq = next(_seq)
        node.hooks = None
        if _ANOMALY_ACTIVE[0] and _anomaly.enabled():
            node.trace = _anomaly.creation_site()
    else:
        t._rg = False
        t._node = None
    return t


def _operands(a: Any, b: Any) -> tuple[Any, Any]:
    """``apply2``'s operands with a non-tensor, non-scalar operand made a constant tensor."""
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor) and b.__class__ not in _SCALARS:
            b = _coerce(b, a)
    elif a.__class__ not in _SCALARS:
        a = _coerce(a, b)
    return a, b


def apply(prim: Primitive, args: Sequence[Any], params: Mapping[str, Any] | None = None) -> Any:
    """Call any primitive. ``args`` holds tensors and Python scalars (at least one tensor).

    Returns a tensor, or a tuple of tensors when ``prim.nout > 1``.
    """
    if _TRACING[0]:  # a trace or a transform runs: the slow path decides
        return INTERPOSE[0](prim, tuple(args), params)
    return apply_plain(prim, args, params)


def apply_plain(
    prim: Primitive, args: Sequence[Any], params: Mapping[str, Any] | None = None
) -> Any:
    """``apply`` below every transform level: run the forward, let an ``ad.compile``
    trace record the call, and record a node when a gradient may be needed."""
    first: Tensor | None = None
    rg = False
    datas = []
    for a in args:
        if isinstance(a, Tensor):
            if first is None:
                first = a
            elif a._backend is not first._backend or (
                first._backend.multi_device
                and first._backend.device_of(a.data) != first._backend.device_of(first.data)
            ):
                raise _mixed(first, a, prim)
            datas.append(a.data)
            rg = rg or a._rg
        else:
            datas.append(a)
    if first is None:
        raise TypeError(f"{prim.name}: expected at least one tensor argument.")
    backend = first._backend
    fwd = backend.kernels.get(prim) or prim.forward
    try:
        out = fwd(backend.xp, *datas, **params) if params else fwd(backend.xp, *datas)
    except Exception as err:
        raise _forward_error(prim, args, err) from err
    if _TRACING[0] and (tracer := _CURRENT_TRACER()) is not None:
        out = tracer.record(prim, fwd, backend, tuple(args), params, out)
    record = rg and prim.differentiable and GRAD_ENABLED.get()
    if prim.nout == 1:
        t = wrap(out, backend)
        if record:
            t._rg = True
            t._node = Node(prim, backend, tuple(args), params, out, tuple(datas))
        return t
    outs = tuple(wrap(o, backend) for o in out)
    if record:
        node = Node(prim, backend, tuple(args), params, tuple(out), tuple(datas))
        for i, t in enumerate(outs):
            t._rg = True
            t._node = node
            t._oi = i
    return outs


#: What ``apply1``/``apply2``/``apply`` hand a call to while ``TRACING[0]`` is set (a
#: trace or a transform level runs): ``apply_plain`` until ``autodiff._interpose``
#: installs its dispatcher, which gives the call to the innermost transform level that
#: owns one of the arguments, or to ``apply_plain``. A one-element list: cheap to read.
INTERPOSE: list[Callable[..., Any]] = [apply_plain]


def _interpose1(prim: Primitive, x: Tensor, params: Mapping[str, Any] | None) -> Any:
    return INTERPOSE[0](prim, (x,), params)


def _interpose2(prim: Primitive, a: Any, b: Any) -> Any:
    return INTERPOSE[0](prim, _operands(a, b), None)


#: What ``apply1``/``apply2`` hand a call to while ``TRACING[0]`` is set: ``INTERPOSE``
#: by default; forward mode installs entries that run a ``jvp`` on raw dual numbers
#: inline (``autodiff._forward``) and give every other call to ``INTERPOSE``.
INTERPOSE1: list[Callable[..., Any]] = [_interpose1]
INTERPOSE2: list[Callable[..., Any]] = [_interpose2]


def call(xp: Any, prim: Primitive, *args: Any, **params: Any) -> Any:
    """Run ``prim`` from inside a rule: recorded on tensors, plain on raw arrays.

    Rules that need another primitive (a scatter for getitem's gradient, say)
    use this, so the same rule works in first-order and ``create_graph`` mode.
    """
    if xp is _core.NAMESPACE:
        return apply(prim, args, params)
    backend = BY_NAMESPACE.get(id(xp))
    fwd = (backend.kernels.get(prim) if backend is not None else None) or prim.forward
    return fwd(xp, *args, **params)


# (type of dtype, dtype) → is complex: keyed with the type because dtypes of different
# libraries can hash alike and refuse to compare with each other
_COMPLEX_DTYPES: dict[tuple[type, Any], bool] = {}


def _is_complex(x: Any) -> bool:
    """Whether an array, tensor or scalar holds complex numbers (cached per dtype)."""
    dt = getattr(x, "dtype", None)
    if dt is None:
        return isinstance(x, complex)
    kind = getattr(dt, "kind", None)
    if kind.__class__ is str:  # NumPy, CuPy, JAX dtypes and autodiff's own: no lookup
        return kind == "c" or kind == "complex floating"
    key = (dt.__class__, dt)
    found = _COMPLEX_DTYPES.get(key)
    if found is None:
        kind = getattr(dt, "kind", None)
        found = kind in ("c", "complex floating") or (kind is None and "complex" in str(dt))
        _COMPLEX_DTYPES[key] = found
    return found
