"""What forward mode costs: ``ad.jvp`` against the plain forward and a VJP, and the
Hessian and forward Jacobian it serves, against the old by-linearity JVP (two reverse
passes, kept here for the comparison), ``torch.func`` and JAX when installed.

Workloads (NumPy backend; medians of repeats):

- **W1 chain**: 201 chained elementwise ops (×1.0001, +0.001, tanh) on 16 float64,
  tangent on the input;
- **W3 MLP**: 784-256-128-10, ReLU, softmax cross-entropy, batch 128, float32, tangent
  on every parameter (a directional derivative of the loss);
- **Hessian** of a 100-parameter function ``sum(tanh(X w)²) + sum(w⁴)/4`` (X 64×100);
- **Jacobian** of a 100→100 map ``tanh(A x) * x``, forward mode.

Run with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset:
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/jvp_cost.py``.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff as ad


def _time(fn: Callable[[], Any], repeats: int, min_time: float = 0.2) -> float:
    fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if len(samples) >= 20 * repeats:
            break
    return statistics.median(samples)


def old_jvp(f: Callable[..., Any], primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> Any:
    """The JVP as autodiff computed it before forward mode (``git show fe9a2cc``):
    by linearity, the transpose of the VJP, from two reverse passes."""
    out, pull = ad.vjp(f, *primals)

    def linear(c: Any) -> Any:
        gs = pull(c)
        total = None
        for g, t in zip(gs, tangents):
            term = (g * t).sum()
            total = term if total is None else total + term
        return total

    total, pull2 = ad.vjp(linear, ad.zeros_like(out))
    return out, pull2(ad.ones_like(total))[0]


def old_jacfwd(f: Callable[[Any], Any], x: Any) -> Any:
    """The forward Jacobian as before: one by-linearity JVP per input basis vector."""
    basis = np.eye(x.size)
    cols = [
        old_jvp(f, (x,), (ad.asarray(basis[j].reshape(x.shape), dtype=x.dtype),))[1]
        for j in range(x.size)
    ]
    return ad.stack(cols, axis=-1)


def old_hessian(f: Callable[[Any], Any], w: Any) -> Any:
    """The Hessian as before: reverse over reverse, one VJP of the gradient per row."""
    _, pull = ad.vjp(ad.grad(f), w)
    basis = np.eye(w.size)
    return ad.stack([pull(ad.asarray(basis[k], dtype=w.dtype))[0] for k in range(w.size)])


def chain_and_mlp(repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    res: dict[str, float] = {}

    x = ad.tensor(rng.uniform(-1, 1, 16))
    u = ad.tensor(rng.standard_normal(16))

    def w1(y: Any) -> Any:
        for _ in range(67):
            y = (y * 1.0001 + 0.001).tanh()
        return y

    def w1_vjp() -> None:
        out, pull = ad.vjp(w1, x)
        pull(ad.ones_like(out))

    res["W1 forward"] = _time(lambda: w1(x), repeats)
    res["W1 jvp"] = _time(lambda: ad.jvp(w1, (x,), (u,)), repeats)
    res["W1 vjp"] = _time(w1_vjp, repeats)
    res["W1 old jvp"] = _time(lambda: old_jvp(w1, (x,), (u,)), max(3, repeats // 4))

    sizes = (784, 256, 128, 10)
    params = []
    tangents = []
    for a, b in itertools.pairwise(sizes):
        params += [
            ad.tensor((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)),
            ad.tensor(np.zeros(b, np.float32)),
        ]
        tangents += [
            ad.tensor(rng.standard_normal((a, b)).astype(np.float32)),
            ad.tensor(rng.standard_normal(b).astype(np.float32)),
        ]
    xb = ad.tensor(rng.standard_normal((128, 784)).astype(np.float32))
    yb = ad.tensor(rng.integers(0, 10, 128))

    def loss(*ps: Any) -> Any:
        h = xb
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            if i + 2 < len(ps):
                h = ad.nn.functional.relu(h)
        return ad.nn.functional.cross_entropy(h, yb)

    def mlp_vjp() -> None:
        out, pull = ad.vjp(loss, *params)
        pull(ad.ones_like(out))

    res["W3 forward"] = _time(lambda: loss(*params), repeats)
    res["W3 jvp"] = _time(lambda: ad.jvp(loss, tuple(params), tuple(tangents)), repeats)
    res["W3 vjp"] = _time(mlp_vjp, repeats)
    res["W3 old jvp"] = _time(lambda: old_jvp(loss, tuple(params), tuple(tangents)), repeats)
    return res


def wide(repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 100)) / 10
    A = rng.standard_normal((100, 100)) / 10
    w0 = rng.standard_normal(100)
    Xa, Aa = ad.tensor(X), ad.tensor(A)

    def f(w: Any) -> Any:
        return ad.sum(ad.tanh(Xa @ w) ** 2) + ad.sum(w**4) / 4

    def g(x: Any) -> Any:
        return ad.tanh(Aa @ x) * x

    w = ad.tensor(w0)
    res: dict[str, float] = {}
    H = ad.hessian(f)(w).numpy()
    assert np.allclose(H, old_hessian(f, w).numpy())
    assert np.allclose(H, ad.jacobian(ad.grad(f), mode="rev")(w).numpy())
    J = ad.jacobian(g, mode="fwd")(w).numpy()
    assert np.allclose(J, old_jacfwd(g, w).numpy())
    res["hessian new (fwd over rev)"] = _time(lambda: ad.hessian(f)(w), repeats)
    res["hessian rev over rev (vmap)"] = _time(
        lambda: ad.jacobian(ad.grad(f), mode="rev")(w), repeats
    )
    res["hessian old (rev over rev, loop)"] = _time(lambda: old_hessian(f, w), repeats)
    res["jacfwd new"] = _time(lambda: ad.jacobian(g, mode="fwd")(w), repeats)
    res["jacfwd old (by linearity)"] = _time(lambda: old_jacfwd(g, w), max(3, repeats // 4))
    res["jacrev (vmap)"] = _time(lambda: ad.jacobian(g, mode="rev")(w), repeats)
    try:
        import torch
        from torch.func import hessian, jacfwd

        Xt, At, wt = (torch.tensor(v) for v in (X, A, w0))

        def ft(w: Any) -> Any:
            return torch.sum(torch.tanh(Xt @ w) ** 2) + torch.sum(w**4) / 4

        def gt(x: Any) -> Any:
            return torch.tanh(At @ x) * x

        assert np.allclose(hessian(ft)(wt).numpy(), H)
        res["torch.func.hessian"] = _time(lambda: hessian(ft)(wt), repeats)
        res["torch.func.jacfwd"] = _time(lambda: jacfwd(gt)(wt), repeats)
    except ImportError:
        pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        Xj, Aj, wj = (jnp.asarray(v) for v in (X, A, w0))

        def fj(w: Any) -> Any:
            return jnp.sum(jnp.tanh(Xj @ w) ** 2) + jnp.sum(w**4) / 4

        def gj(x: Any) -> Any:
            return jnp.tanh(Aj @ x) * x

        hj, jj = jax.hessian(fj), jax.jacfwd(gj)
        assert np.allclose(np.asarray(hj(wj)), H)
        res["jax.hessian (eager)"] = _time(lambda: hj(wj).block_until_ready(), repeats)
        res["jax.jacfwd (eager)"] = _time(lambda: jj(wj).block_until_ready(), repeats)
        hjit, jjit = jax.jit(hj), jax.jit(jj)
        res["jax.jit(hessian)"] = _time(lambda: hjit(wj).block_until_ready(), repeats)
        res["jax.jit(jacfwd)"] = _time(lambda: jjit(wj).block_until_ready(), repeats)
    except ImportError:
        pass
    return res


def main(repeats: int = 20) -> dict[str, float]:
    res = chain_and_mlp(repeats)
    for w in ("W1", "W3"):
        fwd, jvp, vjp, old = (res[f"{w} {k}"] for k in ("forward", "jvp", "vjp", "old jvp"))
        print(
            f"{w}: forward {fwd * 1e3:.3f} ms  jvp {jvp * 1e3:.3f} ms  vjp {vjp * 1e3:.3f} ms  "
            f"old jvp {old * 1e3:.3f} ms  |  jvp/forward {jvp / fwd:.2f}  jvp/vjp {jvp / vjp:.2f}  "
            f"old jvp/vjp {old / vjp:.2f}"
        )
    more = wide(max(3, repeats // 4))
    for k, v in more.items():
        print(f"{k:32s} {v * 1e3:9.2f} ms")
    res.update(more)
    return res


if __name__ == "__main__":
    main()
