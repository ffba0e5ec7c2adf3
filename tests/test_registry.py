"""Backend registry and selection (SPEC §1)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

import autodiff as ad
from autodiff.backends._numpy import NumpyBackend


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AUTODIFF_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, check=False
    )


def test_registered_and_available() -> None:
    names = ad.backends.registered()
    assert {"numpy", "array_api_strict"} <= set(names)
    assert "numpy" in ad.backends.available()
    assert set(ad.backends.available()) <= set(names)


def test_get_unknown_backend_lists_registered() -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'nunpy'.*numpy"):
        ad.backends.get("nunpy")
    with pytest.raises(ValueError, match="registered backends"):
        ad.set_backend("nunpy")


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test vanish after it."""
    monkeypatch.setattr(ad.backends, "_factories", dict(ad.backends._factories))
    monkeypatch.setattr(ad.backends, "_instances", dict(ad.backends._instances))


@pytest.mark.usefixtures("scratch_registry")
def test_register_custom_backend() -> None:
    class Mine(NumpyBackend):
        name = "mine_test"

    ad.backends.register("mine_test", Mine, overwrite=True)
    assert "mine_test" in ad.backends.registered()
    with pytest.raises(ValueError, match="already registered"):
        ad.backends.register("mine_test", Mine)
    with ad.use_backend("mine_test"):
        t = ad.ones(2)
        assert t.backend.name == "mine_test"
        assert str(t.device) == "mine_test:cpu"
    with pytest.raises(ValueError, match="identifier"):
        ad.backends.register("not a name", Mine)


@pytest.mark.usefixtures("scratch_registry")
def test_register_rejects_non_backend_factory() -> None:
    ad.backends.register("broken_test", lambda: object(), overwrite=True)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="not an autodiff Backend"):
        ad.backends.get("broken_test")


def test_use_backend_scopes_and_restores() -> None:
    before = ad.get_backend().name
    with ad.use_backend("numpy"):
        assert ad.get_backend().name == "numpy"
        assert ad.zeros(2).backend.name == "numpy"
    assert ad.get_backend().name == before

    @ad.use_backend("numpy")
    def inner() -> str:
        return ad.get_backend().name

    assert inner() == "numpy"


def test_use_backend_is_thread_local() -> None:
    seen: list[str] = []
    with ad.use_backend("array_api_strict"):
        worker = threading.Thread(target=lambda: seen.append(ad.get_backend().name))
        worker.start()
        worker.join()
        assert ad.get_backend().name == "array_api_strict"
    assert seen == [ad.get_backend().name]


def test_set_backend_process_default() -> None:
    before = ad.get_backend().name
    try:
        ad.set_backend("array_api_strict")
        assert ad.tensor(1.0).backend.name == "array_api_strict"
    finally:
        ad.set_backend(before)


def test_dtypes_are_autodiff_objects_everywhere() -> None:
    for name in ("numpy", "array_api_strict"):
        with ad.use_backend(name):
            t = ad.tensor([1.0], dtype=ad.float32)
            assert t.dtype == ad.float32
            assert ad.tensor([1, 2]).dtype == ad.int64
            assert ad.tensor(1.5).dtype == ad.float64
            assert ad.backends.get(name).supports(ad.float64)


def test_set_default_dtype() -> None:
    ad.set_default_dtype(ad.float32)
    try:
        assert ad.tensor(1.5).dtype == ad.float32
        assert ad.tensor([1.0, 2.0]).dtype == ad.float32
        assert ad.zeros(2).dtype == ad.float32
    finally:
        ad.set_default_dtype(None)
    with pytest.raises(TypeError, match="real floating"):
        ad.set_default_dtype(ad.int32)


def test_unsupported_dtype_on_device_raises() -> None:
    with ad.use_backend("array_api_strict", "no_float64"):
        with pytest.raises(TypeError, match="float64"):
            ad.tensor([1.0], dtype=ad.float64)
        assert ad.tensor([1.0], dtype=ad.float32).dtype == ad.float32


def test_unknown_dtype_name() -> None:
    with pytest.raises(TypeError, match="not a dtype"):
        ad.tensor([1.0], dtype="float33")


def test_devices() -> None:
    dev = ad.backends.get("numpy").default_device
    assert str(dev) == "numpy:cpu"
    assert dev == ad.Device("numpy", "cpu")
    with pytest.raises(ValueError, match="no device 'gpu'"):
        ad.backends.get("numpy").device("gpu")


def test_import_loads_no_optional_array_library() -> None:
    code = (
        "import sys, autodiff as ad; ad.tensor([1.0]) * 2.0; "
        "bad = [m for m in ('cupy', 'mlx', 'torch', 'jax', 'dask', 'array_api_strict') if m in sys.modules]; "
        "print(bad)"
    )
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_misspelt_env_backend_fails_at_import() -> None:
    out = _run("import autodiff", AUTODIFF_BACKEND="nunpy")
    assert out.returncode != 0
    assert "AUTODIFF_BACKEND='nunpy'" in out.stderr
    assert "numpy" in out.stderr


def test_misspelt_env_device_fails_at_import() -> None:
    out = _run("import autodiff", AUTODIFF_DEVICE="cdua")
    assert out.returncode != 0
    assert "AUTODIFF_DEVICE='cdua'" in out.stderr
    assert "cuda:N" in out.stderr


def test_env_backend_selects_default() -> None:
    out = _run(
        "import autodiff as ad; print(ad.tensor(1.0).device)", AUTODIFF_BACKEND="array_api_strict"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "array_api_strict:cpu"


def test_env_device_cpu_picks_numpy() -> None:
    out = _run(
        "import autodiff as ad; print(ad.get_backend().name, ad.get_device())",
        AUTODIFF_DEVICE="cpu",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "numpy numpy:cpu"
