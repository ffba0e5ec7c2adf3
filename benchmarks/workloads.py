"""The workloads W1–W6, written once per system.

Every builder takes a NumPy ``Generator``-made input dict and returns
``(step, fingerprint)``: ``step()`` runs one forward+backward (and the update,
where the workload has one) and ``fingerprint()`` returns a few gradient
values as floats, so the runner can check that all systems agree before it
times them. Inputs are generated once from fixed seeds and shared.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

Builder = Callable[[dict[str, Any]], tuple[Callable[[], Any], Callable[[], list[float]]]]

W1_TRIPLES = 67  # 201 chained ops
W2_SIZES = (4, 16, 16, 1)
W5_OPS = 20_000


def inputs(workload: str, quick: bool = False) -> dict[str, Any]:
    """The shared inputs of a workload (deterministic)."""
    rng = np.random.default_rng(0)
    if workload == "W1":
        return {"x": rng.uniform(-1, 1, 16)}
    if workload == "W2":
        ws = []
        for a, b in itertools.pairwise(W2_SIZES):
            ws.append((rng.standard_normal((a, b)) / np.sqrt(a), rng.standard_normal(b) * 0.1))
        return {"layers": ws, "x": rng.standard_normal((8, 4)), "y": rng.standard_normal(8)}
    if workload in ("W3", "W6"):
        sizes = (784, 256, 128, 10)
        ws = [
            ((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32), np.zeros(b, np.float32))
            for a, b in itertools.pairwise(sizes)
        ]
        return {
            "layers": ws,
            "x": rng.standard_normal((128, 784)).astype(np.float32),
            "y": rng.integers(0, 10, 128),
            "steps": 30 if quick else 300,
        }
    if workload == "W4":
        n = 256 if quick else 1024
        return {
            "a": rng.standard_normal((n, n)).astype(np.float32),
            "b": rng.standard_normal((n, n)).astype(np.float32),
        }
    if workload == "W5":
        return {"x": 0.5, "n": 2_000 if quick else W5_OPS}
    raise ValueError(workload)


# -- hand-written NumPy: the practical limit --------------------------------------


def numpy_w1(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
    x = d["x"].copy()
    out: dict[str, Any] = {}

    def step() -> None:
        ts = []
        y = x
        for _ in range(W1_TRIPLES):
            y = np.tanh(y * 1.0001 + 0.001)
            ts.append(y)
        g = np.ones_like(x)
        for t in reversed(ts):
            g = g * (1 - t * t) * 1.0001
        out["g"] = g

    return step, lambda: out["g"][:3].tolist()


def numpy_mlp(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
    layers = [(w.copy(), b.copy()) for w, b in d["layers"]]
    x, y = d["x"], d["y"]
    onehot = np.eye(10, dtype=np.float32)[y]
    out: dict[str, Any] = {}

    def step() -> None:
        hs = [x]
        h = x
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i < len(layers) - 1:
                h = np.maximum(h, 0)
            hs.append(h)
        z = h - h.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / len(x)
        for i in reversed(range(len(layers))):
            w, b = layers[i]
            gw = hs[i].T @ g
            gb = g.sum(axis=0)
            if i:
                g = (g @ w.T) * (hs[i] > 0)
            if i == 0:
                out["g"] = gw
            w -= 0.01 * gw
            b -= 0.01 * gb

    return step, lambda: out["g"][100, :3].tolist()


def numpy_w4(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
    a, b = d["a"], d["b"]
    out: dict[str, Any] = {}

    def step() -> None:
        c = a @ b
        g = 2 * c
        out["ga"] = g @ b.T
        out["gb"] = a.T @ g

    return step, lambda: [float(out["ga"][0, 0]), float(out["gb"][0, 0])]


def numpy_w5(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
    out: dict[str, Any] = {}

    def step() -> None:
        x = np.float64(d["x"])
        for _ in range(d["n"]):
            x = x * 0.999 + 0.001
        g = 1.0
        for _ in range(d["n"]):
            g = g * 0.999
        out["g"] = g

    return step, lambda: [float(out["g"])]


# -- autodiff ------------------------------------------------------------------------


def autodiff_builders(backend: str) -> dict[str, Builder]:
    import autodiff as ad

    def w1(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        with ad.use_backend(backend):
            x = ad.tensor(d["x"], dtype=_f64(ad), requires_grad=True)

        def step() -> None:
            x.grad = None
            y = x
            for _ in range(W1_TRIPLES):
                y = (y * 1.0001 + 0.001).tanh()
            y.sum().backward()
            _sync(x.grad)

        return step, lambda: x.grad.numpy()[:3].astype(float).tolist()

    def w2(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        with ad.use_backend(backend):
            dt = _f64(ad)
            params = [
                (
                    [[ad.tensor(v, dtype=dt, requires_grad=True) for v in row] for row in w],
                    [ad.tensor(v, dtype=dt, requires_grad=True) for v in b],
                )
                for w, b in d["layers"]
            ]
            xs = [[ad.tensor(v, dtype=dt) for v in row] for row in d["x"]]
            ys = [ad.tensor(v, dtype=dt) for v in d["y"]]
        first = params[0][0][0][0]

        def step() -> None:
            for w, b in params:
                for p in [*b, *(q for row in w for q in row)]:
                    p.grad = None
            total = None
            for xrow, yv in zip(xs, ys):
                h = xrow
                for li, (w, b) in enumerate(params):
                    nxt = []
                    for j in range(len(b)):
                        acc = b[j]
                        for i in range(len(h)):
                            acc = acc + h[i] * w[i][j]
                        nxt.append(acc.relu() if li < len(params) - 1 else acc)
                    h = nxt
                err = (h[0] - yv) * (h[0] - yv)
                total = err if total is None else total + err
            total.backward()
            _sync(first.grad)

        return step, lambda: [float(first.grad.item())]

    def mlp(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        with ad.use_backend(backend):
            layers = [
                (ad.nn.Parameter(ad.tensor(w.copy())), ad.nn.Parameter(ad.tensor(b.copy())))
                for w, b in d["layers"]
            ]
            x = ad.tensor(d["x"])
            y = ad.tensor(d["y"])
        params = [p for pair in layers for p in pair]
        opt = ad.optim.SGD(params, lr=0.01)
        out: dict[str, Any] = {}

        def step() -> None:
            opt.zero_grad()
            h = x
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                if i < len(layers) - 1:
                    h = ad.relu(h)
            ad.nn.cross_entropy(h, y).backward()
            out["g"] = layers[0][0].grad
            opt.step()
            for p in params:
                _sync(p)  # lazy backends (MLX) compute here, not later

        return step, lambda: out["g"].numpy()[100, :3].astype(float).tolist()

    def w4(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        with ad.use_backend(backend):
            a = ad.tensor(d["a"], requires_grad=True)
            b = ad.tensor(d["b"], requires_grad=True)

        def step() -> None:
            a.grad = None
            b.grad = None
            c = a @ b
            (c * c).sum().backward()
            _sync(a.grad)
            _sync(b.grad)

        return step, lambda: [float(a.grad.numpy()[0, 0]), float(b.grad.numpy()[0, 0])]

    def w5(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        with ad.use_backend(backend):
            x = ad.tensor(d["x"], dtype=_f64(ad), requires_grad=True)

        def step() -> None:
            x.grad = None
            y = x
            for _ in range(d["n"]):
                y = y * 0.999 + 0.001
            y.backward()
            _sync(x.grad)

        return step, lambda: [float(x.grad.item())]

    return {"W1": w1, "W2": w2, "W3": mlp, "W4": w4, "W5": w5, "W6": mlp}


def compiled_builders(backend: str, **options: Any) -> dict[str, Builder]:
    """autodiff with ``ad.compile``: each step's forward and backward traced once, replayed.

    ``options`` go to ``ad.compile`` (``fuse=``, ``buffers=``); each ``step`` carries its
    compiled function as ``step.compiled``."""
    import functools

    import autodiff as ad

    compile_ = functools.partial(ad.compile, **options)

    def w1(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        with ad.use_backend(backend):
            x = ad.tensor(d["x"], dtype=_f64(ad))

        def chain(t: Any) -> Any:
            for _ in range(W1_TRIPLES):
                t = (t * 1.0001 + 0.001).tanh()
            return t.sum()

        grad = compile_(ad.grad(chain))
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = grad(x)
            _sync(out["g"])

        return step, lambda: out["g"].numpy()[:3].astype(float).tolist()

    def w2(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        with ad.use_backend(backend):
            dt = _f64(ad)
            flat = [ad.tensor(v, dtype=dt) for w, b in d["layers"] for v in [*np.ravel(w), *b]]
            xs = [[ad.tensor(v, dtype=dt) for v in row] for row in d["x"]]
            ys = [ad.tensor(v, dtype=dt) for v in d["y"]]
        shapes = [(w.shape, len(b)) for w, b in d["layers"]]

        def loss(*ps: Any) -> Any:
            it = iter(ps)
            params = []
            for (n_in, n_out), nb in shapes:
                w = [[next(it) for _ in range(n_out)] for _ in range(n_in)]
                b = [next(it) for _ in range(nb)]
                params.append((w, b))
            total = None
            for xrow, yv in zip(xs, ys):
                h = xrow
                for li, (w, b) in enumerate(params):
                    nxt = []
                    for j in range(len(b)):
                        acc = b[j]
                        for i in range(len(h)):
                            acc = acc + h[i] * w[i][j]
                        nxt.append(acc.relu() if li < len(params) - 1 else acc)
                    h = nxt
                err = (h[0] - yv) * (h[0] - yv)
                total = err if total is None else total + err
            return total

        grad = compile_(ad.grad(loss, argnums=tuple(range(len(flat)))))
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = grad(*flat)
            _sync(out["g"][0])

        return step, lambda: [float(out["g"][0].item())]

    def mlp(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        # the whole training step compiled: zero_grad, forward, backward, SGD update
        with ad.use_backend(backend):
            layers = [
                (ad.nn.Parameter(ad.tensor(w.copy())), ad.nn.Parameter(ad.tensor(b.copy())))
                for w, b in d["layers"]
            ]
            x = ad.tensor(d["x"])
            y = ad.tensor(d["y"])
        params = [p for pair in layers for p in pair]
        opt = ad.optim.SGD(params, lr=0.01)
        out: dict[str, Any] = {}

        @compile_
        def train(x: Any, y: Any) -> Any:
            opt.zero_grad()
            h = x
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                if i < len(layers) - 1:
                    h = ad.relu(h)
            loss = ad.nn.cross_entropy(h, y)
            loss.backward()
            g = layers[0][0].grad
            opt.step()
            return g

        def step() -> None:
            out["g"] = train(x, y)
            for p in params:
                _sync(p)

        step.compiled = train  # type: ignore[attr-defined]
        return step, lambda: out["g"].numpy()[100, :3].astype(float).tolist()

    def w4(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        with ad.use_backend(backend):
            a = ad.tensor(d["a"])
            b = ad.tensor(d["b"])

        def loss(a: Any, b: Any) -> Any:
            c = a @ b
            return (c * c).sum()

        grad = compile_(ad.grad(loss, argnums=(0, 1)))
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = grad(a, b)
            _sync(out["g"][0])
            _sync(out["g"][1])

        step.compiled = grad  # type: ignore[attr-defined]
        return step, lambda: [float(out["g"][0].numpy()[0, 0]), float(out["g"][1].numpy()[0, 0])]

    def w5(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        with ad.use_backend(backend):
            x = ad.tensor(d["x"], dtype=_f64(ad))

        def chain(t: Any) -> Any:
            for _ in range(d["n"]):
                t = t * 0.999 + 0.001
            return t

        grad = compile_(ad.grad(chain))
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = grad(x)
            _sync(out["g"])

        return step, lambda: [float(out["g"].item())]

    return {"W1": w1, "W2": w2, "W3": mlp, "W4": w4, "W5": w5, "W6": mlp}


def _sync(t: Any) -> None:
    t.backend.synchronize(t.data)


def _f64(ad: Any) -> Any:
    b = ad.get_backend()
    return ad.float64 if b.supports(ad.float64) else ad.float32


# -- PyTorch -------------------------------------------------------------------------


def torch_builders() -> dict[str, Builder]:
    import torch

    torch.set_num_threads(2)

    def w1(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        x = torch.tensor(d["x"], requires_grad=True)

        def step() -> None:
            x.grad = None
            y = x
            for _ in range(W1_TRIPLES):
                y = torch.tanh(y * 1.0001 + 0.001)
            y.sum().backward()

        return step, lambda: x.grad[:3].tolist()

    def w2(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        params = [
            (
                [[torch.tensor(v, requires_grad=True) for v in row] for row in w],
                [torch.tensor(v, requires_grad=True) for v in b],
            )
            for w, b in d["layers"]
        ]
        xs = [[torch.tensor(v) for v in row] for row in d["x"]]
        ys = [torch.tensor(v) for v in d["y"]]
        first = params[0][0][0][0]

        def step() -> None:
            for w, b in params:
                for p in [*b, *(q for row in w for q in row)]:
                    p.grad = None
            total = None
            for xrow, yv in zip(xs, ys):
                h = xrow
                for li, (w, b) in enumerate(params):
                    nxt = []
                    for j in range(len(b)):
                        acc = b[j]
                        for i in range(len(h)):
                            acc = acc + h[i] * w[i][j]
                        nxt.append(torch.relu(acc) if li < len(params) - 1 else acc)
                    h = nxt
                err = (h[0] - yv) * (h[0] - yv)
                total = err if total is None else total + err
            total.backward()

        return step, lambda: [float(first.grad)]

    def mlp(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        layers = [
            (torch.tensor(w.copy(), requires_grad=True), torch.tensor(b.copy(), requires_grad=True))
            for w, b in d["layers"]
        ]
        x = torch.tensor(d["x"])
        y = torch.tensor(d["y"])
        opt = torch.optim.SGD([p for pair in layers for p in pair], lr=0.01)
        out: dict[str, Any] = {}

        def step() -> None:
            opt.zero_grad()
            h = x
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                if i < len(layers) - 1:
                    h = torch.relu(h)
            torch.nn.functional.cross_entropy(h, y).backward()
            out["g"] = layers[0][0].grad.clone()
            opt.step()

        return step, lambda: out["g"][100, :3].tolist()

    def w4(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        a = torch.tensor(d["a"], requires_grad=True)
        b = torch.tensor(d["b"], requires_grad=True)

        def step() -> None:
            a.grad = None
            b.grad = None
            c = a @ b
            (c * c).sum().backward()

        return step, lambda: [float(a.grad[0, 0]), float(b.grad[0, 0])]

    def w5(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        x = torch.tensor(d["x"], dtype=torch.float64, requires_grad=True)

        def step() -> None:
            x.grad = None
            y = x
            for _ in range(d["n"]):
                y = y * 0.999 + 0.001
            y.backward()

        return step, lambda: [float(x.grad)]

    return {"W1": w1, "W2": w2, "W3": mlp, "W4": w4, "W5": w5, "W6": mlp}


# -- JAX with jit -------------------------------------------------------------------------


def jax_builders() -> dict[str, Builder]:
    """JAX, each step's gradient function compiled with ``jax.jit`` (float64 enabled)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def w1(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        x = jnp.asarray(d["x"])

        def f(t: Any) -> Any:
            for _ in range(W1_TRIPLES):
                t = jnp.tanh(t * 1.0001 + 0.001)
            return t.sum()

        grad = jax.jit(jax.grad(f))
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = grad(x).block_until_ready()

        return step, lambda: [float(v) for v in out["g"][:3]]

    def mlp(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        params = [jnp.asarray(a.copy()) for w, b in d["layers"] for a in (w, b)]
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])

        def loss(ps: Any) -> Any:
            h = x
            for i in range(0, len(ps), 2):
                h = h @ ps[i] + ps[i + 1]
                if i < len(ps) - 2:
                    h = jax.nn.relu(h)
            logp = jax.nn.log_softmax(h, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

        @jax.jit
        def update(ps: Any) -> Any:
            gs = jax.grad(loss)(ps)
            return [p - 0.01 * g for p, g in zip(ps, gs)], gs[0]

        state: dict[str, Any] = {"ps": params}

        def step() -> None:
            state["ps"], g = update(state["ps"])
            state["g"] = g.block_until_ready()

        return step, lambda: [float(v) for v in state["g"][100, :3]]

    def w4(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        a, b = jnp.asarray(d["a"]), jnp.asarray(d["b"])
        grad = jax.jit(jax.grad(lambda a, b: ((a @ b) ** 2).sum(), argnums=(0, 1)))
        out: dict[str, Any] = {}

        def step() -> None:
            ga, gb = grad(a, b)
            out["g"] = (ga.block_until_ready(), gb.block_until_ready())

        return step, lambda: [float(out["g"][0][0, 0]), float(out["g"][1][0, 0])]

    # W2 (a 4-16-16-1 network scalar by scalar) and W5 (20,000 chained ops) make programs
    # that jit takes minutes to compile, or cannot (the table): not run
    return {"W1": w1, "W3": mlp, "W4": w4, "W6": mlp}


# -- MyGrad ---------------------------------------------------------------------------------


def mygrad_builders() -> dict[str, Builder]:
    import mygrad as mg

    def w1(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        x = mg.tensor(d["x"])

        def step() -> None:
            y = x
            for _ in range(W1_TRIPLES):
                y = mg.tanh(y * 1.0001 + 0.001)
            y.sum().backward()

        return step, lambda: [float(v) for v in x.grad[:3]]

    def mlp(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        params = [mg.tensor(a.copy()) for w, b in d["layers"] for a in (w, b)]
        x, y = d["x"], d["y"]
        out: dict[str, Any] = {}

        def step() -> None:
            h = x
            for i in range(0, len(params), 2):
                h = mg.matmul(h, params[i]) + params[i + 1]
                if i < len(params) - 2:
                    h = mg.maximum(h, 0)
            shifted = h - mg.max(h, axis=1, keepdims=True)
            logp = shifted - mg.log(mg.sum(mg.exp(shifted), axis=1, keepdims=True))
            loss = -mg.mean(logp[np.arange(len(y)), y])
            loss.backward()
            out["g"] = params[0].grad.copy()
            for p in params:
                p.data -= 0.01 * p.grad  # MyGrad's documented in-place update of .data

        return step, lambda: out["g"][100, :3].astype(float).tolist()

    def w4(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        a, b = mg.tensor(d["a"]), mg.tensor(d["b"])

        def step() -> None:
            c = mg.matmul(a, b)
            (c * c).sum().backward()

        return step, lambda: [float(a.grad[0, 0]), float(b.grad[0, 0])]

    def w5(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        x = mg.tensor(d["x"])

        def step() -> None:
            y = x
            for _ in range(d["n"]):
                y = y * 0.999 + 0.001
            y.backward()

        return step, lambda: [float(x.grad)]

    return {"W1": w1, "W3": mlp, "W4": w4, "W5": w5, "W6": mlp}


# -- MLX's own mx.grad (the peer of autodiff's MLX backend) ------------------------------------


def mlx_builders() -> dict[str, Builder]:
    import mlx.core as mx

    def w1(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        x = mx.array(d["x"].astype(np.float32))

        def f(t: Any) -> Any:
            for _ in range(W1_TRIPLES):
                t = mx.tanh(t * 1.0001 + 0.001)
            return t.sum()

        grad = mx.grad(f)
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = grad(x)
            mx.eval(out["g"])

        return step, lambda: np.array(out["g"][:3]).astype(float).tolist()

    def mlp(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        params = [mx.array(a.copy()) for w, b in d["layers"] for a in (w, b)]
        x, y = mx.array(d["x"]), mx.array(d["y"])

        def loss(ps: Any) -> Any:
            h = x
            for i in range(0, len(ps), 2):
                h = h @ ps[i] + ps[i + 1]
                if i < len(ps) - 2:
                    h = mx.maximum(h, 0)
            logp = h - mx.logsumexp(h, axis=1, keepdims=True)
            return -mx.mean(mx.take_along_axis(logp, y[:, None], axis=1))

        grad = mx.grad(loss)
        state: dict[str, Any] = {"ps": params}

        def step() -> None:
            gs = grad(state["ps"])
            state["ps"] = [p - 0.01 * g for p, g in zip(state["ps"], gs)]
            state["g"] = gs[0]
            mx.eval(state["ps"], state["g"])

        return step, lambda: np.array(state["g"][100, :3]).astype(float).tolist()

    def w4(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        a, b = mx.array(d["a"]), mx.array(d["b"])
        grad = mx.grad(lambda a, b: ((a @ b) * (a @ b)).sum(), argnums=(0, 1))
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = grad(a, b)
            mx.eval(out["g"])

        return step, lambda: [float(out["g"][0][0, 0]), float(out["g"][1][0, 0])]

    def w5(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        x = mx.array(np.float32(d["x"]))

        def f(t: Any) -> Any:
            for _ in range(d["n"]):
                t = t * 0.999 + 0.001
            return t

        grad = mx.grad(f)
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = grad(x)
            mx.eval(out["g"])

        return step, lambda: [float(out["g"].item())]

    return {"W1": w1, "W3": mlp, "W4": w4, "W5": w5, "W6": mlp}


# -- micrograd (scalars only) ----------------------------------------------------------


def micrograd_builders() -> dict[str, Builder]:
    from micrograd.engine import Value

    def w2(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        params = [
            ([[Value(float(v)) for v in row] for row in w], [Value(float(v)) for v in b])
            for w, b in d["layers"]
        ]
        xs = [[float(v) for v in row] for row in d["x"]]
        ys = [float(v) for v in d["y"]]
        first = params[0][0][0][0]

        def step() -> None:
            for w, b in params:
                for p in [*b, *(q for row in w for q in row)]:
                    p.grad = 0.0
            total = None
            for xrow, yv in zip(xs, ys):
                h: list[Any] = xrow
                for li, (w, b) in enumerate(params):
                    nxt = []
                    for j in range(len(b)):
                        acc = b[j]
                        for i in range(len(h)):
                            acc = acc + w[i][j] * h[i]
                        nxt.append(acc.relu() if li < len(params) - 1 else acc)
                    h = nxt
                err = (h[0] - yv) * (h[0] - yv)
                total = err if total is None else total + err
            total.backward()

        return step, lambda: [float(first.grad)]

    return {"W2": w2}


# -- HIPS autograd ---------------------------------------------------------------------


def hips_builders() -> dict[str, Builder]:
    import autograd.numpy as anp
    from autograd import grad

    def w1(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        def f(x: Any) -> Any:
            y = x
            for _ in range(W1_TRIPLES):
                y = anp.tanh(y * 1.0001 + 0.001)
            return anp.sum(y)

        g = grad(f)
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = g(d["x"])

        return step, lambda: out["g"][:3].tolist()

    def w4(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        g = grad(lambda a, b: anp.sum(anp.dot(a, b) ** 2), argnum=(0, 1))
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = g(d["a"], d["b"])

        return step, lambda: [float(out["g"][0][0, 0]), float(out["g"][1][0, 0])]

    def w5(d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], list[float]]]:
        def f(x: Any) -> Any:
            for _ in range(d["n"]):
                x = x * 0.999 + 0.001
            return x

        g = grad(f)
        out: dict[str, Any] = {}

        def step() -> None:
            out["g"] = g(d["x"])

        return step, lambda: [float(out["g"])]

    return {"W1": w1, "W4": w4, "W5": w5}


NUMPY: dict[str, Builder] = {
    "W1": numpy_w1,
    "W3": numpy_mlp,
    "W4": numpy_w4,
    "W5": numpy_w5,
    "W6": numpy_mlp,
}


def builders(system: str) -> dict[str, Builder]:
    """The workloads a system implements."""
    if system == "numpy":
        return NUMPY
    if system.startswith("autodiff-"):
        return autodiff_builders(system.split("-", 1)[1])
    if system.startswith("compiled-"):
        return compiled_builders(system.split("-", 1)[1])
    if system == "jax":
        return jax_builders()
    if system == "mygrad":
        return mygrad_builders()
    if system == "mx.grad":
        return mlx_builders()
    if system == "torch":
        return torch_builders()
    if system == "micrograd":
        return micrograd_builders()
    if system == "autograd":
        return hips_builders()
    raise ValueError(f"unknown system {system!r}")
