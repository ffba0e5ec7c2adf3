"""Values and gradients that PyTorch's operator samples showed wrong (issue 20), one test
per item, on every backend where the operation runs. References are closed forms
(``cmath``), finite differences and NumPy; none is computed by autodiff itself."""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
import autodiff.nn.functional as F

from .conftest import make


def _cdt() -> ad.DType:
    return ad.complex128 if ad.get_backend().supports(ad.complex128) else ad.complex64


def _tol() -> float:
    return 1e-9 if ad.get_backend().exact_float64 else 2e-4


def _ctensor(values: Any, requires_grad: bool = False) -> ad.Tensor:
    return ad.tensor(
        np.asarray(values, dtype=np.complex128), dtype=_cdt(), requires_grad=requires_grad
    )


def _grad(f: Callable[..., ad.Tensor], *xs: ad.Tensor) -> list[np.ndarray]:
    out = f(*xs)
    out.backward()
    return [np.asarray(x.grad.numpy()) for x in xs]


def _complex_fd(f: Callable[[np.ndarray], float], z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    # PyTorch's convention for a real loss of complex z: dL/dRe z + i dL/dIm z
    out = np.zeros(z.shape, dtype=np.complex128)
    for idx in np.ndindex(z.shape):
        for step, unit in ((h, 1.0), (h * 1j, 1j)):
            zp, zm = z.copy(), z.copy()
            zp[idx] += step
            zm[idx] -= step
            d = (f(zp) - f(zm)) / (2 * h)
            out[idx] += d * unit
    return out


def _has_complex_linalg() -> bool:
    return ad.get_backend().name != "mlx"  # MLX's linear algebra is real-only


def _needs(*names: str) -> None:
    """Skip where the backend's library lacks one of these linalg functions (Dask)."""
    missing = [n for n in names if not hasattr(ad.get_backend().xp.linalg, n)]
    if missing:
        pytest.skip(f"{ad.get_backend().name} has no linalg.{', '.join(missing)}")


# -- 1. symmetric spectral functions at repeated eigen/singular values -----------------------


def test_1_eigvalsh_svdvals_grads_at_repeated_values() -> None:
    _needs("eigh", "svd")
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    a = q @ np.diag([1.0, 1.0, 2.0]) @ q.T  # a repeated eigenvalue
    for host in (np.eye(2), a):
        x = make(host, requires_grad=True)
        (g,) = _grad(lambda t: ad.linalg.svdvals(t).sum(), x)
        np.testing.assert_allclose(g, np.eye(len(host)), atol=_tol() * 10)  # U Vᵀ = I (SPD)
        x = make(host, requires_grad=True)
        (g,) = _grad(lambda t: (ad.linalg.eigvalsh(t) ** 2).sum(), x)
        np.testing.assert_allclose(g, 2 * host, atol=_tol() * 10)  # d tr(A²) = 2A
        x = make(host, requires_grad=True)
        (g,) = _grad(lambda t: ad.linalg.matrix_norm(t, ord="nuc"), x)
        np.testing.assert_allclose(g, np.eye(len(host)), atol=_tol() * 10)
    x = make(np.eye(2), requires_grad=True)
    (g,) = _grad(lambda t: ad.linalg.matrix_norm(t, ord=2), x)
    np.testing.assert_allclose(g, 0.5 * np.eye(2), atol=_tol())  # tied maxima share
    x = make(np.zeros((3, 2)), requires_grad=True)  # zero singular values, rows > columns
    (g,) = _grad(lambda t: ad.linalg.svdvals(t).sum(), x)
    assert np.all(np.isfinite(g))


# -- 2. complex Hermitian eigh, eigvalsh, cholesky ------------------------------------------

_HERM = np.array([[2, 1 - 1j], [1 + 1j, 3]])


def test_2_complex_hermitian_values() -> None:
    _needs("eigh", "cholesky")
    a = _ctensor(_HERM)
    np.testing.assert_allclose(ad.linalg.eigvalsh(a).numpy(), [1.0, 4.0], atol=_tol() * 10)
    w, v = ad.linalg.eigh(a)
    rebuilt = v.numpy() @ np.diag(w.numpy()) @ v.numpy().conj().T
    np.testing.assert_allclose(rebuilt, _HERM, atol=_tol() * 10)
    if not _has_complex_linalg():
        with pytest.raises(NotImplementedError, match="float32 and float64 only"):
            ad.linalg.cholesky(a)
        return
    low = ad.linalg.cholesky(a).numpy()
    np.testing.assert_allclose(low @ low.conj().T, _HERM, atol=_tol() * 10)
    up = ad.linalg.cholesky(a, upper=True).numpy()
    np.testing.assert_allclose(up.conj().T @ up, _HERM, atol=_tol() * 10)


def _herm(z: np.ndarray) -> np.ndarray:
    return (z + z.conj().T) / 2


@pytest.mark.parametrize("which", ["eigvalsh", "eigh", "cholesky", "cholesky_upper"])
def test_2_complex_hermitian_grads(which: str) -> None:
    _needs("eigh", "cholesky")
    if not _has_complex_linalg():
        pytest.skip("MLX's linear algebra is real-only")
    if not ad.get_backend().exact_float64:
        pytest.skip("finite differences need exact float64")
    weights = np.array([[0.3 + 0.1j, -0.7 + 0.2j], [0.5 - 0.4j, 1.1 + 0.6j]])
    ref: dict[str, Callable[[np.ndarray], float]] = {
        "eigvalsh": lambda z: float(np.linalg.eigvalsh(_herm(z)) @ [1.0, 2.5]),
        # |v|² of each eigenvector's entries: invariant to each vector's phase
        "eigh": lambda z: float(np.sum(np.abs(np.linalg.eigh(_herm(z))[1]) ** 2 * weights.real)),
        "cholesky": lambda z: float(np.sum((np.linalg.cholesky(_herm(z)) * weights).real)),
        "cholesky_upper": lambda z: float(
            np.sum((np.linalg.cholesky(_herm(z)).conj().T * weights).real)
        ),
    }
    ours: dict[str, Callable[[ad.Tensor], ad.Tensor]] = {
        "eigvalsh": lambda t: (ad.linalg.eigvalsh(t) * make([1.0, 2.5])).sum(),
        "eigh": lambda t: (ad.abs(ad.linalg.eigh(t)[1]) ** 2 * make(weights.real)).sum(),
        "cholesky": lambda t: ad.real(ad.linalg.cholesky(t) * _ctensor(weights)).sum(),
        "cholesky_upper": lambda t: ad.real(
            ad.linalg.cholesky(t, upper=True) * _ctensor(weights)
        ).sum(),
    }
    z0 = _HERM + np.array([[0.0, 0.2j], [0.1, 0.0]])  # not Hermitian: the forward projects
    x = _ctensor(z0, requires_grad=True)
    (g,) = _grad(ours[which], x)
    np.testing.assert_allclose(g, _complex_fd(ref[which], z0), atol=1e-6)


# -- 3. complex cross -------------------------------------------------------------------------


def _cross_by_parts(a: ad.Tensor, b: ad.Tensor) -> ad.Tensor:
    return ad.stack(
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    )


def test_3_complex_cross_vjp_is_conjugated() -> None:
    _needs("cross")
    ha = np.array([1 + 2j, 3 - 1j, 0.5j])
    hb = np.array([2 - 1j, 1j, 1 + 1j])
    w = _ctensor([0.5 + 1j, -1 + 0.3j, 2 - 0.5j])
    got = _grad(
        lambda a, b: ad.real(ad.linalg.cross(a, b) * w).sum(),
        _ctensor(ha, True),
        _ctensor(hb, True),
    )
    want = _grad(
        lambda a, b: ad.real(_cross_by_parts(a, b) * w).sum(),
        _ctensor(ha, True),
        _ctensor(hb, True),
    )
    for g, r in zip(got, want):
        np.testing.assert_allclose(g, r, atol=_tol())


# -- 4-6. complex acosh, sign, sigmoid --------------------------------------------------------


def test_4_complex_acosh_grad_follows_the_branch() -> None:
    for z in (-2 + 0.5j, -0.5 - 2j, 3 + 1j):
        x = _ctensor([z], True)
        (g,) = _grad(lambda t: ad.real(ad.acosh(t)).sum(), x)
        want = (1 / (cmath.sqrt(z - 1) * cmath.sqrt(z + 1))).conjugate()
        h = 1e-6
        fd = (cmath.acosh(z + h) - cmath.acosh(z - h)) / (2 * h)  # holomorphic: d/dz
        assert abs(want - fd.conjugate()) < 1e-6
        assert abs(complex(g[0]) - want) < 50 * _tol()


def test_5_complex_sign_has_a_gradient() -> None:
    z0 = np.array([1 + 1j, -2 + 0.5j, 0j])
    x = _ctensor(z0, True)
    wts = np.array([0.5 - 1j, 2 + 0.1j, 1.0])
    (g,) = _grad(lambda t: ad.real(ad.sign(t) * _ctensor(wts)).sum(), x)

    def ref(z: np.ndarray) -> float:
        s = np.where(z == 0, 0, z / np.where(z == 0, 1, np.abs(z)))
        return float(np.sum((s * wts).real))

    np.testing.assert_allclose(g[:2], _complex_fd(ref, z0)[:2], atol=50 * _tol())
    assert g[2] == 0  # no gradient at 0
    np.testing.assert_allclose(
        ad.sign(x).numpy(), [z / abs(z) if z else 0 for z in z0], atol=_tol()
    )
    assert ad.sign(make([1.0, -2.0], requires_grad=True)).requires_grad is False  # real: none


def test_6_complex_sigmoid_value() -> None:
    zs = [1 + 1j, -2 + 0.3j, 0.5 - 4j]
    got = ad.sigmoid(_ctensor(zs)).numpy()
    np.testing.assert_allclose(got, [1 / (1 + cmath.exp(-z)) for z in zs], rtol=10 * _tol())


# -- 7-9. logaddexp, softmax and logsumexp at large magnitudes and infinities ------------------


def test_7_logaddexp_grad_at_large_equal_inputs() -> None:
    for dt, big in ((ad.float32, 1e7), (ad.float32, 1e20)) + (
        ((ad.float64, 1e20),) if ad.get_backend().supports(ad.float64) else ()
    ):
        a = ad.tensor(big, dtype=dt, requires_grad=True)
        b = ad.tensor(big, dtype=dt, requires_grad=True)
        ga, gb = _grad(ad.logaddexp, a, b)
        assert (float(ga), float(gb)) == (0.5, 0.5)
        c = ad.tensor(big + 1e6 if big > 1e7 else big + 1, dtype=dt, requires_grad=True)
        d = ad.tensor(big, dtype=dt, requires_grad=True)
        gc, gd = _grad(ad.logaddexp, c, d)
        assert abs(float(gc) + float(gd) - 1) < 1e-6
        assert float(gc) >= float(gd)


def test_8_softmax_float32_at_large_magnitudes() -> None:
    row = ad.tensor(np.full(4, -1e9), dtype=ad.float32)
    np.testing.assert_allclose(F.softmax(row).numpy(), [0.25] * 4, rtol=1e-6)
    np.testing.assert_allclose(F.log_softmax(row).numpy(), [-math.log(4)] * 4, rtol=1e-6)
    pair = ad.tensor([1e7, 1e7 + 1], dtype=ad.float32)
    want = np.exp([-1.0, 0.0]) / np.exp([-1.0, 0.0]).sum()
    np.testing.assert_allclose(F.softmax(pair).numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(F.log_softmax(pair).numpy(), np.log(want), rtol=1e-6)
    x = ad.tensor([1e7, 1e7 + 1], dtype=ad.float32, requires_grad=True)
    (g,) = _grad(lambda t: ad.logsumexp(t), x)
    np.testing.assert_allclose(g, want, rtol=1e-6)  # softmax, not exp(x - rounded lse)
    x = ad.tensor([1e7, 1e7 + 1], dtype=ad.float32, requires_grad=True)
    (g,) = _grad(lambda t: (F.log_softmax(t) * ad.tensor([1.0, 0.0], dtype=ad.float32)).sum(), x)
    np.testing.assert_allclose(g, [1 - want[0], -want[1]], rtol=1e-5)


def test_9_logsumexp_of_inf_is_inf() -> None:
    assert ad.logsumexp(make([math.inf])).item() == math.inf
    assert ad.logsumexp(make([math.inf, 1.0])).item() == math.inf
    assert ad.logsumexp(make([-math.inf, -math.inf])).item() == -math.inf
    assert math.isnan(ad.logsumexp(make([math.nan, 1.0])).item())


# -- 10-11. nextafter, remainder --------------------------------------------------------------


def test_10_nextafter_grad_is_one() -> None:
    x = make([1.0, -3.0], requires_grad=True)
    (g,) = _grad(lambda t: ad.nextafter(t, make([2.0, -5.0])).sum(), x)
    np.testing.assert_array_equal(g, [1.0, 1.0])


def test_11_remainder_grad_uses_the_forwards_quotient() -> None:
    a_host = np.array([0.25, 0.5, 2.0, 1.3])
    b_host = np.array([0.001, 0.1, 0.2, 2.0])
    a = make(a_host)
    b = make(b_host, requires_grad=True)
    r = ad.remainder(a, b)
    r.sum().backward()
    av, bv, rv = (np.asarray(t.numpy(), dtype=np.float64) for t in (a, b, r))
    quotient = np.round((av - rv) / bv)  # the quotient the forward took: a = q b + r
    np.testing.assert_allclose(av, quotient * bv + rv, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(b.grad.numpy()), -quotient)


# -- 12. empty inputs --------------------------------------------------------------------------


def test_12_empty_inputs() -> None:
    out = ad.logsumexp(make(np.zeros((3, 0))), axis=1)
    np.testing.assert_array_equal(out.numpy(), [-math.inf] * 3)
    x = make(np.zeros((3, 0)), requires_grad=True)
    (g,) = _grad(lambda t: ad.logsumexp(t, axis=1).sum(), x)
    assert g.shape == (3, 0)
    assert F.softmax(make(np.zeros((5, 0, 0)))).shape == (5, 0, 0)
    assert F.log_softmax(make(np.zeros((0, 4)))).shape == (0, 4)
    assert ad.linalg.matrix_rank(make(np.zeros((0, 0)))).item() == 0
    assert ad.linalg.matrix_rank(make(np.zeros((2, 3, 0)))).tolist() == [0, 0]
    assert ad.diff(make([1.0, 2.0, 4.0]), n=4).shape == (0,)


# -- 13. complex pow with a Python complex scalar ------------------------------------------------


def test_13_complex_pow_with_complex_scalars() -> None:
    z0 = 1 + 1j
    x = _ctensor([z0], True)
    (g,) = _grad(lambda t: ad.real(t ** (1.5 + 2j)).sum(), x)
    want = ((1.5 + 2j) * z0 ** (0.5 + 2j)).conjugate()
    assert abs(complex(g[0]) - want) < 50 * _tol()
    x = _ctensor([z0], True)
    (g,) = _grad(lambda t: ad.real((2 + 1j) ** t).sum(), x)
    want = ((2 + 1j) ** z0 * cmath.log(2 + 1j)).conjugate()
    assert abs(complex(g[0]) - want) < 50 * _tol()


# -- 14. empty linalg calls, 0-d argmax, complex pinv ------------------------------------------


_EMPTY_LINALG = """
import numpy as np, autodiff as ad
L = ad.linalg
x = ad.tensor(np.zeros((0, 0)), requires_grad=True)
d = L.det(x)
assert d.item() == 1.0
d.backward()
assert x.grad.numpy().shape == (0, 0)
assert L.slogdet(ad.zeros((2, 0, 0))).logabsdet.tolist() == [0.0, 0.0]
assert L.inv(ad.zeros((2, 0, 0))).numpy().shape == (2, 0, 0)
assert L.solve(ad.zeros((0, 0)), ad.zeros((0, 2))).numpy().shape == (0, 2)
assert L.eigvalsh(ad.zeros((0, 0))).numpy().shape == (0,)
assert L.svdvals(ad.zeros((3, 0))).numpy().shape == (0,)
assert L.pinv(ad.zeros((3, 0))).numpy().shape == (0, 3)
print("ok")
"""


def test_14_empty_linalg_calls_and_the_gradient_of_det() -> None:
    _needs("det", "slogdet", "inv", "eigh", "svd", "pinv")
    # in a child process: MLX's linalg on an empty matrix kills its process (SIGFPE)
    import os
    import subprocess
    import sys

    env = dict(os.environ, AUTODIFF_BACKEND=ad.get_backend().name)
    run = subprocess.run(
        [sys.executable, "-c", _EMPTY_LINALG], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.strip().endswith("ok")


def test_14_argmax_of_a_0d_tensor_keepdims() -> None:
    assert ad.argmax(make(1.5), keepdims=True).item() == 0
    assert ad.argmin(make(1.5), keepdims=True).item() == 0


def test_14_complex_pinv() -> None:
    _needs("pinv")
    z = np.array([[1 + 2j, 0.5 - 1j], [2j, 3 + 0.1j], [1, -1j]])
    got = ad.linalg.pinv(_ctensor(z)).numpy()
    np.testing.assert_allclose(got, np.linalg.pinv(z), atol=50 * _tol())


# -- 15. clip with a NaN bound -----------------------------------------------------------------


def test_15_clip_with_a_nan_bound_is_nan() -> None:
    x = make([math.inf, 0.5, -2.0])
    assert np.all(np.isnan(ad.clip(x, min=math.nan).numpy()))
    assert np.all(np.isnan(ad.clip(x, max=math.nan).numpy()))
    lo = make([math.nan, 0.0, 0.0])
    np.testing.assert_array_equal(ad.clip(x, min=lo).numpy(), [math.nan, 0.5, 0.0])
    np.testing.assert_array_equal(ad.clip(x, min=-1.0, max=1.0).numpy(), [1.0, 0.5, -1.0])


# -- conventions (docs/conventions.md) ----------------------------------------------------------


def _grads2(f: Callable[..., ad.Tensor], a: float, b: float) -> tuple[float, float]:
    ta, tb = make(a, requires_grad=True), make(b, requires_grad=True)
    ga, gb = _grad(f, ta, tb)
    return float(ga), float(gb)


def test_convention_atan2_at_the_origin_is_zero() -> None:
    assert _grads2(ad.atan2, 0.0, 0.0) == (0.0, 0.0)
    assert _grads2(ad.atan2, 1.0, 0.0) == (0.0, -1.0)


def test_convention_hypot_at_the_origin_is_zero() -> None:
    assert _grads2(ad.hypot, 0.0, 0.0) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("fn", "a", "b", "want"),
    [
        ("maximum", math.nan, 1.0, (1.0, 1.0)),
        ("maximum", math.inf, 1.0, (1.0, 0.0)),
        ("maximum", -math.inf, 1.0, (0.0, 1.0)),
        ("maximum", 1.0, 1.0, (0.5, 0.5)),
        ("minimum", math.nan, 1.0, (1.0, 1.0)),
        ("minimum", math.inf, 1.0, (0.0, 1.0)),
        ("minimum", 1.0, 1.0, (0.5, 0.5)),
        ("logaddexp", math.inf, -math.inf, (1.0, 0.0)),
        ("logaddexp", -math.inf, -math.inf, (0.0, 0.0)),
    ],
)
def test_convention_binary_at_nan_and_inf(fn: str, a: float, b: float, want: Any) -> None:
    with np.errstate(all="ignore"):
        assert _grads2(getattr(ad, fn), a, b) == want


@pytest.mark.parametrize(
    ("fn", "x", "want"),
    [
        ("relu", math.nan, 1.0),
        ("relu", math.inf, 1.0),
        ("relu", 0.0, 0.0),
        ("abs", math.nan, 0.0),
        ("abs", -math.inf, -1.0),
        ("abs", 0.0, 0.0),
        ("clip", math.nan, 1.0),
        ("clip", math.inf, 0.0),
    ],
)
def test_convention_unary_at_nan_and_inf(fn: str, x: float, want: float) -> None:
    f = (lambda t: ad.clip(t, -1.0, 1.0)) if fn == "clip" else getattr(ad, fn)
    t = make(x, requires_grad=True)
    with np.errstate(all="ignore"):
        (g,) = _grad(f, t)
    assert float(g) == want


def test_convention_clip_nan_bound_takes_the_gradient() -> None:
    x = make([0.5, 2.0], requires_grad=True)
    lo = make([math.nan, 0.0], requires_grad=True)
    ad.clip(x, min=lo).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0]
    assert lo.grad.tolist() == [1.0, 0.0]


# -- found by the differential test (tests/test_torch_oracle.py) -------------------------------


def test_pow_grad_in_the_exponent_at_a_zero_base() -> None:
    # d(0**b)/db: 0 for b > 0 (the limit), -inf for b < 0 (0**b = inf, log 0 = -inf)
    b = make([2.0, -1.5], requires_grad=True)
    with np.errstate(all="ignore"):
        (g,) = _grad(lambda t: (make([0.0, 0.0]) ** t).sum(), b)
    assert g.tolist() == [0.0, -math.inf]


def test_nextafter_of_equal_inputs_returns_x2() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    (g,) = _grad(lambda t: ad.nextafter(t, make([1.0, 3.0])).sum(), x)
    assert g.tolist() == [0.0, 1.0]  # nextafter(1, 1) is x2 itself


def test_copysign_grad_is_the_same_on_every_backend() -> None:
    x = make([math.nan, math.inf, -2.0, 0.0], requires_grad=True)
    with np.errstate(all="ignore"):
        (g,) = _grad(lambda t: ad.copysign(t, make([1.0, -1.0, -1.0, -1.0])).sum(), x)
    assert math.isnan(g[0])
    assert g[1:].tolist() == [-1.0, 1.0, 0.0]


def test_std_of_a_constant_slice_has_zero_gradient() -> None:
    x = make([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], requires_grad=True)
    (g,) = _grad(lambda t: ad.std(t, axis=1).sum(), x)
    assert g[0].tolist() == [0.0, 0.0, 0.0]
    d = np.array([1.0, 2.0, 4.0]) - 7 / 3
    np.testing.assert_allclose(g[1], d / (3 * np.sqrt(np.mean(d * d))), rtol=10 * _tol())


def test_cholesky_is_the_lower_factor() -> None:
    # Dask's own cholesky returns the upper factor unless asked for the lower one
    a = np.array([[4.0, 2.0, 0.4], [2.0, 5.0, 1.0], [0.4, 1.0, 3.0]])
    low = np.linalg.cholesky(a)
    np.testing.assert_allclose(ad.linalg.cholesky(make(a)).numpy(), low, rtol=10 * _tol())
    up = ad.linalg.cholesky(make(a), upper=True).numpy()
    np.testing.assert_allclose(up, low.T, rtol=10 * _tol())


def test_argmax_of_an_empty_tensor_along_a_nonempty_axis() -> None:
    # (0, 4) along the last axis: four candidates for each of no rows, as NumPy answers
    x = ad.zeros((0, 4))
    for f in (ad.argmax, ad.argmin):
        assert f(x, axis=-1).shape == (0,)
        assert f(x, axis=1, keepdims=True).shape == (0, 1)
        with pytest.raises(ValueError, match="empty axis"):
            f(x, axis=0)
        with pytest.raises(ValueError, match="empty axis"):
            f(x)
