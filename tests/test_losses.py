"""Every loss of ad.nn against torch.nn.functional in float64: values and gradients, with
every reduction and every combination of weight / ignore_index / label_smoothing."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest

import autodiff as ad

from .conftest import make, rtol

F = ad.nn.functional
LOSSES = (
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
    "soft_cross_entropy_loss",
)
REDUCTIONS = ("mean", "sum", "none")


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


def _t(torch: Any, a: Any, grad: bool = False) -> Any:
    a = np.asarray(a)
    dtype = torch.float64 if a.dtype.kind == "f" else torch.int64
    return torch.tensor(a, dtype=dtype, requires_grad=grad)


def _ad(a: Any, grad: bool = False) -> ad.Tensor:
    a = np.asarray(a)
    return make(a, requires_grad=grad) if a.dtype.kind == "f" else ad.tensor(a)


def _compare(
    torch: Any, fn_ad: Any, fn_t: Any, diff: tuple[Any, ...], fixed: tuple[Any, ...] = ()
) -> None:
    """fn(*diff, *fixed) on both libraries: values, then gradients for every ``diff`` array."""
    xs = [_ad(a, True) for a in diff]
    ts = [_t(torch, a, True) for a in diff]
    out = fn_ad(*xs, *(_ad(a) for a in fixed))
    ref = fn_t(*ts, *(_t(torch, a) for a in fixed))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol(1e-9), atol=rtol(1e-12))
    cot = np.random.default_rng(5).standard_normal(tuple(ref.shape))
    (out * make(cot)).sum().backward()
    (ref * _t(torch, cot)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(
            x.grad.numpy(), t.grad.numpy(), rtol=rtol(1e-9), atol=rtol(1e-11)
        )


def test_every_loss_is_one_function_in_both_places() -> None:
    for name in LOSSES:
        assert getattr(F, name) is getattr(ad.nn, name), name
        assert name in F.__all__ and name in ad.nn.__all__


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("ignore", [None, -100, 2])
def test_cross_entropy_class_indices(
    torch: Any, reduction: str, weighted: bool, smoothing: float, ignore: int | None
) -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((7, 4)) * 2
    labels = np.array([0, 3, 1, 1, 2, 0, 2])
    kw: dict[str, Any] = {"reduction": reduction, "label_smoothing": smoothing}
    if ignore is not None:
        labels[[1, 4]] = ignore
        if ignore != -100:
            kw["ignore_index"] = ignore
    weight = rng.uniform(0.5, 2.0, 4)
    tf = torch.nn.functional
    _compare(
        torch,
        lambda a, y, w: F.cross_entropy(a, y, weight=w if weighted else None, **kw),
        lambda t, y, w: tf.cross_entropy(t, y, weight=w if weighted else None, **kw),
        (logits,),
        (labels, weight),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probabilities(
    torch: Any, reduction: str, weighted: bool, smoothing: float
) -> None:
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((5, 3))
    probs = rng.dirichlet(np.ones(3), size=5)
    weight = rng.uniform(0.5, 2.0, 3)
    kw: dict[str, Any] = {"reduction": reduction, "label_smoothing": smoothing}
    tf = torch.nn.functional
    # gradients with respect to the logits and the target probabilities
    _compare(
        torch,
        lambda a, p, w: F.cross_entropy(a, p, weight=w if weighted else None, **kw),
        lambda t, p, w: tf.cross_entropy(t, p, weight=w if weighted else None, **kw),
        (logits, probs),
        (weight,),
    )


def test_cross_entropy_extra_axes_put_classes_last(torch: Any) -> None:
    # torch puts classes on axis 1 of (N, C, d); autodiff keeps them last: (N, d, C)
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((3, 5, 4))
    labels = np.array([[0, 1, 3, 2, -100], [1, 1, 0, 3, 2], [2, -100, 0, 0, 1]])
    weight = rng.uniform(0.5, 2.0, 4)
    tf = torch.nn.functional
    for kw in ({}, {"weight": True, "label_smoothing": 0.1}, {"reduction": "none"}):
        ka = {k: v for k, v in kw.items() if k != "weight"}
        _compare(
            torch,
            lambda a, y, w, ka=ka, kw=kw: F.cross_entropy(
                a, y, weight=w if "weight" in kw else None, **ka
            ),
            lambda t, y, w, ka=ka, kw=kw: tf.cross_entropy(
                t.permute(0, 2, 1), y, weight=w if "weight" in kw else None, **ka
            ),
            (logits,),
            (labels, weight),
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, -100, 0])
def test_nll_loss(torch: Any, reduction: str, weighted: bool, ignore: int | None) -> None:
    rng = np.random.default_rng(3)
    log_probs = rng.standard_normal((6, 5)) - 2
    labels = np.array([0, 4, 1, 3, 2, 0])
    kw: dict[str, Any] = {"reduction": reduction}
    if ignore is not None:
        labels[2] = ignore
        if ignore != -100:
            kw["ignore_index"] = ignore
    weight = rng.uniform(0.5, 2.0, 5)
    tf = torch.nn.functional
    _compare(
        torch,
        lambda a, y, w: F.nll_loss(a, y, weight=w if weighted else None, **kw),
        lambda t, y, w: tf.nll_loss(t, y, weight=w if weighted else None, **kw),
        (log_probs,),
        (labels, weight),
    )


def test_everything_ignored_gives_nan_mean_as_torch(torch: Any) -> None:
    logits = np.zeros((2, 3))
    labels = np.array([-100, -100])
    with np.errstate(invalid="ignore"):  # NumPy (and Dask, when computing) warn about 0 / 0
        out = F.cross_entropy(make(logits), ad.tensor(labels)).item()
    ref = torch.nn.functional.cross_entropy(_t(torch, logits), _t(torch, labels))
    assert np.isnan(out) and np.isnan(ref.item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(torch: Any, reduction: str, weighted: bool) -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, (4, 3))
    y = rng.uniform(0.0, 1.0, (4, 3))
    w = rng.uniform(0.5, 2.0, (4, 3))
    tf = torch.nn.functional
    _compare(
        torch,
        lambda a, t, w: F.binary_cross_entropy(
            a, t, weight=w if weighted else None, reduction=reduction
        ),
        lambda a, t, w: tf.binary_cross_entropy(
            a, t, weight=w if weighted else None, reduction=reduction
        ),
        (p, y),
        (w,),
    )


def test_binary_cross_entropy_clamps_the_log_as_torch(torch: Any) -> None:
    p, y = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    out = F.binary_cross_entropy(make(p), make(y), reduction="none")
    ref = torch.nn.functional.binary_cross_entropy(_t(torch, p), _t(torch, y), reduction="none")
    np.testing.assert_array_equal(out.numpy(), ref.numpy())  # [100, 100, 0, 0]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
def test_binary_cross_entropy_with_logits(
    torch: Any, reduction: str, weighted: bool, pos: bool
) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3)) * 20  # large scores: the stable form must not overflow
    y = rng.uniform(0.0, 1.0, (4, 3))
    w = rng.uniform(0.5, 2.0, (4, 3))
    pw = rng.uniform(0.5, 3.0, 3)
    tf = torch.nn.functional

    def kw(w: Any, pw: Any) -> dict[str, Any]:
        return {
            "weight": w if weighted else None,
            "pos_weight": pw if pos else None,
            "reduction": reduction,
        }

    _compare(
        torch,
        lambda a, t, w, pw: F.binary_cross_entropy_with_logits(a, t, **kw(w, pw)),
        lambda a, t, w, pw: tf.binary_cross_entropy_with_logits(a, t, **kw(w, pw)),
        (x, y),
        (w, pw),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("mse_loss", {}),
        ("l1_loss", {}),
        ("smooth_l1_loss", {}),
        ("smooth_l1_loss", {"beta": 0.4}),
        ("smooth_l1_loss", {"beta": 0.0}),
        ("huber_loss", {}),
        ("huber_loss", {"delta": 0.4}),
        ("huber_loss", {"delta": 2.5}),
    ],
)
def test_regression_losses(torch: Any, reduction: str, name: str, kw: dict[str, Any]) -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 4)) * 2
    y = rng.standard_normal((5, 4))
    tf = torch.nn.functional
    _compare(
        torch,
        lambda a, t: getattr(F, name)(a, t, reduction=reduction, **kw),
        lambda a, t: getattr(tf, name)(a, t, reduction=reduction, **kw),
        (x, y),
    )


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(torch: Any, reduction: str, log_target: bool) -> None:
    rng = np.random.default_rng(7)
    log_q = np.log(rng.dirichlet(np.ones(4), size=3))
    p = rng.dirichlet(np.ones(4), size=3)
    target = np.log(p) if log_target else p
    tf = torch.nn.functional

    def ref(a: Any, t: Any) -> Any:
        with warnings.catch_warnings():  # torch warns that "mean" is not the true KL
            warnings.simplefilter("ignore", UserWarning)
            return tf.kl_div(a, t, reduction=reduction, log_target=log_target)

    _compare(
        torch,
        lambda a, t: F.kl_div(a, t, reduction=reduction, log_target=log_target),
        ref,
        (log_q, target),
    )


def test_kl_div_zero_target_contributes_zero(torch: Any) -> None:
    log_q = np.log(np.array([[0.2, 0.3, 0.5]]))
    p = np.array([[0.0, 0.4, 0.6]])
    _compare(
        torch,
        lambda a: F.kl_div(a, make(p), reduction="sum"),
        lambda t: torch.nn.functional.kl_div(t, _t(torch, p), reduction="sum"),
        (log_q,),
    )


def test_bad_arguments_say_what_is_wrong() -> None:
    x = make(np.zeros((2, 3)))
    y = ad.tensor([0, 1])
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy"):
        with pytest.raises(ValueError, match="reduction must be one of"):
            getattr(F, name)(x, x, reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, y, reduction="batchmean")
    with pytest.raises(ValueError, match="one value per class"):
        F.cross_entropy(x, y, weight=make(np.ones(2)))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="class-index targets"):
        F.cross_entropy(x, ad.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="ignore_index applies to class-index"):
        F.cross_entropy(x, make(np.full((2, 3), 1 / 3)), ignore_index=0)
    with pytest.raises(TypeError, match="integer class targets"):
        F.nll_loss(x, make(np.full((2, 3), 1 / 3)))
    with pytest.raises(ValueError, match="beta >= 0"):
        F.smooth_l1_loss(x, x, beta=-1.0)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_a_label_out_of_range_gives_nan_not_a_silent_value(smoothing: float) -> None:
    x = make(np.zeros((2, 3)))
    for labels in ([0, 3], [0, -1]):
        out = F.cross_entropy(x, ad.tensor(labels), reduction="none", label_smoothing=smoothing)
        assert np.isnan(out.numpy()[1]) and not np.isnan(out.numpy()[0])
        out = F.nll_loss(x, ad.tensor(labels), reduction="none")
        assert np.isnan(out.numpy()[1]) and not np.isnan(out.numpy()[0])


def test_combinations_are_differentiable_twice() -> None:
    from autodiff.testing import check_grads

    rng = np.random.default_rng(8)
    logits = make(rng.standard_normal((4, 3)))
    labels = ad.tensor([0, 2, -100, 1])
    weight = make(rng.uniform(0.5, 2.0, 3))
    for kw in itertools.product([None, weight], [0.0, 0.2]):
        check_grads(
            lambda a, kw=kw: F.cross_entropy(a, labels, weight=kw[0], label_smoothing=kw[1]),
            (logits,),
            order=2,
        )


def test_everything_ignored_gives_zero_gradients_as_torch(torch: Any) -> None:
    """The fused default path: loss NaN (0 / 0) but every gradient 0, as PyTorch."""
    logits = np.random.default_rng(7).standard_normal((3, 4))
    labels = np.array([-100, -100, -100])
    x = make(logits, requires_grad=True)
    with np.errstate(invalid="ignore"):  # (Dask computes, and warns, when read)
        loss = F.cross_entropy(x, ad.tensor(labels))
        loss.backward()
        value, grad = loss.item(), np.asarray(x.grad.numpy())
    xt = _t(torch, logits, grad=True)
    torch.nn.functional.cross_entropy(xt, _t(torch, labels)).backward()
    assert np.isnan(value)
    np.testing.assert_array_equal(grad, xt.grad.numpy())


@pytest.mark.parametrize("ignore", [-100, 1])
def test_default_cross_entropy_is_one_fused_node_plus_the_sum(ignore: int) -> None:
    """ignore_index is handled inside softmax_cross_entropy: the default loss records two
    nodes (it recorded a mask, a where, a cast and a division around it), and its
    gradients, to second order, still agree with finite differences."""
    from autodiff.testing import check_grads

    rng = np.random.default_rng(8)
    labels = ad.tensor(np.array([0, ignore, 2, 3, ignore]))
    x = make(rng.standard_normal((5, 4)), requires_grad=True)
    loss = F.cross_entropy(x, labels, ignore_index=ignore)
    node, seen = loss._node, 0
    while node is not None:
        seen += 1
        parents = [t for t in node.inputs if isinstance(t, ad.Tensor) and t._node is not None]
        node = parents[0]._node if parents else None
    assert seen == 2
    for reduction in ("mean", "sum", "none"):
        check_grads(
            lambda a, r=reduction: F.cross_entropy(a, labels, ignore_index=ignore, reduction=r),
            (x.detach(),),
            order=2,
        )
