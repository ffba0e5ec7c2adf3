"""Functional transforms, higher order, custom rules and checkpointing (issue 4)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import autodiff as ad
from autodiff.engine import Primitive, apply1
from autodiff.testing import check_grads

from .conftest import TRACEMALLOC_BACKENDS, make, rtol


def f3(x: ad.Tensor) -> ad.Tensor:
    return x**3 * ad.sin(x)


def test_third_derivative_matches_closed_form() -> None:
    v = 0.9
    d3 = ad.grad(ad.grad(ad.grad(f3)))(make(v))
    expected = 6 * math.sin(v) + 18 * v * math.cos(v) - 9 * v**2 * math.sin(v) - v**3 * math.cos(v)
    assert d3.item() == pytest.approx(expected, rel=rtol(1e-10))


def test_backward_create_graph_third_order() -> None:
    x = make(0.9, requires_grad=True)
    (g1,) = ad.vjp(f3, x)[1](make(1.0))
    (g2,) = ad.vjp(lambda t: ad.grad(f3)(t), x)[1](make(1.0))
    assert g2.item() == pytest.approx(ad.grad(ad.grad(f3))(make(0.9)).item())
    assert g1.item() == pytest.approx(ad.grad(f3)(make(0.9)).item())


def test_value_and_grad_argnums_and_aux() -> None:
    def f(a: ad.Tensor, b: ad.Tensor) -> tuple[ad.Tensor, str]:
        return (a * b).sum(), "aux"

    a, b = make([1.0, 2.0]), make([3.0, 4.0])
    (value, aux), (ga, gb) = ad.value_and_grad(f, argnums=(0, 1), has_aux=True)(a, b)
    assert value.item() == 11.0
    assert aux == "aux"
    assert ga.tolist() == [3.0, 4.0]
    assert gb.tolist() == [1.0, 2.0]
    g, aux2 = ad.grad(f, argnums=1, has_aux=True)(a, b)
    assert g.tolist() == [1.0, 2.0]
    assert aux2 == "aux"


def test_parameter_dict_is_one_argument() -> None:
    params = {"w": make([[1.0, 2.0], [3.0, 4.0]]), "b": make([0.5, -0.5]), "extra": [make(2.0)]}
    x = make([1.0, 1.0])

    def loss(p: dict[str, object], x: ad.Tensor) -> ad.Tensor:
        return ((x @ p["w"] + p["b"]) ** 2).sum() * p["extra"][0]  # type: ignore[index,operator]

    g = ad.grad(loss)(params, x)
    assert set(g) == {"w", "b", "extra"}
    assert g["w"].shape == (2, 2)
    h = x.numpy() @ params["w"].numpy() + params["b"].numpy()
    np.testing.assert_allclose(g["b"].numpy(), 2 * h * 2.0)
    np.testing.assert_allclose(g["extra"][0].item(), (h**2).sum())


def test_grad_errors() -> None:
    with pytest.raises(TypeError, match=r"must return a scalar.*shape \(2,\)"):
        ad.grad(lambda x: x * 2.0)(make([1.0, 2.0]))
    with pytest.raises(TypeError, match="returned str"):
        ad.grad(lambda x: "nope")(make(1.0))
    with pytest.raises(TypeError, match="int64"):
        ad.grad(lambda x: (x * 2.0).astype(ad.int64).sum())(make([1.0]))
    with pytest.raises(ValueError, match="argnums 3 is out of range"):
        ad.grad(lambda x: x, argnums=3)(make(1.0))
    with pytest.raises(TypeError, match="int64 tensor"):
        ad.grad(lambda x: x.sum())(ad.tensor([1, 2]))


def test_vjp_and_jvp_agree_with_jacobian(rng: np.random.Generator) -> None:
    w = make(rng.standard_normal((3, 2)))

    def f(x: ad.Tensor) -> ad.Tensor:
        return ad.tanh(x @ w)

    x = make(rng.standard_normal((3,)))
    J = ad.jacobian(f)(x).numpy()
    Jf = ad.jacobian(f, mode="fwd")(x).numpy()
    np.testing.assert_allclose(J, Jf, rtol=1e-12)
    u = make(rng.standard_normal((3,)))
    v = make(rng.standard_normal((2,)))
    _, t = ad.jvp(f, (x,), (u,))
    np.testing.assert_allclose(t.numpy(), J @ u.numpy(), rtol=1e-10)
    _, pull = ad.vjp(f, x)
    np.testing.assert_allclose(pull(v)[0].numpy(), v.numpy() @ J, rtol=1e-10)


def test_jacobian_trees_and_shapes() -> None:
    a, b = make([1.0, 2.0]), make([3.0, 4.0])
    (ja, jb), (sa, sb) = ad.jacobian(lambda x, y: (x * y, (x * y).sum()), argnums=(0, 1))(a, b)
    assert ja.tolist() == [[3.0, 0.0], [0.0, 4.0]]
    assert jb.tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert sa.tolist() == [3.0, 4.0]
    assert sb.tolist() == [1.0, 2.0]
    m = make(np.arange(6.0).reshape(2, 3))
    assert ad.jacobian(lambda x: x.T * 2.0)(m).shape == (3, 2, 2, 3)
    with pytest.raises(ValueError, match="mode"):
        ad.jacobian(lambda x: x, mode="sideways")


def test_hessian_and_hvp(rng: np.random.Generator) -> None:
    A = rng.standard_normal((3, 3))
    A = A + A.T
    At = make(A)

    def quad(x: ad.Tensor) -> ad.Tensor:
        return 0.5 * (x @ At @ x) + ad.sin(x).sum()

    x = make(rng.standard_normal(3))
    H = ad.hessian(quad)(x).numpy()
    np.testing.assert_allclose(
        H, A - np.diag(np.sin(x.numpy())), rtol=rtol(1e-10), atol=rtol(1e-12)
    )
    v = make(rng.standard_normal(3))
    value, (hv,) = ad.hvp(quad, (x,), (v,))
    np.testing.assert_allclose(hv.numpy(), H @ v.numpy(), rtol=rtol(1e-10))
    assert value.item() == pytest.approx(quad(x).item())


def test_hessian_matches_torch_func_on_an_mlp(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    x_h = rng.standard_normal((5, 3))
    y_h = rng.standard_normal((5, 1))
    w2_h = rng.standard_normal((4, 1))
    w1_h = rng.standard_normal((3, 4)) * 0.5

    def loss_ad(w1: ad.Tensor) -> ad.Tensor:
        return ((ad.tanh(make(x_h) @ w1) @ make(w2_h) - make(y_h)) ** 2).mean()

    def loss_torch(w1: object) -> object:
        x, y, w2 = (torch.tensor(a) for a in (x_h, y_h, w2_h))
        return ((torch.tanh(x @ w1) @ w2 - y) ** 2).mean()

    H = ad.hessian(loss_ad)(make(w1_h)).numpy()
    Ht = torch.func.hessian(loss_torch)(torch.tensor(w1_h)).numpy()
    np.testing.assert_allclose(H, Ht, rtol=1e-6, atol=1e-9)


def test_custom_vjp_used_and_differentiable_twice() -> None:
    calls = []

    @ad.custom_vjp
    def my_sin(x: ad.Tensor) -> ad.Tensor:
        return ad.sin(x)

    def fwd(x: ad.Tensor) -> tuple[ad.Tensor, ad.Tensor]:
        return ad.sin(x), x

    def bwd(res: ad.Tensor, g: ad.Tensor) -> tuple[ad.Tensor]:
        calls.append(1)
        return (g * ad.cos(res),)

    my_sin.defvjp(fwd, bwd)
    check_grads(my_sin, (make([0.3, 1.1, -0.7]),), order=2)
    assert calls
    x = make(0.5)
    assert ad.grad(ad.grad(my_sin))(x).item() == pytest.approx(-math.sin(0.5))


def test_custom_vjp_wrong_rule_is_caught() -> None:
    @ad.custom_vjp
    def cube(x: ad.Tensor) -> ad.Tensor:
        return x**3

    cube.defvjp(lambda x: (x**3, x), lambda res, g: (g * 2.0 * res**2,))  # should be 3 x²
    with pytest.raises(
        AssertionError, match=r"worst element at index \(\d+,\): analytic .*numerical"
    ):
        check_grads(cube, (make([0.5, 1.5]),), order=1)


def test_custom_vjp_needs_defvjp_and_right_arity() -> None:
    @ad.custom_vjp
    def f(x: ad.Tensor, y: ad.Tensor) -> ad.Tensor:
        return x * y

    with pytest.raises(TypeError, match="defvjp"):
        f(make(1.0, requires_grad=True), make(2.0))
    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1],))
    out = f(make(1.0, requires_grad=True), make(2.0))
    with pytest.raises(ValueError, match="1 cotangents for 2 arguments"):
        out.backward()


def test_check_grads_reports_worst_element() -> None:
    bad = Primitive(
        "bad_sin_test", lambda xp, a: xp.sin(a), lambda xp, g, ans, a: (g * xp.cos(a) * 1.5,)
    )
    with pytest.raises(AssertionError) as info:
        check_grads(lambda x: apply1(bad, x), (make([0.1, 0.2, 0.3]),), order=1, modes=("rev",))
    msg = str(info.value)
    assert "rev mode, order 1" in msg
    assert "worst element at index (" in msg
    assert "analytic" in msg
    assert "numerical" in msg
    with pytest.raises(AssertionError, match="fwd mode"):
        check_grads(lambda x: apply1(bad, x), (make([0.1, 0.2, 0.3]),), order=1, modes=("fwd",))
    with pytest.raises(ValueError, match="unknown modes"):
        check_grads(ad.sin, (make([0.1]),), modes=("sideways",))


def test_checkpoint_gradients_equal_plain(rng: np.random.Generator) -> None:
    ws = [make(rng.standard_normal((4, 4)) * 0.5) for _ in range(3)]

    def block(x: ad.Tensor, w: ad.Tensor) -> ad.Tensor:
        return ad.tanh(x @ w) * 2.0

    def plain(x: ad.Tensor, *w: ad.Tensor) -> ad.Tensor:
        for wi in w:
            x = block(x, wi)
        return x.sum()

    cblock = ad.checkpoint(block)

    def ckpt(x: ad.Tensor, *w: ad.Tensor) -> ad.Tensor:
        for wi in w:
            x = cblock(x, wi)
        return x.sum()

    x = make(rng.standard_normal((2, 4)))
    g1 = ad.grad(plain, argnums=(0, 1, 2, 3))(x, *ws)
    g2 = ad.grad(ckpt, argnums=(0, 1, 2, 3))(x, *ws)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    check_grads(cblock, (x, ws[0]), order=2)


def test_checkpoint_lowers_peak_memory(rng: np.random.Generator, backend: ad.Backend) -> None:
    if backend.name not in TRACEMALLOC_BACKENDS:
        pytest.skip(
            f"tracemalloc cannot see {backend.name}'s array memory; measured in benchmarks/"
        )
    width, depth = 256, 12
    ws = [make(rng.standard_normal((width, width)) / 16) for _ in range(depth)]
    x = make(rng.standard_normal((512, width)), requires_grad=True)

    def layer(h: ad.Tensor, w: ad.Tensor) -> ad.Tensor:
        return ad.tanh(ad.tanh(h @ w) * 1.5 + 0.1)

    def peak(fn: object) -> int:
        tracemalloc.start()
        try:
            h = x
            for w in ws:
                h = fn(h, w)  # type: ignore[operator]
            h.sum().backward()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    plain = peak(layer)
    saved = peak(ad.checkpoint(layer))
    assert saved < 0.7 * plain, (plain, saved)


def test_hooks_see_and_replace_gradients() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: g * 10.0)
    remove = x.register_hook(lambda g: g + 1.0)
    y.sum().backward()
    assert x.grad.tolist() == [21.0, 21.0]
    remove()
    x.grad = None
    (x * 2.0).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    z = make(1.0, requires_grad=True)
    z.register_hook(lambda g: 3)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="hook must return"):
        (z * 1.0).backward()


def test_transforms_work_inside_no_grad() -> None:
    with ad.no_grad():
        assert ad.grad(lambda t: t * t)(make(3.0)).item() == 6.0


def test_nested_grad_through_a_closure() -> None:
    # d/da of (d/dt (t * a)^2 at t=1) = d/da (2 a^2) = 4 a
    def outer(a: ad.Tensor) -> ad.Tensor:
        return ad.grad(lambda t: ((t * a) ** 2).sum())(make(1.0)).sum()

    assert ad.grad(outer)(make(3.0)).item() == pytest.approx(12.0)
