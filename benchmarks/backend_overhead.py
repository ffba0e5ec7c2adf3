"""Per-op cost of autodiff on each available backend (forward + backward).

200 chained elementwise ops (×1.0001, +0.001, tanh) on 16 float32 values, then
backward; reports the median over repeats in µs per op, with the time to force
the result for lazy backends (MLX) included, and the lazy build time alone.

    python benchmarks/backend_overhead.py
"""

from __future__ import annotations

import statistics
import time

import autodiff as ad

N_OPS = 200


def chain(x: ad.Tensor) -> ad.Tensor:
    y = x
    for _ in range(N_OPS // 3):
        y = ad.tanh(y * 1.0001 + 0.001)
    return y.sum()


def run(name: str, repeats: int = 30) -> tuple[float, float]:
    with ad.use_backend(name):
        backend = ad.get_backend()
        x = ad.tensor([0.01 * i for i in range(16)], dtype=ad.float32, requires_grad=True)
        build, total = [], []
        for _ in range(repeats):
            x.grad = None
            t0 = time.perf_counter()
            loss = chain(x)
            loss.backward()
            t1 = time.perf_counter()
            x.grad.numpy()  # forces lazy backends to compute
            t2 = time.perf_counter()
            build.append(t1 - t0)
            total.append(t2 - t0)
        del backend
    ops = 3 * (N_OPS // 3)
    return statistics.median(total) / ops * 1e6, statistics.median(build) / ops * 1e6


def main() -> None:
    print(f"{'backend':<18} {'µs/op (computed)':>17} {'µs/op (graph only)':>19}")
    for name in ad.backends.available():
        if name in ("cupy", "dask"):
            continue
        total, build = run(name)
        print(f"{name:<18} {total:>17.2f} {build:>19.2f}")


if __name__ == "__main__":
    main()
