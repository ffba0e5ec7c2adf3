"""Trace once, replay fast: ``ad.compile``.

The first call of a compiled function for a given signature (the shapes, dtypes and
devices of its tensor arguments, the values of its other arguments, and grad mode) runs
it eagerly while a tracer (``trace.py``) records every primitive it calls — the forward
and, when the function differentiates (``ad.grad``, ``ad.value_and_grad``, ``ad.vjp`` …,
or ``loss.backward()``), the backward pass, which runs on tensors under tracing so that
its rules are primitive calls too. The record becomes a flat program over array slots;
the backend may fuse it (``fuse_program``: numba kernels on NumPy) and it becomes
straight-line Python. Later calls run the program on the raw arrays: no tensors, no graph
nodes, no topological sort, and each slot is freed after its last use. What the traced
call rebound on tensors that existed before it (parameters after an optimizer step,
``.grad`` after ``backward()``) is written back by every replay.

What invalidates a trace: a new signature traces again (kept side by side, up to
``max_traces``), and so does a change in what the function read from Python: the checks
``guards.py`` makes before the trace (closure cells, globals, modules' submodules and
parameters, plain values by value, the backend and default dtype) and the values it
``guard``ed. What cannot be traced raises ``TraceError`` rather than replaying something
wrong: reading a traced value on the host (``bool(x)``, ``x.item()``, ``float(x)``,
indexing with a computed index array, data-dependent shapes such as ``nonzero``), drawing
random numbers (a backend's generator, NumPy's global one, Python's ``random``), using a
``.grad`` computed before the call, and rebinding a tensor to an array autodiff did not
compute. Closed-over tensors (model parameters) are read afresh on every call; one whose
data changed shape or dtype since the trace invalidates it. A trace records only the
operations of its own thread and ``contextvars`` context.

A first call, step by step (``CompiledFunction.__call__``): the signature selects a
program (``_signature``); without one, ``_trace`` collects what the function reads from
Python (``guards.collect``), runs it under a tracer (``trace._Tracer``), turns what it
rebound into write-backs (``_writes``), and hands the record to ``program.Program``,
whose passes (dead code, the backend's fusion and buffers, last uses) end in generated
straight-line Python. Later calls check the guards (``Program.stale``) and run that
function, or the backend's compilation of it (``program.backend_compile``).
"""

from __future__ import annotations

import functools
import gc
import random
import sys
from collections.abc import Callable
from typing import Any

from .. import _tree
from ..engine import LEVELS as _LEVELS
from ..engine import TRACING as _TRACING
from ..engine import current_tracer
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor, wrap
from .guards import collect, compile_checks
from .program import Program, backend_compile
from .trace import TraceError, _Tracer

__all__ = ["CompiledFunction", "TraceError", "compile"]


#: marks a signature whose results need a graph: such calls run eagerly
_EAGER: Any = object()


