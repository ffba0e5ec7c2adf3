"""The array API namespace over ``mlx.core`` that the MLX backend hands the primitives.

array-api-compat does not wrap MLX, so ``MLXNamespace`` fills the gaps the primitives
meet: the standard's names (``permute_dims``, ``concat``, ``matrix_transpose``, ``bool``),
the ``device=``/``copy=`` keywords, default integer dtypes, and conversions that never
narrow silently (``mx.array`` turns NumPy float64 into float32 unless told otherwise;
this adapter keeps float64). ``MLXLinalg`` and ``MLXFFT`` (``_mlx_linalg.py``) are its
``linalg`` and ``fft`` extensions. The backend object itself is in ``_mlx.py``.
"""

from __future__ import annotations

from typing import Any

from .._dtypes import isdtype
from ._mlx_linalg import MLXFFT, MLXLinalg

__all__ = ["MLXNamespace"]


class MLXNamespace:
    """The array API functions autodiff's primitives use, over ``mlx.core``.

    Names that MLX already spells and behaves as the standard does are
    looked up on ``mlx.core``; the ones below are adapted.
    """

    __array_api_version__ = "2024.12"

    def __init__(self) -> None:
        import mlx.core as mx
        import numpy as np

        self._mx = mx
        self._np = np
        self.bool = mx.bool_
        self.linalg = MLXLinalg(mx, np)
        self.fft = MLXFFT(mx)
        _add_array_api_attributes(mx)
        self.e = 2.718281828459045
        self.pi = 3.141592653589793

    def __getattr__(self, name: str) -> Any:
        # same name and behaviour in mlx.core (exp, log, sum, where, matmul, stack ...)
        return getattr(self._mx, name)

    # -- creation --------------------------------------------------------------
    def asarray(self, obj: Any, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
        mx = self._mx
        if isinstance(obj, mx.array):
            out = obj if dtype is None or obj.dtype == dtype else obj.astype(dtype)
            return mx.array(out) if copy and out is obj else out
        host = self._np.asarray(obj)
        if dtype is None:
            dtype = _from_numpy(mx, host.dtype)
        return mx.array(host, dtype=dtype)

    def zeros(self, shape: Any, dtype: Any = None, device: Any = None) -> Any:
        return self._mx.zeros(shape, dtype=dtype or self._mx.float32)

    def ones(self, shape: Any, dtype: Any = None, device: Any = None) -> Any:
        return self._mx.ones(shape, dtype=dtype or self._mx.float32)

    def empty(self, shape: Any, dtype: Any = None, device: Any = None) -> Any:
        return self._mx.zeros(shape, dtype=dtype or self._mx.float32)

    def full(self, shape: Any, fill_value: Any, dtype: Any = None, device: Any = None) -> Any:
        return self._mx.full(shape, fill_value, dtype=dtype or self._mx.float32)

    def zeros_like(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        return self._mx.zeros(x.shape, dtype=dtype or x.dtype)

    def ones_like(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        return self._mx.ones(x.shape, dtype=dtype or x.dtype)

    def empty_like(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        return self._mx.zeros(x.shape, dtype=dtype or x.dtype)

    def full_like(self, x: Any, fill_value: Any, dtype: Any = None, device: Any = None) -> Any:
        return self._mx.full(x.shape, fill_value, dtype=dtype or x.dtype)

    def arange(
        self, start: Any, stop: Any = None, step: Any = 1, dtype: Any = None, device: Any = None
    ) -> Any:
        if stop is None:
            start, stop = 0, start
        return self._mx.arange(start, stop, step, dtype=dtype or self._mx.int64)

    def linspace(
        self,
        start: Any,
        stop: Any,
        num: int,
        dtype: Any = None,
        device: Any = None,
        endpoint: bool = True,
    ) -> Any:
        dtype = dtype or self._mx.float32
        if self._mx.issubdtype(dtype, self._mx.complexfloating) or dtype == self._mx.float64:
            host = self._np.linspace(start, stop, num, endpoint=endpoint)
            return self._mx.array(host, dtype=dtype)
        # NumPy's values (computed in float64, rounded once): MLX's own linspace
        # computes in float32 and is off by an ulp
        host = self._np.linspace(start, stop, num, endpoint=endpoint, dtype=self._np.float64)
        return self._mx.array(host.astype(self._np.float32), dtype=dtype)

    def eye(
        self,
        n_rows: int,
        n_cols: int | None = None,
        k: int = 0,
        dtype: Any = None,
        device: Any = None,
    ) -> Any:
        return self._mx.eye(n_rows, n_cols, k, dtype=dtype or self._mx.float32)

    # -- manipulation ------------------------------------------------------------
    def astype(self, x: Any, dtype: Any, copy: bool = True, device: Any = None) -> Any:
        return x.astype(dtype)

    def permute_dims(self, x: Any, axes: Any) -> Any:
        return self._mx.transpose(x, axes)

    def matrix_transpose(self, x: Any) -> Any:
        return self._mx.swapaxes(x, -1, -2)

    def concat(self, arrays: Any, axis: int | None = 0) -> Any:
        if axis is None:
            return self._mx.concatenate([self._mx.reshape(a, (-1,)) for a in arrays], axis=0)
        return self._mx.concatenate(list(arrays), axis=axis)

    def reshape(self, x: Any, shape: Any, copy: Any = None) -> Any:
        return self._mx.reshape(x, shape)

    def take(self, x: Any, indices: Any, axis: int | None = None) -> Any:
        return self._mx.take(x, indices, axis=axis)

    # -- data types ----------------------------------------------------------------
    def isdtype(self, dtype: Any, kind: Any) -> bool:
        return isdtype(dtype, kind)

    # -- elementwise functions MLX lacks -----------------------------------------------
    def _bits(self, x: Any) -> Any:
        # the IEEE bit pattern as a signed integer of the same width
        mx = self._mx
        return mx.view(
            x, {mx.float16: mx.int16, mx.float32: mx.int32, mx.float64: mx.int64}[x.dtype]
        )

    def signbit(self, x: Any) -> Any:
        mx = self._mx
        if not mx.issubdtype(x.dtype, mx.floating):
            return x < 0
        return self._bits(x) < 0  # exact, -0.0 and negative NaN included

    def copysign(self, x1: Any, x2: Any) -> Any:
        mx = self._mx
        x1, x2 = self._pair(x1, x2)
        mag = mx.abs(x1)
        return mx.where(self.signbit(x2), -mag, mag)

    def hypot(self, x1: Any, x2: Any) -> Any:
        # scaled, so squares neither overflow nor underflow
        mx = self._mx
        x1, x2 = self._pair(x1, x2)
        a, b = mx.abs(x1), mx.abs(x2)
        big, small = mx.maximum(a, b), mx.minimum(a, b)
        safe = mx.where(big == 0, 1, big)
        ratio = small / safe
        out = mx.where(big == 0, 0, big * mx.sqrt(1 + ratio * ratio))
        return mx.where(mx.isinf(a) | mx.isinf(b), mx.inf, out)

    def nextafter(self, x1: Any, x2: Any) -> Any:
        # step the bit pattern by one toward x2: exact for every finite x1
        mx = self._mx
        x1, x2 = self._pair(x1, x2)
        bits = self._bits(x1)
        one = mx.array(1, dtype=bits.dtype)
        up = (x2 > x1) == (x1 > 0)
        stepped = mx.view(mx.where(up, bits + one, bits - one), x1.dtype)
        tiny = mx.view(one, x1.dtype)  # the smallest subnormal
        from_zero = mx.where(x2 > 0, tiny, -tiny)
        out = mx.where(x1 == 0, from_zero, stepped)
        out = mx.where(x1 == x2, x2, out)
        return mx.where(mx.isnan(x1) | mx.isnan(x2), mx.nan, out)

    def _pair(self, x1: Any, x2: Any) -> tuple[Any, Any]:
        mx = self._mx
        if not isinstance(x1, mx.array):
            x1 = mx.array(x1, dtype=x2.dtype)
        if not isinstance(x2, mx.array):
            x2 = mx.array(x2, dtype=x1.dtype)
        return x1, x2

    def clip(self, x: Any, /, min: Any = None, max: Any = None) -> Any:  # noqa: A002
        return self._mx.clip(x, min, max)

    # -- statistics and searching --------------------------------------------------------
    def _index(self, x: Any) -> Any:
        # MLX returns uint32 indices; the standard's index dtype is a signed integer
        return x.astype(self._mx.int64)

    def argmax(self, x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
        if x.ndim == 0:  # MLX fails on a 0-d input with keepdims; the index is 0
            return self._mx.zeros((), dtype=self._mx.int64)
        return self._index(self._mx.argmax(x, axis=axis, keepdims=keepdims))

    def argmin(self, x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
        if x.ndim == 0:
            return self._mx.zeros((), dtype=self._mx.int64)
        return self._index(self._mx.argmin(x, axis=axis, keepdims=keepdims))

    def count_nonzero(self, x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        return self._mx.sum(x != 0, axis=axis, keepdims=keepdims).astype(self._mx.int64)

    def sign(self, x: Any, /) -> Any:
        # MLX's sign(NaN) is 0; the standard's is NaN
        mx = self._mx
        out = mx.sign(x)
        return mx.where(mx.isnan(x), x, out) if mx.issubdtype(x.dtype, mx.floating) else out

    def _widen(self, x: Any) -> Any:
        # the standard: sums and products of integers default to the widest integer
        # dtype of the same signedness (MLX keeps int8/uint8 ... as they are)
        mx = self._mx
        if x.dtype in (mx.int8, mx.int16, mx.int32, mx.bool_):
            return x.astype(mx.int64)
        if x.dtype in (mx.uint8, mx.uint16, mx.uint32):
            return x.astype(mx.uint64)
        return x

    def sum(self, x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        x = self._widen(x) if dtype is None else x.astype(dtype)
        if x.size == 0:
            return self._empty(x, axis, keepdims, 0)
        return self._mx.sum(x, axis=axis, keepdims=keepdims)

    def prod(
        self, x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False
    ) -> Any:
        x = self._widen(x) if dtype is None else x.astype(dtype)
        if x.size == 0:
            # the empty product is 1 (MLX is not asked: see _empty)
            return self._empty(x, axis, keepdims, 1)
        return self._mx.prod(x, axis=axis, keepdims=keepdims)

    def _empty(self, x: Any, axis: Any, keepdims: bool, fill: Any) -> Any:
        """A reduction of an empty array, ``fill`` everywhere: MLX's CPU reductions of an
        empty array (sum, prod, mean, any, all) can hang, spinning, when evaluated (seen intermittently
        under array-api-tests, in 1 of 3-4 runs), so they are not asked."""
        axes = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
        axes = {a % x.ndim for a in axes}
        shape = [1 if i in axes else n for i, n in enumerate(x.shape)]
        if not keepdims:
            shape = [n for i, n in enumerate(shape) if i not in axes]
        return self._mx.full(shape, fill, dtype=x.dtype)

    def any(self, x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        if x.size == 0:
            return self._empty(x.astype(self._mx.bool_), axis, keepdims, False)
        return self._mx.any(x, axis=axis, keepdims=keepdims)

    def all(self, x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        if x.size == 0:
            return self._empty(x.astype(self._mx.bool_), axis, keepdims, True)
        return self._mx.all(x, axis=axis, keepdims=keepdims)

    def mean(self, x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        if x.size == 0:
            return self._empty(x, axis, keepdims, float("nan"))
        return self._mx.mean(x, axis=axis, keepdims=keepdims)

    def matmul(self, x1: Any, x2: Any, /) -> Any:
        mx = self._mx
        if mx.issubdtype(x1.dtype, mx.inexact) or mx.issubdtype(x2.dtype, mx.inexact):
            return mx.matmul(x1, x2)
        # MLX multiplies matrices of floats only: integers exactly, as a broadcast
        # product summed over k (never through a float, which would round int64)
        a = x1[None, :] if x1.ndim == 1 else x1
        b = x2[:, None] if x2.ndim == 1 else x2
        terms = mx.expand_dims(a, -1) * mx.expand_dims(b, -3)
        out = self.sum(terms, axis=-2).astype(terms.dtype)
        if x2.ndim == 1:
            out = out[..., 0]
        if x1.ndim == 1:
            out = out[..., 0] if x2.ndim == 1 else out[..., 0, :]
        return out

    def _scan(
        self, fn: Any, x: Any, axis: int, dtype: Any, include_initial: bool, start: int
    ) -> Any:
        mx = self._mx
        x = self._widen(x) if dtype is None else x.astype(dtype)
        out = fn(x, axis=axis)
        if include_initial:
            shape = list(x.shape)
            shape[axis] = 1
            out = mx.concatenate([mx.full(shape, start, dtype=out.dtype), out], axis=axis)
        return out

    def cumulative_sum(
        self,
        x: Any,
        /,
        *,
        axis: int | None = None,
        dtype: Any = None,
        include_initial: bool = False,
    ) -> Any:
        return self._scan(
            self._mx.cumsum, x, 0 if axis is None else axis, dtype, include_initial, 0
        )

    def cumulative_prod(
        self,
        x: Any,
        /,
        *,
        axis: int | None = None,
        dtype: Any = None,
        include_initial: bool = False,
    ) -> Any:
        return self._scan(
            self._mx.cumprod, x, 0 if axis is None else axis, dtype, include_initial, 1
        )

    def argsort(
        self, x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True
    ) -> Any:
        # MLX's argsort does not promise a stable order for ties: the standard's stable
        # sort (the default) runs on the host through NumPy
        mx, np = self._mx, self._np
        if not stable:
            idx = mx.argsort(-x if descending else x, axis=axis)
            return self._index(idx)
        host = self._host(x)
        if descending:
            flipped = np.flip(host, axis=axis)
            idx = np.flip(np.argsort(flipped, axis=axis, kind="stable"), axis=axis)
            idx = host.shape[axis] - 1 - idx
        else:
            idx = np.argsort(host, axis=axis, kind="stable")
        return mx.array(idx.astype(np.int64))

    def sort(
        self, x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True
    ) -> Any:
        mx = self._mx
        out = mx.sort(x, axis=axis)  # the values of a stable and an unstable sort agree
        if descending:
            out = self.flip(out, axis=axis)
        return out

    def flip(self, x: Any, /, *, axis: Any = None) -> Any:
        axes = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
        key = [slice(None)] * x.ndim
        for a in axes:
            key[a] = slice(None, None, -1)
        return x[tuple(key)]

    def searchsorted(self, x1: Any, x2: Any, /, *, side: str = "left", sorter: Any = None) -> Any:
        return self._index(self._mx.searchsorted(x1, x2, side=side))

    def isin(self, x1: Any, x2: Any, /, *, invert: bool = False) -> Any:
        mx = self._mx
        x2 = mx.reshape(x2 if isinstance(x2, mx.array) else mx.array(x2), (-1,))
        hit = mx.any(mx.expand_dims(x1, -1) == x2, axis=-1)
        return mx.logical_not(hit) if invert else hit

    # data-dependent shapes: evaluated and computed on the host, then brought back
    def nonzero(self, x: Any, /) -> tuple[Any, ...]:
        np, mx = self._np, self._mx
        return tuple(mx.array(i.astype(np.int64)) for i in np.nonzero(self._host(x)))

    def _host(self, x: Any) -> Any:
        # NumPy has no bfloat16: its values go through float32 (exact, a bfloat16 is the
        # upper half of a float32)
        if x.dtype == self._mx.bfloat16:
            x = x.astype(self._mx.float32)
        return self._np.array(x)

    def _unique(self, x: Any, **kw: Any) -> tuple[Any, ...]:
        np, mx = self._np, self._mx
        res = np.unique(self._host(x).reshape(-1), **kw)
        res = res if isinstance(res, tuple) else (res,)
        # the values in x's dtype (mx.array makes NumPy's float64 float32), indices int64
        out = [mx.array(res[0], dtype=x.dtype)]
        return tuple(out + [mx.array(r.astype(np.int64)) for r in res[1:]])

    def unique_values(self, x: Any, /) -> Any:
        return self._unique(x)[0]

    def unique_counts(self, x: Any, /) -> tuple[Any, ...]:
        return self._unique(x, return_counts=True)

    def unique_inverse(self, x: Any, /) -> tuple[Any, ...]:
        values, inverse = self._unique(x, return_inverse=True)
        return values, self._mx.reshape(inverse, x.shape)

    def unique_all(self, x: Any, /) -> tuple[Any, ...]:
        values, index, inverse, counts = self._unique(
            x, return_index=True, return_inverse=True, return_counts=True
        )
        return values, index, self._mx.reshape(inverse, x.shape), counts


def _add_array_api_attributes(mx: Any) -> None:
    """Give ``mx.array`` the standard's ``.device`` and ``.to_device`` where MLX lacks them.

    MLX arrays live in unified memory and have no device of their own: the device is
    where operations run (the default device). Rules written against the standard ask
    ``g.device`` for the device to create arrays on; the adapter's creation functions
    accept and ignore it. Added only if MLX does not define them itself.
    """
    if not hasattr(mx.array, "device"):
        mx.array.device = property(lambda self: mx.default_device())
    if not hasattr(mx.array, "to_device"):
        mx.array.to_device = lambda self, device, /, *, stream=None: self


def _from_numpy(mx: Any, np_dtype: Any) -> Any:
    name = "bool_" if np_dtype.kind == "b" else np_dtype.name
    return getattr(mx, name)
