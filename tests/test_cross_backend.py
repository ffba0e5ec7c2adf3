"""Every sampled primitive's gradient on each available backend matches NumPy float64."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import autodiff as ad
from autodiff._samples import best_dtype
from autodiff.checks import SAMPLES, cross_backend_errors, other_backends, tolerance

OTHERS = other_backends()

#: primitives a backend cannot run but does not (yet) declare in ``Backend.unsupported``:
#: the test fails once one of them runs, so the entry is removed when the backend is fixed
UNDECLARED: dict[str, set[str]] = {}


def test_backend_list_is_the_registry() -> None:
    """Every available backend but the NumPy reference is compared (a new built-in
    backend cannot be left out)."""
    assert sorted(OTHERS) == sorted(set(ad.backends.available()) - {"numpy"})
    assert "numpy" in ad.backends.available()


@pytest.mark.parametrize("name", OTHERS)
def test_gradients_agree_with_numpy_float64(name: str) -> None:
    backend = ad.backends.get(name)
    with ad.use_backend(name):
        dtype = best_dtype(SAMPLES["add"][0], ad.get_backend())
    table = cross_backend_errors([name])
    missing = {e for e in ("linalg", "fft") if e not in backend.extensions}
    declared = backend.unsupported | {p for p in table if p.split(".", 1)[0] in missing}
    known = UNDECLARED.get(name, set())
    fixed = sorted(p for p in known if not math.isnan(table[p][name]))
    assert not fixed, f"{name} now runs {fixed}: remove them from UNDECLARED"
    declared = declared | known
    bad = {
        p: row[name]
        for p, row in table.items()
        if p not in declared and not row[name] <= tolerance(dtype)
    }
    assert not bad, (
        f"{name} ({dtype.name}) differs from NumPy float64 beyond {tolerance(dtype)}: {bad}"
    )
    # what a backend declares unsupported really does not run (the table stays honest)
    runs_anyway = [p for p in declared if p in table and not math.isnan(table[p][name])]
    assert not runs_anyway, f"{name} declares {runs_anyway} unsupported, but they run"
    assert set(table) == set(SAMPLES)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODIFF_")}
    env.update(extra)
    return env


def test_cuda_without_gpu_fails_at_first_use() -> None:
    if "cupy" in ad.backends.available():
        pytest.skip("a CUDA GPU is present")
    code = "import autodiff as ad\ntry:\n    ad.tensor(1.0)\nexcept ad.BackendUnavailableError as e:\n    print('ERR', e)"
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(AUTODIFF_DEVICE="cuda"),
        check=False,
    )
    assert run.returncode == 0, run.stderr  # import itself succeeds
    assert "ERR backend 'cupy' cannot run here" in run.stdout
    assert "cupy" in run.stdout.lower()


@pytest.mark.parametrize(
    "target", [n for n in ("mlx", "torch", "array_api_strict") if n in ad.backends.available()]
)
def test_move_across_backends_carries_gradients(target: str) -> None:
    x = ad.tensor([1.0, 2.0, 3.0], dtype=ad.float32, device="numpy:cpu", requires_grad=True)
    moved = x.to_device(f"{target}:cpu")
    assert moved.backend.name == target
    assert str(moved.device).startswith(target)
    y = (ad.sin(moved) * moved).sum()
    y.backward()
    assert x.grad.backend.name == "numpy"
    np.testing.assert_allclose(
        x.grad.numpy(), np.cos([1, 2, 3]) * [1, 2, 3] + np.sin([1, 2, 3]), rtol=1e-5
    )
    back = moved.to_device("numpy:cpu")
    assert back.backend.name == "numpy"


def test_mixed_backends_name_both() -> None:
    if not OTHERS:
        pytest.skip("only NumPy is available")
    a = ad.tensor([1.0], device="numpy:cpu")
    b = ad.tensor([1.0], device=f"{OTHERS[0]}:cpu")
    with pytest.raises(ValueError, match=rf"numpy:cpu.*{OTHERS[0]}:cpu"):
        a * b


@pytest.mark.skipif("mlx" not in ad.backends.available(), reason="MLX is not installed")
def test_mlx_never_narrows_and_is_lazy() -> None:
    import mlx.core as mx

    from autodiff.backends._mlx import MLXBackend

    with ad.use_backend("mlx"):
        t = ad.tensor(np.array([1.0, 2.0]))  # NumPy float64 stays float64 on mlx:cpu
        assert t.dtype == ad.float64
        assert ad.tensor([1.0, 2.0]).dtype == ad.float32  # MLX's default float
        y = ad.exp(t) * 2.0
        assert isinstance(y.data, mx.array)
        assert y.tolist() == pytest.approx([2 * math.e, 2 * math.e**2])
    fake = MLXBackend()
    fake.xp
    fake._device_map()
    fake._devices["gpu"] = ad.Device("mlx", mx.gpu, "gpu")  # type: ignore[index]
    assert not fake.supports(ad.float64, "gpu")
    assert fake.supports(ad.float32, "gpu")
    with pytest.raises(TypeError, match="float64 only on"):
        fake.asarray(np.ones(2), device="gpu")


@pytest.mark.skipif("mlx" not in ad.backends.available(), reason="MLX is not installed")
def test_mlx_masks_moves_and_checkpoints(tmp_path: object) -> None:
    import pathlib

    x = ad.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    m = x.to_device("mlx:cpu")
    assert m.dtype == ad.float64  # a move never narrows
    picked = m[m > 0.0]  # data-dependent shape: the mask goes through the host
    assert picked.tolist() == [1.0, 3.0]
    picked.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]
    path = pathlib.Path(str(tmp_path)) / "mlx.npz"
    with ad.use_backend("mlx"):
        ad.save({"w": ad.tensor([1.5, 2.5])}, path)
    back = ad.load(path, device="numpy:cpu")
    assert back["w"].dtype == ad.float32
    assert back["w"].tolist() == [1.5, 2.5]


def test_capability_table_marks_what_runs(tmp_path: object) -> None:
    import pathlib

    from autodiff.checks import write_capability_table

    names = [n for n in ("array_api_strict",) if n in ad.backends.available()]
    text = write_capability_table(str(pathlib.Path(str(tmp_path)) / "cap.md"), names)
    assert "| `matmul` | f32 ✓✓ f64 ✓✓ |" in text
