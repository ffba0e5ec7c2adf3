"""``vmap``'s level: batched values and the interpreter that batches primitive calls.

While ``vmap(f)`` runs, each mapped argument is a ``BatchTensor``: a tensor that
looks like one example (``shape``, ``ndim``, ``len`` are per example) and holds the
whole batch in ``_val`` (a tensor of the level below) with the batch axis at
``_bdim``. ``f`` runs once; every primitive call that gets a ``BatchTensor`` goes
(through ``autodiff._interpose.dispatch``) to ``BatchLevel.process``, which runs the
primitive's batching rule on the wrapped values, or, for a primitive without one,
a loop over the examples that stacks the results and warns once
(``VmapFallbackWarning``).

Gradients inside ``vmap`` (``vmap(grad(f))``): an output of ``process`` whose inputs
require grad gets a node at this level, over the batched inputs themselves; the
backward pass under a level runs on tensors (``_backward.backward``), so each rule's
operations are batched again and an unbatched parameter receives a per-example
gradient. The wrapped values record the ordinary graph, so ``grad(vmap(f))``
differentiates through the whole batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, NoReturn

from . import _core
from ._batching_raw import raw_rule
from ._interpose import Level, LevelTensor
from .engine import Node, Primitive
from .engine import apply as _apply
from .grad_mode import GRAD_ENABLED
from .tensor import Tensor

__all__ = [
    "BatchAns",
    "BatchLevel",
    "BatchTensor",
    "VmapFallbackWarning",
    "batched",
    "unwrap",
]

_new = object.__new__

#: primitives whose result NumPy would give as a view of their input (see ``_views``)
_VIEWS = frozenset(
    (
        "getitem",
        "reshape",
        "permute_dims",
        "matrix_transpose",
        "expand_dims",
        "squeeze",
        "broadcast_to",
        "flip",
        "real",
        "imag",
    )
)
# why an in-place write into a batched value is refused (``BatchTensor._wflag``)
_INPUT, _VIEW, _HAS_VIEWS = 1, 2, 4


class VmapFallbackWarning(UserWarning):
    """A primitive without a batching rule ran once per example under ``ad.vmap``.

    The result is right but the call costs a Python loop over the batch; the warning
    names the primitive (once per ``vmap`` call). ``docs/vmap.md`` lists which
    primitives have a rule.

    Examples
    --------
    >>> import warnings, autodiff as ad
    >>> issubclass(ad.VmapFallbackWarning, UserWarning)
    True
    """


class BatchLevel(Level):
    """One running ``vmap``: the batch size, and the primitives already warned about."""

    __slots__ = ("owned", "size", "warned")

    kind = "vmap"

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.warned: set[str] = set()
        # what a gradient taken inside this vmap watches, and the plain nodes found to
        # depend on nothing else (by id, the object kept alive with the answer)
        self.owned: dict[int, tuple[bool, Any]] = {}

    def own(self, leaf: Tensor) -> None:
        """Record ``leaf`` as watched by a gradient taken inside this ``vmap``: the
        gradient is computed at this level, so the batches below need no graph to it
        (see ``_batching_raw``)."""
        self.owned[id(leaf)] = (True, leaf)

    def process(self, prim: Primitive, args: tuple[Any, ...], params: Any) -> Any:
        """``prim(*args, **params)`` for every example at once."""
        vals: list[Any] = []
        dims: list[int | None] = []
        rg = False
        for a in args:
            if isinstance(a, BatchTensor) and a._level is self:
                vals.append(a._val)
                dims.append(a._bdim)
            else:
                vals.append(a)
                dims.append(None)
            if isinstance(a, Tensor) and a._rg:
                rg = True
        rule = prim.batch
        if rule is None:
            out, odims = self._fallback(prim, vals, dims, params)
        elif (got := raw_rule(self.owned, prim, rule, vals, dt := tuple(dims), params)) is not None:
            out, odims = got
        else:
            xp = _core.NAMESPACE
            out, odims = rule(xp, dt, *vals, **params) if params else rule(xp, dt, *vals)
        if prim.nout == 1:
            res: Any = self.wrap(out, odims)
            outs: tuple[BatchTensor, ...] = (res,)
        else:
            if not isinstance(odims, (tuple, list)):
                odims = (odims,) * prim.nout
            outs = tuple(self.wrap(o, d) for o, d in zip(out, odims))
            res = outs
        if rg and prim.differentiable and GRAD_ENABLED.get():
            # the node holds snapshots of the batched inputs: a later in-place write
            # rebinds the user's object, never what this node computed from (a leaf
            # that requires grad is kept: backward finds it by identity, and it
            # cannot be written while recording)
            inputs = tuple(
                a._snapshot()
                if isinstance(a, BatchTensor)
                and a._level is self
                and (a._node is not None or not a._rg)
                else a
                for a in args
            )
            node = Node(prim, outs[0]._backend, inputs, params, BatchAns(self, outs), inputs)
            for i, t in enumerate(outs):
                t._rg = True
                t._node = node
                t._oi = i
        if prim.name in _VIEWS:
            for a in args:
                if isinstance(a, BatchTensor) and a._level is self:
                    a._wflag |= _HAS_VIEWS
            for t in outs:
                t._wflag |= _VIEW
        return res

    def wrap(self, val: Any, bdim: int | None) -> BatchTensor:
        """A batched value of this level over ``val`` (batch axis ``bdim``; ``None``:
        the same value for every example, broadcast along a new leading axis)."""
        xp = _core.NAMESPACE
        if bdim is None:
            val = xp.broadcast_to(xp.expand_dims(val, axis=0), (self.size, *val.shape))
            bdim = 0
        elif bdim < 0:
            bdim += val.ndim
        t = _new(BatchTensor)
        t._val = val
        t._bdim = bdim
        t._level = self
        t._backend = val._backend
        t._oi = 0
        t._grad = None
        t.name = None
        t._hooks = None
        t._rg = val._rg
        t._node = None
        t._wflag = 0
        return t

    def _fallback(
        self, prim: Primitive, vals: list[Any], dims: list[int | None], params: Any
    ) -> tuple[Any, Any]:
        """Run ``prim`` once per example (indexed out with autodiff operations, so
        gradients and outer levels see it) and stack the results."""
        if prim.name not in self.warned:
            self.warned.add(prim.name)
            warnings.warn(
                f"vmap: the primitive '{prim.name}' has no batching rule; it runs once per "
                f"example ({self.size} calls) and the results are stacked.",
                VmapFallbackWarning,
                stacklevel=4,
            )
        if self.size == 0:
            raise ValueError(
                f"vmap: '{prim.name}' has no batching rule, and a batch of size 0 gives no "
                "example to compute its output's shape from."
            )
        xp = _core.NAMESPACE
        per = []
        for i in range(self.size):
            ex = [v if d is None else v[(slice(None),) * d + (i,)] for v, d in zip(vals, dims)]
            per.append(_apply(prim, ex, params))
        if prim.nout == 1:
            return xp.stack(per, axis=0), 0
        return tuple(xp.stack([p[k] for p in per], axis=0) for k in range(prim.nout)), (
            0,
        ) * prim.nout


class BatchAns:
    """A batched node's outputs as ``(batch, axis)`` pairs: the node keeps them without
    holding the output tensors, which hold the node (a cycle would keep every batch
    alive until the garbage collector runs); backward rebuilds the tensors."""

    __slots__ = ("level", "parts")

    def __init__(self, level: BatchLevel, outs: tuple[BatchTensor, ...] | list[Any]) -> None:
        self.level = level
        self.parts = tuple((t._val, t._bdim) for t in outs)

    def rebuild(self, node: Node) -> Any:
        """The outputs as tensors of the level, recorded as ``node``'s."""
        outs = []
        for i, (val, bdim) in enumerate(self.parts):
            t = self.level.wrap(val, bdim)
            t._rg = True
            t._node = node
            t._oi = i
            outs.append(t)
        return outs[0] if node.prim.nout == 1 else tuple(outs)


