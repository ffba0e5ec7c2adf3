"""``ad.compile`` on NumPy fuses elementwise chains into numba kernels: same results as
the unfused replay (bit for bit where no transcendental function is involved), only
where the cost model says it pays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff._jit import numba as _numba

pytestmark = [
    pytest.mark.skipif(not _numba.available(), reason="numba is not installed"),
    pytest.mark.skipif(
        ad.get_backend().name != "numpy", reason="fusion is the NumPy backend's (numba)"
    ),
]


def _fused_count(f: Any) -> int:
    (program,) = f._programs.values()
    return sum(1 for ins in program.code if ins.prim.name == "fused")


def _both(fn: Callable[..., Any], *args: Any) -> tuple[Any, Any, Any]:
    # buffers off: the programs' instructions are inspected as fusion left them (fusion
    # with buffers is tested in test_buffers.py)
    fused = ad.compile(fn, buffers=False)
    plain = ad.compile(fn, fuse=False, buffers=False)
    for f in (fused, plain):
        f(*args)  # trace
    return fused, fused(*args), plain(*args)


def _same_bits(a: ad.Tensor, b: ad.Tensor) -> bool:
    """Identical bits, except that a NaN's sign is free (IEEE 754 leaves the sign of an
    operation's NaN unspecified; NumPy's SIMD loops and LLVM choose differently)."""
    x, y = np.asarray(a.numpy()), np.asarray(b.numpy())
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if x.dtype.kind != "f":
        return x.tobytes() == y.tobytes()
    nan = np.isnan(x)
    return bool((nan == np.isnan(y)).all()) and x[~nan].tobytes() == y[~nan].tobytes()


def test_a_chain_and_its_gradient_fuse_and_match() -> None:
    def grad_chain(x: ad.Tensor) -> Any:
        def chain(t: ad.Tensor) -> ad.Tensor:
            for _ in range(20):
                t = (t * 1.0001 + 0.001).tanh()
            return t.sum()

        return ad.grad(chain)(x)

    x = ad.tensor(np.random.default_rng(0).uniform(-1, 1, 16))
    f, got, want = _both(grad_chain, x)
    assert _fused_count(f) == 1  # forward and backward chains: the cotangent is hoisted
    assert f.summary()[0]["fused_kernels"] == 1
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13)
    np.testing.assert_allclose(got.numpy(), grad_chain(x).numpy(), rtol=1e-13)


@pytest.mark.parametrize("dtype", [ad.float32, ad.float64])
def test_arithmetic_is_bitwise_numpy_with_special_values(dtype: ad.DType) -> None:
    def arith(a: ad.Tensor, b: ad.Tensor) -> Any:
        c = a * 3.0 - b / a  # division by zero and inf - inf
        d = ad.maximum(c, b) + ad.minimum(a, 0.5) * ad.square(b)  # NaN propagates
        e = ad.where(a > b, d, -d) + ad.abs(c) - 1e-3
        return e * e + ad.sqrt(ad.abs(e)), a >= 0.0

    a = ad.tensor(np.array([0.0, -0.0, 1.5, np.inf, -np.inf, np.nan, 2.0, -3.0]), dtype=dtype)
    b = ad.tensor(np.array([1.0, -2.0, np.nan, 1.0, np.inf, 0.5, -0.0, 4.0]), dtype=dtype)
    with np.errstate(all="ignore"):
        f, got, want = _both(arith, a, b)
        eager = arith(a, b)
    assert _fused_count(f) == 1
    for g, w, e in zip(got, want, eager):
        assert g.dtype == e.dtype  # float32 stays float32: literals take the run's dtype
        assert _same_bits(g, w) and _same_bits(g, e)


def test_scalar_programs_fuse_into_straight_line_code() -> None:
    def chain(t: ad.Tensor) -> ad.Tensor:
        for _ in range(300):
            t = t * 0.999 + 0.001
        return t

    x = ad.tensor(0.5)
    f, got, want = _both(ad.grad(chain), x)
    assert _fused_count(f) >= 1
    assert isinstance(got.data, np.float64)  # a NumPy scalar, as eager 0-d results are
    assert _same_bits(got, want)


def test_large_arrays_keep_numpys_vectorized_transcendentals() -> None:
    def mixed(x: ad.Tensor) -> ad.Tensor:
        y = x * 2.0 + 1.0
        y = y * y - 0.5
        y = ad.tanh(y)  # ~12 ns per element in a numba loop against ~1 ns in NumPy
        return y * 3.0 + 1.0 - y * y

    big = ad.tensor(np.linspace(-1, 1, 100_000))
    f, got, want = _both(mixed, big)
    (program,) = f._programs.values()
    names = [ins.prim.name for ins in program.code]
    assert names == ["fused", "tanh", "fused"]  # the arithmetic around it still fuses
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-15)
    small = ad.tensor(np.linspace(-1, 1, 8))
    f, _, _ = _both(mixed, small)
    assert _fused_count(f) == 1  # on 8 elements the whole chain is one kernel


def test_repeated_structure_compiles_once_and_runs_are_capped() -> None:
    def long_chain(t: ad.Tensor) -> ad.Tensor:
        for _ in range(_numba.MAX_GROUP + 10):
            t = t * 0.5 + 0.25
        return t

    x = ad.tensor(np.ones(4))
    f, got, want = _both(long_chain, x)
    assert _fused_count(f) >= 3  # no kernel longer than MAX_GROUP instructions
    assert _same_bits(got, want)
    before = len(_numba._KERNELS)
    g = ad.compile(long_chain, buffers=False)
    g(x)
    g(x)
    assert len(_numba._KERNELS) == before  # the same sources: the same compiled kernels


def test_what_does_not_fuse_is_left_alone() -> None:
    def two_ops(x: ad.Tensor) -> ad.Tensor:
        return x * 2.0 + 1.0  # two NumPy calls cost less than one kernel call

    f, got, want = _both(two_ops, ad.tensor(np.ones(3)))
    assert _fused_count(f) == 0 and _same_bits(got, want)

    def mixed_dtypes(x: ad.Tensor, y: ad.Tensor) -> ad.Tensor:
        for _ in range(10):
            x = x * 1.5 + y
        return x

    x32 = ad.tensor(np.ones(3), dtype=ad.float32)
    y64 = ad.tensor(np.ones(3))  # float32 + float64 promotes: not one run's dtype
    f, got, want = _both(mixed_dtypes, x32, y64)
    assert _same_bits(got, want) and got.dtype == ad.float64


SPECIAL = [0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("with_numba", [True, False])
def test_scalar_runs_inline_with_numpys_semantics(
    with_numba: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not with_numba:
        monkeypatch.setattr(_numba, "available", lambda: False)

    def scalar(a: ad.Tensor, b: ad.Tensor) -> tuple[ad.Tensor, ...]:
        # every intermediate is returned: a later operation could hide a sign of zero
        mx, mn = ad.maximum(a, b), ad.minimum(b, a)  # NaN wins, ties give the second
        relu, picked = ad.relu(a), ad.where(a < b, b, 0.0)
        m = mx - mn
        r = relu + picked * 2.0
        out = ad.maximum(m, r) * ad.minimum(r, 1.0) + ad.abs(a) - ad.square(b)
        return mx, mn, relu, picked, m, r, out

    fused = ad.compile(scalar)
    fused(ad.tensor(0.5), ad.tensor(0.25))  # trace
    (program,) = fused._programs.values()
    kinds = {ins.prim.name for ins in program.code}
    # a short scalar run costs less inline than as a kernel call, numba or not
    assert "inline" in kinds and "fused" not in kinds
    with np.errstate(all="ignore"):
        for x in SPECIAL:
            for y in SPECIAL:
                a, b = ad.tensor(x), ad.tensor(y)
                for got, want in zip(fused(a, b), scalar(a, b)):
                    assert _same_bits(got, want), (x, y)
