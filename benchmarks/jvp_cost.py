"""What forward mode costs: ``ad.jvp`` against the plain forward and a VJP, and the
Hessian and forward Jacobian it serves, against the old by-linearity JVP (two reverse
passes, kept here for the comparison), ``torch.func`` and JAX when installed.

Workloads (NumPy backend). W1 and W3 are timed interleaved (every variant once per
round, many rounds; the machine is shared): medians and minimums. The *NumPy limit* rows
are the same forward and JVP written by hand in NumPy (primal and tangent arrays, no
framework): what the arithmetic itself costs on this machine.

- **W1 chain**: 201 chained elementwise ops (×1.0001, +0.001, tanh) on 16 float64,
  tangent on the input;
- **W3 MLP**: 784-256-128-10, ReLU, softmax cross-entropy, batch 128, float32, tangent
  on every parameter (a directional derivative of the loss), and tangent on the input
  batch only;
- **Hessian** of a 100-parameter function ``sum(tanh(X w)²) + sum(w⁴)/4`` (X 64×100);
- **Jacobian** of a 100→100 map ``tanh(A x) * x``, forward mode.

Run with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset:
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/jvp_cost.py``.
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff as ad


def _time(fn: Callable[[], Any], repeats: int, min_time: float = 0.2) -> float:
    fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if len(samples) >= 20 * repeats:
            break
    return statistics.median(samples)


def _interleaved(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, tuple[float, float]]:
    """``(median, minimum)`` seconds per call of each function, timed in turn once per
    round (a batch of calls lasting ~5 ms each time), so that load on a shared machine
    falls on every variant alike."""
    number = {}
    for k, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        number[k] = max(1, int(0.005 / max(time.perf_counter() - t0, 1e-7)))
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            n = number[k]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[k].append((time.perf_counter() - t0) / n)
    return {k: (statistics.median(v), min(v)) for k, v in samples.items()}


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


def _np_w1(y: np.ndarray) -> np.ndarray:
    for _ in range(67):
        y = np.tanh(y * 1.0001 + 0.001)
    return y


def _np_w1_jvp(y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # d(y c) = t c; d(y + c) = t; d tanh(z) = t (1 - tanh(z)^2)
    for _ in range(67):
        y = np.tanh(y * 1.0001 + 0.001)
        t = t * 1.0001
        t = t * (1 - y * y)
    return y, t


def _np_mlp(ps: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> Any:
    h = x
    for i in range(0, len(ps), 2):
        h = h @ ps[i] + ps[i + 1]
        if i + 2 < len(ps):
            h = np.maximum(h, 0)
    m = h.max(axis=1, keepdims=True)
    lse = np.log(np.exp(h - m).sum(axis=1)) + m[:, 0]
    return (lse - h[np.arange(len(y)), y]).mean()


def _np_mlp_jvp(
    ps: list[np.ndarray], ts: list[np.ndarray | None], x: np.ndarray, tx: Any, y: np.ndarray
) -> Any:
    """The loss and its tangent: tangents ``ts`` on the parameters (None: zero) and
    ``tx`` on the input (None: zero)."""
    h, th = x, tx
    for i in range(0, len(ps), 2):
        w, tw, tb = ps[i], ts[i], ts[i + 1]
        z = h @ w + ps[i + 1]
        tz = None if th is None else th @ w
        if tw is not None:
            tz = h @ tw if tz is None else tz + h @ tw
        if tb is not None:
            tz = tz + tb
        assert tz is not None, "a tangent on the input or on some parameter"
        if i + 2 < len(ps):
            pos = z > 0
            h, th = np.where(pos, z, 0), np.where(pos, tz, 0)
        else:
            h, th = z, tz
    m = h.max(axis=1, keepdims=True)
    e = np.exp(h - m)
    s = e.sum(axis=1)
    rows = np.arange(len(y))
    loss = (np.log(s) + m[:, 0] - h[rows, y]).mean()
    tloss = (((e * th).sum(axis=1) / s) - th[rows, y]).mean()
    return loss, tloss


def chain_and_mlp(rounds: int) -> dict[str, tuple[float, float]]:
    """W1 and W3, every variant timed interleaved: ``(median, minimum)`` seconds."""
    rng = np.random.default_rng(0)

    x = ad.tensor(rng.uniform(-1, 1, 16))
    u = ad.tensor(rng.standard_normal(16))
    xn, un = x.numpy(), u.numpy()

    def w1(y: Any) -> Any:
        for _ in range(67):
            y = (y * 1.0001 + 0.001).tanh()
        return y

    def w1_vjp() -> None:
        out, pull = ad.vjp(w1, x)
        pull(ad.ones_like(out))

    out, tan = ad.jvp(w1, (x,), (u,))
    ref, tref = _np_w1_jvp(xn, un)
    assert np.allclose(out.numpy(), ref)
    assert np.allclose(tan.numpy(), tref)
    res = {
        f"W1 {k}": v
        for k, v in _interleaved(
            {
                "forward": lambda: w1(x),
                "jvp": lambda: ad.jvp(w1, (x,), (u,)),
                "vjp": w1_vjp,
                "NumPy forward": lambda: _np_w1(xn),
                "NumPy jvp": lambda: _np_w1_jvp(xn, un),
            },
            rounds,
        ).items()
    }
    t0 = time.perf_counter()
    for _ in range(3):
        old_jvp(w1, (x,), (u,))
    old = (time.perf_counter() - t0) / 3
    res["W1 old jvp"] = (old, old)

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
    tx = ad.tensor(rng.standard_normal((128, 784)).astype(np.float32))
    yb = ad.tensor(rng.integers(0, 10, 128))
    pn, tn = [p.numpy() for p in params], [t.numpy() for t in tangents]
    xn3, txn, yn = xb.numpy(), tx.numpy(), yb.numpy()

    def loss_of(h: Any, ps: Any) -> Any:
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            if i + 2 < len(ps):
                h = ad.nn.functional.relu(h)
        return ad.nn.functional.cross_entropy(h, yb)

    def loss(*ps: Any) -> Any:
        return loss_of(xb, ps)

    def loss_x(h: Any) -> Any:
        return loss_of(h, params)

    def mlp_vjp() -> None:
        out, pull = ad.vjp(loss, *params)
        pull(ad.ones_like(out))

    for got, want in (
        (ad.jvp(loss, tuple(params), tuple(tangents)), _np_mlp_jvp(pn, tn, xn3, None, yn)),
        (ad.jvp(loss_x, (xb,), (tx,)), _np_mlp_jvp(pn, [None] * 6, xn3, txn, yn)),
    ):
        assert np.allclose(float(got[0]), want[0], rtol=1e-4)
        assert np.allclose(float(got[1]), want[1], rtol=1e-3, atol=1e-4), (got[1], want[1])
    none6: list[np.ndarray | None] = [None] * 6
    res.update(
        {
            f"W3 {k}": v
            for k, v in _interleaved(
                {
                    "forward": lambda: loss(*params),
                    "jvp": lambda: ad.jvp(loss, tuple(params), tuple(tangents)),
                    "jvp (input tangent)": lambda: ad.jvp(loss_x, (xb,), (tx,)),
                    "vjp": mlp_vjp,
                    "NumPy forward": lambda: _np_mlp(pn, xn3, yn),
                    "NumPy jvp": lambda: _np_mlp_jvp(pn, tn, xn3, None, yn),
                    "NumPy jvp (input tangent)": lambda: _np_mlp_jvp(pn, none6, xn3, txn, yn),
                },
                max(5, rounds // 2),
            ).items()
        }
    )
    t0 = time.perf_counter()
    for _ in range(3):
        old_jvp(loss, tuple(params), tuple(tangents))
    old = (time.perf_counter() - t0) / 3
    res["W3 old jvp"] = (old, old)
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


def main(rounds: int = 30) -> dict[str, Any]:
    print(f"load average {os.getloadavg()[0]:.1f}; (median / minimum), ms")
    res: dict[str, Any] = dict(chain_and_mlp(rounds))
    for w in ("W1", "W3"):
        rows = sorted(k for k in res if k.startswith(w + " "))
        for k in rows:
            med, mn = res[k]
            print(f"{k:32s} {med * 1e3:8.3f} / {mn * 1e3:8.3f}")
        fwd, jvp, lim = (res[f"{w} {k}"] for k in ("forward", "jvp", "NumPy jvp"))
        nfwd = res[f"{w} NumPy forward"]
        print(
            f"{w}: jvp/forward {jvp[0] / fwd[0]:.2f} / {jvp[1] / fwd[1]:.2f}   "
            f"jvp/NumPy limit {jvp[0] / lim[0]:.2f} / {jvp[1] / lim[1]:.2f}   "
            f"NumPy jvp/NumPy forward {lim[0] / nfwd[0]:.2f} / {lim[1] / nfwd[1]:.2f}"
        )
    if "W3 jvp (input tangent)" in res:
        j, f = res["W3 jvp (input tangent)"], res["W3 forward"]
        li = res["W3 NumPy jvp (input tangent)"]
        print(
            f"W3 input tangent: jvp/forward {j[0] / f[0]:.2f} / {j[1] / f[1]:.2f}   "
            f"jvp/NumPy limit {j[0] / li[0]:.2f} / {j[1] / li[1]:.2f}"
        )
    more = wide(5)
    for k, v in more.items():
        print(f"{k:32s} {v * 1e3:9.2f} ms")
    res.update(more)
    return res


if __name__ == "__main__":
    main()
