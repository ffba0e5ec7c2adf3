"""Reverse mode: ``backward`` walks the graph that ``engine`` recorded.

``backward`` walks the recorded nodes in reverse creation order (creation
order is a topological order, so no recursion and no DFS are needed), calls
each rule, and — not the rule — reduces broadcast dimensions, casts to the
input's dtype and accumulates. First order runs the rules on raw arrays with
the backend's namespace; with ``create_graph=True`` the same rules run on
tensors with ``xp = autodiff``, so the backward pass is itself recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush
from typing import Any

from . import _core
from . import anomaly as _anomaly
from ._core import CURRENT_TRACER, TRACING, Primitive, identity
from .engine import LEVELS, REBOUND, Node, _is_complex, as_used
from .grad_mode import enable_grad
from .tensor import Tensor, wrap

__all__ = ["backward"]

_ANOMALY_ACTIVE = _anomaly.ACTIVE
_TRACING = TRACING
_CURRENT_TRACER = CURRENT_TRACER.get


def _unbroadcast(xp: Any, g: Any, shape: tuple[int, ...], prim: Primitive) -> Any:
    """Sum ``g`` over the dimensions that broadcasting added to ``shape``."""
    gshape = tuple(g.shape)
    lead = len(gshape) - len(shape)
    if lead < 0:
        return xp.broadcast_to(g, shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1
    )
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
        if lead:
            g = xp.reshape(g, tuple(g.shape)[lead:])
    if tuple(g.shape) != shape:
        try:
            g = xp.broadcast_to(g, shape)
        except Exception as err:
            raise RuntimeError(
                f"the gradient rule of '{prim.name}' returned shape {gshape} for an input "
                f"of shape {shape}; this is a bug in that rule."
            ) from err
    return g


def _run_hooks(hooks: list[Any], g: Any, raw: bool, backend: Any) -> Any:
    for fn in hooks:
        arg = wrap(g, backend) if raw else g
        new = fn(arg)
        if new is not None:
            if not isinstance(new, Tensor):
                raise TypeError(f"a gradient hook must return a Tensor or None, got {new!r}.")
            if new.shape != arg.shape or new.dtype != arg.dtype:
                raise ValueError(
                    f"the gradient hook {getattr(fn, '__name__', fn)!r} returned shape "
                    f"{new.shape} ({new.dtype.name}) for a gradient of shape {arg.shape} "
                    f"({arg.dtype.name}); a hook must return a gradient of the same shape "
                    "and dtype, or None to keep it."
                )
            g = new.data if raw else new
    return g


def backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
    accumulate: bool = True,
    stop_at_inputs: bool = False,
) -> dict[int, tuple[Tensor, Any]]:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Returns ``{id(t): (t, grad)}`` for every leaf reached (or for ``inputs``
    when given), with ``grad`` a tensor. With ``accumulate`` the leaves'
    ``.grad`` are updated too. With ``stop_at_inputs`` (a checkpoint's
    recomputation) nothing is propagated past ``inputs`` and no leaf hook runs:
    the enclosing backward pass does both.
    """
    if _TRACING[0] and (_CURRENT_TRACER() is not None or LEVELS.get()):
        # under ad.compile, vmap or jvp the backward pass runs on tensors, so its
        # primitives are traced, batched or carry tangents
        create_graph = True
        # raw cotangents become tensors over the same (traced) arrays
        root_grads = [
            g if isinstance(g, Tensor) else wrap(g, r._backend) for r, g in zip(roots, root_grads)
        ]
    if create_graph:
        # the recorded backward refers to the forward's saved values: keep them
        with enable_grad():
            return _backward(roots, root_grads, True, True, inputs, accumulate, stop_at_inputs)
    try:
        return _backward(roots, root_grads, retain_graph, False, inputs, accumulate, stop_at_inputs)
    except BaseException as err:
        if not retain_graph:
            _remember_failure(roots, err)
        raise


#: the graphs (by root node) whose backward pass an exception stopped after it had
#: freed some saved values, with that exception: a retry says what happened (newest 64)
_FAILED: dict[int, tuple[Node, str]] = {}


def _remember_failure(roots: Sequence[Tensor], err: BaseException) -> None:
    for r in roots:
        node = r._node
        if node is not None:
            if len(_FAILED) >= 64:
                _FAILED.pop(next(iter(_FAILED)))
            _FAILED[id(node)] = (node, f"{type(err).__name__}: {err}")


