"""Gradient checking against central finite differences.

``check_grads`` compares reverse-mode VJPs (``"rev"``) and forward-mode JVPs
(``"fwd"``) of a function with finite differences, and repeats the check on
the derivative itself up to ``order``. Floating inputs are promoted to
float64 where the backend computes it exactly, so the differences are accurate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _dtypes, _tree
from .grad_mode import no_grad
from .tensor import Tensor, wrap
from .transforms import jvp, vjp

__all__ = ["check_grads", "tolerances"]

_TOL = {64: (1e-6, 1e-5, 1e-5), 32: (1e-3, 2e-2, 2e-2), 16: (1e-2, 1e-1, 1e-1)}


def _precision_bits(dtype: Any) -> int:
    dt = _dtypes.to_dtype(dtype)
    return dt.bits if dt.kind == "real floating" else dt.bits // 2


def tolerances(dtype: Any) -> tuple[float, float, float]:
    """``(eps, atol, rtol)`` for finite differences in ``dtype``.

    Complex dtypes use the precision of their real parts.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.testing import tolerances
    >>> tolerances(ad.float64)
    (1e-06, 1e-05, 1e-05)
    >>> tolerances(ad.complex64) == tolerances(ad.float32)
    True
    """
    return _TOL.get(_precision_bits(dtype), _TOL[32])


def _host(t: Tensor) -> Any:
    return np.array(
        t._backend.to_numpy(t.data), dtype=np.float64 if t.dtype.kind == "real floating" else None
    )


def _like(host: Any, t: Tensor) -> Tensor:
    b = t._backend
    return wrap(b.asarray(host.astype(t.dtype.name), dtype=t.dtype, device=t.device), b)


def _promote(x: Any) -> Any:
    if (
        isinstance(x, Tensor)
        and x.dtype.kind == "real floating"
        and x.dtype is not _dtypes.float64
        and x._backend.supports(_dtypes.float64, x.device)
        and x._backend.exact_float64  # MLX's float64 has float32 accuracy: no gain
    ):
        return x.detach().astype(_dtypes.float64)
    return x


def _outputs(result: Any) -> list[Tensor]:
    leaves, _ = _tree.flatten(result)
    return [o for o in leaves if isinstance(o, Tensor) and o.dtype.is_floating]


def _compare(analytic: Any, numeric: Any, atol: float, rtol: float, what: str) -> None:
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise AssertionError(
            f"{what}: analytic shape {analytic.shape} != numerical shape {numeric.shape}"
        )
    both_nonfinite = ~np.isfinite(analytic) & ~np.isfinite(numeric)
    err = np.where(both_nonfinite, 0.0, np.abs(analytic - numeric))
    err = np.where(np.isnan(err), np.inf, err)
    bound = atol + rtol * np.abs(np.where(np.isfinite(numeric), numeric, 0.0))
    excess = err - bound
    if excess.size and np.max(excess) > 0:
        idx = np.unravel_index(int(np.argmax(excess)), excess.shape)
        raise AssertionError(
            f"{what}: worst element at index {tuple(int(i) for i in idx)}: analytic "
            f"{float(analytic[idx])!r}, numerical {float(numeric[idx])!r} (abs error {err[idx]:.3g} > "
            f"atol {atol:g} + rtol {rtol:g} * |numerical|)"
        )


class _Checker:
    def __init__(
        self, atol: float | None, rtol: float | None, eps: float | None, seed: int
    ) -> None:
        self.atol = atol
        self.rtol = rtol
        self.eps = eps
        self.rng = np.random.default_rng(seed)

    def tol(self, tensors: Sequence[Tensor]) -> tuple[float, float, float]:
        bits = min(_precision_bits(t.dtype) for t in tensors)
        if not all(t._backend.exact_float64 for t in tensors):
            bits = min(bits, 32)  # float64 storage, float32 accuracy (MLX)
        eps, atol, rtol = _TOL.get(bits, _TOL[32])
        return (
            eps if self.eps is None else self.eps,
            atol if self.atol is None else self.atol,
            rtol if self.rtol is None else self.rtol,
        )

    def random_like(self, t: Tensor) -> Tensor:
        return _like(self.rng.standard_normal(t.shape), t)

    def sweep(self, f: Callable[..., Any], xs: list[Tensor], k: int, eps: float) -> Any:
        """Yield f at x_k ± eps e_j for every element j of x_k (no grad recorded)."""
        base = _host(xs[k])
        flat = base.reshape(-1)
        for j in range(flat.size):
            vals = []
            for sign in (1.0, -1.0):
                pert = flat.copy()
                pert[j] += sign * eps
                args = list(xs)
                args[k] = _like(pert.reshape(base.shape), xs[k])
                with no_grad():
                    vals.append(f(*args))
            yield j, vals[0], vals[1]

    def rev(self, f: Callable[..., Any], xs: list[Tensor], order: int) -> list[Tensor]:
        outs = _outputs(f(*xs))
        if not outs:
            raise AssertionError("check_grads: the function has no floating-point output.")
        eps, atol, rtol = self.tol(xs + outs)
        vs = [self.random_like(o) for o in outs]
        vs_host = [_host(v) for v in vs]
        _, f_vjp = vjp(lambda *a: tuple(_outputs(f(*a))), *xs)
        analytic = f_vjp(tuple(vs))
        for k, x in enumerate(xs):
            numeric = np.zeros(x.size)
            for j, plus, minus in self.sweep(f, xs, k, eps):
                sp = sum(float(np.sum(vh * _host(o))) for vh, o in zip(vs_host, _outputs(plus)))
                sm = sum(float(np.sum(vh * _host(o))) for vh, o in zip(vs_host, _outputs(minus)))
                numeric[j] = (sp - sm) / (2 * eps)
            _compare(
                _host(analytic[k]),
                numeric.reshape(x.shape),
                atol,
                rtol,
                f"check_grads (rev mode, order {order}): gradient for argument {k}",
            )
        return vs

    def fwd(self, f: Callable[..., Any], xs: list[Tensor], order: int) -> None:
        outs = _outputs(f(*xs))
        eps, atol, rtol = self.tol(xs + outs)
        us = [self.random_like(x) for x in xs]
        _, tangents = jvp(lambda *a: tuple(_outputs(f(*a))), tuple(xs), tuple(us))
        plus = [x + eps * u for x, u in zip(xs, us)]
        minus = [x - eps * u for x, u in zip(xs, us)]
        with no_grad():
            op = _outputs(f(*[p.detach() for p in plus]))
            om = _outputs(f(*[m.detach() for m in minus]))
        for i, (t, a, b) in enumerate(zip(tangents, op, om)):
            numeric = (_host(a) - _host(b)) / (2 * eps)
            _compare(
                _host(t),
                numeric,
                atol,
                rtol,
                f"check_grads (fwd mode, order {order}): tangent of output {i}",
            )
        # the transpose identity <w, J u> = <Jᵀ w, u> ties the JVP to the VJP exactly
        # (no step): a rule off by a term finite differences would blur is caught here
        ws = [self.random_like(o) for o in outs]
        _, f_vjp = vjp(lambda *a: tuple(_outputs(f(*a))), *xs)
        cts = f_vjp(tuple(ws))
        terms = [np.real(np.conj(_host(w)) * _host(t)) for w, t in zip(ws, tangents)]
        terms += [_host(c) * _host(u) for c, u in zip(cts, us)]
        scale = 1.0 + sum(float(np.sum(np.abs(x))) for x in terms)
        lhs = sum(float(np.sum(x)) for x in terms[: len(ws)])
        rhs = sum(float(np.sum(x)) for x in terms[len(ws) :])
        _compare(
            lhs,
            rhs,
            atol * scale,
            0.0,
            f"check_grads (fwd mode, order {order}): <w, J u> (jvp) against <Jᵀ w, u> (vjp)",
        )


def check_grads(
    f: Callable[..., Any],
    args: Any,
    *,
    order: int = 2,
    modes: Sequence[str] = ("rev", "fwd"),
    atol: float | None = None,
    rtol: float | None = None,
    eps: float | None = None,
    seed: int = 0,
) -> None:
    """Check the derivatives of ``f`` at ``args`` against central finite differences.

    Parameters
    ----------
    f : callable
        Takes ``*args``, returns a tensor or a tree of tensors.
    args : tensor or sequence
        The arguments; floating tensors are differentiated (promoted to
        float64 where the backend has it), everything else passes through.
    order : int
        Check derivatives up to this order (2 also checks the gradient of the
        VJP, which exercises ``create_graph=True``).
    modes : sequence of {"rev", "fwd"}
        Reverse mode (VJP with a random cotangent, every input element) and
        forward mode (JVP along a random tangent, against finite differences and
        against the VJP by the transpose identity ``<w, J u> = <Jᵀ w, u>``). At order
        2 and above the derivative checked is the VJP itself, so ``"fwd"`` then checks
        forward over reverse.
    atol, rtol, eps : float, optional
        Tolerances and step; chosen from the dtype when not given.
    seed : int
        Seed of the random cotangents and tangents.

    Raises
    ------
    AssertionError
        Naming the mode, order, argument, the worst element's index and both values.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.testing import check_grads
    >>> check_grads(lambda x: ad.sin(x) * x, (ad.tensor([0.5, 1.5]),), order=2)
    """
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}.")
    unknown = set(modes) - {"rev", "fwd"}
    if unknown:
        raise ValueError(f"unknown modes {sorted(unknown)}; use 'rev' and/or 'fwd'.")
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    args = tuple(_promote(a) for a in args)
    idx = [
        i for i, a in enumerate(args) if isinstance(a, Tensor) and a.dtype.kind == "real floating"
    ]
    if not idx:
        raise ValueError("check_grads needs at least one real floating-point tensor argument.")

    def g(*xs: Tensor) -> Any:
        full = list(args)
        for i, x in zip(idx, xs):
            full[i] = x
        return f(*full)

    xs = [args[i].detach() for i in idx]
    _check(g, xs, order, tuple(modes), _Checker(atol, rtol, eps, seed), 1)


def _check(
    f: Callable[..., Any],
    xs: list[Tensor],
    order: int,
    modes: tuple[str, ...],
    c: _Checker,
    level: int,
) -> None:
    vs = c.rev(f, xs, level) if "rev" in modes else None
    if "fwd" in modes:
        c.fwd(f, xs, level)
    if order <= level:
        return
    if vs is None:
        vs = [c.random_like(o) for o in _outputs(f(*xs))]

    def df(*a: Tensor) -> Any:
        _, f_vjp = vjp(lambda *b: tuple(_outputs(f(*b))), *a)
        return f_vjp(tuple(vs))

    _check(df, xs, order, modes, c, level + 1)
