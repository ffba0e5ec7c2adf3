"""Reading a recorded graph: which node made a tensor, what it used, every node behind it.

The documented-internal view of the graph for tools that draw or inspect it
(``ad.viz``), so they read neither ``Tensor._node`` nor the in-place rebinding
records. A node's public fields (``prim``, ``backend``, ``ans``, ``seq``) say what
it ran; ``ans`` and the inputs are ``None``/empty once a ``backward()`` without
``retain_graph`` freed them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .engine import Node, as_used
from .tensor import Tensor

__all__ = ["node_of", "used_inputs", "walk_graph"]


def node_of(t: Any) -> Node | None:
    """The node that recorded ``t``; ``None`` for a leaf, a constant or a non-tensor.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._graph import node_of
    >>> x = ad.var("x", 2.0)
    >>> node_of(x) is None, node_of(x * 3.0).prim.name
    (True, 'multiply')
    """
    return t._node if isinstance(t, Tensor) else None


def used_inputs(node: Node) -> tuple[Any, ...]:
    """``node``'s inputs (tensors and constants) as the node used them.

    A tensor that an in-place write rebound after the node ran is given in its state
    before that write, the value the node saw. Empty once ``backward()`` freed the node.
    """
    ins = node.inputs
    if not ins:
        return ()
    return tuple(as_used(t, node.seq) if isinstance(t, Tensor) else t for t in ins)


def walk_graph(outputs: Iterable[Any]) -> Iterator[Node]:
    """Every node that ``outputs`` depend on, each once, breadth first from the outputs
    (the nearest first); non-tensors and leaves among ``outputs`` are skipped.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._graph import walk_graph
    >>> x = ad.var("x", 2.0)
    >>> [n.prim.name for n in walk_graph([ad.sin(x * 3.0)])]
    ['sin', 'multiply']
    """
    queue: list[Node] = []
    seen: set[int] = set()
    for t in outputs:
        node = node_of(t)
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            queue.append(node)
    head = 0
    while head < len(queue):
        node = queue[head]
        head += 1
        yield node
        for t in used_inputs(node):
            parent = node_of(t)
            if parent is not None and id(parent) not in seen:
                seen.add(id(parent))
                queue.append(parent)
