"""``ad.compile`` on CuPy fuses elementwise chains into ``cupy.ElementwiseKernel``s.

Three layers, since most machines that run these tests have no GPU:

- the generated C++ runs on the host: each kernel's ``operation`` is wrapped in a loop,
  compiled with g++ and run on NumPy data (NaN, ±inf, ±0.0, ties), bit for bit against
  NumPy where NumPy is exact and within 2 ulp for transcendentals; whole compiled
  programs run that way too, with the host kernels standing in for CUDA ones;
- the same operations compile as CUDA (``nvcc --ptx``), float32 kernels without any
  float64 instruction;
- on a GPU (``gpu`` marker), compiled CuPy programs match eager CuPy and reuse kernels.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff._jit.instruction import Instr
from autodiff.backends import _cupy_fuse
from autodiff.engine import PRIMITIVES

NUMPY = ad.backends.get("numpy")
HAS_CUPY = importlib.util.find_spec("cupy") is not None
GXX = shutil.which("g++")
NVCC = shutil.which("nvcc")
TRANSCENDENTAL = {"exp", "expm1", "log", "log1p", "sin", "cos", "tan", "tanh"}
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, -2.0, 1e-30, 3e38, np.inf, -np.inf, np.nan]
needs_gxx = pytest.mark.skipif(GXX is None, reason="no g++ to compile the kernels on the host")


# -- the host harness: a generated operation as a C++ loop -----------------------------


def _params(text: str) -> list[tuple[str, str]]:
    """``"float32 i0, bool i1"`` -> ``[(dtype name, parameter name), ...]``."""
    return [(p.split()[0], p.split()[1]) for p in text.split(", ")] if text else []


def _translation_unit(
    in_params: str, out_params: str, operation: str, name: str, cuda: bool
) -> str:
    """The operation inside a loop over ``n`` elements of typed arrays (a grid-stride
    ``__global__`` loop for CUDA), the way ``ElementwiseKernel`` runs it per element."""
    ins, outs = _params(in_params), _params(out_params)
    ctype = _cupy_fuse.CTYPES
    args = ["long n"] + [f"const {ctype[t]}* p_{v}" for t, v in ins]
    args += [f"{ctype[t]}* p_{v}" for t, v in outs]
    head = 'extern "C" __global__ void' if cuda else 'extern "C" void'
    loop = (
        "for (long k = blockIdx.x * (long)blockDim.x + threadIdx.x; k < n; "
        "k += (long)blockDim.x * gridDim.x) {"
        if cuda
        else "for (long k = 0; k < n; ++k) {"
    )
    lines = [f"{head} {name}({', '.join(args)}) {{", loop]
    lines += [f"const {ctype[t]} {v} = p_{v}[k];" for t, v in ins]
    lines += [f"{ctype[t]} {v};" for t, v in outs]
    lines += ["{", operation, "}"]
    lines += [f"p_{v}[k] = {v};" for t, v in outs]
    return "\n".join([*lines, "}", "}", ""])


class HostKernels:
    """``make`` for ``_cupy_fuse.fuse``: each kernel compiled by g++ into a shared library
    and run through ctypes on NumPy arrays, with ``ElementwiseKernel``'s broadcasting."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.made: list[tuple[str, str, str]] = []
        self._libraries: dict[str, Any] = {}

    def __call__(self, in_params: str, out_params: str, operation: str, name: str) -> Any:
        self.made.append((in_params, out_params, operation))
        source = "#include <cmath>\n#include <math.h>\n"
        source += _translation_unit(in_params, out_params, operation, "kernel", cuda=False)
        function = self._library(source).kernel
        ins, outs = _params(in_params), _params(out_params)

        def run(*arrays: Any) -> Any:
            shaped = np.broadcast_arrays(*(np.asarray(a) for a in arrays))
            flat = [np.ascontiguousarray(a, dtype=t).reshape(-1) for a, (t, _) in zip(shaped, ins)]
            shape = shaped[0].shape
            results = [np.empty(shape, dtype=t) for t, _ in outs]
            pointers = [a.ctypes.data_as(ctypes.c_void_p) for a in [*flat, *results]]
            function(ctypes.c_long(int(np.prod(shape))), *pointers)
            return results[0] if len(results) == 1 else tuple(results)

        return run

    def _library(self, source: str) -> Any:
        digest = hashlib.sha1(source.encode()).hexdigest()[:16]
        if digest not in self._libraries:
            cpp, lib = self.directory / f"{digest}.cpp", self.directory / f"{digest}.so"
            cpp.write_text(source)
            # no contraction into FMAs and no fast math: IEEE operations one by one
            flags = ["-O2", "-std=c++17", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC"]
            subprocess.run([GXX, *flags, str(cpp), "-o", str(lib)], check=True)
            self._libraries[digest] = ctypes.CDLL(str(lib))
        return self._libraries[digest]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> HostKernels:
    return HostKernels(tmp_path_factory.mktemp("host_kernels"))


def _same_bits(x: Any, y: Any) -> bool:
    """Identical dtype, shape and bits, except that a NaN's sign is free (IEEE 754 leaves
    it unspecified): NaNs are made NumPy's own NaN before the bytes are compared."""
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind == "f":
        x = np.where(np.isnan(x), np.nan, x).astype(x.dtype)
        y = np.where(np.isnan(y), np.nan, y).astype(y.dtype)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def _within_ulps(x: Any, y: Any, ulps: int) -> bool:
    """Equal NaN and infinity positions, finite values within ``ulps`` of each other."""
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != y.dtype or not (np.isfinite(x) == np.isfinite(y)).all():
        return False
    finite = np.isfinite(y)
    if not _same_bits(x[~finite], y[~finite]):
        return False
    spacing = np.spacing(np.abs(y[finite]))
    return bool((np.abs(x[finite] - y[finite]) <= ulps * spacing).all())


# -- every primitive's C++ expression against NumPy ------------------------------------


def _operands(name: str, dtype: Any, literal: bool) -> tuple[list[Any], list[Any]]:
    """Arrays (and one Python literal when ``literal``) for one primitive: every pair of
    special values (ties, NaN, ±inf, ±0.0) and random values of several magnitudes."""
    rng = np.random.default_rng(7)
    arity = PRIMITIVES[name].forward.__code__.co_argcount - 1  # forward(xp, *operands)
    pairs = np.array([(a, b) for a in SPECIAL for b in SPECIAL])
    randoms = rng.uniform(-10, 10, (300, 2)) * 10.0 ** rng.integers(-3, 3, (300, 1))
    grid = np.concatenate([pairs, randoms]).astype(dtype)
    if arity == 1:
        return [np.concatenate([grid[:, 0], grid[:, 1]])], []
    a, b = grid[:, 0], grid[:, 1]
    if name == "where":
        return [a > b, a, b], []
    if literal:
        return [a], [1e-3]  # not exact in float32: the weak scalar is rounded once
    return [a, b], []


def _one_instruction(name: str, dtype: Any, literal: bool) -> tuple[Any, list[Any], Any]:
    """The kernel parts of ``name`` alone, its array operands and NumPy's result."""
    arrays, scalars = _operands(name, dtype, literal)
    prim = PRIMITIVES[name]
    operands = [*arrays, *scalars]
    with np.errstate(all="ignore"):
        want = np.asarray(prim.forward(NUMPY.xp, *operands))
    values = dict(enumerate([*operands, want]))
    literals = {len(arrays): scalars[0]} if scalars else {}
    out = len(operands)
    ins = Instr(prim, prim.forward, NUMPY.xp, tuple(range(out)), out, NUMPY)
    inputs = list(range(len(arrays)))
    parts = _cupy_fuse.kernel_parts([ins], inputs, [out], values, literals, np.dtype(dtype))
    return parts, arrays, want


#: every primitive on arrays, and the binary ones with a Python literal operand too
CASES = [(name, False) for name in sorted(_cupy_fuse._CXX)] + [
    (name, True)
    for name in sorted(_cupy_fuse._CXX)
    if PRIMITIVES[name].forward.__code__.co_argcount == 3  # forward(xp, a, b)
]


@needs_gxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "literal"), CASES)
def test_each_expression_means_what_numpy_means(
    host: HostKernels, name: str, dtype: Any, literal: bool
) -> None:
    parts, arrays, want = _one_instruction(name, dtype, literal)
    got = host(*parts, "kernel")(*arrays)
    assert got.dtype == want.dtype  # float32 stays float32, comparisons give bool
    if name in TRANSCENDENTAL:
        assert _within_ulps(got, want, 2)
    else:
        assert _same_bits(got, want)


