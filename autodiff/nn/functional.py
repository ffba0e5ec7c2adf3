"""Activations and layer functions, written only against autodiff's namespace."""

from __future__ import annotations

import math
from typing import Any

import autodiff as ad

from ..ops.special import log_softmax as _log_softmax
from ..ops.special import softmax as _softmax

# the losses are defined once, in losses.py, and exported here too (F.cross_entropy)
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
    soft_cross_entropy_loss,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "dropout",
    "gelu",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "log_softmax",
    "logsumexp",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "smooth_l1_loss",
    "soft_cross_entropy_loss",
    "softmax",
    "tanh",
]

relu = ad.relu
sigmoid = ad.sigmoid
tanh = ad.tanh
logsumexp = ad.logsumexp

_GELU_C = math.sqrt(2.0 / math.pi)


def gelu(x: ad.Tensor, approximate: str = "tanh") -> ad.Tensor:
    """Gaussian error linear unit, ``0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))``.

    The array API has no ``erf``, so the tanh form (PyTorch's
    ``approximate="tanh"``) is the one offered.

    Examples
    --------
    >>> import autodiff as ad
    >>> y = ad.nn.functional.gelu(ad.tensor([-1.0, 0.0, 1.0]))
    >>> [round(v, 4) for v in y.tolist()]
    [-0.1588, 0.0, 0.8412]
    """
    if approximate != "tanh":
        raise ValueError("gelu: only approximate='tanh' is available (the array API has no erf).")
    return 0.5 * x * (1.0 + ad.tanh(_GELU_C * (x + 0.044715 * x * x * x)))


def log_softmax(x: ad.Tensor, axis: int = -1) -> ad.Tensor:
    """``x - logsumexp(x)`` along ``axis``, computed from ``x`` shifted by its maximum
    (one primitive), so it stays accurate in float32 at large magnitudes.

    Examples
    --------
    >>> import autodiff as ad
    >>> y = ad.nn.functional.log_softmax(ad.tensor([1000.0, 1000.0]))
    >>> [round(v, 4) for v in y.tolist()]
    [-0.6931, -0.6931]
    """
    return _log_softmax(x, axis=axis)


def softmax(x: ad.Tensor, axis: int = -1) -> ad.Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed from ``x`` shifted by its maximum
    (one primitive).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.functional.softmax(ad.tensor([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    return _softmax(x, axis=axis)


def one_hot(labels: ad.Tensor, num_classes: int, *, dtype: Any = None) -> ad.Tensor:
    """Rows of the identity picked by integer ``labels`` (shape ``labels.shape + (num_classes,)``).

    The result has the default float dtype unless ``dtype`` is given.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.functional.one_hot(ad.tensor([0, 2]), 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    labels = ad.asarray(labels)
    if labels.dtype.kind not in ("signed integer", "unsigned integer"):
        raise TypeError(f"one_hot needs integer labels, got {labels.dtype.name}.")
    classes = ad.arange(num_classes, dtype=labels.dtype, device=labels.device)
    hit = ad.expand_dims(labels, axis=-1) == classes
    return hit.astype(dtype if dtype is not None else ad.get_default_dtype(labels.backend))


def dropout(
    x: ad.Tensor, p: float = 0.5, training: bool = True, *, seed: int | None = None
) -> ad.Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

    Parameters
    ----------
    x : Tensor
    p : float
        Probability of zeroing an element, in ``[0, 1)``.
    training : bool
        When False, ``x`` is returned unchanged.
    seed : int, optional
        Seed the backend's generator first (for a reproducible mask).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.ones(6)
    >>> y = ad.nn.functional.dropout(x, 0.5, seed=0)
    >>> set(y.tolist()) <= {0.0, 2.0}
    True
    >>> ad.nn.functional.dropout(x, 0.5, training=False) is x
    True
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}.")
    if not training or p == 0.0:
        return x
    rng = x.backend.random
    if seed is not None:
        rng.seed(seed)
    keep = ad.asarray(rng.uniform(x.shape, dtype=x.dtype, device=x.device)) >= p
    return ad.where(keep, x / (1.0 - p), 0.0)


def _pad2d(x: ad.Tensor, padding: int) -> ad.Tensor:
    if padding == 0:
        return x
    n, c, h, w = x.shape
    zrow = ad.zeros((n, c, padding, w), dtype=x.dtype, device=x.device)
    x = ad.concat([zrow, x, zrow], axis=2)
    zcol = ad.zeros((n, c, h + 2 * padding, padding), dtype=x.dtype, device=x.device)
    return ad.concat([zcol, x, zcol], axis=3)


def _patches(x: ad.Tensor, kh: int, kw: int, stride: int) -> tuple[ad.Tensor, int, int]:
    # (N, C, H, W) -> (N, C, kh*kw, Ho, Wo) from shifted strided slices (im2col)
    h, w = x.shape[2], x.shape[3]
    ho = (h - kh) // stride + 1
    wo = (w - kw) // stride + 1
    if ho <= 0 or wo <= 0:
        raise ValueError(f"kernel {kh}×{kw} does not fit an input of spatial size {h}×{w}.")
    cols = [
        x[:, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]
        for i in range(kh)
        for j in range(kw)
    ]
    return ad.stack(cols, axis=2), ho, wo


def conv2d(
    x: ad.Tensor,
    weight: ad.Tensor,
    bias: ad.Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
) -> ad.Tensor:
    """2-d cross-correlation: ``x`` (N, C, H, W), ``weight`` (O, C, kh, kw) → (N, O, Ho, Wo).

    Parameters
    ----------
    x : Tensor
        Input of shape (N, C, H, W).
    weight : Tensor
        Kernels of shape (O, C, kh, kw).
    bias : Tensor, optional
        One value per output channel, shape (O,).
    stride : int
    padding : int
        Zeros added on every side of both spatial axes.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.reshape(ad.arange(9.0), (1, 1, 3, 3))
    >>> w = ad.ones((1, 1, 2, 2))
    >>> ad.nn.functional.conv2d(x, w).tolist()
    [[[[8.0, 12.0], [20.0, 24.0]]]]
    >>> ad.nn.functional.conv2d(x, w, padding=1).shape
    (1, 1, 4, 4)
    """
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(
            f"conv2d needs x of shape (N, C, H, W) and weight (O, C, kh, kw); got {x.shape} and {weight.shape}."
        )
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d: x has {x.shape[1]} channels but weight expects {weight.shape[1]}."
        )
    o, c, kh, kw = weight.shape
    cols, ho, wo = _patches(_pad2d(x, padding), kh, kw, stride)
    n = x.shape[0]
    cols = ad.reshape(ad.permute_dims(cols, (0, 3, 4, 1, 2)), (n * ho * wo, c * kh * kw))
    out = cols @ ad.reshape(weight, (o, c * kh * kw)).mT
    out = ad.permute_dims(ad.reshape(out, (n, ho, wo, o)), (0, 3, 1, 2))
    if bias is not None:
        out = out + ad.reshape(bias, (1, o, 1, 1))
    return out


def max_pool2d(x: ad.Tensor, kernel_size: int, stride: int | None = None) -> ad.Tensor:
    """Maximum over ``kernel_size``² windows (stride defaults to the kernel size).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.reshape(ad.arange(16.0), (1, 1, 4, 4))
    >>> ad.nn.functional.max_pool2d(x, 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    if x.ndim != 4:
        raise ValueError(f"max_pool2d needs x of shape (N, C, H, W), got {x.shape}.")
    cols, _, _ = _patches(x, kernel_size, kernel_size, stride or kernel_size)
    return ad.max(cols, axis=2)
