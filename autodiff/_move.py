"""Moving tensors between devices and backends, as a differentiable primitive."""

from __future__ import annotations

from typing import Any

from . import backends
from ._config import current
from .backends import Backend, Device
from .engine import Node, primitive
from .grad_mode import GRAD_ENABLED
from .tensor import Tensor, wrap

__all__ = ["move_array", "resolve_device", "to_device"]


def resolve_device(spec: Any, default_backend: Backend | None = None) -> Device:
    """Turn ``spec`` (``Device``, ``"mlx:gpu"``, ``"cpu"``, a native device) into a ``Device``.

    A bare label (``"cpu"``) means that device of ``default_backend`` (the current
    backend when None).

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._move import resolve_device
    >>> str(resolve_device("numpy:cpu"))
    'numpy:cpu'
    >>> str(resolve_device("cpu", ad.backends.get("numpy")))
    'numpy:cpu'
    """
    if isinstance(spec, Device):
        return backends.get(spec.backend).device(spec)
    if isinstance(spec, str):
        head, _, rest = spec.partition(":")
        if rest and head in backends.registered():
            return backends.get(head).device(rest)
    backend = default_backend if default_backend is not None else current().backend
    return backend.device(spec)


def move_array(data: Any, src: Backend, dst: Device) -> Any:
    """Copy a native array of ``src`` onto ``dst`` (DLPack when possible, else the host).

    Examples
    --------
    >>> import numpy as np
    >>> import autodiff as ad
    >>> from autodiff._move import move_array
    >>> numpy_backend = ad.backends.get("numpy")
    >>> move_array(np.array([1.0, 2.0]), numpy_backend, numpy_backend.device("cpu")).tolist()
    [1.0, 2.0]
    """
    target = backends.get(dst.backend)
    if target is src:
        return data.to_device(dst.native)
    if src.name != "mlx" and dst.label == "cpu" and hasattr(data, "__dlpack__"):
        # zero-copy where both libraries speak DLPack on the same device
        from_dlpack = getattr(target.xp, "from_dlpack", None)
        if from_dlpack is not None:
            try:
                out = from_dlpack(data)
                if target.dtype_of(out) is src.dtype_of(data):  # never narrow on the way
                    return out
            except (
                TypeError,
                ValueError,
                RuntimeError,
                BufferError,
                AttributeError,
                NotImplementedError,
            ):
                pass
    return target.asarray(src.to_numpy(data), device=dst)


def _move_vjp(xp: Any, g: Any, ans: Any, a: Any, dst: Device, src: Device) -> tuple[Any]:
    # the gradient goes back to where the input lived
    if isinstance(g, Tensor):
        return (to_device(g, src),)
    return (move_array(g, backends.get(dst.backend), src),)


move_p = primitive("to_device", lambda xp, a, dst, src: a, _move_vjp)


def to_device(x: Tensor, device: Any, *, stream: Any = None) -> Tensor:
    """Move ``x`` to ``device``; differentiable (gradients flow back to ``x``'s device).

    A tensor already on ``device`` is returned as it is.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._move import to_device
    >>> x = ad.tensor([1.0, 2.0], device="numpy:cpu", requires_grad=True)
    >>> to_device(x, "numpy:cpu") is x
    True
    """
    src = x.device
    dst = resolve_device(device, x._backend)
    if dst == src:
        return x
    target = backends.get(dst.backend)
    out = wrap(move_array(x.data, x._backend, dst), target)
    if x._rg and GRAD_ENABLED.get():
        out._rg = True
        out._node = Node(move_p, target, (x,), {"dst": dst, "src": src}, out.data)
    return out
