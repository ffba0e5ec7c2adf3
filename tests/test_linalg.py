"""The linalg extension: values against NumPy, gradients against finite differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.testing import check_grads

from .conftest import make

L = ad.linalg


def _well(rng: Any, *shape: int) -> np.ndarray:
    n = shape[-1]
    return rng.normal(size=shape) + 3 * np.eye(n)


def _spd(rng: Any, *shape: int) -> np.ndarray:
    b = rng.normal(size=shape)
    return b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])


def test_values_match_numpy(rng: Any) -> None:
    a = _well(rng, 2, 3, 3)
    s = _spd(rng, 3, 3)
    r = rng.normal(size=(4, 3))
    x = make(a)
    np.testing.assert_allclose(L.inv(x).numpy(), np.linalg.inv(a), rtol=1e-6)
    np.testing.assert_allclose(L.det(x).numpy(), np.linalg.det(a), rtol=1e-6)
    sign, logdet = L.slogdet(x)
    np.testing.assert_allclose(sign.numpy() * np.exp(logdet.numpy()), np.linalg.det(a), rtol=1e-6)
    np.testing.assert_allclose(L.cholesky(make(s)).numpy(), np.linalg.cholesky(s), rtol=1e-6)
    np.testing.assert_allclose(
        L.cholesky(make(s), upper=True).numpy(), np.linalg.cholesky(s).T, rtol=1e-6
    )
    np.testing.assert_allclose(L.eigvalsh(make(s)).numpy(), np.linalg.eigvalsh(s), rtol=1e-6)
    np.testing.assert_allclose(
        L.svdvals(make(r)).numpy(), np.linalg.svd(r, compute_uv=False), rtol=1e-6
    )
    q, rr = L.qr(make(r))
    np.testing.assert_allclose((q @ rr).numpy(), r, atol=1e-10)
    np.testing.assert_allclose(L.pinv(make(r)).numpy(), np.linalg.pinv(r), rtol=1e-6)
    np.testing.assert_allclose(L.trace(x, offset=1).numpy(), np.trace(a, 1, -2, -1))
    np.testing.assert_allclose(L.diagonal(x, offset=-1).numpy(), np.diagonal(a, -1, -2, -1))
    for o in ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
        np.testing.assert_allclose(
            L.matrix_norm(x, ord=o).numpy(), np.linalg.norm(a, ord=o, axis=(-2, -1)), rtol=1e-6
        )
    for o in (1, 2, 3, 0, np.inf, -np.inf):
        np.testing.assert_allclose(
            L.vector_norm(x, axis=-1, ord=o).numpy(), np.linalg.norm(a, ord=o, axis=-1)
        )
    for p in (-2, 0, 3):
        np.testing.assert_allclose(
            L.matrix_power(x, p).numpy(), np.linalg.matrix_power(a, p), rtol=1e-6
        )
    assert int(L.matrix_rank(make(np.outer([1.0, 2.0], [3.0, 4.0])))) == 1
    np.testing.assert_allclose(
        ad.tensordot(x, make(r.T), axes=([2], [0])).numpy(), np.tensordot(a, r.T, ([2], [0]))
    )
    np.testing.assert_allclose(ad.vecdot(x, make(a[0])).numpy(), np.sum(a * a[0], -1))


INV_FUNCS = {
    "inv": L.inv,
    "det": L.det,
    "logabsdet": lambda a: L.slogdet(a).logabsdet,
    "solve_matrix": lambda a: L.solve(a, make(np.arange(6.0).reshape(3, 2))),
    "matrix_power_-2": lambda a: L.matrix_power(a, -2),
    "matrix_power_3": lambda a: L.matrix_power(a, 3),
}


@pytest.mark.parametrize("name", list(INV_FUNCS))
def test_square_grads_order2(name: str, rng: Any) -> None:
    check_grads(INV_FUNCS[name], (make(_well(rng, 2, 3, 3)),), order=2)


def test_solve_grads_both_inputs(rng: Any) -> None:
    a = make(_well(rng, 3, 3))
    check_grads(L.solve, (a, make(rng.normal(size=(3,)))), order=2)
    check_grads(L.solve, (make(_well(rng, 2, 3, 3)), make(rng.normal(size=(3, 2)))), order=2)
    # one vector for a stack of matrices, and a stack of right-hand sides for one matrix
    check_grads(L.solve, (make(_well(rng, 2, 3, 3)), make(rng.normal(size=(3,)))), order=2)
    check_grads(L.solve, (a, make(rng.normal(size=(2, 3, 2)))), order=2)


def test_cholesky_grads(rng: Any) -> None:
    s = make(_spd(rng, 3, 3))
    check_grads(L.cholesky, (s,), order=2)
    check_grads(lambda a: L.cholesky(a, upper=True), (s,), order=1)


def test_eigh_grads(rng: Any) -> None:
    s = make(_spd(rng, 2, 3, 3))
    check_grads(L.eigvalsh, (s,), order=2)

    def sign_free(a: ad.Tensor) -> ad.Tensor:
        w, v = L.eigh(a)
        return v * v * w[..., None, :]  # eigenvector signs cancel

    check_grads(sign_free, (s,), order=2)


def test_svd_grads(rng: Any) -> None:
    for shape in ((4, 3), (3, 4), (3, 3)):
        x = make(rng.normal(size=shape))
        check_grads(L.svdvals, (x,), order=2)

        def sign_free(a: ad.Tensor) -> ad.Tensor:
            u, s, vh = L.svd(a, full_matrices=False)
            return (u * s[None, :]) @ vh + u[:, :1] * vh[:1, :] * 2.0

        # order 1: second derivatives through the 1/(s_j² - s_i²) factors are
        # numerically fragile for finite differences
        check_grads(sign_free, (x,), order=1)


def test_qr_grads(rng: Any) -> None:
    x = make(rng.normal(size=(4, 3)))

    def f(a: ad.Tensor) -> ad.Tensor:
        q, r = L.qr(a)
        return q * 2.0 + (r * r)[None, :1, :]

    check_grads(f, (x,), order=1)
    # wide input (and mode="complete" where it has a derivative): tests/test_transform_gaps.py
    try:
        q = L.qr(make(rng.normal(size=(3, 2)), requires_grad=True), mode="complete")[0]
    except NotImplementedError:  # MLX: the reduced factorization only
        return
    with pytest.raises(ValueError, match="no derivative"):
        q.sum().backward()


def test_pinv_grads(rng: Any) -> None:
    check_grads(L.pinv, (make(rng.normal(size=(4, 3))),), order=1)
    check_grads(L.pinv, (make(rng.normal(size=(2, 3))),), order=1)


def test_norm_grads(rng: Any) -> None:
    x = make(rng.normal(size=(3, 4)))
    for o in (1, 2, 3, np.inf, -np.inf):
        check_grads(lambda a, o=o: L.vector_norm(a, axis=1, ord=o), (x,), order=1)
    check_grads(lambda a: L.vector_norm(a, axis=(0, 1), keepdims=True), (x,), order=2)
    for o in ("fro", "nuc", 1, np.inf, 2, -2):
        check_grads(lambda a, o=o: L.matrix_norm(a, ord=o), (x,), order=1)


def test_vector_norm_zero_subgradient_is_zero() -> None:
    x = make(np.zeros((2, 3)), requires_grad=True)
    L.vector_norm(x, axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))
    x.grad = None
    L.vector_norm(x, ord=3).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_small_pieces_grads(rng: Any) -> None:
    a = make(rng.normal(size=(2, 3, 4)))
    check_grads(lambda t: L.diagonal(t, offset=1), (a,), order=2)
    check_grads(lambda t: L.trace(t, offset=-1), (a,), order=2)
    u, v = make(rng.normal(size=(3,))), make(rng.normal(size=(4,)))
    check_grads(L.outer, (u, v), order=2)
    p, q = make(rng.normal(size=(2, 3))), make(rng.normal(size=(3,)))
    check_grads(L.cross, (p, q), order=2)
    check_grads(lambda s, t: ad.tensordot(s, t, axes=1), (a, make(rng.normal(size=(4, 2)))))
    check_grads(ad.vecdot, (a, make(rng.normal(size=(3, 4)))), order=2)
    check_grads(L.matrix_transpose, (a,), order=1)


def test_array_api_code_finds_linalg() -> None:
    def logdet(x: Any) -> Any:
        xp = x.__array_namespace__()
        return xp.linalg.slogdet(xp.linalg.inv(x)).logabsdet

    x = make(np.array([[2.0, 1.0], [1.0, 3.0]]))
    np.testing.assert_allclose(float(logdet(x)), -np.log(5.0))
    check_grads(logdet, (x,), order=2)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="square"):
        L.inv(make(np.ones((2, 3))))
    with pytest.raises(TypeError, match="floating"):
        L.det(make(np.ones((2, 2), dtype=np.int64)))
    with pytest.raises(ValueError, match="size 3"):
        L.cross(make(np.ones(2)), make(np.ones(2)))
    with pytest.raises(ValueError, match="unsupported ord"):
        L.matrix_norm(make(np.ones((2, 2))), ord=3)
    with pytest.raises(ValueError, match="different sizes"):
        ad.tensordot(make(np.ones((2, 3))), make(np.ones((2, 3))), axes=1)
    cdt = ad.complex128 if ad.get_backend().supports(ad.complex128) else ad.complex64
    z = ad.astype(make(np.eye(2)), cdt)
    z.requires_grad = True
    with pytest.raises(NotImplementedError, match="real tensors only"):
        L.svd(z)
    with ad.no_grad():
        if ad.get_backend().name == "mlx":  # MLX's linear algebra is real-only
            with pytest.raises(NotImplementedError, match="float32 and float64 only"):
                L.inv(z)
        else:
            np.testing.assert_allclose(L.inv(z).numpy(), np.eye(2))
    kept = L.matrix_norm(make(np.ones((2, 3, 3))), keepdims=True)
    assert kept.shape == (2, 1, 1)
    with pytest.raises(ValueError, match="do not match"):
        L.solve(make(np.eye(2)), make(np.ones(3)))


def test_batched_decompositions(rng: Any) -> None:
    x = make(rng.normal(size=(2, 4, 3)))
    check_grads(L.svdvals, (x,), order=2)
    check_grads(lambda a: L.qr(a).R, (x,), order=2)
    check_grads(L.pinv, (x,), order=2)

    def sign_free(a: ad.Tensor) -> ad.Tensor:
        u, s, vh = L.svd(a, full_matrices=False)
        return (u * s[..., None, :]) @ vh + u[..., :1] * vh[..., :1, :]

    check_grads(sign_free, (x,), order=1)


def test_array_rtol_is_one_per_matrix() -> None:
    """The standard lets rtol of matrix_rank and pinv be an array, one value per matrix of
    the stack: a tensor rtol reached PyTorch, JAX and Dask as a tensor (a TypeError) and
    MLX scaled every matrix by every value (a broadcast error). Against NumPy's linalg."""
    host = np.stack([np.diag([1.0, 0.5, 0.01]), np.diag([2.0, 0.1, 0.05])])
    rtol = np.array([0.001, 0.2])
    x, tol = make(host, dtype=ad.float32), make(rtol, dtype=ad.float32)
    assert L.matrix_rank(x, rtol=tol).tolist() == [3, 1]
    assert np.linalg.matrix_rank(host, rtol=rtol).tolist() == [3, 1]
    np.testing.assert_allclose(
        L.pinv(x, rtol=tol).numpy(), np.linalg.pinv(host, rcond=rtol), rtol=1e-5, atol=1e-6
    )
