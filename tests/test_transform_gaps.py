"""The functional gaps of the transforms (#24): numbers and host arrays as the inputs of
``jvp``/``grad``/``vjp``/``jacobian``/``hessian``/``hvp``; copying, pickling and saving a
value of a running ``jvp`` or ``vmap``; ``to_device`` under ``vmap`` and ``jvp``; and
``qr``'s derivatives for wide input (checked against PyTorch and finite differences)."""

from __future__ import annotations

import copy
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.checks import rule_coverage
from autodiff.ops.move import to_device

from .conftest import make, rtol

# -- 1. numbers and NumPy values as differentiated inputs --------------------------------


def _f(a: Any) -> Any:
    return ad.sin(a) * a


def _df(a: float) -> float:
    return math.sin(a) + a * math.cos(a)


def _d2f(a: float) -> float:
    return 2 * math.cos(a) - a * math.sin(a)


def _close(t: Any, expected: Any, strict: float = 1e-12) -> None:
    assert isinstance(t, ad.Tensor), f"expected a tensor, got {t!r}"
    tol = rtol(strict) if t.dtype == ad.float64 else 2e-5  # numbers get the default dtype
    np.testing.assert_allclose(np.asarray(t.numpy(), dtype=float), expected, rtol=tol, atol=tol)


def test_jvp_of_a_python_float_primal_carries_its_tangent() -> None:
    out, tan = ad.jvp(_f, (2.0,), (1.0,))
    _close(out, 2.0 * math.sin(2.0))
    _close(tan, _df(2.0))
    assert tan.dtype == ad.get_default_dtype()
    # a number next to a tensor: the number's tangent counts
    y = make(3.0)
    _, tan = ad.jvp(lambda a, b: a * b, (2.0, y), (0.5, ad.zeros_like(y)))
    _close(tan, 1.5)


def test_jvp_python_primal_takes_a_tensor_tangents_dtype() -> None:
    t = ad.tensor(1.0, dtype=ad.float32)
    out, tan = ad.jvp(_f, (2.0,), (t,))
    assert out.dtype == ad.float32 and tan.dtype == ad.float32
    _close(tan, _df(2.0), 1e-6)


@pytest.mark.parametrize("kind", ["scalar", "array"])
def test_jvp_of_numpy_primals(kind: str) -> None:
    p = np.float32(2.0) if kind == "scalar" else np.array([2.0, -1.0], dtype=np.float32)
    t = np.float32(1.0) if kind == "scalar" else np.array([1.0, 3.0], dtype=np.float32)
    _, tan = ad.jvp(_f, (p,), (t,))
    assert tan.dtype == ad.float32
    expected = np.array([_df(float(v)) for v in np.ravel(p)]) * np.ravel(t)
    _close(ad.reshape(tan, (-1,)), expected, 1e-6)


def test_jvp_refuses_a_tangent_where_there_is_no_derivative() -> None:
    with pytest.raises(TypeError, match="int"):
        ad.jvp(_f, (2,), (1.0,))
    with pytest.raises(TypeError, match="int64"):
        ad.jvp(_f, (np.array([1, 2]),), (np.array([1.0, 1.0]),))
    with pytest.raises(TypeError, match="no tangent"):
        ad.jvp(lambda s, a: ad.sin(a), ("mode", 1.0), (1.0, 1.0))
    # without a tangent an integer stays a static argument
    out, tan = ad.jvp(lambda n, a: a * n, (3, make(2.0)), (None, make(1.0)))
    _close(out, 6.0)
    _close(tan, 3.0)


def test_grad_family_of_a_python_float() -> None:
    a = 0.7
    _close(ad.grad(_f)(a), _df(a))
    value, g = ad.value_and_grad(_f)(a)
    _close(value, a * math.sin(a))
    _close(g, _df(a))
    _, pull = ad.vjp(_f, a)
    (ga,) = pull(ad.ones_like(_f(make(a))).astype(ad.get_default_dtype()))
    _close(ga, _df(a))
    _close(ad.jacobian(_f)(a), _df(a))
    _close(ad.jacobian(_f, mode="fwd")(a), _df(a))
    _close(ad.hessian(_f)(a), _d2f(a))
    value, (hv,) = ad.hvp(_f, (a,), (2.0,))
    _close(hv, 2 * _d2f(a))