def _data_error(t: BatchTensor, what: str) -> NoReturn:
    if not t._level.active:
        raise RuntimeError(
            f"{what}: this is an intermediate value of a vmap that has finished (it was "
            "kept in a variable or closure outside the vmapped function); return it from "
            "the function instead, so that vmap can turn it into an ordinary tensor."
        )
    raise RuntimeError(
        f"{what} of a batched value inside vmap: vmap runs the function once for the "
        "whole batch, so a value's data (and Python control flow on it) is not available "
        "per example; use autodiff operations (ad.where instead of if, ...), or move the "
        "data-dependent part out of the vmapped function."
    )


class BatchTensor(LevelTensor):
    """A value inside ``vmap``: one example to the user, the whole batch underneath.

    ``_val`` holds the batch (a tensor of the level below) with the batch axis at
    ``_bdim``; ``shape``, ``ndim``, ``size`` and ``len()`` describe one example.
    """

    __slots__ = ("_bdim", "_val", "_wflag")

    _level: BatchLevel
    _val: Any
    _bdim: int
    _wflag: int

    @property
    def data(self) -> Any:
        """Not available: raises (a batched value has no per-example array)."""
        _data_error(self, "cannot read .data")

    @data.setter
    def data(self, value: Any) -> None:
        _data_error(self, "cannot set .data")

    # -- what one example looks like ---------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example."""
        s = tuple(self._val.shape)
        return s[: self._bdim] + s[self._bdim + 1 :]

    @property
    def ndim(self) -> int:
        """The number of dimensions of one example."""
        return self._val.ndim - 1

    @property
    def size(self) -> int:
        """The number of elements of one example."""
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def dtype(self) -> Any:
        """The dtype (the same for every example)."""
        return self._val.dtype

    @property
    def device(self) -> Any:
        """The device the batch lives on."""
        return self._val.device

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        return shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        shape = self.shape
        if not shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(shape[0]))

    def detach(self) -> Tensor:
        """The batched value cut from every graph (this level's and the ones below)."""
        return self._level.wrap(self._val.detach(), self._bdim)

    def _leaf(self) -> BatchTensor:
        """A new leaf of this level over the same batch (the graph below is kept)."""
        return self._level.wrap(self._val, self._bdim)

    def _snapshot(self) -> BatchTensor:
        """A new object in this value's current state and graph position."""
        t = self._level.wrap(self._val, self._bdim)
        t._rg, t._node, t._oi = self._rg, self._node, self._oi
        return t

    def __copy__(self) -> BatchTensor:
        return self._snapshot()

    def __deepcopy__(self, memo: dict[int, Any]) -> BatchTensor:
        """A batched value over a copy of the batch (each example copied)."""
        import copy

        if not self._level.active:
            _data_error(self, "cannot deepcopy")
        t = self._level.wrap(copy.deepcopy(self._val, memo), self._bdim)
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(
            "cannot pickle a batched value inside vmap: it stands for one example of a "
            "batch, and a pickle of one array would lose the batch. Return it from the "
            "vmapped function (vmap stacks it into an ordinary tensor along out_axes) and "
            "pickle that."
        )

    # -- no data-dependent Python --------------------------------------------------
    def numpy(self) -> NoReturn:
        """Not available: raises (see ``data``)."""
        _data_error(self, "cannot convert to NumPy")

    def item(self) -> NoReturn:
        """Not available: raises (see ``data``)."""
        _data_error(self, "cannot call .item()")

    value = item

    def tolist(self) -> NoReturn:
        """Not available: raises (see ``data``)."""
        _data_error(self, "cannot call .tolist()")

    def __float__(self) -> NoReturn:
        _data_error(self, "cannot convert to float")

    def __int__(self) -> NoReturn:
        _data_error(self, "cannot convert to int")

    def __complex__(self) -> NoReturn:
        _data_error(self, "cannot convert to complex")

    def __bool__(self) -> NoReturn:
        _data_error(self, "cannot take the truth value")

    def __index__(self) -> NoReturn:
        _data_error(self, "cannot use as a Python index")

    def __array__(self, dtype: Any = None, copy: Any = None) -> NoReturn:
        _data_error(self, "cannot convert to a NumPy array")

    def __dlpack__(self, **kwargs: Any) -> NoReturn:
        _data_error(self, "cannot export through DLPack")

    def __dlpack_device__(self) -> NoReturn:
        _data_error(self, "cannot export through DLPack")

    def backward(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not available inside ``vmap``: raises."""
        raise RuntimeError(
            "backward() inside vmap: .grad cannot hold a per-example gradient; use "
            "ad.grad, ad.value_and_grad or ad.vjp inside the vmapped function (for "
            "per-example gradients: ad.vmap(ad.grad(loss), in_axes=(None, 0, 0)))."
        )

    def __repr__(self) -> str:
        state = "" if self._level.active else ", finished"
        return (
            f"BatchTensor(shape={self.shape}, dtype={self.dtype.name}, "
            f"batch_size={self._val.shape[self._bdim]}{state})"
        )

    __str__ = __repr__

    # -- in-place writes: batched, as a new value bound to the same object ------------
    def __setitem__(self, key: Any, value: Any) -> None:
        xp = _core.NAMESPACE
        self._check_write("x[key] = value")
        v = value if isinstance(value, Tensor) else xp.asarray(value, dtype=self.dtype)
        if v.dtype != self.dtype:
            v = xp.astype(v, self.dtype)
        from .ops.indexing import _is_advanced, _set_positions, flat_positions

        parts = key if isinstance(key, tuple) else (key,)
        if any(_is_advanced(k) for k in parts):
            # integer-array or mask keys, the same for every example: flat positions
            self._rebind(_set_positions(self, flat_positions(self, key), v, old=self))
            return
        # a mask of the positions written, the same for every example
        mask = xp.zeros(self.shape, dtype=xp.bool, device=self._val.device)
        mask[key] = True
        placed = _scatter_basic(self, key, xp.broadcast_to(v, mask[key].shape))
        self._rebind(xp.where(mask, placed, self))

    def _inplace(self, prim: Any, other: Any) -> Tensor:
        from .ops.linalg import matmul

        self._check_write("an in-place operator (x += y ...)")
        out = matmul(self, other) if prim is None else _apply(prim, (self, other))
        if out.shape != self.shape:
            raise ValueError(
                f"an in-place operation cannot change the shape of a tensor: {self.shape} "
                f"would become {out.shape}; write x = x op y instead."
            )
        if out.dtype != self.dtype:
            out = _core.NAMESPACE.astype(out, self.dtype)
        self._rebind(out)
        return self

    def _check_write(self, what: str) -> None:
        if not self._level.active:
            _data_error(self, what)
        if self._wflag:
            why = (
                "an argument of the vmapped function (the caller's tensor cannot be written "
                "per example)"
                if self._wflag & _INPUT
                else "a view of another batched value, or has views"
            )
            raise RuntimeError(
                f"{what} under vmap: the batched value written is {why}; write into a copy "
                "(y = x * 1, then y[k] = v) or compute a new value (ad.where(mask, v, x))."
            )
        if self._node is None and self._rg and GRAD_ENABLED.get():
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation: "
                "update it under `with ad.no_grad():`, or compute a new tensor (x = x + y)."
            )

    def _rebind(self, new: Any) -> None:
        if not isinstance(new, BatchTensor) or new._level is not self._level:
            new = self._level.wrap(new, None)
        self._val, self._bdim = new._val, new._bdim
        self._rg, self._node, self._oi = new._rg, new._node, new._oi
        self._wflag = 0  # writable before (checked); views taken while writing were internal


def _scatter_basic(x: BatchTensor, key: Any, v: Any) -> Any:
    """``v`` placed at the basic ``key`` of zeros shaped like ``x``."""
    from .ops.indexing import _normalize_key, scatter_p

    return _apply(scatter_p, (v,), {"key": _normalize_key(key, x.shape), "shape": x.shape})


def batched(level: BatchLevel, x: Tensor, axis: int) -> BatchTensor:
    """``x`` as an argument of the vmapped function (batch axis ``axis``)."""
    t = level.wrap(x, axis)
    t._wflag = _INPUT
    return t


def unwrap(level: BatchLevel, t: Any) -> tuple[Any, int | None]:
    """``t``'s batch and batch axis when it is a value of ``level``; else ``(t, None)``."""
    if isinstance(t, BatchTensor) and t._level is level:
        return t._val, t._bdim
    return t, None
