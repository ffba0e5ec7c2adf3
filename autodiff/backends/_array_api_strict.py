"""The array-api-strict backend: proof that autodiff uses only the standard."""

from __future__ import annotations

import importlib.util
from typing import Any

from .. import _dtypes
from ._base import Backend, Device

__all__ = ["ArrayApiStrictBackend"]

_LABELS = {"CPU_DEVICE": "cpu"}
#: device label → names of the dtypes array-api-strict says it holds
_HELD: dict[str, frozenset[str]] = {}


class ArrayApiStrictBackend(Backend):
    """array-api-strict, the reference implementation of the standard."""

    name = "array_api_strict"
    install_hint = "Install it with: pip install 'autodiff[array_api_strict]'"
    multi_device = True

    def availability(self) -> tuple[bool, str]:
        if importlib.util.find_spec("array_api_strict") is None:
            return False, "the array-api-strict package is not installed"
        return True, ""

    def _load_xp(self) -> Any:
        import array_api_strict as xp

        from ._special import STRICT_KERNELS

        # the standard's special cases where NumPy (which computes here) misses them
        self.declare_kernels(STRICT_KERNELS)
        return xp

    def _device_table(self) -> dict[str, Any]:
        devices = self.xp.__array_namespace_info__().devices()
        return {_LABELS.get(d._device, d._device): d for d in devices}

    def device_of(self, array: Any) -> Device:
        native = array.device
        return self._device_map()[_LABELS.get(native._device, native._device)]

    def supports(self, dtype: Any, device: Any = None) -> bool:
        dt = _dtypes.to_dtype(dtype)
        self.xp  # noqa: B018 - fills the dtype table
        if dt not in self._dtype_to_native:
            return False
        dev = self.device(device)
        held = _HELD.get(dev.label)
        if held is None:
            # what array-api-strict's own info says the device holds (no_float64 lacks
            # float64 and complex128; no_x64 every 64-bit dtype and complex128)
            held = frozenset(self.xp.__array_namespace_info__().dtypes(device=dev.native))
            _HELD[dev.label] = held
        return dt.name in held

    def to_numpy(self, array: Any) -> Any:
        import numpy as np

        return np.from_dlpack(array)

    def host_readable(self, array: Any) -> bool:
        # as array-api-strict's own __array__: only its CPU device converts implicitly
        return self.device_of(array).label == "cpu"
