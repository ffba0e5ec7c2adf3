"""Linear algebra primitives: forward and gradient rule side by side."""

from __future__ import annotations

import math
from typing import Any

from .._core import primitive
from ..engine import apply2
from ..tensor import Tensor
from ._rules import bilinear, dense_jvp, elementwise, front, lift, linear, on_stacks, shift_axes
from ._util import scalar_or_tensor
from .reduction import kept_shape

__all__ = ["matmul"]


def _matmul_da(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    # dA = G Bᵀ (1-d operands are a row / column vector; the engine sums batch axes)
    if b.ndim == 1:
        return xp.expand_dims(g, axis=-1) * b
    if a.ndim == 1:
        return xp.squeeze(xp.matmul(b, xp.expand_dims(g, axis=-1)), axis=-1)
    return xp.matmul(g, xp.matrix_transpose(b))


def _matmul_db(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    # dB = Aᵀ G
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if a.ndim == 1:
        return xp.expand_dims(a, axis=-1) * xp.expand_dims(g, axis=-2)
    if b.ndim == 1:
        return xp.squeeze(xp.matmul(xp.matrix_transpose(a), xp.expand_dims(g, axis=-1)), axis=-1)
    return xp.matmul(xp.matrix_transpose(a), g)


def _matmul_batch(xp: Any, dims: Any, a: Any, b: Any) -> tuple[Any, int]:
    # batch axes first; a batched 1-d operand becomes a row (column) matrix and its axis is
    # squeezed from the result; batched operands get the rank of the widest example, so
    # they broadcast against each other and unbatched stacks as the examples do
    da, db = dims
    ra = a.ndim - (da is not None)
    rb = b.ndim - (db is not None)
    a = front(xp, a, da)
    b = front(xp, b, db)
    vec_a = da is not None and ra == 1
    vec_b = db is not None and rb == 1
    if vec_a:
        a = xp.expand_dims(a, axis=1)
    if vec_b:
        b = xp.expand_dims(b, axis=-1)
    rank = max(2 if vec_a else ra, 2 if vec_b else rb)
    if da is not None:
        a = lift(xp, a, rank)
    if db is not None:
        b = lift(xp, b, rank)
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1 and b.shape[-2] == 1:
        # a stack of outer products (a per-example weight gradient x^T g): the same
        # products, without a batched matmul that BLAS runs one tiny matrix at a time
        out = a * b
    elif db is None and b.ndim == 2 and a.ndim > 2:
        # a batched stack times one matrix: one matrix product over the stack's rows (a
        # batched matmul would run one small product per example, a row each for a
        # per-example vector)
        shape = tuple(int(n) for n in a.shape)
        rows = xp.reshape(a, (math.prod(shape[:-1]), shape[-1]))
        out = xp.reshape(xp.matmul(rows, b), (*shape[:-1], int(b.shape[-1])))
    else:
        out = xp.matmul(a, b)
    if vec_b:
        out = xp.squeeze(out, axis=-1)
    if vec_a:
        out = xp.squeeze(out, axis=-1 if rb == 1 else -2)
    return out, 0


matmul_p = primitive(
    "matmul",
    lambda xp, a, b: xp.matmul(a, b),
    vjps=(_matmul_da, _matmul_db),
    holomorphic=True,
    jvp=bilinear("matmul"),
    batch=_matmul_batch,
)


def matmul(x1: Any, x2: Any, /) -> Tensor:
    """Matrix product with NumPy's rules for 1-d operands and batch broadcasting.

    Examples
    --------
    >>> import autodiff as ad
    >>> a = ad.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> ad.matmul(a, ad.tensor([1.0, 1.0])).tolist()
    [3.0, 7.0]
    """
    a, b = scalar_or_tensor(x1, x2)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul does not accept Python scalars; use multiply for scaling.")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul needs operands with at least 1 dimension, got shapes {a.shape} and {b.shape}."
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: {k_a} (last axis of the "
            f"first) != {k_b} ({'only' if b.ndim == 1 else 'second-to-last'} axis of the second)."
        )
    return apply2(matmul_p, a, b)


# -- helpers for the rules (array API only: they also run with xp = autodiff) ------


def _mT(xp: Any, a: Any) -> Any:
    return xp.matrix_transpose(a)


# (Dask's arrays have no .device: they live on the default one, hence the getattr)


def _eye_like(xp: Any, a: Any) -> Any:
    n = a.shape[-1]
    return xp.eye(n, dtype=a.dtype, device=getattr(a, "device", None))


def _unsq2(xp: Any, g: Any) -> Any:
    # (...,) -> (..., 1, 1)
    return xp.expand_dims(xp.expand_dims(g, axis=-1), axis=-1)


# -- inv, solve, det, slogdet ------------------------------------------------------


def _inv_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # d(A⁻¹) = -A⁻¹ dA A⁻¹  ⇒  Ā = -A⁻ᵀ G A⁻ᵀ
    at = _mT(xp, ans)
    return (-xp.matmul(at, xp.matmul(g, at)),)


inv_p = primitive(
    "linalg.inv",
    lambda xp, a: xp.linalg.inv(a),
    _inv_vjp,
    holomorphic=True,
    # d(A⁻¹) = -A⁻¹ dA A⁻¹
    jvp=lambda xp, t, ans, a: None if t[0] is None else -xp.matmul(ans, xp.matmul(t[0], ans)),
    batch=on_stacks("linalg.inv"),
)


def _solve_vjp(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> tuple[Any, Any]:
    # X = A⁻¹B  ⇒  B̄ = A⁻ᵀ G,  Ā = -B̄ Xᵀ
    if b.ndim == 1:
        # b is one vector for every matrix of a: solve each as a column
        col = xp.linalg.solve(_mT(xp, a), xp.expand_dims(g, axis=-1))
        gb = xp.squeeze(col, axis=-1)
        ga = -(xp.expand_dims(gb, axis=-1) * xp.expand_dims(ans, axis=-2))
        return ga, gb
    gb = xp.linalg.solve(_mT(xp, a), g)
    ga = -xp.matmul(gb, _mT(xp, ans))
    return ga, gb


def _solve_jvp(xp: Any, tangents: Any, ans: Any, a: Any, b: Any) -> Any:
    # dX = A⁻¹ (dB - dA X); a 1-d b is one vector for every matrix: solved as a column
    ta, tb = tangents
    if ta is None and tb is None:
        return None
    col = b.ndim == 1
    x = xp.expand_dims(ans, axis=-1) if col else ans
    rhs: Any = None if ta is None else -xp.matmul(ta, x)
    if tb is not None:
        tb = xp.expand_dims(tb, axis=-1) if col else tb
        rhs = tb if rhs is None else rhs + tb
    if tuple(rhs.shape) != tuple(x.shape):
        rhs = xp.broadcast_to(rhs, tuple(x.shape))
    out = xp.linalg.solve(a, rhs)
    return xp.squeeze(out, axis=-1) if col else out


def _solve_batch(xp: Any, dims: Any, a: Any, b: Any) -> tuple[Any, int]:
    # batch axes first and ranks aligned; a batched 1-d b becomes a column
    da, db = dims
    ra = a.ndim - (da is not None)
    rb = b.ndim - (db is not None)
    a = front(xp, a, da)
    b = front(xp, b, db)
    col = db is not None and rb == 1
    if col:
        b = xp.expand_dims(b, axis=-1)
    rank = max(ra, 2 if col else rb)
    if da is not None:
        a = lift(xp, a, rank)
    if db is not None:
        b = lift(xp, b, rank)
    out = xp.linalg.solve(a, b)
    return (xp.squeeze(out, axis=-1) if col else out), 0


solve_p = primitive(
    "linalg.solve",
    lambda xp, a, b: xp.linalg.solve(a, b),
    _solve_vjp,
    holomorphic=True,
    jvp=_solve_jvp,
    batch=_solve_batch,
)


def _det_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # d det A = det A · tr(A⁻¹ dA)  ⇒  Ā = g det(A) A⁻ᵀ (A must be invertible)
    if a.shape[-1] == 0:
        return (xp.zeros_like(a),)  # det of 0×0 is the constant 1 (and MLX must not see it)
    return (_unsq2(xp, g * ans) * _mT(xp, xp.linalg.inv(a)),)


def _trace_inv(xp: Any, a: Any, t: Any) -> Any:
    # tr(A⁻¹ dA)
    return xp.sum(_mT(xp, xp.linalg.inv(a)) * t, axis=(-2, -1))


def _det_jvp(xp: Any, tangents: Any, ans: Any, a: Any) -> Any:
    # d det A = det A · tr(A⁻¹ dA)
    t = tangents[0]
    if t is None:
        return None
    if a.shape[-1] == 0:
        return xp.zeros_like(ans)
    return ans * _trace_inv(xp, a, t)


det_p = primitive(
    "linalg.det",
    lambda xp, a: xp.linalg.det(a),
    _det_vjp,
    holomorphic=True,
    jvp=_det_jvp,
    batch=on_stacks("linalg.det"),
)


def _slogdet_fwd(xp: Any, a: Any) -> tuple[Any, Any]:
    sign, logabsdet = xp.linalg.slogdet(a)
    return sign, logabsdet


def _slogdet_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # the sign is piecewise constant; d log|det A| = tr(A⁻¹ dA)
    return (_unsq2(xp, g[1]) * _mT(xp, xp.linalg.inv(a)),)


def _slogdet_jvp(xp: Any, tangents: Any, ans: Any, a: Any) -> tuple[Any, Any]:
    # d log|det A| = Re tr(A⁻¹ dA); the sign is constant for real A and turns by
    # i Im tr(A⁻¹ dA) for complex A
    t = tangents[0]
    if t is None:
        return None, None
    tr = _trace_inv(xp, a, t)
    if not xp.isdtype(tr.dtype, "complex floating"):
        return None, tr
    return ans[0] * (xp.imag(tr) * 1j), xp.real(tr)


slogdet_p = primitive(
    "linalg.slogdet",
    _slogdet_fwd,
    _slogdet_vjp,
    nout=2,
    jvp=_slogdet_jvp,
    batch=on_stacks("linalg.slogdet"),
)


# -- diagonal, cross, vector_norm, matrix_rank --------------------------------------


def _diag_embed_matrix(xp: Any, like: Any, n: int, m: int, offset: int) -> Any:
    # E[l, i*m + j] = 1 where (i, j) is the l-th element of the offset diagonal
    length = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    rows = xp.arange(length, device=getattr(like, "device", None)) + max(0, -offset)
    cols = rows + offset
    flat = xp.reshape(rows * m + cols, (-1, 1))
    return xp.astype(flat == xp.arange(n * m, device=getattr(like, "device", None)), like.dtype)


def _diagonal_vjp(xp: Any, g: Any, ans: Any, a: Any, offset: int = 0) -> tuple[Any]:
    n, m = a.shape[-2], a.shape[-1]
    e = _diag_embed_matrix(xp, g, n, m, offset)
    out = xp.matmul(g, e)
    return (xp.reshape(out, (*tuple(g.shape)[:-1], n, m)),)


diagonal_p = primitive(
    "linalg.diagonal",
    lambda xp, a, offset=0: xp.linalg.diagonal(a, offset=offset),
    _diagonal_vjp,
    jvp=linear("linalg.diagonal"),
    batch=on_stacks("linalg.diagonal"),
)


def _cross_fwd(xp: Any, a: Any, b: Any, axis: int = -1) -> Any:
    return xp.linalg.cross(a, b, axis=axis)


cross_p = primitive(
    "linalg.cross",
    _cross_fwd,
    vjps=(
        # d(a × b) = da × b + a × db  ⇒  ā = b × g,  b̄ = g × a (conjugated on complex data)
        lambda xp, g, ans, a, b, axis=-1: xp.linalg.cross(b, g, axis=axis),
        lambda xp, g, ans, a, b, axis=-1: xp.linalg.cross(g, a, axis=axis),
    ),
    holomorphic=True,
    jvp=bilinear("linalg.cross"),
    batch=elementwise("linalg.cross", in_place=False),  # (axis counts from the end)
)


def _vnorm_fwd(xp: Any, a: Any, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:  # noqa: A002
    return xp.linalg.vector_norm(a, axis=axis, keepdims=keepdims, ord=ord)


def _vnorm_vjp(
    xp: Any,
    g: Any,
    ans: Any,
    a: Any,
    axis: Any = None,
    keepdims: bool = False,
    ord: Any = 2,  # noqa: A002
) -> tuple[Any]:
    kept = kept_shape(tuple(a.shape), axis)
    g = xp.reshape(g, kept)
    n = xp.reshape(ans, kept)
    absa = xp.abs(a)
    sgn = xp.sign(a)
    if ord == 0:
        return (xp.zeros_like(a),)
    if ord == 1:
        return (g * sgn,)
    if ord in (math.inf, -math.inf):
        # the extreme |x| elements share the gradient (as max/min do)
        hit = xp.astype(absa == n, a.dtype)
        axes = tuple(range(a.ndim)) if axis is None else axis
        share = xp.sum(hit, axis=axes, keepdims=True)
        return (g * sgn * hit / share,)
    # d‖x‖_p = sign(x) |x|^(p-1) / ‖x‖^(p-1); the subgradient at ‖x‖ = 0 is chosen as 0
    zero = n == 0
    safe = xp.where(zero, xp.ones_like(n), n)
    if ord == 2:
        part = a / safe
    else:
        part = sgn * (absa / safe) ** (ord - 1)
    return (xp.where(zero, xp.zeros_like(part), g * part),)


vector_norm_p = primitive(
    "linalg.vector_norm",
    _vnorm_fwd,
    _vnorm_vjp,
    jvp=dense_jvp("linalg.vector_norm"),
    batch=shift_axes("linalg.vector_norm"),
)
matrix_rank_p = primitive(
    "linalg.matrix_rank",
    lambda xp, a, rtol=None: xp.linalg.matrix_rank(a, rtol=rtol),
    batch=on_stacks("linalg.matrix_rank"),
)
