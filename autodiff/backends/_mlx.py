"""The MLX backend: Apple Silicon's array library (Metal GPU; CPU on Linux too).

array-api-compat does not wrap MLX, so ``_mlx_namespace.py`` supplies ``MLXNamespace``,
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
from ._mlx_namespace import MLXNamespace

__all__ = ["MLXBackend", "MLXNamespace"]


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
    # linalg through the MLXLinalg adapter (on MLX's CPU stream), fft through MLXFFT
    # (complex64 only: MLX has no complex128)
    extensions: tuple[str, ...] = ("linalg", "fft")

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
        from ._special import strict_tanh

        # tanh(±inf + yj) is ±1 + 0j with the sign of y on the zero, as the standard says
        self.declare_kernels(
            {"scatter_into_zeros": scatter_into_zeros_no_device, "tanh": strict_tanh}
        )
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
        """A NumPy copy; bfloat16, which NumPy lacks, comes back as float32 (exact: a
        bfloat16 is the upper half of a float32), so ``tolist()``/``item()`` work too."""
        import mlx.core as mx
        import numpy as np

        if array.dtype == mx.bfloat16:
            array = array.astype(mx.float32)
        return np.array(array)

    host_copies = True

    def host_readable(self, array: Any) -> bool:
        return self.device_of(array).label == "cpu"

    def compile_program(self, fn: Any) -> Any:
        """``ad.compile`` hands a traced program to ``mx.compile``, which fuses it."""
        import mlx.core as mx

        return mx.compile(fn)

    def synchronize(self, array: Any) -> None:
        import mlx.core as mx

        mx.eval(array)
