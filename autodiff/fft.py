"""The array API ``fft`` extension on autodiff tensors, with gradients.

``ad.fft`` is what array-API code finds as ``xp.fft``. Every transform is
differentiable; complex cotangents follow PyTorch's convention (the gradient
of a real loss with respect to ``z = x + iy`` is ``∂L/∂x + i ∂L/∂y``), and a
real input receives a real gradient. ``fftfreq``/``rfftfreq`` make constants.
See docs/fft.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .creation import _dtype_or_default, _target
from .engine import apply1
from .ops._util import as_tensor, normalize_axes, normalize_axis
from .ops.fft import c2c_p, conj_p, irfft_p, rfft_p, shift_p
from .tensor import Tensor, wrap

__all__ = [
    "fft",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfftn",
    "rfft",
    "rfftfreq",
    "rfftn",
]

_NORMS = ("backward", "ortho", "forward")
_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _check(x: Any, n: Any, axis: int, norm: str, name: str, real: bool = False) -> Tensor:
    x = as_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(
            f"fft.{name} needs a floating-point tensor, got {x.dtype.name}; convert it first, "
            "e.g. x.astype(ad.float64)."
        )
    if real and x.dtype.kind == "complex floating":
        raise TypeError(f"fft.{name} needs a real tensor, got {x.dtype.name}.")
    if x.ndim == 0:
        raise ValueError(f"fft.{name} needs at least one dimension, got a 0-d tensor.")
    if norm not in _NORMS:
        raise ValueError(f"fft.{name}: norm must be one of {_NORMS}, got {norm!r}.")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"fft.{name}: n must be a positive int, got {n!r}.")
    normalize_axis(axis, x.ndim)
    return x


def _c2c(x: Any, n: Any, axis: int, norm: str, inverse: bool, name: str) -> Tensor:
    x = _check(x, n, axis, norm, name)
    ax = normalize_axis(axis, x.ndim)
    size = x.shape[ax] if n is None else int(n)
    params = {"n": size, "axis": ax, "norm": norm, "inverse": inverse}
    return apply1(c2c_p, x, params)


def fft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Tensor:
    """One-dimensional discrete Fourier transform.

    Parameters
    ----------
    x : Tensor
        Real or complex floating input.
    n : int, optional
        Length of the transformed axis (the input is cropped or zero-padded).
    axis : int
        The axis to transform.
    norm : {"backward", "ortho", "forward"}
        Which direction is scaled by ``1/n`` (``"ortho"``: both by ``1/√n``).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.fft.fft(ad.tensor([1.0, 0.0, 0.0, 0.0])).tolist()
    [(1+0j), (1+0j), (1+0j), (1+0j)]
    """
    return _c2c(x, n, axis, norm, False, "fft")


def ifft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Tensor:
    """One-dimensional inverse discrete Fourier transform.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.fft.ifft(ad.tensor([4.0, 0.0, 0.0, 0.0]))
    >>> [round(v.real, 4) for v in x.tolist()]
    [1.0, 1.0, 1.0, 1.0]
    """
    return _c2c(x, n, axis, norm, True, "ifft")


def _axes_and_sizes(
    x: Tensor, s: Sequence[int] | None, axes: Sequence[int] | None, name: str
) -> tuple[tuple[int, ...], tuple[int | None, ...]]:
    if axes is None:
        ax = tuple(range(x.ndim)) if s is None else tuple(range(x.ndim - len(s), x.ndim))
    else:
        ax = normalize_axes(axes, x.ndim)
    if s is not None and len(s) != len(ax):
        raise ValueError(f"fft.{name}: s={s!r} and axes={axes!r} have different lengths.")
    sizes = tuple(s) if s is not None else (None,) * len(ax)
    return ax, sizes


def _c2cn(x: Any, s: Any, axes: Any, norm: str, inverse: bool, name: str) -> Tensor:
    # separable: one 1-d transform per axis; normalisations multiply
    x = _check(x, None, -1, norm, name)
    ax, sizes = _axes_and_sizes(x, s, axes, name)
    out = x
    for a, n in zip(ax, sizes):
        out = _c2c(out, n, a, norm, inverse, name)
    return out


def fftn(
    x: Any,
    /,
    *,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str = "backward",
) -> Tensor:
    """N-dimensional discrete Fourier transform over ``axes``.

    Examples
    --------
    >>> import autodiff as ad
    >>> X = ad.fft.fftn(ad.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> [[round(v.real, 4) for v in row] for row in X.tolist()]
    [[10.0, -2.0], [-4.0, 0.0]]
    """
    return _c2cn(x, s, axes, norm, False, "fftn")


def ifftn(
    x: Any,
    /,
    *,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str = "backward",
) -> Tensor:
    """N-dimensional inverse discrete Fourier transform over ``axes``.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.fft.ifftn(ad.fft.fftn(ad.tensor([[1.0, 2.0], [3.0, 4.0]])))
    >>> [[round(v.real, 4) for v in row] for row in x.tolist()]
    [[1.0, 2.0], [3.0, 4.0]]
    """
    return _c2cn(x, s, axes, norm, True, "ifftn")


def rfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Tensor:
    """Discrete Fourier transform of a real signal (the non-negative frequencies).

    Examples
    --------
    >>> import autodiff as ad
    >>> X = ad.fft.rfft(ad.tensor([1.0, 2.0, 3.0, 4.0]))
    >>> X.shape, [round(v.real, 4) for v in X.tolist()]
    ((3,), [10.0, -2.0, -2.0])
    """
    x = _check(x, n, axis, norm, "rfft", real=True)
    ax = normalize_axis(axis, x.ndim)
    size = x.shape[ax] if n is None else int(n)
    return apply1(rfft_p, x, {"n": size, "axis": ax, "norm": norm})


def irfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Tensor:
    """Inverse of ``rfft``: a real signal of length ``n`` (default ``2 (m - 1)``).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.fft.irfft(ad.fft.rfft(ad.tensor([1.0, 2.0, 3.0, 4.0])))
    >>> [round(v, 4) for v in x.tolist()]
    [1.0, 2.0, 3.0, 4.0]
    """
    x = _check(x, n, axis, norm, "irfft")
    ax = normalize_axis(axis, x.ndim)
    size = 2 * (x.shape[ax] - 1) if n is None else int(n)
    if size < 1:
        raise ValueError(f"fft.irfft: output length {size} is invalid; pass n >= 1.")
    return apply1(irfft_p, x, {"n": size, "axis": ax, "norm": norm})


def rfftn(
    x: Any,
    /,
    *,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str = "backward",
) -> Tensor:
    """N-dimensional FFT of a real signal: ``rfft`` on the last axis, ``fft`` on the rest.

    Examples
    --------
    >>> import autodiff as ad
    >>> X = ad.fft.rfftn(ad.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> X.shape, [[round(v.real, 4) for v in row] for row in X.tolist()]
    ((2, 2), [[10.0, -2.0], [-4.0, 0.0]])
    """
    x = _check(x, None, -1, norm, "rfftn", real=True)
    ax, sizes = _axes_and_sizes(x, s, axes, "rfftn")
    out = rfft(x, n=sizes[-1], axis=ax[-1], norm=norm)
    for a, n in zip(ax[:-1], sizes[:-1]):
        out = _c2c(out, n, a, norm, False, "rfftn")
    return out


def irfftn(
    x: Any,
    /,
    *,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str = "backward",
) -> Tensor:
    """Inverse of ``rfftn``: ``ifft`` on all but the last axis, then ``irfft``.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> y = ad.fft.irfftn(ad.fft.rfftn(x), s=(2, 2))
    >>> [[round(v, 4) for v in row] for row in y.tolist()]
    [[1.0, 2.0], [3.0, 4.0]]
    """
    x = _check(x, None, -1, norm, "irfftn")
    ax, sizes = _axes_and_sizes(x, s, axes, "irfftn")
    out = x
    for a, n in zip(ax[:-1], sizes[:-1]):
        out = _c2c(out, n, a, norm, True, "irfftn")
    return irfft(out, n=sizes[-1], axis=ax[-1], norm=norm)


def _conj(x: Tensor) -> Tensor:
    return apply1(conj_p, x) if x.dtype.kind == "complex floating" else x


def hfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Tensor:
    """FFT of a Hermitian-symmetric signal given by its first half: a real spectrum.

    Examples
    --------
    >>> import autodiff as ad
    >>> X = ad.fft.hfft(ad.tensor([1.0, 0.0, 0.0]))
    >>> X.dtype, [round(v, 4) for v in X.tolist()]
    (autodiff.float64, [1.0, 1.0, 1.0, 1.0])
    """
    x = _check(x, n, axis, norm, "hfft")
    return irfft(_conj(x), n=n, axis=axis, norm=_SWAP[norm])


def ihfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Tensor:
    """Inverse of ``hfft``: the first half of a Hermitian spectrum of a real signal.

    Examples
    --------
    >>> import autodiff as ad
    >>> h = ad.fft.ihfft(ad.tensor([1.0, 1.0, 1.0, 1.0]))
    >>> [round(v.real, 4) for v in h.tolist()]
    [1.0, 0.0, 0.0]
    """
    x = _check(x, n, axis, norm, "ihfft", real=True)
    return _conj(rfft(x, n=n, axis=axis, norm=_SWAP[norm]))


def _shift(x: Any, axes: Any, inverse: bool) -> Tensor:
    x = as_tensor(x)
    ax = normalize_axes(axes, x.ndim)
    return apply1(shift_p, x, {"axes": ax, "inverse": inverse})


def fftshift(x: Any, /, *, axes: int | Sequence[int] | None = None) -> Tensor:
    """Move the zero frequency to the centre (over ``axes``, all by default).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.fft.fftshift(ad.tensor([0.0, 1.0, 2.0, -2.0, -1.0])).tolist()
    [-2.0, -1.0, 0.0, 1.0, 2.0]
    """
    return _shift(x, axes, False)


def ifftshift(x: Any, /, *, axes: int | Sequence[int] | None = None) -> Tensor:
    """Inverse of ``fftshift``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.fft.ifftshift(ad.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])).tolist()
    [0.0, 1.0, 2.0, -2.0, -1.0]
    """
    return _shift(x, axes, True)


def _freq(n: int, d: float, dtype: Any, device: Any, real: bool) -> Tensor:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}.")
    backend, dev = _target(device)
    nd = _dtype_or_default(dtype, backend, dev)
    f = backend.xp.fft.rfftfreq if real else backend.xp.fft.fftfreq
    return wrap(f(n, d=d, dtype=nd, device=dev.native), backend)


def fftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Tensor:
    """Sample frequencies of ``fft`` (a constant).

    Parameters
    ----------
    n : int
        The signal length.
    d : float
        The sample spacing.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.fft.fftfreq(4).tolist()
    [0.0, 0.25, -0.5, -0.25]
    """
    return _freq(n, d, dtype, device, False)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Tensor:
    """Sample frequencies of ``rfft`` (a constant).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.fft.rfftfreq(4, d=0.5).tolist()
    [0.0, 0.5, 1.0]
    """
    return _freq(n, d, dtype, device, True)
