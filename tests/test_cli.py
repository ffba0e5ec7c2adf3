"""The autodiff command: demo, train (with resume), check, info; and the data module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def _train(ckpt: Path, *extra: str) -> int:
    return main(["train", "--hidden", "16", "--checkpoint", str(ckpt), "--quiet", *extra])


def test_train_resume_continues_the_same_run_bit_for_bit(tmp_path: Path) -> None:
    """2 + 2 epochs used to differ from 4 (max |dw| 0.117): the loader was reseeded."""
    whole, split = tmp_path / "whole.npz", tmp_path / "split.npz"
    assert _train(whole, "--epochs", "4") == 0
    assert _train(split, "--epochs", "2") == 0
    assert _train(split, "--epochs", "4") == 0
    a, b = ad.load(whole), ad.load(split)
    assert a["epoch"] == b["epoch"] == 4
    for k in a["model"]:
        assert np.array_equal(a["model"][k].numpy(), b["model"][k].numpy()), k
    for i, entry in a["optimizer"]["state"].items():
        for k, v in entry.items():
            other = b["optimizer"]["state"][i][k]
            same = (
                np.array_equal(v.numpy(), other.numpy()) if isinstance(v, ad.Tensor) else v == other
            )
            assert same, (i, k)
    assert a["loader"] == b["loader"]


def test_train_resume_applies_a_new_lr_and_refuses_a_new_optimizer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "run.npz"
    assert _train(ckpt, "--epochs", "1", "--lr", "0.02") == 0
    capsys.readouterr()
    # a different optimizer used to end in KeyError: 'momentum'
    assert _train(ckpt, "--epochs", "2", "--optimizer", "sgd") == 1
    err = capsys.readouterr().err
    assert "trained with --optimizer adam; --optimizer sgd would start a different run" in err
    assert len(err.strip().splitlines()) == 1
    assert ad.load(ckpt)["epoch"] == 1
    # --lr used to be ignored silently
    assert _train(ckpt, "--epochs", "2", "--lr", "0.005") == 0
    out = capsys.readouterr().out
    assert "note: --lr 0.005 replaces the checkpoint's learning rate 0.02 from epoch 2 on" in out
    state = ad.load(ckpt)
    assert state["optimizer"]["hyper"]["lr"] == 0.005
    assert state["config"]["lr"] == 0.005
    # without --lr, a resume keeps the checkpoint's rate
    assert _train(ckpt, "--epochs", "3") == 0
    assert ad.load(ckpt)["optimizer"]["hyper"]["lr"] == 0.005
    for flag, value in (("--hidden", "32"), ("--batch-size", "8"), ("--seed", "5")):
        assert main(["train", "--checkpoint", str(ckpt), "--epochs", "4", flag, value]) == 1
        assert f"Omit {flag} to resume" in capsys.readouterr().err


def _command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autodiff", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "env", "expect"),
    [
        (["info"], {"AUTODIFF_BACKEND": "nope"}, "AUTODIFF_BACKEND='nope' is not a registered"),
        (["demo"], {"AUTODIFF_DEVICE": "tpu"}, "AUTODIFF_DEVICE='tpu' is not a valid device"),
        (["check", "--backend", "nope"], {}, "unknown backend 'nope'"),
        (["train", "--hidden", "64,x"], {}, "--hidden takes positive layer sizes"),
        (["train", "--checkpoint", "/no/such/folder/x.npz"], {}, "its folder does not exist"),
        (["train", "--batch-size", "0", "--epochs", "1"], {}, "batch_size must be positive"),
    ],
)
def test_every_command_reports_bad_input_in_one_line(
    args: list[str], env: dict[str, str], expect: str
) -> None:
    run = _command(*args, env=env)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert expect in lines[0]


def test_train_reports_a_bad_checkpoint_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert main(["train", "--checkpoint", str(bad), "--epochs", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert "truncated or corrupt" in err
    assert "pass another --checkpoint" in err
    assert len(err.splitlines()) == 1
    other = tmp_path / "other.npz"
    ad.save({"x": 1}, other)
    assert main(["train", "--checkpoint", str(other), "--epochs", "1"]) == 1
    assert "not one `autodiff train` wrote" in capsys.readouterr().err
