"""Nox sessions: one test session per backend, lint, docs, and the array API
conformance suite per backend.

``nox`` runs the default ones; ``nox -s "tests(backend='numpy')"`` runs one. Each session
installs what it needs in a fresh virtualenv and selects its backend with
``AUTODIFF_BACKEND``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

#: the conformance sessions CI runs (each well under two minutes with --max-examples 5)
CONFORMANCE_DEFAULT = ["numpy", "array_api_strict", "mlx", "torch"]

nox.options.sessions = [
    "lint",
    "tests",
    "docs",
    *(f"conformance(backend='{b}')" for b in CONFORMANCE_DEFAULT),
]
nox.options.error_on_missing_interpreters = False

ROOT = Path(__file__).parent

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
#: the conformance suite's own requirements, at the versions its xfail files were made with
CONFORMANCE_PINS = ["hypothesis==6.170.17", "ndindex==1.10.1", "pytest-json-report==1.5.0"]


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


#: how to get the suite, for the message when ARRAY_API_TESTS_DIR is unset or wrong
SUITE_HINT = (
    "set ARRAY_API_TESTS_DIR to a clone of the array-api-tests suite: git clone "
    "--recurse-submodules https://github.com/data-apis/array-api-tests && export "
    "ARRAY_API_TESTS_DIR=$PWD/array-api-tests (docs/conformance.md names the pinned commit)"
)


#: prints the array API dtypes the current backend lacks, comma-separated
MISSING_DTYPES = (
    "import autodiff as ad; have = ad.__array_namespace_info__().dtypes(); "
    "names = 'bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 "
    "complex64 complex128'.split(); print(','.join(n for n in names if n not in have))"
)


@nox.session
@nox.parametrize("backend", [*BACKENDS, "dask"])
def conformance(session: nox.Session, backend: str) -> None:
    """The array API standard's test suite (array-api-tests) through autodiff on one backend.

    Known failures are listed, each with its cause, in ``conformance/<backend>-xfails.txt``
    and are strict: a case that starts passing fails the session until its line goes.
    """
    suite = os.environ.get("ARRAY_API_TESTS_DIR", "")
    if not suite or not (Path(suite) / "array_api_tests").is_dir():
        where = f" ({suite!r} has no array_api_tests/)" if suite else ""
        session.error(f"array-api-tests not found{where}: {SUITE_HINT}")
    if backend == "cupy" and not _has_cuda():
        session.skip("no CUDA GPU on this machine: the CuPy session needs one")
    extras = ",".join(["conformance"] + ([backend] if backend != "numpy" else []))
    # pinned: --derandomize draws the same examples only with the same Hypothesis
    session.install(*PINS.get(backend, []), *CONFORMANCE_PINS)
    # not editable: Hypothesis also draws literals it finds in *local* source files (an
    # editable install is local), so any edit to autodiff would change the examples drawn
    # and could flip a strict xfail; installed in site-packages, only the suite's own
    # literals count and the draws stay those the xfail files were made with
    session.install(f".[{extras}]")
    xfails = ROOT / "conformance" / f"{backend}-xfails.txt"
    # same examples every run, and no timing-dependent failures on a loaded machine
    args = ["--max-examples", "5", "--derandomize", "--disable-deadline", "-o", "xfail_strict=True"]
    if xfails.exists():
        args += ["--xfails-file", str(xfails)]
    # cases that fail or pass depending on what ran before them: skipped, with the reason
    skips = ROOT / "conformance" / f"{backend}-skips.txt"
    if skips.exists():
        args += ["--skips-file", str(skips)]
    # the dtypes the backend lacks (MLX's complex128, PyTorch's uint16-64) are not drawn:
    # autodiff refuses them with a TypeError rather than narrowing
    missing = session.run(
        "python", "-c", MISSING_DTYPES, env={"AUTODIFF_BACKEND": backend}, silent=True
    )
    # the suite's folder may be read-only: no caches or bytecode written there
    env = {
        "ARRAY_API_TESTS_MODULE": "autodiff",
        "ARRAY_API_TESTS_VERSION": "2024.12",
        "ARRAY_API_TESTS_SKIP_DTYPES": (str(missing or "").strip().splitlines() or [""])[-1],
        "AUTODIFF_BACKEND": backend,
        "PYTHONDONTWRITEBYTECODE": "1",
        "HYPOTHESIS_STORAGE_DIRECTORY": str(Path(session.create_tmp()) / "hypothesis"),
    }
    session.chdir(suite)
    # posargs replace the suite's folder: -- array_api_tests/test_fft.py runs one file
    paths = session.posargs or ["array_api_tests"]
    session.run(
        "python", "-m", "pytest", *paths, "-p", "no:cacheprovider", "-q", *args, env=env,
    )  # fmt: skip


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
