"""Matrix decompositions: forward and gradient rule side by side.

``cholesky`` and ``eigh`` take the Hermitian part of their input in the forward
(``(A + Aᴴ)/2``, ``(A + Aᵀ)/2`` for real input), so their gradients are Hermitian
and agree with finite differences of any square input; their rules also hold for
complex input, and so do ``qr``'s (every shape; PyTorch's rules) and ``pinv``'s.
``svd``'s rules are real-only and raise on complex input.

Where eigen/singular values repeat exactly (or a singular value is 0), the rules'
terms that would divide by that gap are dropped (1/0 is taken as 0, as in a
pseudo-inverse). So the gradient of any function of the eigen/singular values
alone (``eigvalsh``, ``svdvals``, nuclear and spectral norms) is
``U diag(g) Uᴴ`` / ``U diag(g) Vᴴ`` at a degeneracy too, and so is that of any
loss that does not depend on the basis chosen inside a repeated eigenspace;
other losses of eigenvectors have no gradient there (PyTorch gives NaN or inf).
"""

from __future__ import annotations

from typing import Any

from .._core import primitive
from ._rules import on_stacks
from .linalg import _eye_like, _mT

__all__ = ["cholesky_p", "eigh_p", "pinv_p", "qr_p", "svd_p"]


def _mH(xp: Any, a: Any) -> Any:
    # conjugate transpose (a plain transpose for real input)
    t = _mT(xp, a)
    return xp.conj(t) if xp.isdtype(a.dtype, "complex floating") else t


def _sym(xp: Any, a: Any) -> Any:
    # the Hermitian part (A + Aᴴ)/2
    return (a + _mH(xp, a)) / 2


def _diag(xp: Any, v: Any) -> Any:
    # (..., n) -> (..., n, n) with v on the diagonal
    n = v.shape[-1]
    return xp.eye(n, dtype=v.dtype, device=getattr(v, "device", None)) * xp.expand_dims(v, axis=-2)


def _tril_mask(xp: Any, like: Any, diag: float, strict: bool = False) -> Any:
    # lower-triangle mask of like's last two axes, ``diag`` on the diagonal
    n = like.shape[-1]
    i = xp.reshape(xp.arange(n, device=getattr(like, "device", None)), (n, 1))
    j = xp.reshape(xp.arange(n, device=getattr(like, "device", None)), (1, n))
    below = xp.astype(i > j, like.dtype)
    return below + xp.astype(i == j, like.dtype) * diag


def _over(xp: Any, x: Any, d: Any) -> Any:
    # x / d, with 1/0 taken as 0 (the pseudo-inverse): linear in x, so the double-VJP
    # forward mode sees the same rule, and no division warning
    tie = d == 0
    q = x / xp.where(tie, xp.ones_like(d), d)
    return xp.where(tie, xp.zeros_like(q), q)


def _gap_div(xp: Any, x: Any, w: Any) -> Any:
    # x[i, j] / (w_j - w_i) off the diagonal, 0 on it
    d = xp.expand_dims(w, axis=-2) - xp.expand_dims(w, axis=-1)
    q = _over(xp, x, d)
    return xp.where(_eye_like(xp, d) == 1, xp.zeros_like(q), q)


# -- cholesky ------------------------------------------------------------------------


def _cholesky_fwd(xp: Any, a: Any, upper: bool = False) -> Any:
    low = xp.linalg.cholesky(_sym(xp, a))
    return _mH(xp, low) if upper else low


def _cholesky_vjp(xp: Any, g: Any, ans: Any, a: Any, upper: bool = False) -> tuple[Any]:
    # Murray (2016): Ā = herm(L⁻ᴴ Φ(Lᴴ L̄) L⁻¹), Φ = lower triangle with half the diagonal
    low, gl = (_mH(xp, ans), _mH(xp, g)) if upper else (ans, g)
    phi = xp.matmul(_mH(xp, low), gl) * _tril_mask(xp, low, 0.5)
    linv = xp.linalg.inv(low)
    s = xp.matmul(_mH(xp, linv), xp.matmul(phi, linv))
    return (_sym(xp, s),)


