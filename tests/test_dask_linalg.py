"""Dask's linalg on stacks of matrices and the functions Dask lacks (det, slogdet, eigh,
eigvalsh, pinv, cross, matrix_rank): values against NumPy's own linalg on every chunking
(batch split, matrix axes split, one 2-D matrix in several chunks), gradients against
finite differences, and the graph stays lazy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.testing import check_grads

da = pytest.importorskip("dask.array")

RNG = np.random.default_rng(7)
# a stack of 4 well-conditioned 3x3 matrices, a stack of tall 4x3 ones, vectors of 3
SQUARE = RNG.standard_normal((4, 3, 3)) + 3 * np.eye(3)
TALL = RNG.standard_normal((4, 4, 3))
VEC = RNG.standard_normal((4, 3))
RHS = RNG.standard_normal((4, 3, 2))
HPD = SQUARE @ np.swapaxes(SQUARE, -1, -2) + np.eye(3)

#: how a stack is split: whole matrices per chunk (batch split), the matrix axes split
#: (rechunked to one chunk per matrix), everything in one chunk
CHUNKINGS = ["batch", "matrix", "one"]


def _dask(host: np.ndarray, chunking: str, dtype: Any = ad.float64) -> ad.Tensor:
    native = np.dtype(dtype.name)
    if chunking == "batch":
        chunks: Any = (1, *host.shape[1:])
    elif chunking == "matrix":
        chunks = tuple(max(1, s // 2) for s in host.shape)
    else:
        chunks = host.shape
    return ad.asarray(da.from_array(host.astype(native), chunks=chunks))


# name → (function of autodiff tensors, the same on NumPy arrays, host inputs)
CASES: dict[str, tuple[Any, Any, tuple[np.ndarray, ...]]] = {
    "det": (ad.linalg.det, np.linalg.det, (SQUARE,)),
    "slogdet": (lambda a: ad.linalg.slogdet(a)[1], lambda a: np.linalg.slogdet(a)[1], (SQUARE,)),
    "inv": (ad.linalg.inv, np.linalg.inv, (SQUARE,)),
    "solve": (ad.linalg.solve, np.linalg.solve, (SQUARE, RHS)),
    "solve_vector": (
        ad.linalg.solve,
        lambda a, b: np.linalg.solve(a, b[..., None])[..., 0],
        (SQUARE, VEC[0]),
    ),
    "eigvalsh": (ad.linalg.eigvalsh, np.linalg.eigvalsh, (HPD,)),
    "cholesky": (ad.linalg.cholesky, np.linalg.cholesky, (HPD,)),
    "pinv": (ad.linalg.pinv, np.linalg.pinv, (TALL,)),
    "svdvals": (ad.linalg.svdvals, lambda a: np.linalg.svd(a, compute_uv=False), (TALL,)),
    "cross": (ad.linalg.cross, np.cross, (VEC, VEC[::-1] + 1.0)),
    # factor products, which do not depend on the signs a factorization chooses
    "qr": (lambda a: ad.matmul(*ad.linalg.qr(a)), lambda a: a, (TALL,)),
    "eigh": (
        lambda a: ad.linalg.eigh(a)[1] @ ad.matrix_transpose(ad.linalg.eigh(a)[1]),
        lambda a: np.broadcast_to(np.eye(3), a.shape),
        (HPD,),
    ),
}


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_numpy_on_stacks(name: str, chunking: str) -> None:
    fn, ref, host = CASES[name]
    with ad.use_backend("dask"):
        args = [_dask(h, chunking) for h in host]
        out = fn(*args)
        assert hasattr(out.data, "dask")  # still a lazy graph
        got = out.numpy()
    np.testing.assert_allclose(got, ref(*host), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["det", "inv", "solve", "pinv", "eigvalsh", "cross"])
def test_float32_stays_float32(name: str) -> None:
    """Dask's own inv/solve compute float32 input in float64 and return float64."""
    fn, ref, host = CASES[name]
    with ad.use_backend("dask"):
        out = fn(*[_dask(h, "batch", ad.float32) for h in host])
        assert out.dtype == ad.float32
        got = out.numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(
        got, ref(*[h.astype(np.float32) for h in host]), rtol=2e-5, atol=1e-5
    )


@pytest.mark.parametrize("n", [3, 6])
@pytest.mark.parametrize("name", ["inv", "solve", "cholesky", "det", "pinv", "qr"])
def test_one_matrix_in_several_chunks(name: str, n: int) -> None:
    """A 2-D matrix split into chunks of 2: Dask's blocked algorithms where they take the
    blocks (inv, solve, cholesky: square blocks of a 6x6; qr: a 6x3 in one column of
    blocks), else one rechunked matrix; float32 stays float32."""
    fn, ref, _ = CASES[name]
    a = RNG.standard_normal((n, n)) + n * np.eye(n)
    big = {
        "solve": [a, RNG.standard_normal((n, 2))],
        "cholesky": [a @ a.T],
        "qr": [RNG.standard_normal((n, 3))],
    }.get(name, [a])
    for dtype, tol in ((ad.float64, 1e-10), (ad.float32, 2e-5)):
        with ad.use_backend("dask"):
            args = [ad.asarray(da.from_array(h.astype(dtype.name), chunks=2)) for h in big]
            if name == "qr":
                args = [ad.asarray(args[0].data.rechunk((2, 3)))]
            out = fn(*args)
            assert out.dtype == dtype
            got = out.numpy()
        np.testing.assert_allclose(got, ref(*big), rtol=tol, atol=tol * n)


