"""Loss functions, written only against autodiff's namespace.

Each loss is defined once, here, and exported both as ``ad.nn.<name>`` and as
``ad.nn.functional.<name>`` (PyTorch users write ``F.cross_entropy``). Names, arguments
and reductions follow ``torch.nn.functional``; classes are on the last axis.
"""

from __future__ import annotations

from typing import Any

import autodiff as ad

from ..ops.special import softmax_cross_entropy

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
    "soft_cross_entropy_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"reduction must be one of {names}; got {reduction!r}.")


def _reduce(loss: ad.Tensor, reduction: str) -> ad.Tensor:
    _check_reduction(reduction)
    if reduction == "mean":
        return ad.mean(loss)
    if reduction == "sum":
        return ad.sum(loss)
    return loss


def _weighted(loss: ad.Tensor, weight: Any) -> ad.Tensor:
    return loss if weight is None else loss * weight


def mse_loss(input: ad.Tensor, target: Any, reduction: str = "mean") -> ad.Tensor:  # noqa: A002
    """Mean squared error, ``(input - target)²``.

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
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input: ad.Tensor, target: Any, reduction: str = "mean") -> ad.Tensor:  # noqa: A002
    """Mean absolute error, ``|input - target|`` (gradient 0 where they are equal).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.functional.l1_loss(ad.tensor([1.0, 2.0]), ad.tensor([1.0, 4.0])).item()
    1.0
    """
    return _reduce(ad.abs(input - target), reduction)


def smooth_l1_loss(
    input: ad.Tensor,  # noqa: A002
    target: Any,
    reduction: str = "mean",
    beta: float = 1.0,
) -> ad.Tensor:
    """``0.5 d² / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input - target``).

    ``beta=0`` gives ``l1_loss``. As ``torch.nn.functional.smooth_l1_loss``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.smooth_l1_loss(ad.tensor([0.5, 3.0]), ad.zeros(2), reduction="none").tolist()
    [0.125, 2.5]
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss needs beta >= 0, got {beta}.")
    a = ad.abs(input - target)
    if beta == 0:
        return _reduce(a, reduction)
    return _reduce(ad.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta), reduction)


def huber_loss(
    input: ad.Tensor,  # noqa: A002
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
) -> ad.Tensor:
    """``0.5 d²`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)`` (``d = input - target``).

    Equal to ``delta * smooth_l1_loss(..., beta=delta)``. As
    ``torch.nn.functional.huber_loss``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.nn.huber_loss(ad.tensor([0.5, 3.0]), ad.zeros(2), delta=2.0, reduction="none").tolist()
    [0.125, 4.0]
    """
    if delta <= 0:
        raise ValueError(f"huber_loss needs delta > 0, got {delta}.")
    a = ad.abs(input - target)
    return _reduce(ad.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta)), reduction)


def binary_cross_entropy(
    input: ad.Tensor,  # noqa: A002
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
) -> ad.Tensor:
    """``-w (y log p + (1 - y) log(1 - p))`` for probabilities ``input`` in [0, 1].

    Each log is clamped at -100, as in PyTorch, so ``p`` of exactly 0 or 1 gives a finite
    loss; prefer ``binary_cross_entropy_with_logits`` on raw scores (it is stable).

    Parameters
    ----------
    input : Tensor
        Probabilities.
    target : Tensor or array-like
        Targets in [0, 1], the input's shape.
    weight : Tensor, optional
        Rescales each element's loss (broadcast against ``input``).
    reduction : {"mean", "sum", "none"}

    Examples
    --------
    >>> import autodiff as ad
    >>> loss = ad.nn.binary_cross_entropy(ad.tensor([0.5, 0.5]), ad.tensor([1.0, 0.0]))
    >>> round(loss.item(), 4)
    0.6931
    """
    # log p and log(1 - p), both clamped at -100; the inner where keeps log(0) (and its
    # warning) from being computed at all
    pos = input > 0.0
    log_p = ad.maximum(ad.where(pos, ad.log(ad.where(pos, input, 1.0)), -100.0), -100.0)
    below = input < 1.0
    log_q = ad.maximum(ad.where(below, ad.log1p(-ad.where(below, input, 0.0)), -100.0), -100.0)
    loss = -(target * log_p + (1.0 - target) * log_q)
    return _reduce(_weighted(loss, weight), reduction)


