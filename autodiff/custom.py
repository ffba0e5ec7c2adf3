"""User-defined gradient rules (``custom_vjp``) and recomputation (``checkpoint``).

Both record one graph node whose rule is user code (``custom_vjp``) or a
re-run of the forward (``checkpoint``). In first-order backward the rule runs
without recording; under ``create_graph=True`` it runs recorded, so its
result can be differentiated again.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from . import _backward, _core, _tree, backends, engine
from .backends._base import BY_NAMESPACE
from .engine import Node, Primitive
from .grad_mode import GRAD_ENABLED, enable_grad, no_grad
from .tensor import Tensor, wrap

__all__ = ["checkpoint", "custom_vjp"]


def _is_recorded(xp: Any) -> bool:
    return xp is _core.NAMESPACE


#: How a transform level records a ``custom_vjp`` call on its values, by level kind
#: (``autodiff._vmap`` adds ``"vmap"``): its values hold no array to save in a node.
LEVEL_RECORDERS: dict[str, Callable[..., list[Tensor]]] = {}


def _record(
    prim: Primitive, inputs: list[Tensor], outs: list[Tensor], params: dict[str, Any]
) -> list[Tensor]:
    """Attach ``outs`` (plain tensors) to one new node over ``inputs``."""
    backend = outs[0]._backend
    for t in (*inputs, *outs):
        level = getattr(t, "_level", None)
        if level is not None and level.kind in LEVEL_RECORDERS:
            return LEVEL_RECORDERS[level.kind](prim, inputs, outs, params)
    ans = outs[0].data if len(outs) == 1 else tuple(o.data for o in outs)
    node = Node(prim, backend, tuple(inputs), params, ans)
    attached = []
    for i, o in enumerate(outs):
        t = wrap(o.data, o._backend)
        t._rg = True
        t._node = node
        t._oi = i
        attached.append(t)
    return attached


def _split(args: tuple[Any, ...]) -> tuple[list[Any], Any, list[int]]:
    leaves, structure = _tree.flatten(args)
    idx = [i for i, x in enumerate(leaves) if isinstance(x, Tensor)]
    return leaves, structure, idx


def _needs_graph(leaves: list[Any], idx: list[int]) -> bool:
    return GRAD_ENABLED.get() and any(leaves[i]._rg for i in idx)


def _as_list(out: Any, what: str) -> tuple[list[Tensor], Any]:
    leaves, structure = _tree.flatten(out)
    if not leaves or not all(isinstance(t, Tensor) for t in leaves):
        raise TypeError(
            f"{what} must return a tensor or a tree of tensors, got {type(out).__name__}."
        )
    return leaves, structure


class custom_vjp:
    """Give a function your own reverse-mode rule (JAX style).

    Decorate ``f``, then call ``f.defvjp(fwd, bwd)``: ``fwd(*args)`` returns
    ``(out, residuals)``; ``bwd(residuals, g)`` returns a tuple with one
    cotangent (or None) per positional argument of ``f``. ``fwd`` runs with
    grad recording on, so residuals stay connected to the inputs: when
    ``bwd`` is written with autodiff operations, ``create_graph=True``
    differentiates through it.

    Examples
    --------
    >>> import autodiff as ad
    >>> @ad.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> def fwd(x):
    ...     return x, None
    >>> def bwd(res, g):
    ...     return (ad.minimum(ad.maximum(g, -1.0), 1.0),)
    >>> clip_gradient.defvjp(fwd, bwd)
    >>> x = ad.tensor(3.0, requires_grad=True)
    >>> _ = (clip_gradient(x) * 10.0).backward()
    >>> float(x.grad)
    1.0
    """

    def __init__(self, fun: Callable[..., Any]) -> None:
        self.fun = fun
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        functools.update_wrapper(self, fun)

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        """Set the forward (returning ``(out, residuals)``) and backward rules.

        Parameters
        ----------
        fwd : callable
            Takes the function's arguments, returns ``(out, residuals)``.
        bwd : callable
            Takes ``(residuals, g)``, returns one cotangent (or None) per
            positional argument.

        Examples
        --------
        >>> import autodiff as ad
        >>> @ad.custom_vjp
        ... def square(x):
        ...     return x * x
        >>> square.defvjp(lambda x: (x * x, x), lambda x, g: (2.0 * x * g,))
        >>> ad.grad(square)(ad.tensor(3.0)).item()
        6.0
        """
        self.fwd = fwd
        self.bwd = bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise TypeError(
                f"custom_vjp function {self.fun.__name__!r}: call .defvjp(fwd, bwd) before using it."
            )
        leaves, _, idx = _split(args)
        if not _needs_graph(leaves, idx):
            return self.fun(*args)
        with enable_grad():
            result = self.fwd(*args)
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError("the fwd of a custom_vjp must return a pair (out, residuals).")
        out, res = result
        outs, out_structure = _as_list(out, "the fwd of a custom_vjp")
        prim = Primitive(
            f"custom_vjp[{self.fun.__name__}]", _no_forward, self._rule, nout=len(outs)
        )
        counts = [len(_tree.flatten(a)[0]) for a in args]
        params = {"res": res, "counts": counts, "idx": idx, "out_structure": out_structure}
        inputs = [leaves[i] for i in idx]
        return _tree.unflatten(out_structure, _record(prim, inputs, outs, params))

    def _rule(
        self,
        xp: Any,
        g: Any,
        ans: Any,
        *inputs: Any,
        res: Any,
        counts: list[int],
        idx: list[int],
        out_structure: Any,
    ) -> tuple[Any, ...]:
        assert self.bwd is not None
        recorded = _is_recorded(xp)
        gs = list(g) if isinstance(g, tuple) else [g]
        if not recorded:
            backend = BY_NAMESPACE[id(xp)]
            gs = [wrap(x, backend) for x in gs]
        g_tree = _tree.unflatten(out_structure, gs)
        if recorded:
            cts = self.bwd(res, g_tree)
        else:
            with no_grad():
                cts = self.bwd(res, g_tree)
        if not isinstance(cts, (tuple, list)):
            raise TypeError(
                "the bwd of a custom_vjp must return a tuple with one entry per argument."
            )
        ct_leaves = _align(cts, counts)
        out: list[Any] = []
        for k, i in enumerate(idx):
            c = ct_leaves[i]
            if c is None:
                out.append(None)
                continue
            self._check_cotangent(c, inputs[k], i, recorded, xp)
            if recorded:
                out.append(c)
            else:
                out.append(c.data if isinstance(c, Tensor) else c)
        return tuple(out)

    def _check_cotangent(self, c: Any, primal: Any, i: int, recorded: bool, xp: Any) -> None:
        """A cotangent must have its primal's shape and dtype: the engine would broadcast
        a (1,) or 0-d one silently, and a wrong dtype is a bug in ``bwd``."""
        name = self.fun.__name__
        if not hasattr(c, "shape") or not hasattr(c, "dtype"):
            raise TypeError(
                f"the bwd of custom_vjp {name!r} returned {type(c).__name__} for argument "
                f"leaf {i}; return a tensor of that argument's shape and dtype (or None)."
            )
        if recorded:
            c_dtype, p_dtype = c.dtype, primal.dtype
        else:
            backend = BY_NAMESPACE[id(xp)]
            c_dtype = c.dtype if isinstance(c, Tensor) else backend.dtype_of(c)
            p_dtype = backend.dtype_of(primal)
        if tuple(c.shape) != tuple(primal.shape) or c_dtype != p_dtype:
            raise ValueError(
                f"the bwd of custom_vjp {name!r} returned a cotangent of shape "
                f"{tuple(c.shape)} ({c_dtype.name}) for argument leaf {i} of shape "
                f"{tuple(primal.shape)} ({p_dtype.name}); a cotangent must have its "
                "argument's shape and dtype."
            )


def _align(cts: Any, counts: list[int]) -> list[Any]:
    # one cotangent (or None) per positional argument, flattened like the arguments
    if len(cts) != len(counts):
        raise ValueError(
            f"the bwd of a custom_vjp returned {len(cts)} cotangents for {len(counts)} arguments."
        )
    flat: list[Any] = []
    for ct, count in zip(cts, counts):
        flat.extend([None] * count if ct is None else _tree.flatten(ct)[0])
    if len(flat) != sum(counts):
        raise ValueError(
            "a cotangent returned by the bwd of a custom_vjp does not match its argument's structure."
        )
    return flat


def _no_forward(xp: Any, *arrays: Any, **params: Any) -> Any:
    raise RuntimeError("a custom_vjp or checkpoint node has no standalone forward.")


def checkpoint(f: Callable[..., Any]) -> Callable[..., Any]:
    """Trade compute for memory: keep only ``f``'s inputs, re-run it during backward.

    Gradients equal those of ``f``, for its arguments and for every tensor it reaches
    otherwise (the parameters of a module it calls, tensors in closures or globals).
    The values inside ``f`` are freed when it returns and recomputed by the backward
    pass, with the random draws of the forward pass replayed (every backend's generator,
    NumPy's global one and Python's ``random`` are restored for the recomputation), so a
    dropout keeps the same mask. A tensor ``f`` reads that is given new data between the
    forward and the backward pass (an optimizer step) makes the backward pass raise.

    Examples
    --------
    >>> import autodiff as ad
    >>> block = ad.checkpoint(lambda x: ad.tanh(ad.tanh(x) * 2.0))
    >>> x = ad.tensor([0.1, 0.2], requires_grad=True)
    >>> _ = block(x).sum().backward()
    >>> x.grad.shape
    (2,)
    >>> plain = ad.tensor([0.1, 0.2], requires_grad=True)
    >>> _ = ad.tanh(ad.tanh(plain) * 2.0).sum().backward()
    >>> [round(v, 8) for v in x.grad.tolist()] == [round(v, 8) for v in plain.grad.tolist()]
    True
    """

    @functools.wraps(f)
    def wrapped(*args: Any) -> Any:
        leaves, structure, idx = _split(args)
        if not GRAD_ENABLED.get():
            return f(*args)
        rng = _rng_states()
        start = next(engine._seq)  # nodes made by f count down from here
        out = f(*args)
        outs, out_structure = _as_list(out, "a checkpointed function")
        explicit = [leaves[i] for i in idx]
        # what the outputs depend on from outside f: its arguments, and the parameters
        # and other tensors it reached through closures, modules and globals
        found = _boundary(outs, start)
        if not found:
            return out  # nothing to differentiate
        extra = [t for t in found if not any(t is e for e in explicit)]
        prim = Primitive(
            f"checkpoint[{getattr(f, '__name__', 'f')}]", _no_forward, _recompute, nout=len(outs)
        )
        params = {
            "f": f,
            "leaves": leaves,
            "structure": structure,
            "idx": idx,
            "out_structure": out_structure,
            "extra": extra,
            "rng": rng,
        }
        # the outputs, detached from f's graph (freed now), hang from one node
        return _tree.unflatten(out_structure, _record(prim, explicit + extra, outs, params))

    return wrapped


def _boundary(outs: list[Tensor], start: int) -> list[Tensor]:
    """The tensors that require grad, made before ``f`` ran (node sequence numbers above
    ``start``) or leaves, that the outputs' graph reaches: where the recomputation's
    backward pass stops."""
    found: dict[int, Tensor] = {}
    seen: set[int] = set()
    stack: list[Node] = []

    def visit(t: Any) -> None:
        if not isinstance(t, Tensor) or not t._rg:
            return
        node = t._node
        if node is None or node.seq > start:
            found.setdefault(id(t), t)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append(node)

    for o in outs:
        visit(o)
    while stack:
        for t in stack.pop().inputs or ():
            visit(t)
    return list(found.values())


def _rng_states() -> list[tuple[Any, Any]]:
    """``(set_state, state)`` of every random generator a recomputation must replay: each
    backend's (those created so far) and NumPy's and Python's global ones."""
    import random

    states: list[Any] = [(random.setstate, random.getstate())]
    np = sys.modules.get("numpy")
    if np is not None:
        states.append((np.random.set_state, np.random.get_state()))
    for backend in list(backends._instances.values()):
        rng = backend.random
        get = getattr(rng, "get_state", None)
        if get is not None:
            states.append((rng.set_state, get()))
    return states


