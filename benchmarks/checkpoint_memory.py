"""Peak memory of a deep MLP's forward+backward with and without ``ad.checkpoint``.

NumPy reports its allocations to tracemalloc, so the traced peak is the arrays' peak.

    python benchmarks/checkpoint_memory.py
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import autodiff as ad


def run(depth: int = 24, width: int = 512, batch: int = 512) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(0)
    ws = [ad.tensor(rng.standard_normal((width, width)) / np.sqrt(width)) for _ in range(depth)]
    x = ad.tensor(rng.standard_normal((batch, width)), requires_grad=True)

    def layer(h: ad.Tensor, w: ad.Tensor) -> ad.Tensor:
        return ad.tanh(ad.tanh(h @ w) * 1.5 + 0.1)

    def measure(fn: Callable[[ad.Tensor, ad.Tensor], ad.Tensor]) -> tuple[float, float]:
        x.grad = None
        tracemalloc.start()
        t0 = time.perf_counter()
        h = x
        for w in ws:
            h = fn(h, w)
        h.sum().backward()
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 2**20, elapsed

    out = {"plain": measure(layer), "checkpoint": measure(ad.checkpoint(layer))}
    for name, (mib, sec) in out.items():
        print(f"{name:<11} peak {mib:8.1f} MiB   {sec * 1e3:7.1f} ms")
    print(
        f"checkpoint / plain: memory {out['checkpoint'][0] / out['plain'][0]:.2f}, time {out['checkpoint'][1] / out['plain'][1]:.2f}"
    )
    return out


if __name__ == "__main__":
    run()
