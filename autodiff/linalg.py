"""The array API ``linalg`` extension on autodiff tensors, with gradients.

``ad.linalg`` is what array-API code finds as ``xp.linalg``. Every function
except ``matrix_rank`` is differentiable for real floating inputs (see
docs/linalg.md for the formulas and their limits: eigenvectors and singular
vectors need distinct eigen/singular values, ``det`` and ``inv`` an invertible
matrix, ``qr`` rows >= columns, ``pinv`` a matrix of constant rank).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from .engine import apply, apply1
from .grad_mode import is_grad_enabled
from .ops import linalg_decomp as _dec
from .ops._util import as_tensor, normalize_axes, normalize_axis
from .ops.linalg import (
    cross_p,
    det_p,
    diagonal_p,
    inv_p,
    matmul,
    matrix_rank_p,
    slogdet_p,
    solve_p,
    vector_norm_p,
)
from .ops.shape import matrix_transpose
from .tensor import Tensor

__all__ = [
    "EighResult",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cross",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "trace",
    "vecdot",
    "vector_norm",
]


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


def _floating(x: Any, name: str, min_ndim: int = 2) -> Tensor:
    x = as_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(
            f"linalg.{name} needs a floating-point tensor, got {x.dtype.name}; "
            "convert it first, e.g. x.astype(ad.float64)."
        )
    if x.ndim < min_ndim:
        raise ValueError(
            f"linalg.{name} needs at least {min_ndim} dimensions, got shape {x.shape}."
        )
    if x.dtype.kind == "complex floating" and x.requires_grad and is_grad_enabled():
        raise NotImplementedError(
            f"gradients of linalg.{name} are implemented for real tensors only; this one is "
            f"{x.dtype.name}. Detach it (x.detach()) or use ad.no_grad() for the value."
        )
    return x


def _square(x: Any, name: str) -> Tensor:
    x = _floating(x, name)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"linalg.{name} needs square matrices in the last two axes, got shape {x.shape}."
        )
    return x


def inv(x: Any, /) -> Tensor:
    """Inverse of a (stack of) square matrices; gradient ``-A⁻ᵀ G A⁻ᵀ``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.linalg.inv(ad.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    return apply1(inv_p, _square(x, "inv"))


def solve(x1: Any, x2: Any, /) -> Tensor:
    """Solve ``x1 @ X = x2`` (``x2`` of shape ``(..., M, K)``, or ``(M,)`` for a vector)."""
    a = _square(x1, "solve")
    b = as_tensor(x2, like=a)
    m = a.shape[-1]
    if (b.ndim == 1 and b.shape[0] != m) or (b.ndim > 1 and b.shape[-2] != m):
        raise ValueError(f"linalg.solve: shapes {a.shape} and {b.shape} do not match.")
    return apply(solve_p, (a, b))


def det(x: Any, /) -> Tensor:
    """Determinant; gradient ``det(A) A⁻ᵀ`` (needs an invertible matrix)."""
    return apply1(det_p, _square(x, "det"))


def slogdet(x: Any, /) -> SlogdetResult:
    """Sign and natural log of the absolute determinant; ``logabsdet`` has gradient ``A⁻ᵀ``."""
    return SlogdetResult(*apply(slogdet_p, (_square(x, "slogdet"),)))


def cholesky(x: Any, /, *, upper: bool = False) -> Tensor:
    """Cholesky factor of a symmetric positive definite matrix (of ``(x + xᵀ)/2``)."""
    return apply1(_dec.cholesky_p, _square(x, "cholesky"), {"upper": bool(upper)})


def eigh(x: Any, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of the symmetric matrix ``(x + xᵀ)/2``."""
    return EighResult(*apply(_dec.eigh_p, (_square(x, "eigh"),)))


def eigvalsh(x: Any, /) -> Tensor:
    """Eigenvalues (ascending) of the symmetric matrix ``(x + xᵀ)/2``."""
    return eigh(x).eigenvalues


def qr(x: Any, /, *, mode: str = "reduced") -> QRResult:
    """QR decomposition (``mode`` ``'reduced'`` or ``'complete'``); differentiable for
    rows >= columns in reduced mode (and square input in complete mode)."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr: mode must be 'reduced' or 'complete', got {mode!r}.")
    return QRResult(*apply(_dec.qr_p, (_floating(x, "qr"),), {"mode": mode}))


def svd(x: Any, /, *, full_matrices: bool = True) -> SVDResult:
    """Singular value decomposition. Gradients are implemented for
    ``full_matrices=False`` (or square input) with distinct, nonzero singular values."""
    x = _floating(x, "svd")
    m, n = x.shape[-2], x.shape[-1]
    if full_matrices and m != n:
        if x.requires_grad:
            raise NotImplementedError(
                "the gradient of svd(full_matrices=True) on a non-square matrix is not "
                "implemented; use full_matrices=False."
            )
        u, s, vh = x._backend.xp.linalg.svd(x.data, full_matrices=True)
        from .tensor import wrap

        return SVDResult(wrap(u, x._backend), wrap(s, x._backend), wrap(vh, x._backend))
    return SVDResult(*apply(_dec.svd_p, (x,)))


def svdvals(x: Any, /) -> Tensor:
    """Singular values, descending."""
    return svd(x, full_matrices=False).S


def pinv(x: Any, /, *, rtol: float | None = None) -> Tensor:
    """Moore–Penrose pseudo-inverse; the gradient assumes the rank does not change."""
    x = _floating(x, "pinv")
    params = {} if rtol is None else {"rtol": rtol}
    return apply1(_dec.pinv_p, x, params)


def matrix_rank(x: Any, /, *, rtol: float | None = None) -> Tensor:
    """Rank (an integer tensor, no gradient)."""
    return apply1(matrix_rank_p, _floating(x, "matrix_rank"), {"rtol": rtol})


def diagonal(x: Any, /, *, offset: int = 0) -> Tensor:
    """The ``offset``-th diagonal of the last two axes."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"linalg.diagonal needs at least 2 dimensions, got shape {x.shape}.")
    return apply1(diagonal_p, x, {"offset": int(offset)})


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Tensor:
    """Sum of the ``offset``-th diagonal of the last two axes."""
    from .ops.reduction import sum as _sum

    d = diagonal(x, offset=offset)
    if dtype is not None and dtype != d.dtype:
        from .ops.shape import astype

        d = astype(d, dtype)
    return _sum(d, axis=-1)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Tensor:
    """Cross product of 3-vectors along ``axis`` (broadcasting the other axes)."""
    a = as_tensor(x1)
    b = as_tensor(x2, like=a)
    nd = builtins.max(a.ndim, b.ndim)
    ax = normalize_axis(axis, nd) - nd
    if a.ndim < -ax or b.ndim < -ax or a.shape[ax] != 3 or b.shape[ax] != 3:
        raise ValueError(
            f"linalg.cross needs size 3 along axis {axis}, got shapes {a.shape} and {b.shape}."
        )
    return apply(cross_p, (a, b), {"axis": ax})


def outer(x1: Any, x2: Any, /) -> Tensor:
    """Outer product of two 1-d tensors."""
    from .ops.shape import expand_dims

    a = as_tensor(x1)
    b = as_tensor(x2, like=a)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"linalg.outer needs 1-d tensors, got shapes {a.shape} and {b.shape}.")
    return expand_dims(a, axis=1) * expand_dims(b, axis=0)


def vector_norm(
    x: Any,
    /,
    *,
    axis: Any = None,
    keepdims: bool = False,
    ord: float = 2,  # noqa: A002
) -> Tensor:
    """p-norm over ``axis`` (all axes when None). The gradient at a zero vector is 0;
    for ``ord=inf`` ties share the gradient; ``ord=0`` (a count) has zero gradient."""
    x = _floating(x, "vector_norm", min_ndim=0)
    if axis is not None:
        axes = normalize_axes(axis, x.ndim)
        axis = axes[0] if isinstance(axis, int) else axes
    if not isinstance(ord, (int, float)) or isinstance(ord, bool):
        raise ValueError(f"linalg.vector_norm: ord must be a number, got {ord!r}.")
    return apply1(vector_norm_p, x, {"axis": axis, "keepdims": bool(keepdims), "ord": ord})


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Tensor:  # noqa: A002
    """Matrix norm over the last two axes: ``'fro'``, ``'nuc'``, ``1``, ``-1``, ``2``,
    ``-2``, ``inf``, ``-inf``. Built from differentiable pieces (``svdvals`` for
    ``2``, ``-2`` and ``'nuc'``; ties in max/min share the gradient)."""
    from .ops.elementwise import abs as _abs
    from .ops.reduction import max as _max
    from .ops.reduction import min as _min
    from .ops.reduction import sum as _sum
    from .ops.shape import expand_dims

    x = _floating(x, "matrix_norm")
    if ord == "fro":
        out = vector_norm(x, axis=(-2, -1))
    elif ord in ("nuc", 2, -2):
        s = svdvals(x)
        out = _sum(s, axis=-1) if ord == "nuc" else (_max if ord == 2 else _min)(s, axis=-1)
    elif ord in (1, -1, math.inf, -math.inf):
        red = -2 if ord in (1, -1) else -1
        sums = _sum(_abs(x), axis=red)
        out = (_max if ord > 0 else _min)(sums, axis=-1)
    else:
        raise ValueError(
            f"linalg.matrix_norm: unsupported ord {ord!r}; use 'fro', 'nuc', 1, -1, 2, -2, "
            "inf or -inf."
        )
    if keepdims:
        out = expand_dims(expand_dims(out, axis=-1), axis=-1)
    return out


def matrix_power(x: Any, n: int, /) -> Tensor:
    """``x`` multiplied by itself ``n`` times (``inv(x)`` powers for negative ``n``;
    the identity for 0), by repeated squaring, so gradients follow from ``matmul``."""
    from .creation import eye
    from .ops.shape import broadcast_to

    x = _square(x, "matrix_power")
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {n!r}.")
    if n == 0:
        ident = eye(x.shape[-1], dtype=x.dtype, device=x.device)
        return broadcast_to(ident, x.shape)
    base = inv(x) if n < 0 else x
    k = builtins.abs(n)
    result: Tensor | None = None
    while k:
        if k & 1:
            result = base if result is None else matmul(result, base)
        k >>= 1
        if k:
            base = matmul(base, base)
    assert result is not None
    return result


def tensordot(x1: Any, x2: Any, /, *, axes: int | Sequence[Sequence[int]] = 2) -> Tensor:
    """Sum products over the given axes (the last ``axes`` of ``x1`` with the first of
    ``x2`` when ``axes`` is an int), by transposes, reshapes and one ``matmul``."""
    from .ops.shape import permute_dims, reshape

    a = as_tensor(x1)
    b = as_tensor(x2, like=a)
    if isinstance(axes, int):
        if axes < 0 or axes > builtins.min(a.ndim, b.ndim):
            raise ValueError(
                f"tensordot: axes={axes} is out of range for shapes {a.shape} and {b.shape}."
            )
        ax_a = tuple(range(a.ndim - axes, a.ndim))
        ax_b = tuple(range(axes))
    else:
        pa, pb = axes
        ax_a = tuple(normalize_axis(int(i), a.ndim) for i in pa)
        ax_b = tuple(normalize_axis(int(i), b.ndim) for i in pb)
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: axes {axes!r} name different numbers of axes.")
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"tensordot: axis {i} of shape {a.shape} and axis {j} of shape {b.shape} "
                "have different sizes."
            )
    free_a = tuple(i for i in range(a.ndim) if i not in ax_a)
    free_b = tuple(i for i in range(b.ndim) if i not in ax_b)
    k = math.prod(a.shape[i] for i in ax_a)
    fa = tuple(a.shape[i] for i in free_a)
    fb = tuple(b.shape[i] for i in free_b)
    am = reshape(permute_dims(a, free_a + ax_a), (math.prod(fa), k))
    bm = reshape(permute_dims(b, ax_b + free_b), (k, math.prod(fb)))
    return reshape(matmul(am, bm), fa + fb)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Tensor:
    """Dot product of vectors along ``axis`` (the other axes broadcast); real inputs."""
    from .ops.reduction import sum as _sum

    a = as_tensor(x1)
    b = as_tensor(x2, like=a)
    nd = builtins.max(a.ndim, b.ndim)
    ax = normalize_axis(axis, nd) - nd
    if a.ndim < -ax or b.ndim < -ax or a.shape[ax] != b.shape[ax]:
        raise ValueError(f"vecdot: shapes {a.shape} and {b.shape} differ along axis {axis}.")
    if a.dtype.kind == "complex floating":
        raise NotImplementedError("vecdot of complex tensors is not supported yet.")
    return _sum(a * b, axis=ax)
