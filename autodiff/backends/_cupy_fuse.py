"""Fusing the elementwise chains of a compiled CuPy program into CUDA kernels.

``ad.compile`` on the CuPy backend hands its program here. Runs of consecutive
elementwise instructions over one floating dtype (float32 or float64, with bool masks
and comparisons among them) become one ``cupy.ElementwiseKernel``: one launch and one
pass over memory, with every intermediate in a register, instead of one launch and one
temporary array per operation.

The primitives and what fuses are those of the NumPy backend's numba fusion
(``numba.py``), but not its cost model: on a GPU every launch costs ~5-10 µs whatever
the size and a transcendental costs a few cycles, so every run of two or more operations
fuses, ``tanh`` and ``exp`` included. Operands may broadcast (a bias row against a
batch, a 0-d scale): ``ElementwiseKernel`` broadcasts its inputs to the run's shape.

Each primitive is a C++ expression with NumPy's semantics (NaN propagation of
``maximum``, comparisons giving ``bool``, float32 math in float32 runs, Python literals
as constants of the run's dtype), compiled with ``--fmad=false`` so that no ``a * b + c``
is contracted into an FMA the unfused program would not compute. Kernels are cached by
source: a re-trace, or another program with the same chain, reuses the kernel (CuPy
keeps its compiled binaries in its own cache as well).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._jit.instruction import FUSED, Instr
from .._jit.numba import _BOOL, _FLOATS, _SCALAR, _runs

__all__ = ["fuse", "kernel_parts"]

#: primitive -> C++ expression over its operands ({f}: the float32 suffix of the C math
#: functions, "f" in float32 runs; {z}: zero of the run's dtype)
_CXX: dict[str, str] = {
    "add": "({0} + {1})",
    "subtract": "({0} - {1})",
    "multiply": "({0} * {1})",
    "divide": "({0} / {1})",
    "negative": "(-{0})",
    "positive": "(+{0})",
    "square": "({0} * {0})",
    "abs": "fabs{f}({0})",
    # NumPy's maximum/minimum: a NaN operand wins, ties (-0.0 vs 0.0) give the second
    "maximum": "(({0} > {1} || {0} != {0}) ? {0} : {1})",
    "minimum": "(({0} < {1} || {0} != {0}) ? {0} : {1})",
    "relu": "(({0} > {z} || {0} != {0}) ? {0} : {z})",
    "where": "({0} ? {1} : {2})",
    "greater": "({0} > {1})",
    "greater_equal": "({0} >= {1})",
    "less": "({0} < {1})",
    "less_equal": "({0} <= {1})",
    "equal": "({0} == {1})",
    "not_equal": "({0} != {1})",
    "sqrt": "sqrt{f}({0})",
    "exp": "exp{f}({0})",
    "expm1": "expm1{f}({0})",
    "log": "log{f}({0})",
    "log1p": "log1p{f}({0})",
    "sin": "sin{f}({0})",
    "cos": "cos{f}({0})",
    "tan": "tan{f}({0})",
    "tanh": "tanh{f}({0})",
}
assert _CXX.keys() == _SCALAR.keys(), "every primitive numba fuses has a C++ form"

#: dtype name -> C++ type of ``ElementwiseKernel``'s parameters
CTYPES = {"float32": "float", "float64": "double", "bool": "bool"}
#: instructions per kernel: NVRTC's time grows with the body, and a long kernel's
#: registers spill
MAX_RUN = 256
#: no contraction of ``a * b + c`` into an FMA: bit for bit what the unfused program computes
OPTIONS = ("--fmad=false",)
_KERNELS: dict[tuple[str, str, str], Any] = {}  # (in, out, operation) -> ElementwiseKernel


def fuse(
    code: Sequence[Instr],
    values: dict[int, Any],
    literals: dict[int, Any],
    keep: set[int],
    make: Callable[[str, str, str, str], Any] | None = None,
) -> list[Instr]:
    """``code`` with its elementwise runs replaced by fused instructions.

    Parameters
    ----------
    code : sequence of Instr
        The traced instructions.
    values : dict
        The traced value of every array slot.
    literals : dict
        The Python scalar operands, by slot.
    keep : set of int
        The slots the program returns.
    make : callable, optional
        ``make(in_params, out_params, operation, name)`` -> ``kernel(*inputs)``; by
        default a cached ``cupy.ElementwiseKernel`` (the tests pass a host compiler).

    Returns
    -------
    list of Instr
        The program, each fused run one instruction that reads the run's inputs and writes
        the outputs later instructions (or ``keep``) use.
    """
    readers: dict[int, int] = {}  # slot -> index of its last reader
    for k, ins in enumerate(code):
        for i in ins.ins:
            readers[i] = k
    out: list[Instr] = []
    for item in _runs(code, values, literals, _key, MAX_RUN):
        if item[0] == "ins":
            out.append(item[1])
            continue
        _, run, key, end = item
        # what the rest of the program (or its caller) reads of the run
        outputs = [ins.out for ins in run if ins.out in keep or readers.get(ins.out, -1) >= end]
        # a single operation: CuPy's own kernel makes the same launch
        fused = _fused(run, key[1], outputs, values, literals, make) if len(run) > 1 else None
        if fused is None:
            out.extend(run)
        else:
            out.append(fused)
    return out


def _key(ins: Instr, values: dict[int, Any], literals: dict[int, Any]) -> Any:
    """``(shape, dtype)`` of an instruction that can join a run of that key, else None:
    a fusible primitive without params, a float32/float64 or bool result whose operands
    broadcast to its shape and share its floating dtype, literals exact in that dtype."""
    fwd, slots, params, outs, prim = ins.fwd, ins.ins, ins.params, ins.outs, ins.prim
    if prim.name not in _CXX or params is not None or fwd is not prim.forward:
        return None
    result: Any = values.get(outs) if outs.__class__ is int else None
    dtype = getattr(result, "dtype", None)
    if dtype is None or (dtype not in _FLOATS and dtype != _BOOL):
        return None
    shape = tuple(result.shape)
    arrays: list[Any] = [values.get(i) for i in slots if i not in literals]
    if any(getattr(v, "dtype", None) not in (*_FLOATS, _BOOL) for v in arrays):
        return None
    if any(np.broadcast_shapes(tuple(v.shape), shape) != shape for v in arrays):
        return None
    floats = {v.dtype for v in [*arrays, result] if v.dtype != _BOOL}
    if len(floats) != 1:  # booleans only (nothing to fuse around), or a promotion
        return None
    (floating,) = floats
    if not all(_exact(literals[i], floating) for i in slots if i in literals):
        return None
    return shape, floating


def _exact(value: Any, dtype: Any) -> bool:
    """Whether a literal is a finite Python number the run's dtype holds (one rounding:
    NumPy's cast of a weak scalar; inf and NaN are left to the unfused program)."""
    if value.__class__ not in (int, float, bool):
        return False
    try:
        f = float(value)
    except OverflowError:
        return False
    return f == value and abs(f) <= float(np.finfo(dtype).max)