def _cholesky_jvp(xp: Any, tangents: Any, ans: Any, a: Any, upper: bool = False) -> Any:
    # dL = L Φ(L⁻¹ herm(dA) L⁻ᴴ), Φ = lower triangle with half the diagonal
    t = tangents[0]
    if t is None:
        return None
    low = _mH(xp, ans) if upper else ans
    linv = xp.linalg.inv(low)
    m = xp.matmul(linv, xp.matmul(_sym(xp, t), _mH(xp, linv)))
    dl = xp.matmul(low, m * _tril_mask(xp, m, 0.5))
    return _mH(xp, dl) if upper else dl


cholesky_p = primitive(
    "linalg.cholesky",
    _cholesky_fwd,
    _cholesky_vjp,
    jvp=_cholesky_jvp,
    batch=on_stacks("linalg.cholesky"),
)


# -- eigh ------------------------------------------------------------------------------


def _eigh_fwd(xp: Any, a: Any) -> tuple[Any, Any]:
    w, v = xp.linalg.eigh(_sym(xp, a))
    return w, v


def _eigh_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # Ā = herm(V (diag(w̄) + F ∘ (Vᴴ V̄)) Vᴴ), F[i, j] = 1/(w_j - w_i); with V̄ = 0
    # (eigvalsh) this is V diag(w̄) Vᴴ, repeated eigenvalues included
    gw, gv = g
    w, v = ans
    inner = _gap_div(xp, xp.matmul(_mH(xp, v), gv), w)
    dg = _diag(xp, gw)
    inner = inner + (dg if dg.dtype == inner.dtype else xp.astype(dg, inner.dtype))
    return (_sym(xp, xp.matmul(v, xp.matmul(inner, _mH(xp, v)))),)


def _eigh_jvp(xp: Any, tangents: Any, ans: Any, a: Any) -> tuple[Any, Any]:
    # M = Vᴴ herm(dA) V: dw = diag(M), dV = V (F ∘ M), F[i, j] = 1/(w_j - w_i) (0 at a gap 0)
    t = tangents[0]
    if t is None:
        return None, None
    w, v = ans
    m = xp.matmul(_mH(xp, v), xp.matmul(_sym(xp, t), v))
    dw = xp.linalg.diagonal(m)
    if xp.isdtype(dw.dtype, "complex floating"):
        dw = xp.real(dw)
    return dw, xp.matmul(v, _gap_div(xp, m, w))


eigh_p = primitive(
    "linalg.eigh",
    _eigh_fwd,
    _eigh_vjp,
    nout=2,
    jvp=_eigh_jvp,
    batch=on_stacks("linalg.eigh"),
)


# -- qr ---------------------------------------------------------------------------------


def _qr_fwd(xp: Any, a: Any, mode: str = "reduced") -> tuple[Any, Any]:
    q, r = xp.linalg.qr(a, mode=mode)
    return q, r


def _qr_check(a: Any, mode: str) -> None:
    m, n = a.shape[-2], a.shape[-1]
    if mode == "complete" and m > n:
        raise ValueError(
            f"linalg.qr: mode='complete' with more rows than columns (shape {tuple(a.shape)}) "
            "has no derivative: Q's last rows - columns columns are any orthonormal "
            "completion, not a function of the input. Use mode='reduced' (PyTorch raises "
            "here too)."
        )


def _right_inv_h(xp: Any, x: Any, r: Any) -> Any:
    # X R⁻ᴴ = (R⁻¹ Xᴴ)ᴴ
    return _mH(xp, xp.linalg.solve(r, _mH(xp, x)))


def _copyltu(xp: Any, m: Any) -> Any:
    # the Hermitian matrix with M's strict lower triangle: tril(M, -1) + tril(M, -1)ᴴ +
    # Re diag(M)
    low = m * _tril_mask(xp, m, 0.0)
    return low + _mH(xp, low) + _sym(xp, m * _eye_like(xp, m))


def _qr_vjp_tall(xp: Any, gq: Any, gr: Any, q: Any, r: Any) -> Any:
    # rows >= columns, A = QR with QᴴQ = I and diag(R) real:
    # gA = (gQ + Q copyltu(R gRᴴ - gQᴴ Q)) R⁻ᴴ
    m = xp.matmul(r, _mH(xp, gr)) - xp.matmul(_mH(xp, gq), q)
    return _right_inv_h(xp, gq + xp.matmul(q, _copyltu(xp, m)), r)


