"""Every differentiable primitive's gradient against finite differences, first and second
order: each sample of the table ``autodiff._samples`` on the backend under test, the
elementwise ones also on broadcasting shapes drawn by hypothesis."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from autodiff._samples import SAMPLES, Sample, iter_samples
from autodiff.engine import PRIMITIVES
from autodiff.testing import check_grads

from .conftest import make

ALL = list(iter_samples())
SWEPT = [(tid, s) for tid, _, s in ALL if s.domain is not None]
UNARY = {tid: s for tid, s in SWEPT if len(s.args) == 1}
BINARY = {tid: s for tid, s in SWEPT if len(s.args) == 2}


def _skip_without_extension(name: str) -> None:
    ext = name.split(".", 1)[0] if "." in name else None
    backend = ad.get_backend()
    if ext is not None and ext not in backend.extensions:
        pytest.skip(f"the {backend.name} backend does not implement the {ext} extension")


def _counting(fn: Callable[..., Any], calls: list[int]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return fn(*args, **kwargs)

    return counted


def _recorded(sample: Sample, dtype: ad.DType) -> set[str]:
    # the primitives recorded in the graph of sample.fn (to_device records a node
    # without calling its forward)
    todo = [sample.fn(*(make(a, dtype=dtype, requires_grad=True) for a in sample.args))]
    seen: set[str] = set()
    while todo:
        node = todo.pop()._node
        if node is not None and node.prim.name not in seen:
            seen.add(node.prim.name)
            todo.extend(t for t in node.inputs or () if isinstance(t, ad.Tensor))
    return seen


@pytest.mark.parametrize(
    ("name", "sample"), [(n, s) for _, n, s in ALL], ids=[t for t, _, _ in ALL]
)
def test_sample_grads(name: str, sample: Sample, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each sample passes ``check_grads`` up to its order and reaches its primitive."""
    _skip_without_extension(name)
    backend = ad.get_backend()
    prim = PRIMITIVES[name]
    calls: list[int] = []
    monkeypatch.setattr(prim, "forward", _counting(prim.forward, calls))
    if prim in backend.kernels:
        monkeypatch.setitem(backend.kernels, prim, _counting(backend.kernels[prim], calls))
    # float64 wherever the backend holds it (MLX's has float32-accurate transcendentals,
    # still within check_grads' float64 tolerances on these samples)
    wide = backend.supports(ad.float64) and "float64" in sample.dtypes
    if name.startswith("fft.") and not backend.supports(ad.complex128):
        wide = False  # float64 transforms need complex128 (not on MLX)
    dtype = ad.float64 if wide else ad.float32
    check_grads(sample.fn, tuple(make(a, dtype=dtype) for a in sample.args), order=sample.order)
    reached = bool(calls) or name in _recorded(sample, dtype)
    assert reached, f"the sample never runs the primitive {name!r} it is filed under"


def _built_in_differentiable() -> list[str]:
    # the registry as importing autodiff fills it (tests and docs add their own primitives)
    code = (
        "import autodiff\nfrom autodiff.engine import PRIMITIVES\n"
        "print(' '.join(n for n, p in PRIMITIVES.items() if p.differentiable))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return run.stdout.split()


def test_every_differentiable_primitive_has_a_sample() -> None:
    built_in = _built_in_differentiable()
    assert len(built_in) > 80
    missing = sorted(n for n in built_in if not SAMPLES.get(n))
    assert not missing, (
        f"differentiable primitives without a sample in autodiff._samples: {missing}"
    )
    unknown = sorted(set(SAMPLES) - set(PRIMITIVES))
    assert not unknown, f"samples filed under names that are no primitive: {unknown}"


def test_sample_ids_are_unique() -> None:
    ids = [t for t, _, _ in ALL]
    assert len(ids) == len(set(ids))


def _floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _array(draw: st.DrawFn, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    return draw(hnp.arrays(np.float64, shape, elements=_floats(low, high)))


def _away_from(x: np.ndarray, kink: float) -> np.ndarray:
    return np.where(np.abs(x - kink) < 0.1, kink + 0.5, x)


@pytest.mark.parametrize("name", list(UNARY))
@given(data=st.data())
def test_unary_grads(name: str, data: st.DataObject) -> None:
    sample = UNARY[name]
    low, high = sample.domain or (0, 0)
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), label="shape")
    x = _array(data.draw, shape, low, high)
    if sample.kink is not None:
        x = _away_from(x, sample.kink)
    check_grads(sample.fn, (make(x),), order=sample.order)