def _freed(node: Node) -> RuntimeError:
    failed = _FAILED.get(id(node))
    if failed is not None and failed[0] is node:
        return RuntimeError(
            f"cannot run backward() through this graph again: an earlier backward() was "
            f"stopped part-way by {failed[1]} after it had freed some of the graph's saved "
            f"values (at '{node.prim.name}'). Compute the forward pass again and call "
            "backward() on the new result; pass retain_graph=True to keep a graph usable "
            "after such an error."
        )
    return RuntimeError(
        f"trying to backward through the graph a second time (at '{node.prim.name}'): "
        "its saved values were freed by the first backward(). Pass "
        "retain_graph=True to the first backward() if you need to call it again."
    )


def _backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None,
    accumulate: bool,
    stop: bool = False,
) -> dict[int, tuple[Tensor, Any]]:
    """The reverse pass itself (``backward`` chooses the mode and handles failures).

    1. **Pending nodes.** A node is *pending* once it has received a gradient (the
       roots' nodes first, through ``send``). Its gradient waits in ``grads`` (one
       array, or a list of one slot per output when ``nout > 1``) and its
       ``(seq, node)`` in the ``heap``. Sequence numbers count down, so the heap pops
       the newest pending node; creation order is a topological order, so every node
       runs once, after every node that feeds it: traversal and ordering in one pass,
       no recursion, nothing visited that the roots do not reach.
    2. **The chain fast path.** While exactly one node is pending (a chain of
       operations, the common case) it waits in ``nxt`` with its gradient in
       ``nxt_g``, neither in the heap nor in the dict. Whatever makes a second node
       pending calls ``flush`` first, which moves ``nxt`` into the heap, so the newest
       pending node always runs next.
    3. **The rule.** For the popped node: with ``plain`` (first order, one output,
       no hooks, no captures, no anomaly checks) the rule runs on the raw arrays it
       saved (``node.args``) with the backend's namespace; otherwise ``_prepare``
       makes the cotangents of several outputs complete (zeros for missing ones),
       runs the node's hooks, captures gradients for ``inputs=`` and, under
       ``create_graph``, hands the rule tensors with ``xp = autodiff`` so the pass is
       itself recorded. A checkpoint's recomputation (``stop``) stops at the nodes of
       its inputs (``_stop_at``). A ``holomorphic`` rule on complex data gets the
       conjugate cotangent and its results are conjugated back. ``vjps`` rules run
       only for inputs that require grad; ``identity`` passes ``g`` on uncalled.
    4. **Rebound inputs.** When an in-place write rebound a tensor (``REBOUND`` is
       not empty), each input is taken ``as_used(t, node.seq)``: the state the node
       saw, so the gradient goes to the value the operation used, not the later one.
    5. **Shape and dtype.** The engine, not the rule, sums a gradient over the axes
       broadcasting added (``_unbroadcast``) and casts it to the input's dtype (the
       real part for a real input of a complex computation); anomaly mode checks it
       is finite.
    6. **Passing on.** A gradient for an input made by a one-output node goes into
       ``nxt``, is added to a pending gradient, or makes the node pending; leaves
       and multi-output nodes go through ``send``. Unless ``retain_graph``, a node
       drops its saved inputs, arrays and result once its rule ran (a second pass
       raises ``_freed``).
    7. **Leaves.** Gradients reaching leaves are summed per leaf in ``leaves``. After
       the graph, every leaf hook runs first (one that raises leaves every ``.grad``
       as it was), then each gradient is wrapped as a tensor, returned (for every
       leaf, or for those in ``inputs``) and, with ``accumulate``, added to ``.grad``.
    """
    raw = not create_graph
    check_finite = _ANOMALY_ACTIVE[0] and _anomaly.enabled()
    # a node becomes pending when it first receives a gradient; running the newest
    # pending node (creation order is topological) runs each node once, after every node
    # that feeds it: traversal and ordering in one pass, no recursion
    grads: dict[Node, Any] = {}
    heap: list[tuple[int, Node]] = []
    leaves: dict[int, list[Any]] = {}
    wanted: dict[tuple[Node, int], Tensor] = {}
    if inputs is not None:
        for t in inputs:
            if t._node is not None:
                wanted[(t._node, t._oi)] = t
    captured: dict[int, tuple[Tensor, Any]] = {}
    # a checkpoint's recomputation stops at the nodes of its inputs (and has `wanted`)
    stops = {t._node for t in inputs if t._node is not None} if stop and inputs else None
    # the common case (first order, no captures, no anomaly checks) skips _prepare
    plain = raw and not wanted and not check_finite
    # a tensor rebound by an in-place write: its consumers get what they used
    versioned = bool(REBOUND)

    # While only one node is pending (along a chain, the common case) it waits in `nxt`
    # with its gradient in `nxt_g`, not in the heap and the dict; anything that pushes
    # onto the heap moves it there first, so the newest pending node is always next.
    nxt: Node | None = None
    nxt_g: Any = None

    def flush() -> None:
        nonlocal nxt
        if nxt is not None:
            grads[nxt] = nxt_g
            heappush(heap, (nxt.seq, nxt))
            nxt = None

    def send(t: Tensor, g: Any) -> None:
        nonlocal nxt_g
        node = t._node
        if node is None:
            entry = leaves.get(id(t))
            if entry is None:
                leaves[id(t)] = [t, g]
            else:
                entry[1] = entry[1] + g
        elif node is nxt:
            nxt_g = nxt_g + g
        elif node.prim.nout == 1:
            prev = grads.get(node)
            if prev is None:
                flush()
                grads[node] = g
                heappush(heap, (node.seq, node))
            else:
                grads[node] = prev + g
        else:
            slots = grads.get(node)
            if slots is None:
                flush()
                slots = grads[node] = [None] * node.prim.nout
                heappush(heap, (node.seq, node))
            prev = slots[t._oi]
            slots[t._oi] = g if prev is None else prev + g

    for t, g in zip(roots, root_grads):
        send(t, g)

    while True:
        if nxt is not None:
            node, g, nxt = nxt, nxt_g, None
        elif heap:
            node = heappop(heap)[1]
            g = grads.pop(node)
        else:
            break
        prim = node.prim
        args: Any = node.args
        if args is None:
            raise _freed(node)
        ins: Any = node.inputs
        backend = node.backend
        ans = node.ans
        if plain and node.hooks is None and prim.nout == 1:
            xp = backend.xp
            conj = prim.holomorphic and ans.dtype in backend.complex_natives
        else:
            if stops is not None and node in stops:
                _stop_at(node, g, wanted, captured, raw, backend)
                continue
            xp, g, ans, args, conj = _prepare(node, g, raw, wanted, captured)
        if conj:
            g = xp.conj(g)
        params = node.params
        vjps = prim.vjps
        if vjps is None:
            vjp: Any = prim.vjp
            res = vjp(xp, g, ans, *args, **params) if params else vjp(xp, g, ans, *args)
            if len(res) != len(ins):
                raise RuntimeError(
                    f"the gradient rule of '{prim.name}' returned {len(res)} gradients "
                    f"for {len(ins)} inputs; it must return one entry (or None) per input."
                )
        i = -1
        for t in ins:
            i += 1
            if versioned and isinstance(t, Tensor):
                t = as_used(t, node.seq)
            if not isinstance(t, Tensor) or not t._rg:
                continue
            if vjps is None:
                gi = res[i]
                if gi is None:
                    continue
            else:
                rule = vjps[i]
                if rule is identity:
                    gi = g
                elif rule is None:
                    continue
                else:
                    gi = rule(xp, g, ans, *args, **params) if params else rule(xp, g, ans, *args)
            ref = args[i]
            if conj:
                gi = xp.conj(gi)
            if gi.shape != ref.shape:
                gi = _unbroadcast(xp, gi, tuple(ref.shape), prim)
            dt = gi.dtype
            if dt is not ref.dtype and dt != ref.dtype:
                if _is_complex(gi) and not _is_complex(ref):
                    gi = xp.real(gi)  # a real input gets the real part
                gi = xp.astype(gi, ref.dtype)
            if check_finite:
                _anomaly.check(node, i, gi)
            parent = t._node
            if parent is None or parent.prim.nout != 1:
                send(t, gi)
            elif parent is nxt:
                nxt_g = nxt_g + gi
            else:
                prev = grads.get(parent)
                if prev is not None:
                    grads[parent] = prev + gi
                elif nxt is None and not heap:
                    nxt, nxt_g = parent, gi
                else:
                    flush()
                    grads[parent] = gi
                    heappush(heap, (parent.seq, parent))
        if not retain_graph:
            node.inputs = None
            node.args = None
            node.ans = None

    out = captured
    if not stop:
        # every hook first: one that raises leaves every .grad as it was
        for entry in leaves.values():
            if entry[0]._hooks is not None:
                entry[1] = _run_hooks(entry[0]._hooks, entry[1], raw, entry[0]._backend)
    for t, g in leaves.values():
        gt = wrap(g, t._backend) if raw else g
        if inputs is None or any(t is w for w in inputs):
            out[id(t)] = (t, gt)
        if accumulate:
            if _TRACING[0] and (tracer := _CURRENT_TRACER()) is not None:
                tracer.accumulating(t)
            t.grad = gt if t.grad is None else t.grad + gt
    return out


