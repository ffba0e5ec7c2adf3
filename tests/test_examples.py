"""The examples run (fast mode) and do what they claim."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_seed_network_learns_xor() -> None:
    assert _load("seed_network").main(["--fast"]) < 0.01


def test_digits_side_by_side_with_pytorch() -> None:
    rows = _load("digits_vs_pytorch").main(["--fast"])
    assert rows[1][0] < rows[0][0]
    if rows[0][1] is not None:
        for ours, theirs in rows:
            assert ours == pytest.approx(theirs, rel=1e-4)


def test_digits_cnn() -> None:
    assert _load("digits_cnn").main(["--fast"]) > 0.7
