"""Trace once, replay fast: ``ad.compile``.

The first call of a compiled function for a given signature (the shapes, dtypes and
devices of its tensor arguments, the values of its other arguments, and grad mode) runs
it eagerly while a tracer records every primitive it calls — the forward and, when the
function differentiates (``ad.grad``, ``ad.value_and_grad``, ``ad.vjp`` …), the backward
pass, which runs on tensors under tracing so that its rules are primitive calls too. The
record becomes a flat program over array slots: each instruction is a pre-resolved
forward callable, the slots it reads and the slot it writes. Later calls run the program
on the raw arrays: no tensors, no graph nodes, no topological sort, and each slot is freed
after its last use.

What invalidates a trace: a new signature traces again (kept side by side, up to
``max_traces``). What cannot be traced raises ``TraceError`` at trace time rather than
replaying something wrong: reading a traced value on the host (``bool(x)``, ``x.item()``,
``float(x)``, indexing with a computed index array, data-dependent shapes such as
``nonzero``), drawing random numbers, and side effects on tensors the function did not
create (``.backward()`` into leaves' ``.grad``, or rebinding a tensor's data, as optimizers
do). Closed-over tensors (model parameters) are read afresh on every call.
"""

from __future__ import annotations

import builtins
import functools
import gc
from collections.abc import Callable
from typing import Any

from . import _tree
from .engine import TRACER, Primitive
from .grad_mode import is_grad_enabled
from .tensor import Tensor, wrap

__all__ = ["CompiledFunction", "Graph", "Placeholder", "TraceError", "compile", "placeholder"]


class TraceError(RuntimeError):
    """A compiled function did something a replay could not reproduce.

    Examples
    --------
    >>> import autodiff as ad
    >>> f = ad.compile(lambda x: x * 2 if float(ad.sum(x)) > 0 else x)
    >>> try:
    ...     f(ad.tensor([1.0]))
    ... except ad.TraceError as err:
    ...     print("refused:", "host" in str(err))
    refused: True
    """