def _fused(
    run: list[Instr],
    floating: Any,
    outputs: list[int],
    values: dict[int, Any],
    literals: dict[int, Any],
    make: Callable[[str, str, str, str], Any] | None,
) -> Instr | None:
    """The instruction that runs ``run`` as one kernel writing ``outputs``, or None for a
    run with no array input (the kernel would not know its shape)."""
    made = {ins.out for ins in run}
    inputs = list(dict.fromkeys(i for ins in run for i in ins.ins if i not in made))
    inputs = [i for i in inputs if i not in literals]
    if not inputs or not outputs:
        return None
    in_params, out_params, operation = kernel_parts(
        run, inputs, outputs, values, literals, floating
    )
    name = "autodiff_fused_" + hashlib.sha1(operation.encode()).hexdigest()[:12]
    kernel = (make or _elementwise_kernel)(in_params, out_params, operation, name)
    state: list[Any] = [kernel]  # None once the kernel failed: the run replays unfused

    # (forward, operand slots, result slot) of each step, for the unfused fallback
    steps: list[tuple[Callable[..., Any], tuple[int, ...], int]] = [
        (ins.prim.forward if ins.fwd is None else ins.fwd, ins.ins, ins.out) for ins in run
    ]

    def unfused(xp: Any, args: tuple[Any, ...]) -> Any:
        env = dict(zip(inputs, args))
        for fwd, slots, out in steps:
            env[out] = fwd(xp, *(literals[i] if i in literals else env[i] for i in slots))
        return env[outputs[0]] if len(outputs) == 1 else tuple(env[o] for o in outputs)

    def run_kernel(xp: Any, *args: Any) -> Any:
        # one output: the array; several: the tuple ElementwiseKernel returns
        if state[0] is not None:
            try:
                return state[0](*args)
            except Exception as err:
                # CUDA compiles the kernel at its first launch: a toolkit or driver that
                # refuses it costs the fusion, never the result
                state[0] = None
                warnings.warn(
                    f"ad.compile: a fused CUDA kernel failed ({type(err).__name__}: {err}); "
                    "its operations run unfused from now on. Please report this with the "
                    "kernel's source: " + repr(operation),
                    RuntimeWarning,
                    stacklevel=2,
                )
        return unfused(xp, args)

    outs: Any = outputs[0] if len(outputs) == 1 else tuple(outputs)
    return Instr(FUSED, run_kernel, run[0].xp, tuple(inputs), outs, run[0].backend)


