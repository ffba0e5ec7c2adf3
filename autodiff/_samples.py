"""The gradient samples: one table, keyed by primitive name, of inputs that check each
differentiable primitive's rule.

``tests/test_primitives.py`` checks every sample against finite differences (first and
second order) on the backend under test and sweeps the samples that have a ``domain`` over
broadcasting shapes; ``tests/test_cross_backend.py`` compares each primitive's first
sample on every available backend with NumPy float64; ``autodiff check`` runs each
primitive's first sample through ``check_grads``. A test fails when a differentiable
primitive has no sample, or when a sample never reaches the primitive it is filed under.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff as ad

from . import fft as F
from . import linalg as L
from .engine import apply1
from .ops.fft import real_p
from .ops.special import softmax_cross_entropy
from .ops.window import fold, unfold

__all__ = ["SAMPLES", "Sample", "best_dtype", "iter_samples"]

_R = np.random.default_rng(0)


def _u(low: float, high: float, *shape: int) -> Any:
    return _R.uniform(low, high, size=shape)


def _pos(*shape: int) -> Any:
    return _u(0.5, 2.0, *shape)


def _any(*shape: int) -> Any:
    return _u(-1.5, 1.5, *shape)


def _well(*shape: int) -> Any:
    # well-conditioned square matrices: the identity's multiple plus a small perturbation
    return np.eye(shape[-1]) * 2 + _any(*shape) / 4


def _spd(*shape: int) -> Any:
    b = _R.normal(size=shape)
    return b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])


@dataclass(frozen=True)
class Sample:
    """One gradient check: ``fn(*args)`` with ``args`` made tensors of a float dtype.

    Parameters
    ----------
    fn : callable
        Takes one tensor per host array in ``args``; inputs avoid kinks, poles and ties.
    args : tuple of numpy.ndarray
        Float64 host inputs.
    label : str
        Tells apart several samples of one primitive (the test id is ``name-label``).
    order : int
        Highest derivative order ``check_grads`` checks (1 where second differences are
        numerically fragile).
    dtypes : tuple of str
        The float dtypes the sample runs in; each check uses the most precise one the
        backend computes exactly.
    domain : (float, float), optional
        For elementwise functions: the interval hypothesis draws inputs of any
        broadcasting shapes from.
    kink : float, optional
        A point of the domain where the function has no derivative (drawn inputs are
        moved away from it).
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    label: str = ""
    order: int = 2
    dtypes: tuple[str, ...] = ("float32", "float64")
    domain: tuple[float, float] | None = None
    kink: float | None = None


def _s(fn: Callable[..., Any], *args: Any, **kw: Any) -> Sample:
    return Sample(fn, tuple(np.asarray(a, dtype=np.float64) for a in args), **kw)


def _el(fn: Callable[..., Any], low: float, high: float, nargs: int = 1, **kw: Any) -> Sample:
    # an elementwise sample: fixed inputs from the domain, and the domain for sweeps
    shapes = ((2, 3), (3,), (2, 1))[:nargs]
    return _s(fn, *(_u(low, high, *s) for s in shapes), domain=(low, high), **kw)


def _re(z: Any) -> Any:
    return apply1(real_p, z)


def _ri(z: Any) -> Any:
    # a real function of every part of a complex result
    return ad.real(z) * 1.5 + ad.imag(z)


def _eigh_sign_free(a: Any) -> Any:
    w, v = L.eigh(a)
    return v * v * w[..., None, :]  # eigenvector signs cancel


def _svd_sign_free(a: Any) -> Any:
    u, s, vh = L.svd(a, full_matrices=False)
    return (u * s[..., None, :]) @ vh + u[..., :1] * vh[..., :1, :]


def _elsewhere(a: Any) -> Any:
    # ``a`` moved to a backend other than its own (NumPy, or array-api-strict from NumPy)
    return a.to_device("array_api_strict:cpu" if a.backend.name == "numpy" else "numpy:cpu")


# the window samples draw from a generator of their own (the draws of the others stay)
_W = np.random.default_rng(25)


def _wany(*shape: int) -> Any:
    return _W.uniform(-1.5, 1.5, size=shape)


