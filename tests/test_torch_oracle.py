"""A differential test against PyTorch: values and VJPs of the namespace's functions on
generated inputs (NaN, ±inf, ±0, ties, repeated eigenvalues, empty and 0-d shapes,
float32 at large magnitudes, complex numbers), on the backend under test.

PyTorch is the oracle where the two conventions agree. Where they differ on purpose,
``EXCEPTIONS`` names the function, the inputs, what is skipped and why (each reason is
a row of docs/conventions.md or docs/linalg.md). The reference runs in float64 (or
complex128) from the same inputs, so a float32 backend is held to the float64 answer
rounded to float32, not to PyTorch's own float32 rounding.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import autodiff as ad
import autodiff.nn.functional as F

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy on NaN/inf

inf, nan = math.inf, math.nan

#: special values every elementwise function sees (both signs of 0, the infinities, NaN)
SPECIAL = np.array([0.0, -0.0, 0.3, -0.7, 1.0, -1.0, 2.5, -3.0, 1e-6, 40.0, inf, -inf, nan])
#: a smaller set for binary functions: every pair of it is one input
PAIRS = np.array([0.0, -0.0, 1.0, -1.5, 2.0, 1e-3, inf, -inf, nan])
#: complex points off the branch cuts, on the axes, and near 0
COMPLEX = np.array(
    [0.5 + 0.5j, -2 + 0.5j, -0.3 - 1.7j, 1.5 - 0.2j, 3j, -2.0 + 0j, 0.1 - 4j, 1e-3 + 1e-3j]
)


@dataclass
class Case:
    """One function on one set of inputs: ours and PyTorch's, both given a namespace."""

    name: str
    fn: Callable[..., Any]  # fn(lib, *tensors), lib = autodiff or torch (with linalg)
    inputs: tuple[np.ndarray, ...]
    grad: bool = True
    tags: set[str] = field(default_factory=set)
    #: "random" weights on the outputs, or "ones" for a loss symmetric in tied outputs
    weights: str = "random"
    #: applied to PyTorch's gradients before the comparison (a documented difference)
    ref_grad: Callable[[np.ndarray], np.ndarray] | None = None


def _unary(name: str, values: np.ndarray = SPECIAL, **kw: Any) -> Case:
    return Case(name, lambda L, x: getattr(L, name)(x), (values,), **kw)


def _binary(name: str, **kw: Any) -> Case:
    a, b = (np.array(v) for v in zip(*itertools.product(PAIRS, PAIRS)))
    return Case(name, lambda L, x, y: getattr(L, name)(x, y), (a, b), **kw)


def _rng() -> np.random.Generator:
    return np.random.default_rng(20)


def _spd(n: int, repeated: bool = False) -> np.ndarray:
    q, _ = np.linalg.qr(_rng().normal(size=(n, n)))
    w = np.array([1.0, 1.0, 3.0, 4.0][:n]) if repeated else np.linspace(1.0, 3.0, n)
    return (q * w) @ q.T


def _herm(n: int) -> np.ndarray:
    r = _rng()
    z = r.normal(size=(n, n)) + 1j * r.normal(size=(n, n))
    return z @ z.conj().T + n * np.eye(n)


ROWS = np.array(
    [
        [0.5, -1.0, 2.0, 2.0],  # a tie at the max
        [-inf, -inf, -inf, -inf],  # masked out
        [-inf, 0.0, 1.0, -2.0],
        [3.0, 3.0, 3.0, 3.0],
        [40.0, -40.0, 0.0, 1e-6],
    ]
)
TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 2.0, -1.0, 0.5]])


def _ops(L: Any) -> Any:
    # the functions whose names differ between the namespaces
    return L.linalg


UNARY = [
    "exp", "log", "sin", "cos", "tan", "sqrt", "tanh", "sinh", "cosh", "asin", "acos",
    "atan", "asinh", "acosh", "atanh", "expm1", "log1p", "log2", "log10", "square",
    "reciprocal", "sigmoid", "relu", "abs", "negative", "positive",
]  # fmt: skip
BINARY = [
    "add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "atan2",
    "hypot", "logaddexp", "copysign", "remainder", "nextafter",
]  # fmt: skip
COMPLEX_UNARY = [
    "exp", "log", "sin", "cos", "tan", "sqrt", "tanh", "sinh", "cosh", "asin", "acos",
    "atan", "asinh", "acosh", "atanh", "expm1", "log1p", "log2", "log10", "square",
    "reciprocal", "sigmoid", "abs", "negative", "conj", "real", "imag",
]  # fmt: skip


