"""Layers built on ``Module``."""

from __future__ import annotations

import math
from typing import Any

import autodiff as ad

from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = [
    "GELU",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "LayerNorm",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Sigmoid",
    "Tanh",
]


def _empty(shape: tuple[int, ...], dtype: Any, device: Any) -> Parameter:
    return Parameter(ad.zeros(shape, dtype=ad.float32 if dtype is None else dtype, device=device))


class Linear(Module):
    """``y = x Wᵀ + b`` with W of shape (out_features, in_features), PyTorch's layout and init.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Whether to add a learned bias ``b``.
    dtype : DType, optional
        Parameter dtype (float32 by default).
    device : str or Device, optional

    Examples
    --------
    >>> import autodiff as ad
    >>> layer = ad.nn.Linear(3, 2)
    >>> layer.weight.shape, layer.weight.dtype
    ((2, 3), autodiff.float32)
    >>> layer(ad.ones((5, 3), dtype=ad.float32)).shape
    (5, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _empty((out_features, in_features), dtype, device)
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
        init.uniform_(self.weight, -bound, bound)
        self.bias = None
        if bias:
            self.bias = _empty((out_features,), dtype, device)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) got input with last dimension {x.shape[-1]}."
            )
        y = x @ self.weight.mT
        return y + self.bias if self.bias is not None else y

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, bias={self.bias is not None})"


class ReLU(Module):
    """``max(x, 0)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.ReLU()(ad.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        return ad.relu(x)


class Sigmoid(Module):
    """Logistic function.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.Sigmoid()(ad.tensor([0.0])).tolist()
    [0.5]
    """

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        return ad.sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent.

    Examples
    --------
    >>> import autodiff as ad
    >>> [round(v, 4) for v in ad.nn.Tanh()(ad.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.7616]
    """

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        return ad.tanh(x)


class GELU(Module):
    """GELU, tanh form (see ``ad.nn.functional.gelu``).

    Examples
    --------
    >>> import autodiff as ad
    >>> [round(v, 4) for v in ad.nn.GELU()(ad.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.8412]
    """

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        return F.gelu(x)


class Flatten(Module):
    """Flatten every axis after the first.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.Flatten()(ad.zeros((2, 3, 4))).shape
    (2, 12)
    """

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        return ad.reshape(x, (x.shape[0], -1))


class Dropout(Module):
    """Dropout in training mode, identity in eval mode.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in ``[0, 1)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> drop = ad.nn.Dropout(0.5)
    >>> x = ad.ones(4)
    >>> set(drop(x).tolist()) <= {0.0, 2.0}
    True
    >>> drop.eval()(x).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}.")
        self.p = p

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        return F.dropout(x, self.p, self.training)


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    Integer indices of any shape give vectors of shape ``indices.shape + (embedding_dim,)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> emb = ad.nn.Embedding(10, 3)
    >>> out = emb(ad.tensor([[1, 2], [3, 1]]))
    >>> out.shape, out[0, 0].tolist() == emb.weight[1].tolist()
    ((2, 2, 3), True)
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, *, dtype: Any = None, device: Any = None
    ) -> None:
        super().__init__()
        self.weight = _empty((num_embeddings, embedding_dim), dtype, device)
        init.normal_(self.weight)

    def forward(self, indices: ad.Tensor) -> ad.Tensor:
        indices = ad.asarray(indices, device=self.weight.device)
        flat = ad.reshape(indices, (-1,))
        out = ad.take(self.weight, flat, axis=0)
        return ad.reshape(out, (*indices.shape, self.weight.shape[1]))


class LayerNorm(Module):
    """Normalize the last axes to zero mean and unit variance, then scale and shift.

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The shape of the trailing axes that are normalized (and of the weight and bias).
    eps : float
        Added to the variance.

    Examples
    --------
    >>> import autodiff as ad
    >>> norm = ad.nn.LayerNorm(2, dtype=ad.float64)
    >>> y = norm(ad.tensor([[1.0, 3.0], [0.0, 10.0]]))
    >>> [[round(v, 3) for v in row] for row in y.tolist()]
    [[-1.0, 1.0], [-1.0, 1.0]]
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        *,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.normalized_shape = shape
        self.eps = eps
        self.weight = Parameter(
            ad.ones(shape, dtype=ad.float32 if dtype is None else dtype, device=device)
        )
        self.bias = _empty(shape, dtype, device)

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        mean = ad.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        var = ad.mean(centred * centred, axis=axes, keepdims=True)
        return centred / ad.sqrt(var + self.eps) * self.weight + self.bias


class Conv2d(Module):
    """2-d convolution (cross-correlation) over (N, C, H, W) inputs.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Side of the square kernels.
    stride, padding : int
        As in ``ad.nn.functional.conv2d``.
    bias : bool
        Whether to add a learned bias per output channel.

    Examples
    --------
    >>> import autodiff as ad
    >>> conv = ad.nn.Conv2d(1, 4, kernel_size=3, padding=1)
    >>> conv.weight.shape, conv(ad.zeros((2, 1, 8, 8))).shape
    ((4, 1, 3, 3), (2, 4, 8, 8))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        *,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.padding = padding
        self.weight = _empty((out_channels, in_channels, kernel_size, kernel_size), dtype, device)
        bound = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        init.uniform_(self.weight, -bound, bound)
        self.bias = None
        if bias:
            self.bias = _empty((out_channels,), dtype, device)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)


class MaxPool2d(Module):
    """Max pooling over square windows (see ``ad.nn.functional.max_pool2d``).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.reshape(ad.arange(16.0), (1, 1, 4, 4))
    >>> ad.nn.MaxPool2d(2)(x).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride)
