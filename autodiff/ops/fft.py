"""FFT primitives: forward and gradient rule side by side.

Complex cotangents follow PyTorch's convention: for a real loss ``L`` the
gradient of a complex tensor ``z`` is ``∂L/∂x + i ∂L/∂y`` (the conjugate
Wirtinger derivative times 2), so a linear map ``y = A z`` has the VJP
``Aᴴ g``. A real input of a complex-valued map gets the real part of that.
The adjoint of an FFT is the opposite transform with the dual normalisation
(``"backward"`` ↔ ``"forward"``, ``"ortho"`` ↔ ``"ortho"``); padding and
truncation (``n``) are adjoint to each other.
"""

from __future__ import annotations

from typing import Any

from .._core import primitive
from ..engine import call
from ._rules import along_axis, elementwise, linear

__all__ = ["c2c_p", "complex_p", "conj_p", "irfft_p", "real_p", "rfft_p", "shift_p"]

DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _is_complex(xp: Any, a: Any) -> bool:
    return xp.isdtype(a.dtype, "complex floating")


def _to_complex(xp: Any, a: Any) -> Any:
    if _is_complex(xp, a):
        return a
    return xp.astype(a, xp.complex64 if a.dtype == xp.float32 else xp.complex128)


def _fit(xp: Any, g: Any, axis: int, length: int) -> Any:
    # cut or zero-pad g along axis to length (adjoint of the forward's pad / cut)
    have = g.shape[axis]
    if have == length:
        return g
    if have > length:
        key = (slice(None),) * axis + (slice(0, length), Ellipsis)
        return g[key]
    shape = list(g.shape)
    shape[axis] = length - have
    pad = xp.zeros(tuple(shape), dtype=g.dtype, device=getattr(g, "device", None))
    return xp.concat([g, pad], axis=axis)


def _real_if_real(xp: Any, gx: Any, a: Any) -> Any:
    return gx if _is_complex(xp, a) else call(xp, real_p, gx)


def _real_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    return (call(xp, complex_p, g),)


def _complex_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    return (call(xp, real_p, g),)


# every transform here is (real-)linear: its JVP is the transform of the tangent
real_p = primitive(
    "fft.real",
    lambda xp, a: xp.real(a),
    _real_vjp,
    jvp=linear("fft.real"),
    batch=elementwise("fft.real"),
)
complex_p = primitive(
    "fft.complex",
    _to_complex,
    _complex_vjp,
    jvp=linear("fft.complex"),
    batch=elementwise("fft.complex"),
)


def _conj_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    return (call(xp, conj_p, g),)


conj_p = primitive(
    "fft.conj",
    lambda xp, a: xp.conj(a),
    _conj_vjp,
    jvp=linear("fft.conj"),
    batch=elementwise("fft.conj"),
)


# -- complex to complex (one axis) ---------------------------------------------------


def _c2c_fwd(xp: Any, a: Any, n: int, axis: int, norm: str, inverse: bool) -> Any:
    f = xp.fft.ifft if inverse else xp.fft.fft
    return f(_to_complex(xp, a), n=n, axis=axis, norm=norm)


def _c2c_vjp(
    xp: Any, g: Any, ans: Any, a: Any, n: int, axis: int, norm: str, inverse: bool
) -> tuple[Any]:
    gx = call(xp, c2c_p, g, n=g.shape[axis], axis=axis, norm=DUAL[norm], inverse=not inverse)
    return (_real_if_real(xp, _fit(xp, gx, axis, a.shape[axis]), a),)


c2c_p = primitive("fft.c2c", _c2c_fwd, _c2c_vjp, jvp=linear("fft.c2c"), batch=along_axis("fft.c2c"))


# -- real to half-spectrum and back -----------------------------------------------------


def _rfft_vjp(xp: Any, g: Any, ans: Any, a: Any, n: int, axis: int, norm: str) -> tuple[Any]:
    # rfft = keep-half ∘ fft ∘ pad: the adjoint zero-fills the other half, runs the
    # inverse transform with the dual normalisation, keeps the real part and cuts
    full = _fit(xp, g, axis, n)
    gx = call(xp, c2c_p, full, n=n, axis=axis, norm=DUAL[norm], inverse=True)
    return (call(xp, real_p, _fit(xp, gx, axis, a.shape[axis])),)


rfft_p = primitive(
    "fft.rfft",
    lambda xp, a, n, axis, norm: xp.fft.rfft(a, n=n, axis=axis, norm=norm),
    _rfft_vjp,
    jvp=linear("fft.rfft"),
    batch=along_axis("fft.rfft"),
)


def _irfft_fwd(xp: Any, a: Any, n: int, axis: int, norm: str) -> Any:
    return xp.fft.irfft(_to_complex(xp, a), n=n, axis=axis, norm=norm)


def _irfft_vjp(xp: Any, g: Any, ans: Any, a: Any, n: int, axis: int, norm: str) -> tuple[Any]:
    # as PyTorch's c2r backward: rfft of g (dual normalisation), with the entries whose
    # mirror images fall outside the half spectrum counted twice
    gi = call(xp, rfft_p, g, n=n, axis=axis, norm=DUAL[norm])
    m = gi.shape[axis]
    twice = n - m
    if twice > 0:
        idx = xp.arange(m, device=getattr(g, "device", None))
        real_dt = xp.float32 if gi.dtype == xp.complex64 else xp.float64
        w = 1 + xp.astype(idx >= 1, real_dt) * xp.astype(idx <= twice, real_dt)
        w = xp.reshape(w, (m,) + (1,) * (g.ndim - 1 - axis))
        gi = gi * xp.astype(w, gi.dtype)
    return (_real_if_real(xp, _fit(xp, gi, axis, a.shape[axis]), a),)


irfft_p = primitive(
    "fft.irfft", _irfft_fwd, _irfft_vjp, jvp=linear("fft.irfft"), batch=along_axis("fft.irfft")
)


# -- shifts -------------------------------------------------------------------------------


def _shift_fwd(xp: Any, a: Any, axes: tuple[int, ...], inverse: bool) -> Any:
    return (xp.fft.ifftshift if inverse else xp.fft.fftshift)(a, axes=axes)


def _shift_vjp(
    xp: Any, g: Any, ans: Any, a: Any, axes: tuple[int, ...], inverse: bool
) -> tuple[Any]:
    return (call(xp, shift_p, g, axes=axes, inverse=not inverse),)


shift_p = primitive(
    "fft.shift",
    _shift_fwd,
    _shift_vjp,
    jvp=linear("fft.shift"),
    batch=along_axis("fft.shift", param="axes"),
)
