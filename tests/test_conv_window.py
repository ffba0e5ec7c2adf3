"""The sliding-window primitives (``autodiff.ops.window``: ``unfold`` and its adjoint
``fold``) and the layers built on them (``conv2d``, ``max_pool2d``): values and gradients
against PyTorch (float64), derivatives to order 2 in both modes against finite
differences, the adjoint identity, ``vmap`` against a loop, and bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff._graph import walk_graph
from autodiff.ops.window import fold, unfold
from autodiff.testing import check_grads

from .conftest import make, rtol

F = ad.nn.functional

#: (N, C, H, W), (O, kh, kw), stride, padding: square and not, remainders, stride > kernel
CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3), 1, 1),
    ((2, 3, 9, 8), (4, 3, 3), 2, 0),
    ((1, 2, 8, 9), (3, 2, 2), 3, 2),
    ((3, 1, 5, 5), (2, 1, 3), 1, 0),
    ((1, 2, 6, 7), (2, 2, 3), 2, 1),
]
#: (N, C, H, W), kernel, stride (None: the kernel): tiling, remainders, overlapping, gaps
POOL_CASES = [
    ((2, 3, 8, 8), 2, None),
    ((2, 3, 7, 9), 2, None),  # odd sizes: the last row and column are left out
    ((1, 2, 8, 7), 3, None),
    ((2, 2, 6, 5), 2, 1),  # overlapping windows
    ((1, 3, 9, 8), 3, 2),
    ((1, 1, 7, 7), 2, 3),  # gaps between windows
]


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


def _tol() -> float:
    # PyTorch runs in float64; a backend without exact float64 (MLX) in float32
    return rtol(1e-12)


def _torch_grads(torch: Any, fn: Any, arrays: list[np.ndarray], g: np.ndarray) -> Any:
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(torch.tensor(g))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _our_grads(fn: Any, arrays: list[np.ndarray], g: np.ndarray) -> Any:
    xs = [make(a) for a in arrays]
    out = fn(*xs)
    grads = ad.grad(lambda *a: (fn(*a) * make(g)).sum(), argnums=tuple(range(len(xs))))(*xs)
    return out.numpy(), [gr.numpy() for gr in grads]


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), CONV_CASES)
def test_conv2d_values_and_gradients_match_torch(
    torch: Any, rng: np.random.Generator, shape: Any, kernel: Any, stride: int, padding: int
) -> None:
    o, kh, kw = kernel
    x = rng.standard_normal(shape)
    w = rng.standard_normal((o, shape[1], kh, kw))
    b = rng.standard_normal(o)
    ref, ref_grads = _torch_grads(
        torch,
        lambda a, k, c: torch.nn.functional.conv2d(a, k, c, stride=stride, padding=padding),
        [x, w, b],
        g := rng.standard_normal(
            (
                shape[0],
                o,
                (shape[2] + 2 * padding - kh) // stride + 1,
                (shape[3] + 2 * padding - kw) // stride + 1,
            )
        ),
    )
    out, grads = _our_grads(
        lambda a, k, c: F.conv2d(a, k, c, stride=stride, padding=padding), [x, w, b], g
    )
    np.testing.assert_allclose(out, ref, rtol=_tol(), atol=_tol())
    for ours, theirs in zip(grads, ref_grads):
        np.testing.assert_allclose(ours, theirs, rtol=_tol(), atol=_tol())


@pytest.mark.parametrize(("shape", "kernel", "stride"), POOL_CASES)
def test_max_pool2d_values_and_gradients_match_torch(
    torch: Any, rng: np.random.Generator, shape: Any, kernel: int, stride: Any
) -> None:
    x = rng.permutation(np.arange(float(np.prod(shape)))).reshape(shape) / 7  # no ties
    ref = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride)
    g = rng.standard_normal(tuple(ref.shape))
    ref, ref_grads = _torch_grads(
        torch, lambda a: torch.nn.functional.max_pool2d(a, kernel, stride), [x], g
    )
    out, grads = _our_grads(lambda a: F.max_pool2d(a, kernel, stride), [x], g)
    assert out.shape == ref.shape  # torch floors: rows no window covers are left out
    np.testing.assert_allclose(out, ref, rtol=_tol())
    np.testing.assert_allclose(grads[0], ref_grads[0], rtol=_tol(), atol=0)


def test_max_pool2d_ties_share_the_gradient() -> None:
    # documented: tied maxima of a window share its gradient equally (as ad.max does);
    # PyTorch gives it all to one of them. The window's total is the same.
    x = make(np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 1.0, 2.0, -1.0]]]]))
    g = ad.grad(lambda a: (F.max_pool2d(a, 2) * make(np.array([[[[4.0, 6.0]]]]))).sum())(x)
    np.testing.assert_allclose(
        g.numpy(), [[[[1.0, 1.0, 0.0, 3.0], [1.0, 1.0, 3.0, 0.0]]]], rtol=rtol(1e-12)
    )


def test_unfold_matches_torch_unfold(torch: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 7, 6))
    for kernel, stride, padding in (((3, 2), 1, 1), ((2, 2), 2, 0), ((3, 3), 2, 2)):
        ref = torch.nn.functional.unfold(
            torch.tensor(x), kernel, padding=padding, stride=stride
        ).numpy()
        out = unfold(make(x), kernel, stride=stride, padding=padding).numpy()
        # ours is (N, C, kh*kw, Ho, Wo); torch's (N, C*kh*kw, Ho*Wo) is its reshape
        np.testing.assert_allclose(out.reshape(ref.shape), ref, rtol=_tol())
        cols = rng.standard_normal(out.shape)
        theirs = torch.nn.functional.fold(
            torch.tensor(cols.reshape(ref.shape)),
            (7, 6),
            kernel,
            padding=padding,
            stride=stride,
        ).numpy()
        ours = fold(make(cols), (7, 6), kernel, stride=stride, padding=padding).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=_tol(), atol=_tol())


@pytest.mark.parametrize(
    ("kernel", "stride", "padding"), [(2, 1, 0), ((3, 2), 1, 1), (2, 2, 0), (3, 2, 1), (2, 3, 0)]
)
def test_fold_is_the_transpose_of_unfold(
    rng: np.random.Generator, kernel: Any, stride: int, padding: int
) -> None:
    x = rng.standard_normal((2, 7, 8))
    cols = unfold(make(x), kernel, stride=stride, padding=padding)
    c = rng.standard_normal(cols.shape)
    lhs = float(ad.sum(cols * make(c)))
    rhs = float(ad.sum(make(x) * fold(make(c), (7, 8), kernel, stride=stride, padding=padding)))
    np.testing.assert_allclose(lhs, rhs, rtol=rtol(1e-12))


def test_derivatives_to_second_order_both_modes(rng: np.random.Generator) -> None:
    x = make(rng.standard_normal((1, 2, 5, 4)))
    w = make(rng.standard_normal((2, 2, 3, 2)))
    b = make(rng.standard_normal(2))
    for stride, padding in ((1, 1), (2, 0), (2, 2)):
        check_grads(
            lambda a, k, c, s=stride, p=padding: F.conv2d(a, k, c, stride=s, padding=p),
            (x, w, b),
            order=2,
            modes=("rev", "fwd"),
        )
    xt = make(rng.permutation(np.arange(40.0)).reshape(1, 2, 5, 4) / 10)  # no ties
    for k, s in ((2, None), (2, 1), (3, 2)):
        check_grads(lambda a, k=k, s=s: F.max_pool2d(a, k, s), (xt,), order=2, modes=("rev", "fwd"))
    cols = make(rng.standard_normal((2, 6, 3, 3)))
    check_grads(lambda c: fold(c, (5, 4), (3, 2), stride=2, padding=1), (cols,), order=2)


def _cnn(p: dict[str, Any], x: Any, y: Any) -> Any:
    h = ad.relu(F.conv2d(x, p["cw"], p["cb"], padding=1))
    h = F.max_pool2d(h, 2)
    h = ad.reshape(h, (h.shape[0], -1))
    return ad.nn.cross_entropy(h @ p["w"] + p["b"], y)


def test_per_example_cnn_gradients_match_a_loop(rng: np.random.Generator) -> None:
    params = {
        "cw": make(rng.standard_normal((3, 2, 3, 3)) / 3),
        "cb": make(rng.standard_normal(3) / 10),
        "w": make(rng.standard_normal((3 * 3 * 2, 4)) / 4),
        "b": make(np.zeros(4)),
    }
    x = make(rng.permutation(np.arange(5 * 2 * 6 * 5.0)).reshape(5, 2, 6, 5) / 100)
    y = ad.tensor([0, 3, 1, 2, 3])

    def one(p: Any, xi: Any, yi: Any) -> Any:
        return _cnn(p, xi[None], yi[None])

    batched = ad.vmap(ad.grad(one), in_axes=(None, 0, 0))(params, x, y)
    for i in range(5):
        single = ad.grad(one)(params, x[i], y[i])
        for k in params:
            np.testing.assert_allclose(
                batched[k].numpy()[i], single[k].numpy(), rtol=rtol(1e-10), atol=rtol(1e-12)
            )


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_vmap_of_unfold_and_fold_matches_a_loop(rng: np.random.Generator, axis: int) -> None:
    x = np.moveaxis(rng.standard_normal((3, 2, 5, 6)), 0, axis)
    out = ad.vmap(lambda a: unfold(a, (2, 3), stride=2, padding=1), in_axes=axis)(make(x))
    for i in range(3):
        one = unfold(make(np.take(x, i, axis=axis)), (2, 3), stride=2, padding=1)
        np.testing.assert_array_equal(out.numpy()[i], one.numpy())
    c = np.moveaxis(rng.standard_normal((3, 2, 6, 3, 3)), 0, axis)
    back = ad.vmap(lambda a: fold(a, (5, 6), (2, 3), stride=2, padding=1), in_axes=axis)(make(c))
    for i in range(3):
        one = fold(make(np.take(c, i, axis=axis)), (5, 6), (2, 3), stride=2, padding=1)
        np.testing.assert_allclose(back.numpy()[i], one.numpy(), rtol=rtol(1e-12))


def test_conv_and_pool_are_a_few_primitives() -> None:
    # the windows are one primitive each: no slice per kernel tap, no stack
    x = make(np.ones((1, 2, 6, 6)), requires_grad=True)
    out = F.max_pool2d(F.conv2d(x, make(np.ones((3, 2, 3, 3))), make(np.ones(3)), padding=1), 2)
    names = [n.prim.name for n in walk_graph([out])]
    assert "getitem" not in names and "stack" not in names and "concat" not in names
    assert names.count("unfold") == 2 and len(names) <= 8, names


def test_bad_input_is_refused() -> None:
    x = make(np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        unfold(x, 4)
    with pytest.raises(ValueError, match="does not fit"):
        F.conv2d(x, make(np.ones((1, 1, 4, 4))))
    with pytest.raises(ValueError, match="does not fit"):
        F.max_pool2d(x, 4)
    with pytest.raises(ValueError, match="positive kernel size and stride"):
        unfold(x, 2, stride=0)
    with pytest.raises(ValueError, match="non-negative int padding"):
        unfold(x, 2, padding=-1)
    with pytest.raises(TypeError, match="pair of ints"):
        unfold(x, (2, 2, 2))
    with pytest.raises(ValueError, match="windows of shape"):
        fold(make(np.ones((4, 2, 3))), (3, 3), 2)
