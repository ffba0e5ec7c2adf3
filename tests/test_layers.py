"""The layers of autodiff: the table in ``docs/gen_layers.py`` holds every module (and only
modules that exist), no import goes against it, and ``docs/architecture.md`` shows the
imports as they are.

Import cycles are ``tests/test_import_cycles.py``'s to find.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_layers", ROOT / "docs" / "gen_layers.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_layers", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
REGENERATE = "run `python docs/gen_layers.py` and commit docs/architecture.md"


def test_architecture_page_shows_the_imports_as_they_are() -> None:
    page = gen.PAGE.read_text(encoding="utf-8")
    expected = gen.splice(page, gen.render())
    assert page == expected, (
        f"docs/architecture.md is out of date with the code's imports: {REGENERATE}"
    )


def test_every_module_has_exactly_one_layer() -> None:
    layers = gen.assign(gen.find_modules())
    loose = {module: names for module, names in layers.items() if len(names) != 1}
    assert not loose, (
        "each module of autodiff/ must match the patterns of exactly one layer in LAYERS "
        f"(docs/gen_layers.py); these match {{module: layers}}: {loose}"
    )


def test_every_entry_of_the_table_names_a_module() -> None:
    unused = gen.stale(gen.find_modules())
    assert not unused, (
        f"LAYERS in docs/gen_layers.py names modules that no longer exist: {unused}; "
        f"remove them and {REGENERATE}"
    )


def _layer_of() -> dict[str, str]:
    return {m: names[0] for m, names in gen.assign(gen.find_modules()).items() if len(names) == 1}


def test_no_import_goes_against_the_layers() -> None:
    bad = gen.violations(gen.read_all_imports(), _layer_of())
    assert not bad, (
        f"{len(bad)} imports go against LAYERS in docs/gen_layers.py (a layer imports only "
        f"the layers its row allows):\n{gen._edge_text(bad)}"
    )


# The checks above are only as good as the reading of imports: a small package shows it.


def _fake_package(tmp_path: Path) -> Path:
    package = tmp_path / "autodiff"
    (package / "ops").mkdir(parents=True)
    (package / "__init__.py").write_text("from .tensor import Tensor\nfrom . import nn\n")
    (package / "ops" / "__init__.py").write_text("")
    (package / "ops" / "shape.py").write_text(
        "from ..engine import apply1\nimport autodiff.tensor\n"
    )
    (package / "engine.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .ops.shape import reshape\n"
        "def f():\n    from .tensor import Tensor\n    return Tensor\n"
    )
    (package / "tensor.py").write_text("from . import engine\nfrom .ops import shape\n")
    (package / "nn.py").write_text("import autodiff as ad\nfrom .engine import apply1\n")
    return package


def test_imports_are_read_with_their_kind(tmp_path: Path) -> None:
    found = {(i.source, i.target, i.kind) for i in gen.read_all_imports(_fake_package(tmp_path))}
    assert found == {
        ("autodiff", "tensor", "module"),
        ("autodiff", "nn", "module"),
        ("ops.shape", "engine", "module"),
        ("ops.shape", "tensor", "module"),
        ("engine", "ops.shape", "type"),
        ("engine", "tensor", "deferred"),
        ("tensor", "engine", "module"),
        ("tensor", "ops.shape", "module"),
        ("nn", "autodiff", "module"),
        ("nn", "engine", "module"),
    }


def test_imports_against_the_table_are_found(tmp_path: Path) -> None:
    package = _fake_package(tmp_path)
    imports = gen.read_all_imports(package)
    layer_of = {m: names[0] for m, names in gen.assign(gen.find_modules(package)).items()}
    bad = {(i.source, i.target) for i in gen.violations(imports, layer_of)}
    # tensor sits below engine and ops; nn may use only the public namespace; the root
    # re-exports nn; engine's TYPE_CHECKING import never runs
    assert bad == {("tensor", "engine"), ("tensor", "ops.shape"), ("nn", "engine")}
    picture = gen.render(package)
    assert 'tensor -->|"✗ 1"| ops' in picture
    assert "namespace -->|re-exports| apps" in picture
    assert "Imports against the table (3)" in picture
