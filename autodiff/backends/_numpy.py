"""The NumPy backend (CPU, the default)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Backend

__all__ = ["NumpyBackend"]


class NumpyBackend(Backend):
    """NumPy through ``array_api_compat.numpy``."""

    name = "numpy"
    install_hint = "Install it with: pip install numpy"
    numpy_dtypes = True

    def _load_xp(self) -> Any:
        import array_api_compat.numpy as xp

        from ..engine import PRIMITIVES

        if "scatter_add" in PRIMITIVES:
            self.kernels[PRIMITIVES["scatter_add"]] = _scatter_add
        return xp

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


def _scatter_add(xp: Any, g: Any, indices: Any, axis: int, size: int) -> Any:
    # np.add.at adds repeated indices, without the generic one-hot matrix
    shape = list(g.shape)
    shape[axis] = size
    out = np.zeros(shape, dtype=g.dtype)
    key = (slice(None),) * axis + (indices,)
    np.add.at(out, key, g)
    return out
