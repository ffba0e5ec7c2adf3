"""``Gradients``: the mapping ``Tensor.backward()`` returns, from leaf to gradient."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .tensor import Tensor

__all__ = ["Gradients"]


class Gradients(Mapping[Any, Tensor]):
    """The gradients one ``backward()`` computed, keyed by leaf tensor.

    Look up by tensor (``grads[x]``, ``grads.wrt(x)``) or by leaf name
    (``grads["x"]``); iterating yields the leaf tensors.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.var("x", 2.0)
    >>> y = ad.var("y", 3.0)
    >>> grads = (x * y).backward()
    >>> float(grads["x"]), float(grads.wrt(y))
    (3.0, 2.0)
    """

    __slots__ = ("_items",)

    def __init__(self, items: dict[int, tuple[Tensor, Tensor]]) -> None:
        self._items = items

    def wrt(self, tensor: Tensor | str) -> Tensor:
        """The gradient with respect to ``tensor`` (a leaf, or a leaf's name)."""
        return self[tensor]

    def __getitem__(self, key: Any) -> Tensor:
        if isinstance(key, str):
            found = [g for t, g in self._items.values() if t.name == key]
            if len(found) == 1:
                return found[0]
            names = sorted(t.name for t, _ in self._items.values() if t.name)
            if not found:
                raise KeyError(f"no gradient for a leaf named {key!r}; named leaves: {names}")
            raise KeyError(f"{len(found)} leaves are named {key!r}; look up by tensor instead.")
        entry = self._items.get(id(key))
        if entry is None or entry[0] is not key:
            raise KeyError(
                "no gradient for this tensor: it is not a leaf that requires grad "
                "and that the output depends on."
            )
        return entry[1]

    def __iter__(self) -> Iterator[Tensor]:
        return (t for t, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __repr__(self) -> str:
        parts = [f"{t.name or 'tensor' + str(t.shape)}: {g!r}" for t, g in self._items.values()]
        return "Gradients({" + ", ".join(parts) + "})"
