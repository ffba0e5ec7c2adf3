"""``ad.checkpoint`` gives exactly the gradients of the function it wraps: for tensors
reached through closures, modules and globals too, with the same random draws in the
recomputation (issue 19)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad

from .conftest import make, rtol


def _np(t: ad.Tensor) -> np.ndarray:
    return np.asarray(t.numpy())


def _dtype() -> ad.DType:
    return make([1.0]).dtype


def _grads(loss: Callable[[], ad.Tensor], tensors: list[ad.Tensor]) -> list[np.ndarray]:
    for t in tensors:
        t.grad = None
    loss().backward()
    out = []
    for t in tensors:
        assert t.grad is not None, "a tensor got no gradient"
        out.append(_np(t.grad))
    return out


@pytest.mark.parametrize("input_requires_grad", [True, False])
def test_parameters_of_a_module_in_a_closure_get_their_gradients(
    input_requires_grad: bool,
) -> None:
    lin = ad.nn.Linear(3, 4, dtype=_dtype())
    x = make([[0.1, -0.4, 0.7], [1.2, 0.3, -0.5]], requires_grad=input_requires_grad)

    def body(h: ad.Tensor) -> ad.Tensor:
        return ad.tanh(lin(h))

    block = ad.checkpoint(body)
    tensors = [lin.weight, lin.bias] + ([x] if input_requires_grad else [])
    want = _grads(lambda: ad.sum(body(x) ** 2), tensors)
    got = _grads(lambda: ad.sum(block(x) ** 2), tensors)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=rtol(1e-12))


W_GLOBAL = None


def test_a_global_parameter_and_a_closed_over_intermediate_get_their_gradients() -> None:
    global W_GLOBAL
    w0 = make([0.5, -1.5, 2.0], requires_grad=True)
    W_GLOBAL = make([0.3, 0.2, -0.1], requires_grad=True)
    try:
        h0 = ad.sin(w0) * 2.0  # made outside the block, from w0: not a leaf

        def body(x: ad.Tensor) -> ad.Tensor:
            return ad.exp(x * h0) + x * W_GLOBAL

        block = ad.checkpoint(body)
        x = make([0.2, 0.4, -0.6], requires_grad=True)
        # h0 is also used outside the block: both uses must reach w0
        tensors = [x, w0, W_GLOBAL]
        want = _grads(lambda: ad.sum(body(x)) + ad.sum(h0 * h0), tensors)
        h0 = ad.sin(w0) * 2.0
        got = _grads(lambda: ad.sum(block(x)) + ad.sum(h0 * h0), tensors)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=rtol(1e-12))
    finally:
        W_GLOBAL = None


def test_checkpointed_layers_train_like_plain_ones_against_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    w1, w2 = rng.normal(size=(4, 3)), rng.normal(size=(2, 4))
    xh = rng.normal(size=(5, 3))
    lin1 = ad.nn.Linear(3, 4, dtype=_dtype())
    lin2 = ad.nn.Linear(4, 2, dtype=_dtype())
    for lin, w in ((lin1, w1), (lin2, w2)):
        lin.weight.data = make(w).data
        lin.bias.data = make(np.zeros(w.shape[0])).data
    b1 = ad.checkpoint(lambda h: ad.tanh(lin1(h)))
    b2 = ad.checkpoint(lambda h: lin2(h))
    ad.sum(b2(b1(make(xh))) ** 2).backward()
    t1, t2, tx = (torch.tensor(a, requires_grad=True) for a in (w1, w2, xh))
    ((torch.tanh(tx @ t1.T) @ t2.T) ** 2).sum().backward()
    np.testing.assert_allclose(_np(lin1.weight.grad), t1.grad.numpy(), rtol=rtol(1e-10))
    np.testing.assert_allclose(_np(lin2.weight.grad), t2.grad.numpy(), rtol=rtol(1e-10))


def test_grad_of_a_checkpointed_function_leaves_closed_over_grads_alone() -> None:
    w = make([1.0, 2.0], requires_grad=True)
    block = ad.checkpoint(lambda x: ad.sin(x * w))
    g = ad.grad(lambda x: ad.sum(block(x)))(make([0.5, 0.25]))
    np.testing.assert_allclose(_np(g), np.cos(np.array([0.5, 0.5])) * [1.0, 2.0], rtol=rtol())
    assert w.grad is None  # ad.grad differentiates its argument only


def test_second_order_through_a_closed_over_parameter() -> None:
    w = make([0.7, -0.3], requires_grad=True)

    def body(x: ad.Tensor) -> ad.Tensor:
        return ad.sum(ad.sin(x * w) * w)

    block = ad.checkpoint(body)
    x = make([0.4, 1.1])
    want = ad.hessian(body)(x)
    got = ad.hessian(block)(x)
    np.testing.assert_allclose(_np(got), _np(want), rtol=rtol(1e-12))
    # d/dw of the gradient wrt x, through the recomputation
    gw_want = ad.grad(lambda v: ad.sum(ad.grad(lambda z: ad.sum(ad.sin(z * v) * v))(x)))(w)
    blockv = ad.checkpoint(lambda z, v: ad.sum(ad.sin(z * v) * v))
    gw_got = ad.grad(lambda v: ad.sum(ad.grad(lambda z: blockv(z, v))(x)))(w)
    np.testing.assert_allclose(_np(gw_got), _np(gw_want), rtol=rtol(1e-12))


def test_a_hook_on_a_closed_over_parameter_runs_once() -> None:
    w = make([1.0, 2.0], requires_grad=True)
    seen: list[Any] = []
    w.register_hook(lambda g: (seen.append(1), g * 10.0)[1])
    block = ad.checkpoint(lambda x: x * w)
    ad.sum(block(make([3.0, 4.0]))).backward()
    assert len(seen) == 1
    np.testing.assert_allclose(_np(w.grad), [30.0, 40.0])


def test_dropout_in_the_recomputation_keeps_the_forward_mask() -> None:
    x = make(np.linspace(0.5, 2.0, 64), requires_grad=True)
    rng = x.backend.random
    rng.seed(3)
    block = ad.checkpoint(lambda h: ad.nn.functional.dropout(h, 0.5))
    out = block(x)
    kept = _np(out) != 0
    assert 0 < kept.sum() < 64
    ad.sum(out).backward()
    # the gradient flows exactly where the forward kept the element (scaled by 1/(1-p))
    np.testing.assert_allclose(_np(x.grad), np.where(kept, 2.0, 0.0))
    # and the recomputation did not move the generator on: the next draw is the one
    # that follows the forward's
    after = rng.uniform((4,))
    rng.seed(3)
    rng.uniform((64,))
    np.testing.assert_allclose(
        np.asarray(x.backend.to_numpy(after)), x.backend.to_numpy(rng.uniform((4,)))
    )


def test_a_module_dropout_in_a_checkpointed_block_matches_the_forward_mask() -> None:
    lin = ad.nn.Linear(8, 8, dtype=_dtype())
    drop = ad.nn.Dropout(0.5)
    block = ad.checkpoint(lambda h: drop(ad.tanh(lin(h))))
    x = make(np.linspace(-1.0, 1.0, 32).reshape(4, 8), requires_grad=True)
    out = block(x)
    ad.sum(out).backward()
    kept = _np(out) != 0
    # d out / d lin.bias: (1 - tanh²) * 2 where kept, zero where dropped
    pre = _np(ad.tanh(lin(x.detach())))
    want = ((1 - pre**2) * np.where(kept, 2.0, 0.0)).sum(axis=0)
    np.testing.assert_allclose(_np(lin.bias.grad), want, rtol=rtol(1e-10))


def test_a_parameter_changed_before_backward_is_refused() -> None:
    w = make([1.0, 2.0], requires_grad=True)
    block = ad.checkpoint(lambda x: ad.sin(x * w))
    out = block(make([0.5, 0.25], requires_grad=True))
    w.data = make([5.0, 6.0]).data  # an optimizer step before the backward pass
    with pytest.raises(RuntimeError, match="between the forward and the backward"):
        ad.sum(out).backward()


def test_a_compiled_training_step_through_a_checkpointed_block_matches_eager() -> None:
    def run(compiled: bool) -> tuple[list[float], np.ndarray]:
        w = make([0.5, -1.0, 2.0], requires_grad=True)
        v = make([1.5, 0.5, -0.25], requires_grad=True)
        opt = ad.optim.SGD([w, v], lr=0.1)
        body = ad.checkpoint(lambda h: ad.tanh(h * w) * w) if compiled else None

        def step(x: ad.Tensor) -> ad.Tensor:
            opt.zero_grad()
            h = x * v  # the block's input requires grad: it is checkpointed
            h = body(h) if body is not None else ad.tanh(h * w) * w
            loss = ad.sum(h**2)
            loss.backward()
            opt.step()
            return loss

        fn = ad.compile(step) if compiled else step
        x = make([0.1, 0.2, 0.3])
        losses = [fn(x).item() for _ in range(4)]
        return losses, _np(w)

    got, w_got = run(True)
    want, w_want = run(False)
    np.testing.assert_allclose(got, want, rtol=rtol(1e-12))
    np.testing.assert_allclose(w_got, w_want, rtol=rtol(1e-12))