def binary_cross_entropy_with_logits(
    input: ad.Tensor,  # noqa: A002
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> ad.Tensor:
    """Sigmoid + binary cross-entropy in one stable expression:
    ``(1 - y) x + (1 + (pw - 1) y) (log(1 + exp(-|x|)) + max(-x, 0))``.

    Parameters
    ----------
    input : Tensor
        Raw scores (logits).
    target : Tensor or array-like
        Targets in [0, 1].
    weight : Tensor, optional
        Rescales each element's loss (broadcast against ``input``).
    reduction : {"mean", "sum", "none"}
    pos_weight : Tensor, optional
        Weight of the positive term, one per class (broadcast along the last axis).

    Examples
    --------
    >>> import autodiff as ad
    >>> loss = ad.nn.binary_cross_entropy_with_logits(ad.tensor([0.0, 0.0]), ad.tensor([1.0, 0.0]))
    >>> round(loss.item(), 4)
    0.6931
    """
    # log(1 + exp(-x)) = softplus(-x), written so exp never overflows
    softplus_neg = ad.log1p(ad.exp(-ad.abs(input))) + ad.relu(-input)
    if pos_weight is None:
        loss = (1.0 - target) * input + softplus_neg
    else:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * softplus_neg
    return _reduce(_weighted(loss, weight), reduction)


def _class_targets(logits: ad.Tensor, target: Any) -> ad.Tensor:
    target = ad.asarray(target, device=logits.device)
    if logits.ndim < 1:
        raise ValueError("the input needs a class axis (the last one).")
    if target.dtype.is_floating:
        if target.shape != logits.shape:
            raise ValueError(
                f"probability targets must have the input's shape {logits.shape}, got {target.shape}."
            )
    elif target.shape != logits.shape[:-1]:
        raise ValueError(
            f"class-index targets must have shape {logits.shape[:-1]} (the input's shape "
            f"without its last, class, axis); got {target.shape}."
        )
    return target


def _class_weight(weight: Any, logits: ad.Tensor) -> ad.Tensor | None:
    if weight is None:
        return None
    w = ad.asarray(weight, dtype=logits.dtype, device=logits.device)
    if w.shape != (logits.shape[-1],):
        raise ValueError(
            f"weight must hold one value per class, shape ({logits.shape[-1]},); got {w.shape}."
        )
    return w


def _pick(values: ad.Tensor, target: ad.Tensor) -> ad.Tensor:
    # values[..., target]; a label outside [0, C) picks NaN, never a silent 0
    classes = ad.arange(values.shape[-1], dtype=target.dtype, device=values.device)
    hit = ad.expand_dims(target, axis=-1) == classes
    picked = ad.sum(ad.where(hit, values, 0.0), axis=-1)
    valid = (target >= 0) & (target < values.shape[-1])
    return ad.where(valid, picked, ad.nan)


def _ignore(target: ad.Tensor, ignore_index: int) -> tuple[ad.Tensor, ad.Tensor]:
    # the samples to skip, and the target with class 0 in their place (a valid index)
    ignored = target == ignore_index
    return ignored, ad.where(ignored, 0, target)


def _index_loss(
    per_sample: ad.Tensor,
    ignored: ad.Tensor,
    safe: ad.Tensor,
    weight: ad.Tensor | None,
    reduction: str,
    smooth: tuple[ad.Tensor, float, int] | None = None,
) -> ad.Tensor:
    # per_sample: -log p[target]; smooth: (-sum_c w_c log p[c], epsilon, C). PyTorch's
    # label_smoothing: (1 - eps) w[y] (-log p[y]) + eps / C * smooth; ignored samples give 0
    # and the mean divides by the summed weights of the samples kept
    w_target = None
    if weight is not None:
        w_target = ad.reshape(ad.take(weight, ad.reshape(safe, (-1,))), safe.shape)
        per_sample = per_sample * w_target
    if smooth is not None:
        spread, eps, n_classes = smooth
        per_sample = (1.0 - eps) * per_sample + (eps / n_classes) * spread
    loss = ad.where(ignored, 0.0, per_sample)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return ad.sum(loss)
    kept = ad.astype(~ignored, loss.dtype)
    return ad.sum(loss) / ad.sum(kept if w_target is None else kept * w_target)


def nll_loss(
    input: ad.Tensor,  # noqa: A002
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> ad.Tensor:
    """Negative log-likelihood of integer class ``target`` under log-probabilities ``input``.

    Classes are on the last axis. As ``torch.nn.functional.nll_loss``: a sample whose
    target is ``ignore_index`` contributes nothing, and ``reduction="mean"`` divides by
    the summed weights of the samples kept. A label outside ``[0, C)`` (other than
    ``ignore_index``) gives NaN, never a silently wrong loss.

    Parameters
    ----------
    input : Tensor
        Log-probabilities, shape ``(..., C)``.
    target : Tensor or array-like
        Integer classes, shape ``(...)``.
    weight : Tensor, optional
        One weight per class, shape ``(C,)``.
    ignore_index : int
        A target value that is skipped.
    reduction : {"mean", "sum", "none"}

    Examples
    --------
    >>> import autodiff as ad
    >>> log_probs = ad.tensor([[-0.5, -1.0], [-2.0, -0.25]])
    >>> ad.nn.nll_loss(log_probs, ad.tensor([0, 1])).item()
    0.375
    >>> ad.nn.nll_loss(log_probs, ad.tensor([0, 1]), reduction="none").tolist()
    [0.5, 0.25]
    """
    target = _class_targets(input, target)
    if target.dtype.is_floating:
        raise TypeError("nll_loss needs integer class targets; got a floating target.")
    w = _class_weight(weight, input)
    _check_reduction(reduction)
    ignored, safe = _ignore(target, ignore_index)
    return _index_loss(-_pick(input, safe), ignored, safe, w, reduction)


def cross_entropy(
    input: ad.Tensor,  # noqa: A002
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> ad.Tensor:
    """Softmax cross-entropy of logits ``input`` (classes on the last axis).

    ``target`` holds class indices (integers, the input's shape without the class axis)
    or probabilities (floats, the input's shape). Arguments and results are those of
    ``torch.nn.functional.cross_entropy`` for ``(N, C)`` inputs: ``weight`` rescales each
    class, ``ignore_index`` skips samples (class-index targets), ``label_smoothing`` mixes
    the target with the uniform distribution, and ``reduction="mean"`` divides by the
    summed weights of the samples kept (by the number of samples for probability targets).

    Parameters
    ----------
    input : Tensor
        Logits, shape ``(..., C)``.
    target : Tensor or array-like
        Class indices or probabilities.
    weight : Tensor, optional
        One weight per class, shape ``(C,)``.
    ignore_index : int
        A class-index target value that is skipped.
    reduction : {"mean", "sum", "none"}
    label_smoothing : float
        In ``[0, 1]``; 0 means no smoothing.

    Examples
    --------
    >>> import autodiff as ad
    >>> logits = ad.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> round(ad.nn.cross_entropy(logits, ad.tensor([0, 1])).item(), 4)
    0.1269
    >>> round(ad.nn.cross_entropy(logits, ad.tensor([0, -100])).item(), 4)
    0.1269
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}.")
    target = _class_targets(input, target)
    w = _class_weight(weight, input)
    n_classes = input.shape[-1]
    if target.dtype.is_floating:
        if ignore_index != -100:
            raise ValueError(
                "ignore_index applies to class-index targets only; this target holds "
                "probabilities (mask the samples out instead)."
            )
        if label_smoothing > 0.0:
            target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
        log_p = ad.nn.functional.log_softmax(input, axis=-1)
        per_sample = -ad.sum(_weighted(target * log_p, w), axis=-1)
        return _reduce(per_sample, reduction)
    _check_reduction(reduction)
    if label_smoothing == 0.0 and w is None:
        # the fused primitive skips ignored samples itself (and divides by the kept count
        # for the mean): one node, plus the sum
        per_sample = softmax_cross_entropy(
            input, target, ignore_index=ignore_index, mean=reduction == "mean"
        )
        return per_sample if reduction == "none" else ad.sum(per_sample)
    ignored, safe = _ignore(target, ignore_index)
    if label_smoothing == 0.0:
        return _index_loss(softmax_cross_entropy(input, safe), ignored, safe, w, reduction)
    log_p = ad.nn.functional.log_softmax(input, axis=-1)
    spread = -ad.sum(_weighted(log_p, w), axis=-1)
    smooth = (spread, label_smoothing, n_classes)
    return _index_loss(-_pick(log_p, safe), ignored, safe, w, reduction, smooth)


def soft_cross_entropy_loss(
    input: ad.Tensor,  # noqa: A002
    target: ad.Tensor,
    reduction: str = "mean",
) -> ad.Tensor:
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
    return cross_entropy(input, target, reduction=reduction)


def kl_div(
    input: ad.Tensor,  # noqa: A002
    target: Any,
    reduction: str = "mean",
    log_target: bool = False,
) -> ad.Tensor:
    """Kullback-Leibler divergence ``target (log target - input)`` with ``input`` in log space.

    As ``torch.nn.functional.kl_div``: ``input`` holds log-probabilities; ``target``
    holds probabilities (log-probabilities with ``log_target=True``); a zero target
    contributes 0. ``reduction="batchmean"`` divides the sum by the batch size (the
    first axis), which gives the true KL divergence; ``"mean"`` divides by the number of
    elements (PyTorch's default, kept for compatibility).

    Parameters
    ----------
    input : Tensor
        Log-probabilities.
    target : Tensor or array-like
        Probabilities (or log-probabilities if ``log_target``), broadcast against ``input``.
    reduction : {"mean", "batchmean", "sum", "none"}
    log_target : bool

    Examples
    --------
    >>> import autodiff as ad
    >>> p = ad.tensor([[0.5, 0.5]])
    >>> ad.nn.kl_div(ad.log(p), p, reduction="batchmean").item()
    0.0
    """
    _check_reduction(reduction, ("mean", "batchmean", "sum", "none"))
    if log_target:
        loss = ad.exp(target) * (target - input)
    else:
        target = ad.asarray(target, device=input.device)
        # xlogy(t, t): 0 where t == 0 (log of 1 there), NaN for a negative t as in PyTorch
        t_log_t = target * ad.log(ad.where(target == 0, ad.ones_like(target), target))
        loss = t_log_t - target * input
    if reduction == "batchmean":
        batch = input.shape[0] if input.ndim > 0 else 1
        return ad.sum(loss) / batch
    return _reduce(loss, reduction)