# -- whole compiled programs, fused by the CuPy fusion, run on the host -----------------


@pytest.fixture
def host_fusion(host: HostKernels, monkeypatch: pytest.MonkeyPatch) -> HostKernels:
    """``ad.compile`` on NumPy with the CuPy backend's fusion, its kernels run by g++."""

    def fuse_program(code: Any, values: Any, literals: Any, keep: Any) -> Any:
        return _cupy_fuse.fuse(code, values, literals, keep, make=host)

    monkeypatch.setattr(NUMPY, "fuse_program", fuse_program)
    monkeypatch.setattr(NUMPY, "buffer_program", None)  # the NumPy backend's own pass
    host.made.clear()
    return host


def _fused(f: Any) -> list[Any]:
    (program,) = f._programs.values()
    return [ins for ins in program.code if ins.prim.name == "fused"]


def _mlp_grads(dtype: ad.DType) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """A two-layer MLP's loss gradient: bias broadcasts, tanh/exp/where/maximum/relu."""
    rng = np.random.default_rng(0)

    def make(*shape: int) -> ad.Tensor:
        return ad.tensor(rng.normal(size=shape), dtype=dtype, device="numpy:cpu")

    def loss(w1: ad.Tensor, b1: ad.Tensor, w2: ad.Tensor, x: ad.Tensor) -> ad.Tensor:
        h = ad.tanh(x @ w1 + b1) * 1.5 - 0.25
        h = ad.where(h > 0.0, ad.relu(h), ad.exp(h) - 1.0)  # an ELU
        y = ad.maximum(h @ w2, -0.5) * 0.1
        return (y * y).sum()

    return ad.grad(loss, argnums=(0, 1, 2)), (make(4, 8), make(8), make(8, 3), make(5, 4))