class _Tracer:
    """Records primitive calls as instructions over slots (one slot per array)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.slot_of: dict[int, int] = {}  # id(raw array) -> slot
        self.keep: list[Any] = []  # every traced array stays alive: ids stay unique
        self.n = 0
        self.args: list[int] = []  # slots of the positional tensor arguments
        self.externals: list[tuple[int, Tensor, Any]] = []  # (slot, tensor, its data then)
        self.literals: dict[int, Any] = {}  # slot -> constant Python scalar / array
        self.code: list[tuple[Any, ...]] = []
        # host work done again on every replay, in order: ("call", fn) runs fn,
        # ("input", slot, fn, backend, dtype, device) feeds fn() to a slot (see host_value)
        self.host: list[tuple[Any, ...]] = []
        self.guards: list[tuple[Callable[[], Any], Any]] = []  # (fn, its value when traced)
        # id -> (tensor, data, grad) of every tensor alive when the call began
        self.entry: dict[int, tuple[Tensor, Any, Any]] = {}
        self.unset_grads: list[Tensor] = []  # pre-existing leaves whose .grad backward set
        self.grads_set: set[int] = set()  # ids of tensors whose .grad the call assigned
        self.owner: dict[int, Tensor] = {}  # external slot -> the tensor it is read from
        self.external_of: dict[int, int] = {}  # id(external tensor) -> its slot

    def _new(self, array: Any) -> int:
        slot = self.n
        self.n += 1
        self.slot_of[id(array)] = slot
        self.keep.append(array)
        return slot

    def arg(self, t: Tensor) -> int:
        slot = self.slot_of.get(id(t.data))
        if slot is None:
            slot = self._new(t.data)
        self.args.append(slot)
        return slot

    def _ref(self, a: Any) -> int:
        if isinstance(a, Tensor):
            slot = self.slot_of.get(id(a.data))
            if slot is not None and slot not in self.owner:
                return slot  # a traced value (or an argument)
            # made outside the trace (a parameter) or a constant made inside it: one slot
            # per tensor, read from that tensor (two tensors may share a data object)
            slot = self.external_of.get(id(a))
            if slot is None:
                slot = self.n
                self.n += 1
                self.slot_of.setdefault(id(a.data), slot)
                self.keep.append(a.data)
                self.owner[slot] = a
                self.external_of[id(a)] = slot
                self.externals.append((slot, a, a.data))
            return slot
        slot = self.n
        self.n += 1
        self.literals[slot] = a
        return slot

    def record(
        self, prim: Primitive, fwd: Any, backend: Any, args: tuple[Any, ...], params: Any, out: Any
    ) -> Any:
        """Record one primitive call; returns its output(s), where an output the trace
        already knows is replaced by a copy (see ``_fresh``), for the caller to wrap."""
        ins = tuple(self._ref(a) for a in args)
        if prim.nout == 1:
            out = self._fresh(out, backend)
            outs: Any = self._new(out)
        else:
            out = tuple(self._fresh(o, backend) for o in out)
            outs = tuple(self._new(o) for o in out)
        self.code.append((fwd, backend.xp, ins, params or None, outs, prim, backend))
        return out

    def _fresh(self, out: Any, backend: Any) -> Any:
        """``out``, or a copy of it when the object already has a slot: slots are found by
        object identity, and NumPy's ``True``/``False`` scalars are singletons (two
        comparisons would share a slot), as is an input a forward returns unchanged."""
        if id(out) not in self.slot_of:
            return out
        return backend.xp.asarray(out, copy=True)  # the namespace's: no alias recorded

    def alias(self, source: Any, converted: Any) -> None:
        """``converted`` was made from a traced array by a conversion: the same slot."""
        slot = self.slot_of.get(id(source))
        if slot is None:
            return
        if str(getattr(source, "dtype", "")) != str(getattr(converted, "dtype", "")):
            self.refuse(
                "converts a traced value to another dtype outside autodiff's operations "
                "(use .astype())"
            )
        self.slot_of[id(converted)] = slot
        self.keep.append(converted)

    def check_host_read(self, array: Any) -> None:
        if id(array) in self.slot_of and not any(e[2] is array for e in self.externals):
            self.refuse(
                "reads a traced value on the host (bool(), float(), .item(), .tolist(), "
                "printing, indexing with a computed index array, or a data-dependent "
                "shape): a replay could not follow the branch it takes"
            )

    def accumulating(self, leaf: Tensor) -> None:
        """``backward()`` is about to add into ``leaf.grad``: a replay can follow only a
        gradient made during the call, or one that was unset when the call began (a replay
        then checks that it still is)."""
        entry = self.entry.get(id(leaf))
        if entry is None or id(leaf) in self.grads_set:
            return  # a tensor made by the call, or a .grad the call set (opt.zero_grad())
        if entry[2] is not None:
            self.refuse(
                "adds gradients into a .grad accumulated before the call (a replay would "
                "read it as it was when traced); call opt.zero_grad() inside the compiled "
                "function"
            )
        self.unset_grads.append(leaf)

    def grad_set(self, t: Tensor) -> None:
        self.grads_set.add(id(t))

    def refuse(self, what: str) -> None:
        raise TraceError(f"ad.compile({self.name}): the function {what}.")

    def host_input(self, array: Any, fn: Callable[[], Any], like: Tensor) -> None:
        slot = self._new(array)
        self.host.append(("input", slot, fn, like._backend, like.dtype, like.device))


def _inline_forward(xp: Any, *args: Any) -> Any:
    raise RuntimeError("an inline instruction is written into the generated program")


#: marks an instruction a backend's ``fuse_program`` wrote as an expression: its params
#: are ``(template, names)``, the template formats with the operands' names, and the
#: names are globals the expression needs
INLINE = Primitive("inline", _inline_forward)

#: primitives whose forward is exactly a Python operator (``lambda xp, a, b: a + b``):
#: generated code writes the operator inline, which is also the fastest path on NumPy
#: scalars (0-d results)
_OPERATORS = {
    "add": "{0} + {1}",
    "subtract": "{0} - {1}",
    "multiply": "{0} * {1}",
    "divide": "{0} / {1}",
    "pow": "{0} ** {1}",
    "negative": "-{0}",
    "positive": "+{0}",
    "equal": "{0} == {1}",
    "not_equal": "{0} != {1}",
    "less": "{0} < {1}",
    "less_equal": "{0} <= {1}",
    "greater": "{0} > {1}",
    "greater_equal": "{0} >= {1}",
}


class _Program:
    """A traced function: instructions over slots, run on raw arrays.

    A replay returns the user's outputs followed by the write-backs: the new ``.data``
    or ``.grad`` of tensors that existed before the traced call (parameters after an
    optimizer step, gradients after ``backward()``), assigned again after every replay.
    """

    __slots__ = (
        "args",
        "backend",
        "code",
        "externals",
        "fast",
        "fast_error",
        "fn",
        "guards",
        "host",
        "literals",
        "n",
        "out_refs",
        "size",
        "structure",
        "unset_grads",
        "writes",
    )

    def __init__(
        self,
        tracer: _Tracer,
        structure: Any,
        out_refs: list[Any],
        writes: list[Any],
        fuse: bool = True,
    ) -> None:
        self.args = tracer.args
        self.externals = [(slot, t) for slot, t, _ in tracer.externals]
        self.literals = tracer.literals
        self.host = tracer.host
        self.guards = tracer.guards
        self.unset_grads = tracer.unset_grads
        self.n = tracer.n
        self.structure = structure
        self.out_refs = out_refs  # per output leaf: ("slot", i, backend) or ("const", value)
        # per write-back: (target, attribute, slot or None, backend); target is
        # ("arg", k) for the k-th argument of the call or ("tensor", t)
        self.writes = writes
        keep = {r[1] for r in out_refs if r[0] == "slot"} | {
            w[2] for w in writes if w[2] is not None
        }
        # dead-code elimination, then the last use of every slot
        needed = set(keep)
        code = []
        for ins in reversed(tracer.code):
            outs = ins[4] if isinstance(ins[4], tuple) else (ins[4],)
            if any(o in needed for o in outs):
                code.append(ins)
                needed.update(ins[2])
        code.reverse()
        values: dict[int, Any] = {}  # slot -> its value in the traced call
        for array in tracer.keep:
            slot = tracer.slot_of.get(id(array))
            if slot is not None:
                values.setdefault(slot, array)
        hook = getattr(code[0][6], "fuse_program", None) if code else None
        if fuse and hook is not None and len({id(ins[6]) for ins in code}) == 1:
            # the backend fuses what it can (NumPy: elementwise chains into numba kernels)
            code = hook(code, values, tracer.literals, keep)
        last: dict[int, int] = {}
        for k, ins in enumerate(code):
            for i in ins[2]:
                last[i] = k
        self.code = [
            (
                fwd,
                xp,
                ins,
                params,
                outs,
                tuple(i for i in set(ins) if last[i] == k and i not in keep),
                prim,
                backend,
            )
            for k, (fwd, xp, ins, params, outs, prim, backend) in enumerate(code)
        ]
        self.size = len(self.code)
        # one backend for every instruction: its compiler may take the whole program
        spaces = {id(ins[1]) for ins in self.code}
        refs = [r[2] for r in out_refs if r[0] == "slot"] + [w[3] for w in writes if w[2]]
        self.backend = refs[0] if refs and len(spaces) <= 1 else None
        self.fast: Any = None  # the backend's compiled program, False if it has none
        self.fast_error: Exception | None = None  # why the backend's compiler gave up
        unbox = getattr(self.backend, "scalar_entry", False)
        self.fn = self._generate(
            {s for s, v in values.items() if unbox and getattr(v, "shape", None) == ()}
        )

    def _generate(
        self, scalars: set[int]
    ) -> Callable[[list[Any], list[Any], list[Any]], tuple[Any, ...]]:
        """The program as straight-line Python: one local per slot, each instruction one
        call to its pre-resolved callable (a NumPy ufunc where one is the primitive), and
        ``del`` after a slot's last use. No lists, loops or lookups per instruction."""
        env: dict[str, Any] = {}
        lines = ["def program(A, E, H):"]
        # ``scalars``: 0-d inputs the backend prefers as scalars (NumPy's scalar arithmetic
        # is ~10x faster than its 0-d array arithmetic, with the same dtype rules)
        entry = [(slot, f"A[{i}]") for i, slot in enumerate(self.args)]
        entry += [(slot, f"E[{j}]") for j, (slot, _) in enumerate(self.externals)]
        inputs = [step[1] for step in self.host if step[0] == "input"]
        entry += [(slot, f"H[{j}]") for j, slot in enumerate(inputs)]
        lines += [
            f"    s{slot} = {src}[()]" if slot in scalars else f"    s{slot} = {src}"
            for slot, src in entry
        ]
        read = {i for ins in self.code for i in ins[2]}
        for slot, value in self.literals.items():
            if slot in read:  # fused kernels hold their literals as constants
                env[f"L{slot}"] = value
                lines.append(f"    s{slot} = L{slot}")
        for k, (fwd, xp, ins, params, outs, dead, prim, backend) in enumerate(self.code):
            args = ", ".join(f"s{i}" for i in ins)
            ufunc = getattr(backend, "ufuncs", {}).get(prim.name)
            operator = _OPERATORS.get(prim.name)
            if prim is INLINE:
                template, names = params
                env.update(names)
                call = template.format(*(f"s{i}" for i in ins))
            elif operator is not None and params is None and fwd is prim.forward:
                # the primitive's forward is this operator: write it inline
                call = operator.format(*(f"s{i}" for i in ins))
            elif ufunc is not None and params is None and fwd is prim.forward:
                env[f"U{k}"] = ufunc
                call = f"U{k}({args})"
            else:
                env[f"F{k}"], env[f"X{k}"] = fwd, xp
                if params:
                    env[f"P{k}"] = params
                    call = f"F{k}(X{k}, {args}, **P{k})"
                else:
                    call = f"F{k}(X{k}, {args})"
            target = f"s{outs}" if outs.__class__ is int else "".join(f"s{o}, " for o in outs)
            lines.append(f"    {target} = {call}")
            if dead:
                lines.append("    del " + ", ".join(f"s{i}" for i in dead))
        results = [f"s{r[1]}" for r in self.out_refs if r[0] == "slot"]
        results += [f"s{w[2]}" for w in self.writes if w[2] is not None]
        lines.append("    return (" + "".join(f"{r}, " for r in results) + ")")
        exec(builtins.compile("\n".join(lines), "<autodiff.compile program>", "exec"), env)
        return env["program"]

    def stale(self) -> bool:
        """Whether a Python value the trace depended on (``guard``) has changed."""
        return any(fn() != value for fn, value in self.guards)

    def host_inputs(self) -> list[Any]:
        """Run this replay's host work (``each_call``) and compute its ``host_value``s."""
        out = []
        for step in self.host:
            if step[0] == "call":
                step[1]()
            else:
                _, _, fn, backend, dtype, device = step
                out.append(backend.asarray(fn(), dtype=dtype, device=device))
        return out

    def check_grads_unset(self, name: str) -> None:
        for t in self.unset_grads:
            if t.grad is not None:
                raise TraceError(
                    f"ad.compile({name}): backward() inside the compiled function found this "
                    f".grad unset when it was traced, but now it holds {t.grad.shape} values; "
                    "a replay would overwrite them. Call opt.zero_grad() (or set .grad = None) "
                    "inside the compiled function, or before each call."
                )

    def write_back(self, args: tuple[Any, ...], arrays: Any) -> None:
        for (kind, target), attr, slot, backend in self.writes:
            t = args[target] if kind == "arg" else target
            if attr == "data":
                t.data = next(arrays)
            else:
                t.grad = None if slot is None else wrap(next(arrays), backend)

    def outputs(
        self, datas: list[Any], externals: list[Any] | None = None, hosts: list[Any] | None = None
    ) -> list[Any]:
        """The output arrays for these argument arrays (and closed-over arrays)."""
        if externals is None:
            externals = [t.data for _, t in self.externals]
        return list(self.fn(datas, externals, [] if hosts is None else hosts))


