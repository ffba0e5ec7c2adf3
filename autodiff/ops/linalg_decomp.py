"""Matrix decompositions: forward and gradient rule side by side.

Rules assume real floating inputs. ``cholesky`` and ``eigh`` symmetrise their
input in the forward (``(A + Aᵀ)/2``), so their gradients are symmetric and
agree with finite differences of any square input. Gradients of eigenvectors and
singular vectors are undefined where eigen/singular values repeat (the rules
divide by their differences); losses that depend on vectors only up to sign are
well defined elsewhere.
"""

from __future__ import annotations

from typing import Any

from ..engine import primitive
from .linalg import _eye_like, _mT

__all__ = ["cholesky_p", "eigh_p", "pinv_p", "qr_p", "svd_p"]


def _sym(xp: Any, a: Any) -> Any:
    return (a + _mT(xp, a)) / 2


def _diag(xp: Any, v: Any) -> Any:
    # (..., n) -> (..., n, n) with v on the diagonal
    n = v.shape[-1]
    return xp.eye(n, dtype=v.dtype, device=v.device) * xp.expand_dims(v, axis=-2)


def _tril_mask(xp: Any, like: Any, diag: float, strict: bool = False) -> Any:
    # lower-triangle mask of like's last two axes, ``diag`` on the diagonal
    n = like.shape[-1]
    i = xp.reshape(xp.arange(n, device=like.device), (n, 1))
    j = xp.reshape(xp.arange(n, device=like.device), (1, n))
    below = xp.astype(i > j, like.dtype)
    return below + xp.astype(i == j, like.dtype) * diag


def _inv_diff(xp: Any, w: Any) -> Any:
    # F[i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it
    d = xp.expand_dims(w, axis=-2) - xp.expand_dims(w, axis=-1)
    on = _eye_like(xp, d) == 1
    safe = xp.where(on, xp.ones_like(d), d)
    return xp.where(on, xp.zeros_like(d), 1 / safe)


def _right_inv_t(xp: Any, x: Any, r: Any) -> Any:
    # X R⁻ᵀ = (R⁻¹ Xᵀ)ᵀ
    return _mT(xp, xp.linalg.solve(r, _mT(xp, x)))


# -- cholesky ------------------------------------------------------------------------


def _cholesky_fwd(xp: Any, a: Any, upper: bool = False) -> Any:
    low = xp.linalg.cholesky(_sym(xp, a))
    return _mT(xp, low) if upper else low


def _cholesky_vjp(xp: Any, g: Any, ans: Any, a: Any, upper: bool = False) -> tuple[Any]:
    # Murray (2016): Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹), Φ = lower triangle with half the diagonal
    low, gl = (_mT(xp, ans), _mT(xp, g)) if upper else (ans, g)
    phi = xp.matmul(_mT(xp, low), gl) * _tril_mask(xp, low, 0.5)
    linv = xp.linalg.inv(low)
    s = xp.matmul(_mT(xp, linv), xp.matmul(phi, linv))
    return (_sym(xp, s),)


cholesky_p = primitive("linalg.cholesky", _cholesky_fwd, _cholesky_vjp)


# -- eigh ------------------------------------------------------------------------------


def _eigh_fwd(xp: Any, a: Any) -> tuple[Any, Any]:
    w, v = xp.linalg.eigh(_sym(xp, a))
    return w, v


def _eigh_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # Ā = sym(V (diag(w̄) + F ∘ (Vᵀ V̄)) Vᵀ), F[i, j] = 1/(w_j - w_i)
    gw, gv = g
    w, v = ans
    inner = _diag(xp, gw) + _inv_diff(xp, w) * xp.matmul(_mT(xp, v), gv)
    return (_sym(xp, xp.matmul(v, xp.matmul(inner, _mT(xp, v)))),)


eigh_p = primitive("linalg.eigh", _eigh_fwd, _eigh_vjp, nout=2)


# -- qr ---------------------------------------------------------------------------------


