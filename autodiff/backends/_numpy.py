"""The NumPy backend (CPU, the default)."""

from __future__ import annotations

import math
import types
from typing import Any, ClassVar

import numpy as np

from .._core import PRIMITIVES
from ._base import Backend

__all__ = ["NumpyBackend"]


def _namespace() -> Any:
    """NumPy itself as the array API namespace, with the few 2024.12 keywords it lacks.

    NumPy 2.x implements the standard (``numpy.__array_api_version__``); calling it
    directly instead of through ``array_api_compat.numpy`` saves a Python frame per
    operation and the ~20 MB and 100 ms that importing the compat layer costs (it pulls
    in ``numpy.f2py``, ``numpy.testing`` and their dependencies). Only ``sort`` and
    ``argsort`` (no ``descending=`` in NumPy), ``fft.fftfreq``/``rfftfreq`` (no ``dtype=``)
    and the ``unique_*`` functions (kept sorted) are adapted.
    """
    ns: Any = types.ModuleType("autodiff.backends._numpy.xp", "NumPy as an array API namespace.")
    ns.__dict__.update({k: v for k, v in vars(np).items() if not k.startswith("_")})
    ns.__array_api_version__ = "2024.12"
    ns.linalg = np.linalg
    fft: Any = types.ModuleType("autodiff.backends._numpy.xp.fft")
    fft.__dict__.update({k: v for k, v in vars(np.fft).items() if not k.startswith("_")})
    fft.fftfreq = _freq(np.fft.fftfreq)
    fft.rfftfreq = _freq(np.fft.rfftfreq)
    ns.fft = fft
    ns.sort = _sort
    # NumPy's unique_* no longer sort (the standard leaves the order open); autodiff
    # promises sorted values on every backend, as np.unique gives them
    ns.unique_values = lambda x, /: np.unique(x)
    ns.unique_counts = lambda x, /: np.unique(x, return_counts=True)
    ns.unique_inverse = lambda x, /: _inverse(np.unique(x, return_inverse=True), x.shape)
    ns.unique_all = lambda x, /: _all(
        np.unique(x, return_index=True, return_inverse=True, return_counts=True), x.shape
    )
    ns.argsort = _argsort
    ns.where = _where
    return ns


#: unsigned integers as wide as each floating dtype: ``_where`` selects their bits
_BITS = {2: np.uint16, 4: np.uint32, 8: np.uint64}
#: below this many elements ``np.where`` is cheaper than a pass of arithmetic
_WHERE_MIN = 512


def _where(condition: Any, x1: Any, x2: Any, /) -> Any:
    """``np.where``, branch-free for large floating selections.

    NumPy's ``where`` loop branches on every element: on an unpredictable mask (a ReLU's,
    a maximum's) it runs at a tenth of the speed of arithmetic (128 µs against 9 µs for
    32,768 float32 elements, measured; ReLU's gradient was a quarter of an MLP's backward).
    Multiplying the bit patterns, as unsigned integers, by the boolean mask keeps or zeroes
    each element without a branch and gives exactly ``np.where``'s values (NaN payloads
    and signed zeros included).
    """
    if (
        condition.__class__ is not np.ndarray
        or condition.size < _WHERE_MIN
        or condition.dtype != np.bool_
    ):
        return np.where(condition, x1, x2)  # small selections first: no result_type call
    dt = np.result_type(x1, x2)
    bits = _BITS.get(dt.itemsize) if dt.kind == "f" else None
    if bits is None:
        return np.where(condition, x1, x2)
    picked = np.asarray(x1, dtype=dt).view(bits) * condition
    if not (x2.__class__ in (float, int) and x2 == 0 and math.copysign(1.0, x2) > 0):
        picked = picked | (np.asarray(x2, dtype=dt).view(bits) * ~condition)
    return picked.view(dt)


def _inverse(res: Any, shape: tuple[int, ...]) -> Any:
    values, inverse = res
    return values, inverse.reshape(shape)


def _all(res: Any, shape: tuple[int, ...]) -> Any:
    values, index, inverse, counts = res
    return values, index, inverse.reshape(shape), counts


def _freq(fn: Any) -> Any:
    # the standard's dtype= and device= keywords, which NumPy's fftfreq lacks
    def freq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Any:
        out = fn(n, d=d)
        return out if dtype is None else out.astype(dtype, copy=False)

    freq.__name__ = fn.__name__
    return freq


def _sort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    kind: Any = "stable" if stable else None
    out = np.sort(x, axis=axis, kind=kind)
    return np.flip(out, axis=axis) if descending else out


def _argsort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    kind: Any = "stable" if stable else None
    if not descending:
        return np.argsort(x, axis=axis, kind=kind)
    # descending with ties in their original order: sort the reversed array ascending,
    # reverse the result, and map positions back
    idx = np.flip(np.argsort(np.flip(x, axis=axis), axis=axis, kind=kind), axis=axis)
    return x.shape[axis] - 1 - idx


