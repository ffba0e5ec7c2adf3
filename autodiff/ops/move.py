"""Moving tensors between devices and backends, as a differentiable primitive."""

from __future__ import annotations

from typing import Any

from .. import backends
from .._config import move_array, resolve_device
from ..backends import Device
from ..engine import Node, apply, primitive
from ..grad_mode import GRAD_ENABLED
from ..tensor import Tensor, wrap

__all__ = ["move_p", "to_device"]


def _move_vjp(xp: Any, g: Any, ans: Any, a: Any, dst: Device, src: Device) -> tuple[Any]:
    # the gradient goes back to where the input lived
    if isinstance(g, Tensor):
        return (to_device(g, src),)
    return (move_array(g, backends.get(dst.backend), src),)


def _move_jvp(xp: Any, tangents: Any, ans: Any, a: Any, dst: Device, src: Device) -> Any:
    # the tangent goes where the output lives
    t = tangents[0]
    if t is None:
        return None
    if isinstance(t, Tensor):
        return to_device(t, dst)
    return move_array(t, backends.get(src.backend), dst)


def _move_batch(xp: Any, dims: Any, a: Any, dst: Device, src: Device) -> tuple[Any, Any]:
    # each example moves: the batch moves, its axis stays where it is
    if not isinstance(a, Tensor):
        # vmap's raw-array path (``_batching_raw``) would wrap the moved array with the
        # source's backend; raising sends the level to the tensor path, as its rule says
        raise TypeError("to_device's batching rule runs on tensors only")
    return to_device(a, dst), dims[0]


# the forward is never run by the engine: ``to_device`` builds its node itself (the
# output lives on another backend than the input); under a transform the level's rule
# runs (``_move_batch``; a jvp's dual moves its primal and tangent itself)
move_p = primitive(
    "to_device", lambda xp, a, dst, src: a, _move_vjp, jvp=_move_jvp, batch=_move_batch
)


def to_device(x: Tensor, device: Any, *, stream: Any = None) -> Tensor:
    """Move ``x`` to ``device``; differentiable (gradients flow back to ``x``'s device).

    A tensor already on ``device`` is returned as it is.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.ops.move import to_device
    >>> x = ad.tensor([1.0, 2.0], device="numpy:cpu", requires_grad=True)
    >>> to_device(x, "numpy:cpu") is x
    True
    """
    src = x.device
    dst = resolve_device(device, x._backend)
    if dst == src:
        return x
    moved = getattr(x, "_moved", None)
    if moved is not None:  # a value of a jvp: the primal and tangent move
        return moved(dst, src)
    if getattr(x, "_level", None) is not None:  # a value of a vmap: its level's rule
        return apply(move_p, (x,), {"dst": dst, "src": src})
    target = backends.get(dst.backend)
    out = wrap(move_array(x.data, x._backend, dst), target)
    if x._rg and GRAD_ENABLED.get():
        out._rg = True
        out._node = Node(move_p, target, (x,), {"dst": dst, "src": src}, out.data)
    return out
