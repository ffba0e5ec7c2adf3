"""docs/writing-a-backend.md is the backend contract: its example backend passes the
cross-backend test, and its member table lists exactly what ``Backend`` declares."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autodiff as ad
from autodiff.backends import BUILTIN, Backend

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "writing-a-backend.md"
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.S | re.M)


def _example() -> str:
    """The guide's first Python block: the example backend, registered."""
    return BLOCK.findall(GUIDE.read_text())[0]


def _table_names() -> list[str]:
    """The names in the first column of the guide's member table, in order."""
    text = GUIDE.read_text()
    section = text.split("## What a backend provides", 1)[1]
    names = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        names += re.findall(r"`([A-Za-z_]\w*)", first)
    return names


def _builtin_classes() -> list[type]:
    out = []
    for path in BUILTIN.values():
        module, _, name = path.partition(":")
        out.append(getattr(importlib.import_module(module), name))
    return out


def _declared() -> set[str]:
    """What ``Backend`` declares for a backend to set, override or use: its public class
    attributes, annotations, methods and properties, its public instance attributes, and
    the private methods a built-in backend overrides (``_load_xp``, ``_device_table`` ...)."""
    names = {n for n in [*vars(Backend), *Backend.__annotations__] if not n.startswith("_")}
    names |= {n for n in vars(Backend()) if not n.startswith("_")}
    hooks = {
        n
        for n, v in vars(Backend).items()
        if n.startswith("_") and not n.startswith("__") and inspect.isfunction(v)
    }
    names |= {n for n in hooks if any(n in vars(cls) for cls in _builtin_classes())}
    return names


def test_the_member_table_lists_exactly_what_backend_declares() -> None:
    listed = _table_names()
    twice = sorted({n for n in listed if listed.count(n) > 1})
    assert not twice, f"docs/writing-a-backend.md lists these more than once: {twice}"
    declared = _declared()
    missing = sorted(declared - set(listed))
    extra = sorted(set(listed) - declared)
    assert not missing, f"Backend declares these, the guide's table does not list them: {missing}"
    assert not extra, f"the guide's table lists these, Backend does not declare them: {extra}"


def test_every_class_attribute_is_typed_and_commented() -> None:
    """Each data attribute of the contract has a type and a ``#:`` comment on ``Backend``."""
    source = inspect.getsource(Backend).splitlines()
    values = {
        n: v
        for n, v in vars(Backend).items()
        if not n.startswith("_") and not callable(v) and not isinstance(v, property)
    }
    untyped = sorted(n for n in values if n not in Backend.__annotations__)
    assert not untyped, f"Backend's class attributes without a type: {untyped}"
    uncommented = []
    for name in [n for n in Backend.__annotations__ if not n.startswith("_")]:
        at = next(
            i for i, line in enumerate(source) if re.match(rf"    {name}: ", line) is not None
        )
        if not source[at - 1].strip().startswith("#:"):
            uncommented.append(name)
    assert not uncommented, f"Backend's attributes without a '#:' comment: {uncommented}"


def test_the_compile_hooks_default_to_none_and_builtins_override_them() -> None:
    """``ad.compile`` reads its hooks as declared attributes (no getattr with a default)."""
    assert Backend.fuse_program is None and Backend.buffer_program is None
    assert Backend.compile_program is None and Backend.scalar_entry is False
    assert dict(Backend.ufuncs) == {}
    numpy = ad.backends.get("numpy")
    assert callable(numpy.fuse_program) and callable(numpy.buffer_program)
    assert numpy.scalar_entry is True and numpy.ufuncs["add"] is not None


def test_the_guides_backend_passes_the_cross_backend_test(tmp_path: Path) -> None:
    """The example backend, registered before collection (a pytest plugin made of the
    guide's own code), is picked up from the registry by ``tests/test_cross_backend.py``
    and its every sampled gradient agrees with NumPy float64."""
    if ad.get_backend().name != "numpy":
        pytest.skip("runs once, in the NumPy session (it starts its own pytest)")
    pytest.importorskip("array_api_compat")
    (tmp_path / "guide_backend.py").write_text(_example())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODIFF_")}
    env["AUTODIFF_BACKEND"] = "numpy"
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_cross_backend.py",
            "-p",
            "guide_backend",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            "-k",
            "my_numpy or registry",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert (
        "PASSED tests/test_cross_backend.py::test_gradients_agree_with_numpy_float64[my_numpy]"
        in out
    ), out[-4000:]
    assert "PASSED tests/test_cross_backend.py::test_backend_list_is_the_registry" in out, out[
        -4000:
    ]
