"""Imports inside ``autodiff`` point one way: no module imports, at its top or inside a
function, a module that imports it back (directly or around a longer cycle). Imports of
the package root (``import autodiff as ad``: the public namespace the upper layers use)
are left out, as are imports of a module's own parent packages. Nothing dodges the
rule: no ``# isort: off`` and no ``# noqa: E402`` (an import placed after code so that
another import runs first).

Also: ``Tensor``'s operators and methods, bound by ``autodiff._methods`` once the ops
exist, are exactly those ``tensor.py`` declares for type checkers, and are the very
functions written in ``_operators.py``/``_methods.py`` (no wrapper per call).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import autodiff as ad
from autodiff import _methods, _operators

PACKAGE = Path(ad.__file__).parent
TENSOR_PY = PACKAGE / "tensor.py"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    base = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                mod = ".".join(parts[: len(parts) - node.level + 1])
                mod += "." + node.module if node.module else ""
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" for a in node.names] + [mod]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and "." in t and not name.startswith(t + "."):
                out.add(t)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]
    assert _cycles({"a.x": {"a.y"}, "a.y": set()}) == []


def test_the_import_reader_sees_imports_inside_functions(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text("def f():\n    from .engine import apply1\n    from . import tensor\n")
    known = {"autodiff", "autodiff.engine", "autodiff.tensor", "autodiff.m"}
    assert _imports("autodiff.m", mod, known) == {"autodiff.engine", "autodiff.tensor"}


def test_no_import_cycle_inside_autodiff() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_import_placed_to_dodge_a_cycle() -> None:
    bad = [
        f"{path.relative_to(PACKAGE.parent)}:{i}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "isort: off" in line or "noqa: E402" in line
    ]
    assert not bad, f"imports ordered by hand (isort: off, noqa: E402) at {bad}"


def _declared() -> set[str]:
    """Names declared in the ``if TYPE_CHECKING:`` block of ``Tensor``'s class body."""
    tree = ast.parse(TENSOR_PY.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    block = next(
        n for n in cls.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    )
    names = {n.name for n in block.body if isinstance(n, ast.FunctionDef)}
    return names | {t.id for n in block.body if isinstance(n, ast.Assign) for t in n.targets}


def test_tensor_declares_exactly_the_bound_surface() -> None:
    bound = {
        name
        for cls in (_operators.TensorOperators, _methods.TensorMethods)
        for name, member in vars(cls).items()
        if name not in _methods._NOT_BOUND and (callable(member) or isinstance(member, property))
    }
    declared = _declared()
    assert declared == bound - {"_inplace_locked"}, (
        f"declared in tensor.py but not bound: {sorted(declared - bound)}; bound but not "
        f"declared: {sorted(bound - declared - {'_inplace_locked'})}"
    )
    for name in bound:
        owner = next(
            c for c in (_operators.TensorOperators, _methods.TensorMethods) if name in vars(c)
        )
        # the very function (or property) written there: no wrapper on the call path
        assert ad.Tensor.__dict__[name] is vars(owner)[name], name
        member = vars(owner)[name]
        if callable(member) and name != "_inplace_locked":
            stub_params = _stub_parameters(name)
            assert list(inspect.signature(member).parameters) == stub_params, name


def _stub_parameters(name: str) -> list[str]:
    tree = ast.parse(TENSOR_PY.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign) and name in [getattr(t, "id", "") for t in node.targets]:
            return _stub_parameters(ast.unparse(node.value))  # an alias (clamp = clip)
        if isinstance(node, ast.FunctionDef) and node.name == name:
            a = node.args
            names = [x.arg for x in [*a.posonlyargs, *a.args]]
            names += [a.vararg.arg] if a.vararg else []
            names += [x.arg for x in a.kwonlyargs]
            return names + ([a.kwarg.arg] if a.kwarg else [])
    raise AssertionError(f"{name} is not declared in tensor.py")


def test_operators_work_and_are_hashable() -> None:
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3 + 1) @ x
    y.backward()
    assert x.grad is not None
    assert x.grad.tolist() == [7.0, 13.0]  # d/dx (3x.x + sum x) = 6x + 1
    assert len({x, x}) == 1  # __eq__ is bound, __hash__ stays object's


def test_backends_declare_kernels_by_name_and_the_engine_finds_them() -> None:
    from autodiff import _core, engine

    numpy = ad.backends.get("numpy")
    numpy.xp  # loading the namespace declares the kernels
    mean = _core.PRIMITIVES["mean"]
    assert numpy.kernels[mean] is numpy.kernel_names["mean"]

    # a primitive defined after the backend loaded still gets its kernel
    name = "test_import_cycles.late"
    calls: list[Any] = []

    def kernel(xp: Any, a: Any) -> Any:
        calls.append(a)
        return a * 3

    numpy.declare_kernels({name: kernel})
    try:
        late = _core.primitive(name, lambda xp, a: a * 2)
        assert numpy.kernels[late] is kernel
        x = ad.tensor([1.0, 2.0], device="numpy:cpu")
        assert engine.apply1(late, x).tolist() == [3.0, 6.0]
        assert len(calls) == 1
    finally:
        prim = _core.PRIMITIVES.pop(name, None)
        numpy.kernel_names.pop(name, None)
        numpy.kernels.pop(prim, None)
