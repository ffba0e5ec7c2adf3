"""The array API ``linalg`` extension on autodiff tensors, with gradients.

``ad.linalg`` is what array-API code finds as ``xp.linalg``. Every function
except ``matrix_rank`` is differentiable for real floating inputs, and ``inv``,
``solve``, ``det``, ``cholesky``, ``eigh``, ``eigvalsh`` and ``cross`` for
complex ones too (see
docs/linalg.md for the formulas and their limits: eigenvectors and singular
vectors need distinct eigen/singular values, ``det`` and ``inv`` an invertible
matrix, ``qr`` rows >= columns, ``pinv`` a matrix of constant rank).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from ._info import __array_namespace_info__
from .creation import eye, zeros
from .engine import apply, apply1
from .grad_mode import is_grad_enabled
from .ops import linalg_decomp as _dec
from .ops._util import as_tensor, normalize_axes, normalize_axis
from .ops.elementwise import abs as _abs
from .ops.elementwise import conj
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
from .ops.reduction import in_dtype
from .ops.reduction import max as _max
from .ops.reduction import min as _min
from .ops.reduction import sum as _sum
from .ops.shape import astype, broadcast_to, expand_dims, matrix_transpose, permute_dims, reshape
from .tensor import Tensor, wrap

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
    """What ``eigh`` returns: ``(eigenvalues, eigenvectors)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> res = ad.linalg.eigh(ad.tensor([[2.0, 0.0], [0.0, 1.0]]))
    >>> res.eigenvalues.tolist(), res.eigenvectors.shape
    ([1.0, 2.0], (2, 2))
    """

    eigenvalues: Tensor
    eigenvectors: Tensor


class QRResult(NamedTuple):
    """What ``qr`` returns: ``(Q, R)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> res = ad.linalg.qr(ad.eye(3))
    >>> res.Q.shape, res.R.shape
    ((3, 3), (3, 3))
    """

    Q: Tensor
    R: Tensor


class SVDResult(NamedTuple):
    """What ``svd`` returns: ``(U, S, Vh)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> res = ad.linalg.svd(ad.tensor([[3.0, 0.0], [0.0, 4.0]]))
    >>> res.S.tolist()
    [4.0, 3.0]
    """

    U: Tensor
    S: Tensor
    Vh: Tensor


class SlogdetResult(NamedTuple):
    """What ``slogdet`` returns: ``(sign, logabsdet)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> res = ad.linalg.slogdet(ad.tensor([[-2.0, 0.0], [0.0, 1.0]]))
    >>> float(res.sign), round(float(res.logabsdet), 4)
    (-1.0, 0.6931)
    """

    sign: Tensor
    logabsdet: Tensor


#: functions whose gradient rules hold for complex input (the rest raise)
_COMPLEX_GRADS = frozenset({"inv", "solve", "det", "cholesky", "eigh", "qr", "pinv"})


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
    complex_ = x.dtype.kind == "complex floating"
    if complex_ and name not in _COMPLEX_GRADS and x.requires_grad and is_grad_enabled():
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
    """Solve ``x1 @ X = x2`` (``x2`` of shape ``(..., M, K)``, or ``(M,)`` for a vector).

    Parameters
    ----------
    x1 : Tensor
        Square matrices, shape ``(..., M, M)``.
    x2 : Tensor
        Right-hand sides, shape ``(..., M, K)``, or ``(M,)`` for one vector.

    Returns
    -------
    Tensor
        ``X`` with the shape of ``x2`` (broadcast over the stack).

    Examples
    --------
    >>> import autodiff as ad
    >>> a = ad.tensor([[2.0, 0.0], [0.0, 4.0]])
    >>> ad.linalg.solve(a, ad.tensor([2.0, 2.0])).tolist()
    [1.0, 0.5]
    """
    a = _square(x1, "solve")
    b = as_tensor(x2, like=a)
    m = a.shape[-1]
    if (b.ndim == 1 and b.shape[0] != m) or (b.ndim > 1 and b.shape[-2] != m):
        raise ValueError(f"linalg.solve: shapes {a.shape} and {b.shape} do not match.")
    return apply(solve_p, (a, b))


def det(x: Any, /) -> Tensor:
    """Determinant; gradient ``det(A) A⁻ᵀ`` (needs an invertible matrix).

    Examples
    --------
    >>> import autodiff as ad
    >>> a = ad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> d = ad.linalg.det(a)
    >>> round(float(d), 4)
    -2.0
    >>> _ = d.backward()
    >>> [[round(v, 4) for v in row] for row in a.grad.tolist()]
    [[4.0, -3.0], [-2.0, 1.0]]
    """
    return apply1(det_p, _square(x, "det"))


def slogdet(x: Any, /) -> SlogdetResult:
    """Sign and natural log of the absolute determinant; ``logabsdet`` has gradient ``A⁻ᵀ``.

    Examples
    --------
    >>> import autodiff as ad
    >>> sign, logabsdet = ad.linalg.slogdet(ad.tensor([[2.0, 0.0], [0.0, 3.0]]))
    >>> float(sign), round(float(logabsdet), 4)
    (1.0, 1.7918)
    """
    return SlogdetResult(*apply(slogdet_p, (_square(x, "slogdet"),)))


def cholesky(x: Any, /, *, upper: bool = False) -> Tensor:
    """Cholesky factor of a Hermitian positive definite matrix (of ``(x + xᴴ)/2``, which
    is ``(x + xᵀ)/2`` for real ``x``).

    Lower triangular ``L`` with ``x = L Lᴴ`` (upper ``U = Lᴴ`` with ``upper=True``);
    differentiable for real and complex input.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.linalg.cholesky(ad.tensor([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    return apply1(_dec.cholesky_p, _square(x, "cholesky"), {"upper": bool(upper)})


def eigh(x: Any, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of the Hermitian matrix ``(x + xᴴ)/2``
    (``(x + xᵀ)/2`` for real ``x``); differentiable for real and complex input.

    Returns
    -------
    EighResult
        ``(eigenvalues, eigenvectors)``; eigenvector ``i`` is column ``i``.

    Examples
    --------
    >>> import autodiff as ad
    >>> w, v = ad.linalg.eigh(ad.tensor([[2.0, 1.0], [1.0, 2.0]]))
    >>> [round(x, 4) for x in w.tolist()]
    [1.0, 3.0]
    """
    return EighResult(*apply(_dec.eigh_p, (_square(x, "eigh"),)))


def eigvalsh(x: Any, /) -> Tensor:
    """Eigenvalues (ascending) of the Hermitian matrix ``(x + xᴴ)/2``; the gradient is
    ``V diag(g) Vᴴ``, also where eigenvalues repeat.

    Examples
    --------
    >>> import autodiff as ad
    >>> w = ad.linalg.eigvalsh(ad.tensor([[2.0, 1.0], [1.0, 2.0]]))
    >>> [round(x, 4) for x in w.tolist()]
    [1.0, 3.0]
    """
    return eigh(x).eigenvalues


def qr(x: Any, /, *, mode: str = "reduced") -> QRResult:
    """QR decomposition (``mode`` ``'reduced'`` or ``'complete'``); differentiable (real
    or complex, forward and reverse) for every shape in reduced mode, and in complete
    mode for rows <= columns; complete mode with more rows than columns has no
    derivative (Q's extra columns are not unique) and raises, as in PyTorch.

    Returns
    -------
    QRResult
        ``(Q, R)`` with orthonormal columns in ``Q`` and upper triangular ``R``.

    Examples
    --------
    >>> import autodiff as ad
    >>> a = ad.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> q, r = ad.linalg.qr(a)
    >>> q.shape, r.shape
    ((3, 2), (2, 2))
    >>> [[round(v, 4) for v in row] for row in (q @ r).tolist()]
    [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    """
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr: mode must be 'reduced' or 'complete', got {mode!r}.")
    return QRResult(*apply(_dec.qr_p, (_floating(x, "qr"),), {"mode": mode}))


def svd(x: Any, /, *, full_matrices: bool = True) -> SVDResult:
    """Singular value decomposition. Gradients are implemented for
    ``full_matrices=False`` (or square input) with distinct, nonzero singular values.

    Returns
    -------
    SVDResult
        ``(U, S, Vh)`` with ``x = U diag(S) Vh`` and ``S`` descending.

    Examples
    --------
    >>> import autodiff as ad
    >>> u, s, vh = ad.linalg.svd(ad.tensor([[0.0, 2.0], [1.0, 0.0]]))
    >>> [round(v, 4) for v in s.tolist()]
    [2.0, 1.0]
    """
    x = _floating(x, "svd")
    m, n = x.shape[-2], x.shape[-1]
    if full_matrices and m != n:
        if x.requires_grad:
            raise NotImplementedError(
                "the gradient of svd(full_matrices=True) on a non-square matrix is not "
                "implemented; use full_matrices=False."
            )
        u, s, vh = x._backend.xp.linalg.svd(x.data, full_matrices=True)

        return SVDResult(wrap(u, x._backend), wrap(s, x._backend), wrap(vh, x._backend))
    return SVDResult(*apply(_dec.svd_p, (x,)))


def svdvals(x: Any, /) -> Tensor:
    """Singular values, descending; the gradient is ``U diag(g) Vᵀ``, also where singular
    values repeat or vanish.

    Examples
    --------
    >>> import autodiff as ad
    >>> s = ad.linalg.svdvals(ad.tensor([[3.0, 0.0], [0.0, -4.0]]))
    >>> [round(v, 4) for v in s.tolist()]
    [4.0, 3.0]
    """
    return svd(x, full_matrices=False).S


def pinv(x: Any, /, *, rtol: float | None = None) -> Tensor:
    """Moore–Penrose pseudo-inverse; the gradient assumes the rank does not change.

    Examples
    --------
    >>> import autodiff as ad
    >>> p = ad.linalg.pinv(ad.tensor([[2.0, 0.0], [0.0, 0.0]]))
    >>> [[round(v, 4) for v in row] for row in p.tolist()]
    [[0.5, 0.0], [0.0, 0.0]]
    """
    x = _floating(x, "pinv")
    # a tensor rtol (the standard allows an array) goes to the backend as its array
    params = {} if rtol is None else {"rtol": getattr(rtol, "data", rtol)}
    return apply1(_dec.pinv_p, x, params)


def matrix_rank(x: Any, /, *, rtol: float | None = None) -> Tensor:
    """Rank (an integer tensor, no gradient).

    Examples
    --------
    >>> import autodiff as ad
    >>> int(ad.linalg.matrix_rank(ad.tensor([[1.0, 2.0], [2.0, 4.0]])))
    1
    """
    x = _floating(x, "matrix_rank")
    if x.size == 0:  # no singular values: rank 0 (not every library reduces an empty axis)
        return zeros(x.shape[:-2], dtype=_rank_dtype(x), device=x.device)
    # a tensor rtol (the standard allows an array) goes to the backend as its array
    return apply1(matrix_rank_p, x, {"rtol": getattr(rtol, "data", rtol)})


def _rank_dtype(x: Tensor) -> Any:
    # the integer dtype the backend's matrix_rank returns (its default integer dtype)

    return __array_namespace_info__().default_dtypes(device=x.device)["integral"]


def diagonal(x: Any, /, *, offset: int = 0) -> Tensor:
    """The ``offset``-th diagonal of the last two axes.

    Examples
    --------
    >>> import autodiff as ad
    >>> a = ad.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> ad.linalg.diagonal(a).tolist(), ad.linalg.diagonal(a, offset=1).tolist()
    ([1.0, 4.0], [2.0])
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"linalg.diagonal needs at least 2 dimensions, got shape {x.shape}.")
    return apply1(diagonal_p, x, {"offset": int(offset)})


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Tensor:
    """Sum of the ``offset``-th diagonal of the last two axes.

    Examples
    --------
    >>> import autodiff as ad
    >>> float(ad.linalg.trace(ad.tensor([[1.0, 2.0], [3.0, 4.0]])))
    5.0
    """
    d = diagonal(x, offset=offset)
    if dtype is not None and dtype != d.dtype:
        d = astype(d, dtype)
    return _sum(d, axis=-1)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Tensor:
    """Cross product of 3-vectors along ``axis`` (broadcasting the other axes).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.linalg.cross(ad.tensor([1.0, 0.0, 0.0]), ad.tensor([0.0, 1.0, 0.0])).tolist()
    [0.0, 0.0, 1.0]
    """
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
    """Outer product of two 1-d tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.linalg.outer(ad.tensor([1.0, 2.0]), ad.tensor([3.0, 4.0, 5.0])).tolist()
    [[3.0, 4.0, 5.0], [6.0, 8.0, 10.0]]
    """
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
    for ``ord=inf`` ties share the gradient; ``ord=0`` (a count) has zero gradient.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([3.0, -4.0], requires_grad=True)
    >>> n = ad.linalg.vector_norm(x)
    >>> float(n), float(ad.linalg.vector_norm(x, ord=1))
    (5.0, 7.0)
    >>> _ = n.backward()
    >>> [round(v, 4) for v in x.grad.tolist()]
    [0.6, -0.8]
    """
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
    ``2``, ``-2`` and ``'nuc'``; ties in max/min share the gradient).

    Examples
    --------
    >>> import autodiff as ad
    >>> a = ad.tensor([[3.0, 0.0], [0.0, 4.0]])
    >>> float(ad.linalg.matrix_norm(a)), round(float(ad.linalg.matrix_norm(a, ord=2)), 4)
    (5.0, 4.0)
    >>> float(ad.linalg.matrix_norm(a, ord=1))
    4.0
    """
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
    the identity for 0), by repeated squaring, so gradients follow from ``matmul``.

    Examples
    --------
    >>> import autodiff as ad
    >>> a = ad.tensor([[1.0, 1.0], [0.0, 1.0]])
    >>> ad.linalg.matrix_power(a, 3).tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    >>> ad.linalg.matrix_power(a, -1).tolist()
    [[1.0, -1.0], [0.0, 1.0]]
    """
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
    ``x2`` when ``axes`` is an int), by transposes, reshapes and one ``matmul``.

    Parameters
    ----------
    x1, x2 : Tensor
    axes : int or pair of sequences of int
        An int ``n`` contracts the last ``n`` axes of ``x1`` with the first ``n``
        of ``x2``; ``(axes_1, axes_2)`` names the contracted axes of each.

    Examples
    --------
    >>> import autodiff as ad
    >>> a = ad.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> float(ad.tensordot(a, a))
    30.0
    >>> ad.tensordot(a, a, axes=1).tolist()
    [[7.0, 10.0], [15.0, 22.0]]
    """
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
    """Dot product of vectors along ``axis`` (the other axes broadcast), ``sum(conj(x1) * x2)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.vecdot(ad.tensor([[1.0, 2.0], [3.0, 4.0]]), ad.tensor([1.0, 1.0])).tolist()
    [3.0, 7.0]
    """
    a = as_tensor(x1)
    b = as_tensor(x2, like=a)
    nd = builtins.max(a.ndim, b.ndim)
    ax = normalize_axis(axis, nd) - nd
    if a.ndim < -ax or b.ndim < -ax or a.shape[ax] != b.shape[ax]:
        raise ValueError(f"vecdot: shapes {a.shape} and {b.shape} differ along axis {axis}.")
    if a.dtype.kind == "complex floating":
        a = conj(a)  # the standard's vecdot conjugates its first argument
    prod = a * b
    return in_dtype(_sum(prod, axis=ax), prod.dtype)