class CompiledFunction:
    """What ``ad.compile(f)`` returns: call it like ``f``.

    Attributes
    ----------
    traces : int
        How many signatures have been traced so far.
    replays : int
        How many calls ran a traced program (rather than tracing or running eagerly).

    Examples
    --------
    >>> import autodiff as ad
    >>> f = ad.compile(lambda x: ad.sum(ad.exp(x)))
    >>> _ = f(ad.zeros(2)); _ = f(ad.ones(2))
    >>> f.traces, f.replays
    (1, 1)
    """

    def __init__(
        self, fn: Callable[..., Any], max_traces: int = 16, fuse: bool = True, buffers: bool = True
    ) -> None:
        self.fn = fn
        self.max_traces = max_traces
        self.fuse = fuse
        self.buffers = buffers
        self._programs: dict[Any, Program] = {}
        self.replays = 0
        functools.update_wrapper(self, fn)

    @property
    def traces(self) -> int:
        return len(self._programs)

    def summary(self) -> list[dict[str, Any]]:
        """What each traced signature became, oldest first: one dict per trace.

        ``eager`` (the signature runs eagerly: an argument requires grad), ``instructions``
        (after dead-code elimination and fusion), ``fused_kernels`` (numba kernels on
        NumPy, ``ElementwiseKernel``s on CuPy), ``buffers`` and ``buffer_bytes`` (one set of preallocated buffers),
        ``backend_compiler`` (``True`` once the backend's compiler took the program —
        ``mx.compile``, ``jax.jit``, ``torch.compile`` —, ``False`` if it has none or gave
        up, ``None`` before the first replay) and ``backend_error`` (why it gave up).

        Examples
        --------
        >>> import autodiff as ad
        >>> f = ad.compile(ad.grad(lambda x: ad.sum(ad.tanh(x) * x)))
        >>> _ = f(ad.ones(3))
        >>> info = f.summary()[0]
        >>> info["eager"], info["instructions"] > 0
        (False, True)
        """
        out: list[dict[str, Any]] = []
        for program in self._programs.values():
            if program is _EAGER:
                out.append({"eager": True})
                continue
            allocate = program.allocate
            fast = program.fast
            out.append(
                {
                    "eager": False,
                    "instructions": program.size,
                    "fused_kernels": program.fused,
                    "buffers": 0 if allocate is None else len(allocate),
                    "buffer_bytes": 0 if allocate is None else allocate.nbytes,
                    "backend_compiler": None if fast is None else bool(fast),
                    "backend_error": program.fast_error,
                }
            )
        return out

    def _signature(self, args: tuple[Any, ...]) -> tuple[Any, list[Any]]:
        """Step 1: the key of a call's trace (grad mode; each tensor's shape, dtype,
        device, requires-grad and which earlier argument shares its data; every other
        argument by type and value) and the tensors' arrays a replay takes."""
        key: list[Any] = [is_grad_enabled()]
        datas: list[Any] = []
        seen: dict[int, int] = {}
        for a in args:
            if isinstance(a, Tensor):
                first = seen.setdefault(id(a.data), len(datas))
                key.append(
                    (a.shape, a.dtype, a.device, a._rg, first if first != len(datas) else -1)
                )
                datas.append(a.data)
            else:
                try:
                    hash(a)
                except TypeError as err:
                    raise TypeError(
                        f"ad.compile({self.fn.__name__}): argument {a!r} is neither a tensor "
                        "nor hashable; pass tensors, or Python values that select a trace."
                    ) from err
                key.append(("value", type(a), a))
        return tuple(key), datas

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Trace this signature (first call, or a guard changed) or replay its program:
        guards, host work (``each_call``, ``host_value``), the program on the raw arrays,
        the results wrapped as tensors, and the write-backs."""
        if _TRACING[0] and _LEVELS.get():
            # inside vmap or jvp: the function runs eagerly, each operation processed by
            # the transform (a program replays plain arrays: it would drop batch or tangent)
            return self.fn(*args, **kwargs)
        key, datas = self._signature(args)
        call: Callable[..., Any] = self.fn
        if kwargs:
            key = (*key, self._keywords(kwargs))
            call = functools.partial(self.fn, **kwargs)
        program = self._programs.get(key)
        if program is not None and program is not _EAGER and program.stale():
            program = None  # a Python value the trace depended on has changed: trace again
        if program is None:
            out, program = self._trace(args, call)
            if key not in self._programs and len(self._programs) >= self.max_traces:
                self._programs.pop(next(iter(self._programs)))
            self._programs[key] = program
            if program is _EAGER:
                return out
            # like a replay's, the first call's results do not carry the trace's graph
            return _tree.tree_map(lambda v: v.detach() if isinstance(v, Tensor) else v, out)
        if program is _EAGER:
            return call(*args)
        program.check_grads_unset(self._name)
        self.replays += 1
        hosts = program.host_inputs()
        externals = [t.data for _, t in program.externals]
        if program.fast is None:
            program.fast = backend_compile(program)
        arrays = None
        if program.fast:
            try:
                arrays = program.fast(*datas, *externals, *hosts)
            except Exception as err:
                # the backend's compiler could not take this program: replay it ourselves
                program.fast = False
                program.fast_error = err
        if arrays is None:
            arrays = program.fn(datas, externals, hosts)
        it = iter(arrays)
        leaves = [wrap(next(it), r[2]) if r[0] == "slot" else r[1] for r in program.out_refs]
        program.write_back(args, it)
        return _tree.unflatten(program.structure, leaves)

    @property
    def _name(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))

    def _keywords(self, kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Keyword arguments as part of the key: by value, never tensors."""
        for name, value in kwargs.items():
            if isinstance(value, Tensor):
                raise TypeError(
                    f"ad.compile({self.fn.__name__}): pass tensors by position, not as the "
                    f"keyword {name!r}; keywords select a trace by value."
                )
            try:
                hash(value)
            except TypeError as err:
                raise TypeError(
                    f"ad.compile({self.fn.__name__}): keyword {name}={value!r} is not hashable; "
                    "pass tensors by position, and hashable Python values as keywords."
                ) from err
        return tuple(sorted((k, type(v), v) for k, v in kwargs.items()))

    def _trace(self, args: tuple[Any, ...], call: Callable[..., Any]) -> tuple[Any, Program]:
        """Step 2: run the function once under a tracer and build its program.

        An argument that requires grad makes the signature eager (``_EAGER``). Otherwise:
        the tensors alive before the call (to find what it rebinds), the guards on what
        it reads from Python, the eager run with every primitive call recorded, the refusal
        of host random draws, the guards' checks, the write-backs, the output slots, and
        ``Program`` (the passes and the generated code). Returns the eager results and the
        program.
        """
        if current_tracer() is not None:
            raise TraceError(
                f"ad.compile({self.fn.__name__}) was called while another compiled function "
                "was being traced; compile the outer function only."
            )
        if is_grad_enabled() and any(isinstance(a, Tensor) and a._rg for a in args):
            # the caller differentiates through the results (ad.grad of a compiled
            # function): a replay has no graph, so this signature runs eagerly
            return call(*args), _EAGER
        tracer = _Tracer(self._name)
        for a in args:
            if isinstance(a, Tensor):
                tracer.arg(a)
        # every tensor alive now, with its data and grad: what the call rebinds is written
        # back by each replay
        from .._interpose import LevelTensor  # values of a vmap or jvp: not program state

        tracer.entry = {
            id(t): (t, t.data, t.grad)
            for t in gc.get_objects()
            if issubclass(type(t), Tensor) and not issubclass(type(t), LevelTensor)
        }
        guards = collect(call, args)
        tracer.reachable = guards.tensors
        host_rng = _host_rng_state()
        token = tracer.start()
        try:
            out = call(*args)
        finally:
            tracer.stop(token)
        if _host_rng_state() != host_rng or guards.drew():
            tracer.refuse(
                "draws from NumPy's or Python's random generators (the global ones, or a "
                "Generator it reaches; a replay would reuse the numbers drawn when it was "
                "traced, and another thread drawing from them while it was traced has the "
                "same effect); draw them outside and pass them in as arguments"
            )
        declared = [step[2] if step[0] == "input" else step[1] for step in tracer.host]
        declared += [fn for fn, _ in tracer.guards]
        checks = guards.after_trace(declared)
        checks += [("call", fn, None, value, True) for fn, value in tracer.guards]
        writes = _writes(tracer, args)
        tracer.entry = {}
        leaves, structure = _tree.flatten(out)
        refs: list[Any] = []
        for leaf in leaves:
            if isinstance(leaf, Tensor):
                slot = tracer.slot_of.get(id(leaf.data))
                if slot is None:
                    raise TraceError(
                        f"ad.compile({tracer.name}): an output was not computed by autodiff "
                        "operations on the inputs (it was made from data the trace cannot see)."
                    )
                refs.append(("slot", slot, leaf._backend))
            else:
                refs.append(("const", leaf))
        program = Program(tracer, structure, refs, writes, self.fuse, self.buffers)
        program.guards = checks
        program.guards_hold = compile_checks(checks)
        return out, program