def _qr_vjp(xp: Any, g: Any, ans: Any, a: Any, mode: str = "reduced") -> tuple[Any]:
    _qr_check(a, mode)
    gq, gr = g
    q, r = ans
    m, n = a.shape[-2], a.shape[-1]
    if m >= n:
        return (_qr_vjp_tall(xp, gq, gr, q, r),)
    # wide: A = [X | Y] with X square, X = Q R1 (square QR) and R2 = Qᴴ Y, so
    # gX = square_vjp(gQ + Y gR2ᴴ, gR1) and gY = Q gR2
    y, r1 = a[..., m:], r[..., :m]
    gr1, gr2 = gr[..., :m], gr[..., m:]
    gx = _qr_vjp_tall(xp, gq + xp.matmul(y, _mH(xp, gr2)), gr1, q, r1)
    return (xp.concat([gx, xp.matmul(q, gr2)], axis=-1),)


def _qr_jvp_tall(xp: Any, t: Any, q: Any, r: Any) -> tuple[Any, Any]:
    # with C = Qᴴ dA R⁻¹ and Ω = L - Lᴴ + i Im diag(C), L = tril(C, -1) (QᴴdQ: skew-
    # Hermitian; dR R⁻¹: upper triangular with a real diagonal):
    # dQ = Q (Ω - C) + dA R⁻¹, dR = (C - Ω) R
    dx_rinv = _mT(xp, xp.linalg.solve(_mT(xp, r), _mT(xp, t)))  # dA R⁻¹
    c = xp.matmul(_mH(xp, q), dx_rinv)
    low = c * _tril_mask(xp, c, 0.0)
    omega = low - _mH(xp, low)
    if xp.isdtype(c.dtype, "complex floating"):
        d = c * _eye_like(xp, c)
        omega = omega + (d - xp.conj(d)) / 2
    return xp.matmul(q, omega - c) + dx_rinv, xp.matmul(c - omega, r)


def _qr_jvp(xp: Any, tangents: Any, ans: Any, a: Any, mode: str = "reduced") -> tuple[Any, Any]:
    _qr_check(a, mode)
    t = tangents[0]
    if t is None:
        return None, None
    q, r = ans
    m, n = a.shape[-2], a.shape[-1]
    if m >= n:
        return _qr_jvp_tall(xp, t, q, r)
    # wide: dQ, dR1 from the square rule on dX; dR2 = Qᴴ (dY - dQ R2)
    dq, dr1 = _qr_jvp_tall(xp, t[..., :m], q, r[..., :m])
    dr2 = xp.matmul(_mH(xp, q), t[..., m:] - xp.matmul(dq, r[..., m:]))
    return dq, xp.concat([dr1, dr2], axis=-1)


qr_p = primitive("linalg.qr", _qr_fwd, _qr_vjp, nout=2, jvp=_qr_jvp, batch=on_stacks("linalg.qr"))


# -- svd --------------------------------------------------------------------------------


def _svd_fwd(xp: Any, a: Any) -> tuple[Any, Any, Any]:
    u, s, vh = xp.linalg.svd(a, full_matrices=False)
    return u, s, vh


def _real_only(xp: Any, a: Any, name: str) -> None:
    # the rule is real-only: a complex input reaching it (through jvp or vmap, past the
    # call-time check of ``linalg``) raises instead of giving a wrong derivative
    if xp.isdtype(a.dtype, "complex floating"):
        raise NotImplementedError(
            f"derivatives of linalg.{name} are implemented for real tensors only; this one "
            "is complex. Compute it without derivatives (x.detach(), ad.no_grad())."
        )


def _svd_vjp(xp: Any, g: Any, ans: Any, a: Any) -> tuple[Any]:
    # Townsend (2016), thin SVD, real input; U diag(S̄) Vᵀ alone where singular values
    # repeat or vanish and only S is used (svdvals)
    _real_only(xp, a, "svd")
    gu, gs, gvh = g
    u, s, vh = ans
    v, gv = _mT(xp, vh), _mT(xp, gvh)
    s2 = s * s
    ut_gu = xp.matmul(_mT(xp, u), gu)
    vt_gv = xp.matmul(_mT(xp, v), gv)
    j = _gap_div(xp, ut_gu - _mT(xp, ut_gu), s2)
    k = _gap_div(xp, vt_gv - _mT(xp, vt_gv), s2)
    s_row = xp.expand_dims(s, axis=-2)
    s_col = xp.expand_dims(s, axis=-1)
    core = j * s_row + _diag(xp, gs) + s_col * k
    out = xp.matmul(u, xp.matmul(core, vh))
    m, n = a.shape[-2], a.shape[-1]
    kk = s.shape[-1]
    if m > kk:
        proj = gu - xp.matmul(u, ut_gu)
        out = out + xp.matmul(_over(xp, proj, s_row), vh)
    if n > kk:
        proj_v = gv - xp.matmul(v, vt_gv)
        out = out + xp.matmul(u, _mT(xp, _over(xp, proj_v, s_row)))
    return (out,)


