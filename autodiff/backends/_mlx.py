"""The MLX backend: Apple Silicon's array library (Metal GPU; CPU on Linux too).

array-api-compat does not wrap MLX, so this module supplies ``MLXNamespace``,
an adapter over ``mlx.core`` that fills the gaps the primitives meet: the
standard's names (``permute_dims``, ``concat``, ``matrix_transpose``,
``bool``), the ``device=``/``copy=`` keywords, default integer dtypes, and
conversions that never narrow silently (``mx.array`` turns NumPy float64
into float32 unless told otherwise; this adapter keeps float64).

MLX computes transcendental functions of float64 arrays with float32
accuracy (``exp`` of a float64 array is off by ~1e-7): the results say
float64 but are not exact to float64; gradient checks use float32
tolerances on MLX for that reason. MLX has float64 only on its CPU device: asking for float64 on ``mlx:gpu``
raises ``TypeError``, and ``backend.supports(ad.float64, "mlx:gpu")`` is
False. MLX is lazy: operations build a graph that is evaluated when a value
is needed (``item()``, ``numpy()``, ``tolist()``, printing); the engine
never forces an evaluation per operation.

Boolean-mask indexing gives a shape that depends on the data, which MLX
cannot express lazily: the mask is evaluated and brought to the host there
(``ad.where`` stays lazy).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from .. import _dtypes
from ._base import Backend, Device, scatter_into_zeros_no_device

__all__ = ["MLXBackend", "MLXNamespace"]


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
        self.linalg = mx.linalg
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
        if endpoint:
            return self._mx.linspace(start, stop, num, dtype=dtype)
        step = (stop - start) / num
        return (self._mx.arange(0, num, dtype=dtype) * step + start).astype(dtype)

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


def _from_numpy(mx: Any, np_dtype: Any) -> Any:
    name = "bool_" if np_dtype.kind == "b" else np_dtype.name
    return getattr(mx, name)


class MLXBackend(Backend):
    """MLX through ``MLXNamespace``."""

    name = "mlx"
    install_hint = (
        "Install it with: pip install 'autodiff[mlx]' (this pulls mlx[cpu] on Linux, "
        "plain mlx on macOS)"
    )
    default_float = _dtypes.float32
    lazy = True
    # measured: exp/sin/cos of float64 arrays come out with float32 accuracy (~1e-7)
    exact_float64 = False
    # mx.linalg lacks much of the extension (svd options, eigh, norms, complex128) and the
    # adapter does not fill it yet; mx.fft has no complex128
    extensions: tuple[str, ...] = ()

    def availability(self) -> tuple[bool, str]:
        if importlib.util.find_spec("mlx") is None:
            return False, "MLX is not installed"
        try:
            import mlx.core as mx

            mx.array([1.0])
        except (ImportError, OSError, RuntimeError) as err:
            hint = " (on Linux install mlx[cpu])" if sys.platform.startswith("linux") else ""
            return False, f"MLX cannot load its library{hint}: {err}"
        return True, ""

    def _load_xp(self) -> Any:
        from ..engine import PRIMITIVES

        if "scatter_into_zeros" in PRIMITIVES:
            self.kernels[PRIMITIVES["scatter_into_zeros"]] = scatter_into_zeros_no_device
        return MLXNamespace()

    def _native_ok(self, dtype: Any, native: Any) -> bool:
        return True

    def _device_table(self) -> dict[str, Any]:
        import mlx.core as mx

        table: dict[str, Any] = {"cpu": mx.cpu}
        if mx.is_available(mx.gpu):
            table["gpu"] = mx.gpu
        return table

    def _alias(self, label: str) -> str:
        return "gpu" if label in ("metal", "cuda", "cuda:0") else label

    @property
    def default_device(self) -> Device:
        import mlx.core as mx

        label = "gpu" if mx.default_device() == mx.gpu else "cpu"
        return self._device_map().get(label, next(iter(self._device_map().values())))

    def device_of(self, array: Any) -> Device:
        return self.default_device

    def supports(self, dtype: Any, device: Any = None) -> bool:
        dt = _dtypes.to_dtype(dtype)
        self.xp  # noqa: B018 - fills the dtype table
        if dt not in self._dtype_to_native:
            return False
        return not (dt is _dtypes.float64 and self.device(device).label != "cpu")

    def asarray(self, obj: Any, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
        xp = self.xp
        dev = self.device(device)
        native = None if dtype is None else self.native_dtype(dtype)
        out = xp.asarray(obj, dtype=native, copy=copy)
        if not self.supports(self.dtype_of(out), dev):
            raise TypeError(
                f"{self.dtype_of(out).name} is not supported on {dev}: MLX has float64 only on "
                "its CPU. autodiff never narrows silently; convert with .astype(ad.float32) "
                "or use device 'mlx:cpu'."
            )
        return out

    def to_numpy(self, array: Any) -> Any:
        import numpy as np

        return np.array(array)

    def synchronize(self, array: Any) -> None:
        import mlx.core as mx

        mx.eval(array)