def _writes(tracer: _Tracer, args: tuple[Any, ...]) -> list[Any]:
    """The ``.data`` and ``.grad`` the traced call rebound on tensors that existed before
    it, as write-backs a replay repeats; refuse what a replay could not repeat."""
    entry_grads = {id(g) for _, _, g in tracer.entry.values() if g is not None}
    for _, t, _ in tracer.externals:
        if id(t) in entry_grads:
            tracer.refuse(
                "reads a .grad that was computed before the call (a replay would read that "
                "same gradient again); compute the gradients inside the compiled function "
                "with loss.backward(), or pass them as arguments"
            )
    arg_index = {id(a): k for k, a in enumerate(args) if isinstance(a, Tensor)}
    writes: list[Any] = []
    for t, data, grad in tracer.entry.values():
        target = ("arg", arg_index[id(t)]) if id(t) in arg_index else ("tensor", t)
        if t.data is not data and (
            id(t.data) in tracer.slot_of
            or id(t) in arg_index
            or id(t) in tracer.external_of
            or id(t) in tracer.reachable
        ):
            # rebound to a value the call computed, or a tensor the function can reach
            # rebound to something else (refused); a tensor it cannot reach was rebound by
            # another thread (its training step), which is none of this program's business
            writes.append((target, "data", _written(tracer, t.data), t._backend))
        if t.grad is not grad and id(t) in tracer.grads_set:
            # only a .grad this call assigned (another thread's backward() sets its own)
            g = t.grad
            slot = None if g is None else _written(tracer, g.data)
            writes.append((target, "grad", slot, t._backend if g is None else g._backend))
    return writes