def _prepare(
    node: Node,
    g: Any,
    raw: bool,
    wanted: dict[tuple[Node, int], Tensor],
    captured: dict[int, tuple[Tensor, Any]],
) -> tuple[Any, Any, Any, Any, bool]:
    """What a node's rule runs on, outside the common case: ``(xp, g, ans, args, conj)``
    under ``create_graph`` (tensors, ``xp = autodiff``), for several outputs (missing
    cotangents become zeros), with hooks, and with gradients captured for ``inputs=``."""
    backend = node.backend
    prim = node.prim
    args: Any
    if raw:
        xp, ans, args = backend.xp, node.ans, node.args
    else:
        xp, ans, args = _core.NAMESPACE, _wrap_ans(node, node.ans, backend), node.inputs
        if REBOUND:  # each input as this node used it (see as_used)
            args = tuple(as_used(a, node.seq) if isinstance(a, Tensor) else a for a in args)
            for a in args:
                if isinstance(a, Tensor) and not hasattr(a, "_level") and a.data is None:
                    raise _freed(a._node)  # a state record_rebind let go
    multi = prim.nout != 1
    if multi:
        g = tuple(gi if gi is not None else xp.zeros_like(a) for gi, a in zip(g, ans))
    if node.hooks is not None:
        g = _apply_node_hooks(node, g, raw, multi)
    if wanted:
        _capture(node, g, multi, wanted, captured, raw, backend)
    conj = prim.holomorphic and (ans.dtype in backend.complex_natives if raw else _is_complex(ans))
    return xp, g, ans, args, conj


