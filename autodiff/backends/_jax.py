"""The JAX backend: JAX arrays and XLA kernels, autodiff's engine for gradients.

``jax.numpy`` implements the array API itself. autodiff never narrows
silently, so loading this backend turns on JAX's 64-bit mode
(``jax_enable_x64``); without it JAX would store float64 data as float32.
JAX arrays are immutable, so the primitives that write into an array get
kernels built on ``.at[...].set``. Devices: ``jax:cpu:0``, ``jax:gpu:N``,
``jax:tpu:N``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from .. import _dtypes
from ._base import Backend, Device

__all__ = ["JaxBackend"]


def _scatter_into_zeros(xp: Any, g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    out = xp.zeros(shape, dtype=g.dtype, device=g.device)
    plain = tuple(k for k in key if k is not None)
    return out.at[plain].set(xp.reshape(g, tuple(out[plain].shape)))


class JaxBackend(Backend):
    """JAX through ``jax.numpy``."""

    name = "jax"
    install_hint = "Install it with: pip install 'autodiff[jax]' (or jax[cuda12] for GPUs)"
    numpy_dtypes = True
    multi_device = True
    default_float = _dtypes.float32

    def availability(self) -> tuple[bool, str]:
        if importlib.util.find_spec("jax") is None:
            return False, "JAX is not installed"
        return True, ""

    def _load_xp(self) -> Any:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as xp

        from ._special import STRICT_KERNELS

        # the standard's floor_divide at infinities and complex expm1/tanh special cases
        self.declare_kernels({"scatter_into_zeros": _scatter_into_zeros, **STRICT_KERNELS})
        return xp

    def _device_table(self) -> dict[str, Any]:
        import jax

        table: dict[str, Any] = {}
        for backend in ("cpu", "gpu", "tpu"):
            try:
                devices = jax.devices(backend)
            except RuntimeError:
                continue
            for d in devices:
                table[f"{d.platform}:{d.id}"] = d
        return table

    def _alias(self, label: str) -> str:
        if ":" in label:
            return label.replace("cuda", "gpu")
        if label in ("cuda", "gpu", "metal"):
            label = "gpu"
        return f"{label}:0"

    def device_of(self, array: Any) -> Device:
        dev = array.device
        return self._device_map()[f"{dev.platform}:{dev.id}"]

    def to_numpy(self, array: Any) -> Any:
        import numpy as np

        return np.asarray(array)

    def synchronize(self, array: Any) -> None:
        array.block_until_ready()

    def host_readable(self, array: Any) -> bool:
        return self.device_of(array).label.startswith("cpu")

    def compile_program(self, fn: Any) -> Any:
        """``ad.compile`` hands a traced program to ``jax.jit``."""
        import jax

        return jax.jit(fn)
