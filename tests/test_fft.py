"""The fft extension: values against NumPy, gradients of real-to-real compositions
against finite differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.engine import apply1
from autodiff.ops.fft import real_p
from autodiff.testing import check_grads

from .conftest import make as _make

F = ad.fft
#: float64 data needs complex128; a backend without it (MLX) runs the fft in float32
WIDE = ad.get_backend().supports(ad.complex128)
TOL: dict[str, float] = {"rtol": 1e-7} if WIDE else {"rtol": 2e-4, "atol": 2e-5}


def make(values: Any, requires_grad: bool = False) -> ad.Tensor:
    host = np.asarray(values)
    dtype = ad.float32 if host.dtype.kind == "f" and not WIDE else None
    return _make(host, dtype=dtype, requires_grad=requires_grad)


def close(actual: Any, desired: Any, **kw: Any) -> None:
    np.testing.assert_allclose(actual, desired, **{**TOL, **kw} if WIDE else TOL)


def _re(z: ad.Tensor) -> ad.Tensor:
    return apply1(real_p, z)


def test_values_match_numpy(rng: Any) -> None:
    a = rng.normal(size=(4, 6))
    x = make(a)
    for norm in ("backward", "ortho", "forward"):
        close(F.fft(x, n=5, norm=norm).numpy(), np.fft.fft(a, 5, norm=norm))
        close(F.ifft(x, axis=0, norm=norm).numpy(), np.fft.ifft(a, axis=0, norm=norm))
        close(F.rfft(x, n=8, norm=norm).numpy(), np.fft.rfft(a, 8, norm=norm))
        close(F.hfft(x, n=7, norm=norm).numpy(), np.fft.hfft(a, 7, norm=norm))
        close(F.ihfft(x, norm=norm).numpy(), np.fft.ihfft(a, norm=norm))
    z = F.rfft(x)
    close(F.irfft(z, n=6).numpy(), a, atol=1e-12)
    close(F.fftn(x, s=(3, 5)).numpy(), np.fft.fftn(a, s=(3, 5), axes=(0, 1)))
    close(F.ifftn(x, axes=(0,)).numpy(), np.fft.ifftn(a, axes=(0,)))
    close(F.rfftn(x).numpy(), np.fft.rfftn(a))
    close(F.irfftn(F.rfftn(x), s=(4, 6)).numpy(), a, atol=1e-12)
    close(F.fftshift(x).numpy(), np.fft.fftshift(a))
    close(F.ifftshift(x, axes=1).numpy(), np.fft.ifftshift(a, axes=1))
    close(F.fftfreq(5, d=0.5).numpy(), np.fft.fftfreq(5, 0.5))
    close(F.rfftfreq(6).numpy(), np.fft.rfftfreq(6))


CASES: dict[str, Callable[[ad.Tensor], ad.Tensor]] = {
    "re_fft": lambda t: _re(F.fft(t)),
    "re_fft_pad_ortho": lambda t: _re(F.fft(t, n=9, norm="ortho")),
    "re_ifft_cut_forward": lambda t: _re(F.ifft(t, n=4, axis=0, norm="forward")),
    "irfft_rfft": lambda t: F.irfft(F.rfft(t, n=8), n=5),
    "irfft_rfft_odd": lambda t: F.irfft(F.rfft(t), n=7, norm="ortho"),
    "irfft_of_fft": lambda t: F.irfft(F.fft(t, axis=0), n=6, axis=0),
    "irfft_real_input": lambda t: F.irfft(t, n=9),
    "re_fftn": lambda t: _re(F.fftn(t, s=(5, 4))),
    "irfftn_rfftn": lambda t: F.irfftn(F.rfftn(t, s=(3, 6)), s=(4, 5)),
    "hfft": lambda t: F.hfft(t, n=8),
    "hfft_ihfft": lambda t: F.hfft(F.ihfft(t), n=6),
    "re_ihfft": lambda t: _re(F.ihfft(t, norm="ortho")),
    "fftshift": lambda t: F.fftshift(t) * t,
    "ifftshift": lambda t: F.ifftshift(t, axes=0) * t,
}


@pytest.mark.parametrize("name", list(CASES))
def test_grads_order2(name: str, rng: Any) -> None:
    check_grads(CASES[name], (make(rng.normal(size=(4, 6))),), order=2)


def test_power_spectrum_grad(rng: Any) -> None:
    # |fft(x)|² summed: Parseval says the gradient is 2 n x
    x = make(rng.normal(size=(6,)), requires_grad=True)
    (ad.abs(F.fft(x)) ** 2).sum().backward()
    close(x.grad.numpy(), 12 * x.detach().numpy(), rtol=1e-10)
    check_grads(
        lambda t: ad.abs(F.fft(t)) ** 2, (make(rng.normal(size=(3, 5))),), order=1, modes=("rev",)
    )


def test_array_api_code_finds_fft(rng: Any) -> None:
    def smooth(x: Any) -> Any:
        xp = x.__array_namespace__()
        return xp.fft.irfft(xp.fft.rfft(x), n=x.shape[-1])

    check_grads(smooth, (make(rng.normal(size=(5,))),), order=2)


def test_bad_input() -> None:
    x = make(np.ones(4))
    with pytest.raises(ValueError, match="norm"):
        F.fft(x, norm="none")
    with pytest.raises(ValueError, match="positive int"):
        F.fft(x, n=0)
    with pytest.raises(TypeError, match="real tensor"):
        F.rfft(F.fft(x))
    with pytest.raises(TypeError, match="floating"):
        F.fft(make(np.ones(3, dtype=np.int64)))
    with pytest.raises(ValueError, match="different lengths"):
        F.fftn(x, s=(2, 2), axes=(0,))
