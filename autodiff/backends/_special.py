"""Forward kernels that give the standard's special cases where NumPy does not.

NumPy's ``floor_divide`` follows Python at infinities (``inf // 2`` is NaN,
``5.0 // -inf`` is ``-1.0``; the array API standard says ``+inf`` and ``-0``), its
complex ``expm1`` returns ``nan+nanj`` for every non-finite input (and ``-0`` for
``expm1(-0+0j)``), and its complex ``tanh`` gives ``1-0j`` for ``tanh(inf+3j)``
where the standard says ``1+0j``. The NumPy backend's kernels below compute NumPy's
answer, then take one cheap check (a ``vdot``, one pass with no temporary array) and
patch only the elements the standard specifies differently, so finite inputs pay
the check alone; the generic kernels (array-api-strict, which computes with NumPy)
patch through the array API.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["NUMPY_KERNELS", "STRICT_KERNELS", "runs_plain"]

vdot = np.vdot


def _patch_floor_divide(a: Any, b: Any, out: Any) -> Any:
    # exactly one operand infinite: the result is the true quotient (±inf, or a zero
    # with the quotient's sign); both infinite stays NaN
    with np.errstate(all="ignore"):
        fixed = np.where(np.isinf(a) != np.isinf(b), np.true_divide(a, b), out)
    return fixed if isinstance(out, np.ndarray) else fixed[()]


def np_floor_divide(xp: Any, a: Any, b: Any) -> Any:
    """``floor_divide`` with the standard's infinities (NumPy backend)."""
    out = np.floor_divide(a, b)
    if out.dtype.kind != "f":
        return out
    # NaN in ``out`` (an infinite dividend) or an infinite divisor makes the dot
    # product non-finite; overflow only sends finite inputs down the exact path
    if b.__class__ is np.ndarray and b.shape == out.shape:
        ok = math.isfinite(vdot(out, b))
    elif b.__class__ is float:
        ok = math.isfinite(b) and math.isfinite(vdot(out, out))
    else:
        ok = math.isfinite(np.vdot(out, out)) and bool(np.isfinite(b).all())
    return out if ok else _patch_floor_divide(a, b, out)


def _finite(z: Any) -> bool:
    # one pass, no temporary: Σ conj(z)·z is non-finite when any element is
    return math.isfinite(vdot(z, z).real)


def np_expm1(xp: Any, a: Any) -> Any:
    """``expm1`` with the standard's complex special cases (NumPy backend)."""
    out = np.expm1(a)
    if out.dtype.kind != "c":
        return out
    if not _finite(a):
        # NumPy's complex exp follows C99 at infinities and NaN; its expm1 does not
        with np.errstate(all="ignore"):
            out = np.where(np.isfinite(a), out, np.exp(a) - 1)
    if isinstance(out, np.ndarray):
        # expm1(-0 ± 0j) is 0 ± 0j: adding +0 turns -0 into +0 and leaves the rest
        np.add(out.real, 0.0, out=out.real)
        return out
    return out + 0.0


def np_tanh(xp: Any, a: Any) -> Any:
    """``tanh`` with the standard's complex special cases (NumPy backend)."""
    out = np.tanh(a)
    if out.dtype.kind != "c" or _finite(a):
        return out
    with np.errstate(all="ignore"):
        fixed = _tanh_inf(np, a, out, np.signbit)
    return fixed if isinstance(out, np.ndarray) else fixed[()]


def _tanh_inf(xp: Any, a: Any, out: Any, signbit: Any) -> Any:
    # tanh(±inf + yj) for finite y is ±1 + 0j with the sign of y on the zero
    # (tanh(conj z) = conj(tanh z)); C99 puts the sign of sin(2y) there instead
    re, im = xp.real(a), xp.imag(a)
    flip = xp.isinf(re) & xp.isfinite(im) & (signbit(xp.imag(out)) != signbit(im))
    return xp.where(flip, xp.conj(out), out)


def strict_floor_divide(xp: Any, a: Any, b: Any) -> Any:
    """``floor_divide`` with the standard's infinities, through the array API."""
    out = xp.floor_divide(a, b)
    if not xp.isdtype(out.dtype, "real floating"):
        return out
    # on the result's device (arrays without .device, as Dask's, have only one)
    dev = getattr(out, "device", None)
    if not hasattr(a, "dtype"):
        a = xp.asarray(a, dtype=out.dtype, device=dev)
    if not hasattr(b, "dtype"):
        b = xp.asarray(b, dtype=out.dtype, device=dev)
    return xp.where(xp.isinf(a) != xp.isinf(b), a / b, out)


def strict_expm1(xp: Any, a: Any) -> Any:
    """``expm1`` with the standard's complex special cases, through the array API."""
    out = xp.expm1(a)
    if not xp.isdtype(out.dtype, "complex floating"):
        return out
    # non-finite and zero inputs through exp (which follows C99): exp(z) - 1
    return xp.where(xp.isfinite(a) & (a != 0), out, xp.exp(a) - 1)


def strict_tanh(xp: Any, a: Any) -> Any:
    """``tanh`` with the standard's complex special cases, through the array API."""
    out = xp.tanh(a)
    if not xp.isdtype(out.dtype, "complex floating"):
        return out

    def signbit(x: Any) -> Any:
        return xp.signbit(x)

    return _tanh_inf(xp, a, out, signbit)


# on real arrays these return the NumPy ufunc's result untouched: ``ad.compile``'s
# buffers (``out=``) and fused loops may still stand in for them there
np_expm1.plain_on_real = True  # type: ignore[attr-defined]
np_tanh.plain_on_real = True  # type: ignore[attr-defined]


def runs_plain(fwd: Any, prim: Any, result: Any) -> bool:
    """Whether a traced instruction computed ``result`` as the primitive's own forward
    would: its forward, or a kernel above that only patches complex special cases
    (so an ``out=`` ufunc call or a fused loop may replace it)."""
    if fwd is prim.forward:
        return True
    kind = getattr(getattr(result, "dtype", None), "kind", "c")
    return bool(getattr(fwd, "plain_on_real", False)) and kind in "fiub"


#: primitive name → kernel, for each backend's ``kernels``
NUMPY_KERNELS: dict[str, Callable[..., Any]] = {
    "floor_divide": np_floor_divide,
    "expm1": np_expm1,
    "tanh": np_tanh,
}
STRICT_KERNELS: dict[str, Callable[..., Any]] = {
    "floor_divide": strict_floor_divide,
    "expm1": strict_expm1,
    "tanh": strict_tanh,
}