def test_complex_stacks() -> None:
    a = SQUARE + 1j * RNG.standard_normal(SQUARE.shape)
    h = a @ np.conj(np.swapaxes(a, -1, -2)) + np.eye(3)
    with ad.use_backend("dask"):
        x = ad.asarray(da.from_array(a, chunks=(1, 3, 3)))
        hx = ad.asarray(da.from_array(h, chunks=(1, 3, 3)))
        sign, logabs = ad.linalg.slogdet(x)
        w = ad.linalg.eigvalsh(hx)
        assert w.dtype == ad.float64 and logabs.dtype == ad.float64
        got = ad.compute(ad.linalg.det(x), sign, logabs, w, ad.linalg.inv(x))
    want_sign, want_logabs = np.linalg.slogdet(a)
    for g, want in zip(
        got, (np.linalg.det(a), want_sign, want_logabs, np.linalg.eigvalsh(h), np.linalg.inv(a))
    ):
        np.testing.assert_allclose(g, want, rtol=1e-10)


@pytest.mark.parametrize(
    ("sa", "sb"),
    [
        ((4, 3, 3), (2, 1, 3, 2)),
        ((2, 1, 3, 3), (4, 3, 1)),
        ((4, 3, 3), (3,)),  # one vector for every matrix
        ((0, 3, 3), (3,)),
        ((0, 0, 0), (1, 0, 0)),  # Dask's own check refuses length 0 against length 1
        ((2, 2), (2, 0)),  # an empty right-hand side: Dask divided by zero
    ],
)
def test_solve_broadcasts_batch_axes(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    a = RNG.standard_normal(sa) + 3 * np.eye(sa[-1])
    b = RNG.standard_normal(sb)
    want = np.linalg.solve(a, b[..., None])[..., 0] if len(sb) == 1 else np.linalg.solve(a, b)
    with ad.use_backend("dask"):
        out = ad.linalg.solve(_dask(a, "batch"), _dask(b, "one"))
        assert out.shape == want.shape
        got = out.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_pinv_and_matrix_rank_take_an_array_rtol() -> None:
    low = TALL.copy()
    low[..., 2] = low[..., 0]  # rank 2
    rtol = np.array([1e-12, 1e-12, 0.9, 0.9])
    with ad.use_backend("dask"):
        x = _dask(low, "batch")
        tol = ad.asarray(da.from_array(rtol, chunks=1))
        rank = ad.linalg.matrix_rank(x, rtol=tol)
        got, p = ad.compute(rank, ad.linalg.pinv(x, rtol=tol))
    np.testing.assert_array_equal(got, np.linalg.matrix_rank(low, rtol=rtol))
    np.testing.assert_allclose(p, np.linalg.pinv(low, rcond=rtol), rtol=1e-8, atol=1e-10)


def test_cross_on_another_axis() -> None:
    a, b = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
    with ad.use_backend("dask"):
        got = ad.linalg.cross(_dask(a, "matrix"), _dask(b, "one"), axis=0).numpy()
        with pytest.raises(ValueError, match="size 3"):
            ad.linalg.cross(_dask(a, "one"), _dask(b, "one"))
    np.testing.assert_allclose(got, np.cross(a, b, axis=0), rtol=1e-12)


@pytest.mark.parametrize("name", ["det", "slogdet", "inv", "solve", "eigh", "qr", "pinv", "cross"])
def test_gradients_on_stacks_match_finite_differences(name: str) -> None:
    fn, _, host = CASES[name]
    if name == "eigh":  # eigenvalues and an eigenvector-sign-free function of the vectors
        fn = lambda a: ad.linalg.eigh(a)[0] + ad.sum(ad.linalg.eigh(a)[1] ** 2 * a, axis=-1)  # noqa: E731
    if name == "qr":
        fn = lambda a: ad.linalg.qr(a)[1] ** 2  # noqa: E731
    with ad.use_backend("dask"):
        check_grads(fn, [_dask(h[:2], "batch") for h in host], order=1)


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (0, 3, 3)])
def test_empty_matrices_and_stacks(shape: tuple[int, ...]) -> None:
    """Dask's apply_gufunc divides by a core axis's chunk size when it rechunks: an empty
    matrix gave a ZeroDivisionError from inside Dask."""
    host = np.zeros(shape)
    with ad.use_backend("dask"):
        x = _dask(host, "one")
        got = ad.compute(
            ad.linalg.det(x),
            ad.linalg.slogdet(x)[1],
            ad.linalg.inv(x),
            ad.linalg.eigvalsh(x),
            ad.linalg.pinv(x),
        )
    want = (
        np.linalg.det(host),
        np.linalg.slogdet(host)[1],
        np.linalg.inv(host),
        np.linalg.eigvalsh(host),
        np.linalg.pinv(host),
    )
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g, w)