@needs_gxx
@pytest.mark.parametrize(("dtype", "rtol"), [(ad.float64, 1e-12), (ad.float32, 2e-5)])
def test_compiled_mlp_gradient_fuses_and_matches_eager(
    host_fusion: HostKernels, dtype: ad.DType, rtol: float
) -> None:
    fn, args = _mlp_grads(dtype)
    f = ad.compile(fn)
    f(*args)  # trace
    got, want = f(*args), fn(*args)
    fused = _fused(f)
    assert len(fused) >= 3  # forward chains and their backward chains
    assert any(isinstance(ins.outs, tuple) for ins in fused)  # kernels with several outputs
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=rtol, atol=rtol * 1e-3)


@needs_gxx
@pytest.mark.parametrize("dtype", [ad.float32, ad.float64])
def test_fused_arithmetic_is_bitwise_eager_with_special_values(
    host_fusion: HostKernels, dtype: ad.DType
) -> None:
    def arith(a: ad.Tensor, b: ad.Tensor, s: ad.Tensor) -> Any:
        c = a * 3.0 - b / a  # division by zero and inf - inf
        d = ad.maximum(c, b) + ad.minimum(a, 0.1) * ad.square(b)  # NaN propagates
        e = ad.where(a > b, d, -d) + ad.abs(c) * s - 1e-3  # s: a 0-d operand
        return e * e + ad.sqrt(ad.abs(e)) + ad.relu(-c), a >= 0.1

    a = np.array([0.0, -0.0, 1.5, np.inf, -np.inf, np.nan, 2.0, -3.0, 0.1, 0.0])
    b = np.array([1.0, -2.0, np.nan, 1.0, np.inf, 0.5, -0.0, 4.0, 0.1, -0.0])
    args = [ad.tensor(v, dtype=dtype, device="numpy:cpu") for v in (a, b, 0.75)]
    with np.errstate(all="ignore"):
        f = ad.compile(arith)
        f(*args)
        got, eager = f(*args), arith(*args)
    assert len(_fused(f)) == 1 and isinstance(_fused(f)[0].outs, tuple)
    for g, e in zip(got, eager):
        assert _same_bits(g.numpy(), e.numpy())


