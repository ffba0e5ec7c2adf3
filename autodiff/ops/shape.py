"""Shape and layout primitives: forward and gradient rule side by side.

``reshape`` (where NumPy would not copy), ``broadcast_to`` (read-only), ``squeeze``,
``expand_dims``, ``permute_dims`` and ``matrix_transpose`` return views: a write into
one reaches its base (``autodiff._views``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import _dtypes, _views
from .._core import primitive
from ..engine import _is_complex, apply, apply1, call
from ..tensor import Tensor
from ._rules import batch_size, elementwise, front, lift, linear, on_stacks, per_example, shift_axes
from ._util import as_tensor, normalize_axis

__all__ = [
    "astype",
    "broadcast_to",
    "concat",
    "expand_dims",
    "matrix_transpose",
    "permute_dims",
    "reshape",
    "squeeze",
    "stack",
]


def _back_to_input_shape(xp: Any, g: Any, ans: Any, a: Any, **_: Any) -> tuple[Any]:
    return (xp.reshape(g, tuple(a.shape)),)


# batching rules: the batch axis goes first and the shape parameters get it in front


def _reshape_batch(xp: Any, dims: Any, a: Any, shape: Any, copy: Any = None) -> tuple[Any, int]:
    x = front(xp, a, dims[0])
    p = {"shape": (int(x.shape[0]), *shape)}
    if copy is not None:
        p["copy"] = copy
    return call(xp, reshape_p, x, **p), 0


def _broadcast_to_batch(xp: Any, dims: Any, a: Any, shape: Any) -> tuple[Any, int]:
    x = lift(xp, front(xp, a, dims[0]), len(shape))
    return call(xp, broadcast_to_p, x, shape=(int(x.shape[0]), *shape)), 0


def _expand_dims_batch(xp: Any, dims: Any, a: Any, axis: int) -> tuple[Any, int]:
    x = front(xp, a, dims[0])
    return call(xp, expand_dims_p, x, axis=int(axis) % x.ndim + 1), 0


def _permute_dims_batch(xp: Any, dims: Any, a: Any, axes: Any) -> tuple[Any, int]:
    x = front(xp, a, dims[0])
    nd = x.ndim - 1
    return call(xp, permute_dims_p, x, axes=(0, *(int(i) % nd + 1 for i in axes))), 0


reshape_p = primitive(
    "reshape",
    lambda xp, a, shape, copy=None: (
        xp.reshape(a, shape) if copy is None else xp.reshape(a, shape, copy=copy)
    ),
    _back_to_input_shape,
    jvp=linear("reshape"),
    batch=_reshape_batch,
)
# the engine sums the broadcast dimensions away
broadcast_to_p = primitive(
    "broadcast_to",
    lambda xp, a, shape: xp.broadcast_to(a, shape),
    lambda xp, g, ans, a, shape: (g,),
    jvp=linear("broadcast_to"),
    batch=_broadcast_to_batch,
)
squeeze_p = primitive(
    "squeeze",
    lambda xp, a, axis: xp.squeeze(a, axis=axis),
    _back_to_input_shape,
    jvp=linear("squeeze"),
    batch=shift_axes("squeeze"),
)
expand_dims_p = primitive(
    "expand_dims",
    lambda xp, a, axis: xp.expand_dims(a, axis=axis),
    _back_to_input_shape,
    jvp=linear("expand_dims"),
    batch=_expand_dims_batch,
)


def _inverse(axes: Sequence[int]) -> tuple[int, ...]:
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a] = i
    return tuple(inv)


permute_dims_p = primitive(
    "permute_dims",
    lambda xp, a, axes: xp.permute_dims(a, axes),
    lambda xp, g, ans, a, axes: (xp.permute_dims(g, _inverse(axes)),),
    jvp=linear("permute_dims"),
    batch=_permute_dims_batch,
)
matrix_transpose_p = primitive(
    "matrix_transpose",
    lambda xp, a: xp.matrix_transpose(a),
    lambda xp, g, ans, a: (xp.matrix_transpose(g),),
    jvp=linear("matrix_transpose"),
    batch=on_stacks("matrix_transpose"),
)


def _concat_fwd(xp: Any, *arrays: Any, axis: int | None) -> Any:
    if axis is None:
        return xp.concat([xp.reshape(a, (-1,)) for a in arrays], axis=0)
    return xp.concat(list(arrays), axis=axis)


def _concat_vjp(xp: Any, g: Any, ans: Any, *arrays: Any, axis: int | None) -> tuple[Any, ...]:
    # each input gets its slice of g along the concatenation axis
    out = []
    start = 0
    for a in arrays:
        if axis is None:
            n = math.prod(a.shape)
            out.append(xp.reshape(g[start : start + n], tuple(a.shape)))
        else:
            n = a.shape[axis]
            key = (slice(None),) * axis + (slice(start, start + n), Ellipsis)
            out.append(g[key])
        start += n
    return tuple(out)


def _concat_batch(xp: Any, dims: Any, *arrays: Any, axis: int | None) -> tuple[Any, int]:
    # every input with the batch axis first (unbatched ones broadcast along it)
    size = batch_size(arrays, dims)
    xs = [per_example(xp, x, d, size) for x, d in zip(arrays, dims)]
    if axis is None:
        xs = [xp.reshape(x, (size, -1)) for x in xs]
        return call(xp, concat_p, *xs, axis=1), 0
    return call(xp, concat_p, *xs, axis=int(axis) % (xs[0].ndim - 1) + 1), 0


concat_p = primitive("concat", _concat_fwd, _concat_vjp, jvp=linear("concat"), batch=_concat_batch)


def _stack_vjp(xp: Any, g: Any, ans: Any, *arrays: Any, axis: int) -> tuple[Any, ...]:
    # input i is the slice i of g along the new axis
    return tuple(g[(slice(None),) * axis + (i, Ellipsis)] for i in range(len(arrays)))


def _stack_batch(xp: Any, dims: Any, *arrays: Any, axis: int) -> tuple[Any, int]:
    size = batch_size(arrays, dims)
    xs = [per_example(xp, x, d, size) for x, d in zip(arrays, dims)]
    return call(xp, stack_p, *xs, axis=int(axis) % xs[0].ndim + 1), 0


stack_p = primitive(
    "stack",
    lambda xp, *arrays, axis: xp.stack(list(arrays), axis=axis),
    _stack_vjp,
    jvp=linear("stack"),
    batch=_stack_batch,
)


def _astype_fwd(xp: Any, a: Any, dtype: Any, copy: bool = True) -> Any:
    return xp.astype(a, dtype, copy=copy)


def _astype_vjp(xp: Any, g: Any, ans: Any, a: Any, dtype: Any, copy: bool = True) -> tuple[Any]:
    # back to the input's dtype; a real input gets the real part of a complex gradient
    if _is_complex(g) and not _is_complex(a):
        g = xp.real(g)
    return (xp.astype(g, a.dtype),)


def _astype_jvp(xp: Any, tangents: Any, ans: Any, a: Any, dtype: Any, copy: bool = True) -> Any:
    # the cast of the tangent (its real part into a real dtype); none into integers or bool
    t = tangents[0]
    if t is None or not xp.isdtype(ans.dtype, ("real floating", "complex floating")):
        return None
    if _is_complex(t) and not _is_complex(ans):
        t = xp.real(t)
    return call(xp, astype_p, t, dtype=dtype, copy=copy)


astype_p = primitive(
    "astype", _astype_fwd, _astype_vjp, jvp=_astype_jvp, batch=elementwise("astype")
)


def reshape(x: Any, /, shape: Sequence[int], *, copy: bool | None = None) -> Tensor:
    """Give ``x`` a new shape with the same number of elements (one entry may be -1).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.reshape(ad.arange(6.0), (2, 3)).shape
    (2, 3)
    """
    x = as_tensor(x)
    shape = tuple(int(s) for s in shape)
    known = math.prod(s for s in shape if s != -1)
    if shape.count(-1) > 1 or (
        (-1 not in shape and known != x.size) or (-1 in shape and (known == 0 or x.size % known))
    ):
        raise ValueError(
            f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) to {shape}."
        )
    params: dict[str, Any] = {"shape": shape}
    if copy:
        params["copy"] = copy
    # copy=False: a view or an error, decided by the layout (as NumPy's)
    out = _views.track(apply1(reshape_p, x, params), x, reshape_p, params)
    if copy is False and getattr(out, "_view", None) is None:
        raise ValueError(
            f"reshape(copy=False): a tensor of shape {x.shape} with this layout cannot be "
            f"reshaped to {shape} without a copy; pass copy=None to allow one."
        )
    return out


def broadcast_to(x: Any, /, shape: Sequence[int]) -> Tensor:
    """Broadcast ``x`` to ``shape``; the gradient sums over the broadcast axes.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.broadcast_to(ad.tensor([1.0, 2.0]), (2, 2)).tolist()
    [[1.0, 2.0], [1.0, 2.0]]
    """
    x = as_tensor(x)
    params = {"shape": tuple(int(s) for s in shape)}
    return _views.track(apply1(broadcast_to_p, x, params), x, broadcast_to_p, params)


def squeeze(x: Any, /, axis: int | tuple[int, ...]) -> Tensor:
    """Remove the size-1 axes named by ``axis``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.squeeze(ad.zeros((1, 3)), axis=0).shape
    (3,)
    """
    x = as_tensor(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if x.shape[normalize_axis(a, x.ndim)] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1.")
    params = {"axis": axis}
    return _views.track(apply1(squeeze_p, x, params), x, squeeze_p, params)


def expand_dims(x: Any, /, axis: int | tuple[int, ...] = 0) -> Tensor:
    """Insert a size-1 axis at ``axis`` (``unsqueeze``).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.expand_dims(ad.zeros((2, 3)), axis=1).shape
    (2, 1, 3)
    """
    x = as_tensor(x)
    if isinstance(axis, tuple):
        # several new axes at once (the 2025.12 form): positions in the result
        n = x.ndim + len(axis)
        new = sorted(normalize_axis(a, n) for a in axis)
        if len(set(new)) != len(new):
            raise ValueError(f"expand_dims: repeated axis in {axis!r}.")
        dims = iter(x.shape)
        return reshape(x, tuple(1 if i in new else next(dims) for i in range(n)))
    normalize_axis(axis, x.ndim + 1)
    params = {"axis": axis}
    return _views.track(apply1(expand_dims_p, x, params), x, expand_dims_p, params)


def permute_dims(x: Any, /, axes: Sequence[int]) -> Tensor:
    """Reorder the axes of ``x``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.permute_dims(ad.zeros((2, 3, 4)), (2, 0, 1)).shape
    (4, 2, 3)
    """
    x = as_tensor(x)
    axes = tuple(normalize_axis(int(a), x.ndim) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(
            f"permute_dims: {axes} is not a permutation of the axes of shape {x.shape}."
        )
    params = {"axes": axes}
    return _views.track(apply1(permute_dims_p, x, params), x, permute_dims_p, params)


def matrix_transpose(x: Any, /) -> Tensor:
    """Swap the last two axes.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.matrix_transpose(ad.zeros((4, 2, 3))).shape
    (4, 3, 2)
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got shape {x.shape}.")
    return _views.track(apply1(matrix_transpose_p, x), x, matrix_transpose_p)


