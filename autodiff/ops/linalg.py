"""Linear algebra primitives: forward and gradient rule side by side."""

from __future__ import annotations

from typing import Any

from ..engine import apply2, primitive
from ..tensor import Tensor
from ._util import scalar_or_tensor

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


matmul_p = primitive("matmul", lambda xp, a, b: xp.matmul(a, b), vjps=(_matmul_da, _matmul_db))


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