def kernel_parts(
    run: Sequence[Instr],
    inputs: Sequence[int],
    outputs: Sequence[int],
    values: dict[int, Any],
    literals: dict[int, Any],
    floating: Any,
) -> tuple[str, str, str]:
    """``(in_params, out_params, operation)`` of ``cupy.ElementwiseKernel`` for a run
    whose floating dtype is ``floating``.

    Inputs are ``i0, i1, ...`` (in ``inputs``' order), outputs ``o0, o1, ...``, each
    instruction's result a ``const`` local ``v<n>`` of its dtype. The operation is plain
    C++ over these names and the C math functions, so a host compiler runs it too (the
    tests check it against NumPy that way). Names are positional: equal runs give equal
    sources, one kernel.
    """
    ctype = CTYPES[np.dtype(floating).name]
    suffix = "f" if floating == np.float32 else ""
    names = {slot: f"i{j}" for j, slot in enumerate(inputs)}
    body: list[str] = []
    for n, ins in enumerate(run):
        result = values[ins.out].dtype
        operands = []
        for position, i in enumerate(ins.ins):
            if i in literals:
                operands.append(_literal(literals[i], floating, ctype))
                continue
            cast = result != _BOOL and values[i].dtype == _BOOL
            if ins.prim.name == "where" and position == 0:
                cast = False  # the condition stays a truth value
            operands.append(f"{ctype}({names[i]})" if cast else names[i])
        expr = _CXX[ins.prim.name].format(*operands, f=suffix, z=f"{ctype}(0)")
        names[ins.out] = f"v{n}"
        body.append(f"const {CTYPES[result.name]} v{n} = {expr};")
    body += [f"o{m} = {names[o]};" for m, o in enumerate(outputs)]
    in_params = ", ".join(f"{values[s].dtype.name} i{j}" for j, s in enumerate(inputs))
    out_params = ", ".join(f"{values[s].dtype.name} o{m}" for m, s in enumerate(outputs))
    return in_params, out_params, "\n".join(body)


def _literal(value: Any, dtype: Any, ctype: str) -> str:
    """A Python scalar as a constant of the run's C++ type: the double that ``repr``
    round-trips, of the value NumPy casts the weak scalar to (exact in float32 too)."""
    return f"{ctype}({float(np.dtype(dtype).type(value))!r})"


def _elementwise_kernel(in_params: str, out_params: str, operation: str, name: str) -> Any:
    """The ``cupy.ElementwiseKernel`` of a source, made once per process (CuPy compiles it
    at its first launch for each device and caches the binary)."""
    key = (in_params, out_params, operation)
    kernel = _KERNELS.get(key)
    if kernel is None:
        import cupy

        kernel = cupy.ElementwiseKernel(in_params, out_params, operation, name, options=OPTIONS)
        _KERNELS[key] = kernel
    return kernel