def _rounding(name: str) -> Case:
    return Case(name, lambda L, x: getattr(L, name)(x), (SPECIAL * 1.5,), grad=False)


def _red(name: str, tname: str, arr: np.ndarray, axis: Any, **kw: Any) -> Case:
    def fn(L: Any, x: Any) -> Any:
        if L is torch:
            dim = axis if axis is not None else tuple(range(x.ndim))
            return getattr(torch, tname)(x, dim=dim, **kw)
        return getattr(ad, name)(x, axis=axis, **kw)

    return Case(f"{name}[{arr.shape},{axis}]", fn, (arr,))


def _torch_or_ad(ours: Callable[..., Any], theirs: Callable[..., Any]) -> Callable[..., Any]:
    return lambda L, *xs: theirs(*xs) if L is torch else ours(*xs)


def _cases() -> list[Case]:
    cases = [_unary(n) for n in UNARY]
    cases += [_binary(n) for n in BINARY]
    cases[-1].tags.add("same dtype")  # nextafter: one ulp of the dtype under test
    cases += [_rounding(n) for n in ("floor", "ceil", "round", "trunc", "sign")]
    cases += [
        _unary("exp", COMPLEX, tags={"complex"}) if n == "exp" else _unary(n, COMPLEX)
        for n in COMPLEX_UNARY
    ]
    for c in cases[-len(COMPLEX_UNARY) :]:
        c.name = "complex " + c.name
        c.tags.add("complex")
    cases.append(
        Case("complex sign", _torch_or_ad(ad.sign, torch.sgn), (COMPLEX,), tags={"complex"})
    )
    zs = COMPLEX[:4]
    for name in ("multiply", "divide", "pow", "add", "subtract"):
        a, b = (np.array(v) for v in zip(*itertools.product(zs, zs)))
        cases.append(
            Case(
                f"complex {name}",
                lambda L, x, y, n=name: getattr(L, n)(x, y),
                (a, b),
                tags={"complex"},
            )
        )
    cases.append(
        Case(
            "clip",
            _torch_or_ad(
                lambda x, lo, hi: ad.clip(x, lo, hi), lambda x, lo, hi: torch.clamp(x, lo, hi)
            ),
            (SPECIAL, np.full(SPECIAL.shape, -1.0), np.full(SPECIAL.shape, 1.0)),
        )
    )
    cases.append(
        Case(
            "clip nan bound",
            _torch_or_ad(lambda x: ad.clip(x, min=nan), lambda x: torch.clamp(x, min=nan)),
            (SPECIAL,),
        )
    )
    # reductions, with ties, infinities, NaN, empty and 0-d shapes
    with_nan = TIES.copy()
    with_nan[2, 1] = nan
    for arr, axis in ((TIES, 1), (TIES, None), (ROWS, 1), (with_nan, 0), (np.array(2.5), None)):
        cases += [
            _red("sum", "sum", arr, axis),
            _red("mean", "mean", arr, axis),
            _red("max", "amax", arr, axis),
            _red("min", "amin", arr, axis),
            _red("logsumexp", "logsumexp", arr, axis),
        ]
    for arr, axis in ((np.zeros((3, 0)), 1), (np.zeros((0, 2)), 1), (np.zeros((0,)), None)):
        cases += [_red("sum", "sum", arr, axis), _red("logsumexp", "logsumexp", arr, axis)]
    for arr in (TIES, ROWS):
        cases += [
            _red("var", "var", arr, 1, correction=1),
            _red("std", "std", arr, 1, correction=0),
        ]
        cases.append(Case(f"prod[{arr.shape}]", _prod, (arr,)))
        cases.append(Case(f"cumulative_sum[{arr.shape}]", _cumsum, (arr,)))
        cases.append(Case(f"cumulative_prod[{arr.shape}]", _cumprod, (arr,)))
    for arr in (ROWS, TIES, np.zeros((5, 0)), np.zeros((0, 3))):
        cases.append(Case(f"softmax[{arr.shape}]", _softmax, (arr,)))
        cases.append(Case(f"log_softmax[{arr.shape}]", _log_softmax, (arr,)))
    big = np.array([[1e7, 1e7 + 1, 1e7 - 3], [-1e9, -1e9, -1e9], [1e20, 1e20, -1e20]])
    for fn in (_softmax, _log_softmax, _lse):
        cases.append(Case(f"{fn.__name__[1:]} float32 large", fn, (big,), tags={"float32"}))
    cases.append(
        Case(
            "logaddexp float32 large",
            lambda L, x, y: L.logaddexp(x, y),
            (big[:, 0], big[:, 1]),
            tags={"float32"},
        )
    )
    cases.append(Case("diff n=2", _diff(2), (TIES,)))
    cases.append(Case("diff n=5", _diff(5), (TIES,)))
    cases += _linalg_cases()
    cases += _shape_cases()
    cases += _fft_cases()
    return cases