def test_a_kernel_that_fails_to_launch_falls_back_to_the_unfused_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    launches: list[int] = []

    def broken(in_params: str, out_params: str, operation: str, name: str) -> Any:
        def kernel(*args: Any) -> Any:
            launches.append(1)
            raise RuntimeError("nvrtc: error: identifier 'tanhf' is undefined")

        return kernel

    def fuse_program(code: Any, values: Any, literals: Any, keep: Any) -> Any:
        return _cupy_fuse.fuse(code, values, literals, keep, make=broken)

    monkeypatch.setattr(NUMPY, "fuse_program", fuse_program)
    monkeypatch.setattr(NUMPY, "buffer_program", None)
    fn, args = _mlp_grads(ad.float64)
    f = ad.compile(fn)
    f(*args)  # trace
    assert len(_fused(f)) >= 3
    with pytest.warns(RuntimeWarning, match="fused CUDA kernel failed.*run unfused"):
        got = f(*args)
    for g, w in zip(got, fn(*args)):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12)
    tried = len(launches)
    assert tried == len(_fused(f))  # each kernel tried once
    for g, w in zip(f(*args), got):  # later replays: unfused, no warning, no launch
        assert _same_bits(g.numpy(), w.numpy())
    assert len(launches) == tried


def test_what_does_not_fuse_is_left_alone() -> None:
    made: list[str] = []

    def record(in_params: str, out_params: str, operation: str, name: str) -> Any:
        made.append(operation)
        return None

    def program(fn: Callable[..., Any], *arrays: Any) -> list[Any]:
        code: list[Any] = []
        values: dict[int, Any] = {}
        literals: dict[int, Any] = {}

        def trace(name: str, *operands: Any) -> int:
            # an operand is a slot, or a Python literal in a one-element list
            slots = []
            for x in operands:
                if isinstance(x, list):
                    literals[len(values)] = values[len(values)] = x[0]
                    x = len(values) - 1
                slots.append(x)
            prim = PRIMITIVES[name]
            value = prim.forward(NUMPY.xp, *(values[i] for i in slots))
            values[len(values)] = np.asarray(value)
            code.append(Instr(prim, prim.forward, NUMPY.xp, tuple(slots), len(values) - 1, NUMPY))
            return len(values) - 1

        for a in arrays:
            values[len(values)] = np.asarray(a)
        out = fn(trace, *range(len(arrays)))
        return _cupy_fuse.fuse(code, values, literals, {out}, make=record)

    one = program(lambda t, x: t("tanh", x), np.ones(3))
    ints = program(lambda t, x: t("add", t("multiply", x, [2]), [1]), np.ones(3, dtype=np.int64))
    mixed = program(
        lambda t, x, y: t("add", t("multiply", x, y), y), np.ones(3, np.float32), np.ones(3)
    )
    inf = program(lambda t, x: t("add", t("multiply", x, [np.inf]), [1.0]), np.ones(3))
    assert made == []
    assert [len(p) for p in (one, ints, mixed, inf)] == [1, 2, 2, 2]
    # a run broken by an instruction that reads it: a kernel, the sum, a kernel
    split = program(
        lambda t, x: t("tanh", t("add", t("sum", t("exp", t("negative", x))), x)),
        np.ones((2, 3)),
    )
    assert [ins.prim.name for ins in split] == ["fused", "sum", "fused"] and len(made) == 2


# -- CuPy kernels: made and cached without a GPU ---------------------------------------


