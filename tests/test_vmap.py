"""``ad.vmap``: JAX's semantics checked against a Python loop over the examples,
per-example gradients against a loop and against ``torch.func``, and composition with
``grad``, ``jacobian``, ``jvp``, ``compile``, ``custom_vjp`` and ``nn`` models.

Which primitives have a batching rule changes as rules are added: the tests of
semantics ignore ``VmapFallbackWarning`` (the result must be right either way); the
fallback itself is tested on a primitive of this file that has no rule.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.engine import Primitive, apply1
from tests.conftest import make, rtol

F = ad.nn.functional


@pytest.fixture(autouse=True)
def _quiet_fallback() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.VmapFallbackWarning)
        yield


def close(a: Any, b: Any, tol: float | None = None) -> None:
    a = a.numpy() if isinstance(a, ad.Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, ad.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    t = rtol(1e-10) if tol is None else tol
    np.testing.assert_allclose(a, b, rtol=t, atol=t)


def loop(f: Callable[..., Any], *args: Any, axes: Any = None) -> Any:
    """``f`` on each example (axis 0, or per-argument ``axes``), stacked on axis 0."""
    axes = axes or (0,) * len(args)
    n = next(a.shape[ax] for a, ax in zip(args, axes) if ax is not None)
    outs = []
    for i in range(n):
        ex = [a if ax is None else a[(slice(None),) * ax + (i,)] for a, ax in zip(args, axes)]
        outs.append(f(*ex))
    return ad.stack(outs, axis=0)


# -- semantics against a loop ---------------------------------------------------------

UNARY: list[tuple[str, Callable[[Any], Any]]] = [
    ("exp", ad.exp),
    ("sin_tanh", lambda x: ad.sin(x) * ad.tanh(x)),
    ("square", lambda x: x * x),
    ("relu", ad.relu),
    ("sqrt_abs", lambda x: ad.sqrt(ad.abs(x) + 1.0)),
    ("pow", lambda x: x**3 - 2.0 / (1.0 + x * x)),
    ("sum_axis", lambda x: ad.sum(x, axis=-1)),
    ("mean", lambda x: ad.mean(x)),
    ("max", lambda x: ad.max(x, axis=0)),
    ("reshape", lambda x: ad.reshape(x, (-1,))),
    ("transpose", lambda x: x.T),
    ("getitem", lambda x: x[1:, ::2]),
    ("getitem_int", lambda x: x[0]),
    ("matmul_self", lambda x: x @ x.T),
    ("softmax", lambda x: F.softmax(x, axis=-1)),
    ("logsumexp", lambda x: ad.log(ad.sum(ad.exp(x), axis=0))),
    ("where", lambda x: ad.where(x > 0, x, 0.1 * x)),
    ("concat", lambda x: ad.concat([x, 2 * x], axis=0)),
    ("stack", lambda x: ad.stack([x, x + 1], axis=1)),
    ("cumsum", lambda x: ad.cumulative_sum(x, axis=1)),
    ("sort", lambda x: ad.sort(x, axis=-1)),
    ("sort_axis0_desc", lambda x: ad.sort(x, axis=0, descending=True)),
    ("expand", lambda x: ad.expand_dims(x, axis=1) * ad.ones((1, 2, 1))),
    ("len_iter", lambda x: sum(r * k for k, r in enumerate(x)) + len(x)),
]


@pytest.mark.parametrize(("name", "f"), UNARY, ids=[n for n, _ in UNARY])
def test_matches_a_loop(name: str, f: Callable[[Any], Any], rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(4, 3, 5)))
    close(ad.vmap(f)(x), loop(f, x))


def test_per_example_shape_is_seen(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(4, 3, 5)))
    seen = []

    def f(r: Any) -> Any:
        seen.append((r.shape, r.ndim, r.size, len(r), r.dtype))
        return r

    ad.vmap(f)(x)
    assert seen == [((3, 5), 2, 15, 3, x.dtype)]


def test_linalg_matches_a_loop(backend: ad.Backend, rng: np.random.Generator) -> None:
    if "linalg" not in backend.extensions:
        pytest.skip("no linalg extension")
    a = rng.normal(size=(3, 4, 4)) + 4 * np.eye(4)
    A, b = make(a), make(rng.normal(size=(3, 4)))
    f = lambda m, v: ad.linalg.solve(m, v[:, None])[:, 0] + ad.linalg.det(m)  # noqa: E731
    close(ad.vmap(f)(A, b), loop(f, A, b), rtol(1e-8))


def test_binary_broadcasting_and_axes(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(4, 3)))
    y = make(rng.normal(size=(3, 4)))  # batch along axis 1
    w = make(rng.normal(size=(3,)))
    f = lambda a, b, c: a * b + c  # noqa: E731
    got = ad.vmap(f, in_axes=(0, 1, None))(x, y, w)
    close(got, loop(f, x, y, w, axes=(0, 1, None)))
    got = ad.vmap(f, in_axes=(0, -1, None))(x, y, w)
    close(got, loop(f, x, y, w, axes=(0, 1, None)))


def test_matmul_batched_and_unbatched(rng: np.random.Generator) -> None:
    X = make(rng.normal(size=(5, 2, 3)))
    W = make(rng.normal(size=(3, 4)))
    V = make(rng.normal(size=(5, 3, 4)))
    close(ad.vmap(lambda x: x @ W)(X), loop(lambda x: x @ W, X))
    close(ad.vmap(lambda x, v: x @ v)(X, V), loop(lambda x, v: x @ v, X, V))
    close(ad.vmap(lambda w, x: w.T @ x[0], in_axes=(None, 0))(W, X), loop(lambda x: W.T @ x[0], X))
    # contraction of size 1 (outer products, as per-example weight gradients are)
    outer = lambda x: x[:, :1] @ x[:1, :]  # noqa: E731
    close(ad.vmap(outer)(X), loop(outer, X))
    u = make(rng.normal(size=(1,)))
    V = make(rng.normal(size=(5, 1, 4)))
    close(ad.vmap(lambda v: u @ v)(V), loop(lambda v: u @ v, V))
    close(ad.vmap(lambda v: v.T @ u)(V), loop(lambda v: v.T @ u, V))


def test_pytrees_in_and_out(rng: np.random.Generator) -> None:
    a = make(rng.normal(size=(3, 2)))
    b = make(rng.normal(size=(2, 3)))
    c = make(rng.normal(size=(2,)))

    def f(d: dict[str, Any], pair: tuple[Any, Any]) -> dict[str, Any]:
        return {"s": d["a"] * pair[0], "t": (d["b"].sum(), pair[1])}

    out = ad.vmap(f, in_axes=({"a": 0, "b": 1}, (None, None)), out_axes={"s": 1, "t": (0, None)})(
        {"a": a, "b": b}, (c, c)
    )
    close(out["s"], ad.stack([a[i] * c for i in range(3)], axis=1))
    close(out["t"][0], ad.stack([b[:, i].sum() for i in range(3)]))
    close(out["t"][1], c)  # unbatched output, out_axes None: as it is


def test_out_axes_negative_and_unbatched_output(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(3, 2, 4)))
    got = ad.vmap(lambda r: r * 2, out_axes=-1)(x)
    close(got, ad.moveaxis(x * 2, 0, -1))
    w = make(rng.normal(size=(2,)))
    got = ad.vmap(lambda r: w, in_axes=0, out_axes=1)(x)  # broadcast along the new axis
    close(got, ad.stack([w, w, w], axis=1))


def test_nesting_gives_an_outer_product(rng: np.random.Generator) -> None:
    u, v = make(rng.normal(size=(3,))), make(rng.normal(size=(4,)))
    got = ad.vmap(ad.vmap(lambda a, b: a * b + ad.sin(a), in_axes=(None, 0)), in_axes=(0, None))(
        u, v
    )
    want = u[:, None] * v[None, :] + ad.sin(u)[:, None]
    close(got, want)
    x = make(rng.normal(size=(2, 3, 4)))
    f = lambda r: ad.sum(r * r)  # noqa: E731
    close(ad.vmap(ad.vmap(f))(x), ad.sum(x * x, axis=-1))
    close(ad.vmap(ad.vmap(f, in_axes=1), in_axes=2)(x), ad.sum(x * x, axis=0).T)


def test_axis_size_and_kwargs(rng: np.random.Generator) -> None:
    w = make(rng.normal(size=(2,)))
    out = ad.vmap(lambda: w * 2, axis_size=3)()
    close(out, ad.stack([w * 2] * 3))
    out = ad.vmap(lambda v: v + 1, in_axes=None, axis_size=2)(w)
    close(out, ad.stack([w + 1] * 2))
    x = make(rng.normal(size=(3, 2)))
    close(ad.vmap(lambda r, *, scale: r * scale)(x, scale=w), x * w)


def test_zero_size_batch_with_rules() -> None:
    x = make(np.zeros((0, 3)))
    assert ad.vmap(lambda r: r + 1.0)(x).shape == (0, 3)


# -- errors ---------------------------------------------------------------------------


def test_bad_axes_and_sizes_are_clear(rng: np.random.Generator) -> None:
    x, y = make(rng.normal(size=(3, 2))), make(rng.normal(size=(4, 2)))
    with pytest.raises(ValueError, match="different sizes"):
        ad.vmap(lambda a, b: a + b)(x, y)
    with pytest.raises(ValueError, match="out of range"):
        ad.vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(ValueError, match="2 entries"):
        ad.vmap(lambda a: a, in_axes=(0, 0))(x)
    with pytest.raises(ValueError, match="axis_size"):
        ad.vmap(lambda a: a, in_axes=None)(x)
    with pytest.raises(ValueError, match="axis_size=5"):
        ad.vmap(lambda a: a, axis_size=5)(x)
    with pytest.raises(ValueError, match="Python scalar"):
        ad.vmap(lambda a, s: a * s)(x, 2.0)
    with pytest.raises(ValueError, match="out_axes is None"):
        ad.vmap(lambda a: a, out_axes=None)(x)
    with pytest.raises(ValueError, match="out_axes 3 is out of range"):
        ad.vmap(lambda a: a, out_axes=3)(x)
    with pytest.raises(TypeError, match="ints or None"):
        ad.vmap(lambda a: a, in_axes=0.5)
    with pytest.raises(ValueError, match="does not match"):
        ad.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": x})


@pytest.mark.parametrize(
    "use",
    [
        lambda r: r.data,
        lambda r: float(r.sum()),
        lambda r: r.sum().item(),
        lambda r: r.tolist(),
        lambda r: r + 1 if r.sum() > 0 else r,
        lambda r: np.asarray(r),
        lambda r: r.numpy(),
    ],
    ids=["data", "float", "item", "tolist", "if", "asarray", "numpy"],
)
def test_reading_data_raises(use: Callable[[Any], Any], rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(3, 2)))
    with pytest.raises(RuntimeError, match="vmap runs the function once"):
        ad.vmap(use)(x)


def test_a_leaked_batched_value_raises(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(3, 2)))
    kept = []
    ad.vmap(lambda r: kept.append(r * 2) or r)(x)
    with pytest.raises(RuntimeError, match="finished"):
        kept[0] + 1
    with pytest.raises(RuntimeError, match="finished"):
        kept[0].data
    assert "finished" in repr(kept[0])


def test_batched_indices_and_embeddings(fdtype: ad.DType, rng: np.random.Generator) -> None:
    emb = ad.nn.Embedding(10, 3, dtype=fdtype)
    idx = ad.asarray(rng.integers(-10, 10, (5, 2)), dtype=ad.int64)
    pos = idx % 10
    close(ad.vmap(emb)(pos), ad.stack([emb(pos[i]) for i in range(5)]), rtol(1e-12))
    w = ad.asarray(rng.normal(size=(10,)), dtype=fdtype)
    take = lambda i: ad.take(w, i, axis=0)  # noqa: E731
    close(ad.vmap(take)(idx), loop(take, idx), rtol(1e-12))  # negative indices too
    with pytest.raises(IndexError, match="out of range"):
        ad.vmap(take)(idx + 10)
    # per-example gradients of an embedding table
    g = ad.vmap(ad.grad(lambda w, i: ad.sum(ad.take(w, i, axis=0) ** 2)), in_axes=(None, 0))(w, idx)
    close(g, loop(lambda i: ad.grad(lambda w: ad.sum(ad.take(w, i, axis=0) ** 2))(w), idx))


def test_take_along_axis_and_sort_with_batched_indices(rng: np.random.Generator) -> None:
    X = make(rng.normal(size=(4, 3, 5)))
    idx = ad.asarray(rng.integers(-5, 5, (4, 3, 2)), dtype=ad.int64)
    f = lambda r, i: ad.take_along_axis(r, i, axis=1)  # noqa: E731
    close(ad.vmap(f)(X, idx), loop(f, X, idx))
    close(ad.vmap(f, in_axes=(None, 0))(X[0], idx), loop(lambda i: f(X[0], i), idx))
    with pytest.raises(IndexError, match="out of range"):
        ad.vmap(f)(X, idx + 5)
    # per-example gradients through a sort (argsort + take_along_axis)
    w = make(rng.normal(size=(5,)))
    loss = lambda r: ad.sum(ad.sort(r, axis=-1) * w)  # noqa: E731
    close(ad.vmap(ad.grad(loss))(X), loop(ad.grad(loss), X))


def test_data_dependent_shapes_raise(rng: np.random.Generator) -> None:
    # nonzero and unique: the output's shape depends on each example's data
    x = make(rng.normal(size=(3, 4)))
    with pytest.raises(RuntimeError, match="cannot read .data of a batched value"):
        ad.vmap(lambda r: ad.nonzero(r > 0)[0])(x)


def test_backward_inside_vmap_is_refused(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(3, 2)))
    w = make(rng.normal(size=(2,)), requires_grad=True)
    with pytest.raises(RuntimeError, match="per-example gradients"):
        ad.vmap(lambda r: (r * w).sum().backward())(x)


# -- in-place writes -----------------------------------------------------------------


def test_inplace_writes_are_batched(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(4, 3)))

    def f(r: Any) -> Any:
        y = r * 1.0
        y[1] = r[0] * 10
        y += r
        y *= 2.0
        y[::2] = 0.5
        return y

    close(ad.vmap(f)(x), loop(f, x))


def test_inplace_writes_with_array_keys(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(4, 3, 5)))
    idx = make(np.array([3, 0, 3]), dtype=ad.int64)  # repeated: the last write wins
    mask = make(rng.normal(size=(5,)) > 0, dtype=ad.bool)

    def f(r: Any) -> Any:
        y = r * 1.0
        y[:, idx] = ad.reshape(ad.arange(9.0, dtype=r.dtype), (3, 3))
        y[1, mask] = -1.0
        return y

    close(ad.vmap(f)(x), loop(f, x))
    g = lambda r: ad.sum(f(r) * r)  # noqa: E731
    close(ad.vmap(ad.grad(g))(x), loop(ad.grad(g), x))


def test_inplace_write_keeps_earlier_gradients(rng: np.random.Generator) -> None:
    X = make(rng.normal(size=(4, 3)))
    w = make(rng.normal(size=(3,)))

    def loss(w: Any, r: Any) -> Any:
        y = r * 1.0
        h = (w * y).sum()  # uses y before the write
        y += 5.0
        return h * (y * y).sum()

    close(ad.vmap(ad.grad(loss), in_axes=(None, 0))(w, X), loop(lambda r: ad.grad(loss)(w, r), X))


def test_inplace_writes_that_cannot_be_batched_raise(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(4, 3)))
    with pytest.raises(RuntimeError, match="argument of the vmapped function"):
        ad.vmap(lambda r: r.__setitem__(0, 1.0))(x)

    def view_write(r: Any) -> Any:
        y = r * 1.0
        v = y[1:]
        v[0] = 3.0  # NumPy would write into y as well
        return y

    with pytest.raises(RuntimeError, match="view"):
        ad.vmap(view_write)(x)


# -- the fallback ----------------------------------------------------------------------

_twice = Primitive(
    "test_vmap_twice",
    lambda xp, a: a * 2,
    vjps=(lambda xp, g, ans, a: g * 2,),
)


def test_fallback_loops_warns_and_differentiates(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(3, 2)))
    f = lambda r: apply1(_twice, r) + apply1(_twice, r)  # noqa: E731
    with pytest.warns(ad.VmapFallbackWarning, match="test_vmap_twice") as record:
        out = ad.vmap(f)(x)
    assert len([w for w in record if issubclass(w.category, ad.VmapFallbackWarning)]) == 1
    close(out, x * 4)
    with pytest.warns(ad.VmapFallbackWarning):
        g = ad.vmap(ad.grad(lambda r: (apply1(_twice, r) * r).sum()))(x)
    close(g, x * 4)
    xg = make(rng.normal(size=(3, 2)), requires_grad=True)
    with pytest.warns(ad.VmapFallbackWarning):
        g = ad.grad(lambda t: ad.vmap(lambda r: apply1(_twice, r).sum())(t).sum())(xg)
    close(g, ad.full_like(xg, 2.0))


# -- per-example gradients of nn models -----------------------------------------------


def _mlp(dtype: ad.DType) -> ad.nn.Module:
    return ad.nn.Sequential(
        ad.nn.Linear(4, 8, dtype=dtype), ad.nn.Tanh(), ad.nn.Linear(8, 3, dtype=dtype)
    )


def _cnn(dtype: ad.DType) -> ad.nn.Module:
    return ad.nn.Sequential(
        ad.nn.Conv2d(1, 2, 3, padding=1, dtype=dtype),
        ad.nn.ReLU(),
        ad.nn.MaxPool2d(2),
        ad.nn.Flatten(),
        ad.nn.Linear(2 * 4 * 4, 3, dtype=dtype),
    )


def _data(kind: str, dtype: ad.DType, rng: np.random.Generator) -> tuple[Any, Any]:
    shape = (6, 4) if kind == "mlp" else (5, 1, 8, 8)
    X = ad.asarray(rng.normal(size=shape), dtype=dtype)
    y = ad.asarray(rng.integers(0, 3, shape[0]), dtype=ad.int64)
    return X, y


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_per_example_grads_match_a_loop(
    kind: str, fdtype: ad.DType, rng: np.random.Generator
) -> None:
    model = _mlp(fdtype) if kind == "mlp" else _cnn(fdtype)
    X, y = _data(kind, fdtype, rng)
    got = ad.func.per_example_grads(model, F.cross_entropy, X, y)
    params = {n: p.detach() for n, p in model.named_parameters()}
    assert set(got) == set(params)

    def loss(p: Any, x: Any, t: Any) -> Any:
        return F.cross_entropy(ad.func.functional_call(model, p, x), t)

    for i in range(X.shape[0]):
        want = ad.grad(loss)(params, X[i : i + 1], y[i : i + 1])
        for n in params:
            close(got[n][i], want[n], rtol(1e-9))
    # the recipe spelled out: vmap(grad) with the parameters unbatched
    again = ad.vmap(ad.grad(lambda p, x, t: loss(p, x[None], t[None])), in_axes=(None, 0, 0))(
        params, X, y
    )
    for n in params:
        close(again[n], got[n])


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_per_example_grads_match_torch_func(
    kind: str, fdtype: ad.DType, rng: np.random.Generator
) -> None:
    torch = pytest.importorskip("torch")
    model = _mlp(fdtype) if kind == "mlp" else _cnn(fdtype)
    X, y = _data(kind, fdtype, rng)
    got = ad.func.per_example_grads(model, F.cross_entropy, X, y)
    tdt = torch.float64 if fdtype == ad.float64 else torch.float32
    if kind == "mlp":
        tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    else:
        tm = torch.nn.Sequential(
            torch.nn.Conv2d(1, 2, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(32, 3),
        )
    tp = {n: torch.tensor(np.asarray(p.numpy()), dtype=tdt) for n, p in model.named_parameters()}
    assert set(tp) == {n for n, _ in tm.named_parameters()}

    def tloss(p: Any, x: Any, t: Any) -> Any:
        out = torch.func.functional_call(tm, p, (x.unsqueeze(0),))
        return torch.nn.functional.cross_entropy(out, t.unsqueeze(0))

    tX = torch.tensor(np.asarray(X.numpy()), dtype=tdt)
    ty = torch.tensor(np.asarray(y.numpy()))
    want = torch.func.vmap(torch.func.grad(tloss), in_dims=(None, 0, 0))(tp, tX, ty)
    for n in tp:
        close(got[n], want[n].numpy(), rtol(1e-9))


def test_ensemble_with_stacked_parameters(fdtype: ad.DType, rng: np.random.Generator) -> None:
    models = [_mlp(fdtype) for _ in range(3)]
    stacked = ad.func.stack_module_state(models)
    assert stacked["0.weight"].shape == (3, 8, 4)
    x = ad.asarray(rng.normal(size=(5, 4)), dtype=fdtype)
    out = ad.vmap(lambda p, x: ad.func.functional_call(models[0], p, x), in_axes=(0, None))(
        stacked, x
    )
    close(out, ad.stack([m(x) for m in models]), rtol(1e-9))
    # the models themselves are unchanged
    close(models[0](x), out[0], rtol(1e-9))
    # each model's gradient, in one pass
    y = ad.asarray(rng.integers(0, 3, 5), dtype=ad.int64)
    grads = ad.vmap(
        ad.grad(lambda p: F.cross_entropy(ad.func.functional_call(models[0], p, x), y))
    )(stacked)
    for k, m in enumerate(models):
        p = {n: t.detach() for n, t in m.named_parameters()}
        want = ad.grad(lambda p, m=m: F.cross_entropy(ad.func.functional_call(m, p, x), y))(p)
        for n in p:
            close(grads[n][k], want[n], rtol(1e-9))


def test_func_errors_are_clear(fdtype: ad.DType) -> None:
    m = _mlp(fdtype)
    with pytest.raises(KeyError, match="no parameter"):
        ad.func.functional_call(m, {"0.wieght": ad.zeros((8, 4))}, ad.zeros((1, 4)))
    with pytest.raises(ValueError, match="one architecture"):
        ad.func.stack_module_state([m, ad.nn.Linear(4, 8)])


# -- composition ------------------------------------------------------------------------


def _loss(w: Any, x: Any) -> Any:
    return ad.sum(ad.tanh(x * w) ** 2) + ad.sum(w * w * x)


def test_grad_of_vmap_and_second_order(rng: np.random.Generator) -> None:
    w = make(rng.normal(size=(3,)))
    X = make(rng.normal(size=(4, 3)))
    g = ad.grad(lambda w: ad.vmap(_loss, in_axes=(None, 0))(w, X).sum())(w)
    close(g, sum(ad.grad(_loss)(w, X[i]) for i in range(4)))
    # through a batched input too
    gX = ad.grad(lambda X: ad.vmap(_loss, in_axes=(None, 0))(w, X).sum())(X)
    close(gX, loop(lambda x: ad.grad(_loss, argnums=1)(w, x), X))
    # grad of a function of per-example gradients (second order through vmap(grad))
    h = ad.grad(lambda w: ad.vmap(ad.grad(_loss), in_axes=(None, 0))(w, X).sum())(w)
    want = sum(ad.grad(lambda w, i=i: ad.grad(_loss)(w, X[i]).sum())(w) for i in range(4))
    close(h, want)


def test_jacobian_of_vmap_and_vmap_of_jacobian(rng: np.random.Generator) -> None:
    x = make(rng.normal(size=(3,)))
    close(ad.jacobian(ad.vmap(ad.sin))(x), ad.cos(x)[:, None] * ad.eye(3, dtype=x.dtype))
    X = make(rng.normal(size=(4, 3)))
    f = lambda r: r * ad.sum(r * r)  # noqa: E731
    close(ad.vmap(ad.jacobian(f))(X), loop(ad.jacobian(f), X))
    # second order inside vmap: the rules' use of each node's output is recorded too
    g = lambda r: ad.sum(ad.exp(r) * ad.tanh(r))  # noqa: E731
    close(ad.vmap(ad.hessian(g))(X), loop(ad.hessian(g), X))
    gg = lambda r: ad.grad(lambda r: ad.grad(g)(r).sum())(r)  # noqa: E731
    close(ad.vmap(gg)(X), loop(gg, X))


def test_jvp_and_vmap_compose(rng: np.random.Generator) -> None:
    X = make(rng.normal(size=(4, 3)))
    T = make(rng.normal(size=(4, 3)))
    f = lambda r: ad.sin(r) * ad.sum(r)  # noqa: E731
    got = ad.vmap(lambda p, t: ad.jvp(f, (p,), (t,))[1])(X, T)
    close(got, loop(lambda p, t: ad.jvp(f, (p,), (t,))[1], X, T))
    out, tan = ad.jvp(ad.vmap(f), (X,), (T,))
    close(out, loop(f, X))
    close(tan, got)


def test_vmap_and_compile_compose(rng: np.random.Generator) -> None:
    w = make(rng.normal(size=(3,)))
    X = make(rng.normal(size=(4, 3)))
    pe = ad.vmap(ad.grad(_loss), in_axes=(None, 0))
    want = loop(lambda x: ad.grad(_loss)(w, x), X)
    close(ad.compile(pe)(w, X), want)
    close(ad.compile(lambda w, X: pe(w, X) * 2.0)(w, X), want * 2.0)
    # a compiled function called inside vmap
    inner = ad.compile(lambda r: ad.sin(r) * ad.sum(r))
    close(ad.vmap(inner)(X), loop(lambda r: ad.sin(r) * ad.sum(r), X))
    fast = ad.compile(pe)
    X2 = make(rng.normal(size=(4, 3)))
    close(fast(w, X2), loop(lambda x: ad.grad(_loss)(w, x), X2))


def test_vmap_of_custom_vjp(rng: np.random.Generator) -> None:
    @ad.custom_vjp
    def clipped(x: Any) -> Any:
        return x * x

    clipped.defvjp(lambda x: (x * x, x), lambda x, g: (ad.clip(2.0 * x * g, -1.0, 1.0),))
    X = make(rng.normal(size=(4, 3)) * 2)
    close(ad.vmap(clipped)(X), X * X)
    g = ad.vmap(ad.grad(lambda r: clipped(r).sum()))(X)
    close(g, ad.clip(2.0 * X, -1.0, 1.0))
    w = make(rng.normal(size=(3,)))
    g = ad.vmap(ad.grad(lambda w, r: clipped(w * r).sum()), in_axes=(None, 0))(w, X)
    close(g, loop(lambda r: ad.grad(lambda w: clipped(w * r).sum())(w), X))
    # from outside the vmap: bwd's gradient (clipped), not that of fwd's operations
    g = ad.grad(lambda w: ad.vmap(lambda r: clipped(w * r).sum())(X).sum())(w)
    want = sum(ad.grad(lambda w, i=i: clipped(w * X[i]).sum())(w) for i in range(4))
    close(g, want)
    gX = ad.grad(lambda X: ad.vmap(lambda r: clipped(w * r).sum())(X).sum())(X)
    close(gX, loop(lambda r: ad.grad(lambda r: clipped(w * r).sum())(r), X))


def test_the_docs_rule_table_is_current() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "gen_vmap_table.py"
    spec = importlib.util.spec_from_file_location("gen_vmap_table", path)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.table() in gen.PAGE.read_text(), (
        "docs/vmap.md's rule table is out of date: run python docs/gen_vmap_table.py"
    )


def test_the_rule_table_lists_built_in_primitives_only() -> None:
    # tests and users define primitives of their own; the docs table must not depend on
    # which of them ran earlier in the same process
    from autodiff import engine
    from autodiff.checks import rule_coverage

    before = rule_coverage()
    name = "test_vmap_user_primitive"
    engine.primitive(name, lambda xp, x: x)
    try:
        assert rule_coverage() == before
    finally:
        del engine.PRIMITIVES[name]


def test_grad_of_per_example_grads_keeps_the_outer_graph(
    fdtype: ad.DType, rng: np.random.Generator
) -> None:
    # vmap runs batching rules on raw arrays when the batches need no graph below it;
    # here the per-example gradients (w.r.t. p, watched inside vmap) depend on W, which
    # a gradient outside the vmap watches: its graph through the batches must be kept
    torch = pytest.importorskip("torch")
    p0 = rng.normal(size=3)
    w0 = rng.normal(size=(4, 3))
    x0 = rng.normal(size=(5, 4))
    bias0 = rng.normal(size=3)
    p, W, X, bias = (ad.asarray(a, dtype=fdtype) for a in (p0, w0, x0, bias0))

    def outer(W: Any, bias: Any) -> Any:
        def loss(p: Any, x: Any) -> Any:
            return (ad.tanh(x @ W + bias) * p).sum() ** 2

        per = ad.vmap(ad.grad(loss), in_axes=(None, 0))(p, X)
        return (per * per).sum()

    got = ad.grad(outer, argnums=(0, 1))(W, bias)
    tdt = torch.float64 if fdtype == ad.float64 else torch.float32
    tp, tW, tX, tb = (torch.tensor(a, dtype=tdt) for a in (p0, w0, x0, bias0))

    def touter(W: Any, bias: Any) -> Any:
        def loss(p: Any, x: Any) -> Any:
            return (torch.tanh(x @ W + bias) * p).sum() ** 2

        per = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0))(tp, tX)
        return (per * per).sum()

    want = torch.func.grad(touter, argnums=(0, 1))(tW, tb)
    assert float(np.abs(want[0].numpy()).max()) > 1e-3  # the test has something to lose
    for g, w in zip(got, want):
        close(g, w.numpy(), rtol(1e-9))
