"""Sorting, searching and set functions.

``sort`` is differentiable: it is a gather (``take_along_axis``) at the positions
``argsort`` finds, so each sorted value's gradient goes back to where it came from.
Index results (``argsort``, ``searchsorted``, ``nonzero``, the ``unique`` indices and
counts) never require grad; ``unique_*`` values do not either (an equal value has no
single source to send a gradient to).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .._core import primitive
from ..engine import apply, apply1, call
from ..grad_mode import GRAD_ENABLED
from ..tensor import Tensor, wrap
from ._rules import batch_size, per_example, shift_axes
from ._util import as_tensor, normalize_axis
from .indexing import take, take_along_axis

__all__ = [
    "UniqueAllResult",
    "UniqueCountsResult",
    "UniqueInverseResult",
    "argsort",
    "isin",
    "nonzero",
    "searchsorted",
    "sort",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
]


def _set_batch(name: str) -> Any:
    # batching rule of f(a, b) with b searched (a sorted sequence, a set): a batched
    # alone is one call (the result has a's shape); a batched b loops over the examples
    def rule(xp: Any, dims: Any, x1: Any, x2: Any, **params: Any) -> Any:
        prim = searchsorted_p if name == "searchsorted" else isin_p
        d_query = dims[1] if name == "searchsorted" else dims[0]
        d_set = dims[0] if name == "searchsorted" else dims[1]
        if d_set is None:
            return call(xp, prim, x1, x2, **params), d_query
        size = batch_size((x1, x2), dims)
        b1 = per_example(xp, x1, dims[0], size)
        b2 = per_example(xp, x2, dims[1], size)
        outs = [call(xp, prim, b1[i], b2[i], **params) for i in range(size)]
        return xp.stack(outs, axis=0), 0

    return rule


argsort_p = primitive(
    "argsort",
    lambda xp, a, axis, descending, stable: xp.argsort(
        a, axis=axis, descending=descending, stable=stable
    ),
    batch=shift_axes("argsort", default=-1),
)
searchsorted_p = primitive(
    "searchsorted",
    lambda xp, a, v, side: xp.searchsorted(a, v, side=side),
    batch=_set_batch("searchsorted"),
)
isin_p = primitive(
    "isin", lambda xp, a, b, invert: xp.isin(a, b, invert=invert), batch=_set_batch("isin")
)


def argsort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Tensor:
    """Indices that sort ``x`` along ``axis`` (ties keep their order when ``stable``).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.argsort(ad.tensor([3.0, 1.0, 2.0])).tolist()
    [1, 2, 0]
    """
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("argsort needs at least one dimension, got a 0-d tensor.")
    axis = normalize_axis(axis, x.ndim)
    return apply1(
        argsort_p, x, {"axis": axis, "descending": bool(descending), "stable": bool(stable)}
    )


def sort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Tensor:
    """``x`` sorted along ``axis``; differentiable (each value's gradient goes back to
    its position in ``x``).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([3.0, 1.0, 2.0], requires_grad=True)
    >>> y = ad.sort(x, descending=True)
    >>> y.tolist()
    [3.0, 2.0, 1.0]
    >>> _ = (y * ad.tensor([1.0, 10.0, 100.0])).sum().backward()
    >>> x.grad.tolist()
    [1.0, 100.0, 10.0]
    """
    x = as_tensor(x)
    if not (x._rg and GRAD_ENABLED.get()) and getattr(x, "_level", None) is None:
        # no graph to build (and not a value of vmap or jvp, whose level must see the
        # operations): the library's own sort is one pass
        if x.ndim == 0:
            raise ValueError("sort needs at least one dimension, got a 0-d tensor.")
        axis = normalize_axis(axis, x.ndim)
        xp = x._backend.xp
        data = xp.sort(x.data, axis=axis, descending=descending, stable=stable)
        return wrap(data, x._backend)
    idx = argsort(x, axis=axis, descending=descending, stable=stable)
    return take_along_axis(x, idx, axis=axis)


def searchsorted(x1: Any, x2: Any, /, *, side: str = "left", sorter: Any = None) -> Tensor:
    """Indices where the values ``x2`` would be inserted into the sorted 1-d ``x1``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.searchsorted(ad.tensor([1.0, 2.0, 3.0]), ad.tensor([2.5, 0.0])).tolist()
    [2, 0]
    """
    x1 = as_tensor(x1)
    x2 = as_tensor(x2, x1)
    if x1.ndim != 1:
        raise ValueError(f"searchsorted needs a 1-d x1, got shape {x1.shape}.")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}.")
    if sorter is not None:
        x1 = take(x1, sorter)
    return apply(searchsorted_p, (x1, x2), {"side": side})


def isin(x1: Any, x2: Any, /, *, invert: bool = False) -> Tensor:
    """True where an element of ``x1`` occurs in ``x2`` (False with ``invert``).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.isin(ad.tensor([1, 2, 3]), ad.tensor([2, 5])).tolist()
    [False, True, False]
    """
    x1 = as_tensor(x1)
    x2 = x2 if isinstance(x2, (int, float)) else as_tensor(x2, x1)
    return apply(isin_p, (x1, x2), {"invert": bool(invert)})


def nonzero(x: Any, /) -> tuple[Tensor, ...]:
    """Indices of the nonzero elements, one index tensor per dimension.

    The number of results depends on the data, so lazy backends compute ``x`` here.

    Examples
    --------
    >>> import autodiff as ad
    >>> [t.tolist() for t in ad.nonzero(ad.tensor([0.0, 2.0, 0.0, 1.0]))]
    [[1, 3]]
    """
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("nonzero needs at least one dimension, got a 0-d tensor.")
    backend = x._backend
    return tuple(wrap(i, backend) for i in backend.xp.nonzero(x.data))


class UniqueAllResult(NamedTuple):
    """What ``unique_all`` returns (a named tuple).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.unique_all(ad.tensor([2, 1, 2])).counts.tolist()
    [1, 2]
    """

    values: Tensor
    indices: Tensor
    inverse_indices: Tensor
    counts: Tensor


class UniqueCountsResult(NamedTuple):
    """What ``unique_counts`` returns (a named tuple).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.unique_counts(ad.tensor([2, 1, 2])).values.tolist()
    [1, 2]
    """

    values: Tensor
    counts: Tensor


class UniqueInverseResult(NamedTuple):
    """What ``unique_inverse`` returns (a named tuple).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.unique_inverse(ad.tensor([2, 1, 2])).values.tolist()
    [1, 2]
    """

    values: Tensor
    inverse_indices: Tensor


def _backend_unique(backend: Any, data: Any, fn: str, device: Any) -> tuple[Any, ...]:
    try:
        out = getattr(backend.xp, fn)(data)
    except NotImplementedError:
        # the library lacks it (PyTorch's unique_all): compute on the host, bring it back
        out = backend.on_host(fn, data, device=device)
    return out if isinstance(out, tuple) else (out,)


#: which of unique_all's (values, indices, inverse_indices, counts) each function returns
_PARTS = {
    "unique_values": (0,),
    "unique_counts": (0, 3),
    "unique_inverse": (0, 2),
    "unique_all": (0, 1, 2, 3),
}


def _unique(x: Any, fn: str) -> tuple[Tensor, ...]:
    x = as_tensor(x)
    backend = x._backend
    xp = backend.xp
    data = x.data
    if x.dtype.is_floating and x.size:
        nan = xp.isnan(xp.reshape(data, (-1,)))
        if bool(xp.any(nan)):
            parts = _unique_nans_distinct(backend, data, nan, x.device)
            return tuple(wrap(parts[i], backend) for i in _PARTS[fn])
    return tuple(wrap(o, backend) for o in _backend_unique(backend, data, fn, x.device))


def _unique_nans_distinct(backend: Any, data: Any, nan: Any, device: Any) -> tuple[Any, ...]:
    """``unique_all`` with every NaN a value of its own, as the standard says (NumPy's and
    other libraries' ``unique`` may merge them): the NaNs are replaced by the first
    non-NaN value, the library finds the unique values of that, and the counts, first
    indices and inverse indices are corrected; the NaNs come last, in their order."""
    xp = backend.xp
    flat = xp.reshape(data, (-1,))
    nan_idx = xp.nonzero(nan)[0]
    n_nan = int(xp.sum(xp.astype(nan, nan_idx.dtype)))
    nan_vals = xp.take(flat, nan_idx)
    numbered = xp.cumulative_sum(xp.astype(nan, nan_idx.dtype)) - 1  # k for the k-th NaN
    if n_nan == flat.shape[0]:
        inverse = xp.reshape(numbered, data.shape)
        return nan_vals, nan_idx, inverse, xp.ones_like(nan_idx)
    first = int(xp.argmax(xp.astype(~nan, xp.int8)))  # the first non-NaN position
    filled = xp.where(nan, flat[first], flat)
    values, indices, inverse, counts = _backend_unique(backend, filled, "unique_all", device)
    is_fill = values == flat[first]
    inverse = xp.reshape(inverse, (-1,))
    k = int(xp.max(inverse)) + 1  # the number of values (a Dask shape would be unknown)
    counts = counts - xp.astype(is_fill, counts.dtype) * n_nan
    indices = xp.where(is_fill, xp.asarray(first, dtype=indices.dtype), indices)
    inverse = xp.where(nan, xp.astype(numbered, inverse.dtype) + k, inverse)
    return (
        xp.concat([values, nan_vals]),
        xp.concat([indices, xp.astype(nan_idx, indices.dtype)]),
        xp.reshape(inverse, data.shape),
        xp.concat([counts, xp.ones(n_nan, dtype=counts.dtype, device=device.native)]),
    )


def unique_values(x: Any, /) -> Tensor:
    """The distinct values of ``x``, sorted (no gradient).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.unique_values(ad.tensor([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    return _unique(x, "unique_values")[0]


def unique_counts(x: Any, /) -> UniqueCountsResult:
    """The distinct values of ``x`` and how often each occurs.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.unique_counts(ad.tensor([3, 1, 3])).counts.tolist()
    [1, 2]
    """
    return UniqueCountsResult(*_unique(x, "unique_counts"))


def unique_inverse(x: Any, /) -> UniqueInverseResult:
    """The distinct values of ``x`` and, for each element, the index of its value.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.unique_inverse(ad.tensor([3, 1, 3])).inverse_indices.tolist()
    [1, 0, 1]
    """
    return UniqueInverseResult(*_unique(x, "unique_inverse"))


def unique_all(x: Any, /) -> UniqueAllResult:
    """Distinct values, first indices, inverse indices and counts.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.unique_all(ad.tensor([3, 1, 3])).indices.tolist()
    [1, 0]
    """
    return UniqueAllResult(*_unique(x, "unique_all"))