def _pair(ours: str, theirs: str, *args: Any, **kw: Any) -> Callable[..., Any]:
    # ad.<ours>(x, *args, **kw) against torch.<theirs>(x, *args, **kw)
    return lambda L, x: (getattr(torch, theirs) if L is torch else getattr(ad, ours))(
        x, *args, **kw
    )


def _shape_cases() -> list[Case]:
    x = _rng().normal(size=(3, 4))
    x[1, 2] = x[1, 0]  # a tie for sort
    idx = np.array([2, 0, 2])
    cases = [
        Case("reshape", lambda L, t: L.reshape(t, (4, 3)), (x,)),
        Case("permute_dims", _torch_or_ad(lambda t: ad.permute_dims(t, (1, 0)), lambda t: t.permute(1, 0)), (x,)),
        Case("flip", _torch_or_ad(lambda t: ad.flip(t, axis=1), lambda t: torch.flip(t, (1,))), (x,)),
        Case("roll", _torch_or_ad(lambda t: ad.roll(t, 2, axis=1), lambda t: torch.roll(t, 2, 1)), (x,)),
        Case("tril", _torch_or_ad(lambda t: ad.tril(t, k=-1), lambda t: torch.tril(t, -1)), (x,)),
        Case("triu", _torch_or_ad(lambda t: ad.triu(t, k=1), lambda t: torch.triu(t, 1)), (x,)),
        Case("take", _torch_or_ad(lambda t: ad.take(t, ad.tensor(idx), axis=0), lambda t: torch.index_select(t, 0, torch.tensor(idx))), (x,)),
        Case("getitem", lambda L, t: t[1:, ::2], (x,)),
        Case("concat", _torch_or_ad(lambda a, b: ad.concat([a, b], axis=0), lambda a, b: torch.cat([a, b], 0)), (x, x[:1])),
        Case("stack", _torch_or_ad(lambda a, b: ad.stack([a, b], axis=1), lambda a, b: torch.stack([a, b], 1)), (x, x * 2)),
        Case("where", _torch_or_ad(lambda a, b: ad.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b)), (x, x[::-1])),
        Case("sort values", _torch_or_ad(lambda t: ad.sort(t, axis=1), lambda t: torch.sort(t, dim=1, stable=True).values), (x,)),
        Case("tile", _torch_or_ad(lambda t: ad.tile(t, (2, 1)), lambda t: torch.tile(t, (2, 1))), (x,)),
        Case("repeat", _torch_or_ad(lambda t: ad.repeat(t, 2, axis=0), lambda t: torch.repeat_interleave(t, 2, 0)), (x,)),
        Case("moveaxis", _torch_or_ad(lambda t: ad.moveaxis(t, 0, 1), lambda t: torch.movedim(t, 0, 1)), (x,)),
        Case("broadcast_to", _torch_or_ad(lambda t: ad.broadcast_to(t, (2, 3, 4)), lambda t: torch.broadcast_to(t, (2, 3, 4))), (x,)),
        Case("matrix_transpose", lambda L, t: L.linalg.matrix_transpose(t) if L is ad else t.mT, (x,)),
        Case("take_along_axis", _torch_or_ad(lambda t: ad.take_along_axis(t, ad.tensor(np.array([[0, 3], [1, 1], [2, 0]])), axis=1), lambda t: torch.take_along_dim(t, torch.tensor(np.array([[0, 3], [1, 1], [2, 0]])), 1)), (x,)),
        Case("argmax", _torch_or_ad(lambda t: ad.argmax(t, axis=1), lambda t: torch.argmax(t, 1)), (x,), grad=False),
        Case("argmin", _torch_or_ad(lambda t: ad.argmin(t, axis=0), lambda t: torch.argmin(t, 0)), (x,), grad=False),
        Case("count_nonzero", _torch_or_ad(lambda t: ad.count_nonzero(t > 0, axis=1), lambda t: torch.count_nonzero(t > 0, 1)), (x,), grad=False),
        Case("searchsorted", _torch_or_ad(lambda t: ad.searchsorted(ad.sort(t[0]), t[1]), lambda t: torch.searchsorted(torch.sort(t[0]).values, t[1])), (x,), grad=False),
        Case("argsort stable", _torch_or_ad(lambda t: ad.argsort(t, axis=1, stable=True), lambda t: torch.argsort(t, dim=1, stable=True)), (x,), grad=False),
    ]  # fmt: skip
    return cases