@pytest.mark.skipif(not HAS_CUPY, reason="CuPy is not installed")
def test_kernels_are_cached_by_source() -> None:
    x = np.ones(4, np.float32)
    tanh, mul = PRIMITIVES["tanh"], PRIMITIVES["multiply"]
    values = {0: x, 1: 2.0, 2: x, 3: x}
    code = [
        Instr(mul, mul.forward, NUMPY.xp, (0, 1), 2, NUMPY),
        Instr(tanh, tanh.forward, NUMPY.xp, (2,), 3, NUMPY),
    ]
    source = "const float v0 = (i0 * float(2.0));\nconst float v1 = tanhf(v0);\no0 = v1;"
    key = ("float32 i0", "float32 o0", source)
    _cupy_fuse._KERNELS.pop(key, None)
    before = len(_cupy_fuse._KERNELS)
    (first,) = _cupy_fuse.fuse(code, values, {1: 2.0}, {3})
    (again,) = _cupy_fuse.fuse(code, values, {1: 2.0}, {3})  # a re-trace
    assert len(_cupy_fuse._KERNELS) == before + 1
    kernel = _cupy_fuse._KERNELS[key]
    assert kernel.operation == source and kernel.name.startswith("autodiff_fused_")
    assert first.prim.name == again.prim.name == "fused" and first.ins == (0,) and first.outs == 3


# -- the same operations compile as CUDA -----------------------------------------------


@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_generated_kernels_compile_as_cuda(host_fusion: HostKernels, tmp_path: Path) -> None:
    if GXX is None:
        pytest.skip("no g++ for the host programs that generate the kernels")
    for dtype in (ad.float32, ad.float64):
        fn, args = _mlp_grads(dtype)
        ad.compile(fn)(*args)
    for dtype in (np.float32, np.float64):
        for name in sorted(_cupy_fuse._CXX):
            host_fusion.made.append(_one_instruction(name, dtype, literal=False)[0])
    units = [
        _translation_unit(*parts, f"k{n}", cuda=True) for n, parts in enumerate(host_fusion.made)
    ]
    cu, ptx = tmp_path / "kernels.cu", tmp_path / "kernels.ptx"
    cu.write_text("\n".join(units))
    flags = ["--ptx", "-arch=sm_80", *_cupy_fuse.OPTIONS]
    done = subprocess.run([NVCC, *flags, str(cu), "-o", str(ptx)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # float32 kernels compute in float32: no float is ever widened to double (CUDA's own
    # sinf/cosf/tanf use float64 for their large-argument reduction, from integers)
    entries = ptx.read_text().split(".entry ")[1:]
    assert len(entries) == len(units)
    for parts, entry in zip(
        host_fusion.made, sorted(entries, key=lambda e: int(e[1 : e.index("(")]))
    ):
        if "float64" not in parts[0] + parts[1]:
            assert "cvt.f64.f32" not in entry, parts[2]


# -- on a GPU --------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "rtol"), [(ad.float64, 1e-12), (ad.float32, 2e-5)])
@pytest.mark.gpu
@pytest.mark.skipif(
    "cupy" not in ad.backends.available(), reason="CuPy cannot reach a CUDA GPU here"
)
def test_on_cupy_compiled_mlp_fuses_matches_eager_and_reuses_kernels(
    dtype: ad.DType, rtol: float
) -> None:
    fn, host_args = _mlp_grads(dtype)
    args = [a.to_device("cupy:cuda:0") for a in host_args]
    f = ad.compile(fn)
    f(*args)  # trace
    got, want = f(*args), fn(*args)
    assert len(_fused(f)) >= 3
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.backend.name == "cupy"
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=rtol, atol=rtol * 1e-3)
    before = len(_cupy_fuse._KERNELS)
    again = ad.compile(fn)
    again(*args)  # a new trace of the same function
    assert len(_cupy_fuse._KERNELS) == before
    for g, w in zip(again(*args), got):
        assert _same_bits(g.numpy(), w.numpy())
