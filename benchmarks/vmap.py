"""Per-example gradients: ``ad.vmap(ad.grad(loss))`` against the alternatives.

Two models, batch 128, float32, NumPy backend: the W3 MLP (784-256-128-10, ReLU,
cross-entropy; see ``workloads.py``) and a small CNN on scikit-learn's 8x8 digits
(conv 3x3 to 8 channels, ReLU, 2x2 max-pool, linear to 10). For each, the median
time of

- ``vmap``: ``ad.vmap(ad.grad(loss), in_axes=(None, 0, 0))`` (eager),
- ``batched``: one ordinary gradient of the mean loss (what a normal step costs),
- ``loop``: one ``ad.grad`` per example (what users write without ``vmap``),
- ``torch.func``: ``torch.func.vmap(torch.func.grad(loss))`` (eager, CPU),
- ``compiled``: ``ad.compile`` of the ``vmap(grad)`` function,
- ``jax.jit``: ``jax.jit(jax.vmap(jax.grad(loss)))`` (CPU),

after checking that every system's per-example gradients agree. Run:

    python benchmarks/vmap.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff as ad

BATCH = 128


def mlp_inputs() -> dict[str, Any]:
    from benchmarks.workloads import inputs

    data = inputs("W3")
    params = {}
    for k, (w, b) in enumerate(data["layers"]):
        params[f"w{k}"], params[f"b{k}"] = w, b
    return {"params": params, "x": data["x"][:BATCH], "y": data["y"][:BATCH], "kind": "mlp"}


def cnn_inputs() -> dict[str, Any]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    x = (digits.images[:BATCH] / 16.0).astype(np.float32)[:, None]  # (128, 1, 8, 8)
    params = {
        "cw": (rng.standard_normal((8, 1, 3, 3)) / 3).astype(np.float32),
        "cb": np.zeros(8, np.float32),
        "w": (rng.standard_normal((8 * 4 * 4, 10)) / np.sqrt(128)).astype(np.float32),
        "b": np.zeros(10, np.float32),
    }
    return {"params": params, "x": x, "y": digits.target[:BATCH], "kind": "cnn"}


# -- autodiff -------------------------------------------------------------------------


def ad_loss(kind: str) -> Callable[..., Any]:
    F = ad.nn.functional

    def mlp(p: dict[str, Any], x: Any, y: Any) -> Any:
        h = x
        for k in range(3):
            h = h @ p[f"w{k}"] + p[f"b{k}"]
            if k < 2:
                h = ad.relu(h)
        return ad.nn.cross_entropy(h, y)

    def cnn(p: dict[str, Any], x: Any, y: Any) -> Any:
        h = ad.relu(F.conv2d(x, p["cw"], p["cb"], padding=1))
        h = F.max_pool2d(h, 2)
        h = ad.reshape(h, (h.shape[0], -1))
        return ad.nn.cross_entropy(h @ p["w"] + p["b"], y)

    return mlp if kind == "mlp" else cnn


def ad_systems(data: dict[str, Any]) -> dict[str, Callable[[], dict[str, Any]]]:
    loss = ad_loss(data["kind"])
    p = {k: ad.asarray(v) for k, v in data["params"].items()}
    x, y = ad.asarray(data["x"]), ad.asarray(data["y"])

    def one(p: Any, xi: Any, yi: Any) -> Any:
        return loss(p, xi[None], yi[None])

    per_example = ad.vmap(ad.grad(one), in_axes=(None, 0, 0))
    keys = list(p)
    # ad.compile takes tensors: the parameters go in flat
    compiled = ad.compile(
        lambda *a: per_example(dict(zip(keys, a[:-2], strict=True)), a[-2], a[-1])
    )
    batched = ad.grad(loss)
    single = ad.grad(one)

    def loop() -> dict[str, Any]:
        gs = [single(p, x[i], y[i]) for i in range(x.shape[0])]
        return {k: ad.stack([g[k] for g in gs]) for k in p}

    return {
        "vmap": lambda: per_example(p, x, y),
        "batched": lambda: batched(p, x, y),
        "loop": loop,
        "compiled": lambda: compiled(*p.values(), x, y),
    }


# -- references -----------------------------------------------------------------------


def torch_system(data: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    import torch

    torch.set_num_threads(1)
    F = torch.nn.functional
    p = {k: torch.tensor(v) for k, v in data["params"].items()}
    x, y = torch.tensor(data["x"]), torch.tensor(data["y"])

    def loss(p: dict[str, Any], xi: Any, yi: Any) -> Any:
        xi, yi = xi[None], yi[None]
        if data["kind"] == "mlp":
            h = xi
            for k in range(3):
                h = h @ p[f"w{k}"] + p[f"b{k}"]
                if k < 2:
                    h = torch.relu(h)
        else:
            h = torch.relu(F.conv2d(xi, p["cw"], p["cb"], padding=1))
            h = F.max_pool2d(h, 2).reshape(1, -1) @ p["w"] + p["b"]
        return F.cross_entropy(h, yi)

    fn = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
    return lambda: fn(p, x, y)


def jax_system(data: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_platforms", "cpu")
    p = {k: jnp.asarray(v) for k, v in data["params"].items()}
    x, y = jnp.asarray(data["x"]), jnp.asarray(data["y"])

    def loss(p: dict[str, Any], xi: Any, yi: Any) -> Any:
        xi = xi[None]
        if data["kind"] == "mlp":
            h = xi
            for k in range(3):
                h = h @ p[f"w{k}"] + p[f"b{k}"]
                if k < 2:
                    h = jax.nn.relu(h)
        else:
            h = jax.lax.conv_general_dilated(xi, p["cw"], (1, 1), ((1, 1), (1, 1)))
            h = jax.nn.relu(h + p["cb"][None, :, None, None])
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
            h = h.reshape(1, -1) @ p["w"] + p["b"]
        return -jax.nn.log_softmax(h)[0, yi]

    fn = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))

    def run() -> Any:
        out = fn(p, x, y)
        jax.block_until_ready(out)
        return out

    return run


def _host(g: Any) -> dict[str, np.ndarray]:
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in g.items()}


def run(data: dict[str, Any], repeats: int) -> dict[str, float]:
    systems: dict[str, Callable[[], Any]] = dict(ad_systems(data))
    for name, make in (("torch.func", torch_system), ("jax.jit", jax_system)):
        with contextlib.suppress(ImportError):
            systems[name] = make(data)
    ref = _host(systems["vmap"]())
    for name in ("loop", "compiled", "torch.func", "jax.jit"):
        if name in systems:
            got = _host(systems[name]())
            for k in ref:
                np.testing.assert_allclose(got[k], ref[k], rtol=2e-3, atol=2e-5, err_msg=name)
    # round-robin: every system is timed once per round, so a change in the machine's
    # load during the run reaches all of them alike and the ratios stay meaningful
    times: dict[str, list[float]] = {name: [] for name in systems}
    for fn in systems.values():
        fn()
    for r in range(repeats):
        for name, fn in systems.items():
            if name == "loop" and r % 5:
                continue  # the slow loop: every fifth round
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(quick: bool = False) -> dict[str, dict[str, float]]:
    repeats = 5 if quick else 30
    results = {"W3 MLP": run(mlp_inputs(), repeats), "digits CNN": run(cnn_inputs(), repeats)}
    for model, t in results.items():
        print(f"\n{model}, per-example gradients of {BATCH} examples (median ms)")
        for name, secs in t.items():
            print(f"  {name:<11} {secs * 1e3:9.2f}")
        v = t["vmap"]
        print(f"  vmap / batched gradient: {v / t['batched']:.2f}x")
        print(f"  loop / vmap:             {t['loop'] / v:.1f}x")
        if "torch.func" in t:
            print(f"  vmap / torch.func:       {v / t['torch.func']:.2f}x")
        if "jax.jit" in t:
            print(f"  compiled / jax.jit:      {t['compiled'] / t['jax.jit']:.2f}x")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    main(parser.parse_args().quick)
