"""The program a trace becomes: the compiler's passes and the generated replay.

``Program(tracer, ...)`` runs the passes in order over the tracer's instructions
(``Instr``): dead-code elimination, the traced values, the backend's fusion and buffer
passes, the last use of every slot, then code generation (``Program._generate``): the
program as one straight-line Python function over raw arrays. ``backend_compile`` hands
that function to the backend's own compiler on the first replay.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable
from typing import Any

from ..tensor import wrap
from .instruction import FUSED, INLINE, Instr
from .trace import TraceError, _Tracer

__all__ = ["Program", "backend_compile"]


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


#: primitives that read only their operand's shape, dtype and device (``ad.grad``'s seed,
#: the zero gradient of an ignored input): name -> the namespace's creation function
_SHAPE_ONLY = {"ones_like": "ones", "zeros_like": "zeros"}


def _create(name: str, shape: tuple[int, ...], dtype: Any, device: Any, xp: Any) -> Any:
    if device is None:
        return getattr(xp, name)(shape, dtype=dtype)
    return getattr(xp, name)(shape, dtype=dtype, device=device)


def creations_from_shapes(code: list[Instr], values: dict[int, Any]) -> list[Instr]:
    """Pass 1: ``ones_like(x)`` and ``zeros_like(x)`` become ``ones(shape, dtype, device)``
    with ``x``'s, fixed for the trace's signature. They read nothing else of ``x``, so
    dead-code elimination no longer keeps the whole computation of ``x`` for them (the
    seed of ``ad.grad`` is ``ones_like`` of the output: a linear function's gradient
    needs no forward pass)."""
    out = []
    for ins in code:
        name = _SHAPE_ONLY.get(ins.prim.name)
        plain = len(ins.ins) == 1 and ins.params is None and ins.fwd is ins.prim.forward
        value = values.get(ins.ins[0]) if name is not None and plain else None
        shape = getattr(value, "shape", None)
        if name is None or value is None or shape is None:
            out.append(ins)
            continue
        device = getattr(value, "device", None)
        fwd = functools.partial(_create, name, tuple(shape), value.dtype, device)
        out.append(Instr(ins.prim, fwd, ins.xp, (), ins.outs, ins.backend))
    return out


def eliminate_dead_code(code: list[Instr], keep: set[int]) -> list[Instr]:
    """Pass 2: the instructions the results need, in program order.

    Walks the trace backwards from ``keep`` (the slots the program returns or writes
    back): an instruction stays when one of its outputs is needed, and then its operands
    are needed too. What the traced call computed but nothing returned (a forward value
    the backward pass does not read, an unused output of a several-output primitive's
    siblings) is dropped.
    """
    needed = set(keep)
    live = []
    for ins in reversed(code):
        if any(o in needed for o in ins.out_slots):
            live.append(ins)
            needed.update(ins.ins)
    live.reverse()
    return live


def traced_values(tracer: _Tracer) -> dict[int, Any]:
    """Every slot's value in the traced call (its shape, dtype and memory
    layout), which the backend's passes read to decide what to fuse or buffer."""
    values: dict[int, Any] = {}
    for array in tracer.keep:
        slot = tracer.slot_of.get(id(array))
        if slot is not None:
            values.setdefault(slot, array)
    return values


def backend_passes(
    code: list[Instr],
    values: dict[int, Any],
    literals: dict[int, Any],
    keep: set[int],
    fuse: bool,
    buffers: bool,
) -> tuple[list[Instr], Any]:
    """Pass 3: the backend's own rewrites, when one backend runs every instruction.

    ``Backend.fuse_program`` replaces runs of elementwise instructions with ``FUSED``
    ones (numba kernels on NumPy, CUDA ``ElementwiseKernel``s on CuPy) or ``INLINE``
    scalar expressions; then ``Backend.buffer_program`` rewrites instructions with large
    results to write into buffers every replay reuses (NumPy's ``out=``). Returns the
    program and the allocator of one set of buffers (None without buffers).
    """
    one_backend = bool(code) and len({id(ins.backend) for ins in code}) == 1
    backend = code[0].backend if one_backend else None
    if fuse and backend is not None and backend.fuse_program is not None:
        code = backend.fuse_program(code, values, literals, keep)
    allocate = None
    if buffers and backend is not None and backend.buffer_program is not None:
        code, allocate = backend.buffer_program(code, values, keep)
    return code, allocate


def mark_last_uses(code: list[Instr], keep: set[int]) -> None:
    """Pass 4: on each instruction, the slots it reads for the last time (``Instr.dead``),
    which the generated program deletes right after it: every intermediate is freed as
    soon as the program is done with it, except the results (``keep``)."""
    last: dict[int, int] = {}
    for k, ins in enumerate(code):
        for i in ins.ins:
            last[i] = k
    for k, ins in enumerate(code):
        ins.dead = tuple(i for i in set(ins.ins) if last[i] == k and i not in keep)