def _backend_compile(program: _Program) -> Any:
    """The program handed to its backend's own compiler (``mx.compile`` on MLX), or False."""
    hook = getattr(program.backend, "compile_program", None)
    if hook is None or not program.code:
        return False
    na = len(program.args)
    ne = na + len(program.externals)

    def pure(*arrays: Any) -> tuple[Any, ...]:
        return tuple(program.outputs(list(arrays[:na]), list(arrays[na:ne]), list(arrays[ne:])))

    return hook(pure) or False


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

    def __init__(self, fn: Callable[..., Any], max_traces: int = 16, fuse: bool = True) -> None:
        self.fn = fn
        self.max_traces = max_traces
        self.fuse = fuse
        self._programs: dict[Any, _Program] = {}
        self.replays = 0
        functools.update_wrapper(self, fn)

    @property
    def traces(self) -> int:
        return len(self._programs)

    def _signature(self, args: tuple[Any, ...]) -> tuple[Any, list[Any]]:
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
            program.fast = _backend_compile(program)
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

    def _trace(self, args: tuple[Any, ...], call: Callable[..., Any]) -> tuple[Any, _Program]:
        if TRACER[0] is not None:
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
        tracer.entry = {
            id(t): (t, t.data, t.grad) for t in gc.get_objects() if issubclass(type(t), Tensor)
        }
        TRACER[0] = tracer
        try:
            out = call(*args)
        finally:
            TRACER[0] = None
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
        return out, _Program(tracer, structure, refs, writes, self.fuse)


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
        if t.data is not data:
            writes.append((target, "data", _written(tracer, t.data), t._backend))
        if t.grad is not grad:
            g = t.grad
            slot = None if g is None else _written(tracer, g.data)
            writes.append((target, "grad", slot, t._backend if g is None else g._backend))
    return writes


