"""Loss functions, written only against autodiff's namespace."""

from __future__ import annotations

from typing import Any

import autodiff as ad

from ..ops.special import softmax_cross_entropy
from ..tensor import Tensor
from .functional import log_softmax, one_hot

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "mse_loss",
    "nll_loss",
    "soft_cross_entropy_loss",
]


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return ad.mean(loss)
    if reduction == "sum":
        return ad.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error.

    Parameters
    ----------
    input : Tensor
        Predictions.
    target : Tensor or array-like
        Values to match (broadcast against ``input``).
    reduction : {"mean", "sum", "none"}
        How the element-wise losses are combined.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.mse_loss(ad.tensor([1.0, 2.0]), ad.tensor([1.0, 4.0])).item()
    2.0
    """
    return _reduce((input - target) ** 2, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Sigmoid + binary cross-entropy in one stable expression:
    ``max(x, 0) - x y + log(1 + exp(-|x|))``.

    Examples
    --------
    >>> import autodiff as ad
    >>> loss = ad.nn.binary_cross_entropy_with_logits(ad.tensor([0.0, 0.0]), ad.tensor([1.0, 0.0]))
    >>> round(loss.item(), 4)
    0.6931
    """
    loss = ad.relu(input) - input * target + ad.log(1.0 + ad.exp(-ad.abs(input)))
    return _reduce(loss, reduction)


def _check_classes(logits: Tensor, target: Tensor) -> None:
    if logits.ndim < 1:
        raise ValueError("the input needs a class axis (the last one).")
    if target.dtype.is_floating:
        if target.shape != logits.shape:
            raise ValueError(
                f"probability targets must have the input's shape {logits.shape}, got {target.shape}."
            )
    elif target.shape != logits.shape[:-1]:
        raise ValueError(
            f"class-index targets must have shape {logits.shape[:-1]}, got {target.shape}."
        )


def nll_loss(log_probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer class ``target`` under ``log_probs`` (classes last).

    Examples
    --------
    >>> import autodiff as ad
    >>> log_probs = ad.tensor([[-0.5, -1.0], [-2.0, -0.25]])
    >>> ad.nn.nll_loss(log_probs, ad.tensor([0, 1])).item()
    0.375
    >>> ad.nn.nll_loss(log_probs, ad.tensor([0, 1]), reduction="none").tolist()
    [0.5, 0.25]
    """
    target = ad.asarray(target, device=log_probs.device)
    _check_classes(log_probs, target)
    picked = ad.sum(
        log_probs * one_hot(target, log_probs.shape[-1], dtype=log_probs.dtype), axis=-1
    )
    return _reduce(-picked, reduction)


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Softmax cross-entropy with logits ``input`` (classes last) and a target of class
    indices (integers) or of probabilities (floats, the input's shape).

    Examples
    --------
    >>> import autodiff as ad
    >>> logits = ad.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> round(ad.nn.cross_entropy(logits, ad.tensor([0, 1])).item(), 4)
    0.1269
    """
    target = ad.asarray(target, device=input.device)
    _check_classes(input, target)
    if target.dtype.is_floating:
        return _reduce(-ad.sum(target * log_softmax(input, axis=-1), axis=-1), reduction)
    return _reduce(softmax_cross_entropy(input, target), reduction)


def soft_cross_entropy_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Cross-entropy against a probability target (soft labels).

    Examples
    --------
    >>> import autodiff as ad
    >>> loss = ad.nn.soft_cross_entropy_loss(ad.tensor([[0.0, 0.0]]), ad.tensor([[0.3, 0.7]]))
    >>> round(loss.item(), 4)
    0.6931
    """
    if not ad.asarray(target).dtype.is_floating:
        raise TypeError(
            "soft_cross_entropy_loss needs a floating probability target; use cross_entropy for class indices."
        )
    return cross_entropy(input, target, reduction)
