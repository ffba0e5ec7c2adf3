"""Fusing the elementwise chains of a compiled NumPy program into numba kernels.

``ad.compile`` on the NumPy backend hands its program here (when numba is installed).
Runs of consecutive elementwise instructions over arrays of one shape and one floating
dtype become one kernel: a loop over the elements with every intermediate in a
register, instead of one NumPy call (and one temporary array) per operation.

What is worth fusing was measured on the development machine (x86-64, NumPy 2.4, numba
0.68): a NumPy call costs ~0.35 µs plus ~1 ns per element; inside a numba loop an
arithmetic operation costs ~0.15 ns per element, but a transcendental one (``tanh``,
``exp`` ...) ~12 ns, against NumPy's SIMD ~1 ns. So arithmetic fuses at every size
(10x faster at 10⁶ elements), transcendentals only on small arrays (below ~30
elements), and a run is fused only when the calls it saves outweigh the kernel's own
call (~1 µs plus ~0.1 µs per argument).

numba compiles ~2 ms per instruction, so one program compiles at most ``COMPILE_BUDGET``
instructions of new kernels, the most profitable first. Runs on 0-d values (scalar
programs: an MLP evaluated number by number) that are left out, or all of them when
numba is not installed, become inline scalar expressions in the program instead: no
compilation, and NumPy-scalar arithmetic (a ``where`` on scalars costs ~50 ns as a
conditional expression against ~9 µs as a call).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backends._special import runs_plain
from .instruction import FUSED, INLINE, Instr

__all__ = ["available", "fuse"]

#: primitive -> (scalar expression over its operands, transcendental?)
_SCALAR: dict[str, tuple[str, bool]] = {
    "add": ("({0} + {1})", False),
    "subtract": ("({0} - {1})", False),
    "multiply": ("({0} * {1})", False),
    "divide": ("({0} / {1})", False),
    "negative": ("(-{0})", False),
    "positive": ("(+{0})", False),
    "square": ("({0} * {0})", False),
    "abs": ("abs({0})", False),
    # NumPy's maximum/minimum: a NaN operand wins, ties (-0.0 vs 0.0) give the second
    "maximum": ("({0} if ({0} > {1} or {0} != {0}) else {1})", False),
    "minimum": ("({0} if ({0} < {1} or {0} != {0}) else {1})", False),
    "relu": ("({0} if ({0} > {z} or {0} != {0}) else {z})", False),
    "where": ("({1} if {0} else {2})", False),
    "greater": ("({0} > {1})", False),
    "greater_equal": ("({0} >= {1})", False),
    "less": ("({0} < {1})", False),
    "less_equal": ("({0} <= {1})", False),
    "equal": ("({0} == {1})", False),
    "not_equal": ("({0} != {1})", False),
    "sqrt": ("np.sqrt({0})", False),
    "exp": ("np.exp({0})", True),
    "expm1": ("np.expm1({0})", True),
    "log": ("np.log({0})", True),
    "log1p": ("np.log1p({0})", True),
    "sin": ("np.sin({0})", True),
    "cos": ("np.cos({0})", True),
    "tan": ("np.tan({0})", True),
    "tanh": ("np.tanh({0})", True),
}

# the cost model (µs; see the module docstring)
_NUMPY_CALL, _NUMPY_ELEMENT = 0.35, 0.001
_FUSED_ARITH, _FUSED_TRANSCENDENTAL = 0.00015, 0.012
_KERNEL_CALL, _KERNEL_ARG = 1.0, 0.1
#: 0-d runs: an inline NumPy-scalar operation (W2: 15,551 in 1.04 ms), and a scalar
#: kernel's cost per argument unboxed and per result boxed back into a NumPy scalar
_INLINE_OP, _SCALAR_IN, _SCALAR_OUT = 0.06, 0.15, 0.2
#: instructions per kernel: numba compiles ~1-2 ms per statement (4,000 took 3.3 s)
MAX_GROUP = 1000
#: instructions of new (not yet compiled) kernels one program may compile, ~2 ms each:
#: the most profitable kernels are compiled first, the rest of the program stays unfused
COMPILE_BUDGET = 3000

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_BOOL = np.dtype(np.bool_)
_KERNELS: dict[str, Any] = {}  # generated source -> numba dispatcher (compiled once)


def available() -> bool:
    """Whether numba can be imported."""
    import importlib.util

    return importlib.util.find_spec("numba") is not None


def _saving(name: str, size: int) -> float:
    """µs a NumPy call costs minus what the same operation costs inside a kernel."""
    transcendental = _SCALAR[name][1]
    fused = size * (_FUSED_TRANSCENDENTAL if transcendental else _FUSED_ARITH)
    return _NUMPY_CALL + size * _NUMPY_ELEMENT - fused


def fuse(
    code: Sequence[Instr],
    values: dict[int, Any],
    literals: dict[int, Any],
    keep: set[int],
) -> list[Instr]:
    """``code`` with its profitable elementwise runs replaced by fused instructions.

    ``code`` holds the traced instructions (``Instr``); ``values`` the traced value of every array slot, ``literals`` the Python scalars,
    ``keep`` the slots the program returns. A fused instruction reads the run's inputs
    and writes the outputs that later instructions (or ``keep``) use.
    """
    readers: dict[int, int] = {}  # slot -> index of its last reader
    for k, ins in enumerate(code):
        for i in ins.ins:
            readers[i] = k
    plan = _runs(code, values, literals)
    # every run's kernel: its source, profit (µs per replay) and inputs/outputs
    kernels: list[Any] = []
    compiling = available()
    for item in plan:
        if item[0] == "run":
            kernels.append(
                _candidate(item[1], item[2], item[3], values, literals, keep, readers)
                if compiling
                else None
            )
    chosen = _within_budget([k for k in kernels if k is not None])
    out: list[Instr] = []
    found = iter(kernels)
    for item in plan:
        if item[0] == "ins":
            out.append(item[1])
            continue
        kernel = next(found)
        if kernel is not None and kernel["source"] in chosen:
            out.append(_instruction(kernel, item[1], values))
        elif item[2][0] == ():  # 0-d: NumPy-scalar expressions written into the program
            out.extend(_inline(ins, item[2][1], literals) for ins in item[1])
        else:
            out.extend(item[1])
    return out


def _inline(ins: Instr, dtype: Any, literals: dict[int, Any]) -> Instr:
    """An instruction on 0-d values as a scalar expression the program writes inline.
    Arithmetic on a Python-number operand follows NumPy's weak-scalar rules by itself;
    the forms that may return an operand as it is (where, maximum, minimum) get their
    literals cast to the run's dtype."""
    prim, slots = ins.prim, ins.ins
    cast = "_f32" if dtype == np.float32 else "_f64"
    returns_operand = prim.name in ("where", "maximum", "minimum")
    operands = [
        f"{cast}({{{j}}})" if returns_operand and i in literals else f"{{{j}}}"
        for j, i in enumerate(slots)
    ]
    template = _SCALAR[prim.name][0].format(*operands, z=f"{cast}(0)")
    names = {"np": np, "_f32": np.float32, "_f64": np.float64}
    return Instr(INLINE, None, ins.xp, slots, ins.outs, ins.backend, template=template, names=names)


