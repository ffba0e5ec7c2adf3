"""The autodiff command: demo, train (with resume), check, info; and the data module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import autodiff as ad
from autodiff.cli import main


def test_demo_trains_to_95_percent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "dz/dx = 2.583853" in out
    line = next(x for x in out.splitlines() if "test accuracy" in x and "after" in x)
    assert float(line.split("test accuracy ")[1].split("%")[0]) >= 95.0


def test_demo_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "loss.png"
    assert main(["demo", "--epochs", "2", "--plot", str(png)]) in (0, 1)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_train_saves_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = tmp_path / "run.npz"
    assert main(["train", "--epochs", "2", "--checkpoint", str(ckpt), "--quiet"]) == 0
    state = ad.load(ckpt)
    assert state["epoch"] == 2
    assert (
        main(
            ["train", "--epochs", "4", "--checkpoint", str(ckpt), "--quiet", "--optimizer", "adam"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "resumed from" in out
    assert ad.load(ckpt)["epoch"] == 4


def test_train_rejects_unknown_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--dataset", "imagenet"]) == 1
    assert "unknown dataset 'imagenet'" in capsys.readouterr().err


def test_check_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--order", "1"]) == 0
    out = capsys.readouterr().out
    assert "matmul" in out
    assert " 0 failed" in out


def test_help_and_module_entry() -> None:
    for cmd in ([], ["demo"], ["train"], ["check"], ["info"]):
        run = subprocess.run(
            [sys.executable, "-m", "autodiff", *cmd, "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert "usage: autodiff" in run.stdout


def test_data_loader_and_split() -> None:
    x, y = ad.data.load_digits(flatten=False)
    assert x.shape == (1797, 1, 8, 8)
    assert float(ad.max(x).item()) == 1.0
    xtr, xte, ytr, yte = ad.data.train_test_split(x, y, test_fraction=0.25, seed=1)
    assert xtr.shape[0] + xte.shape[0] == 1797
    assert ytr.shape[0] == xtr.shape[0]
    loader = ad.data.DataLoader(xtr, ytr, batch_size=100, seed=3)
    first = next(b[1].tolist() for b in loader)
    again = next(b[1].tolist() for b in ad.data.DataLoader(xtr, ytr, batch_size=100, seed=3))
    assert first == again
    with pytest.raises(ValueError, match="same number of rows"):
        ad.data.DataLoader(xtr, yte)
