"""A gradient a user supplies (a hook's return, a custom_vjp cotangent, a jvp/hvp tangent)
must have its primal's shape and dtype, or a clear error says so; a backward() that a
hook stopped says what happened when it is retried (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest

import autodiff as ad

from .conftest import make


def _other_float(t: ad.Tensor) -> ad.DType | None:
    other = ad.float32 if t.dtype == ad.float64 else ad.float64
    return other if t.backend.supports(other) else None


def test_a_leaf_hook_returning_another_shape_raises() -> None:
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    x.register_hook(lambda g: ad.ones(1, dtype=g.dtype))
    with pytest.raises(ValueError, match=r"shape \(1,\).*gradient of shape \(3,\)"):
        ad.sum(x * 2.0).backward()
    assert x.grad is None


def test_an_intermediate_hook_returning_another_shape_raises() -> None:
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: ad.ones((2, 3), dtype=g.dtype))  # was summed silently
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        ad.sum(y).backward()


def test_a_hook_returning_another_dtype_raises() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    other = _other_float(x)
    if other is None:
        pytest.skip("the backend has one float dtype")
    x.register_hook(lambda g: g.astype(other))
    with pytest.raises(ValueError, match="same shape and dtype"):
        ad.sum(x * 2.0).backward()


def test_a_hook_of_the_right_shape_still_replaces_the_gradient() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 3.0)
    ad.sum(x * 2.0).backward()
    np.testing.assert_allclose(np.asarray(x.grad.numpy()), [6.0, 6.0])


def test_a_failing_leaf_hook_leaves_every_grad_unchanged() -> None:
    a = make([1.0], requires_grad=True)
    b = make([2.0], requires_grad=True)

    def bad(g: ad.Tensor) -> ad.Tensor:
        raise KeyError("hook failed")

    b.register_hook(bad)
    with pytest.raises(KeyError):
        ad.sum(a * b).backward()
    assert a.grad is None and b.grad is None  # no half-accumulated gradients


def test_a_retry_after_a_hook_raised_says_what_happened() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    calls = []

    def flaky(g: ad.Tensor) -> ad.Tensor:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient failure in my hook")
        return g

    x.register_hook(flaky)
    loss = ad.sum(ad.exp(x) * 2.0)
    with pytest.raises(RuntimeError, match="transient failure"):
        loss.backward()
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    msg = str(info.value)
    assert "second time" not in msg
    assert "stopped part-way" in msg and "transient failure in my hook" in msg
    assert "forward pass again" in msg
    # with retain_graph=True the graph stays usable after such an error
    x.grad = None
    calls.clear()
    loss = ad.sum(ad.exp(x) * 2.0)
    with pytest.raises(RuntimeError, match="transient failure"):
        loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(np.asarray(x.grad.numpy()), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


@pytest.mark.parametrize("shape", [(1,), ()])
def test_a_custom_vjp_cotangent_of_another_shape_raises(shape: tuple[int, ...]) -> None:
    @ad.custom_vjp
    def f(x: ad.Tensor) -> ad.Tensor:
        return x * 2.0

    f.defvjp(lambda x: (x * 2.0, None), lambda res, g: (ad.ones(shape, dtype=g.dtype),))
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(
        ValueError, match=rf"cotangent of shape {shape!s}".replace("(", r"\(").replace(")", r"\)")
    ):
        ad.sum(f(x)).backward()


def test_a_custom_vjp_cotangent_of_another_dtype_raises() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    other = _other_float(x)
    if other is None:
        pytest.skip("the backend has one float dtype")

    @ad.custom_vjp
    def f(x: ad.Tensor) -> ad.Tensor:
        return x * 2.0

    f.defvjp(lambda x: (x * 2.0, None), lambda res, g: ((g * 2.0).astype(other),))
    with pytest.raises(ValueError, match="shape and dtype"):
        ad.sum(f(x)).backward()


@pytest.mark.parametrize("shape", [(1,), ()])
def test_jvp_and_hvp_tangents_must_match_their_primal(shape: tuple[int, ...]) -> None:
    x = make([1.0, 2.0, 3.0])
    t = ad.ones(shape, dtype=x.dtype)
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        ad.jvp(ad.sin, (x,), (t,))
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        ad.hvp(lambda z: ad.sum(z**3), (x,), (t,))
    other = _other_float(x)
    if other is not None:
        with pytest.raises(ValueError, match="dtype"):
            ad.jvp(ad.sin, (x,), (ad.ones(3, dtype=other),))
    with pytest.raises(TypeError, match="tangent 0 is a float"):
        ad.jvp(ad.sin, (make(1.0),), (1.0,))
