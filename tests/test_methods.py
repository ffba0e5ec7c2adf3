"""Tensor method forms: the set, their values (NumPy, PyTorch), their gradients, and the
method table of docs/tensors.md."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff._methods import TensorMethods
from autodiff.testing import check_grads

from .conftest import make, rtol

#: namespace functions that both ndarray and torch.Tensor have as a method, left out
#: of Tensor on purpose (each with its reason; docs/tensors.md repeats them)
EXCLUDED = {
    # np.ndarray.repeat(2) is the standard's repeat ([a, a, b, b]); torch.Tensor.repeat(2)
    # is tile ([a, b, a, b]): the same call would silently give one library's numbers
    "repeat": "NumPy's and PyTorch's methods compute different things (repeat vs tile)",
}
DOC = Path(__file__).resolve().parent.parent / "docs" / "tensors.md"


def _shared_method_names() -> set[str]:
    torch = pytest.importorskip("torch")
    functions = {
        n
        for n in ad.__all__
        if callable(getattr(ad, n)) and not isinstance(getattr(ad, n), (types.ModuleType, type))
    }
    public = {n for n in set(dir(np.ndarray)) & set(dir(torch.Tensor)) if not n.startswith("_")}
    return public & functions


def test_every_method_numpy_and_torch_share_is_there() -> None:
    shared = _shared_method_names()
    assert set(EXCLUDED) <= shared, "an exclusion no longer applies; remove it"
    missing = sorted(n for n in shared - set(EXCLUDED) if not hasattr(ad.Tensor, n))
    assert not missing, f"namespace functions NumPy and PyTorch both have as methods: {missing}"
    for name in EXCLUDED:
        assert not hasattr(ad.Tensor, name), name


def _doc_table() -> dict[str, str]:
    text = DOC.read_text()
    section = text.split("## Methods", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `x\.(\w+)[^`]*` \| ([^|]*) \|", section, re.M)
    return dict(rows)


def test_the_docs_method_table_is_the_methods() -> None:
    table = _doc_table()
    methods = {n for n in vars(TensorMethods) if not n.startswith("_")}
    assert set(table) == methods, (
        f"docs/tensors.md lists {sorted(set(table) - methods)} that are not methods, and "
        f"misses {sorted(methods - set(table))}"
    )
    for name, target in table.items():
        for ref in re.findall(r"`(ad\.[\w.]+)", target):
            obj: Any = ad
            for part in ref.split(".")[1:]:
                obj = getattr(obj, part)
        assert re.search(r"`ad\.[\w.]+", target), f"x.{name}: say which function it calls"
    text = DOC.read_text()
    for name in EXCLUDED:
        assert f"`{name}`" in text, f"docs/tensors.md should say why there is no x.{name}()"


X = np.array([[0.5, -1.5, 2.0], [3.0, 0.25, -0.75]])

#: (method call, the namespace function call it stands for)
SAME_AS_FUNCTION: list[tuple[str, Any, Any]] = [
    ("sum", lambda x: x.sum(axis=0), lambda x: ad.sum(x, axis=0)),
    ("sum dim", lambda x: x.sum(dim=1, keepdim=True), lambda x: ad.sum(x, axis=1, keepdims=True)),
    ("mean", lambda x: x.mean(1), lambda x: ad.mean(x, axis=1)),
    ("prod", lambda x: x.prod(), ad.prod),
    (
        "prod axis",
        lambda x: x.prod(axis=1, keepdims=True),
        lambda x: ad.prod(x, axis=1, keepdims=True),
    ),
    ("max", lambda x: x.max(axis=1), lambda x: ad.max(x, axis=1)),
    ("min", lambda x: x.min(), ad.min),
    ("var", lambda x: x.var(), ad.var),
    ("var axis", lambda x: x.var(0, correction=1), lambda x: ad.var(x, axis=0, correction=1)),
    ("var dim", lambda x: x.var(dim=1, correction=1), lambda x: ad.var(x, axis=1, correction=1)),
    ("std", lambda x: x.std(axis=1), lambda x: ad.std(x, axis=1)),
    ("std dim", lambda x: x.std(dim=0, correction=0), lambda x: ad.std(x, axis=0)),
    ("clip", lambda x: x.clip(0, 1), lambda x: ad.clip(x, 0, 1)),
    ("clamp", lambda x: x.clamp(min=-1.0), lambda x: ad.clip(x, min=-1.0)),
    ("cumsum", lambda x: x.cumsum(axis=1), lambda x: ad.cumulative_sum(x, axis=1)),
    ("cumsum flat", lambda x: x.cumsum(), lambda x: ad.cumulative_sum(ad.reshape(x, (-1,)))),
    ("cumprod", lambda x: x.cumprod(dim=0), lambda x: ad.cumulative_prod(x, axis=0)),
    ("flatten", lambda x: x.flatten(), lambda x: ad.reshape(x, (-1,))),
    ("ravel", lambda x: x.ravel(), lambda x: ad.reshape(x, (-1,))),
    ("squeeze", lambda x: x[None].squeeze(), lambda x: x),
    ("squeeze axis", lambda x: x[:1].squeeze(0), lambda x: x[0]),
    ("unsqueeze", lambda x: x.unsqueeze(1), lambda x: ad.expand_dims(x, axis=1)),
    ("round", lambda x: x.round(), ad.round),
    ("conj", lambda x: x.conj(), ad.conj),
    ("real", lambda x: x.real, ad.real),
    ("sort", lambda x: x.sort(), ad.sort),
    (
        "sort descending",
        lambda x: x.sort(axis=0, descending=True),
        lambda x: ad.sort(x, axis=0, descending=True),
    ),
    ("dot", lambda x: x.dot(x.T), lambda x: x @ x.T),
    ("dot 1-d", lambda x: x[0].dot(x[1]), lambda x: ad.sum(x[0] * x[1])),
    ("norm", lambda x: x.norm(), lambda x: ad.linalg.vector_norm(x)),
    ("norm axis", lambda x: x.norm(1, axis=1), lambda x: ad.linalg.vector_norm(x, axis=1, ord=1)),
    ("norm p dim", lambda x: x.norm(p=3, dim=0), lambda x: ad.linalg.vector_norm(x, axis=0, ord=3)),
    ("norm fro", lambda x: x.norm("fro"), lambda x: ad.linalg.vector_norm(x)),
    (
        "take",
        lambda x: x.take(ad.tensor([0, 4])),
        lambda x: ad.take(ad.reshape(x, (-1,)), ad.tensor([0, 4])),
    ),
    (
        "take axis",
        lambda x: x.take(ad.tensor([2, 0]), axis=1),
        lambda x: ad.take(x, ad.tensor([2, 0]), axis=1),
    ),
    ("view", lambda x: x.view(3, 2), lambda x: ad.reshape(x, (3, 2))),
    ("view tuple", lambda x: x.view((-1,)), lambda x: ad.reshape(x, (-1,))),
    ("permute", lambda x: x.permute(1, 0), lambda x: ad.permute_dims(x, (1, 0))),
    ("swapaxes", lambda x: x[None].swapaxes(0, 2), lambda x: ad.permute_dims(x[None], (2, 1, 0))),
    ("expand", lambda x: x.expand(4, -1, 3), lambda x: ad.broadcast_to(x, (4, 2, 3))),
]


@pytest.mark.parametrize(
    ("label", "method", "function"), SAME_AS_FUNCTION, ids=[c[0] for c in SAME_AS_FUNCTION]
)
def test_method_is_the_function_values_and_gradients(
    label: str, method: Any, function: Any
) -> None:
    a, b = make(X, requires_grad=True), make(X, requires_grad=True)
    out, ref = method(a), function(b)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=rtol(1e-12))
    assert out.requires_grad == ref.requires_grad
    if not out.requires_grad:  # round: no gradient, as the function
        return
    cot = make(np.random.default_rng(0).standard_normal(ref.shape))
    (out * cot).sum().backward()
    (ref * cot).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol(1e-12))


@pytest.mark.parametrize(
    "method",
    [
        lambda x: x.prod(axis=0),
        lambda x: x.var(axis=1),
        lambda x: x.std(),
        lambda x: x.cumsum(),
        lambda x: x.cumprod(axis=1),
        lambda x: x.norm(),
        lambda x: x.clip(-1, 1),
        lambda x: x.dot(x.T),
        lambda x: x.sort(axis=1),
        lambda x: x.take(ad.tensor([1, 5])),
        lambda x: x.expand(2, 2, 3),
        lambda x: x.flatten(),
        lambda x: x.max(axis=0),
    ],
)
def test_methods_are_differentiable(method: Any) -> None:
    check_grads(method, (make(X),), order=2, modes=("rev",))


@pytest.mark.parametrize(
    ("call", "numpy_call"),
    [
        (lambda x: x.argmax(), lambda x: x.argmax()),
        (lambda x: x.argmin(axis=1), lambda x: x.argmin(axis=1)),
        (lambda x: x.argmax(dim=0, keepdim=True), lambda x: x.argmax(axis=0, keepdims=True)),
        (lambda x: x.argsort(), lambda x: x.argsort(kind="stable")),
        (lambda x: x.argsort(dim=0), lambda x: x.argsort(axis=0, kind="stable")),
        (lambda x: (x > 0).all(axis=1), lambda x: (x > 0).all(axis=1)),
        (lambda x: (x > 0).any(), lambda x: (x > 0).any()),
        (lambda x: x.nonzero()[1], lambda x: x.nonzero()[1]),
        (lambda x: x.round(1), lambda x: x.round(1)),
        (lambda x: x.cumsum(), lambda x: x.cumsum()),
        (lambda x: x.take(ad.tensor([0, 5])), lambda x: x.take([0, 5])),
        (lambda x: x.squeeze(), lambda x: x.squeeze()),
    ],
)
def test_methods_match_numpy(call: Any, numpy_call: Any) -> None:
    x = make(X)
    np.testing.assert_allclose(call(x).numpy(), numpy_call(X), rtol=rtol(1e-12))


def test_pytorch_spellings_match_torch() -> None:
    torch = pytest.importorskip("torch")
    x, t = make(X), torch.tensor(X)
    cases = [
        (lambda v: v.clamp(-1, 1), None),
        (lambda v: v.unsqueeze(0), None),
        (lambda v: v.permute(1, 0), None),
        (lambda v: v.expand(3, 2, 3), None),
        (lambda v: v.expand(2, -1), None),
        (lambda v: v.view(3, 2), None),
        (lambda v: v.flatten(), None),
        (lambda v: v[None, :, None].flatten(1, 2), None),
        (lambda v: v.sum(dim=1, keepdim=True), None),
        (lambda v: v.mean(dim=0), None),
        (lambda v: v.cumsum(dim=1), None),
        (lambda v: v.norm(), None),
        (lambda v: v.norm(p=1, dim=1), None),
        (lambda v: v.norm(p="nuc"), None),
        (lambda v: v.var(dim=1, correction=1), None),
        (lambda v: v.std(dim=0, correction=1), None),
        (lambda v: v.prod(dim=1), None),
        (lambda v: v.argmax(dim=1), None),
        (lambda v: v[0].dot(v[1]), None),
        (lambda v: v.swapaxes(0, 1), None),
        (lambda v: v.squeeze(), None),
    ]
    for call, _ in cases:
        np.testing.assert_allclose(call(x).numpy(), call(t).numpy(), rtol=rtol(1e-12))


def test_spellings_that_would_change_the_answer_raise() -> None:
    x = make(X)
    for call in (lambda: x.max(dim=0), lambda: x.min(dim=0), lambda: x.sort(dim=0)):
        with pytest.raises(TypeError, match=r"\(values, indices\)"):
            call()
    for call in (lambda: x.var(dim=0), lambda: x.std(dim=1)):
        with pytest.raises(TypeError, match="correction"):
            call()
    with pytest.raises(TypeError, match="both axis= and dim="):
        x.sum(axis=0, dim=0)
    with pytest.raises(TypeError, match="both keepdims= and keepdim="):
        x.mean(keepdims=True, keepdim=True)
    with pytest.raises(TypeError, match="astype"):
        x.view(ad.float32)
    with pytest.raises(ValueError, match="matmul"):
        x[None].dot(x)
    with pytest.raises(ValueError, match="comes after"):
        x.flatten(1, 0)


def test_sort_returns_a_copy_and_leaves_the_tensor_alone() -> None:
    x = make(X)
    y = x.sort()
    np.testing.assert_array_equal(x.numpy(), X)
    np.testing.assert_array_equal(y.numpy(), np.sort(X))


def test_complex_methods() -> None:
    x = make(X)
    z = x + x * 2j  # a complex tensor of the backend's precision
    np.testing.assert_allclose(z.real.numpy(), X, rtol=rtol(1e-6))
    np.testing.assert_allclose(z.imag.numpy(), 2 * X, rtol=rtol(1e-6))
    np.testing.assert_allclose(z.conj().numpy(), X - 2j * X, rtol=rtol(1e-6))


def test_view_and_expand_are_reshape_and_broadcast_to_for_writes_too() -> None:
    a, b = make(np.zeros((2, 3))), make(np.zeros((2, 3)))
    va, vb = a.view(6), ad.reshape(b, (6,))
    va[5] = 2.0
    vb[5] = 2.0
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="read-only") as by_method:
        a.expand(4, 2, 3)[0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only") as by_function:
        ad.broadcast_to(b, (4, 2, 3))[0, 0, 0] = 1.0
    assert str(by_method.value) == str(by_function.value)
