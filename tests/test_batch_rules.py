"""Every batching rule against a Python loop of the forward: each call the samples make
(``autodiff._samples``, and a few calls of primitives without gradient), its array inputs
stacked from three different examples along a batch axis (the first, the last, or only
some inputs batched), the rule's output compared example by example."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff import linalg as L
from autodiff._samples import SAMPLES, best_dtype
from autodiff.engine import PRIMITIVES, call
from autodiff.ops.special import _cross_entropy
from autodiff.tensor import wrap

from .conftest import make

_R = np.random.default_rng(7)
_X = _R.uniform(-1.5, 1.5, size=(2, 3))
_M = np.eye(3) * 2 + _R.uniform(-0.4, 0.4, size=(3, 3))
_SORTED = np.array([-1.0, 0.0, 0.5, 2.0])


def _ints(x: ad.Tensor) -> ad.Tensor:
    return ad.astype(ad.round(x), ad.int32)


#: calls of primitives without gradient (they have no sample): primitive → (fn, args)
EXTRA: dict[str, list[tuple[Callable[..., Any], tuple[Any, ...]]]] = {
    "sign": [(ad.sign, (_X,))],
    "floor": [(ad.floor, (_X,))],
    "ceil": [(ad.ceil, (_X,))],
    "round": [(ad.round, (_X,))],
    "trunc": [(ad.trunc, (_X,))],
    "signbit": [(ad.signbit, (_X,))],
    "isnan": [(ad.isnan, (_X,))],
    "isinf": [(ad.isinf, (_X,))],
    "isfinite": [(ad.isfinite, (_X,))],
    "equal": [(ad.equal, (_X, _X[0]))],
    "not_equal": [(ad.not_equal, (_X, _X[1]))],
    "less": [(ad.less, (_X, _X[0]))],
    "less_equal": [(ad.less_equal, (_X, _X[0]))],
    "greater": [(ad.greater, (_X, _X[0]))],
    "greater_equal": [(ad.greater_equal, (_X, _X[0]))],
    "floor_divide": [(ad.floor_divide, (_X, np.array([0.7, 1.3, 2.0])))],
    "logical_not": [(lambda a: ad.logical_not(a > 0), (_X,))],
    "logical_and": [(lambda a, b: ad.logical_and(a > 0, b > 0), (_X, _X[0]))],
    "logical_or": [(lambda a, b: ad.logical_or(a > 0, b > 0), (_X, _X[0]))],
    "logical_xor": [(lambda a, b: ad.logical_xor(a > 0, b > 0), (_X, _X[0]))],
    "argmax": [
        (lambda a: ad.argmax(a, axis=1), (_X,)),
        (lambda a: ad.argmax(a), (_X,)),
        (lambda a: ad.argmax(a, keepdims=True), (_X,)),
    ],
    "argmin": [(lambda a: ad.argmin(a, axis=0, keepdims=True), (_X,))],
    "all": [(lambda a: ad.all(a > 0, axis=1), (_X,)), (lambda a: ad.all(a > -1), (_X,))],
    "any": [(lambda a: ad.any(a > 0, axis=0), (_X,))],
    "count_nonzero": [
        (lambda a: ad.count_nonzero(a > 0, axis=1), (_X,)),
        # 0-d examples: a reduction over no axis (PyTorch reads axis=() as all axes)
        (lambda a: ad.count_nonzero(a > 0), (_X[0, 0],)),
    ],
    "sum": [(lambda a: ad.sum(a), (_X[0, 0],)), (lambda a: ad.sum(a, axis=()), (_X,))],
    "max": [(lambda a: ad.max(a, keepdims=True), (_X[0, 0],))],
    "argsort": [
        (lambda a: ad.argsort(a, axis=1), (_X,)),
        (lambda a: ad.argsort(a, axis=0, descending=True), (_X,)),
    ],
    "searchsorted": [(ad.searchsorted, (_SORTED, _X))],
    "isin": [(lambda a, b: ad.isin(_ints(a * 2), _ints(b)), (_X, _X[0] * 2))],
    "linalg.matrix_rank": [(L.matrix_rank, (_M,))],
    "softmax_cross_entropy": [
        (lambda x: _cross_entropy(x, ad.tensor([0, 2, 1, 2]), 2, True), (_R.normal(size=(4, 3)),))
    ],
    "bitwise_and": [(lambda a, b: ad.bitwise_and(_ints(a * 4), _ints(b * 4)), (_X, _X[0]))],
    "bitwise_or": [(lambda a, b: ad.bitwise_or(_ints(a * 4), _ints(b * 4)), (_X, _X[0]))],
    "bitwise_xor": [(lambda a, b: ad.bitwise_xor(_ints(a * 4), _ints(b * 4)), (_X, _X[0]))],
    "bitwise_invert": [(lambda a: ad.bitwise_invert(_ints(a * 4)), (_X,))],
    "bitwise_left_shift": [
        (lambda a, b: ad.bitwise_left_shift(_ints(a * 4), _ints(b + 2)), (_X, _X[0]))
    ],
    "bitwise_right_shift": [
        (lambda a, b: ad.bitwise_right_shift(_ints(a * 4), _ints(b + 2)), (_X, _X[0]))
    ],
}


def _cases() -> list[tuple[str, str, Callable[..., Any], tuple[Any, ...], tuple[str, ...]]]:
    out = []
    for name, samples in SAMPLES.items():
        for s in samples:
            out.append((f"{name}-{s.label}" if s.label else name, name, s.fn, s.args, s.dtypes))
    for name, calls in EXTRA.items():
        for k, (fn, args) in enumerate(calls):
            out.append((f"{name}-extra{k}", name, fn, args, ("float32", "float64")))
    return out


CASES = [c for c in _cases() if c[1] in PRIMITIVES and PRIMITIVES[c[1]].batch is not None]


def _recording(fn: Callable[..., Any], seen: list[Any]) -> Callable[..., Any]:
    def recorded(xp: Any, *args: Any, **params: Any) -> Any:
        seen.append((args, params))
        return fn(xp, *args, **params)

    return recorded


def _variant(h: np.ndarray, k: int) -> np.ndarray:
    # example k of a batch: another valid input of the same kind
    if k == 0:
        return h
    if h.dtype.kind in "fc":
        return h + _R.uniform(-0.05, 0.05, size=h.shape).astype(h.dtype)
    return np.roll(h.reshape(-1), k).reshape(h.shape) if h.size else h


def _patterns(n: int) -> list[tuple[str, tuple[bool, ...]]]:
    pats = [("all", (True,) * n)]
    if n > 1:
        pats += [("first", (True,) + (False,) * (n - 1)), ("last", (False,) * (n - 1) + (True,))]
    return pats


def _host(x: Any, backend: Any) -> np.ndarray:
    return np.asarray(backend.to_numpy(x))


@pytest.mark.parametrize(
    ("name", "fn", "args", "dtypes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_batch_rule(
    name: str, fn: Any, args: Any, dtypes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = ad.get_backend()
    ext = name.split(".", 1)[0] if "." in name else None
    if ext in ("linalg", "fft") and ext not in backend.extensions:
        pytest.skip(f"the {backend.name} backend does not implement the {ext} extension")
    prim = PRIMITIVES[name]
    seen: list[Any] = []
    monkeypatch.setattr(prim, "forward", _recording(prim.forward, seen))
    if prim in backend.kernels:
        monkeypatch.setitem(backend.kernels, prim, _recording(backend.kernels[prim], seen))
    sample = SAMPLES.get(name, (None,))[0]
    dtype = best_dtype(sample, backend) if sample is not None else ad.float32
    if name.startswith("fft.") and not backend.supports(ad.complex128):
        dtype = ad.float32
    fn(*(make(a, dtype=dtype) for a in args))
    if not seen and name == "fft.complex":  # only other rules call it: its sample's input
        seen.append(((make(args[0], dtype=dtype).data,), {}))
    if not seen:
        pytest.skip(f"the call never runs the forward of {name} on {backend.name}")
    monkeypatch.undo()
    wide = dtype is ad.float64
    tol = 1e-9 if wide else 1e-4
    xp = backend.xp
    for raw, params in seen[:2]:
        arrays = [i for i, a in enumerate(raw) if hasattr(a, "shape")]
        hosts = {i: _host(raw[i], backend) for i in arrays}
        examples = {i: [_variant(hosts[i], k) for k in range(3)] for i in arrays}
        for (label, which), at_end in itertools.product(_patterns(len(arrays)), (False, True)):
            batched = {i for i, b in zip(arrays, which) if b}
            dims: list[int | None] = []
            inputs: list[Any] = []
            for i, a in enumerate(raw):
                if i not in batched:
                    dims.append(None)
                    inputs.append(wrap(a, backend) if i in hosts else a)
                    continue
                axis = hosts[i].ndim if at_end else 0
                stacked = np.stack(examples[i], axis=axis)
                dims.append(axis)
                inputs.append(wrap(backend.asarray(stacked, device=backend.device_of(a)), backend))
            with warnings.catch_warnings():
                # PyTorch's searchsorted asks for contiguous values (a speed hint only)
                warnings.filterwarnings("ignore", message=".*non-contiguous.*")
                out, out_dims = prim.batch(ad, tuple(dims), *inputs, **params)
            outs = out if prim.nout > 1 else (out,)
            odims = out_dims if prim.nout > 1 else (out_dims,)
            for k in range(3):
                ex = [
                    backend.asarray(examples[i][k], device=backend.device_of(a))
                    if i in batched
                    else a
                    for i, a in enumerate(raw)
                ]
                want = call(xp, prim, *ex, **params)
                wants = want if prim.nout > 1 else (want,)
                for j, (o, d, w) in enumerate(zip(outs, odims, wants)):
                    got = np.moveaxis(o.numpy(), d, 0)[k] if d is not None else o.numpy()
                    w = _host(w, backend)
                    assert got.shape == w.shape, (name, label, at_end, j, got.shape, w.shape)
                    if w.dtype.kind in "fc":
                        np.testing.assert_allclose(
                            got, w, rtol=tol, atol=tol, err_msg=f"{name} {label} end={at_end}"
                        )
                    else:
                        np.testing.assert_array_equal(got, w, err_msg=f"{name} {label}")


def test_roll_of_flattened_examples() -> None:
    """``roll`` with ``axis=None`` rolls each example flattened, not the whole batch."""
    prim = PRIMITIVES["roll"]
    host = np.arange(24.0).reshape(2, 3, 4)
    for d in (0, 2):
        moved = make(np.moveaxis(host, 0, d))
        out, od = prim.batch(ad, (d,), moved, shift=2, axis=None)
        got = np.moveaxis(out.numpy(), od, 0)
        want = np.stack([np.roll(host[i].reshape(-1), 2).reshape(3, 4) for i in range(2)])
        np.testing.assert_array_equal(got, want)


def test_elementwise_batch_axis_in_the_middle() -> None:
    """A batch axis inside the array, an unbatched operand broadcasting against it."""
    prim = PRIMITIVES["add"]
    a = _R.normal(size=(2, 3, 4))  # per example (2, 4), batch axis 1
    b = _R.normal(size=(4,))
    out, od = prim.batch(ad, (1, None), make(a), make(b))
    got = np.moveaxis(out.numpy(), od, 0)
    want = np.stack([a[:, i, :] + b for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    c = _R.normal(size=(3, 2, 4))  # per example (3, 2, 4), unbatched: wider than the batched
    out, od = prim.batch(ad, (1, None), make(a), make(c))
    got = np.moveaxis(out.numpy(), od, 0)
    want = np.stack([a[:, i, :] + c for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_every_batching_rule_has_a_case() -> None:
    """A new batching rule needs a call here: a sample, or an entry of ``EXTRA``."""
    have = {c[1] for c in CASES}
    untested = sorted(
        n
        for n, p in PRIMITIVES.items()
        # (the built-in ones: tests and docs define primitives of their own)
        if p.batch is not None
        and n not in have
        and getattr(p.forward, "__module__", "").startswith("autodiff.")
    )
    assert not untested, f"batching rules without a case in tests/test_batch_rules.py: {untested}"
