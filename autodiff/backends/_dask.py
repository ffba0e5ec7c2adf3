"""The Dask backend: lazy, chunked arrays that run on a laptop or a ``distributed`` cluster.

Tensors wrap Dask arrays; forward and backward only build Dask graphs.
Nothing is computed until asked: ``item()``, ``numpy()``, ``tolist()``,
printing, or ``ad.compute(*tensors)`` for several results at once, so shared work is done once.
Operations whose result shape depends on the data (boolean masks) would give
arrays of unknown shape; autodiff raises a clear error for them instead.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any

from .._core import PRIMITIVES
from ._base import Backend, Device, scatter_into_zeros_no_device

__all__ = ["DaskBackend"]


class DaskBackend(Backend):
    """Dask arrays through ``array_api_compat.dask.array``."""

    name = "dask"
    install_hint = "Install it with: pip install 'autodiff[dask]'"
    numpy_dtypes = True
    lazy = True

    def availability(self) -> tuple[bool, str]:
        if importlib.util.find_spec("dask") is None:
            return False, "Dask is not installed"
        return True, ""

    def _load_xp(self) -> Any:
        import array_api_compat.dask.array as compat

        from ._dask_linalg import DaskNamespace
        from ._special import STRICT_KERNELS

        self.declare_kernels(
            {
                "scatter_into_zeros": scatter_into_zeros_no_device,
                "fft.c2c": _one_chunk_fft("fft.c2c"),
                "fft.rfft": _one_chunk_fft("fft.rfft"),
                "fft.irfft": _one_chunk_fft("fft.irfft"),
                # NumPy computes each chunk: the standard's floor_divide at infinities and
                # complex expm1/tanh special cases, through the array API (lazily)
                **STRICT_KERNELS,
            }
        )
        # stacks of matrices and the functions Dask's linalg lacks (_dask_linalg.py)
        return DaskNamespace(compat)

    def _native_ok(self, dtype: Any, native: Any) -> bool:
        return dtype.name != "bfloat16"

    def _device_table(self) -> dict[str, Any]:
        return {"cpu": "cpu"}

    def device_of(self, array: Any) -> Device:
        return self.default_device

    def asarray(self, obj: Any, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
        xp = self.xp
        native_dt = None if dtype is None else self.native_dtype(dtype)
        if device is not None:
            self.device(device)
        out = xp.asarray(obj, dtype=native_dt, copy=copy)
        _check_known(out)
        return out

    host_copies = True

    def to_numpy(self, array: Any) -> Any:
        import numpy as np

        return np.asarray(array.compute() if hasattr(array, "compute") else array)

    def compute_many(self, arrays: Any) -> list[Any]:
        import dask
        import numpy as np

        return [np.asarray(a) for a in dask.compute(*arrays)]


def _one_chunk_fft(name: str) -> Any:
    """The generic forward of an fft primitive on an array whose transformed axis is one
    chunk: Dask transforms only such an axis, and a gradient rule's zero-padding (a
    concat) splits it in two."""

    def kernel(xp: Any, a: Any, **params: Any) -> Any:
        if hasattr(a, "rechunk"):
            a = a.rechunk({params["axis"] % a.ndim: -1})
        return PRIMITIVES[name].forward(xp, a, **params)

    return kernel


def _check_known(array: Any) -> None:
    if any(isinstance(s, float) and math.isnan(s) for s in array.shape):
        raise ValueError(
            "this Dask operation gives an array of unknown shape (it depends on the data, "
            "e.g. a boolean mask); compute the mask first (mask.numpy()) or use ad.where."
        )