def test_grad_of_numpy_inputs_and_a_list_of_floats() -> None:
    x = np.array([0.3, -1.2])
    g = ad.grad(lambda v: ad.sum(_f(v)))(x)
    _close(g, [_df(0.3), _df(-1.2)])
    gs = ad.grad(lambda xs: xs[0] * xs[1] ** 2)([2.0, 3.0])
    assert isinstance(gs, list)
    _close(gs[0], 9.0)
    _close(gs[1], 12.0)


def test_integer_inputs_raise_instead_of_a_missing_gradient() -> None:
    with pytest.raises(TypeError, match="int"):
        ad.grad(_f)(2)
    with pytest.raises(TypeError, match="int"):
        ad.grad(lambda a, n: a * n, argnums=(0, 1))(2.0, 3)
    with pytest.raises(TypeError, match="int"):
        ad.vjp(_f, 2)
    with pytest.raises(TypeError, match="int"):
        ad.jacobian(_f)(np.int64(2))
    with pytest.raises(TypeError, match="bool"):
        ad.value_and_grad(lambda a: a * 1.0)(True)
    # outside argnums an integer is fine
    _close(ad.grad(lambda a, n: a * n)(2.0, 3), 3.0)


# -- 2. copying, pickling and saving values of a running transform ---------------------


def test_dual_pickle_raises_deepcopy_keeps_the_tangent(tmp_path: Path) -> None:
    x, t = make([1.0, 2.0]), make([0.5, -1.0])
    seen: list[str] = []

    def f(a: Any) -> Any:
        with pytest.raises(TypeError, match="pickle a value inside jvp"):
            pickle.dumps(a)
        with pytest.raises(TypeError, match="cannot save a value inside jvp"):
            ad.save({"a": a}, tmp_path / "a.ad")
        seen.append("checked")
        return copy.deepcopy(a) * 3 + copy.copy(a)

    out, tan = ad.jvp(f, (x,), (t,))
    assert seen == ["checked"]
    _close(out, [4.0, 8.0])
    _close(tan, [2.0, -4.0])
    assert not (tmp_path / "a.ad").exists()


