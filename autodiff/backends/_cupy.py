"""The CuPy backend (NVIDIA CUDA GPUs, AMD ROCm builds too).

Through ``array_api_compat.cupy``. Importing CuPy succeeds on machines without
a GPU, so availability is decided by ``cupy.cuda.is_available()``. Devices are
``cupy:cuda:N``. Install with ``pip install 'autodiff[cupy]'`` (CUDA 12,
``cupy-cuda12x``); for CUDA 13 install ``cupy-cuda13x`` instead
(``pip install autodiff cupy-cuda13x``).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from ._base import Backend, Device

__all__ = ["CuPyBackend"]


class CuPyBackend(Backend):
    """CuPy through ``array_api_compat.cupy``."""

    name = "cupy"
    install_hint = (
        "Install it with: pip install 'autodiff[cupy]' (CUDA 12) or pip install cupy-cuda13x "
        "(CUDA 13); CuPy needs an NVIDIA GPU with a working driver."
    )
    numpy_dtypes = True
    multi_device = True

    def availability(self) -> tuple[bool, str]:
        if importlib.util.find_spec("cupy") is None:
            return False, "CuPy is not installed"
        try:
            import cupy

            if not cupy.cuda.is_available():
                return False, "CuPy is installed but no CUDA GPU is usable here"
        except Exception as err:  # a broken CUDA installation
            return False, f"CuPy cannot reach CUDA: {err}"
        return True, ""

    def _load_xp(self) -> Any:
        import array_api_compat.cupy as xp

        return xp

    def _native_ok(self, dtype: Any, native: Any) -> bool:
        return dtype.name != "bfloat16"

    def _device_table(self) -> dict[str, Any]:
        import cupy

        return {f"cuda:{i}": cupy.cuda.Device(i) for i in range(cupy.cuda.runtime.getDeviceCount())}

    def _alias(self, label: str) -> str:
        return "cuda:0" if label in ("cuda", "gpu") else label

    def _label_of_native(self, native: Any) -> str:
        return f"cuda:{int(getattr(native, 'id', native))}"

    def device_of(self, array: Any) -> Device:
        return self._device_map()[f"cuda:{array.device.id}"]

    def to_numpy(self, array: Any) -> Any:
        return array.get()

    def host_readable(self, array: Any) -> bool:
        return False

    def synchronize(self, array: Any) -> None:
        import cupy

        cupy.cuda.get_current_stream().synchronize()

    def fuse_program(
        self, code: list[Any], values: dict[int, Any], literals: dict[int, Any], keep: set[int]
    ) -> list[Any]:
        """``ad.compile``: chains of elementwise instructions as one CUDA
        ``ElementwiseKernel`` each (see ``_cupy_fuse.py``)."""
        if importlib.util.find_spec("cupy") is None:
            return code
        from . import _cupy_fuse

        return _cupy_fuse.fuse(code, values, literals, keep)