def _fft_cases() -> list[Case]:
    r = _rng()
    x = r.normal(size=(2, 6))
    z = x + 1j * r.normal(size=(2, 6))
    cases = []
    for norm in ("backward", "ortho", "forward"):
        for name, arr in (
            ("fft", z),
            ("ifft", z),
            ("rfft", x),
            ("irfft", z[:, :4]),
            ("hfft", z[:, :4]),
            ("ihfft", x),
        ):
            c = Case(
                f"fft.{name} {norm}",
                lambda L, t, n=name, m=norm: getattr(L.fft, n)(t, norm=m),
                (arr,),
                tags={"fft"} | ({"complex"} if np.iscomplexobj(arr) else set()),
            )
            cases.append(c)
    cases.append(Case("fft.fft n=8", lambda L, t: L.fft.fft(t, n=8), (z,), tags={"fft", "complex"}))
    cases.append(Case("fft.rfft n=4", lambda L, t: L.fft.rfft(t, n=4), (x,), tags={"fft"}))
    cases.append(
        Case("fft.irfft n=9", lambda L, t: L.fft.irfft(t, n=9), (z,), tags={"fft", "complex"})
    )
    cases.append(Case("fft.fftn", lambda L, t: L.fft.fftn(t), (z,), tags={"fft", "complex"}))
    cases.append(Case("fft.fftshift", lambda L, t: L.fft.fftshift(t), (x,), tags={"fft"}))
    return cases


def _prod(L: Any, x: Any) -> Any:
    return torch.prod(x, dim=1) if L is torch else ad.prod(x, axis=1)


def _cumsum(L: Any, x: Any) -> Any:
    return torch.cumsum(x, dim=1) if L is torch else ad.cumulative_sum(x, axis=1)


def _cumprod(L: Any, x: Any) -> Any:
    return torch.cumprod(x, dim=1) if L is torch else ad.cumulative_prod(x, axis=1)


def _softmax(L: Any, x: Any) -> Any:
    return torch.softmax(x, dim=-1) if L is torch else F.softmax(x, axis=-1)


def _log_softmax(L: Any, x: Any) -> Any:
    return torch.log_softmax(x, dim=-1) if L is torch else F.log_softmax(x, axis=-1)


def _lse(L: Any, x: Any) -> Any:
    return torch.logsumexp(x, dim=-1) if L is torch else ad.logsumexp(x, axis=-1)


def _diff(n: int) -> Callable[..., Any]:
    return lambda L, x: torch.diff(x, n=n, dim=1) if L is torch else ad.diff(x, n=n, axis=1)


