"""The PyTorch backend: PyTorch tensors for storage and kernels, autodiff's engine for gradients.

Devices: ``torch:cpu``, ``torch:cuda:N`` (CUDA or ROCm builds), ``torch:mps``
(Apple Silicon). The default float dtype is float32, PyTorch's own default;
float64 is supported everywhere except on MPS.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from .. import _dtypes
from ._base import Backend, Device

__all__ = ["TorchBackend"]


class TorchBackend(Backend):
    """PyTorch through ``array_api_compat.torch``."""

    name = "torch"
    install_hint = (
        "Install it with: pip install 'autodiff[torch]' (or a PyTorch build for your GPU)"
    )
    multi_device = True
    default_float = _dtypes.float32

    def availability(self) -> tuple[bool, str]:
        if importlib.util.find_spec("torch") is None:
            return False, "PyTorch is not installed"
        return True, ""

    def _load_xp(self) -> Any:
        import array_api_compat.torch as xp

        from ._special import STRICT_KERNELS

        self.declare_kernels(
            {
                # PyTorch has no negative-step slicing: faster forwards that rewrite it
                "getitem": _getitem,
                "scatter_into_zeros": _scatter_into_zeros,
                # torch.count_nonzero(dim=()) counts over every axis
                "count_nonzero": _count_nonzero,
                # the standard's floor_divide at infinities and complex expm1/tanh cases
                **STRICT_KERNELS,
            }
        )
        return xp

    def _native_ok(self, dtype: Any, native: Any) -> bool:
        # PyTorch's uint16/32/64 support only a handful of operations.
        return dtype.name not in ("uint16", "uint32", "uint64")

    def _device_table(self) -> dict[str, Any]:
        import torch

        table: dict[str, Any] = {"cpu": torch.device("cpu")}
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                table[f"cuda:{i}"] = torch.device("cuda", i)
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            table["mps"] = torch.device("mps")
        return table

    def _alias(self, label: str) -> str:
        if label == "cuda":
            return "cuda:0"
        if label in ("gpu", "metal"):
            table = self._device_map()
            return "cuda:0" if "cuda:0" in table else "mps"
        return label

    def _label_of_native(self, native: Any) -> str:
        kind = getattr(native, "type", str(native))
        if kind == "cuda":
            index = native.index if native.index is not None else 0
            return f"cuda:{index}"
        return str(kind)

    def device_of(self, array: Any) -> Device:
        dev = array.device
        if dev.type == "cpu":
            return self._device_map()["cpu"]
        return self._device_map()[self._label_of_native(dev)]

    def supports(self, dtype: Any, device: Any = None) -> bool:
        dt = _dtypes.to_dtype(dtype)
        self.xp  # noqa: B018 - fills the dtype table
        if dt not in self._dtype_to_native:
            return False
        if self.device(device).label == "mps":
            return dt not in (_dtypes.float64, _dtypes.complex128)
        return True

    def asarray(self, obj: Any, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
        """``torch.asarray``, with two of its conversions taken through NumPy.

        ``torch.asarray`` reads a JAX or MLX array through the buffer protocol: a 0-d
        array comes back with shape (1,) and a ``dtype=`` reinterprets its bytes
        (float32 1.0 as float16 gave [0.0, 1.875]), so foreign arrays are copied to
        the host first. And for a 0-d NumPy array with a new dtype and ``copy=True`` it raises
        "can't alias tensor ...", so such an array is converted as a 1-element one.
        """
        import numpy as np
        import torch

        if not isinstance(obj, (torch.Tensor, np.ndarray, np.generic)) and hasattr(
            obj, "__array__"
        ):
            obj = np.array(obj)  # writable: PyTorch warns on a read-only buffer
        if (
            copy
            and dtype is not None
            and isinstance(obj, (np.ndarray, np.generic))
            and obj.ndim == 0
        ):
            one = np.reshape(obj, (1,))
            return torch.reshape(super().asarray(one, dtype, device, copy), ())
        return super().asarray(obj, dtype, device, copy)

    def to_numpy(self, array: Any) -> Any:
        import torch

        out = array.detach().cpu()
        # NumPy has no bfloat16: float32 holds its values exactly (tolist, item, numpy)
        return (out.float() if out.dtype == torch.bfloat16 else out).numpy()

    def host_readable(self, array: Any) -> bool:
        return bool(array.device.type == "cpu")

    #: replays of a compiled program before ``compile_program`` hands it to torch.compile
    compile_after = 100

    def compile_program(self, fn: Any) -> Any:
        """``ad.compile``: a program that keeps being replayed goes to ``torch.compile``.

        Measured on the 2-core development CPU (PyTorch 2.13, inductor): W1's gradient
        program compiled in 21 s, then replayed at 0.25 µs per operation against 3.8 µs
        for autodiff's own replay. So the first ``compile_after`` replays run autodiff's
        program, and only a hot one pays the compilation; if torch.compile cannot take
        the program, autodiff's replay goes on.
        """
        import torch

        state: dict[str, Any] = {"calls": 0, "compiled": None}

        def run(*arrays: Any) -> Any:
            if state["compiled"] is None:
                state["calls"] += 1
                if state["calls"] <= self.compile_after:
                    return fn(*arrays)
                state["compiled"] = torch.compile(fn, dynamic=False)
            return state["compiled"](*arrays)

        return run


def _ascending(key: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[tuple[Any, ...], list[int]]:
    """Rewrite negative-step slices (which PyTorch lacks) as ascending ones.

    Returns the new key and the axes of the indexing result to flip back.
    """
    consuming = sum(1 for k in key if k is not None and k is not Ellipsis)
    out: list[Any] = []
    flips: list[int] = []
    axis = 0  # axis of the input
    res = 0  # axis of the result
    for k in key:
        if k is None:
            out.append(k)
            res += 1
        elif k is Ellipsis:
            skip = len(shape) - consuming
            out.append(k)
            axis += skip
            res += skip
        elif isinstance(k, slice):
            if k.step is not None and k.step < 0:
                picked = range(shape[axis])[k]
                if len(picked):
                    out.append(slice(picked[-1], picked[0] + 1, -k.step))
                    flips.append(res)
                else:
                    out.append(slice(0, 0))
            else:
                out.append(k)
            axis += 1
            res += 1
        else:  # an integer or an index array
            out.append(k)
            axis += 1
            res += 0 if isinstance(k, int) else 1
    return tuple(out), flips


def _getitem(xp: Any, a: Any, key: Any) -> Any:
    asc, flips = _ascending(key, tuple(a.shape))
    out = a[asc]
    return xp.flip(out, axis=tuple(flips)) if flips else out


def _scatter_into_zeros(xp: Any, g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    out = xp.zeros(shape, dtype=g.dtype, device=g.device)
    plain = tuple(k for k in key if k is not None)
    asc, flips = _ascending(plain, shape)
    g = xp.reshape(g, tuple(out[plain if not flips else asc].shape))
    out[asc] = xp.flip(g, axis=tuple(flips)) if flips else g
    return out


def _count_nonzero(xp: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``count_nonzero`` where ``axis=()`` reduces over no axes, as the standard says:
    ``x != 0`` in the default integer dtype. PyTorch's ``count_nonzero(dim=())`` counts
    over every axis (and with ``keepdims`` fails)."""
    if axis == ():
        return xp.astype(a != 0, xp.int64)
    return xp.count_nonzero(a, axis=axis, keepdims=keepdims)
