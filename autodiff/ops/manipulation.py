"""The rest of the standard's manipulation functions, and ``tril``/``triu``/``meshgrid``.

``flip``, ``roll``, ``tril`` and ``triu`` are primitives (each rule is the same
operation, or its inverse, on the gradient); ``tile``, ``repeat``, ``moveaxis``,
``unstack``, ``broadcast_arrays`` and ``meshgrid`` are compositions of reshapes,
broadcasts, permutations and gathers, so their gradients come for free and stay
differentiable to any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _views
from .._core import primitive
from ..creation import arange
from ..engine import apply1, call
from ..tensor import Tensor, wrap
from ._rules import front, linear, on_stacks, shift_axes
from ._util import as_tensor, normalize_axes, normalize_axis
from .indexing import take
from .shape import _tensors, broadcast_to, permute_dims, reshape

__all__ = [
    "broadcast_arrays",
    "broadcast_shapes",
    "flip",
    "meshgrid",
    "moveaxis",
    "repeat",
    "roll",
    "tile",
    "tril",
    "triu",
    "unstack",
]

flip_p = primitive(
    "flip",
    lambda xp, a, axis: xp.flip(a, axis=axis),
    lambda xp, g, ans, a, axis: (xp.flip(g, axis=axis),),
    jvp=linear("flip"),
    batch=shift_axes("flip"),
)


def _neg(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


def _roll_batch(xp: Any, dims: Any, a: Any, shift: Any, axis: Any) -> tuple[Any, int]:
    # the batch axis first; axis=None rolls each flattened example
    x = front(xp, a, dims[0])
    if axis is None:
        flat = xp.reshape(x, (int(x.shape[0]), -1))
        return xp.reshape(call(xp, roll_p, flat, shift=shift, axis=1), tuple(x.shape)), 0
    return shift_axes("roll")(xp, (0,), x, shift=shift, axis=axis)


roll_p = primitive(
    "roll",
    lambda xp, a, shift, axis: xp.roll(a, shift, axis=axis),
    lambda xp, g, ans, a, shift, axis: (xp.roll(g, _neg(shift), axis=axis),),
    jvp=linear("roll"),
    batch=_roll_batch,
)
tril_p = primitive(
    "tril",
    lambda xp, a, k: xp.tril(a, k=k),
    lambda xp, g, ans, a, k: (xp.tril(g, k=k),),
    jvp=linear("tril"),
    batch=on_stacks("tril"),
)
triu_p = primitive(
    "triu",
    lambda xp, a, k: xp.triu(a, k=k),
    lambda xp, g, ans, a, k: (xp.triu(g, k=k),),
    jvp=linear("triu"),
    batch=on_stacks("triu"),
)


def flip(x: Any, /, *, axis: Any = None) -> Tensor:
    """Reverse the order of elements along ``axis`` (all axes if None).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.flip(ad.tensor([1.0, 2.0, 3.0])).tolist()
    [3.0, 2.0, 1.0]
    """
    x = as_tensor(x)
    params = {"axis": normalize_axes(axis, x.ndim)}
    return _views.track(apply1(flip_p, x, params), x, flip_p, params)  # a view, as NumPy's


def roll(x: Any, /, shift: int | tuple[int, ...], *, axis: Any = None) -> Tensor:
    """Shift elements along ``axis`` cyclically (over the flattened tensor if None).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.roll(ad.tensor([1.0, 2.0, 3.0]), 1).tolist()
    [3.0, 1.0, 2.0]
    """
    x = as_tensor(x)
    if isinstance(shift, tuple) and (not isinstance(axis, tuple) or len(shift) != len(axis)):
        raise ValueError(
            f"roll: a tuple shift {shift} needs a tuple axis of the same length, got {axis!r}."
        )
    if axis is None:
        flat = reshape(x, (-1,))
        return reshape(apply1(roll_p, flat, {"shift": shift, "axis": 0}), x.shape)
    if isinstance(axis, tuple):
        axis = tuple(normalize_axis(a, x.ndim) for a in axis)
    else:
        axis = normalize_axis(axis, x.ndim)
    return apply1(roll_p, x, {"shift": shift, "axis": axis})


def _check_matrix(x: Tensor, name: str) -> None:
    if x.ndim < 2:
        raise ValueError(f"{name} needs at least 2 dimensions, got shape {x.shape}.")


def tril(x: Any, /, *, k: int = 0) -> Tensor:
    """The lower triangle of each matrix (elements above diagonal ``k`` set to 0).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.tril(ad.ones((2, 2))).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    x = as_tensor(x)
    _check_matrix(x, "tril")
    return apply1(tril_p, x, {"k": int(k)})


