"""Activations and layer functions, written only against autodiff's namespace."""

from __future__ import annotations

import math
from typing import Any

import autodiff as ad

from ..ops.special import log_softmax as _log_softmax
from ..ops.special import softmax as _softmax
from ..ops.window import unfold as _unfold

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


def _patches(
    x: ad.Tensor, kh: int, kw: int, stride: int, padding: int = 0
) -> tuple[ad.Tensor, int, int]:
    # (N, C, H, W) -> (N, C, kh*kw, Ho, Wo): the windows, one primitive (im2col)
    cols = _unfold(x, (kh, kw), stride=stride, padding=padding)
    return cols, cols.shape[-2], cols.shape[-1]


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
    n = x.shape[0]
    cols, ho, wo = _patches(x, kh, kw, stride, padding)
    # (O, C*kh*kw) @ (N, C*kh*kw, Ho*Wo): five primitives with the bias
    out = ad.reshape(weight, (o, c * kh * kw)) @ ad.reshape(cols, (n, c * kh * kw, ho * wo))
    out = ad.reshape(out, (n, o, ho, wo))
    if bias is not None:
        out = out + ad.reshape(bias, (1, o, 1, 1))
    return out


def max_pool2d(x: ad.Tensor, kernel_size: int, stride: int | None = None) -> ad.Tensor:
    """Maximum over ``kernel_size``² windows (stride defaults to the kernel size).

    The output has ``(H - kernel_size) // stride + 1`` rows (and likewise columns):
    rows and columns no window covers are left out, as in PyTorch. Tied maxima in a
    window share its gradient equally (PyTorch gives it all to one of them).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.reshape(ad.arange(16.0), (1, 1, 4, 4))
    >>> ad.nn.functional.max_pool2d(x, 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    if x.ndim != 4:
        raise ValueError(f"max_pool2d needs x of shape (N, C, H, W), got {x.shape}.")
    # the windows as one axis (one primitive) and one max over it: 2 primitives. (A
    # reshape to (N, C, Ho, k, Wo, k) and a max over axes (3, 5) is as few, but NumPy
    # reduces two strided axes 15x slower than one contiguous one.)
    k = kernel_size
    cols, _, _ = _patches(x, k, k, stride or k)
    return ad.max(cols, axis=2)
