"""Products, moments, scans, arg-reductions and truth tests.

``prod``, ``cumulative_sum`` and ``cumulative_prod`` are primitives with exact rules,
zeros included (``cumulative_prod`` divides only when no input is 0, else it takes an
O(n²) path without division); ``var`` and ``std`` are
compositions of differentiable primitives, so they are differentiable to any order;
``argmax``, ``argmin``, ``all``, ``any`` and ``count_nonzero`` give results that never
require grad.
"""

from __future__ import annotations

from typing import Any

from .._core import primitive
from ..creation import _device_default, zeros
from ..creation import var as named_leaf
from ..engine import apply1
from ..tensor import Tensor
from ._rules import dense_jvp, linear, shift_axes
from ._util import as_tensor, normalize_axes, normalize_axis
from .elementwise import conj, real, where
from .reduction import _count, _reduce, in_dtype, kept_shape, mean
from .reduction import sum as _sum
from .shape import _inverse, concat
from .transcendental import sqrt

__all__ = [
    "all",
    "any",
    "argmax",
    "argmin",
    "count_nonzero",
    "cumulative_prod",
    "cumulative_sum",
    "diff",
    "prod",
    "std",
    "var",
]


def _along(axis: int, part: slice) -> tuple[Any, ...]:
    return (slice(None),) * axis + (part, Ellipsis)


def _rcumsum(xp: Any, v: Any, axis: int) -> Any:
    # reversed inclusive scan: out[k] = sum of v[i] for i >= k
    return xp.flip(xp.cumulative_sum(xp.flip(v, axis=axis), axis=axis), axis=axis)


# -- scans --------------------------------------------------------------------------


def _cumsum_fwd(xp: Any, a: Any, axis: int, include_initial: bool = False) -> Any:
    return xp.cumulative_sum(a, axis=axis, include_initial=include_initial)


def _cumsum_vjp(
    xp: Any, g: Any, ans: Any, a: Any, axis: int, include_initial: bool = False
) -> tuple[Any]:
    # x[k] appears in every partial sum from position k on (k + 1 with the initial 0)
    if include_initial:
        g = g[_along(axis, slice(1, None))]
    return (_rcumsum(xp, g, axis),)


cumulative_sum_p = primitive(
    "cumulative_sum",
    _cumsum_fwd,
    _cumsum_vjp,
    jvp=linear("cumulative_sum"),
    batch=shift_axes("cumulative_sum"),
)


def _cumprod_fwd(xp: Any, a: Any, axis: int, include_initial: bool = False) -> Any:
    return xp.cumulative_prod(a, axis=axis, include_initial=include_initial)


def _cumprod_vjp(
    xp: Any, g: Any, ans: Any, a: Any, axis: int, include_initial: bool = False
) -> tuple[Any]:
    # d/dx_k = sum_{i>=k} g_i prod_{j<=i, j!=k} x_j
    if include_initial:
        tail = _along(axis, slice(1, None))
        g, ans = g[tail], ans[tail]
    if not bool(xp.any(a == 0)):
        # no zeros: prod_{j<=i, j!=k} x_j = y_i / x_k
        return (_rcumsum(xp, g * ans, axis) / a,)
    # with zeros, no division: d/dx_k = (prod_{j<k} x_j) * sum_{i>=k} g_i prod_{k<j<=i} x_j,
    # the inner products as scans over an (n, n) table; exact to any order
    x = xp.moveaxis(a, axis, -1)
    gl = xp.moveaxis(g, axis, -1)
    n = x.shape[-1]
    row = xp.expand_dims(x, axis=-2)  # [..., k, j] = x_j
    grid = xp.ones_like(row * xp.expand_dims(x, axis=-1))
    strictly_after = xp.triu(grid, k=1) == 1  # j > k
    table = xp.cumulative_prod(xp.where(strictly_after, row, 1.0), axis=-1)
    from_k = xp.triu(grid) == 1  # i >= k
    inner = xp.sum(xp.where(from_k, table, 0.0) * xp.expand_dims(gl, axis=-2), axis=-1)
    before = xp.cumulative_prod(x, axis=-1, include_initial=True)[..., :n]
    return (xp.moveaxis(before * inner, -1, axis),)