def _tensors(arrays: Sequence[Any], name: str) -> list[Tensor]:
    if isinstance(arrays, Tensor) or not len(arrays):
        raise ValueError(f"{name} needs a non-empty sequence of tensors.")
    first = next((a for a in arrays if isinstance(a, Tensor)), None)
    return [as_tensor(a, first) for a in arrays]


def concat(arrays: Sequence[Any], /, *, axis: int | None = 0) -> Tensor:
    """Join tensors along an existing axis (``axis=None`` flattens them first).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.concat([ad.tensor([1.0]), ad.tensor([2.0, 3.0])]).tolist()
    [1.0, 2.0, 3.0]
    """
    ts = _tensors(arrays, "concat")
    if axis is not None:
        axis = normalize_axis(axis, ts[0].ndim)
        for t in ts[1:]:
            if t.ndim != ts[0].ndim or any(
                s != r for i, (s, r) in enumerate(zip(t.shape, ts[0].shape)) if i != axis
            ):
                raise ValueError(
                    f"concat: shapes {ts[0].shape} and {t.shape} differ outside axis {axis}."
                )
    return apply(concat_p, ts, {"axis": axis})


def stack(arrays: Sequence[Any], /, *, axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.stack([ad.tensor([1.0, 2.0]), ad.tensor([3.0, 4.0])], axis=1).tolist()
    [[1.0, 3.0], [2.0, 4.0]]
    """
    ts = _tensors(arrays, "stack")
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: all shapes must be equal, got {ts[0].shape} and {t.shape}.")
    axis = normalize_axis(axis, ts[0].ndim + 1)
    return apply(stack_p, ts, {"axis": axis})


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Tensor:
    """Cast to ``dtype``. Differentiable between floating dtypes; a cast to an
    integer or bool dtype gives a tensor that does not require grad.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.astype(ad.tensor([1.7, -2.2]), ad.int64).tolist()
    [1, -2]
    """
    x = as_tensor(x)
    if device is not None:
        x = x.to_device(device)
    target = _dtypes.to_dtype(dtype)
    native = x._backend.native_dtype(target)
    if not x._backend.supports(target, x.device):
        raise TypeError(f"{target.name} is not supported on {x.device}.")
    out = apply1(astype_p, x, {"dtype": native, "copy": copy})
    if not target.is_floating:
        out = out.detach()
    return out
