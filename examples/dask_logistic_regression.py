"""Logistic regression on 10 million rows with autodiff's Dask backend.

The data set is generated chunk by chunk from a seed and never held whole in
memory: every step streams the chunks through the workers, computing the loss
and the gradient in one pass (``ad.compute``). Runs on a
``distributed.LocalCluster`` bound to 127.0.0.1 by default; point it at a
remote cluster by changing only the scheduler address::

    python examples/dask_logistic_regression.py                      # local cluster
    python examples/dask_logistic_regression.py --scheduler tcp://head-node:8786
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import autodiff as ad

N_FEATURES = 8


def make_data(n_rows: int, chunk_rows: int, seed: int = 0) -> tuple[Any, Any, np.ndarray]:
    """Lazy features X (n_rows × 8) and labels y drawn from a known logistic model."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    true_w = np.linspace(-1.0, 1.0, N_FEATURES)
    x = rng.normal(size=(n_rows, N_FEATURES), chunks=(chunk_rows, N_FEATURES))
    p = 1.0 / (1.0 + da.exp(-(x @ true_w)))
    y = (rng.uniform(size=n_rows, chunks=chunk_rows) < p).astype(np.float64)
    return x, y, true_w


def train(
    x: Any, y: Any, steps: int, lr: float = 2.0, log: Any = print
) -> tuple[np.ndarray, list[float]]:
    """Full-batch gradient descent; returns the weights and the loss per step."""
    w_host = np.zeros(N_FEATURES)
    losses = []
    with ad.use_backend("dask"):
        xt = ad.asarray(x)
        yt = ad.asarray(y)
        for step in range(steps):
            w = ad.tensor(w_host, requires_grad=True)
            z = xt @ w
            # log(1 + e^z) - y z, written to stay finite for large |z|
            loss = (ad.relu(z) + ad.log(1.0 + ad.exp(-ad.abs(z))) - yt * z).mean()
            loss.backward()
            start = time.perf_counter()
            value, grad = ad.compute(loss, w.grad)
            losses.append(float(value))
            w_host = w_host - lr * grad
            log(f"step {step}: loss {float(value):.5f}  ({time.perf_counter() - start:.1f} s)")
    return w_host, losses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)"
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="600MiB", help="per worker, for the LocalCluster")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=args.memory_limit,
        )
        client = Client(cluster)
    try:
        x, y, true_w = make_data(args.rows, args.chunk_rows)
        nbytes = args.rows * (N_FEATURES + 1) * 8
        print(
            f"{args.rows:,} rows ({nbytes / 2**20:.0f} MiB if held whole) in chunks of {args.chunk_rows:,}"
        )
        w, _ = train(x, y, args.steps)
        print("learned weights:", np.round(w, 3))
        print("true weights:   ", np.round(true_w, 3))
        peak = client.run(_peak_rss_mib)
        print("peak RSS per worker (MiB):", {k.split(":")[-1]: round(v) for k, v in peak.items()})
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return 0


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    raise SystemExit(main())
