"""Nox sessions: one test session per backend, plus lint.

``nox`` runs them all; ``nox -s "tests(numpy)"`` runs one. Each session
installs what it needs in a fresh virtualenv and selects its backend with
``AUTODIFF_BACKEND``.
"""

from __future__ import annotations

import shutil
import subprocess

import nox

nox.options.sessions = ["lint", "tests", "docs"]
nox.options.error_on_missing_interpreters = False

#: backend → extras its session installs on top of ``test``
BACKENDS: dict[str, list[str]] = {
    "numpy": ["dask", "plot"],
    "array_api_strict": ["array_api_strict"],
    "mlx": ["mlx"],
    "cupy": ["cupy"],
    "torch": ["torch"],
    "jax": ["jax"],
}

#: exact pins installed first: PyTorch's CPU wheel (an unpinned torch pulls a
#: CUDA build of several GB)
PINS: dict[str, list[str]] = {"torch": ["torch==2.13.0"]}


def _has_cuda() -> bool:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    return subprocess.run([smi, "-L"], capture_output=True, check=False).returncode == 0


@nox.session
@nox.parametrize("backend", list(BACKENDS))
def tests(session: nox.Session, backend: str) -> None:
    """Run the test suite on one backend."""
    if backend == "cupy" and not _has_cuda():
        session.skip("no CUDA GPU on this machine: the CuPy session needs one")
    extras = ",".join(["test", *BACKENDS[backend]])
    if PINS.get(backend):
        session.install(*PINS[backend])
    session.install("-e", f".[{extras}]")
    args = list(session.posargs)
    if backend == "numpy" and not args:
        args = ["tests", "autodiff", "--doctest-modules"]
    session.run("pytest", *args, env={"AUTODIFF_BACKEND": backend})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and mypy."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """The W1–W6 benchmark suite against every installed peer (not run by default)."""
    session.install("torch==2.13.0")
    session.install("-e", ".[bench]")
    env = {"OPENBLAS_CORETYPE": "", "OPENBLAS_L2_SIZE": ""}
    session.run("python", "-m", "benchmarks", *session.posargs, env=env)