@pytest.mark.parametrize("name", list(BINARY))
@given(data=st.data())
def test_binary_grads_broadcasting(name: str, data: st.DataObject) -> None:
    sample = BINARY[name]
    low, high = sample.domain or (0, 0)
    shapes = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
        label="shapes",
    )
    a = _array(data.draw, shapes.input_shapes[0], low, high)
    b = _array(data.draw, shapes.input_shapes[1], low, high)
    if name in ("maximum", "minimum"):
        b = np.where(np.abs(a - b) < 0.1, b + 0.5, b)  # no ties: the kink
    check_grads(sample.fn, (make(a), make(b)), order=sample.order)


@pytest.mark.parametrize("name", ["add", "multiply", "divide", "pow", "maximum"])
def test_binary_with_python_scalar(name: str) -> None:
    fn = SAMPLES[name][0].fn
    x = make([0.7, 1.3, 1.9])
    check_grads(lambda t: fn(t, 1.2), (x,), order=2)
    check_grads(lambda t: fn(1.2, t), (x,), order=2)


@given(data=st.data())
def test_matmul_grads(data: st.DataObject) -> None:
    m, k, n = (data.draw(st.integers(1, 3)) for _ in range(3))
    batch_a = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=2), label="batch")
    batch_b = data.draw(st.sampled_from([(), batch_a[-1:], batch_a]), label="batch_b")
    a = _array(data.draw, (*batch_a, m, k), -2, 2)
    b = _array(data.draw, (*batch_b, k, n), -2, 2)
    check_grads(ad.matmul, (make(a), make(b)), order=2)


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 2, 3), (3,)), ((3,), (2, 3, 4))],
)
def test_matmul_vector_cases(
    shape_a: tuple[int, ...], shape_b: tuple[int, ...], rng: np.random.Generator
) -> None:
    a = make(rng.standard_normal(shape_a))
    b = make(rng.standard_normal(shape_b))
    np.testing.assert_allclose((a @ b).numpy(), a.numpy() @ b.numpy(), rtol=1e-6)
    check_grads(ad.matmul, (a, b), order=2)


REDUCTIONS = {"sum": ad.sum, "mean": ad.mean, "max": ad.max, "min": ad.min}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(data=st.data())
def test_reduction_grads(name: str, data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), label="shape")
    ndim = len(shape)
    axis = data.draw(
        st.one_of(
            st.none(),
            st.integers(-ndim, ndim - 1),
            st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple),
        ),
        label="axis",
    )
    keepdims = data.draw(st.booleans(), label="keepdims")
    # distinct values keep max/min away from ties (ties are tested separately)
    x = np.random.default_rng(0).permutation(np.prod(shape)).reshape(shape) / 4.0 - 1.0
    fn = REDUCTIONS[name]
    check_grads(lambda t: fn(t, axis=axis, keepdims=keepdims), (make(x),), order=2)


def test_max_min_ties_share_equally() -> None:
    x = make([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    ad.max(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = make([1.0, 1.0, 4.0], requires_grad=True)
    ad.min(y).backward()
    np.testing.assert_allclose(y.grad.numpy(), [0.5, 0.5, 0.0])


def test_maximum_tie_shares() -> None:
    a = make([1.0, 2.0], requires_grad=True)
    b = make([1.0, 1.0], requires_grad=True)
    ad.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0]
    assert b.grad.tolist() == [0.5, 0.0]


def test_composite_mlp_second_order(rng: np.random.Generator) -> None:
    w1 = make(rng.standard_normal((3, 4)))
    w2 = make(rng.standard_normal((4, 1)))
    x = make(rng.standard_normal((5, 3)))

    def loss(a: ad.Tensor, b: ad.Tensor) -> ad.Tensor:
        return ((ad.tanh(x @ a) @ b) ** 2).mean()

    check_grads(loss, (w1, w2), order=2)


def test_holomorphic_is_declared_where_each_primitive_is_defined() -> None:
    """``holomorphic=True`` is an argument of ``primitive(...)``, never set afterwards."""
    import pathlib

    import autodiff

    root = pathlib.Path(autodiff.__file__).parent
    late = [
        str(p.relative_to(root))
        for p in sorted(root.rglob("*.py"))
        if re.search(r"\.holomorphic\s*=(?!=)", p.read_text()) and p.name != "_core.py"
    ]
    assert not late, f"holomorphic set after the primitive's definition in {late}"