def _linalg_cases() -> list[Case]:
    spd, rep, eye = _spd(3), _spd(4, repeated=True), np.eye(3)
    gen = _rng().normal(size=(3, 3))
    tall = _rng().normal(size=(4, 2))
    rank1 = np.outer([1.0, 2.0, -1.0], [0.5, 1.0, 2.0])
    cases = []
    for label, a in (("spd", spd), ("repeated", rep), ("eye", eye), ("empty", np.zeros((0, 0)))):
        # at repeated values only symmetric functions of the spectrum have a gradient
        wts = "ones" if label in ("repeated", "eye") else "random"
        cases += [
            Case(
                f"eigvalsh {label} symmetric", lambda L, x: L.linalg.eigvalsh(x), (a,), weights=wts
            ),
            Case(f"svdvals {label} symmetric", lambda L, x: L.linalg.svdvals(x), (a,), weights=wts),
            Case(
                f"sum of squared eigvalsh {label}",
                lambda L, x: L.linalg.eigvalsh(x) ** 2,
                (a,),
                weights=wts,
            ),
        ]
        cases += [
            Case(f"det {label}", lambda L, x: L.linalg.det(x), (a,)),
            Case(f"nuclear norm {label}", lambda L, x: L.linalg.matrix_norm(x, ord="nuc"), (a,)),
            Case(f"cholesky {label}", lambda L, x: L.linalg.cholesky(x), (a,)),
            Case(f"inv {label}", lambda L, x: L.linalg.inv(x), (a,)),
        ]
    # eigenvectors through a loss that ignores their signs
    cases.append(Case("eigh vectors spd", lambda L, x: L.linalg.eigh(x)[1] ** 2, (spd,)))
    for ord_ in ("fro", 1, -1, 2, -2, inf, -inf):
        cases.append(
            Case(
                f"matrix_norm {ord_}",
                lambda L, x, o=ord_: L.linalg.matrix_norm(x, ord=o),
                (gen,),
            )
        )
    for ord_ in (2, 1, inf, -inf, 3, 0.5):
        for label, v in (
            ("", gen[0]),
            ("zero ", np.zeros(3)),
            ("ties ", np.array([2.0, -2.0, 1.0])),
        ):
            cases.append(
                Case(
                    f"vector_norm {label}{ord_}",
                    lambda L, x, o=ord_: L.linalg.vector_norm(x, ord=o),
                    (v,),
                )
            )
    cases += [
        Case("slogdet", lambda L, x: L.linalg.slogdet(x)[1], (gen,)),
        Case("solve", lambda L, x, y: L.linalg.solve(x, y), (gen, tall[:3])),
        Case("pinv tall", lambda L, x: L.linalg.pinv(x), (tall,)),
        Case("qr R", lambda L, x: L.linalg.qr(x)[1], (tall,)),
        Case("svdvals tall", lambda L, x: L.linalg.svdvals(x), (tall,)),
        # the largest value only: the zero ones repeat (their vectors are arbitrary)
        Case("svdvals rank 1", lambda L, x: L.linalg.svdvals(x)[:1], (rank1,)),
        Case("cross", lambda L, x, y: L.linalg.cross(x, y), (gen, tall[:3, [0, 1, 1]])),
        Case("matrix_power 3", lambda L, x: L.linalg.matrix_power(x, 3), (gen,)),
        Case("matrix_power -2", lambda L, x: L.linalg.matrix_power(x, -2), (spd,)),
        Case("trace", _trace, (gen,)),
        Case("diagonal", lambda L, x: L.linalg.diagonal(x, offset=1), (gen,)),
        Case("matmul", lambda L, x, y: L.matmul(x, y), (gen, tall[:3])),
        Case("vecdot", lambda L, x, y: L.linalg.vecdot(x, y), (gen, gen[::-1])),
        Case("outer", _torch_or_ad(ad.linalg.outer, torch.outer), (gen[0], tall[:, 0])),
        Case("matrix_rank", lambda L, x: L.linalg.matrix_rank(x), (rank1,), grad=False),
        Case("matrix_rank empty", lambda L, x: L.linalg.matrix_rank(x), (np.zeros((0, 0)),), grad=False),
    ]  # fmt: skip
    herm, cz = _herm(3), _rng().normal(size=(3, 3)) + 1j * _rng().normal(size=(3, 3))
    cases += [
        Case("complex eigvalsh", lambda L, x: L.linalg.eigvalsh(x), (herm,)),
        Case("complex eigh vectors", lambda L, x: L.abs(L.linalg.eigh(x)[1]) ** 2, (herm,)),
        Case("complex cholesky", lambda L, x: L.linalg.cholesky(x), (herm,), ref_grad=_hermitian),
        Case(
            "complex cholesky upper",
            lambda L, x: L.linalg.cholesky(x, upper=True),
            (herm,),
            ref_grad=_hermitian,
        ),
        Case("complex inv", lambda L, x: L.linalg.inv(x), (cz,)),
        Case("complex det", lambda L, x: L.linalg.det(x), (cz,)),
        Case("complex solve", lambda L, x, y: L.linalg.solve(x, y), (cz, herm)),
        Case("complex cross", lambda L, x, y: L.linalg.cross(x, y), (cz, herm)),
        Case("complex vecdot", lambda L, x, y: L.linalg.vecdot(x, y), (cz, herm)),
        Case("complex matmul", lambda L, x, y: L.matmul(x, y), (cz, herm)),
        Case("complex pinv", lambda L, x: L.linalg.pinv(x), (cz[:, :2],), grad=False),
    ]
    for c in cases[-11:]:
        c.tags.add("complex")
        c.tags.add("linalg")
    for c in cases:
        c.tags.add("linalg")
    return cases