def _wrap_ans(node: Node, ans: Any, backend: Any) -> Any:
    rebuild = getattr(ans, "rebuild", None)
    if rebuild is not None:
        return rebuild(node)  # a vmap node's outputs, kept without a cycle through the node
    if isinstance(ans, Tensor) or (isinstance(ans, tuple) and isinstance(ans[0], Tensor)):
        return ans  # recorded by a transform level (jvp): already its node's output(s)
    if node.prim.nout == 1:
        t = wrap(ans, backend)
        t._rg = True
        t._node = node
        return t
    outs = []
    for i, a in enumerate(ans):
        t = wrap(a, backend)
        t._rg = True
        t._node = node
        t._oi = i
        outs.append(t)
    return tuple(outs)


def _apply_node_hooks(node: Node, g: Any, raw: bool, multi: bool) -> Any:
    parts = list(g) if multi else [g]
    for oi, fn in node.hooks or ():
        parts[oi] = _run_hooks([fn], parts[oi], raw, node.backend)
    return tuple(parts) if multi else parts[0]


def _stop_at(
    node: Node,
    g: Any,
    wanted: dict[tuple[Node, int], Tensor],
    captured: dict[int, tuple[Tensor, Any]],
    raw: bool,
    backend: Any,
) -> None:
    """Capture the gradient of a node's wanted outputs, as it arrives (no hooks: the
    enclosing backward pass runs them)."""
    parts = g if node.prim.nout != 1 else (g,)
    for oi, gi in enumerate(parts):
        t = wanted.get((node, oi))
        if t is not None and gi is not None:
            captured[id(t)] = (t, wrap(gi, backend) if raw else gi)


def _capture(
    node: Node,
    g: Any,
    multi: bool,
    wanted: dict[tuple[Node, int], Tensor],
    captured: dict[int, tuple[Tensor, Any]],
    raw: bool,
    backend: Any,
) -> None:
    parts = g if multi else (g,)
    for oi, gi in enumerate(parts):
        t = wanted.get((node, oi))
        if t is not None:
            captured[id(t)] = (t, wrap(gi, backend) if raw else gi)