def _written(tracer: _Tracer, array: Any) -> int:
    slot = tracer.slot_of.get(id(array))
    if slot is None:
        tracer.refuse(
            "rebinds the data or .grad of a tensor that existed before the call to an array "
            "that autodiff operations did not compute (a replay could not recompute it); "
            "compute new values with autodiff operations"
        )
    return slot  # type: ignore[return-value]


def guard(fn: Callable[[], Any]) -> None:
    """Declare that the function being compiled depends on the Python value ``fn()``.

    Outside ``ad.compile`` tracing this does nothing. Under tracing, ``fn()`` is recorded,
    and a later call whose ``fn()`` differs traces again instead of replaying (as a new
    shape would). ``ad.optim``'s optimizers guard their hyper-parameters (all but the
    learning rate, which is a ``host_value``) and the layout of their state.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._compile import guard
    >>> settings = {"scale": 2.0}
    >>> @ad.compile
    ... def f(x):
    ...     guard(lambda: settings["scale"])
    ...     return x * settings["scale"]
    >>> _ = f(ad.ones(2)); settings["scale"] = 3.0
    >>> f(ad.ones(2)).tolist(), f.traces  # the guard saw the change: traced again
    ([3.0, 3.0], 1)
    """
    tracer = TRACER[0]
    if tracer is not None:
        tracer.guards.append((fn, fn()))


