"""What preallocated buffers buy a compiled NumPy program, and what they hold.

``ad.compile`` on NumPy writes large intermediates into buffers that every replay reuses
(``buffers=True``, the default). This times the same compiled functions with and without
them (medians of paired repeats, interleaved so that drift hits both alike) and reports
the memory one set of buffers keeps between calls:

    python benchmarks/buffers.py [--quick]

- ``W3``: the benchmark suite's whole MLP training step (784-256-128-10, batch 128,
  float32, SGD), compiled;
- ``matmul N``: W4's gradient of ``sum((A @ B)**2)`` at N×N, float32;
- ``chain N``: the gradient of an elementwise chain over N×N float32 arrays
  (``sum(tanh(a * b + 1) * a)``, numba-fused where numba is installed).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import autodiff as ad

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

Step = tuple[Callable[[], Any], Any]  # (one step, its compiled function)


def _workload(name: str, d: dict[str, Any], buffers: bool) -> Step:
    from benchmarks.workloads import compiled_builders

    step, _ = compiled_builders("numpy", buffers=buffers)[name](d)
    return step, step.compiled  # type: ignore[attr-defined]


def _chain(n: int, buffers: bool) -> Step:
    rng = np.random.default_rng(0)
    a = ad.tensor(rng.standard_normal((n, n)).astype(np.float32))
    b = ad.tensor(rng.standard_normal((n, n)).astype(np.float32))
    f = ad.compile(
        ad.grad(lambda a, b: ad.sum(ad.tanh(a * b + 1.0) * a), argnums=(0, 1)), buffers=buffers
    )
    return lambda: f(a, b), f


def _held(f: Any) -> int:
    """Bytes of the buffers one replay holds between calls."""
    return sum(info.get("buffer_bytes", 0) for info in f.summary())


def main(argv: list[str] | None = None) -> dict[str, float]:
    with ad.use_backend("numpy"):  # buffers are the NumPy backend's
        return _run("--quick" in (argv if argv is not None else sys.argv[1:]))


def _run(quick: bool) -> dict[str, float]:
    from benchmarks.workloads import inputs

    w3 = inputs("W3", quick)
    cases: list[tuple[str, Callable[[bool], Step]]] = [("W3", lambda bf: _workload("W3", w3, bf))]
    rng = np.random.default_rng(0)
    for n in (128,) if quick else (256, 1024, 1448, 2048):
        pair = {k: rng.standard_normal((n, n)).astype(np.float32) for k in "ab"}
        cases.append((f"matmul {n}", lambda bf, d=pair: _workload("W4", d, bf)))
        cases.append((f"chain {n}", lambda bf, n=n: _chain(n, bf)))
    ratios: dict[str, float] = {}
    print(f"{'case':<12} {'buffers ms':>11} {'none ms':>9} {'ratio':>6} {'held MB':>8}")
    for name, build in cases:
        runs = {flag: build(flag) for flag in (True, False)}
        for step, _ in runs.values():
            step()  # trace
            step()  # first replay (numba compiles its kernels here)
        samples: dict[bool, list[float]] = {True: [], False: []}
        budget = 0.2 if quick else 1.5  # seconds per system
        reps = 5 if quick else 15
        for _ in range(reps):
            for flag, (step, _) in runs.items():
                count, t0 = 0, time.perf_counter()
                while count < 2 or time.perf_counter() - t0 < budget / reps:
                    step()
                    count += 1
                samples[flag].append((time.perf_counter() - t0) / count)
        on, off = statistics.median(samples[True]), statistics.median(samples[False])
        ratios[name] = on / off
        held = _held(runs[True][1]) / 2**20
        print(f"{name:<12} {on * 1e3:>11.3f} {off * 1e3:>9.3f} {on / off:>6.3f} {held:>8.1f}")
    return ratios


if __name__ == "__main__":
    main()
