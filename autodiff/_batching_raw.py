"""``vmap``'s fast path: batching rules run on the backend's arrays.

``BatchLevel.process`` runs a primitive's batching rule on the batches its arguments
wrap. On tensors (``xp = autodiff``) each operation inside the rule is one more
``apply``: the dispatch, a tensor, perhaps a node. That is needed only when the
batches below must record something: a graph for a gradient taken *outside* the
``vmap`` (``grad(vmap(f))``, or a ``requires_grad`` tensor the function closes over),
a trace of ``ad.compile``, or a value of another transform. Otherwise (the usual
``vmap(grad(f))``: that gradient runs on the level's own nodes, never on the graph of
the batches) the rule runs on the arrays themselves: the same operations, without the
per-operation dispatch.

Which graphs are the level's own: ``transforms`` tells the innermost ``vmap`` of each
leaf a gradient watches inside it (``BatchLevel.own``); a batch that requires grad
qualifies when every leaf its graph reaches is one of those (``inner_only``).
"""

from __future__ import annotations

from typing import Any

from .engine import CURRENT_TRACER, Primitive
from .grad_mode import GRAD_ENABLED
from .tensor import Tensor, wrap

__all__ = ["inner_only", "raw_rule"]

_current_tracer = CURRENT_TRACER.get

#: nodes walked at most to decide that a graph is the level's own
_WALK = 32


def inner_only(owned: dict[int, tuple[bool, Any]], t: Tensor) -> bool:
    """Whether ``t``'s graph reaches only leaves in ``owned`` (by id, with the object
    kept alive): a short walk over plain nodes, memoized in ``owned`` by node; a
    longer graph is taken as an outer one."""
    todo = [t]
    visited: list[Any] = []
    while todo:
        x = todo.pop()
        node = x._node if x.__class__ is Tensor else None
        got = owned.get(id(x) if node is None else id(node))
        if got is not None:
            if got[0]:
                continue
            break
        if node is None or len(visited) >= _WALK:
            break  # a leaf watched outside the vmap, a value of a level, a long graph
        visited.append(node)
        todo.extend(i for i in node.inputs if isinstance(i, Tensor) and i._rg)
    else:
        for node in visited:
            owned[id(node)] = (True, node)
        return True
    if t._node is not None:
        owned[id(t._node)] = (False, t._node)
    return False


def raw_rule(
    owned: dict[int, tuple[bool, Any]],
    prim: Primitive,
    rule: Any,
    vals: list[Any],
    dims: tuple[int | None, ...],
    params: Any,
) -> tuple[Any, Any] | None:
    """``rule`` run on the backend's arrays of ``vals``, its outputs wrapped as plain
    tensors; or None when it must run on tensors: a value of another level, two
    backends or devices, a trace running, a batch whose graph is not the level's own
    (``owned``), or a rule that raises here (on tensors it raises with the usual
    message) or computes with autodiff operations whatever ``xp`` is."""
    backend = None
    raws = []
    for v in vals:
        if v.__class__ is Tensor:
            if v._rg and GRAD_ENABLED.get() and not inner_only(owned, v):
                return None
            if backend is None:
                backend = v._backend
            elif v._backend is not backend:
                return None
            raws.append(v.data)
        elif isinstance(v, Tensor):
            return None  # a value of another level
        else:
            raws.append(v)
    if backend is None or _current_tracer() is not None:
        return None
    if backend.multi_device:
        devs = {backend.device_of(r) for r, v in zip(raws, vals) if isinstance(v, Tensor)}
        if len(devs) > 1:
            return None
    try:
        out, odims = (
            rule(backend.xp, dims, *raws, **params) if params else rule(backend.xp, dims, *raws)
        )
    except Exception:
        return None
    if prim.nout == 1:
        if isinstance(out, Tensor):
            return None
        return wrap(out, backend), odims
    if any(isinstance(o, Tensor) for o in out):
        return None
    return tuple(wrap(o, backend) for o in out), odims
