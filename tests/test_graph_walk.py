"""Reading a recorded graph (``autodiff._graph``) and ``ad.viz`` drawing through it only."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

import autodiff as ad
from autodiff._graph import node_of, used_inputs, walk_graph

from .conftest import make


def test_viz_reads_no_private_attribute() -> None:
    # ad.viz is in the apps layer: it reads the graph through autodiff._graph, not t._node
    source = Path(ad.viz.__file__).read_text()
    private = sorted(
        {
            node.attr
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.endswith("__")
        }
    )
    assert private == [], f"ad.viz reads private attributes: {private}"
    assert "ad.engine" not in source


def test_node_of_leaves_constants_and_results() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    c = make([3.0, 4.0])
    assert node_of(x) is None and node_of(c) is None and node_of(2.0) is None
    y = x * c
    node = node_of(y)
    assert node is not None and node.prim.name == "multiply"
    assert used_inputs(node)[0] is x and used_inputs(node)[1] is c
    with ad.no_grad():
        assert node_of(x * c) is None


def test_walk_graph_is_breadth_first_from_the_outputs_each_node_once() -> None:
    x = make([0.5, 1.5], requires_grad=True)
    a = ad.sin(x)  # reached from add, multiply and exp: listed once
    b = a * ad.exp(a)
    out = b + a
    names = [n.prim.name for n in walk_graph([out, out, x, 3.0])]
    assert names == ["add", "multiply", "sin", "exp"]
    # two outputs of one multi-output node (eigh: eigenvalues, eigenvectors): the node once
    m = make(np.eye(3) + 0.5, requires_grad=True)
    w, v = ad.linalg.eigh(m + ad.matrix_transpose(m))
    assert node_of(w) is node_of(v)
    assert [n.prim.name for n in walk_graph([w, v])] == ["linalg.eigh", "add", "matrix_transpose"]


def test_used_inputs_give_the_state_before_an_in_place_write() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y * 3.0  # z's node used y before the write below
    y += 10.0
    node = node_of(z)
    assert node is not None
    before = used_inputs(node)[0]
    assert before is not y
    np.testing.assert_allclose(np.asarray(before.numpy()), [1.0, 2.0])
    np.testing.assert_allclose(np.asarray(y.numpy()), [11.0, 12.0])
    # the walk follows the old state: z <- multiply(y as it was) <- multiply(x)
    assert [n.prim.name for n in walk_graph([z])] == ["multiply", "multiply"]


def test_a_freed_node_has_no_inputs() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    y = ad.sin(x).sum()
    node = node_of(y)
    assert node is not None and len(used_inputs(node)) == 1
    y.backward()
    assert used_inputs(node) == ()
    assert [n.prim.name for n in walk_graph([y])] == ["sum"]


def test_to_dot_draws_each_shared_output_node_once() -> None:
    x = ad.var("x", 2.0)
    y = ad.sin(x)
    dot = ad.viz.to_dot(y, y)
    assert dot.count('label="sin\\n') == 1
    assert "out0" in dot and "out1" in dot