class NumpyBackend(Backend):
    """NumPy, itself an array API namespace since 2.0."""

    name = "numpy"
    install_hint = "Install it with: pip install numpy"
    numpy_dtypes = True
    #: ad.compile turns 0-d inputs into NumPy scalars at a program's entry: NumPy's scalar
    #: arithmetic costs ~35 ns, its 0-d array arithmetic ~400 ns (same dtype rules)
    scalar_entry = True
    #: primitives that are exactly one NumPy ufunc: ``ad.compile`` calls these directly
    ufuncs: ClassVar[dict[str, Any]] = {
        "add": np.add,
        "subtract": np.subtract,
        "multiply": np.multiply,
        "divide": np.true_divide,
        "negative": np.negative,
        "positive": np.positive,
        "exp": np.exp,
        "log": np.log,
        "sin": np.sin,
        "cos": np.cos,
        "tan": np.tan,
        "tanh": np.tanh,
        "sqrt": np.sqrt,
        "square": np.square,
        "abs": np.abs,
        "maximum": np.maximum,
        "minimum": np.minimum,
        "equal": np.equal,
        "not_equal": np.not_equal,
        "less": np.less,
        "less_equal": np.less_equal,
        "greater": np.greater,
        "greater_equal": np.greater_equal,
        "sign": np.sign,
        "expm1": np.expm1,
        "log1p": np.log1p,
        "reciprocal": np.reciprocal,
    }

    def _load_xp(self) -> Any:
        from ._special import NUMPY_KERNELS

        self.declare_kernels(
            {
                "scatter_add": _scatter_add,
                "softmax_cross_entropy": _softmax_cross_entropy,
                "mean": _mean,
                **NUMPY_KERNELS,
            }
        )
        return _namespace()

    def _native_ok(self, dtype: Any, native: Any) -> bool:
        return dtype.name != "bfloat16"

    def _device_table(self) -> dict[str, Any]:
        return {"cpu": "cpu"}

    def asarray(self, obj: Any, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
        native_dt = None if dtype is None else self.native_dtype(dtype)
        if device is not None:
            self.device(device)
        if copy:
            arr = np.array(obj, dtype=native_dt, copy=True)
        elif copy is False:
            arr = np.asarray(obj, dtype=native_dt, copy=False)
        else:
            arr = np.asarray(obj, dtype=native_dt)
        if arr.dtype == object:
            raise TypeError(
                f"cannot make a numeric array from {type(obj).__name__} {obj!r}: "
                "use numbers, nested lists of numbers or arrays."
            )
        return arr

    def to_numpy(self, array: Any) -> Any:
        return np.asarray(array)

    def fuse_program(
        self, code: list[Any], values: dict[int, Any], literals: dict[int, Any], keep: set[int]
    ) -> list[Any]:
        """``ad.compile``: chains of elementwise instructions as numba kernels when numba is
        installed (``autodiff[numba]``), scalar ones as inline NumPy-scalar expressions
        (see ``_jit/numba.py``)."""
        from .._jit import numba as _numba

        return _numba.fuse(code, values, literals, keep)

    def buffer_program(
        self, code: list[Any], values: dict[int, Any], keep: set[int]
    ) -> tuple[list[Any], Any]:
        """``ad.compile``: large intermediates written into buffers that every replay
        reuses, with the allocator of one set of them (see ``_jit/buffers.py``)."""
        from .._jit import buffers as _buffers

        return _buffers.plan(code, values, keep, self.ufuncs)


def _scatter_add(xp: Any, g: Any, indices: Any, axis: int, size: int) -> Any:
    # np.add.at adds repeated indices, without the generic one-hot matrix
    shape = list(g.shape)
    shape[axis] = size
    out = np.zeros(shape, dtype=g.dtype)
    key = (slice(None),) * axis + (indices,)
    np.add.at(out, key, g)
    return out


# The kernels below run the generic forward's arithmetic with C-level calls (ufunc
# reductions, integer indexing) instead of NumPy's Python wrappers (np.max, np.mean,
# take_along_axis): after a training step's large matmuls every Python frame runs on cold
# caches (a 128x10 loss: 49 us warm, 103 us after streaming 4 MB), and the hand-written
# NumPy it is measured against makes few calls.


def _softmax_cross_entropy(
    xp: Any, x: Any, labels: Any, ignore_index: int | None = None, mean: bool = False
) -> Any:
    classes = x.shape[-1]
    m = np.maximum.reduce(x, axis=-1)
    flat = labels.reshape(-1)
    kept = None
    if ignore_index is not None and flat.size and (flat == ignore_index).any():
        kept = flat != ignore_index
        flat = np.where(kept, flat, 0)  # a valid class in their place; their loss is 0
    if not (
        np.logical_and.reduce(m > -np.inf, axis=None)
        and np.logical_and.reduce((flat >= 0) & (flat < classes), axis=None)
    ):
        # rows that are all -inf or NaN, labels out of range: the generic forward's care
        fwd = PRIMITIVES["softmax_cross_entropy"].forward
        return fwd(xp, x, labels, ignore_index=ignore_index, mean=mean)
    lse = np.log(np.add.reduce(np.exp(x - m[..., None]), axis=-1)) + m
    rows = x.reshape(-1, classes)
    loss = lse - rows[np.arange(rows.shape[0]), flat].reshape(labels.shape)
    if kept is not None:
        loss = np.where(kept.reshape(labels.shape), loss, 0.0).astype(x.dtype, copy=False)
    if mean:
        n = flat.size if kept is None else np.count_nonzero(kept)
        loss = loss / x.dtype.type(n)
    return loss, lse


_MEAN_DTYPES = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def _mean(xp: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    # np.mean's arithmetic for float32/float64: a pairwise sum, then one division
    if a.dtype not in _MEAN_DTYPES:
        return np.mean(a, axis=axis, keepdims=keepdims)
    add_reduce: Any = np.add.reduce  # (NumPy's stubs type keepdims as a literal)
    total = add_reduce(a, axis=axis, keepdims=keepdims)
    return total / (a.size // max(total.size, 1) if a.size else 0)