def _svd_jvp(xp: Any, tangents: Any, ans: Any, a: Any) -> tuple[Any, Any, Any]:
    # thin SVD, real input: with dS = Uᵀ dA V and F[i, j] = 1/(s_j² - s_i²) (0 at a gap 0),
    # ds = diag(dS), dU = U (F ∘ (dS S + S dSᵀ)) (+ the part outside U's span),
    # dV = V (F ∘ (S dS + dSᵀ S)) (+ the part outside V's span)
    _real_only(xp, a, "svd")
    t = tangents[0]
    if t is None:
        return None, None, None
    u, s, vh = ans
    v = _mT(xp, vh)
    ds_mat = xp.matmul(_mT(xp, u), xp.matmul(t, v))
    s_row = xp.expand_dims(s, axis=-2)
    s_col = xp.expand_dims(s, axis=-1)
    s2 = s * s
    dss = ds_mat * s_row
    sds = s_col * ds_mat
    du = xp.matmul(u, _gap_div(xp, dss + _mT(xp, dss), s2))
    dv = xp.matmul(v, _gap_div(xp, sds + _mT(xp, sds), s2))
    m, n = a.shape[-2], a.shape[-1]
    kk = s.shape[-1]
    if m > kk:
        dav = xp.matmul(t, v)
        du = du + _over(xp, dav - xp.matmul(u, xp.matmul(_mT(xp, u), dav)), s_row)
    if n > kk:
        dau = xp.matmul(_mT(xp, t), u)
        dv = dv + _over(xp, dau - xp.matmul(v, xp.matmul(vh, dau)), s_row)
    return du, xp.linalg.diagonal(ds_mat), _mT(xp, dv)


svd_p = primitive(
    "linalg.svd", _svd_fwd, _svd_vjp, nout=3, jvp=_svd_jvp, batch=on_stacks("linalg.svd")
)


# -- pinv -------------------------------------------------------------------------------


def _pinv_vjp(xp: Any, g: Any, ans: Any, a: Any, rtol: Any = None) -> tuple[Any]:
    # dP = -P dA P + P Pᴴ dAᴴ (I - A P) + (I - P A) dAᴴ Pᴴ P   (constant rank; real or
    # complex)
    p = ans
    pt = _mH(xp, p)
    gt = _mH(xp, g)
    i_m = _eye_like(xp, p)  # (m, m): P is (n, m)
    i_n = _eye_like(xp, a)  # (n, n)
    term1 = -xp.matmul(pt, xp.matmul(g, pt))
    term2 = xp.matmul(i_m - xp.matmul(a, p), xp.matmul(gt, xp.matmul(p, pt)))
    term3 = xp.matmul(xp.matmul(pt, p), xp.matmul(gt, i_n - xp.matmul(p, a)))
    return (term1 + term2 + term3,)


def _pinv_jvp(xp: Any, tangents: Any, ans: Any, a: Any, rtol: Any = None) -> Any:
    # dP = -P dA P + P Pᴴ dAᴴ (I - A P) + (I - P A) dAᴴ Pᴴ P   (constant rank)
    t = tangents[0]
    if t is None:
        return None
    p = ans
    pt = _mH(xp, p)
    tt = _mH(xp, t)
    term1 = -xp.matmul(p, xp.matmul(t, p))
    term2 = xp.matmul(xp.matmul(p, pt), xp.matmul(tt, _eye_like(xp, p) - xp.matmul(a, p)))
    term3 = xp.matmul(_eye_like(xp, a) - xp.matmul(p, a), xp.matmul(tt, xp.matmul(pt, p)))
    return term1 + term2 + term3


pinv_p = primitive(
    "linalg.pinv",
    lambda xp, a, rtol=None: xp.linalg.pinv(a, rtol=rtol),
    _pinv_vjp,
    jvp=_pinv_jvp,
    batch=on_stacks("linalg.pinv"),
)
