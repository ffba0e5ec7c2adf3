"""Pictures of the recorded graph: Graphviz DOT source, and SVG/PNG through ``graphviz``.

``to_dot`` needs nothing installed; ``render`` needs the ``graphviz`` Python
package (``pip install 'autodiff[viz]'``) and Graphviz's ``dot`` program
(``apt-get install graphviz``, ``brew install graphviz``).

Large graphs stay readable through a node budget: the ``max_nodes``
operations nearest the outputs are drawn, and everything further back is
summarized in one box that says how many operations it hides. Draw before
``backward()`` (or backward with ``retain_graph=True``): a freed graph no
longer knows its inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import autodiff as ad

from ._graph import node_of, used_inputs, walk_graph

if TYPE_CHECKING:
    from .engine import Node

__all__ = ["render", "to_dot"]


def _names(params: Any) -> dict[int, str]:
    if params is None:
        return {}
    items: Iterable[tuple[str, Any]]
    if hasattr(params, "named_parameters"):
        items = params.named_parameters()
    elif isinstance(params, Mapping):
        items = params.items()
    else:
        raise TypeError(
            "params must be a mapping name -> tensor or an object with named_parameters()."
        )
    return {id(t): str(name) for name, t in items if isinstance(t, ad.Tensor)}


def _shape(arr: Any) -> str:
    return "×".join(str(s) for s in arr.shape) or "scalar"


def _esc(text: str) -> str:
    return text.replace('"', '\\"')


def to_dot(*outputs: ad.Tensor, params: Any = None, max_nodes: int = 200) -> str:
    """Graphviz DOT source of the graph that produced ``outputs``.

    One box per primitive (name, output shape, dtype, backend), one ellipse
    per leaf (its ``ad.var`` name or parameter name), edges in data-flow
    direction.

    Parameters
    ----------
    *outputs : Tensor
        The results whose graph to draw.
    params : mapping or Module, optional
        Names for leaves: ``{"w": w}`` or a module (its ``named_parameters()``).
    max_nodes : int
        Operations drawn at most; farther ones are collapsed into one box.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.var("x", 2.0)
    >>> print(ad.viz.to_dot(x * x + 1.0).splitlines()[0])
    digraph autodiff {
    """
    names = _names(params)
    lines = [
        "digraph autodiff {",
        '  rankdir="LR";',
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    ids: dict[int, str] = {}
    drawn: list[Node] = []
    hidden = 0
    for node in walk_graph(outputs):  # breadth first from the outputs: nearest first
        if len(drawn) < max_nodes:
            drawn.append(node)
        else:
            hidden += 1
    for i, node in enumerate(drawn):
        ids[id(node)] = f"op{i}"
        ans = node.ans
        if ans is None:
            shape, dtype = "freed", ""
        elif isinstance(ans, tuple):
            shape, dtype = ", ".join(_shape(a) for a in ans), node.backend.dtype_of(ans[0]).name
        else:
            shape, dtype = _shape(ans), node.backend.dtype_of(ans).name
        label = f"{node.prim.name}\\n{shape} {dtype}\\n{node.backend.name}"
        lines.append(
            f'  op{i} [shape=box, style="rounded,filled", fillcolor="#dbe9f7", label="{_esc(label)}"];'
        )
    if hidden:
        lines.append(f'  more [shape=box, style=dashed, label="… {hidden} more operations"];')
    leaf_ids: dict[int, str] = {}
    for node in drawn:
        for t in used_inputs(node):  # as the node used them, before any in-place write
            if not isinstance(t, ad.Tensor):
                continue
            parent = node_of(t)
            if parent is None:
                key = id(t)
                if key not in leaf_ids:
                    leaf_ids[key] = f"leaf{len(leaf_ids)}"
                    name = names.get(key) or t.name or ("input" if t.requires_grad else "constant")
                    color = "#fde2c4" if t.requires_grad else "#eeeeee"
                    label = f"{name}\\n{_shape(t.data)} {t.dtype.name}"
                    lines.append(
                        f'  {leaf_ids[key]} [shape=ellipse, style=filled, fillcolor="{color}", label="{_esc(label)}"];'
                    )
                lines.append(f"  {leaf_ids[key]} -> {ids[id(node)]};")
            elif id(parent) in ids:
                lines.append(f"  {ids[id(parent)]} -> {ids[id(node)]};")
            else:
                lines.append(f"  more -> {ids[id(node)]};")
    for k, t in enumerate(outputs):
        out = node_of(t)
        if out is not None and id(out) in ids:
            lines.append(f'  out{k} [shape=plaintext, label="output {k}"];')
            lines.append(f"  {ids[id(out)]} -> out{k};")
    lines.append("}")
    return "\n".join(lines)


def render(
    *outputs: ad.Tensor, path: str | os.PathLike[str], params: Any = None, max_nodes: int = 200
) -> str:
    """Write the graph picture to ``path`` (format from its suffix: ``.svg``, ``.png``, ``.pdf``).

    Returns the path written. Raises ``RuntimeError`` saying what to install when the
    ``graphviz`` package or the ``dot`` program is missing.

    Parameters
    ----------
    *outputs : Tensor
        The results whose graph to draw.
    path : str or os.PathLike
        The file to write; its suffix picks the format (SVG when it has none).
    params, max_nodes
        As in ``to_dot``.

    Examples
    --------
    >>> import autodiff as ad, tempfile, os
    >>> x = ad.var("x", 2.0)
    >>> path = os.path.join(tempfile.mkdtemp(), "graph.svg")
    >>> try:
    ...     written = ad.viz.render(x * x, path=path)
    ... except RuntimeError as err:  # graphviz or its dot program is not installed here
    ...     written = path if "graphviz" in str(err) else None
    >>> written == path
    True
    """
    try:
        import graphviz
    except ImportError as err:
        raise RuntimeError(
            "drawing needs the graphviz Python package: pip install 'autodiff[viz]' "
            "(and Graphviz's dot program: apt-get install graphviz / brew install graphviz)"
        ) from err
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1]
    fmt = suffix.lstrip(".").lower() or "svg"
    source = graphviz.Source(to_dot(*outputs, params=params, max_nodes=max_nodes))
    try:
        written: str = source.render(outfile=path, format=fmt, cleanup=True)
    except graphviz.ExecutableNotFound as err:
        raise RuntimeError(
            "Graphviz's dot program is not installed: apt-get install graphviz (Debian/Ubuntu), "
            "brew install graphviz (macOS); ad.viz.to_dot() works without it."
        ) from err
    return written
