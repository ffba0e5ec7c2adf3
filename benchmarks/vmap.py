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
- ``numpy limit``: the same per-example gradients written by hand in NumPy (one forward
  of the batch, the backward with one ``einsum`` outer product per weight): what any
  system pays on this machine, chiefly for writing 128 copies of the gradient,

after checking that every system's per-example gradients agree. NumPy's BLAS and
PyTorch run on one thread. Every system runs once per round (round-robin, so a change in the machine's load reaches all alike); the
median and the minimum over the rounds are printed, with the load average. Run:

    python benchmarks/vmap.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
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


# -- the hand-written NumPy limit ------------------------------------------------------


def _softmax_minus_onehot(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    # d(cross-entropy of one example)/d(logits), one row per example
    e = np.exp(z - z.max(axis=1, keepdims=True))
    d = e / e.sum(axis=1, keepdims=True)
    d[np.arange(len(y)), y] -= 1.0
    return d


def _outer(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    # per-example weight gradients a_b^T d_b, (B, m, n): one pass writing the result
    return np.einsum("bi,bj->bij", a, d)


def numpy_limit(data: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """Per-example gradients of the same model written by hand in NumPy."""
    p = data["params"]
    x, y = data["x"], np.asarray(data["y"])
    if data["kind"] == "mlp":
        ws = [p[f"w{k}"] for k in range(3)]
        bs = [p[f"b{k}"] for k in range(3)]

        def mlp() -> dict[str, Any]:
            hs, pre = [x], []
            for k in range(3):
                a = hs[-1] @ ws[k] + bs[k]
                pre.append(a)
                hs.append(np.maximum(a, 0) if k < 2 else a)
            d = _softmax_minus_onehot(hs[-1], y)
            out: dict[str, Any] = {}
            for k in (2, 1, 0):
                out[f"w{k}"], out[f"b{k}"] = _outer(hs[k], d), d
                if k:
                    d = (d @ ws[k].T) * (pre[k - 1] > 0)
            return out

        return mlp
    n = x.shape[0]
    cw = p["cw"].reshape(8, 9)

    def cnn() -> dict[str, Any]:
        xp_ = np.pad(x[:, 0], ((0, 0), (1, 1), (1, 1)))
        win = np.lib.stride_tricks.sliding_window_view(xp_, (3, 3), axis=(1, 2))
        patches = win.reshape(n, 64, 9)  # (example, position, tap)
        conv = patches @ cw.T + p["cb"]  # (n, 64, 8): channels last
        r = np.maximum(conv, 0).reshape(n, 4, 2, 4, 2, 8)
        pooled = r.max(axis=(2, 4))  # (n, 4, 4, 8)
        h = pooled.transpose(0, 3, 1, 2).reshape(n, 128)  # (c, h, w) order
        d = _softmax_minus_onehot(h @ p["w"] + p["b"], y)
        dh = (d @ p["w"].T).reshape(n, 8, 4, 4).transpose(0, 2, 3, 1)
        mask = r == pooled[:, :, None, :, None, :]
        share = dh / mask.sum(axis=(2, 4))  # ties share the gradient
        dconv = (mask * share[:, :, None, :, None, :]).reshape(n, 64, 8) * (conv > 0)
        gcw = np.einsum("bpk,bpc->bck", patches, dconv).reshape(n, 8, 1, 3, 3)
        return {"cw": gcw, "cb": dconv.sum(axis=1), "w": _outer(h, d), "b": d}

    return cnn


def _host(g: Any) -> dict[str, np.ndarray]:
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in g.items()}


def run(data: dict[str, Any], repeats: int) -> dict[str, tuple[float, float]]:
    """``{system: (median, minimum)}`` seconds over ``repeats`` round-robin rounds."""
    systems: dict[str, Callable[[], Any]] = dict(ad_systems(data))
    systems["numpy limit"] = numpy_limit(data)
    for name, make in (("torch.func", torch_system), ("jax.jit", jax_system)):
        with contextlib.suppress(ImportError):
            systems[name] = make(data)
    ref = _host(systems["vmap"]())
    for name in ("loop", "compiled", "numpy limit", "torch.func", "jax.jit"):
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
    return {name: (statistics.median(ts), min(ts)) for name, ts in times.items()}


def _one_blas_thread() -> Any:
    """NumPy's BLAS on one thread, as PyTorch is (``torch.set_num_threads(1)``): on a
    shared machine a second BLAS thread that waits for a busy core makes one matrix
    product 10-50x slower, from one round to the next."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _ratio(t: dict[str, tuple[float, float]], a: str, b: str) -> str:
    return f"{t[a][0] / t[b][0]:.2f}x median, {t[a][1] / t[b][1]:.2f}x min"


def main(quick: bool = False) -> dict[str, dict[str, tuple[float, float]]]:
    repeats = 5 if quick else 30
    load = os.getloadavg()[0]
    with _one_blas_thread():
        results = {
            "W3 MLP": run(mlp_inputs(), repeats),
            "digits CNN": run(cnn_inputs(), repeats),
        }
    load = max(load, os.getloadavg()[0])
    for model, t in results.items():
        print(f"\n{model}, per-example gradients of {BATCH} examples (ms)")
        print(f"  {'':<12} {'median':>9} {'min':>9}")
        for name, (med, low) in t.items():
            print(f"  {name:<12} {med * 1e3:9.2f} {low * 1e3:9.2f}")
        print(f"  vmap / batched gradient:   {_ratio(t, 'vmap', 'batched')}")
        print(f"  limit / batched gradient:  {_ratio(t, 'numpy limit', 'batched')}")
        print(f"  vmap / numpy limit:        {_ratio(t, 'vmap', 'numpy limit')}")
        print(f"  loop / vmap:               {_ratio(t, 'loop', 'vmap')}")
        if "torch.func" in t:
            print(f"  vmap / torch.func:         {_ratio(t, 'vmap', 'torch.func')}")
        if "jax.jit" in t:
            print(f"  compiled / jax.jit:        {_ratio(t, 'compiled', 'jax.jit')}")
    print(f"\nload average (1 min, highest of start and end): {load:.1f}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    main(parser.parse_args().quick)