def triu(x: Any, /, *, k: int = 0) -> Tensor:
    """The upper triangle of each matrix (elements below diagonal ``k`` set to 0).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.triu(ad.ones((2, 2))).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    x = as_tensor(x)
    _check_matrix(x, "triu")
    return apply1(triu_p, x, {"k": int(k)})


def moveaxis(x: Any, source: Any, destination: Any, /) -> Tensor:
    """Move axes ``source`` to positions ``destination`` (ints or tuples of ints).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.moveaxis(ad.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    x = as_tensor(x)
    src = normalize_axes(source, x.ndim)
    dst = normalize_axes(destination, x.ndim)
    if len(src) != len(dst):
        raise ValueError(
            f"moveaxis: source {source!r} and destination {destination!r} differ in length."
        )
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute_dims(x, tuple(order))


def tile(x: Any, repetitions: Sequence[int], /) -> Tensor:
    """Repeat the whole tensor ``repetitions[i]`` times along axis ``i``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.tile(ad.tensor([1.0, 2.0]), (2,)).tolist()
    [1.0, 2.0, 1.0, 2.0]
    """
    x = as_tensor(x)
    reps = tuple(int(r) for r in repetitions)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: repetitions must be non-negative, got {reps}.")
    n = max(len(reps), x.ndim)
    reps = (1,) * (n - len(reps)) + reps
    shape = (1,) * (n - x.ndim) + tuple(x.shape)
    # (1, s0, 1, s1, ...) broadcast to (r0, s0, r1, s1, ...), then merged pairwise
    spread = reshape(x, tuple(v for s in shape for v in (1, s)))
    big = broadcast_to(spread, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    # a new array, as NumPy's tile: never a view of x, and writable
    return _views.fresh(reshape(big, tuple(r * s for r, s in zip(reps, shape))))


def repeat(x: Any, repeats: Any, /, *, axis: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times (an int, or one count per element) along
    ``axis`` (over the flattened tensor if None).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.repeat(ad.tensor([1.0, 2.0]), 2).tolist()
    [1.0, 1.0, 2.0, 2.0]
    >>> ad.repeat(ad.tensor([1.0, 2.0]), ad.tensor([1, 3])).tolist()
    [1.0, 2.0, 2.0, 2.0]
    """
    x = as_tensor(x)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    if isinstance(repeats, int):
        if repeats < 0:
            raise ValueError(f"repeat: repeats must be non-negative, got {repeats}.")
        shape = tuple(x.shape)
        spread = reshape(x, (*shape[: axis + 1], 1, *shape[axis + 1 :]))
        big = broadcast_to(spread, (*shape[: axis + 1], repeats, *shape[axis + 1 :]))
        # a new array, as NumPy's repeat: never a view of x, and writable
        return _views.fresh(reshape(big, (*shape[:axis], n * repeats, *shape[axis + 1 :])))

    counts = as_tensor(repeats, x)
    integral = counts.dtype.kind in ("signed integer", "unsigned integer")
    if counts.ndim != 1 or counts.shape[0] not in (1, n) or not integral:
        raise ValueError(
            f"repeat: repeats must be an int or a 1-d integer tensor of length 1 or {n}, "
            f"got {counts.dtype.name} of shape {counts.shape}."
        )
    backend = counts._backend
    if (backend.to_numpy(counts.data) < 0).any():
        raise ValueError("repeat: repeats must be non-negative.")
    # the index's length depends on the counts' values: computed on the host
    positions = arange(n, dtype=counts.dtype, device=counts.device)
    (index,) = backend.on_host("repeat", positions.data, counts.data, device=counts.device)
    return take(x, wrap(index, backend), axis=axis)


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Tensor, ...]:
    """Split ``x`` along ``axis`` into a tuple of tensors with one dimension fewer.

    Examples
    --------
    >>> import autodiff as ad
    >>> [t.tolist() for t in ad.unstack(ad.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1)]
    [[1.0, 3.0], [2.0, 4.0]]
    """
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("unstack needs at least one dimension, got a 0-d tensor.")
    axis = normalize_axis(axis, x.ndim)
    return tuple(x[(slice(None),) * axis + (i, Ellipsis)] for i in range(x.shape[axis]))


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape that ``shapes`` broadcast to; ``ValueError`` if they do not.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    n = max((len(s) for s in shapes), default=0)
    out = []
    for dims in zip(*((1,) * (n - len(s)) + tuple(s) for s in shapes)):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {', '.join(map(str, shapes))} cannot be broadcast together.")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_arrays(*arrays: Any) -> list[Tensor]:
    """Broadcast tensors against each other (gradients sum over the broadcast axes).

    Examples
    --------
    >>> import autodiff as ad
    >>> [t.shape for t in ad.broadcast_arrays(ad.zeros((2, 1)), ad.zeros(3))]
    [(2, 3), (2, 3)]
    """
    ts = _tensors(arrays, "broadcast_arrays")
    shape = broadcast_shapes(*(t.shape for t in ts))
    return [t if t.shape == shape else broadcast_to(t, shape) for t in ts]


def meshgrid(*arrays: Any, indexing: str = "xy") -> list[Tensor]:
    """Coordinate grids from 1-d tensors (``"xy"``: Cartesian, ``"ij"``: matrix indexing).

    Examples
    --------
    >>> import autodiff as ad
    >>> x, y = ad.meshgrid(ad.tensor([1.0, 2.0, 3.0]), ad.tensor([4.0, 5.0]))
    >>> x.shape, y.tolist()
    ((2, 3), [[4.0, 4.0, 4.0], [5.0, 5.0, 5.0]])
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    if not arrays:
        return []
    ts = _tensors(arrays, "meshgrid")
    for t in ts:
        if t.ndim != 1:
            raise ValueError(f"meshgrid needs 1-d tensors, got shape {t.shape}.")
    sizes = [t.shape[0] for t in ts]
    if indexing == "xy" and len(ts) > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(ts):
        pos = (1 - i if i < 2 else i) if indexing == "xy" and len(ts) > 1 else i
        shape = [1] * len(ts)
        shape[pos] = t.shape[0]
        # new arrays, as NumPy's meshgrid (copy=True): never views of t, and writable
        out.append(_views.fresh(broadcast_to(reshape(t, tuple(shape)), tuple(sizes))))
    return out
