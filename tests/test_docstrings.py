"""Every public function and class has a numpydoc docstring with an ``Examples`` section (#8).

The examples themselves run as doctests (``pytest --doctest-modules autodiff``
in the NumPy session); this test only inspects the docstrings, so it runs on
every backend.
"""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

#: modules whose ``__all__`` is walked; extend as more modules are documented
MODULES = (
    "autodiff",
    "autodiff.ops.elementwise",
    "autodiff.ops.transcendental",
    "autodiff.ops.rounding",
    "autodiff.ops.reduction",
    "autodiff.ops.statistics",
    "autodiff.ops.shape",
    "autodiff.ops.manipulation",
    "autodiff.ops.sorting",
    "autodiff.ops.indexing",
    "autodiff.ops.linalg",
    "autodiff.ops.special",
    "autodiff._info",
    "autodiff.backends",
    "autodiff._dtypes",
    "autodiff.transforms",
    "autodiff.custom",
    "autodiff.creation",
    "autodiff.linalg",
    "autodiff.fft",
    "autodiff.nn",
    "autodiff.nn.functional",
    "autodiff.nn.init",
    "autodiff.optim",
    "autodiff.data",
    "autodiff.serialization",
    "autodiff.grad_mode",
    "autodiff.anomaly",
    "autodiff.testing",
    "autodiff.training",
    "autodiff.viz",
    "autodiff._config",
    "autodiff._compute",
    "autodiff.ops.move",
    "autodiff._jit.compile",
    "autodiff._jit.trace",
    "autodiff._jit.graph",
)


def _origin(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"


def _public_names(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module_name} has no __all__"
    out = []
    for name in names:
        obj = getattr(module, name)
        if isinstance(obj, types.ModuleType):
            continue  # submodules are walked through their own entry in MODULES
        if callable(obj):  # functions and classes; constants have no docstring of their own
            out.append((name, obj))
    return out


@pytest.mark.parametrize("module_name", MODULES)
def test_module_has_public_names(module_name: str) -> None:
    assert _public_names(module_name), f"{module_name}.__all__ lists no function or class"


def test_public_names_have_examples() -> None:
    missing = []
    for module_name in MODULES:
        for name, obj in _public_names(module_name):
            doc = inspect.cleandoc(obj.__doc__ or "")  # its own, not a base class's
            summary = doc.strip().splitlines()[0] if doc.strip() else ""
            if summary and "Examples" in doc:
                continue
            what = "no docstring" if not summary else "no Examples section"
            missing.append(f"{module_name}.{name} ({what}; defined as {_origin(obj)})")
    assert not missing, "public names without a docstring example:\n  " + "\n  ".join(missing)