def _hermitian(g: np.ndarray) -> np.ndarray:
    # PyTorch's complex cholesky gradient is not Hermitian (it reads one triangle); ours
    # reads the Hermitian part (A + Aᴴ)/2 of the input, so it is the Hermitian part of
    # PyTorch's: the two agree on every Hermitian direction (docs/linalg.md)
    return (g + g.conj().T) / 2


def _trace(L: Any, x: Any) -> Any:
    return torch.trace(x) if L is torch else ad.linalg.trace(x)


# -- deliberate differences ------------------------------------------------------------------

Mask = Callable[..., np.ndarray]


def _both(pred: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Mask:
    return lambda a, b, *rest: pred(a, b)


#: case name → [(which input's gradient, or "value"; where; why)]
EXCEPTIONS: dict[str, list[tuple[str, Mask, str]]] = {
    "hypot": [
        (
            "grad",
            _both(lambda a, b: (a == 0) & (b == 0)),
            "hypot'(0, 0) = 0, not NaN (conventions)",
        ),
    ],
    "logaddexp": [
        (
            "grad",
            _both(lambda a, b: (a == -inf) & (b == -inf)),
            "logaddexp(-inf, -inf): gradient 0 as logsumexp's, not NaN (conventions)",
        ),
    ],
    "clip": [
        (
            "grad",
            lambda x, lo, hi: np.isnan(x),
            "a NaN x keeps its gradient: the result is x (conventions); PyTorch masks it",
        ),
    ],
    "clip nan bound": [
        ("grad", lambda x: np.ones(x.shape, bool), "the result is the NaN bound, not x"),
    ],
    "remainder": [
        (
            "grad",
            _both(lambda a, b: ~np.isfinite(a) | ~np.isfinite(b) | (b == 0)),
            "d/db = -q with the forward's quotient q, which is NaN where the result is NaN",
        ),
    ],
}


def _rows(pred: Callable[[np.ndarray], np.ndarray]) -> Mask:
    # whole rows (last axis) of the first input where pred holds for the row
    return lambda x, *rest: np.broadcast_to(pred(x)[..., None], x.shape)


def _all_minus_inf(x: np.ndarray) -> np.ndarray:
    return np.all(x == -inf, axis=-1)


def _any_inf(x: np.ndarray) -> np.ndarray:
    return np.any(np.isinf(x), axis=-1)


_INF_ROWS = (
    "grad",
    _rows(_any_inf),
    "a row with ±inf has NaN or ±inf moments and products either way; which gradient "
    "entries come out NaN and which ±inf depends on the formula (ours avoids division)",
)
EXCEPTIONS.update(
    {
        "copysign": [
            (
                "grad",
                _both(lambda a, b: np.isinf(a)),
                "at x1 = ±inf ours is ±1, sign(x1)·sign(result), the true derivative; "
                "PyTorch's result/x1 is inf/inf = NaN",
            )
        ],
        "acosh": [
            (
                "grad",
                lambda x: x == -1,
                "outside the domain (the value is NaN): 1/sqrt((x-1)(x+1)) is -inf where "
                "PyTorch's 1/sqrt(x²-1) is inf (the sign of a zero)",
            )
        ],
        "sign": [
            (
                "value",
                lambda x: np.isnan(x),
                "sign(NaN) is the backend's own (NaN on NumPy and JAX, 0 on PyTorch and "
                "MLX); sign has no gradient",
            )
        ],
        "logsumexp[(5, 4),1]": [
            (
                "grad",
                _rows(_all_minus_inf),
                "logsumexp of an all -inf row: gradient 0, not NaN (conventions)",
            )
        ],
        "softmax[(5, 4)]": [
            (
                "value",
                _rows(_all_minus_inf),
                "softmax of an all -inf (masked) row is 0, not NaN, as logsumexp's gradient",
            ),
            ("grad", _rows(_all_minus_inf), "the same masked row: gradient 0, not NaN"),
        ],
        "var[(5, 4),1]": [_INF_ROWS],
        "std[(5, 4),1]": [_INF_ROWS],
        "cumulative_prod[(5, 4)]": [_INF_ROWS],
        "prod[(5, 4)]": [_INF_ROWS],
        "lse float32 large": [
            (
                "grad",
                _rows(lambda x: np.max(np.abs(x), axis=-1) >= 1e20),
                "PyTorch's logsumexp gradient exp(x - lse) is off where lse rounds "
                "(1e20 + log 2 == 1e20 gives 1, not 1/2); ours is softmax(x)",
            )
        ],
    }
)


def _skip_masks(case: Case) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for what, mask, _ in EXCEPTIONS.get(case.name, []):
        out[what] = mask(*case.inputs)
    return out


# -- running a case -------------------------------------------------------------------------


def _dtypes(case: Case) -> tuple[Any, Any, Any, float]:
    """(our dtype, torch reference dtype, numpy dtype of our inputs, rtol)."""
    backend = ad.get_backend()
    complex_ = "complex" in case.tags
    wide = backend.exact_float64 and "float32" not in case.tags
    if complex_:
        ours = ad.complex128 if wide and backend.supports(ad.complex128) else ad.complex64
        npdt: Any = np.complex128 if ours == ad.complex128 else np.complex64
        return ours, torch.complex128, npdt, 1e-9 if ours == ad.complex128 else 2e-4
    ours = ad.float64 if wide else ad.float32
    npdt = np.float64 if wide else np.float32
    ref = torch.float32 if "same dtype" in case.tags and not wide else torch.float64
    return ours, ref, npdt, 1e-9 if wide else 2e-4


def _loss_weights(shape: tuple[int, ...], complex_: bool, kind: str) -> np.ndarray:
    if kind == "ones":
        return np.ones(shape)
    r = np.random.default_rng(7)
    w = r.uniform(0.5, 1.5, size=shape)
    return w + 1j * r.uniform(-1, 1, size=shape) if complex_ else w


def _run(L: Any, case: Case, arrays: list[Any]) -> tuple[np.ndarray, list[np.ndarray | None]]:
    out = case.fn(L, *arrays)
    host = np.asarray(out.detach().resolve_conj().numpy() if L is torch else out.numpy())
    if not case.grad:
        return host, []
    complex_out = np.iscomplexobj(host)
    wts = _loss_weights(host.shape, complex_out, case.weights)
    if L is torch:
        if not out.requires_grad:
            return host, [None for _ in arrays]
        w = torch.tensor(wts, dtype=out.dtype)
        loss = torch.sum(torch.real(out * torch.conj(w))) if complex_out else torch.sum(out * w)
        grads = torch.autograd.grad(loss, arrays, allow_unused=True)
        return host, [None if g is None else g.detach().resolve_conj().numpy() for g in grads]
    if not out.requires_grad:
        return host, [None for _ in arrays]
    w = ad.tensor(wts, dtype=out.dtype)
    loss = ad.sum(ad.real(out * ad.conj(w))) if complex_out else ad.sum(out * w)
    loss.backward()
    return host, [None if x.grad is None else np.asarray(x.grad.numpy()) for x in arrays]


def _compare(
    got: np.ndarray, want: np.ndarray, rtol: float, skip: np.ndarray | None, what: str
) -> None:
    got = np.asarray(got)
    want = np.asarray(want).astype(got.dtype) if got.dtype.kind in "fc" else np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, PyTorch {want.shape}"
    if skip is not None and skip.shape == got.shape:
        got, want = got[~skip], want[~skip]
    if got.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    finite = np.isfinite(want)
    scale = float(np.max(np.abs(want[finite]), initial=1.0))
    np.testing.assert_allclose(
        got, want, rtol=rtol, atol=rtol * scale, equal_nan=True, err_msg=what
    )


CASES = _cases()
#: (backend, case) → the clear error the backend gives for a dtype its library lacks
UNSUPPORTED = {("mlx", "complex expm1"): "Not supported for complex64"}
#: (backend, case) → a known bug outside this test's reach, skipped with its reason
KNOWN_GAPS = {
    ("dask", "diff n=5"): "the backward of a slice into an empty (3, 0) result fails in "
    "Dask's scatter",
}
#: MLX's linear algebra is real-only: these raise a clear error there (docs/linalg.md)
MLX_REAL_ONLY = ("complex cholesky", "complex cholesky upper", "complex inv", "complex det", "complex solve")  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_against_pytorch(case: Case) -> None:
    backend = ad.get_backend()
    complex_ = "complex" in case.tags
    if complex_ and not any(backend.supports(d) for d in (ad.complex64, ad.complex128)):
        pytest.skip(f"{backend.name} has no complex dtypes")
    for ext in ("linalg", "fft"):
        if ext in case.tags and ext not in backend.extensions:
            pytest.skip(f"{backend.name} has no {ext}")
    if complex_ and "linalg" in case.tags and backend.name == "mlx" and case.name in MLX_REAL_ONLY:
        with pytest.raises(NotImplementedError, match="float32 and float64 only"), ad.no_grad():
            case.fn(ad, *(ad.tensor(a.astype(np.complex64)) for a in case.inputs))
        return
    if (backend.name, case.name) in KNOWN_GAPS:
        pytest.skip(KNOWN_GAPS[backend.name, case.name])
    if (backend.name, case.name) in UNSUPPORTED:
        with pytest.raises(
            (ValueError, NotImplementedError), match=UNSUPPORTED[backend.name, case.name]
        ):
            case.fn(ad, *(ad.tensor(a.astype(np.complex64)) for a in case.inputs))
        return
    ours_dt, ref_dt, npdt, rtol = _dtypes(case)
    host = [np.asarray(a).astype(npdt) for a in case.inputs]  # the rounded inputs, both sides
    theirs = [torch.tensor(h, dtype=ref_dt, requires_grad=case.grad) for h in host]
    mine = [ad.tensor(h, dtype=ours_dt, requires_grad=case.grad) for h in host]
    want, want_grads = _run(torch, case, theirs)
    try:
        got, got_grads = _run(ad, case, mine)
    except NotImplementedError as err:
        if "does not implement" not in str(err):
            raise
        pytest.skip(str(err).split(";")[0])  # the backend's library lacks it (Dask's linalg)
    except ValueError as err:
        if "Dask array only supports taking an FFT" not in str(err):
            raise
        pytest.skip("Dask's FFT of a padded or cropped axis needs it in one chunk")
    skip = _skip_masks(case)
    _compare(got, want, rtol, skip.get("value"), f"{case.name}: value")
    for i, (g, r) in enumerate(zip(got_grads, want_grads)):
        zeros = np.zeros(host[i].shape)
        if r is not None and case.ref_grad is not None:
            r = case.ref_grad(r)
        _compare(
            zeros if g is None else g,
            zeros if r is None else r,
            rtol,
            skip.get("grad"),
            f"{case.name}: gradient of input {i}",
        )


def test_every_exception_names_a_case_and_a_reason() -> None:
    names = {c.name for c in CASES}
    for name, rows in EXCEPTIONS.items():
        assert name in names, f"exception for unknown case {name!r}"
        for _what, _mask, why in rows:
            assert len(why) > 20