def host_value(fn: Callable[[], Any], like: Tensor) -> Any:
    """``fn()``, a Python number computed on the host, to combine with tensors like ``like``.

    Outside ``ad.compile`` tracing this returns ``fn()``. Under tracing it returns a 0-d
    tensor of ``like``'s dtype and device that every replay recomputes with ``fn()``, so
    a value that changes between calls (a scheduled learning rate, Adam's bias
    correction) is not frozen into the program.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._compile import host_value
    >>> rate = {"lr": 0.5}
    >>> step = ad.compile(lambda w: w - host_value(lambda: rate["lr"], w) * w)
    >>> _ = step(ad.ones(2)); rate["lr"] = 0.25
    >>> step(ad.ones(2)).tolist(), step.traces  # replayed with the new rate
    ([0.75, 0.75], 1)
    """
    value = fn()
    tracer = TRACER[0]
    if tracer is None:
        return value
    backend = like._backend
    t = wrap(backend.asarray(value, dtype=like.dtype, device=like.device), backend)
    tracer.host_input(t.data, fn, like)
    return t


def each_call(fn: Callable[[], Any]) -> None:
    """Run ``fn()`` now, and again on every replay when the caller is being traced.

    For host-side bookkeeping a compiled function must not freeze: the optimizers'
    step counters. Replays run these (and ``host_value``) in the order they were met.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._compile import each_call
    >>> calls = []
    >>> f = ad.compile(lambda x: (each_call(lambda: calls.append(1)), x * 2)[1])
    >>> _ = f(ad.ones(1)); _ = f(ad.ones(1)); _ = f(ad.ones(1))
    >>> len(calls), f.replays
    (3, 2)
    """
    fn()
    tracer = TRACER[0]
    if tracer is not None:
        tracer.host.append(("call", fn))


