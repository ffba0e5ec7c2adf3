"""Parameter initialisation, seeded through the backend's generator."""

from __future__ import annotations

import math

import autodiff as ad

from ..tensor import Tensor

__all__ = [
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def _fans(t: Tensor) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dimensions, got {t.shape}.")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fill(t: Tensor, data: object) -> Tensor:
    t.data = ad.asarray(data, dtype=t.dtype, device=t.device).data
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill ``t`` in place from U[a, b)."""
    return _fill(
        t, t.backend.random.uniform(t.shape, low=a, high=b, dtype=t.dtype, device=t.device)
    )


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill ``t`` in place from N(mean, std²)."""
    return _fill(
        t, t.backend.random.normal(t.shape, mean=mean, std=std, dtype=t.dtype, device=t.device)
    )


def zeros_(t: Tensor) -> Tensor:
    """Fill ``t`` with zeros."""
    return _fill(t, ad.zeros(t.shape, dtype=t.dtype, device=t.device))


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(±gain·√(6/(fan_in+fan_out)))."""
    fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, gain²·2/(fan_in+fan_out))."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(t: Tensor, a: float = 0.0) -> Tensor:
    """He uniform for ReLU-like layers (``a`` is the leaky slope)."""
    fan_in, _ = _fans(t)
    bound = math.sqrt(6.0 / ((1 + a * a) * fan_in))
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: Tensor, a: float = 0.0) -> Tensor:
    """He normal for ReLU-like layers."""
    fan_in, _ = _fans(t)
    return normal_(t, 0.0, math.sqrt(2.0 / ((1 + a * a) * fan_in)))
