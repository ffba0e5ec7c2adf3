"""What README.md and docs/ tell a new user to type works after ``import autodiff as ad``
alone: README's python blocks run, and every dotted name the pages mention (``ad.x.y``
in prose, tables and code; ``autodiff.x.y`` import paths) resolves.

Both run in a fresh interpreter, so a name that works only because some other module
happened to import a submodule first is caught.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autodiff as ad

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.S | re.M)
#: ``ad.x.y`` or ``autodiff.x.y``, not preceded by a name character or a dot
DOTTED = re.compile(r"(?<![\w.])(?:ad|autodiff)(?:\.[A-Za-z_]\w*)+")

RESOLVE = """
import importlib, json, sys
import autodiff as ad

bad = []
for ref in json.loads(sys.argv[1]):
    root, *parts = ref.split(".")
    obj = ad
    if root == "autodiff":  # an import path: the longest importable prefix, then attributes
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(["autodiff", *parts[:i]]))
            except ImportError:
                continue
            parts = parts[i:]
            break
    try:
        for part in parts:
            obj = getattr(obj, part)
    except AttributeError as err:
        bad.append(f"{ref}: {err}")
print(json.dumps(bad))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False, cwd=ROOT
    )


def _references() -> dict[str, str]:
    refs: dict[str, str] = {}
    for page in PAGES:
        for name in DOTTED.findall(page.read_text()):
            refs.setdefault(name.rstrip("."), page.name)
    return refs


def test_the_pages_mention_names_at_all() -> None:
    refs = _references()
    assert "ad.testing.check_grads" in refs and "ad.nn.cross_entropy" in refs
    assert len(refs) > 50


def test_every_dotted_name_the_docs_mention_resolves() -> None:
    refs = _references()
    run = _run(RESOLVE, json.dumps(sorted(refs)))
    assert run.returncode == 0, run.stderr[-3000:]
    bad = json.loads(run.stdout)
    assert not bad, (
        "names the docs mention that do not resolve after `import autodiff as ad`:\n"
        + "\n".join(f"  {b} (in {refs[b.split(':')[0]]})" for b in bad)
    )


def test_readme_examples_run_as_typed() -> None:
    if ad.get_backend().name != "numpy":
        pytest.skip("README's examples are written for the default NumPy backend")
    if importlib.util.find_spec("mlx") is None:
        pytest.skip("README's backend example uses MLX")
    script = "\n".join(BLOCK.findall((ROOT / "README.md").read_text()))
    assert "import autodiff as ad" in script
    run = _run(script)
    assert run.returncode == 0, run.stderr[-3000:]


def test_public_submodules_are_attributes_loaded_on_first_use() -> None:
    code = (
        "import sys, autodiff as ad\n"
        "lazy = [m for m in ad._LAZY_SUBMODULES if f'autodiff.{m}' in sys.modules]\n"
        "assert not lazy, f'loaded by import autodiff: {lazy}'\n"
        "assert callable(ad.testing.check_grads) and 'autodiff.testing' in sys.modules\n"
        "for name in ('nn', 'optim', 'data', 'viz', 'linalg', 'fft', 'backends', 'serialization',\n"
        "             'testing', 'training', 'checks', 'cli'):\n"
        "    assert type(getattr(ad, name)).__name__ == 'module', name\n"
        "    assert name in dir(ad), name\n"
        "try:\n"
        "    ad.no_such_name\n"
        "except AttributeError as err:\n"
        "    assert 'no_such_name' in str(err)\n"
        "else:\n"
        "    raise AssertionError('ad.no_such_name resolved')\n"
    )
    run = _run(code)
    assert run.returncode == 0, run.stderr[-3000:]