class Program:
    """A traced function: instructions over slots, run on raw arrays.

    A replay returns the user's outputs followed by the write-backs: the new ``.data``
    or ``.grad`` of tensors that existed before the traced call (parameters after an
    optimizer step, gradients after ``backward()``), assigned again after every replay.
    """

    __slots__ = (
        "allocate",
        "args",
        "backend",
        "code",
        "external_specs",
        "externals",
        "fast",
        "fast_error",
        "fn",
        "fused",
        "guards",
        "guards_hold",
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
        buffers: bool = True,
    ) -> None:
        self.args = tracer.args
        self.externals = [(slot, t) for slot, t, _ in tracer.externals]
        # a closed-over tensor given data of another shape or dtype invalidates the trace
        self.external_specs = [(a.shape, a.dtype) for _, _, a in tracer.externals]
        self.literals = tracer.literals
        self.host = tracer.host
        self.guards: list[Any] = []  # the checks a replay needs to hold (see guards.py)
        self.guards_hold: Callable[[], bool] = lambda: True
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
        values = traced_values(tracer)
        code = eliminate_dead_code(creations_from_shapes(tracer.code, values), keep)
        code, self.allocate = backend_passes(code, values, tracer.literals, keep, fuse, buffers)
        self.fused = sum(1 for ins in code if ins.prim is FUSED)
        mark_last_uses(code, keep)
        self.code: list[Instr] = list(code)
        self.size = len(self.code)
        # one backend for every instruction: its compiler may take the whole program
        spaces = {id(ins.xp) for ins in self.code}
        refs = [r[2] for r in out_refs if r[0] == "slot"] + [w[3] for w in writes if w[2]]
        self.backend = refs[0] if refs and len(spaces) <= 1 else None
        self.fast: Any = None  # the backend's compiled program, False if it has none
        self.fast_error: Exception | None = None  # why the backend's compiler gave up
        unbox = self.backend is not None and self.backend.scalar_entry
        self.fn = self._generate(
            {s for s, v in values.items() if unbox and getattr(v, "shape", None) == ()}
        )

    def _generate(
        self, scalars: set[int]
    ) -> Callable[[list[Any], list[Any], list[Any]], tuple[Any, ...]]:
        """Pass 5: the program as straight-line Python: one local per slot, each instruction one
        call to its pre-resolved callable (a NumPy ufunc where one is the primitive), and
        ``del`` after a slot's last use. No lists, loops or lookups per instruction."""
        env: dict[str, Any] = {}
        lines = ["def program(A, E, H):"]
        if self.allocate is not None:
            # this call's buffers (INLINE instructions write into B[j]): a set from the
            # pool, a new one when other calls (threads) hold them all
            env["_POOL"], env["_NEW"] = [], self.allocate
            lines += ["    try:", "        B = _POOL.pop()", "    except IndexError:"]
            lines.append("        B = _NEW()")
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
        read = {i for ins in self.code for i in ins.ins}
        for slot, value in self.literals.items():
            if slot in read:  # fused kernels hold their literals as constants
                env[f"L{slot}"] = value
                lines.append(f"    s{slot} = L{slot}")
        for k, step in enumerate(self.code):
            fwd, xp, ins, params, outs, dead, prim = (
                step.fwd,
                step.xp,
                step.ins,
                step.params,
                step.outs,
                step.dead,
                step.prim,
            )
            args = ", ".join(f"s{i}" for i in ins)
            ufunc = step.backend.ufuncs.get(prim.name)
            operator = _OPERATORS.get(prim.name)
            if prim is INLINE:
                assert step.template is not None
                assert step.names is not None
                env.update(step.names)
                call = step.template.format(*(f"s{i}" for i in ins))
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
            target = f"s{outs}" if isinstance(outs, int) else "".join(f"s{o}, " for o in outs)
            lines.append(f"    {target} = {call}")
            if dead:
                lines.append("    del " + ", ".join(f"s{i}" for i in dead))
        results = [f"s{r[1]}" for r in self.out_refs if r[0] == "slot"]
        results += [f"s{w[2]}" for w in self.writes if w[2] is not None]
        if self.allocate is not None:
            lines.append("    _POOL.append(B)")
        lines.append("    return (" + "".join(f"{r}, " for r in results) + ")")
        exec(builtins.compile("\n".join(lines), "<autodiff.compile program>", "exec"), env)
        return env["program"]

    def stale(self) -> bool:
        """Whether a Python value the trace depended on (``guard``) has changed, or a
        closed-over tensor now holds data of another shape or dtype."""
        for (_, t), (shape, dtype) in zip(self.externals, self.external_specs):
            data = t.data
            if data.shape != shape or data.dtype != dtype:
                return True
        return not self.guards_hold()

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
        """Refuse a replay whose ``backward()`` would overwrite a ``.grad`` that was unset
        when traced and holds values now."""
        for t in self.unset_grads:
            if t.grad is not None:
                raise TraceError(
                    f"ad.compile({name}): backward() inside the compiled function found this "
                    f".grad unset when it was traced, but now it holds {t.grad.shape} values; "
                    "a replay would overwrite them. Call opt.zero_grad() (or set .grad = None) "
                    "inside the compiled function, or before each call."
                )

    def write_back(self, args: tuple[Any, ...], arrays: Any) -> None:
        """Rebind, as the traced call did, the ``.data`` and ``.grad`` of tensors that
        existed before it, from the replay's trailing results."""
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


def backend_compile(program: Program) -> Any:
    """The program handed to its backend's own compiler (``mx.compile`` on MLX), or False."""
    hook = None if program.backend is None else program.backend.compile_program
    if hook is None or not program.code:
        return False
    na = len(program.args)
    ne = na + len(program.externals)

    def pure(*arrays: Any) -> tuple[Any, ...]:
        return tuple(program.outputs(list(arrays[:na]), list(arrays[na:ne]), list(arrays[ne:])))

    return hook(pure) or False