def _cumprod_jvp(
    xp: Any, tangents: Any, ans: Any, a: Any, axis: int, include_initial: bool = False
) -> Any:
    # dy_i = sum_{k<=i} t_k prod_{j<=i, j!=k} x_j
    t = tangents[0]
    if t is None:
        return None
    if not bool(xp.any(a == 0)):
        y = ans[_along(axis, slice(1, None))] if include_initial else ans
        out = y * xp.cumulative_sum(t / a, axis=axis)
    else:
        # with zeros, no division: row k of an (n, n) table is the running product with
        # x_k replaced by t_k, kept from position k on; exact to any order
        x = xp.moveaxis(a, axis, -1)
        tl = xp.moveaxis(t, axis, -1)
        row = xp.expand_dims(x, axis=-2)  # [..., k, j] = x_j
        grid = xp.ones_like(row * xp.expand_dims(tl, axis=-1))
        from_k = xp.triu(grid) == 1  # j >= k
        at_k = xp.logical_and(from_k, xp.logical_not(xp.triu(grid, k=1) == 1))  # j == k
        table = xp.cumulative_prod(xp.where(at_k, xp.expand_dims(tl, axis=-1), row), axis=-1)
        out = xp.moveaxis(xp.sum(xp.where(from_k, table, 0.0), axis=-2), -1, axis)
    if include_initial:
        out = xp.concat([xp.zeros_like(out[_along(axis, slice(0, 1))]), out], axis=axis)
    return out


cumulative_prod_p = primitive(
    "cumulative_prod",
    _cumprod_fwd,
    _cumprod_vjp,
    holomorphic=True,
    jvp=_cumprod_jvp,
    batch=shift_axes("cumulative_prod"),
)


def _scan(prim: Any, x: Any, axis: Any, dtype: Any, include_initial: bool, name: str) -> Tensor:
    x = as_tensor(x)
    if axis is None:
        if x.ndim > 1:
            raise ValueError(
                f"{name}: axis is required for a tensor with {x.ndim} dimensions "
                f"(shape {x.shape}); pass axis=..., or reshape to 1-D first."
            )
        axis = 0
    if x.ndim == 0:
        raise ValueError(f"{name} needs at least one dimension, got a 0-d tensor.")
    axis = normalize_axis(axis, x.ndim)
    if dtype is None:
        return apply1(prim, x, {"axis": axis, "include_initial": bool(include_initial)})
    out = apply1(prim, x.astype(dtype), {"axis": axis, "include_initial": bool(include_initial)})
    return in_dtype(out, dtype)


def cumulative_sum(
    x: Any, /, *, axis: int | None = None, dtype: Any = None, include_initial: bool = False
) -> Tensor:
    """Running sum along ``axis`` (optional for 1-D input).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.cumulative_sum(ad.tensor([1.0, 2.0, 3.0])).tolist()
    [1.0, 3.0, 6.0]
    """
    return _scan(cumulative_sum_p, x, axis, dtype, include_initial, "cumulative_sum")


def cumulative_prod(
    x: Any, /, *, axis: int | None = None, dtype: Any = None, include_initial: bool = False
) -> Tensor:
    """Running product along ``axis``; the gradient is exact where inputs are 0.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> ad.cumulative_prod(x).tolist()
    [2.0, 0.0, 0.0]
    >>> _ = ad.cumulative_prod(x).sum().backward()
    >>> x.grad.tolist()
    [1.0, 8.0, 0.0]
    """
    return _scan(cumulative_prod_p, x, axis, dtype, include_initial, "cumulative_prod")


# -- product --------------------------------------------------------------------------


