"""Writes through views reach their base, and in-place writes never corrupt a gradient.

Every view operation of the namespace is written into, by assignment and by an in-place
operator; the base, the view and another live view of the base are compared with NumPy
running the same program, and the gradient with PyTorch's (where PyTorch has the view)
and with central finite differences, first and second order, eagerly and under
``ad.compile``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.testing import check_grads

from .conftest import make, rtol

X0 = np.linspace(-1.3, 1.7, 12).reshape(3, 4)
W = np.arange(12.0).reshape(3, 4) / 7.0


def _np_ops() -> dict[str, Any]:
    return {
        "reshape": np.reshape,
        "permute": np.permute_dims,
        "mT": np.matrix_transpose,
        "expand": np.expand_dims,
        "squeeze": np.squeeze,
        "unstack": np.unstack,
        "moveaxis": np.moveaxis,
        "flip": np.flip,
    }


def _ad_ops() -> dict[str, Any]:
    return {
        "reshape": ad.reshape,
        "permute": ad.permute_dims,
        "mT": ad.matrix_transpose,
        "expand": ad.expand_dims,
        "squeeze": ad.squeeze,
        "unstack": ad.unstack,
        "moveaxis": ad.moveaxis,
        "flip": ad.flip,
    }


def _torch_ops() -> dict[str, Any]:
    import torch

    return {
        "reshape": torch.reshape,
        "permute": torch.permute,
        "mT": lambda t: t.mT,
        "expand": lambda t, axis: torch.unsqueeze(t, axis),
        "squeeze": lambda t, axis: torch.squeeze(t, axis),
        # unbind's views refuse writes: the same views one by one
        "unstack": lambda t, axis: [t.select(axis, i) for i in range(t.shape[axis])],
        "moveaxis": torch.movedim,
        "flip": None,  # a copy in PyTorch, a view in NumPy
    }


# name -> (view of a (3, 4) tensor given the library's ops, whether PyTorch has it)
VIEWS: dict[str, tuple[Callable[[dict[str, Any], Any], Any], bool]] = {
    "slice": (lambda o, t: t[1:, ::2], True),
    "row": (lambda o, t: t[1], True),
    "0d-ellipsis": (lambda o, t: t[1, 2, ...], True),
    "newaxis": (lambda o, t: t[None, :, 1], True),
    "negative-step": (lambda o, t: t[::-1, 1:], False),
    "ellipsis-slice": (lambda o, t: t[..., 1:3], True),
    "reshape": (lambda o, t: o["reshape"](t, (2, 6)), True),
    "reshape-3d": (lambda o, t: o["reshape"](t, (3, 2, 2)), True),
    "reshape-of-slice": (lambda o, t: o["reshape"](t[1:], (8,)), True),
    "permute_dims": (lambda o, t: o["permute"](t, (1, 0)), True),
    "matrix_transpose": (lambda o, t: o["mT"](t), True),
    ".T": (lambda o, t: t.T, True),
    ".mT": (lambda o, t: o["reshape"](t, (1, 3, 4)).mT, True),
    "expand_dims": (lambda o, t: o["expand"](t, 1), True),
    "squeeze": (lambda o, t: o["squeeze"](o["reshape"](t, (3, 1, 4)), 1), True),
    "unstack": (lambda o, t: o["unstack"](t, axis=1)[2], True),
    "moveaxis": (lambda o, t: o["moveaxis"](o["reshape"](t, (3, 2, 2)), 0, -1), True),
    "flip": (lambda o, t: o["flip"](t, axis=0), False),
    "view-of-view": (lambda o, t: o["permute"](t, (1, 0))[1:][:, ::2], False),
    "transpose-then-row": (lambda o, t: t.T[2], True),
}
WRITES = ("set", "inplace")


def _program(m: Any, ops: dict[str, Any], x: Any, view: str, how: str) -> tuple[Any, Any, Any]:
    """The same program on NumPy, PyTorch or autodiff: write into a view of a copy of x."""
    y = x * 1.0
    other = y[0]  # a live view of the base, taken before the write
    v = VIEWS[view][0](ops, y)
    if how == "set":
        key: Any = (0,) if v.ndim else (...)
        v[key] = m.sin(x[0, 0]) * 2.0
    else:
        v *= 3.0
        v += m.cos(x[1, 1])
    return y, v, other


def _loss(m: Any, w: Any, y: Any, v: Any, other: Any) -> Any:
    return m.sum(m.sin(y) * w) + m.sum(v * v) + m.sum(other * other * other)


def _ad_loss(x: ad.Tensor, view: str, how: str) -> ad.Tensor:
    y, v, other = _program(ad, _ad_ops(), x, view, how)
    return _loss(ad, make(W), y, v, other)


@pytest.mark.parametrize("how", WRITES)
@pytest.mark.parametrize("view", list(VIEWS))
def test_a_write_into_a_view_reaches_the_base_as_in_numpy(view: str, how: str) -> None:
    y_np, v_np, o_np = _program(np, _np_ops(), X0.copy(), view, how)
    y, v, other = _program(ad, _ad_ops(), make(X0), view, how)
    tol = rtol(1e-12)
    np.testing.assert_allclose(y.numpy(), y_np, rtol=tol, atol=tol)
    np.testing.assert_allclose(v.numpy(), v_np, rtol=tol, atol=tol)
    np.testing.assert_allclose(other.numpy(), o_np, rtol=tol, atol=tol)
    assert not np.allclose(y_np, X0)  # the write did reach NumPy's base


@pytest.mark.parametrize("how", WRITES)
@pytest.mark.parametrize("view", [name for name, (_, has) in VIEWS.items() if has])
def test_gradients_through_views_are_pytorchs(view: str, how: str) -> None:
    torch = pytest.importorskip("torch")
    xt = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    yt, vt, ot = _program(torch, _torch_ops(), xt, view, how)
    _loss(torch, torch.tensor(W), yt, vt, ot).backward()

    x = make(X0, requires_grad=True)
    _ad_loss(x, view, how).backward()
    tol = rtol(1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("how", WRITES)
@pytest.mark.parametrize("view", list(VIEWS))
def test_gradients_through_views_match_finite_differences(view: str, how: str) -> None:
    # order 2 checks the gradient of the VJP too: create_graph=True
    check_grads(lambda t: _ad_loss(t, view, how), (make(X0),), order=2, modes=("rev",))


@pytest.mark.parametrize("view", ["reshape", "view-of-view", "unstack", "flip"])
def test_writes_through_views_under_compile(view: str) -> None:
    def loss(t: ad.Tensor) -> ad.Tensor:
        return _ad_loss(t, view, "set") + _ad_loss(t, view, "inplace")

    compiled = ad.compile(ad.grad(loss))
    eager = ad.grad(loss)
    tol = rtol(1e-12)
    for k in range(3):
        x = make(X0 + k)
        np.testing.assert_allclose(compiled(x).numpy(), eager(x).numpy(), rtol=tol, atol=tol)
    assert compiled.replays == 2


# -- the examples -------------------------------------------------------------


def test_a_write_into_a_reshape_reaches_the_base() -> None:
    x = ad.zeros((2, 3))
    v = ad.reshape(x, (6,))
    v[5] = 2.0
    assert float(x[1, 2]) == 2.0
    assert x.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]


def test_an_inplace_multiply_does_not_reach_an_earlier_product() -> None:
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1.0
    z = y * 2.0
    y *= 3.0
    z.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    assert y.tolist() == [3.0, 6.0, 9.0]


def _torch_grad(program: Callable[[Any, Any], Any], x0: Any, retain: bool = False) -> Any:
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    program(torch, xt).backward()
    return xt.grad.numpy()


def _subtract_mean(m: Any, x: Any) -> Any:
    y = x * 1.0
    y -= m.mean(y)
    return m.sum(y * y * m.asarray([1.0, 2.0, 4.0], dtype=y.dtype))


def _assign_from_itself(m: Any, x: Any) -> Any:
    y = x * 1.0
    y[0] = y[1] * 2
    return m.sum(m.sin(y) * y)


@pytest.mark.parametrize("program", [_subtract_mean, _assign_from_itself])
def test_inplace_updates_that_read_the_tensor_differentiate(program: Any) -> None:
    x0 = np.array([0.3, -1.2, 2.5])
    expected = _torch_grad(program, x0)
    x = make(x0, requires_grad=True)
    out = program(ad, x)
    out.backward(retain_graph=True)  # no "graph freed", no cycle
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=rtol(1e-12))
    out.backward()  # the retained graph runs again and ends
    np.testing.assert_allclose(x.grad.numpy(), 2 * expected, rtol=rtol(1e-12))
    check_grads(lambda t: program(ad, t), (make(x0),), order=2, modes=("rev",))


def test_gradients_use_the_values_operations_used_where_pytorch_raises() -> None:
    # PyTorch: "one of the variables needed for gradient computation has been modified by
    # an inplace operation". Every operation here keeps the value it used.
    def f(x: ad.Tensor) -> ad.Tensor:
        y = x * 1.0
        z = y * y  # uses y before the writes
        w = ad.exp(y)
        y *= 3.0
        y[1] = z[0] + w[2]
        y += ad.sum(y)
        return ad.sum(z * y) + ad.sum(w * w)

    x0 = np.array([0.4, -0.7, 1.1])
    check_grads(f, (make(x0),), order=2, modes=("rev",))
    # by hand: the value each operation used
    x = make(x0, requires_grad=True)
    f(x).backward()
    y = 3 * x0
    y[1] = x0[0] ** 2 + np.exp(x0[2])
    y = y + y.sum()
    # d/dx of sum(x^2 * y(x)) + sum(exp(2x)), y as above
    eps = 1e-6

    def value(a: np.ndarray) -> float:
        yy = 3 * a
        yy[1] = a[0] ** 2 + np.exp(a[2])
        yy = yy + yy.sum()
        return float(np.sum(a * a * yy) + np.sum(np.exp(2 * a)))

    fd = [(value(x0 + eps * e) - value(x0 - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(x.grad.numpy(), fd, rtol=1e-6 if rtol() < 1e-6 else 1e-3)


def test_a_tensor_that_becomes_differentiable_by_a_write_keeps_earlier_uses_constant() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    buf = ad.zeros_like(x)  # does not require grad
    z = buf * x + x  # buf used as a constant
    buf[0] = x[1] * 5.0  # buf now requires grad
    (ad.sum(z) + ad.sum(buf)).backward()
    # d/dx of (0*x0 + x0) + (0*x1 + x1) + 5 x1
    assert x.grad.tolist() == [1.0, 6.0]


def test_create_graph_through_an_inplace_write() -> None:
    torch = pytest.importorskip("torch")

    def f(m: Any, x: Any) -> Any:
        y = x * 1.0
        z = y * 2.0  # before the writes
        y[0] = x[1] * x[2]
        y += m.sin(x)
        return m.sum(z * z * z) + m.sum(y * y * y)

    x0 = np.array([0.5, -0.8, 1.3])
    xt = torch.tensor(x0, requires_grad=True)
    (gt,) = torch.autograd.grad(f(torch, xt), xt, create_graph=True)
    torch.sum(gt * gt).backward()

    x = make(x0, requires_grad=True)
    f(ad, x).backward(create_graph=True)
    g = x.grad
    x.grad = None
    ad.sum(g * g).backward()
    tol = rtol(1e-10)
    np.testing.assert_allclose(g.detach().numpy(), gt.detach().numpy(), rtol=tol)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=tol)


# -- what NumPy copies, what is read-only, what a leaf forbids -------------------------


def test_broadcast_to_is_read_only() -> None:
    b = ad.broadcast_to(make([1.0, 2.0]), (3, 2))
    with pytest.raises(ValueError, match="read-only"):
        b[0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        b += 1.0
    with pytest.raises(ValueError, match="read-only"):
        b[1:][0, 0] = 1.0  # a view of a read-only view is read-only
    assert b.tolist() == [[1.0, 2.0]] * 3
    with pytest.raises(ValueError, match="read-only"):
        np.broadcast_to(np.array([1.0, 2.0]), (3, 2))[0] = 5.0  # as NumPy


def test_what_numpy_copies_is_a_copy() -> None:
    for make_copy in (
        lambda m, t: m.reshape(m.permute_dims(t, (1, 0)), (12,)),  # needs a copy
        lambda m, t: t[1, 2],  # every axis by an int: a scalar in NumPy
        lambda m, t: t[m.asarray([0, 2])],  # advanced indexing
    ):
        a = X0.copy()
        c = np.asarray(make_copy(np, a))  # NumPy gives a scalar: as a 0-d array
        c[...] = 7.0
        x = make(X0)
        d = make_copy(ad, x)
        d[...] = 7.0
        np.testing.assert_array_equal(a, X0)
        np.testing.assert_array_equal(x.numpy(), X0)
        assert np.all(d.numpy() == 7.0)


def test_reshape_copy_false_raises_where_a_copy_is_needed() -> None:
    x = make(X0)
    with pytest.raises(ValueError, match="without a copy"):
        ad.reshape(x.T, (12,), copy=False)
    v = ad.reshape(x, (12,), copy=False)
    v[0] = 9.0
    assert float(x[0, 0]) == 9.0


def test_a_write_into_the_base_is_seen_by_its_views() -> None:
    x = make(X0, requires_grad=True)
    y = x * 1.0
    t = y.T
    row = y[1]
    y[1, ...] = x[0] * 2.0
    y += 1.0
    expected = X0.copy()
    expected[1] = X0[0] * 2.0
    expected += 1.0
    np.testing.assert_allclose(t.numpy(), expected.T, rtol=rtol(1e-12))
    np.testing.assert_allclose(row.numpy(), expected[1], rtol=rtol(1e-12))
    ad.sum(t * t).backward()
    grad = 2 * expected
    grad[0] += 2 * (2 * expected[1])
    grad[1] = 0.0
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=rtol(1e-12))


def test_a_view_of_a_leaf_that_requires_grad_is_written_only_under_no_grad() -> None:
    w = make(X0, requires_grad=True)
    t = w.T
    with pytest.raises(RuntimeError, match="view of a leaf"):
        t[0] = 1.0
    with pytest.raises(RuntimeError, match="view of a leaf"):
        t *= 2.0
    np.testing.assert_array_equal(w.numpy(), X0)
    with ad.no_grad():
        t[0] = 1.0
    assert w.is_leaf and w.requires_grad
    assert w.numpy()[:, 0].tolist() == [1.0, 1.0, 1.0]
    assert t.numpy()[0].tolist() == [1.0, 1.0, 1.0]


def test_views_without_recording_or_requires_grad() -> None:
    a = X0.copy()
    x = make(X0)
    for m, t in ((np, a), (ad, x)):
        v = m.reshape(t, (2, 6))[:, 1:]
        v[1] = -1.0
        col = t[:, 3]
        col *= 2.0
    np.testing.assert_array_equal(x.numpy(), a)


def test_views_that_die_are_forgotten() -> None:
    x = make(X0)
    for i in range(100):
        _ = x[i % 3]
    assert len(x._views) < 40  # type: ignore[attr-defined]
    x[0] = 1.0
    assert x.numpy()[0].tolist() == [1.0] * 4


PARTS: dict[str, Callable[[Any, Any], Any]] = {
    "real": lambda m, z: m.real(z),
    "imag": lambda m, z: m.imag(z),
    "real-row": lambda m, z: m.real(z)[1],
    "imag-of-transpose": lambda m, z: m.imag(z.T)[:, 0],
}


def _parts_program(m: Any, x: Any, part: str) -> Any:
    if m is np:
        z = x * (1.0 + 0.5j)
    elif m is ad:
        wide = x.dtype == ad.float64 and ad.get_backend().supports(ad.complex128)
        z = ad.astype(x, ad.complex128 if wide else ad.complex64) * (1.0 + 0.5j)
    else:
        z = x.to(m.complex128) * (1.0 + 0.5j)
    v = PARTS[part](m, z)
    factor = m.sin(x[0, 1])
    if m is ad:
        factor = ad.astype(factor, v.dtype)  # float32 parts where complex128 is missing
    v *= factor  # a write into one part of z
    return z, v


@pytest.mark.parametrize("part", list(PARTS))
def test_real_and_imag_of_a_complex_tensor_are_views(part: str) -> None:
    if part == "imag-of-transpose" and ad.get_backend().name == "dask":
        pytest.skip("Dask's take of a complex array warns ComplexWarning (its meta is real)")
    z_np, v_np = _parts_program(np, X0.copy(), part)
    z, v = _parts_program(ad, make(X0), part)
    tol = rtol(1e-12)
    np.testing.assert_allclose(z.numpy(), z_np, rtol=tol, atol=tol)
    np.testing.assert_allclose(v.numpy(), v_np, rtol=tol, atol=tol)

    def loss(m: Any, x: Any) -> Any:
        z, v = _parts_program(m, x, part)
        return m.sum(m.real(z * m.conj(z)) * m.imag(z)) + m.sum(v * v)

    torch = pytest.importorskip("torch")
    xt = torch.tensor(X0, requires_grad=True)
    loss(torch, xt).backward()
    x = make(X0, requires_grad=True)
    loss(ad, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)
    check_grads(lambda t: loss(ad, t), (make(X0),), order=2, modes=("rev",))


def test_imag_of_a_real_tensor_is_read_only_and_real_is_the_tensor() -> None:
    x = make(X0)
    try:
        zeros = ad.imag(x)
    except (TypeError, ValueError):
        pytest.skip("this backend has imag of complex tensors only, as the standard")
    with pytest.raises(ValueError, match="read-only"):
        zeros[0] = 1.0
    r = ad.real(x)
    r[0] = 5.0
    assert x.numpy()[0].tolist() == [5.0] * 4


def test_the_drawn_graph_shows_what_each_operation_used() -> None:
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1.0
    y -= ad.mean(y)
    dot = ad.viz.to_dot(y)
    ops = {
        line.split(" [")[0].strip(): line.split('label="')[1].split("\\n")[0]
        for line in dot.splitlines()
        if "shape=box" in line and "label=" in line
    }
    edges = {
        (ops.get(a.strip(), a.strip()), ops.get(b.strip(" ;"), b.strip(" ;")))
        for a, b in (line.split("->") for line in dot.splitlines() if "->" in line)
    }
    assert ("multiply", "mean") in edges and ("subtract", "mean") not in edges


def test_a_long_lived_tensor_written_at_every_step_does_not_keep_every_state() -> None:
    from autodiff.engine import REBOUND

    w = make([0.5, -0.25], requires_grad=True)
    state = ad.zeros_like(w)
    for k in range(100):
        state[...] = w * float(k)  # recorded, at every step, into the same tensor
        ad.sum(state * state).backward()
    kept = [old for old in REBOUND[id(state)][2] if old.data is not None]
    assert len(kept) < 70  # the states whose graph backward freed are let go
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.numpy() * sum(k * k for k in range(100)))


# -- what NumPy answers with a new array stays one, though built from views ------------------


@pytest.mark.parametrize("fn", ["tile", "repeat", "meshgrid"])
def test_results_numpy_copies_are_not_views_of_their_input(fn: str) -> None:
    # tile, repeat and meshgrid are built from reshape/broadcast_to; NumPy returns new,
    # writable arrays: a write into the input must not reach them, nor theirs the input
    def run(xp: Any, x: Any) -> tuple[Any, Any]:
        if fn == "tile":
            out = xp.tile(x, (1, 1))
        elif fn == "repeat":
            out = xp.repeat(xp.reshape(x, (-1,)), 1) if xp is ad else np.repeat(x.ravel(), 1)
        else:
            out = xp.meshgrid(x[0, :], x[1, :3])[0]
        out_before = out * 1.0
        x[0, 0] = 7.0
        out[1, ...] = -1.0
        return out, out_before

    xn = np.array(X0)
    xa = make(X0)
    (on, bn), (oa, ba) = run(np, xn), run(ad, xa)
    np.testing.assert_array_equal(np.asarray(xa.tolist()), xn)
    np.testing.assert_array_equal(np.asarray(oa.tolist()), on)
    np.testing.assert_array_equal(np.asarray(ba.tolist()), bn)
