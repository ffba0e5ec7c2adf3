"""The seeds' quick-start examples, with the true values."""

from __future__ import annotations

import math

import numpy as np
import pytest

import autodiff as ad
from autodiff.cli import main, quickstart

from .conftest import make


def test_named_scalars() -> None:
    x = ad.var("x", 2.0)
    y = ad.var("y", 3.0)
    z = x * y + x.sin()
    assert z.value() == pytest.approx(6 + math.sin(2))
    grads = z.backward()
    assert grads.wrt(x).item() == pytest.approx(3 + math.cos(2))  # 2.5838..., not 3.583
    assert grads["x"].item() == pytest.approx(2.5838531634528574)
    assert grads["y"].item() == pytest.approx(2.0)
    assert len(grads) == 2


def test_pytorch_style_vectors() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    y = make([3.0, 4.0], requires_grad=True)
    z = (x + y) * x
    z.backward(ad.ones_like(z))
    assert x.grad.tolist() == [5.0, 8.0]
    assert y.grad.tolist() == [1.0, 2.0]


def test_value_engine_scalar() -> None:
    x = make(3.0, requires_grad=True)
    y = x * x + x
    y.backward()
    assert y.item() == 12.0
    assert x.grad.item() == 7.0


def test_broadcasting_example(rng: np.random.Generator) -> None:
    a = make(rng.standard_normal((2, 3)), requires_grad=True)
    b = make(rng.standard_normal((1, 3)), requires_grad=True)
    loss = ((a + b).tanh() * (a + 2.0)).sum()
    loss.backward()
    assert a.grad.shape == (2, 3)
    assert b.grad.shape == (1, 3)
    an, bn = a.numpy(), b.numpy()
    t = np.tanh(an + bn)
    da = (1 - t**2) * (an + 2) + t
    db = ((1 - t**2) * (an + 2)).sum(axis=0, keepdims=True)
    np.testing.assert_allclose(a.grad.numpy(), da, rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), db, rtol=1e-5)


def test_demo_quickstart_values() -> None:
    lines: list[str] = []
    res = quickstart(lines.append)
    assert res["z"][1] == pytest.approx(3 + math.cos(2))
    assert res["xy"] == ([5.0, 8.0], [1.0, 2.0])
    assert res["poly"] == (12.0, 7.0)
    assert any("dz/dx" in line for line in lines)


def test_cli_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    assert "dz/dx = 2.58385" in capsys.readouterr().out


def test_cli_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numpy" in out
    assert "array_api_strict" in out
