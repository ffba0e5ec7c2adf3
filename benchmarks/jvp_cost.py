"""What a forward-mode JVP costs relative to a reverse-mode VJP.

autodiff computes jvp by linearity from two reverse passes. This measures both on an
MLP-shaped function (NumPy backend, float64, medians of repeats):

    python benchmarks/jvp_cost.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import autodiff as ad


def main(repeats: int = 50) -> float:
    rng = np.random.default_rng(0)
    w1 = ad.tensor(rng.standard_normal((256, 256)) / 16)
    w2 = ad.tensor(rng.standard_normal((256, 64)) / 16)

    def f(x: ad.Tensor) -> ad.Tensor:
        return ad.tanh(ad.tanh(x @ w1) @ w2)

    x = ad.tensor(rng.standard_normal((64, 256)))
    u = ad.tensor(rng.standard_normal((64, 256)))
    v = ad.tensor(rng.standard_normal((64, 64)))

    def vjp_once() -> None:
        _, pull = ad.vjp(f, x)
        pull(v)

    def jvp_once() -> None:
        ad.jvp(f, (x,), (u,))

    times = {}
    for name, fn in (("vjp", vjp_once), ("jvp", jvp_once)):
        fn()
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        times[name] = statistics.median(samples)
    ratio = times["jvp"] / times["vjp"]
    print(
        f"vjp {times['vjp'] * 1e3:.2f} ms   jvp {times['jvp'] * 1e3:.2f} ms   jvp/vjp = {ratio:.2f}"
    )
    return ratio


if __name__ == "__main__":
    main()
