"""Flattening nested tuples, lists and dicts of tensors (argument and result trees)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["flatten", "tree_map", "unflatten"]


def flatten(tree: Any) -> tuple[list[Any], Any]:
    """Return the leaves of ``tree`` (depth first) and a structure to rebuild it.

    Tuples, lists and dicts are containers; everything else is a leaf.
    """
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list[Any]) -> Any:
    if isinstance(tree, (tuple, list)):
        return (type(tree), [_flatten(t, leaves) for t in tree])
    if isinstance(tree, dict):
        return (dict, [(k, _flatten(v, leaves)) for k, v in tree.items()])
    leaves.append(tree)
    return None


def unflatten(structure: Any, leaves: list[Any]) -> Any:
    """Inverse of ``flatten``."""
    it = iter(leaves)
    return _unflatten(structure, it)


def _unflatten(structure: Any, it: Any) -> Any:
    if structure is None:
        return next(it)
    kind, children = structure
    if kind is dict:
        return {k: _unflatten(c, it) for k, c in children}
    items = [_unflatten(c, it) for c in children]
    if kind is list:
        return items
    if kind is tuple:
        return tuple(items)
    return kind(*items)  # named tuples


def tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    """Apply ``fn`` to every leaf of ``tree``."""
    leaves, structure = flatten(tree)
    return unflatten(structure, [fn(x) for x in leaves])
