"""ad.nn and ad.optim against PyTorch in float64 (values, gradients, five optimizer steps)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.testing import check_grads

from .conftest import make, rtol

F = ad.nn.functional


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


def _t(torch: Any, a: np.ndarray, grad: bool = False) -> Any:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _both(torch: Any, fn_ad: Any, fn_t: Any, *arrays: np.ndarray) -> None:
    xs = [make(a, requires_grad=True) for a in arrays]
    ts = [_t(torch, a, True) for a in arrays]
    out, ref = fn_ad(*xs), fn_t(*ts)
    np.testing.assert_allclose(
        out.numpy(), ref.detach().numpy(), rtol=rtol(1e-10), atol=rtol(1e-12)
    )
    w = np.random.default_rng(5).standard_normal(ref.shape)
    (out * make(w)).sum().backward()
    (ref * _t(torch, w)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(
            x.grad.numpy(), t.grad.numpy(), rtol=rtol(1e-9), atol=rtol(1e-12)
        )


def test_activations_and_softmax_match_torch(torch: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 5)) * 3
    tf = torch.nn.functional
    _both(torch, F.relu, tf.relu, x)
    _both(torch, F.sigmoid, torch.sigmoid, x)
    _both(torch, F.tanh, torch.tanh, x)
    _both(torch, F.gelu, lambda t: tf.gelu(t, approximate="tanh"), x)
    _both(torch, lambda a: F.softmax(a, axis=1), lambda t: tf.softmax(t, dim=1), x)
    _both(torch, lambda a: F.log_softmax(a, axis=0), lambda t: tf.log_softmax(t, dim=0), x)
    _both(torch, lambda a: F.logsumexp(a, axis=1), lambda t: torch.logsumexp(t, dim=1), x)


def test_losses_match_torch(torch: Any, rng: np.random.Generator) -> None:
    tf = torch.nn.functional
    logits = rng.standard_normal((6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    probs = rng.dirichlet(np.ones(4), size=6)
    y = rng.standard_normal((6, 4))
    b = (rng.uniform(size=(6, 4)) > 0.5).astype(np.float64)
    for red in ("mean", "sum", "none"):
        _both(
            torch,
            lambda a, red=red: ad.nn.cross_entropy(a, ad.tensor(labels), reduction=red),
            lambda t, red=red: tf.cross_entropy(t, torch.tensor(labels), reduction=red),
            logits,
        )
    _both(
        torch,
        lambda a: ad.nn.cross_entropy(a, make(probs)),
        lambda t: tf.cross_entropy(t, _t(torch, probs)),
        logits,
    )
    _both(
        torch,
        lambda a: ad.nn.soft_cross_entropy_loss(a, make(probs)),
        lambda t: tf.cross_entropy(t, _t(torch, probs)),
        logits,
    )
    _both(
        torch,
        lambda a: ad.nn.nll_loss(F.log_softmax(a), ad.tensor(labels)),
        lambda t: tf.nll_loss(tf.log_softmax(t, dim=-1), torch.tensor(labels)),
        logits,
    )
    _both(
        torch, lambda a: ad.nn.mse_loss(a, make(y)), lambda t: tf.mse_loss(t, _t(torch, y)), logits
    )
    _both(
        torch,
        lambda a: ad.nn.binary_cross_entropy_with_logits(a * 10, make(b)),
        lambda t: tf.binary_cross_entropy_with_logits(t * 10, _t(torch, b)),
        logits,
    )


def test_layers_match_torch(torch: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    bias = rng.standard_normal(4)
    tf = torch.nn.functional
    _both(
        torch,
        lambda a, k, c: F.conv2d(a, k, c, stride=2, padding=1),
        lambda a, k, c: tf.conv2d(a, k, c, stride=2, padding=1),
        x,
        w,
        bias,
    )
    _both(torch, lambda a, k: F.conv2d(a, k), lambda a, k: tf.conv2d(a, k), x, w)
    _both(torch, lambda a: F.max_pool2d(a, 2), lambda a: tf.max_pool2d(a, 2), x)
    h = rng.standard_normal((4, 5))
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)

    layer = ad.nn.LayerNorm(5, dtype=ad.float64)
    layer.weight.data = make(gamma).data
    layer.bias.data = make(beta).data
    xa, xt = make(h, requires_grad=True), _t(torch, h, True)
    gt, bt = _t(torch, gamma, True), _t(torch, beta, True)
    out, ref = layer(xa), tf.layer_norm(xt, (5,), gt, bt)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10)
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    for ours, theirs in ((xa, xt), (layer.weight, gt), (layer.bias, bt)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8, atol=1e-10)
    lin = ad.nn.Linear(5, 3, dtype=ad.float64)
    tl = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(lin.weight.numpy()))
        tl.bias.copy_(torch.tensor(lin.bias.numpy()))
    np.testing.assert_allclose(lin(make(h)).numpy(), tl(_t(torch, h)).detach().numpy(), rtol=1e-12)
    emb = ad.nn.Embedding(6, 3, dtype=ad.float64)
    idx = ad.tensor([[1, 5], [1, 0]])
    out = emb(idx)
    assert out.shape == (2, 2, 3)
    out.sum().backward()
    assert emb.weight.grad.numpy()[1].tolist() == [2.0, 2.0, 2.0]


def test_conv_and_pool_second_order(rng: np.random.Generator) -> None:
    x = make(rng.standard_normal((1, 2, 4, 4)))
    w = make(rng.standard_normal((2, 2, 2, 2)))
    check_grads(lambda a, k: F.conv2d(a, k, stride=1, padding=1), (x, w), order=2)
    check_grads(lambda a: F.max_pool2d(a, 2), (x,), order=1)


def _problem(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        rng.standard_normal((8, 3)),
        rng.standard_normal((8, 2)),
        rng.standard_normal((3, 2)),
        rng.standard_normal(2),
    )


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("SGD", {"lr": 0.1}),
        ("SGD", {"lr": 0.1, "momentum": 0.9}),
        ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        ("Adam", {"lr": 0.05}),
        ("Adam", {"lr": 0.05, "weight_decay": 0.1, "betas": (0.8, 0.99)}),
        ("AdamW", {"lr": 0.05}),
        ("AdamW", {"lr": 0.05, "weight_decay": 0.5}),
    ],
)
def test_five_steps_match_torch_optim(
    torch: Any, rng: np.random.Generator, name: str, kwargs: dict[str, Any]
) -> None:
    x, y, w0, b0 = _problem(rng)
    w, b = ad.nn.Parameter(make(w0)), ad.nn.Parameter(make(b0))
    tw, tb = _t(torch, w0, True), _t(torch, b0, True)
    opt = getattr(ad.optim, name)([w, b], **kwargs)
    topt = getattr(torch.optim, name)([tw, tb], **kwargs)
    for _ in range(5):
        opt.zero_grad()
        topt.zero_grad()
        ad.nn.mse_loss(make(x) @ w + b, make(y)).backward()
        torch.nn.functional.mse_loss(_t(torch, x) @ tw + tb, _t(torch, y)).backward()
        opt.step()
        topt.step()
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.numpy(), tb.detach().numpy(), rtol=0, atol=1e-9)


def test_schedulers_match_torch(torch: Any) -> None:
    p = ad.nn.Parameter(make([1.0]))
    tp = _t(torch, np.array([1.0]), True)
    for ours, theirs in (
        (
            lambda o: ad.optim.StepLR(o, step_size=2, gamma=0.5),
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
        ),
        (
            lambda o: ad.optim.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
        ),
    ):
        opt, topt = ad.optim.SGD([p], lr=0.1), torch.optim.SGD([tp], lr=0.1)
        s, ts = ours(opt), theirs(topt)
        for _ in range(6):
            topt.step()
            s.step()
            ts.step()
            assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)


def test_module_registration_and_state_dict() -> None:
    net = ad.nn.Sequential(ad.nn.Linear(3, 4), ad.nn.Tanh(), ad.nn.Linear(4, 2))
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(p.dtype == ad.float32 for p in net.parameters())
    state = net.state_dict()
    other = ad.nn.Sequential(ad.nn.Linear(3, 4), ad.nn.Tanh(), ad.nn.Linear(4, 2))
    other.load_state_dict(state)
    assert all(
        np.array_equal(a.numpy(), b.numpy()) for a, b in zip(net.parameters(), other.parameters())
    )
    with pytest.raises(KeyError, match=r"missing keys \['2.bias'\].*unexpected keys \['x'\]"):
        other.load_state_dict(
            {**{k: v for k, v in state.items() if k != "2.bias"}, "x": state["0.bias"]}
        )
    with pytest.raises(ValueError, match=r"'0.bias' has shape \(3,\)"):
        other.load_state_dict({**state, "0.bias": ad.zeros(3)})
    net.train()
    assert net.training
    net.eval()
    assert not net[0].training
    net.zero_grad()


def test_dropout_modes() -> None:
    x = ad.ones((1000,), dtype=ad.float32)
    d = ad.nn.Dropout(0.25)
    y = d(x)
    kept = float((y != 0.0).astype(ad.float32).sum().item()) / 1000
    assert 0.65 < kept < 0.85
    np.testing.assert_allclose(np.unique(y.numpy()), [0.0, 1 / 0.75], rtol=1e-6)
    d.eval()
    assert d(x) is x


def test_fused_cross_entropy_gradients_to_second_order(rng: np.random.Generator) -> None:
    from autodiff.ops.special import softmax_cross_entropy

    logits = make(rng.standard_normal((2, 3, 4)) * 3)
    labels = ad.tensor(np.array([[0, 3, 1], [2, 2, 0]]))
    check_grads(lambda a: softmax_cross_entropy(a, labels), (logits,), order=2)
    check_grads(lambda a: ad.nn.cross_entropy(a[0], labels[0]), (logits,), order=2)
    # both outputs carry gradients: the loss and, through the log-sum-exp, the softmax
    check_grads(
        lambda a: ad.nn.cross_entropy(a, labels[0], reduction="sum") * ad.logsumexp(a[0, 0]),
        (logits[0],),
        order=2,
    )


def test_fused_cross_entropy_flags_bad_labels_with_nan() -> None:
    from autodiff.ops.special import softmax_cross_entropy

    x = make([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]], requires_grad=True)
    loss = softmax_cross_entropy(x, ad.tensor([1, 3]))  # 3 is not a class of 3
    assert np.isfinite(loss.numpy()[0]) and np.isnan(loss.numpy()[1])
    ad.sum(loss).backward()
    g = x.grad.numpy()
    assert np.isfinite(g[0]).all() and np.isnan(g[1]).all()  # never a silently wrong zero
    with pytest.raises(ValueError, match="shape"):
        softmax_cross_entropy(x, ad.tensor([1, 2, 0]))
    with pytest.raises(TypeError, match="integer labels"):
        softmax_cross_entropy(x, make([1.0, 2.0]))
    # an all -inf row: NaN (-inf - -inf, as PyTorch); log(0) is guarded (only NumPy's
    # "invalid value" for that subtraction remains)
    inf = make([[-np.inf, -np.inf], [0.0, 1.0]])
    with np.errstate(invalid="ignore"):
        out = softmax_cross_entropy(inf, ad.tensor([0, 1])).numpy()
    assert np.isnan(out[0]) and np.isfinite(out[1])
