"""Shared fixtures: every test runs on the backend the nox session selected."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import autodiff as ad

settings.register_profile(
    "autodiff",
    deadline=None,
    max_examples=15,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "autodiff"))


@pytest.fixture
def backend() -> ad.Backend:
    """The backend under test (``AUTODIFF_BACKEND``)."""
    return ad.get_backend()


@pytest.fixture
def fdtype(backend: ad.Backend) -> ad.DType:
    """The most precise float dtype the backend's default device holds."""
    return ad.float64 if backend.supports(ad.float64) else ad.float32


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def make(values: object, dtype: ad.DType | None = None, requires_grad: bool = False) -> ad.Tensor:
    """A tensor on the backend under test from host values."""
    arr = np.asarray(values)
    if dtype is None and arr.dtype.kind == "f":
        dtype = ad.float64 if ad.get_backend().supports(ad.float64) else ad.float32
    return ad.tensor(arr, dtype=dtype, requires_grad=requires_grad)


def rtol(strict: float = 1e-10) -> float:
    """``strict`` where float64 is exact on the backend under test, float32-level otherwise."""
    return strict if ad.get_backend().exact_float64 else max(strict, 2e-5)


#: backends whose array memory tracemalloc can see (NumPy's allocator reports to it)
TRACEMALLOC_BACKENDS = ("numpy", "array_api_strict")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests of an array API extension the backend under test does not implement."""
    extensions = ad.get_backend().extensions
    for item in items:
        module = item.path.stem
        for ext in ("linalg", "fft"):
            if module == f"test_{ext}" and ext not in extensions:
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"the {ad.get_backend().name} backend does not implement the {ext} extension"
                    )
                )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A test that hits a primitive the backend declares unsupported is skipped, with the
    primitive named; any other NotImplementedError still fails."""
    outcome = yield
    report = outcome.get_result()
    exc = call.excinfo
    if report.when != "call" or exc is None or not isinstance(exc.value, NotImplementedError):
        return
    prim = str(exc.value).split(":", 1)[0]
    backend = ad.get_backend()
    if prim in backend.unsupported:
        report.outcome = "skipped"
        report.longrepr = (
            str(item.path),
            item.location[1] or 0,
            f"Skipped: the {backend.name} backend declares '{prim}' unsupported",
        )
