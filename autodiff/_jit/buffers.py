"""Preallocated output buffers for compiled NumPy programs.

A replay of a compiled program on NumPy allocates a new array for every intermediate
result; this pass gives the large intermediates buffers allocated once and reused by
every replay (``np.matmul(a, b, out=buffer)``), so a training step writes the same memory
on every call: it stays mapped, and in cache as far as it fits.

Which results get a buffer, and which share one, is decided at trace time:

- Only instructions that write a new array through an ``out=``: NumPy ufuncs, ``matmul``,
  ``relu`` (``np.maximum(x, 0)``) and fused kernels; results of at least ``MIN_BYTES``
  (1 MiB). Measured (``benchmarks/buffers.py``): below that, what malloc hands back is
  memory just freed, still in cache, and buffers were 1-4% slower (W3's 128 KB
  intermediates, 256x256 float32 chains); from 1 MiB on fresh arrays cost page faults
  and buffers were as fast or faster (8 MB chains 1.7x, 16 MB 8%, 32 MB 9-13%).
- Never a result the caller receives, nor one that may alias it: every instruction not
  known to make a new array (``reshape``, ``getitem``, ``matrix_transpose`` ..., but not
  reductions) is taken to return a view of its inputs, and a buffer that any output or
  write-back (a new parameter, a ``.grad``) may view is dropped. What a replay returns is never
  overwritten by a later replay.
- Buffers of one shape, dtype and memory order are shared between results whose lives
  (including those of their views) do not overlap; a buffer is reused only after the
  instruction that last reads it; a NumPy ufunc (not ``matmul``, not a fused kernel)
  writes over an operand it reads for the last time, the smallest working set.

Each replay takes one set of buffers from the program's pool and puts it back at the
end, so calls from several threads at once each get their own set. The buffers stay
allocated while the compiled function lives: about the peak of the intermediates one
call holds (``ad.compile(fn, buffers=False)`` turns this off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..backends._special import runs_plain
from .instruction import FUSED, INLINE, Instr

__all__ = ["MIN_BYTES", "Allocator", "plan"]

#: smaller results allocate as before (see the module docstring)
MIN_BYTES = 1 << 20
#: primitives whose NumPy forward (or kernel) always returns new arrays, never views of
#: its operands (reductions allocate even over ``axis=()``): their results view nothing
_FRESH = frozenset(("sum", "mean", "max", "min", "where", "softmax_cross_entropy"))


def _writer(
    ins: Instr, ufuncs: Mapping[str, Any], values: dict[int, Any]
) -> tuple[str, Any] | None:
    """How an instruction can write its result into a buffer: ``("ufunc", f)`` for
    ``f(*operands, out=buffer)``, ``("relu", np.maximum)``, ``("fused", into)``; or None."""
    fwd, params, prim = ins.fwd, ins.params, ins.prim
    if prim is FUSED:
        into = getattr(fwd, "into", None)
        return None if into is None else ("fused", into)
    value = values.get(ins.outs) if isinstance(ins.outs, int) else None
    if params is not None or not runs_plain(fwd, prim, value):
        return None
    if prim.name in ufuncs:
        return "ufunc", ufuncs[prim.name]
    if prim.name == "matmul":
        return "ufunc", np.matmul
    if prim.name == "relu":
        return "relu", np.maximum
    return None


def _spec(value: Any, fused: bool) -> tuple[Any, ...] | None:
    """``(shape, dtype, order)`` of a buffer for this traced result, or None."""
    if value.__class__ is not np.ndarray or value.nbytes < MIN_BYTES:
        return None
    order = "F" if not fused and value.flags.f_contiguous and not value.flags.c_contiguous else "C"
    return value.shape, value.dtype, order


def plan(
    code: Sequence[Instr],
    values: dict[int, Any],
    keep: set[int],
    ufuncs: Mapping[str, Any],
) -> tuple[list[Instr], Allocator | None]:
    """``code`` with buffered instructions rewritten, and the allocator of one buffer set
    (None when no result gets a buffer).

    ``code`` holds the traced instructions (``Instr``), ``values``
    the traced value of every slot, ``keep`` the slots the program returns. A rewritten
    instruction is an ``INLINE`` one whose expression writes into ``B[j]``: the program's
    local list of buffers.
    """
    # 1. the results an out= could write, and which slots may view which of them
    candidates: dict[int, tuple[Any, ...]] = {}  # slot -> its buffer's spec
    writers: dict[int, tuple[str, Any]] = {}  # instruction index -> its writer
    views: dict[int, frozenset[int]] = {}  # slot -> candidate slots it may view
    empty: frozenset[int] = frozenset()
    for k, ins in enumerate(code):
        outs = ins.out_slots
        writer = _writer(ins, ufuncs, values)
        if writer is None and ins.prim.name in _FRESH:
            for o in outs:
                views[o] = empty
            continue
        if writer is None:
            # unknown: its results may be (views of) its operands
            seen = empty.union(*(views.get(i, empty) for i in ins.ins))
            for o in outs:
                views[o] = seen
            continue
        writers[k] = writer
        for o in outs:
            views[o] = empty
            spec = None if o in keep or o not in values else _spec(values[o], writer[0] == "fused")
            if spec is not None:
                candidates[o] = spec
                views[o] = frozenset((o,))
    escaping = empty.union(*(views.get(s, empty) for s in keep))
    for o in escaping:
        candidates.pop(o, None)
    if not candidates:
        return list(code), None
    # 2. each candidate's life: until the last instruction reading it or a view of it
    end: dict[int, int] = {}
    for k, ins in enumerate(code):
        for o in ins.out_slots:
            if o in candidates:
                end[o] = k
        for i in ins.ins:
            for root in views.get(i, empty):
                if root in candidates:
                    end[root] = k
    released: dict[int, list[int]] = {}
    for root, k in end.items():
        released.setdefault(k, []).append(root)
    # 3. buffers assigned in program order, a buffer free again after its last reader
    specs: list[tuple[Any, ...]] = []
    free: dict[tuple[Any, ...], list[int]] = {}
    buffer_of: dict[int, int] = {}
    out: list[Instr] = []
    for k, ins in enumerate(code):
        outs = ins.out_slots
        over = _overwritable(ins, k, writers.get(k), end, views, buffer_of)
        assigned: list[int | None] = []
        for o in outs:
            spec = candidates.get(o)
            if spec is None:
                assigned.append(None)
                continue
            pool = free.get(spec)
            mine = next((r for r in over if candidates[r] == spec), None)
            if mine is not None:
                # an operand read here for the last time: overwrite it, the smallest
                # working set (as NumPy's allocator would hand its memory back)
                over.remove(mine)
                j = buffer_of.pop(mine)
            elif pool:
                j = pool.pop()
            else:
                j = len(specs)
                specs.append(spec)
            buffer_of[o] = j
            assigned.append(j)
        if any(j is not None for j in assigned):
            out.append(_rewrite(ins, k, writers[k], assigned))
        else:
            out.append(ins)
        for root in released.get(k, ()):
            if root in buffer_of:  # not overwritten in place above
                free.setdefault(candidates[root], []).append(buffer_of[root])

    return out, Allocator(specs)


class Allocator:
    """Allocates one set of a program's buffers; ``len()`` and ``nbytes`` describe a set."""

    __slots__ = ("nbytes", "specs")

    def __init__(self, specs: list[tuple[Any, ...]]) -> None:
        self.specs = specs
        self.nbytes = sum(int(np.prod(shape)) * dtype.itemsize for shape, dtype, _ in specs)

    def __call__(self) -> list[Any]:
        return [np.empty(shape, dtype=dtype, order=order) for shape, dtype, order in self.specs]

    def __len__(self) -> int:
        return len(self.specs)