_TIES = np.array([[1.0, 3.0, 2.0], [0.5, -1.0, 0.0]])

#: primitive name → its samples; the first is the one ``autodiff check`` and the
#: cross-backend test use
SAMPLES: dict[str, tuple[Sample, ...]] = {
    "add": (_s(ad.add, _any(2, 3), _any(3), domain=(-2, 2)),),
    "subtract": (
        _s(ad.subtract, _any(2, 3), _any(2, 1), domain=(-2, 2)),
        _el(lambda x: 1.0 - x, -2, 2, label="rsub"),
    ),
    "multiply": (_s(ad.multiply, _any(2, 3), _any(3), domain=(-2, 2)),),
    "divide": (
        _s(ad.divide, _any(2, 3), _pos(3), domain=(0.5, 2)),
        _el(lambda x: 1.0 / x, 0.5, 2, label="rdiv"),
    ),
    "negative": (_s(ad.negative, _any(3), domain=(-2, 2)),),
    "positive": (_s(ad.positive, _any(3), domain=(-2, 2)),),
    "pow": (
        _s(ad.pow, _pos(3), _any(3)),
        _el(ad.pow, 0.5, 2, 2, label="swept"),
        _el(lambda x: x**3, -2, 2, label="scalar"),
        _el(lambda x: x**1.5, 0.3, 2, label="fractional"),
        _el(lambda x: 2.0**x, -2, 2, label="rpow"),
    ),
    "exp": (_s(ad.exp, _any(2, 2), domain=(-2, 2)),),
    "log": (_s(ad.log, _pos(2, 2), domain=(0.3, 3)),),
    "sin": (_s(ad.sin, _any(3), domain=(-3, 3)),),
    "cos": (_s(ad.cos, _any(3), domain=(-3, 3)),),
    "sqrt": (
        _s(ad.sqrt, _pos(3), domain=(0.3, 3)),
        _s(lambda x: ad.std(x, axis=(0, 1), keepdims=True), _u(-2, 2, 2, 3, 2), label="std"),
    ),
    "tanh": (_s(ad.tanh, _any(3), domain=(-2, 2)),),
    "sigmoid": (_s(ad.sigmoid, _any(3), domain=(-4, 4)),),
    "relu": (_s(ad.relu, [-1.0, 0.5, 2.0], domain=(-2, 2), kink=0.0),),
    "abs": (_s(ad.abs, [-1.0, 0.5, 2.0], domain=(-2, 2), kink=0.0),),
    "maximum": (_s(ad.maximum, [1.0, -2.0, 3.0], [0.0, 1.0, 4.0], domain=(-2, 2)),),
    "minimum": (_s(ad.minimum, [1.0, -2.0, 3.0], [0.0, 1.0, 4.0], domain=(-2, 2)),),
    "where": (
        _s(lambda a, b: ad.where(ad.tensor([True, False, True]), a, b), _any(3), _any(3)),
        _s(lambda a, b: ad.where(a > 0.3, a, b), _any(2, 3), _any(3), label="broadcast"),
        _s(lambda x: ad.clip(x, -1.0, 1.0), [-2.0, -0.5, 0.3, 1.7], label="clip"),
        _s(
            lambda x, lo, hi: ad.clip(x, lo, hi),
            [-2.0, 0.2, 3.0],
            [-1.0, -1.0, -1.0],
            [1.0, 1.0, 1.0],
            label="clip_tensor_bounds",
        ),
    ),
    "sum": (_s(lambda a: ad.sum(a, axis=1), _any(2, 3)),),
    "mean": (
        _s(lambda a: ad.mean(a, axis=0), _any(2, 3)),
        _s(lambda x: ad.var(x, axis=0, correction=1), _u(-2, 2, 4, 3), label="var"),
    ),
    "max": (
        _s(lambda a: ad.max(a, axis=1), _TIES),
        _s(lambda x: ad.nn.functional.max_pool2d(x, 2), _wany(1, 2, 5, 4), label="max_pool2d"),
    ),
    "min": (_s(lambda a: ad.min(a, axis=1), _TIES),),
    "logsumexp": (_s(lambda a: ad.logsumexp(a, axis=1), _any(2, 3)),),
    "matmul": (
        _s(ad.matmul, _any(2, 3), _any(3, 2)),
        _s(ad.matmul, _any(3), _any(2, 3, 4), label="vector_batch"),
    ),
    "reshape": (
        _s(lambda a: ad.reshape(a, (3, 2)), _any(2, 3)),
        _s(lambda x: x.reshape(-1), _any(2, 3), label="infer"),
        _s(lambda x: ad.tile(x, (2, 1, 3)), _any(2, 3), label="tile"),
    ),
    "broadcast_to": (
        _s(lambda a: ad.broadcast_to(a, (2, 3)), _any(3)),
        _s(lambda x: ad.broadcast_to(x, (2, 4, 3)), _any(4, 1), label="new_axes"),
        _s(lambda x: ad.repeat(x, 2, axis=1), _any(2, 3), label="repeat"),
        _s(
            lambda a, b: ad.broadcast_arrays(a, b)[0] * ad.broadcast_arrays(a, b)[1],
            _any(2, 1),
            _any(3),
            label="broadcast_arrays",
        ),
        _s(
            lambda a, b: ad.meshgrid(a, b)[0] * ad.meshgrid(a, b)[1] ** 2,
            _any(3),
            _any(2),
            label="meshgrid",
        ),
        _s(
            lambda a, b, c: ad.meshgrid(a, b, c, indexing="ij")[2],
            _any(3),
            _any(2),
            _any(2),
            label="meshgrid_ij",
        ),
    ),
    "squeeze": (
        _s(lambda a: ad.squeeze(a, axis=0), _any(1, 3)),
        _s(lambda x: ad.squeeze(x, axis=1), _any(2, 1, 3), label="middle"),
    ),
    "expand_dims": (
        _s(lambda a: ad.expand_dims(a, axis=1), _any(3)),
        _s(lambda x: ad.expand_dims(x, axis=-1), _any(2, 3), label="last"),
    ),
    "permute_dims": (
        _s(lambda a: ad.permute_dims(a, (1, 0, 2)), _any(2, 3, 2)),
        _s(lambda x: ad.permute_dims(x, (2, 0, 1)), _any(2, 3, 4), label="cycle"),
        _s(lambda x: x.T, _any(2, 3), label="T"),
        _s(lambda x: x.transpose(1, 0, 2), _any(2, 3, 2), label="method"),
        _s(lambda x: ad.moveaxis(x, (0, 1), (-1, 0)), _any(2, 3, 4), label="moveaxis"),
    ),
    "matrix_transpose": (
        _s(ad.matrix_transpose, _any(2, 3)),
        _s(lambda x: x.mT, _any(2, 3, 4), label="mT"),
    ),
    "concat": (
        _s(lambda a, b: ad.concat([a, b], axis=0), _any(2, 3), _any(1, 3)),
        _s(lambda a, b: ad.concat([a, b], axis=1), _any(2, 1), _any(2, 3), label="uneven"),
        _s(lambda x, p: ad.diff(x, n=2, prepend=p), _any(2, 4), _any(2, 1), label="diff"),
        *(
            _s(
                lambda a, b, c, k=k: ad.concat([a, b, c], axis=k),
                *(_any(2, 3),) * 3,
                label=f"axis{k}",
            )
            for k in (0, 1, -1, None)
        ),
    ),
    "stack": (
        _s(lambda a, b: ad.stack([a, b], axis=1), _any(2, 3), _any(2, 3)),
        *(
            _s(lambda a, b, k=k: ad.stack([a, b], axis=k), _any(2, 3), _any(2, 3), label=f"axis{k}")
            for k in (0, 2, -1)
        ),
    ),
    "astype": (
        _s(lambda a: ad.astype(a, ad.float32) * 1.0, _any(3)),
        _s(lambda x: x.astype(ad.float32) * 1.0, _any(3), label="method"),
    ),
    "getitem": (
        _s(lambda a: a[1:, ::2], _any(3, 4)),
        _s(lambda x: x[1], _any(3, 4), label="int"),
        _s(lambda x: x[None, ..., -1], _any(2, 3, 4), label="none_ellipsis"),
        _s(lambda x: x[::-1, 1:3], _any(3, 4), label="negative_step"),
        _s(lambda x: ad.unstack(x, axis=1)[1] * 2, _any(2, 3), label="unstack"),
    ),
    "scatter_into_zeros": (
        _s(
            lambda a: ad.grad(lambda t: (t[1:, ::2] * a).sum())(ad.zeros((3, 4), dtype=a.dtype)),
            _any(2, 2),
        ),
    ),
    "take": (
        _s(lambda a: ad.take(a, ad.tensor([2, 0, 2]), axis=0), _any(3, 2)),
        _s(lambda x: ad.sort(x, axis=0, descending=True), _u(-2, 2, 4, 3), label="sort"),
        _s(lambda x: ad.repeat(x, ad.tensor([2, 0, 1]), axis=0), _any(3, 2), label="repeat_counts"),
    ),
    "tan": (_s(ad.tan, _any(3) / 2), _s(ad.tan, _u(-1, 1, 2, 3), label="wide")),
    "asin": (_s(ad.asin, _u(-0.8, 0.8, 3)),),
    "acos": (_s(ad.acos, _u(-0.8, 0.8, 3)),),
    "atan": (_s(ad.atan, _u(-2, 2, 3)),),
    "sinh": (_s(ad.sinh, _u(-2, 2, 3)),),
    "cosh": (_s(ad.cosh, _u(-2, 2, 3)),),
    "asinh": (_s(ad.asinh, _u(-2, 2, 3)),),
    "acosh": (_s(ad.acosh, _u(1.2, 3, 3)),),
    "atanh": (_s(ad.atanh, _u(-0.8, 0.8, 3)),),
    "expm1": (_s(ad.expm1, _u(-2, 2, 3)),),
    "log1p": (_s(ad.log1p, _u(-0.5, 2, 3)),),
    "log2": (_s(ad.log2, _u(0.3, 3, 3)),),
    "log10": (_s(ad.log10, _u(0.3, 3, 3)),),
    "square": (_s(ad.square, _u(-2, 2, 3)),),
    "reciprocal": (_s(ad.reciprocal, _u(0.5, 2, 3)),),
    # complex parts, reached from real inputs: real(conj(a (1 + 2i)) (0.5 + i)) = 2.5 a
    "conj": (_s(lambda a: ad.real(ad.conj(a * (1 + 2j)) * (0.5 + 1j)), _any(3)),),
    "real": (_s(lambda a: ad.real(ad.exp(a * (1 + 2j))), _any(3)),),
    "imag": (_s(lambda a: ad.imag(ad.sin(a * (1 - 0.5j)) * a), _any(3)),),
    "logaddexp": (_s(ad.logaddexp, _u(-2, 2, 2, 3), _u(-2, 2, 3)),),
    "hypot": (_s(ad.hypot, _u(0.5, 2, 3), _u(-2, -0.5, 2, 3)),),
    "atan2": (_s(ad.atan2, _u(-2, 2, 3), _u(0.5, 2, 3)),),
    "copysign": (_s(ad.copysign, _u(0.5, 2, 3), [-1.0, 2.0, -3.0]),),
    "remainder": (
        _s(ad.remainder, [1.3, -2.6, 5.1], [2.0, 2.0, -2.0]),
        _s(
            ad.remainder,
            _u(0.1, 0.9, 3) + np.array([1.0, -3.0, 5.0]),
            np.full(3, 2.0),
            label="positive_divisor",
        ),
    ),
    "prod": (
        _s(lambda a: ad.prod(a, axis=1), _u(-2, 2, 2, 4)),
        _s(ad.prod, _u(0.5, 1.5, 2, 3), label="all_axes"),
        _s(ad.prod, [2.0, 0.0, 3.0, 1.5], label="zero"),
        _s(lambda x: ad.prod(x, axis=0), [[0.0, 1.0], [0.0, 2.0]], label="two_zeros"),
    ),
    "cumulative_sum": (
        _s(lambda a: ad.cumulative_sum(a, axis=1), _any(2, 3)),
        _s(
            lambda x: ad.cumulative_sum(x, axis=0, include_initial=True),
            _any(3, 2),
            label="initial",
        ),
    ),
    "cumulative_prod": (
        _s(lambda a: ad.cumulative_prod(a, axis=1), _u(-2, 2, 2, 4)),
        _s(ad.cumulative_prod, [1.5, 0.0, 2.0, 0.0, -1.0], label="zeros"),
        _s(
            lambda x: ad.cumulative_prod(x, include_initial=True),
            [1.5, -2.0, 0.0, 3.0],
            label="initial",
        ),
    ),
    "flip": (
        _s(lambda a: ad.flip(a, axis=0), _any(2, 3)),
        _s(lambda x: ad.flip(x, axis=1), _any(2, 3), label="axis1"),
    ),
    "roll": (
        _s(lambda a: ad.roll(a, 1, axis=1), _any(2, 3)),
        _s(lambda x: ad.roll(x, (1, -2), axis=(0, 1)), _any(3, 4), label="two_axes"),
        _s(lambda x: ad.roll(x, 2), _any(2, 3), label="flat"),
    ),
    "tril": (_s(ad.tril, _any(3, 3)), _s(lambda x: ad.tril(x, k=-1), _any(2, 3, 3), label="k-1")),
    "triu": (_s(ad.triu, _any(3, 3)), _s(lambda x: ad.triu(x, k=1), _any(3, 4), label="k1")),
    "scatter_add": (
        _s(
            lambda a: ad.grad(lambda t: (ad.take(t, ad.tensor([2, 0, 2]), axis=0) * a).sum())(
                ad.zeros((3, 2), dtype=a.dtype)
            ),
            _any(3, 2),
        ),
    ),
    # (the logsumexp output's gradient enters at second order: the rule reads it)
    "softmax_cross_entropy": (
        _s(lambda a: softmax_cross_entropy(a, ad.tensor([0, 2])), _any(2, 3)),
    ),
    "softmax": (_s(lambda a: ad.nn.functional.softmax(a, axis=1), _any(2, 3)),),
    "log_softmax": (_s(lambda a: ad.nn.functional.log_softmax(a, axis=0), _any(2, 3)),),
    # complex sign, reached from real inputs: real(sgn(a (1 + 2i) + 0.5i))
    "sgn": (_s(lambda a: ad.real(ad.sign(a * (1 + 2j) + 0.5j)), _any(3)),),
    # a move to another backend and back
    "to_device": (_s(lambda a: ad.sin(_elsewhere(a)).to_device(a.device) * a, _any(3)),),
    "nextafter": (_s(lambda a: ad.nextafter(a, a + 1.0), _any(3)),),
    "linalg.inv": (_s(L.inv, _well(3, 3)), _s(L.inv, _well(2, 3, 3), label="batch")),
    "linalg.solve": (
        _s(L.solve, _well(3, 3), _any(3, 2)),
        _s(L.solve, _well(2, 3, 3), _any(3), label="batch_vector"),
    ),
    "linalg.det": (_s(L.det, _well(3, 3)),),
    "linalg.slogdet": (_s(lambda a: L.slogdet(a).logabsdet, _well(2, 3, 3)),),
    "linalg.diagonal": (
        _s(lambda t: L.diagonal(t, offset=1), _any(2, 3, 4)),
        _s(lambda t: L.trace(t, offset=-1), _any(2, 3, 4), label="trace"),
    ),
    "linalg.cross": (
        _s(L.cross, _any(2, 3), _any(2, 3)),
        _s(L.cross, _any(2, 3), _any(3), label="broadcast"),
    ),
    "linalg.vector_norm": (
        _s(lambda a: L.vector_norm(a, axis=(0, 1), keepdims=True), _any(3, 4)),
        _s(lambda a: L.vector_norm(a, axis=1, ord=3), _any(3, 4), order=1, label="ord3"),
    ),
    "linalg.cholesky": (
        _s(L.cholesky, _well(3, 3)),  # only the lower triangle is read
        _s(L.cholesky, _spd(3, 3), label="spd"),
        _s(lambda a: L.cholesky(a, upper=True), _spd(3, 3), order=1, label="upper"),
    ),
    "linalg.eigh": (
        _s(L.eigvalsh, np.eye(3) * np.array([1.0, 2.0, 4.0]) + _any(3, 3) / 8),
        _s(
            _eigh_sign_free,
            _spd(2, 3, 3),
            label="vectors",
        ),
    ),
    "linalg.qr": (
        _s(lambda a: L.qr(a).R, _R.normal(size=(2, 4, 3))),
        _s(  # wide: A = [X | Y], X square (a generator of its own: the draws above stay)
            lambda a: ad.concat(list(L.qr(a)), axis=-1),
            np.random.default_rng(24).normal(size=(2, 3, 5)),
            label="wide",
        ),
    ),
    "linalg.svd": (
        _s(L.svdvals, _R.normal(size=(4, 3))),
        _s(
            _svd_sign_free,
            _R.normal(size=(2, 4, 3)),
            order=1,  # second derivatives through 1/(s_j^2 - s_i^2) are fragile for differences
            label="vectors",
        ),
    ),
    "linalg.pinv": (_s(L.pinv, _R.normal(size=(4, 3))),),
    "fft.c2c": (
        _s(lambda t: _ri(F.fft(t)), _any(4, 6)),
        _s(lambda t: _ri(F.ifft(t, n=4, axis=0, norm="forward")), _any(4, 6), label="cut"),
    ),
    "fft.rfft": (_s(lambda t: _ri(F.rfft(t, n=8)), _any(4, 6)),),
    "fft.irfft": (
        _s(lambda t: F.irfft(t, n=9), _any(4, 6)),
        _s(lambda t: F.irfft(F.rfft(t), n=7, norm="ortho"), _any(4, 6), label="of_rfft"),
    ),
    "fft.conj": (
        _s(lambda t: F.hfft(F.ihfft(t), n=6), _any(4, 6)),
        _s(lambda t: _ri(F.ihfft(t, norm="ortho")), _any(4, 6), label="ihfft"),
    ),
    # fft.real and fft.complex are reached by the other transforms' rules (second order)
    "fft.real": (_s(lambda t: _re(F.fft(t, n=9, norm="ortho")), _any(4, 6)),),
    # (fft.real's VJP applies fft.complex: reverse mode reaches it at first order)
    "fft.complex": (_s(lambda t: _re(F.fft(t, axis=0)) * t, _any(4, 6)),),
    "fft.shift": (
        _s(lambda t: F.fftshift(t) * t, _any(4, 6)),
        _s(lambda t: F.ifftshift(t, axes=0) * t, _any(4, 6), label="inverse"),
    ),
    # sliding windows (im2col) and their adjoint: stride 1 with padding, stride 2, and
    # windows tiling the image with a remainder cut off (max_pool2d's case)
    "unfold": (
        _s(lambda x: unfold(x, 2, padding=1), _wany(2, 3, 4)),
        _s(lambda x: unfold(x, (3, 2), stride=2), _wany(5, 6), label="stride2"),
        _s(lambda x: unfold(x, 2, stride=2), _wany(1, 5, 4), label="tiles"),
        _s(
            lambda x, w: ad.nn.functional.conv2d(x, w, padding=1),
            _wany(1, 2, 4, 3),
            _wany(2, 2, 2, 2),
            label="conv2d",
        ),
    ),
    "fold": (
        _s(lambda c: fold(c, (4, 5), 2, padding=1), _wany(2, 4, 5, 6)),
        _s(lambda c: fold(c, (5, 6), (3, 2), stride=2), _wany(6, 2, 3), label="stride2"),
        _s(lambda c: fold(c, (5, 4), 2, stride=2), _wany(1, 4, 2, 2), label="tiles"),
    ),
}


def iter_samples() -> Iterator[tuple[str, str, Sample]]:
    """Every sample as ``(test id, primitive name, sample)``."""
    for name, samples in SAMPLES.items():
        for s in samples:
            yield (f"{name}-{s.label}" if s.label else name), name, s


def best_dtype(sample: Sample, backend: Any) -> Any:
    """The most precise float dtype of ``sample.dtypes`` that ``backend`` computes
    exactly (float64 where it holds float64 with float64 accuracy), else float32."""
    exact = backend.supports(ad.float64) and backend.exact_float64
    return ad.float64 if exact and "float64" in sample.dtypes else ad.float32
