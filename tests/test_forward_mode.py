"""Forward mode (``ad.jvp`` carrying tangents, ``autodiff._forward``): against central
finite differences, against the VJP by linearity, nested and composed with ``grad``,
``hessian``/``hvp`` against ``torch.func``, leaks, ``ad.compile`` and threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.engine import PRIMITIVES, Primitive
from autodiff.testing import check_grads, tolerances

from .conftest import make


def _host(t: Any) -> np.ndarray:
    return np.asarray(
        t.numpy(), dtype=np.complex128 if t.dtype.kind == "complex floating" else np.float64
    )


def _tol() -> tuple[float, float, float]:
    b = ad.get_backend()
    dt = ad.float64 if b.supports(ad.float64) and b.exact_float64 else ad.float32
    return tolerances(dt)


def _fd(f: Callable[..., Any], xs: list[Any], us: list[Any], eps: float) -> list[np.ndarray]:
    with ad.no_grad():
        plus = f(*[x + eps * u for x, u in zip(xs, us)])
        minus = f(*[x - eps * u for x, u in zip(xs, us)])
    plus = plus if isinstance(plus, tuple) else (plus,)
    minus = minus if isinstance(minus, tuple) else (minus,)
    return [(_host(p) - _host(m)) / (2 * eps) for p, m in zip(plus, minus)]


def _close(a: Any, b: Any, atol: float, rtol: float) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=rtol)


@contextmanager
def _no_jvp_rules() -> Iterator[None]:
    """Every primitive without its JVP rule: jvp takes tangents from the VJP rules."""
    saved = {p: p.jvp for p in PRIMITIVES.values()}
    try:
        for p in saved:
            p.jvp = None
        yield
    finally:
        for p, rule in saved.items():
            p.jvp = rule


def _mat(rng: np.random.Generator, n: int = 3) -> ad.Tensor:
    return make(rng.standard_normal((n, n)) + n * np.eye(n))


CASES: dict[str, tuple[Callable[..., Any], Callable[[np.random.Generator], list[Any]]]] = {
    "chain": (lambda x: ad.tanh(ad.sin(x) * ad.exp(x / 4)), lambda r: [make(r.standard_normal(5))]),
    "python_scalars": (
        lambda x: 2.0 * x**3 - 1 / (x + 3.0) + 2.0**x,
        lambda r: [make(r.random(4))],
    ),
    "broadcast": (
        lambda a, b: a * b + a / (b * b + 1),
        lambda r: [make(r.standard_normal((3, 1))), make(r.standard_normal(4))],
    ),
    "matmul_reduce": (
        lambda a, b: ad.sum(ad.tanh(a @ b), axis=0),
        lambda r: [make(r.standard_normal((3, 4))), make(r.standard_normal((4, 2)))],
    ),
    "indexing_shape": (
        lambda x: ad.concat([x[1:, :2].reshape((-1,)), ad.flip(x, axis=0)[0]]) ** 2,
        lambda r: [make(r.standard_normal((3, 3)))],
    ),
    "sort": (
        lambda x: ad.sort(x, axis=0, descending=True) * make([1.0, 2.0, 3.0, 4.0, 5.0]),
        lambda r: [make(r.standard_normal(5))],
    ),
    "where_max": (
        lambda x: ad.where(x > 0, x * x, ad.sin(x)) + ad.max(x),
        lambda r: [make(r.standard_normal(6))],
    ),
    "logsumexp_softmax": (
        lambda x: ad.log(ad.sum(ad.exp(x), axis=-1)) + ad.sqrt(ad.mean(x * x) + 1.0),
        lambda r: [make(r.standard_normal((2, 5)))],
    ),
    "linalg_solve_det": (
        lambda a, b: ad.linalg.solve(a, b) * ad.linalg.det(a),
        lambda r: [_mat(r), make(r.standard_normal((3, 2)))],
    ),
    "qr_two_outputs": (lambda a: ad.linalg.qr(a), lambda r: [_mat(r)]),
    "eigh_two_outputs": (
        lambda a: ad.linalg.eigh(a + ad.matrix_transpose(a))[0],
        lambda r: [_mat(r)],
    ),
    "complex_inside": (
        lambda x: ad.abs(ad.exp(1j * x) * (x + 2j)) + ad.real(ad.fft.fft(x * x)),
        lambda r: [make(r.standard_normal(4))],
    ),
}


def _needs(name: str) -> None:
    b = ad.get_backend()
    if name == "complex_inside" and not b.supports(ad.complex128) and make(0.0).dtype == ad.float64:
        pytest.skip(f"the {b.name} backend has float64 but no complex128")


@pytest.mark.parametrize("name", list(CASES))
def test_jvp_matches_finite_differences(name: str, rng: np.random.Generator) -> None:
    f, args = CASES[name]
    _needs(name)
    xs = args(rng)
    us = [make(rng.standard_normal(x.shape), dtype=x.dtype) for x in xs]
    eps, atol, rtol = _tol()
    out, tan = ad.jvp(f, tuple(xs), tuple(us))
    tans = tan if isinstance(tan, tuple) else (tan,)
    for t, n in zip(tans, _fd(f, xs, us, eps)):
        _close(_host(t), n, atol, rtol)
    with ad.no_grad():
        direct = f(*xs)
    for o, d in zip(
        out if isinstance(out, tuple) else (out,),
        direct if isinstance(direct, tuple) else (direct,),
    ):
        _close(_host(o), _host(d), 1e-12, 1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_jvp_rules_agree_with_the_vjp_by_linearity(name: str, rng: np.random.Generator) -> None:
    f, args = CASES[name]
    _needs(name)
    xs = args(rng)
    us = [make(rng.standard_normal(x.shape), dtype=x.dtype) for x in xs]
    _, tan = ad.jvp(f, tuple(xs), tuple(us))
    with _no_jvp_rules():
        _, lin = ad.jvp(f, tuple(xs), tuple(us))
    _, atol, rtol = _tol()
    for a, b in zip(
        tan if isinstance(tan, tuple) else (tan,), lin if isinstance(lin, tuple) else (lin,)
    ):
        _close(_host(a), _host(b), atol, rtol)


def test_fast_path_and_taped_path_agree(rng: np.random.Generator) -> None:
    f, args = CASES["matmul_reduce"]
    xs = args(rng)
    us = [make(rng.standard_normal(x.shape)) for x in xs]
    _, plain = ad.jvp(f, tuple(xs), tuple(us))
    watched = [x.detach().requires_grad_() for x in xs]
    _, taped = ad.jvp(f, tuple(watched), tuple(us))
    assert taped.requires_grad  # the tangent is a differentiable function of the primals
    _close(_host(plain), _host(taped), 1e-12, 1e-12)


def test_zero_tangents_integer_inputs_and_trees() -> None:
    def f(p: dict[str, Any], k: Any) -> dict[str, Any]:
        return {"y": p["a"] * p["b"] + k.astype(p["a"].dtype), "c": p["a"] * 0 + 1.0}

    p = {"a": make([1.0, 2.0]), "b": make([3.0, 4.0])}
    k = ad.asarray([1, 2])
    out, tan = ad.jvp(f, (p, k), ({"a": make([1.0, 1.0]), "b": None}, None))
    assert tan["y"].tolist() == [3.0, 4.0]
    assert tan["c"].tolist() == [0.0, 0.0]
    assert out["y"].tolist() == [4.0, 10.0]
    assert not out["y"].requires_grad and not tan["y"].requires_grad
    with pytest.raises(TypeError, match="floating"):
        ad.jvp(lambda k: k * 2, (k,), (k,))


def test_nested_jvp_is_the_second_directional_derivative(rng: np.random.Generator) -> None:
    x = make(rng.standard_normal(3))
    v = make(rng.standard_normal(3))

    def f(x: ad.Tensor) -> ad.Tensor:
        return ad.sum(ad.sin(x) * ad.exp(x[0]))

    def df(x: ad.Tensor) -> ad.Tensor:
        return ad.jvp(f, (x,), (v,))[1]

    _, d2 = ad.jvp(df, (x,), (v,))
    _, hv = ad.hvp(f, (x,), (v,))
    expected = float(np.sum(_host(hv[0]) * _host(v)))
    assert d2.item() == pytest.approx(
        expected, rel=1e-5 if not ad.get_backend().exact_float64 else 1e-10
    )
    # and against finite differences of the first jvp
    eps, atol, rtol = _tol()
    (n,) = _fd(df, [x], [v], eps)
    _close(d2.item(), n, atol, rtol)


def _torch_hessian(fn_torch: Callable[..., Any], x: np.ndarray) -> np.ndarray:
    torch = pytest.importorskip("torch")
    return torch.func.hessian(fn_torch)(torch.tensor(x, dtype=torch.float64)).numpy()


def _f_ad(x: ad.Tensor) -> ad.Tensor:
    return ad.sum(ad.tanh(x) ** 2 * ad.exp(x[::-1] / 3)) + ad.sum(x) ** 3 / 10


def _f_torch(x: Any) -> Any:
    import torch

    return torch.sum(torch.tanh(x) ** 2 * torch.exp(x.flip(0) / 3)) + torch.sum(x) ** 3 / 10


def test_hessian_hvp_and_jvp_of_grad_match_torch(rng: np.random.Generator) -> None:
    xh = rng.standard_normal(5)
    vh = rng.standard_normal(5)
    H_t = _torch_hessian(_f_torch, xh)
    x, v = make(xh), make(vh)
    _, atol, rtol = _tol()
    _close(ad.hessian(_f_ad)(x).numpy(), H_t, atol, rtol)
    _, (hv,) = ad.hvp(_f_ad, (x,), (v,))
    _close(hv.numpy(), H_t @ vh, atol, rtol)
    _, jg = ad.jvp(ad.grad(_f_ad), (x,), (v,))  # forward over reverse
    _close(jg.numpy(), H_t @ vh, atol, rtol)
    gj = ad.grad(lambda x: ad.jvp(_f_ad, (x,), (v,))[1])(x)  # reverse over forward
    _close(gj.numpy(), H_t @ vh, atol, rtol)
    # third order: the gradient of an hvp, and a jvp of a jvp of a grad
    g3 = ad.grad(lambda x: ad.sum(ad.hvp(_f_ad, (x,), (v,))[1][0] * v))(x)
    _, j3 = ad.jvp(lambda x: ad.jvp(ad.grad(_f_ad), (x,), (v,))[1], (x,), (v,))
    _close(np.sum(j3.numpy() * vh), np.sum(g3.numpy() * vh), atol, rtol)


def test_jacobian_fwd_equals_rev_and_torch(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    wh = rng.standard_normal((4, 3))
    w = make(wh)

    def f(x: ad.Tensor) -> ad.Tensor:
        return ad.tanh(w @ x) * x.sum()

    xh = rng.standard_normal(3)
    Jf = ad.jacobian(f, mode="fwd")(make(xh)).numpy()
    Jr = ad.jacobian(f, mode="rev")(make(xh)).numpy()
    Jt = torch.func.jacfwd(lambda x: torch.tanh(torch.tensor(wh) @ x) * x.sum())(
        torch.tensor(xh)
    ).numpy()
    _, atol, rtol = _tol()
    _close(Jf, Jt, atol, rtol)
    _close(Jr, Jt, atol, rtol)


def test_tangent_is_differentiable_with_backward_and_create_graph(rng: np.random.Generator) -> None:
    xh, vh = rng.standard_normal(4), rng.standard_normal(4)
    H_t = _torch_hessian(_f_torch, xh)
    x = make(xh, requires_grad=True)
    _, t = ad.jvp(_f_ad, (x,), (make(vh),))
    grads = t.backward(create_graph=True)
    _, atol, rtol = _tol()
    _close(x.grad.numpy(), H_t @ vh, atol, rtol)
    assert grads is not None

    # a backward(create_graph=True) inside the jvp'd function: its gradient carries a tangent
    def inner(y: ad.Tensor) -> ad.Tensor:
        z = y * 1.0
        w = make(np.zeros(4), requires_grad=True)
        (gw,) = ad.vjp(lambda w: _f_ad(z + w), w)[1](make(1.0))
        return gw

    _, hv = ad.jvp(inner, (make(xh),), (make(vh),))
    _close(hv.numpy(), H_t @ vh, atol, rtol)


def test_detach_and_stop_gradient_have_zero_tangent_as_in_reverse_mode() -> None:
    x, v = make([1.0, 2.0]), make([1.0, 1.0])

    def f(x: ad.Tensor) -> ad.Tensor:
        return x * ad.stop_gradient(x) + x.detach() ** 2

    _, t = ad.jvp(f, (x,), (v,))
    g = ad.grad(lambda x: (f(x) * v).sum())(x)  # the same linearization, transposed
    assert t.tolist() == g.tolist() == [1.0, 2.0]


def test_a_leaked_dual_raises() -> None:
    kept: list[Any] = []

    def f(x: ad.Tensor) -> ad.Tensor:
        kept.append(x * 2)
        return x * 3

    ad.jvp(f, (make([1.0, 2.0]),), (make([1.0, 1.0]),))
    with pytest.raises(RuntimeError, match="finished"):
        kept[0] + 1
    with pytest.raises(RuntimeError, match="finished"):
        kept[0].data
    with pytest.raises(RuntimeError, match="finished"):
        ad.sin(kept[0])
    assert "finished" in repr(kept[0])


def test_python_values_of_duals_and_inplace_writes() -> None:
    def f(x: ad.Tensor) -> ad.Tensor:
        assert x.shape == (2,) and x.ndim == 1 and x.size == 2 and x.dtype == make(1.0).dtype
        if float(x[0]) > 0:  # concrete primals: Python control flow
            return x * 2
        return x * 3

    _, t = ad.jvp(f, (make([1.0, 2.0]),), (make([1.0, 1.0]),))
    assert t.tolist() == [2.0, 2.0]

    def g(x: ad.Tensor) -> ad.Tensor:
        y = x * 1.0
        y[0] = x[1] ** 2  # basic key, a dual value
        y[ad.asarray([2, 2])] = 7.0  # advanced key, repeated, a constant: zero tangent
        y += ad.sin(x)
        y[1:] *= 3.0
        return y

    x, v = make([1.0, 2.0, 3.0]), make([0.5, -1.0, 2.0])
    _, t = ad.jvp(g, (x,), (v,))
    eps, atol, rtol = _tol()
    (n,) = _fd(g, [x], [v], eps)
    _close(t.numpy(), n, atol, rtol)
    # and under a grad inside the jvp (the writes recorded at the jvp's level)
    w = make([0.2, 0.1, -0.3])
    _, hv = ad.jvp(ad.grad(lambda x: ad.sum(g(x) ** 2 * w)), (x,), (v,))
    _, (ref,) = ad.hvp(lambda x: ad.sum(g(x) ** 2 * w), (x,), (v,))
    (n2,) = _fd(ad.grad(lambda x: ad.sum(g(x) ** 2 * w)), [x], [v], eps)
    _close(hv.numpy(), n2, atol, rtol)
    _close(ref.numpy(), n2, atol, rtol)


def test_jvp_under_compile_and_compile_of_jvp(rng: np.random.Generator) -> None:
    v = make(rng.standard_normal(3))

    def f(x: ad.Tensor) -> ad.Tensor:
        return ad.sin(x) * ad.exp(x)

    def tangent(x: ad.Tensor) -> ad.Tensor:
        return ad.jvp(f, (x,), (v,))[1]

    compiled = ad.compile(tangent)
    for _ in range(2):
        x = make(rng.standard_normal(3))
        expected = tangent(x).numpy()
        _close(compiled(x).numpy(), expected, 1e-12, 1e-12)
    _, t = ad.jvp(ad.compile(f), (x,), (v,))
    _close(t.numpy(), expected, 1e-12, 1e-12)


def test_levels_are_per_thread(rng: np.random.Generator) -> None:
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    xs = [make(rng.standard_normal(50)) for _ in range(4)]
    v = make(np.ones(50))

    def work(i: int) -> None:
        try:
            for _ in range(20):
                _, t = ad.jvp(lambda x: ad.sin(x) * (i + 1), (xs[i],), (v,))
                results[i] = t.numpy()
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for i in range(4):
        _close(results[i], np.cos(xs[i].numpy()) * (i + 1), 1e-6, 1e-6)


def test_check_grads_fwd_catches_a_wrong_jvp_rule() -> None:
    def fwd(xp: Any, x: Any) -> Any:
        return xp.sin(x)

    def vjp(xp: Any, g: Any, ans: Any, x: Any) -> tuple[Any]:
        return (g * xp.cos(x),)

    def bad_jvp(xp: Any, tangents: Any, ans: Any, x: Any) -> Any:
        return tangents[0] * xp.cos(x) * 1.5

    good = Primitive("test_sin_good", fwd, vjp)
    bad = Primitive("test_sin_bad", fwd, vjp, jvp=bad_jvp)
    x = make([0.3, 0.7])
    check_grads(lambda x: ad.engine.apply1(good, x), (x,), order=2)  # no rule: by linearity
    with pytest.raises(AssertionError, match="fwd"):
        check_grads(lambda x: ad.engine.apply1(bad, x), (x,), order=1, modes=("fwd",))


def test_custom_vjp_under_jvp_forward_of_fwd_and_hvp_through_bwd() -> None:
    calls: list[int] = []

    @ad.custom_vjp
    def my_sin(x: ad.Tensor) -> ad.Tensor:
        return ad.sin(x)

    def fwd(x: ad.Tensor) -> tuple[ad.Tensor, ad.Tensor]:
        return ad.sin(x), x

    def bwd(res: ad.Tensor, g: ad.Tensor) -> tuple[ad.Tensor]:
        calls.append(1)
        return (g * ad.cos(res),)

    my_sin.defvjp(fwd, bwd)
    x, v = make([0.3, 1.1]), make([1.0, -2.0])
    _, t = ad.jvp(my_sin, (x,), (v,))
    _close(t.numpy(), np.cos(x.numpy()) * v.numpy(), 1e-6, 1e-6)
    _, (hv,) = ad.hvp(lambda x: ad.sum(my_sin(x) ** 2), (x,), (v,))
    assert calls  # the custom bwd ran on dual numbers
    xn = x.numpy()
    _close(hv.numpy(), 2 * np.cos(2 * xn) * v.numpy(), 1e-6, 1e-6)


def test_vmap_of_jvp_and_jvp_of_vmap(rng: np.random.Generator) -> None:
    A = make(rng.standard_normal((4, 4)))

    def g(x: ad.Tensor) -> ad.Tensor:
        return ad.tanh(A @ x) * x

    x = make(rng.standard_normal(4))
    ts = make(rng.standard_normal((3, 4)))
    batched = ad.vmap(lambda t: ad.jvp(g, (x,), (t,))[1])(ts)
    xs = make(rng.standard_normal((3, 4)))
    _, jv = ad.jvp(ad.vmap(g), (xs,), (ts,))
    _, atol, rtol = _tol()
    for k in range(3):
        one = ad.jvp(g, (x,), (ts[k],))[1]
        _close(batched[k].numpy(), one.numpy(), atol, rtol)
        _close(jv[k].numpy(), ad.jvp(g, (xs[k],), (ts[k],))[1].numpy(), atol, rtol)


def test_hessian_of_several_arguments_matches_reverse_over_reverse(
    rng: np.random.Generator,
) -> None:
    def f(a: ad.Tensor, b: ad.Tensor) -> ad.Tensor:
        return ad.sum(ad.sin(a)[:, None] * b**2) + ad.sum(a**3)

    a, b = make(rng.standard_normal(3)), make(rng.standard_normal((3, 2)))
    H = ad.hessian(f, argnums=(0, 1))(a, b)
    R = ad.jacobian(ad.grad(f, argnums=(0, 1)), argnums=(0, 1), mode="rev")(a, b)
    _, atol, rtol = _tol()
    for i in range(2):
        for j in range(2):
            assert H[i][j].shape == R[i][j].shape
            _close(H[i][j].numpy(), R[i][j].numpy(), atol, rtol)


def test_writing_a_dual_into_a_constant_tensor_raises_instead_of_dropping_the_tangent() -> None:
    def f(x: ad.Tensor) -> ad.Tensor:
        y = ad.zeros((4,), dtype=x.dtype)
        y[1:3] = x
        return y

    with pytest.raises(TypeError, match="inside jvp"):
        ad.jvp(f, (make([1.0, 2.0]),), (make([1.0, 1.0]),))


def test_writes_through_views_of_duals_reach_their_base() -> None:
    def f(x: ad.Tensor) -> ad.Tensor:
        y = ad.reshape(x * 1.0, (2, 2))
        y[0][1] = x[0] * x[3]  # through a getitem view, as in NumPy
        row = y[1]
        row *= 2.0  # an in-place op on a view reaches y too
        return y

    x, v = make([1.0, 2.0, 3.0, 4.0]), make([1.0, -1.0, 0.5, 2.0])
    out, t = ad.jvp(f, (x,), (v,))
    with ad.no_grad():
        expected = f(x)
    _close(out.numpy(), expected.numpy(), 1e-12, 1e-12)
    eps, atol, rtol = _tol()
    (n,) = _fd(f, [x], [v], eps)
    _close(t.numpy(), n, atol, rtol)

    def stale(x: ad.Tensor) -> ad.Tensor:
        y = x * 1.0
        first = y[0]
        y[0] = 5.0  # `first` is a live view that would not see this
        return first

    with pytest.raises(TypeError, match="view"):
        ad.jvp(stale, (x,), (v,))

    def reshaped(x: ad.Tensor) -> ad.Tensor:
        y = ad.reshape(x * 1.0, (2, 2))
        y[0, 0] = 1.0
        flat = ad.reshape(y, (4,))
        flat[0] = 2.0
        return y

    with pytest.raises(TypeError, match="reshaped"):
        ad.jvp(reshaped, (x,), (v,))