def _overwritable(
    ins: Instr,
    k: int,
    writer: tuple[str, Any] | None,
    end: dict[int, int],
    views: dict[int, frozenset[int]],
    buffer_of: dict[int, int],
) -> list[int]:
    """Operands whose buffers this instruction may write its result over: read here for
    the last time, as themselves (no other operand views them: NumPy would copy to
    resolve the overlap), by an elementwise NumPy ufunc (it reads each element before
    writing it, vectorized). Never ``matmul`` (it reads whole rows) nor a fused kernel:
    LLVM guards its vector loop with an overlap check, and an aliased output runs the
    scalar loop (6x slower, measured at 512x512)."""
    if writer is None or writer[0] == "fused" or writer[1] is np.matmul:
        return []
    slots = ins.ins
    return [
        i
        for i in dict.fromkeys(slots)
        if i in buffer_of
        and end.get(i) == k
        and not any(i in views.get(s, frozenset()) for s in slots if s != i)
    ]


def _rewrite(ins: Instr, k: int, writer: tuple[str, Any], assigned: list[int | None]) -> Instr:
    """The instruction as an expression writing into its buffers."""
    slots = ins.ins
    kind, fn = writer
    name = f"_out{k}"
    operands = ", ".join(f"{{{n}}}" for n in range(len(slots)))
    if kind == "fused":
        buffers = "".join("None, " if j is None else f"B[{j}], " for j in assigned)
        template = f"{name}(({buffers}), {operands})"
    elif kind == "relu":
        template = f"{name}({operands}, 0, out=B[{assigned[0]}])"
    else:
        template = f"{name}({operands}, out=B[{assigned[0]}])"
    return Instr(
        INLINE, None, ins.xp, slots, ins.outs, ins.backend, template=template, names={name: fn}
    )