def test_batched_pickle_raises_deepcopy_keeps_the_batch(tmp_path: Path) -> None:
    X = make([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

    def f(a: Any) -> Any:
        with pytest.raises(TypeError, match="pickle a batched value inside vmap"):
            pickle.dumps(a)
        with pytest.raises(TypeError, match="cannot save a value inside vmap"):
            ad.save([a], tmp_path / "b.ad")
        return copy.deepcopy(a) * 2

    _close(ad.vmap(f)(X), X.numpy() * 2)
    assert not (tmp_path / "b.ad").exists()


def test_deepcopy_of_a_dual_inside_vmap_and_grad() -> None:
    X = make([[1.0, 2.0], [3.0, 4.0]])

    def per_example(x: Any) -> Any:
        return ad.jvp(lambda a: copy.deepcopy(a) ** 2, (x,), (ad.ones_like(x),))[1]

    _close(ad.vmap(per_example)(X), X.numpy() * 2)


# -- 3. to_device under vmap and jvp ------------------------------------------------------


def _destinations() -> list[str]:
    here = ad.get_backend().name
    out = ["array_api_strict:cpu" if here == "numpy" else "numpy:cpu"]
    if here == "array_api_strict":
        out.append("array_api_strict:device1")
    return out


def _where(dst: str) -> Any:
    return make([1.0]).to_device(dst).device


@pytest.fixture(params=_destinations())
def dst(request: pytest.FixtureRequest) -> str:
    try:
        make([1.0]).to_device(request.param)
    except Exception as err:  # pragma: no cover - a session without that backend
        pytest.skip(f"cannot move to {request.param}: {err}")
    return str(request.param)


def test_to_device_has_a_batching_rule() -> None:
    rows = {r[0]: r for r in rule_coverage()}
    assert rows["to_device"][3], "to_device has no batching rule"


def test_vmap_of_to_device(dst: str) -> None:
    X = make(np.arange(6.0).reshape(3, 2))
    Y = ad.vmap(lambda x: to_device(x, dst) * 2)(X)
    assert Y.device == _where(dst)
    np.testing.assert_array_equal(Y.numpy(), X.numpy() * 2)
    Z = ad.vmap(lambda x: x.to_device(dst), in_axes=1)(X)
    assert Z.device == _where(dst)
    np.testing.assert_array_equal(Z.numpy(), X.numpy().T)
    W = ad.vmap(ad.vmap(lambda x: x.to_device(dst) * 2))(X)
    assert W.device == _where(dst)
    np.testing.assert_array_equal(W.numpy(), X.numpy() * 2)
    J = ad.jacobian(lambda x: to_device(x, dst) ** 2, mode="rev")(X[1])  # vmap of the VJP
    assert J.device == X.device
    np.testing.assert_array_equal(J.numpy(), np.diag(2 * X.numpy()[1]))


def test_gradients_through_to_device_under_vmap(dst: str) -> None:
    X = make(np.arange(6.0).reshape(3, 2) / 4)

    def loss(x: Any) -> Any:
        return ad.sum(to_device(x, dst) ** 3)

    g = ad.vmap(ad.grad(loss))(X)
    assert g.device == X.device  # the gradient goes back where the input lives
    _close(g, 3 * X.numpy() ** 2)
    g2 = ad.grad(lambda A: ad.sum(ad.vmap(lambda x: to_device(x, dst) ** 3)(A)))(X)
    _close(g2, 3 * X.numpy() ** 2)
    H = ad.vmap(ad.hessian(loss))(X)
    expected = np.stack([np.diag(6 * row) for row in X.numpy()])
    _close(H, expected)


def test_to_device_carries_the_tangent(dst: str) -> None:
    X = make(np.arange(6.0).reshape(3, 2))
    T = make(np.full((3, 2), 0.5))
    out, tan = ad.jvp(lambda a: to_device(a, dst) ** 2, (X,), (T,))
    assert out.device == _where(dst) and tan.device == _where(dst)
    _close(tan, X.numpy())
    # jvp inside vmap and vmap inside jvp

    def per_example(x: Any, t: Any) -> Any:
        return ad.jvp(lambda a: to_device(a, dst) ** 2, (x,), (t,))[1]

    _close(ad.vmap(per_example)(X, T), X.numpy())
    _, tan = ad.jvp(lambda A: ad.vmap(lambda a: to_device(a, dst) ** 2)(A), (X,), (T,))
    _close(tan, X.numpy())
    J = ad.jacobian(lambda a: to_device(a, dst) ** 2, mode="fwd")(X[0])
    _close(J, np.diag(2 * X.numpy()[0]))


# -- 4. qr: wide input, mode="complete", complex input ----------------------------------

_QR_CASES = [
    ((4, 3), "reduced"),
    ((3, 3), "reduced"),
    ((3, 3), "complete"),
    ((2, 4), "reduced"),
    ((2, 4), "complete"),
    ((2, 3, 5), "reduced"),
    ((2, 3, 5), "complete"),
]


def _qr_host(shape: tuple[int, ...], cplx: bool, seed: int) -> np.ndarray:
    r = np.random.default_rng(seed)
    a = r.normal(size=shape)
    return a + 1j * r.normal(size=shape) if cplx else a


def _qr_dtype(backend: ad.Backend, cplx: bool) -> ad.DType:
    if not cplx:
        return ad.float64 if backend.supports(ad.float64) else ad.float32
    for dt in (ad.complex128, ad.complex64):
        if backend.supports(dt):
            return dt
    pytest.skip(f"the {backend.name} backend has no complex dtype")


def _qr_runs(shape: tuple[int, ...], dtype: ad.DType, mode: str = "reduced") -> None:
    """Skip where the backend cannot compute this qr at all (MLX: real input only, and
    only the reduced factorization)."""
    try:
        ad.linalg.qr(ad.zeros(shape, dtype=dtype), mode=mode)
    except NotImplementedError as err:
        pytest.skip(str(err))


def _qr_tol(dtype: ad.DType) -> float:
    exact = dtype in (ad.float64, ad.complex128) and ad.get_backend().exact_float64
    return 1e-10 if exact else 2e-4


@pytest.mark.parametrize("cplx", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize(("shape", "mode"), _QR_CASES)
def test_qr_derivatives_match_pytorch(
    backend: ad.Backend, shape: tuple[int, ...], mode: str, cplx: bool
) -> None:
    torch = pytest.importorskip("torch")
    if "linalg" not in backend.extensions:
        pytest.skip(f"the {backend.name} backend has no linalg extension")
    dtype = _qr_dtype(backend, cplx)
    _qr_runs(shape, dtype, mode)
    a, t = _qr_host(shape, cplx, 1), _qr_host(shape, cplx, 2)
    ta = torch.tensor(a, requires_grad=True)
    tq, tr = torch.linalg.qr(ta, mode=mode)
    gq, gr = _qr_host(tuple(tq.shape), cplx, 3), _qr_host(tuple(tr.shape), cplx, 4)
    loss = torch.real(torch.sum(torch.tensor(gq).conj() * tq)) + torch.real(
        torch.sum(torch.tensor(gr).conj() * tr)
    )
    loss.backward()
    assert ta.grad is not None
    _, (tdq, tdr) = torch.func.jvp(
        lambda m: torch.linalg.qr(m, mode=mode), (torch.tensor(a),), (torch.tensor(t),)
    )
    x = ad.tensor(a, dtype=dtype)
    wq, wr = ad.conj(ad.tensor(gq, dtype=dtype)), ad.conj(ad.tensor(gr, dtype=dtype))

    def ours(m: Any) -> Any:
        q, r = ad.linalg.qr(m, mode=mode)
        return ad.real(ad.sum(wq * q)) + ad.real(ad.sum(wr * r))

    tol = _qr_tol(dtype)
    np.testing.assert_allclose(ad.grad(ours)(x).numpy(), ta.grad.numpy(), rtol=tol, atol=tol)
    _, (dq, dr) = ad.jvp(
        lambda m: tuple(ad.linalg.qr(m, mode=mode)), (x,), (ad.tensor(t, dtype=dtype),)
    )
    np.testing.assert_allclose(dq.numpy(), tdq.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dr.numpy(), tdr.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize(("shape", "mode"), [c for c in _QR_CASES if c[0] != (3, 3)])
def test_qr_derivatives_against_finite_differences(
    backend: ad.Backend, shape: tuple[int, ...], mode: str
) -> None:
    if "linalg" not in backend.extensions:
        pytest.skip(f"the {backend.name} backend has no linalg extension")
    x = ad.tensor(_qr_host(shape, False, 5), dtype=_qr_dtype(backend, False))
    _qr_runs(shape, x.dtype, mode)
    ad.testing.check_grads(lambda a: tuple(ad.linalg.qr(a, mode=mode)), (x,), order=2)


@pytest.mark.parametrize("shape", [(2, 4), (4, 3), (3, 3)])
def test_complex_qr_derivatives_against_finite_differences(
    backend: ad.Backend, shape: tuple[int, ...]
) -> None:
    # complex input through its real and imaginary parts (check_grads perturbs real
    # tensors), each output's real and imaginary parts
    if "linalg" not in backend.extensions:
        pytest.skip(f"the {backend.name} backend has no linalg extension")
    _qr_runs(shape, _qr_dtype(backend, True))
    dtype = _qr_dtype(backend, False)

    def f(re: Any, im: Any) -> Any:
        q, r = ad.linalg.qr(re + 1j * im)
        return ad.real(q), ad.imag(q), ad.real(r), ad.imag(r)

    re, im = (ad.tensor(_qr_host(shape, False, k), dtype=dtype) for k in (7, 8))
    ad.testing.check_grads(f, (re, im), order=2)


def test_qr_complete_with_more_rows_than_columns_has_no_derivative(backend: ad.Backend) -> None:
    if "linalg" not in backend.extensions:
        pytest.skip(f"the {backend.name} backend has no linalg extension")
    x = ad.tensor(_qr_host((4, 3), False, 6), dtype=_qr_dtype(backend, False))
    _qr_runs((4, 3), x.dtype, "complete")

    def f(a: Any) -> Any:
        return ad.sum(ad.linalg.qr(a, mode="complete").R)

    with pytest.raises(ValueError, match="mode='complete' with more rows than columns"):
        ad.grad(f)(x)
    with pytest.raises(ValueError, match="mode='complete' with more rows than columns"):
        ad.jvp(f, (x,), (ad.ones_like(x),))
    q, r = ad.linalg.qr(x, mode="complete")  # the values are fine
    assert q.shape == (4, 4) and r.shape == (4, 3)


# -- complex input that reached real-only rules through jvp -------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 4, 3)])
def test_complex_pinv_derivatives_match_pytorch(
    backend: ad.Backend, shape: tuple[int, ...]
) -> None:
    # jvp of a complex pinv gave a silently wrong tangent (the rules used Pᵀ for Pᴴ)
    torch = pytest.importorskip("torch")
    if "linalg" not in backend.extensions:
        pytest.skip(f"the {backend.name} backend has no linalg extension")
    dtype = _qr_dtype(backend, True)
    try:
        ad.linalg.pinv(ad.zeros(shape, dtype=dtype))
    except NotImplementedError as err:
        pytest.skip(str(err))
    a, t = _qr_host(shape, True, 11), _qr_host(shape, True, 12)
    ta = torch.tensor(a, requires_grad=True)
    tp = torch.linalg.pinv(ta)
    g = _qr_host(tuple(tp.shape), True, 13)
    torch.real(torch.sum(torch.tensor(g).conj() * tp)).backward()
    assert ta.grad is not None
    _, tdp = torch.func.jvp(torch.linalg.pinv, (torch.tensor(a),), (torch.tensor(t),))
    x, w = ad.tensor(a, dtype=dtype), ad.conj(ad.tensor(g, dtype=dtype))
    tol = _qr_tol(dtype)
    ours = ad.grad(lambda m: ad.real(ad.sum(w * ad.linalg.pinv(m))))(x)
    np.testing.assert_allclose(ours.numpy(), ta.grad.numpy(), rtol=tol, atol=tol)
    _, dp = ad.jvp(ad.linalg.pinv, (x,), (ad.tensor(t, dtype=dtype),))
    np.testing.assert_allclose(dp.numpy(), tdp.numpy(), rtol=tol, atol=tol)


def test_jvp_of_a_complex_svd_raises(backend: ad.Backend) -> None:
    # svd's rules are real-only; through jvp a complex input used to get a wrong tangent
    if "linalg" not in backend.extensions:
        pytest.skip(f"the {backend.name} backend has no linalg extension")
    dtype = _qr_dtype(backend, True)
    x = ad.tensor(_qr_host((4, 3), True, 14), dtype=dtype)
    try:
        ad.linalg.svdvals(x)
    except NotImplementedError as err:
        pytest.skip(str(err))
    t = ad.tensor(_qr_host((4, 3), True, 15), dtype=dtype)
    for f in (ad.linalg.svdvals, lambda m: ad.linalg.matrix_norm(m, ord="nuc")):
        with pytest.raises(NotImplementedError, match="real tensors only"):
            ad.jvp(f, (x,), (t,))