def _restore(states: list[tuple[Any, Any]]) -> None:
    for set_state, state in states:
        set_state(state)


def _recompute(
    xp: Any,
    g: Any,
    ans: Any,
    *inputs: Any,
    f: Callable[..., Any],
    leaves: list[Any],
    structure: Any,
    idx: list[int],
    out_structure: Any,
    extra: list[Tensor],
    rng: list[tuple[Any, Any]],
) -> tuple[Any, ...]:
    # re-run f with recording on and the forward's random state, then pull g back
    # through the fresh graph to its arguments and to the tensors it reached (stopping
    # there: the enclosing backward pass goes on from them)
    recorded = _is_recorded(xp)
    gs = list(g) if isinstance(g, tuple) else [g]
    n = len(idx)
    tensors = [leaves[i] for i in idx]
    if recorded:
        xs = list(inputs[:n])
    else:
        for t, a in zip(extra, inputs[n:]):
            if t.data is not a:
                raise RuntimeError(
                    f"ad.checkpoint({getattr(f, '__name__', 'f')}): a tensor of shape "
                    f"{t.shape} that the function reads was given new data between the "
                    "forward and the backward pass (an optimizer step?), so the "
                    "recomputation would differ; call backward() before changing it."
                )
        xs = []
        for a, t in zip(inputs[:n], tensors):
            x = wrap(a, t._backend)
            x._rg = t._rg
            xs.append(x)
        backend = (tensors or extra)[0]._backend
        gs = [wrap(x, backend) for x in gs]
    full = list(leaves)
    for i, x in zip(idx, xs):
        full[i] = x
    now = _rng_states()
    _restore(rng)
    try:
        with enable_grad():
            out = f(*_tree.unflatten(structure, full))
    finally:
        _restore(now)
    outs, _ = _as_list(out, "a checkpointed function")
    roots, root_grads = [], []
    for o, gi in zip(outs, gs):
        if o._rg:
            roots.append(o)
            root_grads.append(gi if recorded else gi.data)
    # f may also read an argument through a closure: the recomputation stops there too
    also = [] if recorded else [t for t in tensors if t._rg]
    wanted = [x for x in (*xs, *extra, *also) if x._rg]
    found = (
        _backward.backward(
            roots,
            root_grads,
            create_graph=recorded,
            inputs=wanted,
            accumulate=False,
            stop_at_inputs=True,
        )
        if roots
        else {}
    )
    grads: list[Any] = []
    for x in (*xs, *extra):
        entry = found.get(id(x))
        grads.append(None if entry is None else entry[1])
    for k, t in enumerate(tensors if also else ()):
        entry = found.pop(id(t), None)  # once, for the argument's first position
        if entry is not None:
            grads[k] = entry[1] if grads[k] is None else grads[k] + entry[1]
    if recorded:
        return tuple(grads)
    return tuple(None if x is None else x.data for x in grads)
