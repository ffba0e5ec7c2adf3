"""What array-api-tests checks through ``ARRAY_API_TESTS_MODULE=autodiff``, in small.

``__array_namespace_info__`` describes the current backend and the device asked
about; default dtypes follow the device; NumPy's misses of the standard's special
cases (``floor_divide`` at infinities, complex ``expm1``/``tanh``) are patched on the
NumPy and array-api-strict backends. The references are the standard's tables and
NumPy/array-api-strict themselves. The suite itself runs in ``nox -s conformance``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import autodiff as ad

inf, nan = math.inf, math.nan


def _available(name: str) -> bool:
    return name in ad.backends.available()


def _same(a: complex | float, b: complex | float) -> bool:
    """Equal with NaN equal to NaN and the sign of zero compared."""
    a, b = complex(a), complex(b)
    for x, y in ((a.real, b.real), (a.imag, b.imag)):
        if math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                return False
        elif x != y or math.copysign(1.0, x) != math.copysign(1.0, y):
            return False
    return True


# -- __array_namespace_info__ ---------------------------------------------------------


def test_info_describes_the_current_backend(backend: ad.Backend) -> None:
    info = ad.__array_namespace_info__()
    devices = info.devices()
    assert devices == list(backend.devices())
    assert {d.backend for d in devices} == {backend.name}
    assert info.default_device() in devices


def test_info_dtypes_follow_the_device(backend: ad.Backend) -> None:
    info = ad.__array_namespace_info__()
    for dev in info.devices():
        held = info.dtypes(device=dev)
        assert set(held.values()) == {
            dt for dt in backend.dtypes(dev) if dt.name not in ("float16", "bfloat16")
        }
        assert set(info.dtypes(device=dev, kind="integral").values()) == {
            dt for dt in held.values() if ad.isdtype(dt, "integral")
        }
        defaults = info.default_dtypes(device=dev)
        for dt in defaults.values():
            assert backend.supports(dt, dev), (dev, dt)
        real = defaults["real floating"]
        assert real is (
            ad.get_default_dtype() if backend.supports(ad.get_default_dtype(), dev) else ad.float32
        )
        assert defaults["complex floating"].bits == 2 * real.bits
        # what creation gives is what the info says
        assert ad.asarray(1.0, device=dev).dtype is real
        assert ad.asarray(1j, device=dev).dtype is defaults["complex floating"]
        assert ad.zeros(2, device=dev).dtype is real
        assert ad.full(2, 1j, device=dev).dtype is defaults["complex floating"]
        assert ad.asarray([1, 2], device=dev).dtype is defaults["integral"]
        # never through a narrower dtype on the way
        assert ad.asarray(0.1, device=dev).item() == float(np.asarray(0.1, dtype=real.name))
        z = complex(ad.asarray([0.1j], device=dev)[0].item())
        assert z == complex(np.asarray(0.1j, dtype=defaults["complex floating"].name))


@pytest.mark.skipif(not _available("array_api_strict"), reason="array-api-strict not installed")
def test_default_dtype_on_a_device_without_float64() -> None:
    import array_api_strict as strict

    native = strict.__array_namespace_info__()
    for dev in native.devices():
        ours = ad.__array_namespace_info__().dtypes(
            device=f"array_api_strict:{dev._device}".replace("CPU_DEVICE", "cpu")
        )
        assert set(ours) == set(native.dtypes(device=dev)), dev
    for label in ("no_float64", "no_x64"):
        dev = f"array_api_strict:{label}"
        theirs = native.default_dtypes(device=strict.Device(label))
        ours = ad.__array_namespace_info__().default_dtypes(device=dev)
        assert {k: v.name for k, v in ours.items()} == {
            k: str(v).split(".")[-1] for k, v in theirs.items()
        }
        x = ad.asarray(1.0, device=dev)
        assert x.dtype is ad.float32 and x.item() == 1.0
        assert ad.asarray([1.5, 2j], device=dev).dtype is ad.complex64
        assert ad.asarray([[1.0, 2.0]], device=dev).tolist() == [[1.0, 2.0]]
        assert ad.linspace(0.0, 1.0, 3, device=dev).dtype is ad.float32
        assert ad.arange(0.0, 1.0, 0.5, device=dev).dtype is ad.float32
        with pytest.raises(TypeError, match="never narrows silently"):
            ad.asarray(1.0, dtype=ad.float64, device=dev)
    assert ad.asarray(3, device="array_api_strict:no_x64").dtype is ad.int32
    with pytest.raises(TypeError, match="does not fit in int32"):
        ad.asarray([2**40], device="array_api_strict:no_x64")


def test_python_complex_follows_the_default_float(backend: ad.Backend) -> None:
    z = ad.asarray(1 + 2j)
    expected = ad.complex64 if ad.get_default_dtype() is ad.float32 else ad.complex128
    assert z.dtype is expected and z.item() == 1 + 2j
    assert ad.asarray([1j, 2.0]).dtype is expected


@pytest.mark.skipif(not _available("mlx"), reason="MLX cannot run here")
def test_mlx_complex_is_complex64_and_complex128_is_refused() -> None:
    with ad.use_backend("mlx"):
        assert ad.asarray(1j).dtype is ad.complex64
        assert ad.asarray([1j, 2.0]).tolist() == [1j, 2 + 0j]
        info = ad.__array_namespace_info__()
        assert info.default_dtypes()["complex floating"] is ad.complex64
        assert "complex128" not in info.dtypes()
        with pytest.raises(TypeError, match=r"complex128.*mlx.*complex64"):
            ad.asarray(1j, dtype=ad.complex128)
        with pytest.raises(TypeError, match=r"complex128.*mlx.*complex64"):
            ad.zeros(2, dtype=ad.complex128)


@pytest.mark.skipif(not _available("dask"), reason="Dask not installed")
def test_dask_declares_no_data_dependent_shapes() -> None:
    with ad.use_backend("dask"):
        caps = ad.__array_namespace_info__().capabilities()
    assert caps["data-dependent shapes"] is False and caps["boolean indexing"] is False


# -- the standard's special cases where NumPy misses them ----------------------------

_FLOOR_CASES = [
    # (x1, x2, the standard's result)
    (inf, 2.0, inf),
    (inf, -2.0, -inf),
    (-inf, 2.0, -inf),
    (-inf, -2.0, inf),
    (5.0, -inf, -0.0),
    (-5.0, inf, -0.0),
    (5.0, inf, 0.0),
    (-5.0, -inf, 0.0),
    (inf, inf, nan),
    (nan, 2.0, nan),
    (0.0, 0.0, nan),
    (1.0, 0.0, inf),
]

_EXPM1_CASES = [
    (complex(0.0, 0.0), complex(0.0, 0.0)),
    (complex(-0.0, 0.0), complex(0.0, 0.0)),
    (complex(inf, 0.0), complex(inf, 0.0)),
    (complex(-inf, inf), complex(-1.0, 0.0)),
    (complex(inf, inf), complex(inf, nan)),
    (complex(-inf, nan), complex(-1.0, 0.0)),
    (complex(inf, nan), complex(inf, nan)),
    (complex(nan, 0.0), complex(nan, 0.0)),
    (complex(1.0, inf), complex(nan, nan)),
]

_TANH_CASES = [
    (complex(inf, 3.0), complex(1.0, 0.0)),
    (complex(inf, 1.0), complex(1.0, 0.0)),
    (complex(inf, -3.0), complex(1.0, -0.0)),
    (complex(-inf, 3.0), complex(-1.0, 0.0)),
]

_PATCHED = ["numpy", "array_api_strict", "torch", "jax", "dask"]


def _on(name: str) -> ad.use_backend:
    if not _available(name):
        pytest.skip(f"{name} not installed")
    return ad.use_backend(name)


@pytest.mark.parametrize("name", _PATCHED)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_floor_divide_at_infinities_is_the_standards(name: str) -> None:
    with _on(name):
        x1 = ad.asarray([c[0] for c in _FLOOR_CASES])
        x2 = ad.asarray([c[1] for c in _FLOOR_CASES])
        for got, (a, b, want) in zip((x1 // x2).tolist(), _FLOOR_CASES, strict=True):
            assert _same(got, want), (a, b, got, want)
        # a scalar divisor, a broadcast one, the function form and the in-place operator
        assert ad.floor_divide(ad.asarray([inf, -inf]), 2.0).tolist() == [inf, -inf]
        assert _same(
            ad.floor_divide(ad.asarray([[5.0], [-5.0]]), ad.asarray([-inf]))[1, 0].item(), 0.0
        )
        y = ad.asarray([5.0, -5.0])
        y //= ad.asarray([-inf, inf])
        assert all(_same(v, -0.0) for v in y.tolist())


@pytest.mark.parametrize("name", _PATCHED)
def test_floor_divide_finite_values_unchanged(name: str, rng: np.random.Generator) -> None:
    a = rng.standard_normal(200) * 10
    b = rng.standard_normal(200)
    a[:3], b[:3] = [1.0, -7.0, 0.0], [0.1, 2.0, 3.0]
    with _on(name):
        got = ad.floor_divide(ad.asarray(a), ad.asarray(b)).numpy()
        got_scalar = ad.floor_divide(ad.asarray(a), 0.3).numpy()
        got_int = ad.floor_divide(ad.asarray([7, -7]), ad.asarray([2, 2])).tolist()
    np.testing.assert_array_equal(got, np.floor_divide(a, b))  # Python's // for finite values
    np.testing.assert_array_equal(got_scalar, np.floor_divide(a, 0.3))
    assert got[0] == 1.0 // 0.1 and got_int == [3, -4]


@pytest.mark.parametrize("name", ["numpy", "array_api_strict", "torch", "dask"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_complex_expm1_and_tanh_special_cases_are_the_standards(name: str) -> None:
    # (JAX's own complex exp is NaN at -inf+infj, so expm1 built on it is too)
    with _on(name):
        for fn, cases in ((ad.expm1, _EXPM1_CASES), (ad.tanh, _TANH_CASES)):
            got = fn(ad.asarray([c[0] for c in cases], dtype=ad.complex128)).tolist()
            for g, (z, want) in zip(got, cases, strict=True):
                assert _same(g, want), (fn.__name__, z, g, want)
            got64 = fn(ad.asarray([c[0] for c in cases], dtype=ad.complex64)).tolist()
            for g, (z, want) in zip(got64, cases, strict=True):
                assert _same(g, want), (fn.__name__, z, g, want)


@pytest.mark.parametrize("name", ["numpy", "array_api_strict"])
def test_complex_expm1_and_tanh_finite_values_unchanged(
    name: str, rng: np.random.Generator
) -> None:
    z = rng.standard_normal(50) + 1j * rng.standard_normal(50)
    z[0] = 1e-12 + 1e-12j
    with _on(name):
        e = ad.expm1(ad.asarray(z)).numpy()
        t = ad.tanh(ad.asarray(z)).numpy()
        real = ad.expm1(ad.asarray(z.real)).numpy()
    np.testing.assert_array_equal(e, np.expm1(z))
    np.testing.assert_array_equal(t, np.tanh(z))
    np.testing.assert_array_equal(real, np.expm1(z.real))


@pytest.mark.parametrize("name", _PATCHED)
def test_patched_forwards_keep_their_gradients(name: str) -> None:
    with _on(name):
        x = ad.tensor([0.3, -1.2], dtype=ad.float64, requires_grad=True)
        (ad.expm1(x) + ad.tanh(x)).sum().backward()
        want = np.exp([0.3, -1.2]) + 1 - np.tanh([0.3, -1.2]) ** 2
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


# -- MLX: the adapter is MLX's array API layer ----------------------------------------


@pytest.mark.skipif(not _available("mlx"), reason="MLX cannot run here")
def test_mlx_integer_reductions_widen_as_the_standard_says() -> None:
    small = np.array([200, 100, 7], dtype=np.uint8)
    signed = np.array([100, 100, -3], dtype=np.int8)
    with ad.use_backend("mlx"):
        s = ad.sum(ad.asarray(small))
        p = ad.prod(ad.asarray(signed))
        c = ad.cumulative_sum(ad.asarray(small))
        kept = ad.sum(ad.asarray(small), dtype=ad.uint8)
    assert s.dtype is ad.uint64 and s.item() == int(small.sum(dtype=np.uint64))
    assert p.dtype is ad.int64 and p.item() == 100 * 100 * -3
    assert c.dtype is ad.uint64 and c.tolist() == np.cumsum(small, dtype=np.uint64).tolist()
    assert kept.dtype is ad.uint8 and kept.item() == int(small.sum()) % 256
    empty = np.zeros((2, 0, 3), np.float32)
    for axis, keepdims in ((None, False), (1, False), ((0, 1), True), (-1, False)):
        with ad.use_backend("mlx"):
            got = ad.prod(ad.asarray(empty), axis=axis, keepdims=keepdims).numpy()
        want = np.prod(empty, axis=axis, keepdims=keepdims)
        assert got.shape == want.shape and got.tolist() == want.tolist()


@pytest.mark.skipif(not _available("mlx"), reason="MLX cannot run here")
def test_mlx_integer_matmul_is_exact() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(-(2**40), 2**40, size=(2, 3, 4))
    b = rng.integers(-(2**10), 2**10, size=(4, 5))
    v = rng.integers(-50, 50, size=4)
    with ad.use_backend("mlx"):
        ta, tb, tv = ad.asarray(a), ad.asarray(b), ad.asarray(v)
        got = (ta @ tb).tolist(), (ta @ tv).tolist(), (tv @ tb).tolist(), (tv @ tv).item()
        small = ad.asarray(np.ones((2, 2), np.int8)) @ ad.asarray(np.ones((2, 2), np.int8))
    assert got == ((a @ b).tolist(), (a @ v).tolist(), (v @ b).tolist(), int(v @ v))
    assert small.dtype is ad.int8 and small.tolist() == [[2, 2], [2, 2]]


@pytest.mark.skipif(not _available("mlx"), reason="MLX cannot run here")
def test_mlx_complex_tanh_special_cases_are_the_standards() -> None:
    with ad.use_backend("mlx"):
        got = ad.tanh(ad.asarray([c[0] for c in _TANH_CASES], dtype=ad.complex64)).tolist()
    for g, (z, want) in zip(got, _TANH_CASES, strict=True):
        assert _same(g, want), (z, g, want)


@pytest.mark.skipif(not _available("mlx"), reason="MLX cannot run here")
def test_mlx_linspace_and_sign_follow_the_standard() -> None:
    with ad.use_backend("mlx"):
        lin = ad.linspace(0.0, 1.0, 6, endpoint=False).tolist()
        empty = ad.linspace(0.0, 0.0, 0, endpoint=False)
        sign = ad.sign(ad.asarray([nan, -2.0, 0.0, 3.0])).tolist()
    assert (
        lin
        == np.linspace(0.0, 1.0, 6, endpoint=False, dtype=np.float64).astype(np.float32).tolist()
    )
    assert empty.shape == (0,)
    assert math.isnan(sign[0]) and sign[1:] == [-1.0, 0.0, 1.0]


def test_pinv_takes_a_tensor_rtol(backend: ad.Backend) -> None:
    if "linalg" not in backend.extensions or "linalg.pinv" in backend.unsupported:
        pytest.skip("no linalg.pinv on this backend")
    a = np.array([[2.0, 0.0], [0.0, 1e-4]], dtype=np.float32)
    try:
        got = ad.linalg.pinv(ad.asarray(a), rtol=ad.asarray(1e-3, dtype=ad.float32)).numpy()
    except NotImplementedError:
        pytest.skip("no linalg.pinv on this backend")
    np.testing.assert_allclose(got, np.linalg.pinv(a, rtol=1e-3), rtol=1e-6)


# -- the published figures agree with the xfail files --------------------------------

_ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def test_conformance_figures_agree_with_xfail_files_and_docs() -> None:
    from autodiff._info import CONFORMANCE, conformance_markdown
    from autodiff.cli import _conformance_line

    assert set(CONFORMANCE) >= {"numpy", "array_api_strict", "mlx", "torch", "jax", "dask"}
    page = (_ROOT / "docs" / "conformance.md").read_text()
    capabilities = (_ROOT / "docs" / "capabilities.md").read_text()
    assert "\n".join(conformance_markdown()) in capabilities
    for name, (passed, failed, skipped) in CONFORMANCE.items():
        lines = (_ROOT / "conformance" / f"{name}-xfails.txt").read_text().splitlines()
        entries = [i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#")]
        assert len(entries) == failed, name
        for i in entries:  # every entry sits in a group under a comment giving its cause
            j = i
            while j > 0 and not lines[j - 1].startswith("#"):
                j -= 1
                assert lines[j].strip(), f"{name}: entry {lines[i]!r} has no cause above it"
            assert j > 0 and lines[j - 1].startswith("# ") and len(lines[j - 1]) > 20
        assert f"| {name} | {passed} | {failed} | {skipped} |" in page, name
        assert f"{passed} of {passed + failed}" in _conformance_line(name)
    assert not (_ROOT / "conformance" / "array-api-tests-xfails.txt").exists()


def test_nested_lists_of_0d_tensors(backend: ad.Backend, fdtype: ad.DType) -> None:
    a = ad.asarray([1.5, 2.0], dtype=fdtype)
    rows = [[a[0] * a[1], a[1]], [a[0], a[0]]]
    assert ad.asarray(rows).tolist() == [[3.0, 2.0], [1.5, 1.5]]
    assert ad.asarray(rows, dtype=fdtype).dtype is fdtype
