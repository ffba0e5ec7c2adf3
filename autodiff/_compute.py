"""``ad.compute``: materialize several tensors at once."""

from __future__ import annotations

from typing import Any

from .tensor import Tensor

__all__ = ["compute"]


def compute(*tensors: Tensor) -> tuple[Any, ...]:
    """Return NumPy copies of ``tensors``, computing lazy ones together.

    On a lazy backend (Dask) the tensors' graphs are computed in one pass,
    so work they share (reading or generating the same chunks) is done once;
    on eager backends this is ``tuple(t.numpy() for t in tensors)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([1.0, 2.0], requires_grad=True)
    >>> loss = (x * x).sum()
    >>> _ = loss.backward()
    >>> value, grad = ad.compute(loss, x.grad)
    >>> float(value), grad.tolist()
    (5.0, [2.0, 4.0])
    """
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"compute() takes tensors, got {type(t).__name__}.")
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault(id(t.backend), []).append(i)
    out: list[Any] = [None] * len(tensors)
    for idx in groups.values():
        backend = tensors[idx[0]].backend
        for i, arr in zip(idx, backend.compute_many([tensors[i].data for i in idx])):
            out[i] = arr
    return tuple(out)
