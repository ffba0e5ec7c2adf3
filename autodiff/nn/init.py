"""Parameter initialisation, seeded through the backend's generator."""

from __future__ import annotations

import math

import autodiff as ad

__all__ = [
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def _fans(t: ad.Tensor) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dimensions, got {t.shape}.")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fill(t: ad.Tensor, data: object) -> ad.Tensor:
    t.data = ad.asarray(data, dtype=t.dtype, device=t.device).data
    return t


def uniform_(t: ad.Tensor, a: float = 0.0, b: float = 1.0) -> ad.Tensor:
    """Fill ``t`` in place from U[a, b).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.get_backend().random.seed(0)
    >>> t = ad.zeros(100)
    >>> ad.nn.init.uniform_(t, -0.5, 0.5) is t
    True
    >>> -0.5 <= float(ad.min(t)) and float(ad.max(t)) < 0.5
    True
    """
    return _fill(
        t, t.backend.random.uniform(t.shape, low=a, high=b, dtype=t.dtype, device=t.device)
    )


def normal_(t: ad.Tensor, mean: float = 0.0, std: float = 1.0) -> ad.Tensor:
    """Fill ``t`` in place from N(mean, std²).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.get_backend().random.seed(0)
    >>> t = ad.nn.init.normal_(ad.zeros(20000), mean=3.0, std=0.5)
    >>> round(float(ad.mean(t)), 1)
    3.0
    """
    return _fill(
        t, t.backend.random.normal(t.shape, mean=mean, std=std, dtype=t.dtype, device=t.device)
    )


def zeros_(t: ad.Tensor) -> ad.Tensor:
    """Fill ``t`` with zeros.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.init.zeros_(ad.ones((2, 2))).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    return _fill(t, ad.zeros(t.shape, dtype=t.dtype, device=t.device))


def xavier_uniform_(t: ad.Tensor, gain: float = 1.0) -> ad.Tensor:
    """Glorot uniform: U(±gain·√(6/(fan_in+fan_out))).

    ``fan_in`` is ``t.shape[1]`` and ``fan_out`` ``t.shape[0]``, each times the
    receptive field (the product of the remaining axes).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.get_backend().random.seed(0)
    >>> w = ad.nn.init.xavier_uniform_(ad.zeros((4, 6)))  # bound √(6/10) ≈ 0.7746
    >>> float(ad.max(ad.abs(w))) <= 0.7746
    True
    """
    fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t: ad.Tensor, gain: float = 1.0) -> ad.Tensor:
    """Glorot normal: N(0, gain²·2/(fan_in+fan_out)).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.get_backend().random.seed(0)
    >>> w = ad.nn.init.xavier_normal_(ad.zeros((100, 100)))  # std √(2/200) = 0.1
    >>> round(float(ad.sqrt(ad.mean(w * w))), 2)
    0.1
    """
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(t: ad.Tensor, a: float = 0.0) -> ad.Tensor:
    """He uniform for ReLU-like layers (``a`` is the leaky slope).

    The bound is ``√(6/((1 + a²) fan_in))``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.get_backend().random.seed(0)
    >>> w = ad.nn.init.kaiming_uniform_(ad.zeros((3, 24)))  # bound √(6/24) = 0.5
    >>> float(ad.max(ad.abs(w))) <= 0.5
    True
    """
    fan_in, _ = _fans(t)
    bound = math.sqrt(6.0 / ((1 + a * a) * fan_in))
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: ad.Tensor, a: float = 0.0) -> ad.Tensor:
    """He normal for ReLU-like layers: N(0, 2/((1 + a²) fan_in)).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.get_backend().random.seed(0)
    >>> w = ad.nn.init.kaiming_normal_(ad.zeros((200, 50)))  # std √(2/50) = 0.2
    >>> round(float(ad.sqrt(ad.mean(w * w))), 2)
    0.2
    """
    fan_in, _ = _fans(t)
    return normal_(t, 0.0, math.sqrt(2.0 / ((1 + a * a) * fan_in)))