def _runs(
    code: Sequence[Instr],
    values: dict[int, Any],
    literals: dict[int, Any],
    fusible: Callable[..., Any] | None = None,
    max_group: int = MAX_GROUP,
) -> list[Any]:
    """The program as ``("ins", instruction)`` and ``("run", instructions, key, end)``
    items: maximal runs of consecutive fusible instructions of one key, where an
    instruction met during a run that reads nothing the run makes is hoisted before it
    (the cotangent of a dropped forward's sum, say) and the run stays open.

    ``fusible(ins, values, literals)`` gives an instruction's key, or None (by default
    this module's, with its CPU cost model; the CuPy fusion passes its own)."""
    key_of = _fusible if fusible is None else fusible
    plan: list[Any] = []
    run: list[Instr] = []
    made: set[int] = set()
    hoisted: list[Instr] = []
    run_key: Any = None

    def close(end: int) -> None:
        plan.extend(("ins", h) for h in hoisted)
        if run:
            plan.append(("run", list(run), run_key, end))
        hoisted.clear()
        run.clear()
        made.clear()

    for k, ins in enumerate(code):
        key = key_of(ins, values, literals)
        if key is not None and key == run_key and len(run) < max_group:
            run.append(ins)
            made.add(ins.out)
            continue
        if key is None and run and not made.intersection(ins.ins):
            hoisted.append(ins)
            continue
        close(k)
        if key is None:
            plan.append(("ins", ins))
            run_key = None
        else:
            run.append(ins)
            made.add(ins.out)
            run_key = key
    close(len(code))
    return plan