def _prod_fwd(xp: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return xp.prod(a, axis=axis, keepdims=keepdims)


def _prod_vjp(xp: Any, g: Any, ans: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    # d prod / dx_k = product of the others = (exclusive prefix) * (exclusive suffix),
    # computed over the reduced axes moved last and flattened: exact with zeros
    shape = tuple(a.shape)
    axes = normalize_axes(axis, len(shape))
    rest = tuple(i for i in range(len(shape)) if i not in axes)
    perm = rest + axes
    moved = xp.permute_dims(a, perm)
    n = _count(shape, axis)
    flat = xp.reshape(moved, (*(shape[i] for i in rest), n))
    left = xp.cumulative_prod(flat, axis=-1, include_initial=True)[..., :-1]
    right = xp.flip(
        xp.cumulative_prod(xp.flip(flat, axis=-1), axis=-1, include_initial=True)[..., :-1],
        axis=-1,
    )
    others = xp.reshape(left * right, tuple(moved.shape))
    others = xp.permute_dims(others, _inverse(perm))
    return (xp.reshape(g, kept_shape(shape, axis)) * others,)


prod_p = primitive(
    "prod",
    _prod_fwd,
    _prod_vjp,
    holomorphic=True,
    jvp=dense_jvp("prod"),
    batch=shift_axes("prod"),
)


def prod(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """Product over ``axis``; the gradient is exact where inputs are 0.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> _ = ad.prod(x).backward()
    >>> x.grad.tolist()
    [0.0, 6.0, 0.0]
    """
    x = as_tensor(x)
    if dtype is None:
        return _reduce(prod_p, x, axis, keepdims)
    return in_dtype(_reduce(prod_p, x.astype(dtype), axis, keepdims), dtype)


# -- moments ------------------------------------------------------------------------


_NO_VALUE: Any = object()


def var(
    x: Any,
    value: Any = _NO_VALUE,
    /,
    *,
    axis: Any = None,
    correction: float = 0.0,
    keepdims: bool = False,
    dtype: Any = None,
    device: Any = None,
) -> Tensor:
    """Variance over ``axis``, dividing by ``N - correction`` (1 for the sample variance).

    ``var`` has two meanings, told apart by the first argument: the array API's variance
    of a tensor, and, when the first argument is a name, ``ad.var(name, value)``: a
    named leaf that requires grad (see ``autodiff.creation.var``).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.var(ad.tensor([1.0, 2.0, 3.0, 4.0])).item()
    1.25
    >>> round(ad.var(ad.tensor([1.0, 2.0, 3.0, 4.0]), correction=1).item(), 6)
    1.666667
    >>> ad.var("w", 2.0).name
    'w'
    """
    if isinstance(x, str):
        if value is _NO_VALUE:
            raise TypeError(f"ad.var({x!r}, value) needs a value for the named leaf.")
        return named_leaf(x, value, dtype=dtype, device=device)
    if value is not _NO_VALUE or dtype is not None or device is not None:
        raise TypeError(
            "var(x, *, axis=None, correction=0.0, keepdims=False) is the variance of a "
            "tensor; for a named leaf pass a name first: ad.var('x', 2.0)."
        )
    x = as_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(f"var needs a floating-point tensor, got {x.dtype.name}.")
    d = x - mean(x, axis=axis, keepdims=True)
    sq = real(d * conj(d)) if x.dtype.kind == "complex floating" else d * d
    n = _count(tuple(x.shape), axis)
    return _sum(sq, axis=axis, keepdims=keepdims) / (n - correction)


def std(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Tensor:
    """Standard deviation over ``axis`` (``sqrt(var(...))``, same ``correction``); where
    the variance is 0 the gradient is 0 (as PyTorch's), not ``inf · 0``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.std(ad.tensor([1.0, 3.0])).item()
    1.0
    """
    v = var(x, axis=axis, correction=correction, keepdims=keepdims)
    flat = v == 0  # a constant slice: sqrt'(0) = inf would meet var's zero gradient
    return where(flat, 0.0, sqrt(where(flat, 1.0, v)))


# -- no gradient: arg-reductions and truth tests -----------------------------------------

argmax_p = primitive(
    "argmax",
    lambda xp, a, axis=None, keepdims=False: xp.argmax(a, axis=axis, keepdims=keepdims),
    batch=shift_axes("argmax", none="flat"),
)
argmin_p = primitive(
    "argmin",
    lambda xp, a, axis=None, keepdims=False: xp.argmin(a, axis=axis, keepdims=keepdims),
    batch=shift_axes("argmin", none="flat"),
)
all_p = primitive(
    "all",
    lambda xp, a, axis=None, keepdims=False: xp.all(a, axis=axis, keepdims=keepdims),
    batch=shift_axes("all"),
)
any_p = primitive(
    "any",
    lambda xp, a, axis=None, keepdims=False: xp.any(a, axis=axis, keepdims=keepdims),
    batch=shift_axes("any"),
)
count_nonzero_p = primitive(
    "count_nonzero",
    lambda xp, a, axis=None, keepdims=False: xp.count_nonzero(a, axis=axis, keepdims=keepdims),
    batch=shift_axes("count_nonzero"),
)


def _arg(prim: Any, x: Any, axis: int | None, keepdims: bool) -> Tensor:
    x = as_tensor(x)
    if axis is not None:
        axis = normalize_axis(axis, x.ndim)
    if x.size == 0 and (axis is None or x.shape[axis] == 0):
        # an empty reduced axis has no first extremum (a (0, 4) tensor along axis 1 has: ())
        raise ValueError(
            f"{prim.name} over an empty axis (shape {x.shape}, axis {axis}) is undefined."
        )
    if x.size == 0:  # nothing to compare: answered here (MLX refuses any empty argmax)
        kept = 1 if keepdims else None
        shape = tuple(kept if i == axis else n for i, n in enumerate(x.shape))
        index = _device_default(x._backend, x.device, "indexing")
        return zeros(tuple(n for n in shape if n is not None), dtype=index, device=x.device)
    return apply1(prim, x, {"axis": axis, "keepdims": bool(keepdims)})


def argmax(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the first maximum along ``axis`` (of the flattened tensor if None).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.argmax(ad.tensor([1.0, 3.0, 2.0])).item()
    1
    """
    return _arg(argmax_p, x, axis, keepdims)


def argmin(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the first minimum along ``axis`` (of the flattened tensor if None).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.argmin(ad.tensor([1.0, 3.0, 0.5])).item()
    2
    """
    return _arg(argmin_p, x, axis, keepdims)


def all(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """True where every element along ``axis`` is nonzero.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.all(ad.tensor([True, False])).item()
    False
    """
    return _reduce(all_p, x, axis, keepdims)


def any(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """True where some element along ``axis`` is nonzero.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.any(ad.tensor([True, False])).item()
    True
    """
    return _reduce(any_p, x, axis, keepdims)


def count_nonzero(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Number of nonzero elements along ``axis``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.count_nonzero(ad.tensor([0.0, 2.0, 3.0])).item()
    2
    """
    return _reduce(count_nonzero_p, x, axis, keepdims)


def diff(
    x: Any, /, *, axis: int = -1, n: int = 1, prepend: Any = None, append: Any = None
) -> Tensor:
    """The ``n``-th forward difference along ``axis`` (differentiable).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.diff(ad.tensor([1.0, 4.0, 9.0])).tolist()
    [3.0, 5.0]
    """
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("diff needs at least one dimension, got a 0-d tensor.")
    if n < 0:
        raise ValueError(f"diff: n must be non-negative, got {n}.")
    axis = normalize_axis(axis, x.ndim)
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = concat([as_tensor(p, x) for p in parts], axis=axis)
    for _ in range(n):
        if x.shape[axis] == 0:
            break  # already empty: n past the length stays empty (no slice of nothing)
        x = x[_along(axis, slice(1, None))] - x[_along(axis, slice(None, -1))]
    return x
