"""Indexing primitives: forward and gradient rule side by side.

Basic keys (ints, slices, ``None``, ``...``) go through the ``getitem``
primitive. Keys with integer arrays or boolean masks are resolved on the host
into the flat positions they select (NumPy's indexing rules, so mixing with
slices, ``None`` and ``...`` behaves as in NumPy) and become a ``take`` from
the flattened tensor: its gradient is a ``scatter_add``, so repeated indices
add up. ``__setitem__`` is functional: the new value is computed from the old
one and the tensor object is rebound to it (see ``setitem``). A basic key gives a view
(``autodiff._views``): a write into it reaches its base and the base's other views.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _views
from .._core import primitive
from ..engine import apply, apply1, call
from ..grad_mode import GRAD_ENABLED
from ..tensor import Tensor, wrap
from ._rules import front, linear, scatter_add_batch, take_batch
from ._util import as_tensor, normalize_axis
from .elementwise import imag_p, real_p, where
from .shape import astype, broadcast_to, reshape, reshape_p

__all__ = ["getitem", "scatter_add", "setitem", "take", "take_along_axis"]


def _scatter_fwd(xp: Any, g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    out = xp.zeros(shape, dtype=g.dtype, device=g.device)
    # None (new axes) cannot appear in an assignment: drop them, and g's size-1 axes
    plain = tuple(k for k in key if k is not None)
    out[plain] = xp.reshape(g, tuple(out[plain].shape))
    return out


def _getitem_vjp(xp: Any, g: Any, ans: Any, a: Any, key: Any) -> tuple[Any]:
    # the gradient of a[key] is g placed at key in zeros of a's shape
    return (call(xp, scatter_p, g, key=key, shape=tuple(a.shape)),)


def _getitem_batch(xp: Any, dims: Any, a: Any, key: Any) -> tuple[Any, int]:
    # the batch axis first, taken whole
    return call(xp, getitem_p, front(xp, a, dims[0]), key=(slice(None), *key)), 0


def _scatter_batch(xp: Any, dims: Any, g: Any, key: Any, shape: Any) -> tuple[Any, int]:
    x = front(xp, g, dims[0])
    out = call(xp, scatter_p, x, key=(slice(None), *key), shape=(int(x.shape[0]), *shape))
    return out, 0


getitem_p = primitive(
    "getitem",
    lambda xp, a, key: a[key],
    _getitem_vjp,
    jvp=linear("getitem"),
    batch=_getitem_batch,
)
scatter_p = primitive(
    "scatter_into_zeros",
    _scatter_fwd,
    lambda xp, g, ans, a, key, shape: (call(xp, getitem_p, g, key=key),),
    jvp=linear("scatter_into_zeros"),
    batch=_scatter_batch,
)


def _scatter_add_fwd(xp: Any, g: Any, indices: Any, axis: int, size: int) -> Any:
    # out[..., indices[j], ...] += g[..., j, ...], written with a one-hot matmul so it
    # runs on any array API library (backends override it with a native kernel)
    moved = xp.moveaxis(g, axis, -1)
    # on the inputs' device (arrays without .device, as Dask's, have only one)
    cols = xp.arange(size, dtype=indices.dtype, device=getattr(indices, "device", None))
    hit = xp.reshape(indices, (-1, 1)) == cols
    if g.dtype == xp.bool:
        # setitem places booleans with it (their sum is "any")
        out = xp.any(hit & xp.expand_dims(moved, axis=-1), axis=-2)
    elif not xp.isdtype(g.dtype, ("real floating", "complex floating")):
        picked = xp.where(hit, xp.expand_dims(moved, axis=-1), 0)
        out = xp.astype(xp.sum(picked, axis=-2), g.dtype)
    elif bool(xp.all(xp.isfinite(moved))):
        out = xp.matmul(moved, xp.astype(hit, g.dtype))
    else:
        # inf * 0 in the matmul would smear NaN over every position: select instead
        out = xp.sum(xp.where(hit, xp.expand_dims(moved, axis=-1), 0.0), axis=-2)
    return xp.moveaxis(out, -1, axis)


def _take_vjp(xp: Any, g: Any, ans: Any, a: Any, indices: Any, axis: int) -> tuple[Any, None]:
    # repeated indices add up
    return (call(xp, scatter_add_p, g, indices, axis=axis, size=a.shape[axis]), None)


take_p = primitive(
    "take",
    lambda xp, a, indices, axis: xp.take(a, indices, axis=axis),
    _take_vjp,
    jvp=linear("take", argnums=(0,)),
    batch=take_batch,
)
scatter_add_p = primitive(
    "scatter_add",
    _scatter_add_fwd,
    vjps=(
        lambda xp, g, ans, g0, indices, axis, size: call(xp, take_p, g, indices, axis=axis),
        None,
    ),
    jvp=linear("scatter_add", argnums=(0,)),
    batch=scatter_add_batch,
)


# -- keys -----------------------------------------------------------------------


def _is_advanced(k: Any) -> bool:
    if isinstance(k, Tensor):
        return k.ndim > 0 or k.dtype.name == "bool"
    if isinstance(k, bool):
        return True
    if getattr(k, "ndim", None) == 0 and getattr(getattr(k, "dtype", None), "kind", "") in (
        "i",
        "u",
    ):
        return False  # a NumPy integer scalar or 0-d integer array: a plain int
    return isinstance(k, (list, tuple)) or hasattr(k, "__array_namespace__") or hasattr(k, "ndim")


def _normalize_key(key: Any, shape: tuple[int, ...]) -> Any:
    parts = key if isinstance(key, tuple) else (key,)
    out: list[Any] = []
    dim = 0
    for i, k in enumerate(parts):
        if k is None:
            out.append(None)
            continue
        if k is Ellipsis:
            out.append(k)
            # the parts after the ellipsis index the last axes
            after = parts[i + 1 :]
            dim = len(shape) - sum(1 for p in after if p is not None and p is not Ellipsis)
            continue
        if not isinstance(k, (int, slice)):
            if hasattr(k, "__index__") and not isinstance(k, bool):
                k = int(k.__index__())
            else:
                raise IndexError(
                    f"unsupported index {k!r}: use ints, slices, None, ..., integer "
                    "tensors/arrays or boolean masks."
                )
        if dim >= len(shape):
            raise IndexError(f"too many indices for a tensor of shape {shape}.")
        if isinstance(k, int) and not -shape[dim] <= k < shape[dim]:
            raise IndexError(f"index {k} is out of bounds for axis {dim} with size {shape[dim]}.")
        out.append(k)
        dim += 1
    if Ellipsis not in out and dim < len(shape):
        out.append(Ellipsis)  # the remaining axes are taken whole
    return tuple(out)


def _host_index(x: Tensor, k: Any) -> Any:
    """An integer or boolean index as a host (NumPy) array."""
    backend = x._backend
    if isinstance(k, Tensor):
        host = k._backend.to_numpy(k.data)
    else:
        try:
            host = backend.to_numpy(backend.asarray(k))
        except Exception as err:
            raise IndexError(f"unsupported index {k!r}: {err}") from err
    kind = host.dtype.kind
    if kind == "f" and host.size == 0:
        host = host.astype("int64")  # an empty list
    elif kind not in "iub":
        raise IndexError(
            f"arrays used as indices must be of integer or boolean dtype, got {host.dtype} "
            f"in {k!r}."
        )
    return host


def flat_positions(x: Tensor, key: Any) -> Any:
    """The flat positions (a host integer array of the result's shape) that
    ``x[key]`` selects, with NumPy's rules for any key."""
    parts = key if isinstance(key, tuple) else (key,)
    hparts: list[Any] = []
    host_ns = None
    for k in parts:
        if isinstance(k, Tensor) and k.ndim == 0 and k.dtype.name != "bool":
            k = k.__index__()
        elif _is_advanced(k) and not isinstance(k, bool):
            k = _host_index(x, k)
            host_ns = k.__array_namespace__()
        elif isinstance(k, bool):
            raise IndexError(
                f"a Python bool ({k}) is not a supported index; use a boolean tensor mask."
            )
        hparts.append(k)
    if host_ns is None:
        host_ns = x._backend.to_numpy(x._backend.asarray([0])).__array_namespace__()
    positions = host_ns.reshape(host_ns.arange(x.size), x.shape)
    try:
        return positions[tuple(hparts)]
    except IndexError as err:
        raise IndexError(f"bad index for a tensor of shape {x.shape}: {err}") from err


def _gather_flat(x: Tensor, pos: Any) -> Tensor:
    flat = reshape(x, (-1,))
    idx = wrap(x._backend.asarray(pos.reshape(-1), device=x.device), x._backend)
    return reshape(apply(take_p, (flat, idx), {"axis": 0}), tuple(pos.shape))


def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]``: ints, slices, ``None``, ``...``, integer tensors/arrays/lists and
    boolean masks, combined as in NumPy. Gradients of repeated indices add up.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.arange(6.0)[1:4].tolist()
    [1.0, 2.0, 3.0]
    >>> x = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> _ = x[ad.tensor([0, 0, 2])].sum().backward()
    >>> x.grad.tolist()
    [2.0, 0.0, 1.0]
    """
    parts = key if isinstance(key, tuple) else (key,)
    if any(_is_advanced(k) for k in parts):
        fast = _one_array_along_axis(x, parts)
        if fast is not None:
            return fast
        return _gather_flat(x, flat_positions(x, key))
    params = {"key": _normalize_key(key, x.shape)}
    return _views.track(apply1(getitem_p, x, params), x, getitem_p, params)


def _one_array_along_axis(x: Tensor, parts: tuple[Any, ...]) -> Tensor | None:
    """``x[..., idx, ...]`` with one integer array and only slices / ``...`` around it:
    a ``take`` along that axis (no flat positions of the whole tensor). None otherwise."""
    arrays = [i for i, k in enumerate(parts) if _is_advanced(k)]
    if len(arrays) != 1 or any(
        not (isinstance(k, slice) or k is Ellipsis) for i, k in enumerate(parts) if i != arrays[0]
    ):
        return None
    pos = arrays[0]
    ellipses = sum(1 for k in parts if k is Ellipsis)
    if ellipses > 1 or len(parts) - ellipses > x.ndim:
        return None
    host = _host_index(x, parts[pos])
    if host.dtype.kind == "b":
        return None
    axis = pos if not any(k is Ellipsis for k in parts[:pos]) else x.ndim - (len(parts) - pos)
    n = x.shape[axis]
    if host.size and (host.min() < -n or host.max() >= n):
        raise IndexError(
            f"an index in {parts[pos]!r} is out of bounds for axis {axis} with size {n}."
        )
    basic = (*parts[:pos], slice(None), *parts[pos + 1 :])
    y = apply1(getitem_p, x, {"key": _normalize_key(basic, x.shape)})
    flat = host.reshape(-1) % max(n, 1)
    idx = wrap(x._backend.asarray(flat, device=x.device), x._backend)
    taken = apply(take_p, (y, idx), {"axis": axis})
    shape = tuple(y.shape)
    return reshape(taken, shape[:axis] + tuple(host.shape) + shape[axis + 1 :])


def scatter_add(values: Any, indices: Any, /, *, axis: int, size: int) -> Tensor:
    """Zeros with ``size`` entries along ``axis``, plus ``values[..., j, ...]`` added at
    ``indices[j]`` (repeated indices add up). The gradient of ``take``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.ops.indexing.scatter_add(ad.tensor([1.0, 2.0, 3.0]), ad.tensor([0, 2, 0]),
    ...                             axis=0, size=3).tolist()
    [4.0, 0.0, 2.0]
    """
    v = as_tensor(values)
    idx = as_tensor(indices, like=v)
    if idx.dtype.kind not in ("signed integer", "unsigned integer") or idx.ndim != 1:
        raise IndexError(
            f"scatter_add needs a 1-d integer index tensor, got {idx.dtype.name} of shape "
            f"{idx.shape}."
        )
    axis = normalize_axis(axis, max(v.ndim, 1))
    if v.ndim == 0 or v.shape[axis] != idx.shape[0]:
        raise ValueError(
            f"scatter_add: values of shape {v.shape} need {idx.shape[0]} entries along axis "
            f"{axis}, one per index."
        )
    host = idx._backend.to_numpy(idx.data)
    if host.size and (host.min() < 0 or host.max() >= size):
        raise IndexError(f"scatter_add: an index is out of range [0, {size}).")
    return apply(scatter_add_p, (v, idx), {"axis": axis, "size": int(size)})


def setitem(x: Tensor, key: Any, value: Any) -> None:
    """``x[key] = value``, functionally, with gradients to the old ``x`` and to ``value``.

    The new value is computed from the old one (``where`` over the selected flat
    positions), then ``x`` is rebound to it: ``x.data`` is a new array and ``x``
    becomes a non-leaf whose graph records the assignment. The gradient to the old
    ``x`` is zero at the overwritten positions; the gradient to ``value`` is the
    gradient at those positions, summed over broadcasting. When an index repeats,
    the last assignment wins (as in NumPy) and only it receives gradient.

    As in NumPy, when ``x`` is a view (basic indexing, ``reshape``, ``permute_dims``
    ...) the assignment reaches its base, and every live view of the base sees it.
    The memory of ``x`` is never modified: operations recorded before the assignment
    keep the value they used, so their gradients stay right (where PyTorch raises).
    A leaf that requires grad (or a view of one) can only be assigned to under
    ``ad.no_grad()``.

    Examples
    --------
    >>> import autodiff as ad
    >>> w = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> x = w * 1
    >>> x[1] = 10.0  # calls setitem
    >>> _ = (x * x).sum().backward()
    >>> x.tolist(), w.grad.tolist()
    ([1.0, 10.0, 3.0], [2.0, 0.0, 6.0])
    """
    if x._node is None and x._rg and GRAD_ENABLED.get():
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation: "
            "assign under `with ad.no_grad():`, or assign to a copy (e.g. x = x * 1)."
        )
    v = as_tensor(value, like=x)
    if v._backend is not x._backend:
        raise ValueError(
            f"cannot assign a tensor on {v.device} into one on {x.device}; move it first."
        )
    if v.dtype != x.dtype:
        v = astype(v, x.dtype)
    parts = key if isinstance(key, tuple) else (key,)
    with _views.WRITE_LOCK:  # read, compute and rebind as one step (threads)
        if not any(_is_advanced(k) for k in parts):
            new = _set_basic(x, _normalize_key(key, x.shape), v)
        else:
            new = _set_positions(x, flat_positions(x, key), v)
        assign(x, new)


def _write(view: Tensor, new: Tensor) -> None:
    """Write ``new`` (the view's new value) through ``view`` into its base."""
    info: _views.View = view._view  # type: ignore[attr-defined]
    if info.readonly:
        raise ValueError(
            "assignment destination is read-only: this tensor is (a view of) the result of "
            "broadcast_to, whose elements repeat those of its input; write into a copy "
            "instead (e.g. ad.asarray(t, copy=True))."
        )
    base = info.base
    if tuple(base.data.shape) != info.base_shape:
        raise ValueError(
            f"cannot write through this view: its base was given data of shape "
            f"{tuple(base.data.shape)} (not {info.base_shape}) after the view was taken."
        )
    if base._node is None and base._rg and GRAD_ENABLED.get():
        raise RuntimeError(
            "a view of a leaf tensor that requires grad is being used in an in-place "
            "operation: write under `with ad.no_grad():`, or take the view of a copy "
            "(e.g. y = x * 1)."
        )
    steps = info.steps
    if info.part is not None:
        new = _whole(info, new)
        steps = tuple(s for s in steps if s[0].name not in ("real", "imag"))
    if not steps:
        placed = new  # real(z) or imag(z) itself: every element written
    elif len(steps) == 1 and steps[0][0].name == "getitem":
        placed = _set_basic(base, steps[0][1]["key"], new)
    else:
        placed = _set_positions(base, _views.positions(info, tuple(new.data.shape)), new)
    _views.rebind(base, placed)
    _views.refresh(base)


def _whole(info: _views.View, new: Tensor) -> Tensor:
    """The complex elements under a view of one part, with that part now ``new``."""
    current = info.base
    for prim, params in info.steps:
        if prim.name not in ("real", "imag"):  # elementwise: they commute with the rest
            current = apply1(prim, current, params)
    kept = apply1(imag_p if info.part == "real" else real_p, current)
    dtype = info.base.dtype
    re, im = (new, kept) if info.part == "real" else (kept, new)
    return astype(re, dtype) + astype(im, dtype) * 1j


def assign(t: Tensor, new: Tensor) -> None:
    """``t`` takes the value ``new`` in place: through its base if ``t`` is a view, and
    every live view of the tensor written sees it."""
    if getattr(t, "_view", None) is not None:
        _write(t, new)
        return
    _views.rebind(t, new)
    _views.refresh(t)


def _set_positions(x: Tensor, pos: Any, v: Tensor, old: Tensor | None = None) -> Tensor:
    """``x`` with ``v`` (broadcast) placed at the flat positions ``pos`` (a host integer
    array), computed functionally; the last of repeated positions wins. ``old``: the
    value of ``x`` to compute from (default: ``x``'s current state, as a new tensor)."""
    try:
        vb = broadcast_to(v, tuple(pos.shape))
    except ValueError as err:
        raise ValueError(
            f"cannot assign a value of shape {v.shape} to a selection of shape {tuple(pos.shape)}."
        ) from err
    flat_pos = pos.reshape(-1)
    hx = flat_pos.__array_namespace__()
    # the last occurrence of each position wins
    uniq, first_rev = hx.unique(flat_pos[::-1], return_index=True)
    src = flat_pos.size - 1 - first_rev
    keep = hx.ones(x.size, dtype=bool)
    keep[uniq] = False

    backend = x._backend
    if old is None:
        old = wrap(x.data, backend)
        old._rg, old._node, old._oi = x._rg, x._node, x._oi

    def dev(a: Any) -> Tensor:
        return wrap(backend.asarray(a, device=x.device), backend)

    picked = apply(take_p, (apply1(reshape_p, vb, {"shape": (-1,)}), dev(src)), {"axis": 0})
    placed = apply(scatter_add_p, (picked, dev(uniq)), {"axis": 0, "size": x.size})
    if not keep.any():
        # every element is overwritten: the result does not depend on the old value, so
        # not even a zero gradient goes back to it (inf or NaN upstream would make that
        # NaN: scikit-learn's ``var[zeros] = new[zeros]`` after a 0 / 0)
        return apply1(reshape_p, placed, {"shape": tuple(x.shape)})
    flat = where(dev(keep), apply1(reshape_p, old, {"shape": (-1,)}), placed)
    return apply1(reshape_p, flat, {"shape": tuple(x.shape)})


def _set_basic(x: Tensor, key: Any, v: Tensor) -> Tensor:
    """``x`` with ``v`` (broadcast) placed at the normalized basic ``key``, computed
    functionally: ``scatter_into_zeros`` and ``where`` (no flat positions)."""
    backend = x._backend
    # through the backend's getitem kernel: PyTorch has no negative-step slicing
    selected = (backend.kernels.get(getitem_p) or getitem_p.forward)(backend.xp, x.data, key)
    sel_shape = tuple(selected.shape)
    try:
        vb = broadcast_to(v, sel_shape)
    except ValueError as err:
        raise ValueError(
            f"cannot assign a value of shape {v.shape} to a selection of shape {sel_shape}."
        ) from err
    ones = backend.xp.ones_like(selected, dtype=backend.xp.bool)
    scatter = backend.kernels.get(scatter_p) or scatter_p.forward
    hit = wrap(scatter(backend.xp, ones, key=key, shape=x.shape), backend)
    old = wrap(x.data, backend)
    old._rg, old._node, old._oi = x._rg, x._node, x._oi
    placed = apply1(scatter_p, vb, {"key": key, "shape": x.shape})
    if math.prod(sel_shape) == x.size:
        return placed  # every element is overwritten (see _set_positions)
    return where(hit, placed, old)


def take(x: Tensor, indices: Any, /, *, axis: int | None = None) -> Tensor:
    """Elements of ``x`` at integer ``indices`` along ``axis``; gradients of repeated
    indices add up.

    Examples
    --------
    >>> import autodiff as ad
    >>> w = ad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> ad.take(w, ad.tensor([1, 1, 0]), axis=0).sum().backward() is not None
    True
    >>> w.grad.tolist()
    [[1.0, 1.0], [2.0, 2.0]]
    """
    x = as_tensor(x)
    idx = as_tensor(indices, like=x)
    if idx.dtype.kind not in ("signed integer", "unsigned integer") or idx.ndim != 1:
        raise IndexError(
            f"take needs a 1-d integer index tensor, got {idx.dtype.name} of shape {idx.shape}."
        )
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take without axis needs a 1-d tensor, got shape {x.shape}.")
        axis = 0
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    host = idx._backend.to_numpy(_batch_data(idx))
    if host.size and (host.min() < -n or host.max() >= n):
        raise IndexError(f"take: an index is out of range for axis {axis} with size {n}.")
    if host.size and host.min() < 0:
        # (a batched index stays batched: the wrap is computed on it)
        idx = idx % n if hasattr(idx, "_val") else as_tensor(host % n, like=x)
    return apply(take_p, (x, idx), {"axis": axis})


def _batch_data(t: Tensor) -> Any:
    """``t.data``; for an index batched by ``vmap``, the indices of every example (checked
    all at once: a check, not control flow per example)."""
    while getattr(t, "_val", None) is not None:
        t = t._val  # type: ignore[attr-defined]
    return t.data


def take_along_axis(x: Tensor, indices: Any, /, *, axis: int = -1) -> Tensor:
    """Pick values of ``x`` at ``indices`` along ``axis`` (``indices`` has the same
    number of dimensions; the other axes broadcast). Gradients of repeated indices
    add up.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([[1.0, 5.0], [7.0, 3.0]])
    >>> ad.take_along_axis(x, ad.tensor([[1], [0]]), axis=1).tolist()
    [[5.0], [7.0]]
    """
    x = as_tensor(x)
    idx = as_tensor(indices, like=x)
    if idx.dtype.kind not in ("signed integer", "unsigned integer"):
        raise IndexError(f"take_along_axis needs integer indices, got {idx.dtype.name}.")
    if idx.ndim != x.ndim:
        raise ValueError(
            f"take_along_axis: indices have {idx.ndim} dimensions but x has {x.ndim}; "
            "they must match."
        )
    axis = normalize_axis(axis, x.ndim)
    host = idx._backend.to_numpy(_batch_data(idx))
    n = x.shape[axis]
    if host.size and (host.min() < -n or host.max() >= n):
        raise IndexError(
            f"take_along_axis: an index is out of range for axis {axis} with size {n}."
        )
    hx = host.__array_namespace__()
    positions = hx.reshape(hx.arange(x.size), x.shape)
    batched = hasattr(idx, "_val")
    if batched:
        # indices batched by vmap (one set per example): the flat positions of axis 0
        # (constant), plus the index times the axis's stride, as operations on the index
        host = hx.zeros(tuple(idx.shape), dtype=host.dtype)
    try:
        pos = hx.take_along_axis(positions, host % max(n, 1), axis=axis)
    except (ValueError, IndexError) as err:
        raise ValueError(
            f"take_along_axis: indices of shape {idx.shape} do not fit x of shape {x.shape} "
            f"along axis {axis}: {err}"
        ) from err
    if batched:
        stride = math.prod(x.shape[axis + 1 :])
        base = wrap(x._backend.asarray(pos, device=x.device), x._backend)
        flat_pos = reshape(base + (idx % max(n, 1)) * stride, (-1,))
        out = apply(take_p, (reshape(x, (-1,)), flat_pos), {"axis": 0})
        return reshape(out, tuple(pos.shape))
    return _gather_flat(x, pos)
