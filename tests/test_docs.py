"""Every ```python block in docs/ runs, top to bottom per page, so the docs cannot drift.

Blocks fenced as ```python no-run are shown but not run; a page whose optional
libraries are missing is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autodiff as ad

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.S | re.M)
NEEDS = {
    "scale-out.md": ["dask", "torch"],
    "backends.md": ["array_api_strict"],
    "namespace.md": ["scipy", "array_api_extra", "sklearn"],
}
#: pages run in a fresh interpreter (SciPy reads SCIPY_ARRAY_API at its first import)
FRESH = {"namespace.md"}
PAGES = sorted(p.name for p in DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES)
def test_code_blocks_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if ad.get_backend().name != "numpy":
        pytest.skip("the docs' examples are written for the default NumPy backend")
    for module in NEEDS.get(page, []):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{page} needs {module}")
    monkeypatch.chdir(tmp_path)
    text = (DOCS / page).read_text()
    if page in FRESH:
        script = "\n".join(BLOCK.findall(text))
        env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
        run = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
        )
        assert run.returncode == 0, run.stderr[-3000:]
        return
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for i, block in enumerate(BLOCK.findall(text)):
        code = compile(block, f"{page} (block {i + 1})", "exec")
        exec(code, namespace)  # the project's own documentation


def test_every_page_is_in_the_nav() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    missing = [p for p in PAGES if f": {p}" not in nav]
    assert not missing, f"pages not in mkdocs.yml's nav: {missing}"


def test_public_names_have_docstrings() -> None:
    missing = [
        n
        for n in ad.__all__
        if not isinstance(getattr(ad, n), (int, float, str, type(None), ad.DType))
        and not (getattr(ad, n).__doc__ or "").strip()
    ]
    assert not missing, f"public names without a docstring: {missing}"