def _within_budget(kernels: list[dict[str, Any]]) -> set[str]:
    """The kernel sources worth compiling: cached ones, then new ones by profit (summed
    over the runs that share a source) while their instructions fit ``COMPILE_BUDGET``."""
    profit: dict[str, float] = {}
    size: dict[str, int] = {}
    for k in kernels:
        profit[k["source"]] = profit.get(k["source"], 0.0) + k["profit"]
        size[k["source"]] = k["size"]
    chosen = {src for src in profit if src in _KERNELS}
    spent = 0
    for src in sorted(set(profit) - chosen, key=lambda s: -profit[s] / size[s]):
        if spent + size[src] <= COMPILE_BUDGET:
            chosen.add(src)
            spent += size[src]
    return chosen


def _fusible(ins: Instr, values: dict[int, Any], literals: dict[int, Any]) -> Any:
    """``(shape, dtype)`` of an instruction that can join a run of that key, else None."""
    fwd, slots, params, outs, prim = ins.fwd, ins.ins, ins.params, ins.outs, ins.prim
    name = prim.name
    if name not in _SCALAR or params is not None:
        return None
    if outs.__class__ is not int or outs not in values:
        return None
    if not runs_plain(fwd, prim, values[outs]):
        return None
    result = values[outs]
    shape = getattr(result, "shape", None)
    dtype = getattr(result, "dtype", None)
    if shape is None or (dtype not in _FLOATS and dtype != _BOOL):
        return None
    floating = None if dtype == _BOOL else dtype
    for i in slots:
        if i in literals:
            if literals[i].__class__ not in (int, float, bool):
                return None
            continue
        v = values.get(i)
        vdt = getattr(v, "dtype", None)
        if v is None or getattr(v, "shape", None) not in (shape, ()):
            return None
        if vdt == _BOOL:
            continue
        if vdt not in _FLOATS or (floating is not None and vdt != floating):
            return None
        floating = vdt
    if floating is None:  # a comparison of booleans only: nothing to fuse around
        return None
    size = int(np.prod(shape))
    if _saving(name, size) <= 0:
        return None
    return tuple(shape), floating


def _candidate(
    run: list[Instr],
    key: Any,
    end: int,
    values: dict[int, Any],
    literals: dict[int, Any],
    keep: set[int],
    readers: dict[int, int],
) -> dict[str, Any] | None:
    """A run's kernel (source, inputs, outputs, profit), or None if fusing would not pay."""
    shape, dtype = key
    if shape != () and len(run) < 2:
        return None  # one operation on arrays: a kernel makes the same passes over memory
    size = int(np.prod(shape))
    made = {ins.out for ins in run}
    inputs: list[int] = []
    for ins in run:
        for i in ins.ins:
            if i not in made and i not in literals and i not in inputs:
                inputs.append(i)
    outputs = [ins.out for ins in run if ins.out in keep or readers.get(ins.out, -1) >= end]
    if shape == ():  # against the same run written inline
        cost = _KERNEL_CALL + _SCALAR_IN * len(inputs) + _SCALAR_OUT * len(outputs)
        profit = _INLINE_OP * len(run) - cost
    else:
        saved = sum(_saving(ins.prim.name, size) for ins in run)
        profit = saved - _KERNEL_CALL - _KERNEL_ARG * (len(inputs) + len(outputs))
    if not outputs or profit <= 0:
        return None
    source = _source(run, inputs, outputs, values, literals, dtype, shape == ())
    return {
        "source": source,
        "inputs": inputs,
        "outputs": outputs,
        "profit": profit,
        "size": len(run),
        "shape": shape,
    }


def _instruction(kernel: dict[str, Any], run: list[Instr], values: dict[int, Any]) -> Instr:
    """The fused instruction that runs a kernel in place of ``run``."""
    outputs = kernel["outputs"]
    out_dtypes = tuple(values[o].dtype for o in outputs)
    fwd = _runner(
        _compiled(kernel["source"]), kernel["inputs"], values, kernel["shape"], out_dtypes
    )
    outs: Any = outputs[0] if len(outputs) == 1 else tuple(outputs)
    return Instr(FUSED, fwd, run[0].xp, tuple(kernel["inputs"]), outs, run[0].backend)


