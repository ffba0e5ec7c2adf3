"""Graph pictures, anomaly mode and printing (issue 11)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

import autodiff as ad

from .conftest import make


def test_to_dot_nodes_leaves_and_edges() -> None:
    x = ad.var("x", 2.0)
    y = ad.var("y", 3.0)
    dot = ad.viz.to_dot(x * y + ad.sin(x))
    assert dot.startswith("digraph autodiff {")
    for prim in ("add", "multiply", "sin"):
        assert f'label="{prim}\\n' in dot
    assert 'label="x\\n' in dot
    assert 'label="y\\n' in dot
    assert dot.count("->") == 6  # x->mul, y->mul, x->sin, mul->add, sin->add, add->output
    assert ad.get_backend().name in dot


def test_parameter_names_from_a_module() -> None:
    model = ad.nn.Sequential(ad.nn.Linear(3, 2))
    out = model(ad.ones((1, 3)))
    dot = ad.viz.to_dot(out, params=model)
    assert "0.weight" in dot
    assert "0.bias" in dot
    with pytest.raises(TypeError, match="named_parameters"):
        ad.viz.to_dot(out, params=42)


def test_large_graphs_collapse() -> None:
    x = make(1.0, requires_grad=True)
    y = x
    for _ in range(100):
        y = y * 1.0 + 0.0
    dot = ad.viz.to_dot(y, max_nodes=10)
    assert dot.count('shape=box, style="rounded') == 10
    assert "… 190 more operations" in dot


@pytest.mark.skipif(
    importlib.util.find_spec("graphviz") is None or shutil.which("dot") is None,
    reason="graphviz or dot missing",
)
def test_render_svg(tmp_path: Path) -> None:
    x = ad.var("x", 2.0)
    path = tmp_path / "g.svg"
    ad.viz.render(ad.exp(x) * x, path=path)
    assert "<svg" in path.read_text()


def test_render_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import builtins

    real = builtins.__import__

    def no_graphviz(name: str, *args: object, **kwargs: object) -> object:
        if name == "graphviz":
            raise ImportError("no graphviz")
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    with pytest.raises(RuntimeError, match="pip install 'autodiff\\[viz\\]'"):
        ad.viz.render(ad.var("x", 1.0) * 2.0, path=tmp_path / "g.svg")


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_detect_anomaly_names_primitive_and_line() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    with ad.detect_anomaly():
        y = ad.sin(x) * ad.inf  # the line reported
        loss = ad.tanh(y).sum()
        with pytest.raises(ad.AnomalyError) as info:
            loss.backward()
    msg = str(info.value)
    assert "'multiply'" in msg
    assert "input shapes (2,))" in msg
    assert "test_viz.py" in msg


def test_anomaly_off_by_default_and_decorator() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    (x * ad.inf).sum().backward()  # no error outside anomaly mode
    assert not ad.anomaly.enabled()

    @ad.detect_anomaly()
    def step() -> None:
        z = make([1.0], requires_grad=True)
        (z * ad.inf).sum().backward()

    with pytest.raises(ad.AnomalyError, match="test_viz.py"):
        step()
    assert not ad.anomaly.enabled()


def test_repr_shows_what_users_expect() -> None:
    w = ad.var("w", [1.0, 2.0])
    text = repr(w)
    assert "name='w'" in text
    assert "requires_grad=True" in text
    assert f"device={w.device}" in text
    assert "grad_fn=multiply" in repr(w * 2.0)
    big = repr(ad.zeros((40, 40)))
    assert "shape=(40, 40)" in big
    assert "..." in big  # abbreviated