def compile(  # noqa: A001
    fn: Callable[..., Any] | None = None, *, max_traces: int = 16, fuse: bool = True
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
        return lambda f: CompiledFunction(f, max_traces, fuse)
    return CompiledFunction(fn, max_traces, fuse)


class Placeholder:
    """The shape and dtype of a future input of a ``Graph`` (no data).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.placeholder((3,), name="x")
    >>> x.shape, x.dtype == ad.get_default_dtype(), x.name
    ((3,), True, 'x')
    """

    __slots__ = ("device", "dtype", "name", "shape")

    def __init__(self, shape: Any, dtype: Any = None, device: Any = None, name: str | None = None):
        from . import _dtypes
        from ._config import current, get_default_dtype

        sel = current()
        self.shape = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
        self.dtype = get_default_dtype(sel.backend) if dtype is None else _dtypes.to_dtype(dtype)
        self.device = device
        self.name = name

    def __repr__(self) -> str:
        return f"placeholder({self.shape}, {self.dtype.name}, name={self.name!r})"


def placeholder(
    shape: Any, dtype: Any = None, *, device: Any = None, name: str | None = None
) -> Placeholder:
    """Declare an input of a ``Graph``: its shape and dtype, with no data.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.placeholder((2, 3), ad.float32, name="batch")
    placeholder((2, 3), float32, name='batch')
    """
    return Placeholder(shape, dtype, device, name)


class Graph:
    """A computation built once over placeholders, then evaluated and differentiated
    repeatedly with new inputs (the lazy style: ``forward()``, then ``backward()``).

    ``fn`` maps tensors for the placeholders (in order) to a tensor. The graph is traced
    at construction (for the forward) and on the first ``backward`` (for the gradients);
    calls then replay those programs. Inputs must match the placeholders' shapes and
    dtypes: anything else raises ``ValueError`` — a graph never replays a program built
    for other inputs.

    Examples
    --------
    >>> import autodiff as ad
    >>> x, y = ad.placeholder((2,), name="x"), ad.placeholder((2,), name="y")
    >>> g = ad.Graph(lambda x, y: (x + y) * x, x, y)
    >>> g.forward(x=[1.0, 2.0], y=[3.0, 4.0]).tolist()
    [4.0, 12.0]
    >>> grads = g.backward(x=[1.0, 2.0], y=[3.0, 4.0])  # of the sum of the output
    >>> grads["x"].tolist(), grads["y"].tolist()
    ([5.0, 8.0], [1.0, 2.0])
    """

    def __init__(self, fn: Callable[..., Any], *placeholders: Placeholder) -> None:
        if not placeholders or not all(isinstance(p, Placeholder) for p in placeholders):
            raise TypeError("Graph(fn, *placeholders) needs at least one ad.placeholder(...).")
        self.fn = fn
        self.placeholders = placeholders
        self.names = [p.name or f"input{i}" for i, p in enumerate(placeholders)]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"placeholder names must be unique, got {self.names}.")
        self._forward = CompiledFunction(fn, max_traces=1)
        self._backward: CompiledFunction | None = None
        from .creation import zeros

        with _no_grad():
            self._forward(*(zeros(p.shape, dtype=p.dtype, device=p.device) for p in placeholders))

    def _inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Tensor]:
        from .creation import asarray

        if args and kwargs:
            raise TypeError("pass the inputs by position or by name, not both.")
        if kwargs:
            missing = [n for n in self.names if n not in kwargs]
            extra = [k for k in kwargs if k not in self.names]
            if missing or extra:
                raise TypeError(
                    f"inputs {self.names} expected; missing {missing}, unknown {extra}."
                )
            args = tuple(kwargs[n] for n in self.names)
        if len(args) != len(self.placeholders):
            raise TypeError(f"{len(self.placeholders)} inputs expected, got {len(args)}.")
        out = []
        for name, p, a in zip(self.names, self.placeholders, args):
            t = asarray(a, dtype=p.dtype, device=p.device)
            if t.shape != p.shape:
                raise ValueError(
                    f"input {name!r} has shape {t.shape}; the graph was built for {p.shape}."
                )
            out.append(t.detach())
        return out

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate the graph on new inputs (by position or by placeholder name)."""
        with _no_grad():
            return self._forward(*self._inputs(args, kwargs))

    __call__ = forward

    def backward(self, *args: Any, **kwargs: Any) -> dict[str, Tensor]:
        """Gradients of the sum of the output with respect to every input, by name."""
        inputs = self._inputs(args, kwargs)
        if self._backward is None:
            from .ops.reduction import sum as _sum
            from .transforms import grad

            n = len(inputs)
            self._backward = CompiledFunction(
                grad(lambda *xs: _sum(self.fn(*xs)), argnums=tuple(range(n))), max_traces=1
            )
        with _no_grad():
            grads = self._backward(*inputs)
        return dict(zip(self.names, grads))


def _no_grad() -> Any:
    from .grad_mode import no_grad

    return no_grad()