def _qr_fwd(xp: Any, a: Any, mode: str = "reduced") -> tuple[Any, Any]:
    q, r = xp.linalg.qr(a, mode=mode)
    return q, r


def _qr_vjp(xp: Any, g: Any, ans: Any, a: Any, mode: str = "reduced") -> tuple[Any]:
    m, n = a.shape[-2], a.shape[-1]
    if m < n or (mode == "complete" and m != n):
        raise NotImplementedError(
            f"the gradient of qr is implemented for mode='reduced' with rows >= columns "
            f"(or square input); got shape {tuple(a.shape)} with mode={mode!r}."
        )
    gq, gr = g
    q, r = ans
    # as in TensorFlow's QR gradient (m >= n)
    qdq = xp.matmul(_mT(xp, q), gq)
    rdr = xp.matmul(r, _mT(xp, gr))
    low = (qdq - _mT(xp, qdq) + rdr - _mT(xp, rdr)) * _tril_mask(xp, r, 0.0)
    grad_a = xp.matmul(q, gr + _right_inv_t(xp, low, r))
    grad_b = _right_inv_t(xp, gq - xp.matmul(q, xp.matmul(_mT(xp, q), gq)), r)
    return (grad_a + grad_b,)


qr_p = primitive("linalg.qr", _qr_fwd, _qr_vjp, nout=2)


# -- svd --------------------------------------------------------------------------------


def _svd_fwd(xp: Any, a: Any) -> tuple[Any, Any, Any]:
    u, s, vh = xp.linalg.svd(a, full_matrices=False)
    return u, s, vh


def _svd_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # Townsend (2016), thin SVD, real input; needs distinct, nonzero singular values
    gu, gs, gvh = g
    u, s, vh = ans
    v, gv = _mT(xp, vh), _mT(xp, gvh)
    f = _inv_diff(xp, s * s)
    ut_gu = xp.matmul(_mT(xp, u), gu)
    vt_gv = xp.matmul(_mT(xp, v), gv)
    j = f * (ut_gu - _mT(xp, ut_gu))
    k = f * (vt_gv - _mT(xp, vt_gv))
    s_row = xp.expand_dims(s, axis=-2)
    s_col = xp.expand_dims(s, axis=-1)
    core = j * s_row + _diag(xp, gs) + s_col * k
    out = xp.matmul(u, xp.matmul(core, vh))
    m, n = a.shape[-2], a.shape[-1]
    kk = s.shape[-1]
    if m > kk:
        proj = gu - xp.matmul(u, ut_gu)
        out = out + xp.matmul(proj / s_row, vh)
    if n > kk:
        proj_v = gv - xp.matmul(v, vt_gv)
        out = out + xp.matmul(u / s_row, _mT(xp, proj_v))
    return (out,)


svd_p = primitive("linalg.svd", _svd_fwd, _svd_vjp, nout=3)


# -- pinv -------------------------------------------------------------------------------


def _pinv_vjp(xp: Any, g: Any, ans: Any, a: Any, rtol: Any = None) -> tuple[Any]:
    # dP = -P dA P + P Pᵀ dAᵀ (I - A P) + (I - P A) dAᵀ Pᵀ P   (constant rank)
    p = ans
    pt = _mT(xp, p)
    gt = _mT(xp, g)
    i_m = _eye_like(xp, p)  # (m, m): P is (n, m)
    i_n = _eye_like(xp, a)  # (n, n)
    term1 = -xp.matmul(pt, xp.matmul(g, pt))
    term2 = xp.matmul(i_m - xp.matmul(a, p), xp.matmul(gt, xp.matmul(p, pt)))
    term3 = xp.matmul(xp.matmul(pt, p), xp.matmul(gt, i_n - xp.matmul(p, a)))
    return (term1 + term2 + term3,)


pinv_p = primitive("linalg.pinv", lambda xp, a, rtol=None: xp.linalg.pinv(a, rtol=rtol), _pinv_vjp)