def _host_rng_state() -> tuple[Any, ...]:
    """Where NumPy's global generator and Python's ``random`` module are in their streams."""
    np = sys.modules.get("numpy")
    state: tuple[Any, ...] = (random.getstate(),)
    if np is not None:
        _, key, pos, has_gauss, gauss = np.random.get_state()
        state += (key.tobytes(), pos, has_gauss, gauss)
    return state


def _written(tracer: _Tracer, array: Any) -> int:
    """The slot of an array a write-back assigns; refuse one no traced operation made."""
    slot = tracer.slot_of.get(id(array))
    if slot is None:
        tracer.refuse(
            "rebinds the data or .grad of a tensor that existed before the call to an array "
            "that autodiff operations did not compute (a replay could not recompute it); "
            "compute new values with autodiff operations"
        )
    return slot  # type: ignore[return-value]


def compile(  # noqa: A001
    fn: Callable[..., Any] | None = None,
    *,
    max_traces: int = 16,
    fuse: bool = True,
    buffers: bool = True,
) -> Any:
    """Trace ``fn`` once per signature and replay the recorded primitives on later calls.

    ``fn`` takes tensors (and hashable Python values, which select a trace) and returns
    a tensor or a tree of tensors. It may differentiate inside (``ad.grad``,
    ``ad.value_and_grad``, ``ad.vjp``, ``ad.jvp``, ``ad.hessian``): the backward pass is
    traced as well. Results of replays do not require grad, and gradients do not flow
    from them into closed-over tensors: compile the function that differentiates. When
    an argument requires grad (with grad mode on), that signature runs eagerly, so
    ``ad.grad(ad.compile(f))`` is correct, though no faster.

    Parameters
    ----------
    fn : callable
        The function to compile (``@ad.compile`` or ``ad.compile(fn)``).
    max_traces : int
        Signatures kept; the oldest is dropped beyond this.
    fuse : bool
        Let the backend fuse the program (on NumPy, with numba installed: chains of
        elementwise operations become one kernel each). ``False`` replays one call per
        operation.
    buffers : bool
        Let the backend write large intermediate results into buffers allocated once and
        reused by every replay (NumPy: ``out=``; never a result the caller receives).
        ``False`` allocates every result anew, holding no memory between calls.

    Raises
    ------
    TraceError
        At trace time, when ``fn`` does something a replay could not reproduce (see the
        module documentation): it never replays a program built for other inputs.

    Examples
    --------
    >>> import autodiff as ad
    >>> @ad.compile
    ... def loss_and_grad(w, x):
    ...     return ad.value_and_grad(lambda w: ad.sum(ad.tanh(x @ w) ** 2))(w)
    >>> w, x = ad.ones((3,)), ad.tensor([[0.1, 0.2, 0.3]])
    >>> value, g = loss_and_grad(w, x)  # traces
    >>> value2, g2 = loss_and_grad(w * 2, x)  # replays
    >>> f"{value2.item():.6f}", loss_and_grad.traces
    ('0.694980', 1)
    """
    if fn is None:
        return lambda f: CompiledFunction(f, max_traces, fuse, buffers)
    return CompiledFunction(fn, max_traces, fuse, buffers)
