"""Every differentiable primitive's JVP rule, called directly on the calls the gradient
samples (``autodiff._samples``) make: against central finite differences of the forward
and against the VJP rule (the transpose identity ``<u, J v> = <Jᵀ u, v>``), with the
backend's namespace on raw arrays and with ``xp = autodiff`` on tensors."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff._backward import _unbroadcast
from autodiff._samples import best_dtype, iter_samples
from autodiff.engine import PRIMITIVES, Primitive, call, identity
from autodiff.tensor import wrap
from autodiff.testing import check_grads

from .conftest import make

ALL = list(iter_samples())
#: primitives that only the rules of others call (checked on their sample's input)
DIRECT = {"fft.complex"}


def _calls(name: str, sample: Any, dtype: Any) -> list[tuple[list[Any], dict[str, Any], Any]]:
    """``(raw inputs, params, output)`` of the calls of primitive ``name`` that
    ``sample.fn`` records, else of those its forward or first-order backward runs (the
    scatters run inside gradients, ``fft.complex`` in a second-order pass)."""
    xs = [make(a, dtype=dtype, requires_grad=True) for a in sample.args]
    out = sample.fn(*xs)
    todo = list(out) if isinstance(out, tuple) else [out]
    seen: set[int] = set()
    found = []
    while todo:
        node = todo.pop()._node
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.prim.name == name:
            found.append((list(node.args), dict(node.params or {}), node.ans))
        todo.extend(t for t in node.inputs or () if isinstance(t, ad.Tensor))
    if found:
        return found[:2]
    backend = ad.get_backend()
    prim = PRIMITIVES[name]
    runs: list[Any] = []

    def recorded(fn: Any) -> Any:
        def run(xp: Any, *args: Any, **params: Any) -> Any:
            ans = fn(xp, *args, **params)
            runs.append((list(args), params, ans))
            return ans

        return run

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(prim, "forward", recorded(prim.forward))
        if prim in backend.kernels:
            mp.setitem(backend.kernels, prim, recorded(backend.kernels[prim]))
        xs = [make(a, dtype=dtype, requires_grad=True) for a in sample.args]
        out = sample.fn(*xs)
        outs = list(out) if isinstance(out, tuple) else [out]
        loss = sum(ad.sum(ad.real(o) if o.dtype.kind == "complex floating" else o) for o in outs)
        if loss.requires_grad:  # (fft.complex is reached by the second-order pass only)
            loss.backward(create_graph=True)
            again = sum(ad.sum(x.grad) for x in xs if x.grad is not None)
            if isinstance(again, ad.Tensor) and again.requires_grad:
                again.backward()
    runs = [r for r in runs if r[0] and hasattr(r[0][0], "shape")]
    if not runs and name in DIRECT:
        # a one-input primitive without parameters no sample reaches at first order:
        # called on the sample's own input
        a = make(sample.args[0], dtype=dtype).data
        runs = [([a], {}, call(backend.xp, prim, a))]
    return runs[:2]


def _host(x: Any, backend: Any) -> np.ndarray:
    return np.asarray(backend.to_numpy(x))


def _differentiable(x: Any, backend: Any) -> bool:
    return (
        not isinstance(x, int | float | complex | bool)
        and np.dtype(_host(x, backend).dtype).kind in "fc"
    )


def _direction(x: Any, backend: Any, rng: np.random.Generator) -> Any:
    h = _host(x, backend)
    v = rng.standard_normal(h.shape)
    if h.dtype.kind == "c":
        v = v + 1j * rng.standard_normal(h.shape)
    return backend.asarray(v.astype(h.dtype), device=backend.device_of(x))


def _outs(prim: Primitive, y: Any) -> tuple[Any, ...]:
    return tuple(y) if prim.nout > 1 else (y,)


def _real_dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(np.real(np.conj(a) * b)))


def _fd(prim: Primitive, backend: Any, args: list[Any], dirs: list[Any], params: Any, eps: float):
    xp = backend.xp

    def at(s: float) -> tuple[np.ndarray, ...]:
        moved = [a if v is None else a + v * s for a, v in zip(args, dirs)]
        return tuple(_host(o, backend) for o in _outs(prim, call(xp, prim, *moved, **params)))

    plus, minus = at(eps), at(-eps)
    return tuple((p - m) / (2 * eps) for p, m in zip(plus, minus))


def _vjp(prim: Primitive, backend: Any, us: tuple[Any, ...], ans: Any, args: list[Any], params):
    xp = backend.xp
    complex_in = any(
        _differentiable(a, backend) and _host(a, backend).dtype.kind == "c" for a in args
    ) or any(_host(u, backend).dtype.kind == "c" for u in us)
    flip = prim.holomorphic and complex_in
    g = us if prim.nout > 1 else us[0]
    if flip:
        g = xp.conj(g)
    if prim.vjps is not None:
        grads = [
            None
            if r is None or not _differentiable(a, backend)
            else (g if r is identity else r(xp, g, ans, *args, **params))
            for r, a in zip(prim.vjps, args)
        ]
    else:
        grads = list(prim.vjp(xp, g, ans, *args, **params))  # type: ignore[misc]
    out = []
    for gr, a in zip(grads, args):
        if gr is None or not _differentiable(a, backend):
            out.append(None)
            continue
        if flip:
            gr = xp.conj(gr)
        out.append(_host(_unbroadcast(xp, gr, tuple(a.shape), prim), backend))
    return out


@pytest.mark.parametrize(
    ("name", "sample"), [(n, s) for _, n, s in ALL], ids=[t for t, _, _ in ALL]
)
def test_jvp_rule(name: str, sample: Any) -> None:
    backend = ad.get_backend()
    ext = name.split(".", 1)[0] if "." in name else None
    if ext in ("linalg", "fft") and ext not in backend.extensions:
        pytest.skip(f"the {backend.name} backend does not implement the {ext} extension")
    prim = PRIMITIVES[name]
    assert prim.jvp is not None, f"the differentiable primitive {name!r} has no JVP rule"
    dtype = best_dtype(sample, backend)
    if name.startswith("fft.") and not backend.supports(ad.complex128):
        dtype = ad.float32
    wide = dtype is ad.float64
    nodes = _calls(name, sample, dtype)
    if not nodes:
        pytest.skip(f"the sample does not record {name} on {backend.name}")
    rng = np.random.default_rng(0)
    for args, params, ans in nodes:
        if name == "to_device":
            continue  # checked by test_to_device_jvp (its input and output live apart)
        _check_rule(prim, args, params, ans, wide, rng)


SECOND = [(n, s) for _, n, s in ALL if s.order >= 2 and n != "to_device"]


@pytest.mark.parametrize(
    ("name", "sample"), SECOND, ids=[f"{n}-{s.label}" if s.label else n for n, s in SECOND]
)
def test_jvp_rule_is_differentiable(name: str, sample: Any) -> None:
    """Run with ``xp = autodiff`` on tensors, each JVP rule is itself differentiated right
    (reverse over forward: the second derivatives along the tangent)."""
    backend = ad.get_backend()
    ext = name.split(".", 1)[0] if "." in name else None
    if ext in ("linalg", "fft") and ext not in backend.extensions:
        pytest.skip(f"the {backend.name} backend does not implement the {ext} extension")
    prim = PRIMITIVES[name]
    dtype = best_dtype(sample, backend)
    if name.startswith("fft.") and not backend.supports(ad.complex128):
        dtype = ad.float32
    nodes = _calls(name, sample, dtype)
    if not nodes:
        pytest.skip(f"the sample does not record {name} on {backend.name}")
    rng = np.random.default_rng(2)
    args, params, _ = nodes[0]
    dirs = tuple(
        wrap(_direction(a, backend, rng), backend) if _differentiable(a, backend) else None
        for a in args
    )

    # complex inputs enter as their real and imaginary parts, complex outputs leave so
    targs = [wrap(a, backend) if hasattr(a, "shape") else a for a in args]
    cplx = [isinstance(t, ad.Tensor) and t.dtype.kind == "complex floating" for t in targs]
    flat: list[Any] = []
    for t, c in zip(targs, cplx):
        flat += [ad.real(t), ad.imag(t)] if c else [t]

    def tangent(*parts: Any) -> Any:
        it = iter(parts)
        xs = [next(it) + next(it) * 1j if c else next(it) for c in cplx]
        ans = call(ad, prim, *xs, **params)
        outs = [o for o in _outs(prim, prim.jvp(ad, dirs, ans, *xs, **params)) if o is not None]
        return tuple(
            p
            for o in outs
            for p in ((ad.real(o), ad.imag(o)) if o.dtype.kind == "complex floating" else (o,))
        )

    check_grads(tangent, tuple(flat), order=1, modes=("rev",))


def _check_rule(
    prim: Primitive,
    args: list[Any],
    params: dict[str, Any],
    ans: Any,
    wide: bool,
    rng: Any,
    transpose: bool = True,
) -> None:
    """The JVP rule at one call: finite differences, the transpose identity with the VJP
    rule, and the same numbers from tensors with ``xp = autodiff``."""
    backend = ad.get_backend()
    name = prim.name
    dirs = [_direction(a, backend, rng) if _differentiable(a, backend) else None for a in args]
    narrow = any(_host(o, backend).dtype in (np.float32, np.complex64) for o in _outs(prim, ans))
    eps, tol = (1e-2, 3e-2) if narrow or not wide else (1e-6, 1e-6)
    # raw arrays, the backend's namespace
    jv = prim.jvp(backend.xp, tuple(dirs), ans, *args, **params)
    jv = _outs(prim, jv)
    outs = _outs(prim, ans)
    fd = _fd(prim, backend, args, dirs, params, eps)
    for k, (j, f, o) in enumerate(zip(jv, fd, outs)):
        jh = np.zeros_like(f) if j is None else _host(j, backend)
        assert jh.shape == _host(o, backend).shape, (name, k, jh.shape)
        scale = max(1.0, float(np.max(np.abs(f), initial=0.0)))
        np.testing.assert_allclose(
            jh, f, atol=tol * 10 * scale, rtol=tol * 10, err_msg=f"{name} output {k}"
        )
    # the transpose identity with the VJP rule
    us = tuple(_direction(o, backend, rng) for o in outs)
    left = sum(
        _real_dot(_host(u, backend), np.zeros(1) if j is None else _host(j, backend))
        for u, j in zip(us, jv)
    )
    if transpose:
        grads = _vjp(prim, backend, us, ans, args, params)
        right = sum(
            _real_dot(gr, _host(v, backend)) for gr, v in zip(grads, dirs) if gr is not None
        )
        assert abs(left - right) <= tol * 10 * max(1.0, abs(left)), (name, left, right)
    # tensors, xp = autodiff: the same numbers
    tdirs = tuple(None if v is None else wrap(v, backend) for v in dirs)
    targs = [wrap(a, backend) if hasattr(a, "shape") else a for a in args]
    tans = tuple(wrap(o, backend) for o in ans) if prim.nout > 1 else wrap(ans, backend)
    tj = _outs(prim, prim.jvp(ad, tdirs, tans, *targs, **params))
    for j, t in zip(jv, tj):
        if j is None and t is None:
            continue
        np.testing.assert_allclose(
            np.zeros(1) if t is None else t.numpy(),
            np.zeros(1) if j is None else _host(j, backend),
            rtol=1e-6 if wide else 1e-4,
            atol=1e-9 if wide else 1e-5,
        )


_Z = np.array([[0.7 - 1.2j, -0.4 + 0.3j, 1.5 + 0.2j], [-0.9 - 0.8j, 0.25 + 1.1j, -1.3 + 0.6j]])

#: complex inputs the samples do not give these primitives: (name, inputs, params)
COMPLEX = [
    ("abs", (_Z,), {}),
    ("sgn", (_Z,), {}),
    ("real", (_Z,), {}),
    ("imag", (_Z,), {}),
    ("conj", (_Z,), {}),
    ("exp", (_Z,), {}),
    ("log", (_Z,), {}),
    ("multiply", (_Z, _Z[0] * 1j), {}),
    ("divide", (_Z, _Z[1] + 2), {}),
    ("sum", (_Z,), {"axis": 1, "keepdims": False}),
    ("prod", (_Z,), {"axis": 1, "keepdims": False}),
    ("linalg.vector_norm", (_Z,), {"axis": 1, "keepdims": False, "ord": 2}),
    ("linalg.vector_norm", (_Z,), {"axis": None, "keepdims": False, "ord": 3}),
    ("matmul", (_Z, _Z.T), {}),
    ("linalg.inv", (np.eye(3) * 2 + _Z[:, :, None][0] * 0.1,), {}),
    ("linalg.slogdet", (np.eye(3) * 2 + np.outer(_Z[0], _Z[1]) * 0.2,), {}),
    ("cumulative_prod", (_Z,), {"axis": 1, "include_initial": False}),
]


@pytest.mark.parametrize(
    ("name", "inputs", "params"), COMPLEX, ids=[f"{c[0]}-{k}" for k, c in enumerate(COMPLEX)]
)
def test_jvp_rule_complex(name: str, inputs: Any, params: dict[str, Any]) -> None:
    """Holomorphic rules give ``f'(z) dz``, the others (abs, norms, sgn, the parts) the
    real-linear map, against finite differences along complex directions."""
    backend = ad.get_backend()
    wide = backend.supports(ad.complex128)
    if not wide and not backend.supports(ad.complex64):
        pytest.skip(f"the {backend.name} backend has no complex dtype")
    ext = name.split(".", 1)[0] if "." in name else None
    if ext == "linalg" and ext not in backend.extensions:
        pytest.skip(f"the {backend.name} backend does not implement the linalg extension")
    prim = PRIMITIVES[name]
    cdtype = np.complex128 if wide else np.complex64
    args = [ad.tensor(np.asarray(z, dtype=cdtype)).data for z in inputs]
    try:
        ans = call(backend.xp, prim, *args, **params)
    except NotImplementedError as err:  # (MLX's linear algebra is real only)
        pytest.skip(str(err))
    # (slogdet's VJP rule is for real input only: its JVP is checked against differences)
    _check_rule(
        prim,
        args,
        params,
        ans,
        wide and backend.exact_float64,
        np.random.default_rng(1),
        transpose=name != "linalg.slogdet",
    )


_L = np.random.default_rng(3).normal(size=(4, 3))

#: parameters the samples do not reach: (name, inputs, params)
PARAMS = [
    ("softmax_cross_entropy", (_L, np.array([0, 2, 1, 2])), {"ignore_index": 2, "mean": True}),
    ("softmax_cross_entropy", (_L, np.array([0, 2, 1, 2])), {"ignore_index": None, "mean": True}),
    ("cumulative_prod", (_L,), {"axis": 0, "include_initial": True}),
    ("max", (_L,), {"axis": None, "keepdims": True}),
    ("logsumexp", (_L,), {"axis": (0, 1), "keepdims": False}),
    ("linalg.vector_norm", (_L,), {"axis": 0, "keepdims": True, "ord": 1}),
    ("linalg.vector_norm", (_L,), {"axis": 1, "keepdims": False, "ord": float("inf")}),
    ("linalg.qr", (_L,), {"mode": "reduced"}),
    ("linalg.svd", (_L.T,), {}),
    ("linalg.pinv", (_L.T,), {}),
    ("linalg.solve", (np.eye(3) * 3 + _L[:3], _L[3]), {}),
    ("linalg.cholesky", (np.eye(3) * 3 + _L[:3] @ _L[:3].T,), {"upper": True}),
]


@pytest.mark.parametrize(
    ("name", "inputs", "params"), PARAMS, ids=[f"{c[0]}-{k}" for k, c in enumerate(PARAMS)]
)
def test_jvp_rule_params(name: str, inputs: Any, params: dict[str, Any]) -> None:
    """Parameters and shapes the samples leave out (a mean loss, wide SVDs, p-norms)."""
    backend = ad.get_backend()
    ext = name.split(".", 1)[0] if "." in name else None
    if ext == "linalg" and ext not in backend.extensions:
        pytest.skip(f"the {backend.name} backend does not implement the linalg extension")
    prim = PRIMITIVES[name]
    args = [make(z).data for z in inputs]
    ans = call(backend.xp, prim, *args, **params)
    wide = backend.supports(ad.float64) and backend.exact_float64
    _check_rule(prim, args, params, ans, wide, np.random.default_rng(4))


def test_every_differentiable_primitive_has_a_jvp_rule() -> None:
    code = (
        "import autodiff\nfrom autodiff.engine import PRIMITIVES\n"
        "print(' '.join(n for n, p in PRIMITIVES.items() if p.differentiable and p.jvp is None))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    missing = run.stdout.split()
    assert not missing, f"differentiable primitives without a JVP rule: {missing}"


def test_to_device_jvp() -> None:
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    dst = "array_api_strict:cpu" if x.backend.name == "numpy" else "numpy:cpu"
    try:
        y = x.to_device(dst)
    except Exception as err:  # pragma: no cover - a backend without a second one
        pytest.skip(f"no second backend to move to: {err}")
    node = y._node
    t = make([0.5, -1.0, 2.0])
    out = node.prim.jvp(ad, (t,), y, x, **node.params)
    assert out.device == y.device
    np.testing.assert_allclose(out.numpy(), [0.5, -1.0, 2.0])
    raw = node.prim.jvp(x.backend.xp, (t.data,), y.data, x.data, **node.params)
    np.testing.assert_allclose(np.asarray(y.backend.to_numpy(raw)), [0.5, -1.0, 2.0])