def _source(
    run: list[Instr],
    inputs: list[int],
    outputs: list[int],
    values: dict[int, Any],
    literals: dict[int, Any],
    dtype: Any,
    scalar: bool,
) -> str:
    """The Python source of a run's kernel (names are positional: equal runs, equal
    sources, one compilation)."""
    cast = "np.float32" if dtype == np.float32 else "np.float64"
    names: dict[int, str] = {}
    for j, slot in enumerate(inputs):
        names[slot] = f"a{j}"
    body: list[str] = []
    for n, ins in enumerate(run):
        operands = []
        for i in ins.ins:
            if i in literals:
                operands.append(_literal(literals[i], cast))
            else:
                operands.append(names[i])
        expr = _SCALAR[ins.prim.name][0].format(*operands, z=f"{cast}(0)")
        names[ins.out] = f"v{n}"
        body.append(f"v{n} = {expr}")
    args = ", ".join(f"i{j}" for j in range(len(inputs)))
    if scalar:  # 0-d: straight-line scalar code, no loop and no arrays
        lines = [f"def kernel({args}):"]
        lines += [f"    a{j} = i{j}" for j in range(len(inputs))]
        lines += [f"    {line}" for line in body]
        lines.append("    return (" + "".join(f"{names[o]}, " for o in outputs) + ")")
    else:
        # arrays: the outputs are arguments too (flat, contiguous), allocated by the
        # runner or preallocated buffers of the program (``buffers.py``)
        arrays = [j for j, s in enumerate(inputs) if getattr(values[s], "shape", ()) != ()]
        params = [f"i{j}" for j in range(len(inputs))] + [f"o{m}" for m in range(len(outputs))]
        lines = [
            f"def kernel({', '.join(params)}):",
            "    n = o0.shape[0]",
            "    for k in range(n):",
        ]
        lines += [
            f"        a{j} = i{j}[k]" if j in arrays else f"        a{j} = i{j}"
            for j in range(len(inputs))
        ]
        lines += [f"        {line}" for line in body]
        lines += [f"        o{m}[k] = {names[o]}" for m, o in enumerate(outputs)]
    return "\n".join(lines)


def _compiled(source: str) -> Any:
    """The numba dispatcher of a kernel source (compiled lazily, once per process)."""
    kernel = _KERNELS.get(source)
    if kernel is None:
        import numba

        env: dict[str, Any] = {"np": np}
        exec(compile(source, "<autodiff fused kernel>", "exec"), env)
        # error_model="numpy": division by zero gives inf/nan as NumPy does, not an exception
        kernel = _KERNELS[source] = numba.njit(error_model="numpy")(env["kernel"])
    return kernel


def _literal(value: Any, cast: str) -> str:
    """A Python scalar as source, in the run's dtype (NumPy's weak scalars: a float32
    run stays float32); ``repr`` round-trips finite floats exactly."""
    v = float(value)
    if v != v:
        text = "np.nan"
    elif v in (np.inf, -np.inf):
        text = "np.inf" if v > 0 else "-np.inf"
    else:
        text = repr(v)
    return f"{cast}({text})"


def _runner(
    kernel: Any,
    inputs: list[int],
    values: dict[int, Any],
    shape: tuple[int, ...],
    out_dtypes: tuple[Any, ...],
) -> Callable[..., Any]:
    """The fused instruction's forward ``fwd(xp, *inputs)``: flat contiguous arrays in,
    arrays of the run's shape (NumPy scalars for 0-d) out."""
    flat = [getattr(values[s], "shape", ()) != () for s in inputs]
    single = len(out_dtypes) == 1
    if shape == ():
        types = [dt.type for dt in out_dtypes]

        def run_scalar(xp: Any, *args: Any) -> Any:
            # x[()] makes 0-d arrays NumPy scalars: numba types them as floats, not as
            # arrays (whose every operation it would compile as an array expression)
            res = kernel(*(a[()] for a in args))
            if single:
                return types[0](res[0])
            return tuple(t(r) for t, r in zip(types, res))

        return run_scalar

    fresh = (None,) * len(out_dtypes)

    def run(xp: Any, *args: Any) -> Any:
        return into(fresh, *args)

    def into(buffers: tuple[Any, ...], *args: Any) -> Any:
        # ``buffers``: per output, a preallocated C-contiguous array of the run's shape, or
        # None for one allocated here; the buffers themselves are returned
        outs = [np.empty(shape, dtype=dt) if b is None else b for b, dt in zip(buffers, out_dtypes)]
        kernel(
            *(np.ascontiguousarray(a).reshape(-1) if f else a for a, f in zip(args, flat)),
            *(o.reshape(-1) for o in outs),
        )
        return outs[0] if single else tuple(outs)

    run.into = into  # type: ignore[attr-defined]
    return run
