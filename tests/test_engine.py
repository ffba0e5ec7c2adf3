"""Reverse mode: accumulation, graph lifetime, grad modes, leaves."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import autodiff as ad

from .conftest import make


def test_node_used_several_times_accumulates() -> None:
    x = make(3.0, requires_grad=True)
    y = x * x
    z = y + y * x + ad.sin(y)  # y feeds three consumers
    z.backward()
    expected = 2 * 3 + 3 * 9 + math.cos(9) * 6
    assert x.grad.item() == pytest.approx(expected)


def test_diamond_and_same_input_twice() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    a = x * 2.0
    (a * a).sum().backward()  # d/dx (2x)^2 = 8x
    assert x.grad.tolist() == [8.0, 16.0]


def test_grad_accumulates_across_backward_calls() -> None:
    x = make(2.0, requires_grad=True)
    (x * x).backward()
    (x * 3.0).backward()
    assert x.grad.item() == pytest.approx(7.0)


def test_long_chain_is_iterative(backend: ad.Backend) -> None:
    # a lazy backend's scheduler pays per task when it finally runs the graph
    n = 2_000 if backend.lazy else 100_000
    x = make(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == pytest.approx(1.0)
    del y  # freeing a long chain must not overflow the C stack


def test_graph_freed_after_backward() -> None:
    x = make(2.0, requires_grad=True)
    y = ad.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward() -> None:
    x = make(2.0, requires_grad=True)
    y = ad.exp(x) * x
    y.backward(retain_graph=True)
    first = x.grad.item()
    y.backward()
    assert x.grad.item() == pytest.approx(2 * first)


def test_backward_non_scalar_needs_grad() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*sum\(\)"):
        (x * 2.0).backward()
    with pytest.raises(ValueError, match="grad has shape"):
        (x * 2.0).backward(make([1.0, 2.0, 3.0]))


def test_backward_without_requires_grad() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        make(1.0).backward()


def test_requires_grad_on_integer_tensor_raises() -> None:
    with pytest.raises(TypeError, match="floating"):
        ad.tensor([1, 2, 3], requires_grad=True)
    t = ad.tensor([1, 2])
    with pytest.raises(TypeError, match="int64"):
        t.requires_grad = True


def test_requires_grad_only_settable_on_leaves() -> None:
    x = make(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2.0).requires_grad = False


def test_integer_and_bool_results_carry_no_gradient() -> None:
    x = make([0.5, -1.0], requires_grad=True)
    assert not (x > 0).requires_grad
    assert not x.astype(ad.int64).requires_grad
    assert not ad.sign(x).requires_grad


def test_no_grad_and_enable_grad() -> None:
    x = make(1.0, requires_grad=True)
    with ad.no_grad():
        y = x * 2.0
        with ad.enable_grad():
            z = x * 2.0
    assert not y.requires_grad
    assert z.requires_grad

    @ad.no_grad()
    def f(t: ad.Tensor) -> ad.Tensor:
        return t * 2.0

    assert not f(x).requires_grad
    assert ad.is_grad_enabled()


def test_grad_mode_is_per_thread() -> None:
    seen: list[bool] = []
    with ad.no_grad():
        worker = threading.Thread(target=lambda: seen.append(ad.is_grad_enabled()))
        worker.start()
        worker.join()
    assert seen == [True]


def test_detach_and_stop_gradient() -> None:
    x = make(2.0, requires_grad=True)
    y = x * x
    d = y.detach()
    assert d.is_leaf and not d.requires_grad
    z = x * ad.stop_gradient(y)
    z.backward()
    assert x.grad.item() == pytest.approx(4.0)


def test_var_and_constant() -> None:
    x = ad.var("x", 2)
    assert x.dtype.is_floating and x.requires_grad and x.name == "x"
    c = ad.constant(3.0)
    assert not c.requires_grad
    (x * c).backward()
    assert x.grad.item() == 3.0


def test_gradients_mapping() -> None:
    x = ad.var("x", 2.0)
    y = ad.var("y", 3.0)
    w = make(1.0, requires_grad=True)
    grads = (x * y * w).backward()
    assert len(grads) == 3
    assert set(map(id, grads)) == {id(x), id(y), id(w)}
    assert grads[w].item() == 6.0
    assert grads["y"].item() == 2.0
    assert x in grads
    with pytest.raises(KeyError, match="named"):
        grads["nope"]
    with pytest.raises(KeyError, match="not a leaf"):
        grads[make(1.0)]


def test_leaf_hooks_and_retain_grad() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    h = x * 3.0
    h.retain_grad()
    h.register_hook(lambda g: g * 2.0)  # replaces the gradient flowing into h
    h.sum().backward()
    assert h.grad.tolist() == [1.0, 1.0]
    assert seen == [[6.0, 6.0]]
    assert x.grad.tolist() == [6.0, 6.0]


def test_create_graph_higher_order() -> None:
    x = make(0.7, requires_grad=True)
    y = x**3 * ad.sin(x)
    g1 = ad.grad(lambda t: t**3 * ad.sin(t))(x)
    y.backward(create_graph=True)
    d1 = x.grad
    assert d1.requires_grad
    assert d1.item() == pytest.approx(g1.item())
    x.grad = None
    d1.backward()
    v = 0.7
    assert x.grad.item() == pytest.approx(
        6 * v * math.sin(v) + 6 * v**2 * math.cos(v) - v**3 * math.sin(v)
    )


def test_broadcast_gradients_reduce_to_input_shape(rng: np.random.Generator) -> None:
    a = make(rng.standard_normal((4, 1, 3)), requires_grad=True)
    b = make(rng.standard_normal((2, 1)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (4, 1, 3)
    assert b.grad.shape == (2, 1)
    np.testing.assert_allclose(
        a.grad.numpy(), np.broadcast_to(b.numpy().sum(), (4, 1, 3)), rtol=1e-12
    )


def test_mixed_float_dtypes_cast_gradients_back() -> None:
    a = ad.tensor([1.0, 2.0], dtype=ad.float32, requires_grad=True)
    b = make([3.0, 4.0], requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == a.dtype
    assert b.grad.dtype == b.dtype


def test_unused_leaf_gets_no_grad() -> None:
    x = make(1.0, requires_grad=True)
    y = make(2.0, requires_grad=True)
    (x * 2.0).backward()
    assert y.grad is None
