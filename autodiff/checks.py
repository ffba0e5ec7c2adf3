"""``autodiff check``: ``check_grads`` over every differentiable primitive on a backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff as ad

from ._core import PRIMITIVES
from ._info import CONFORMANCE, conformance_markdown
from ._samples import SAMPLES, best_dtype
from .testing import check_grads

__all__ = [
    "CONFORMANCE",
    "SAMPLES",
    "CheckRow",
    "cross_backend_errors",
    "other_backends",
    "rule_coverage",
    "run_checks",
    "tolerance",
    "write_cross_backend_table",
]


@dataclass
class CheckRow:
    """One line of the check table."""

    primitive: str
    dtype: str
    max_error: float | None
    status: str


def run_checks(order: int = 2) -> list[CheckRow]:
    """Check every differentiable primitive's rule on the current backend."""
    backend = ad.get_backend()
    rows = []
    for name, prim in PRIMITIVES.items():
        if not prim.differentiable:
            continue
        # (tests/test_primitives.py fails when a built-in differentiable primitive has no
        # sample: only one defined outside autodiff can lack one)
        if not SAMPLES.get(name):
            rows.append(CheckRow(name, "-", None, "no sample (defined outside autodiff)"))
            continue
        sample = SAMPLES[name][0]
        dtype = best_dtype(sample, backend)
        if not _runs_here(name, backend):
            rows.append(CheckRow(name, dtype.name, None, "not implemented by this backend"))
            continue
        fn, host = sample.fn, sample.args
        args = tuple(ad.tensor(a, dtype=dtype) for a in host)
        try:
            check_grads(fn, args, order=order)
            err = _max_error(fn, args)
            rows.append(CheckRow(name, dtype.name, err, "pass"))
        except AssertionError as failure:
            rows.append(CheckRow(name, dtype.name, None, f"FAIL: {str(failure).splitlines()[0]}"))
        except NotImplementedError as err:  # a clear "this backend cannot run it"
            rows.append(CheckRow(name, dtype.name, None, f"not implemented: {str(err)[:60]}"))
        except Exception as err:  # a rule that crashes fails the check (and the exit code)
            rows.append(CheckRow(name, dtype.name, None, f"FAIL: {type(err).__name__}: {err}"))
    return rows


def rule_coverage() -> list[tuple[str, bool, bool, bool]]:
    """Every built-in primitive as ``(name, differentiable, has JVP rule, has batching
    rule)``, sorted by name: the forward-mode and ``vmap`` coverage the docs list.
    Primitives defined outside ``autodiff`` (by user code or tests) are not listed.

    Examples
    --------
    >>> from autodiff.checks import rule_coverage
    >>> ("matmul", True, True, True) in rule_coverage()
    True
    """
    return sorted(
        (name, p.differentiable, p.jvp is not None, p.batch is not None)
        for name, p in PRIMITIVES.items()
        if getattr(p.forward, "__module__", "").startswith("autodiff.")
    )


def _runs_here(name: str, backend: Any) -> bool:
    # the backend implements the primitive's array API extension and does not declare it
    # unsupported
    ext = name.split(".", 1)[0] if "." in name else None
    return name not in backend.unsupported and (ext is None or ext in backend.extensions)


def other_backends() -> list[str]:
    """The registry's available backends other than NumPy, the reference."""
    return [n for n in ad.backends.available() if n != "numpy"]


def _max_error(fn: Callable[..., Any], args: tuple[Any, ...]) -> float:
    # the first-order reverse-mode error against central differences, for the table
    out = fn(*args)
    v = ad.ones_like(out)
    _, pull = ad.vjp(fn, *args)
    grads = pull(v)
    worst = 0.0
    eps = 1e-6 if args[0].dtype == ad.float64 else 1e-3
    for k, x in enumerate(args):
        host = x.numpy().astype(np.float64)
        flat = host.reshape(-1)
        g = np.asarray(grads[k].numpy(), dtype=np.float64).reshape(-1)
        for j in range(flat.size):
            plus, minus = flat.copy(), flat.copy()
            plus[j] += eps
            minus[j] -= eps
            pa = list(args)
            ma = list(args)
            pa[k] = ad.tensor(plus.reshape(host.shape), dtype=x.dtype)
            ma[k] = ad.tensor(minus.reshape(host.shape), dtype=x.dtype)
            num = (float(fn(*pa).sum().item()) - float(fn(*ma).sum().item())) / (2 * eps)
            worst = max(worst, abs(num - g[j]))
    return worst


def cross_backend_errors(
    names: Sequence[str], reference: str = "numpy"
) -> dict[str, dict[str, float]]:
    """Worst relative gradient error of every sampled primitive on each backend in
    ``names``, against ``reference`` in float64 (each backend in its best float dtype).

    Returns ``{primitive: {backend: error}}``; a backend where the sample cannot run
    gets ``nan``.
    """
    table: dict[str, dict[str, float]] = {}
    for prim, samples in SAMPLES.items():
        sample = samples[0]
        fn, host = sample.fn, sample.args
        with ad.use_backend(reference):
            ref = _grads(fn, host, ad.float64)
        row: dict[str, float] = {}
        for name in names:
            with ad.use_backend(name):
                backend = ad.get_backend()
                dtype = best_dtype(sample, backend)
                if not _runs_here(prim, backend):
                    row[name] = float("nan")
                    continue
                try:
                    got = _grads(fn, host, dtype)
                except (TypeError, ValueError, IndexError, NotImplementedError):
                    row[name] = float("nan")
                    continue
            row[name] = max(
                float(np.max(np.abs(g - r)) / max(1.0, float(np.max(np.abs(r)))))
                for g, r in zip(got, ref)
            )
        table[prim] = row
    return table


def _grads(fn: Callable[..., Any], host: tuple[Any, ...], dtype: Any) -> list[Any]:
    args = tuple(ad.tensor(a, dtype=dtype) for a in host)
    out = fn(*args)
    weights = ad.tensor(np.linspace(0.5, 1.5, out.size).reshape(out.shape), dtype=out.dtype)
    _, pull = ad.vjp(fn, *args)
    return [np.asarray(g.numpy(), dtype=np.float64) for g in pull(weights)]


def tolerance(dtype: Any) -> float:
    """The cross-backend tolerance for gradients computed in ``dtype``."""
    return 1e-9 if dtype == ad.float64 else 1e-4


def write_cross_backend_table(path: str, names: Sequence[str]) -> str:
    """Write the cross-backend table as Markdown to ``path`` and return it."""
    import datetime

    table = cross_backend_errors(names)
    lines = [
        "# Cross-backend gradients",
        "",
        "Worst gradient error of every sampled primitive against NumPy in float64, relative to",
        "the largest reference entry. Each backend runs in its most precise float dtype (float32",
        "on MLX, whose float64 transcendentals have float32 accuracy). Generated by",
        "`python -m autodiff.checks docs/cross-backend.md` on "
        f"{datetime.date.today().isoformat()}; `tests/test_cross_backend.py` checks the tolerances.",
        "Each primitive's first sample in `autodiff/_samples.py`; `nan`: the backend cannot",
        "run it (declared in `Backend.unsupported`, or no `linalg`/`fft` extension).",
        "",
        "| primitive | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for prim, row in table.items():
        lines.append(f"| `{prim}` | " + " | ".join(f"{row[n]:.1e}" for n in names) + " |")
    text = "\n".join(lines) + "\n"
    with open(path, "w") as fh:
        fh.write(text)
    return text


def capability_table(names: Sequence[str]) -> dict[str, dict[str, str]]:
    """For each sampled primitive and backend: which float dtypes run and differentiate.

    A cell reads like ``f32 ✓✓ f64 ✓✓`` (runs, gradient within tolerance of NumPy
    float64), ``f64 ✗`` where the backend cannot hold the dtype, or ``f32 ✓✗`` where it runs
    but the gradient is wrong or fails.
    """
    table: dict[str, dict[str, str]] = {}
    for prim, samples in SAMPLES.items():
        fn, host = samples[0].fn, samples[0].args
        with ad.use_backend("numpy"):
            ref = _grads(fn, host, ad.float64)
        row = {}
        for name in names:
            cells = []
            with ad.use_backend(name):
                backend = ad.get_backend()
                for dt, short in ((ad.float32, "f32"), (ad.float64, "f64")):
                    if not backend.supports(dt):
                        cells.append(f"{short} ✗")
                        continue
                    try:
                        fn(*(ad.tensor(a, dtype=dt) for a in host))
                    except Exception:
                        cells.append(f"{short} ✗")
                        continue
                    try:
                        got = _grads(fn, host, dt)
                        exact = dt == ad.float64 and backend.exact_float64
                        tol = tolerance(ad.float64 if exact else ad.float32)
                        ok = all(
                            float(np.max(np.abs(g - r))) <= tol * max(1.0, float(np.max(np.abs(r))))
                            for g, r in zip(got, ref)
                        )
                    except Exception:
                        ok = False
                    cells.append(f"{short} ✓{'✓' if ok else '✗'}")
            row[name] = " ".join(cells)
        table[prim] = row
    return table


#: complex linear algebra probed for the capability table: name → (function, input)
_COMPLEX_LINALG: dict[str, Callable[[Any], Any]] = {
    "inv": ad.linalg.inv,
    "solve": lambda a: ad.linalg.solve(a, a[:, :2]),
    "det": ad.linalg.det,
    "slogdet": lambda a: ad.linalg.slogdet(a).logabsdet,
    "cholesky": ad.linalg.cholesky,
    "eigh": lambda a: ad.abs(ad.linalg.eigh(a).eigenvectors) ** 2,
    "eigvalsh": ad.linalg.eigvalsh,
    "qr": lambda a: ad.linalg.qr(a).R,
    "svdvals": ad.linalg.svdvals,
    "pinv": ad.linalg.pinv,
    "cross": lambda a: ad.linalg.cross(a, a[::-1]),
    "vecdot": lambda a: ad.vecdot(a, a[::-1]),
}


def _complex_probe(fn: Callable[[Any], Any], ref: tuple[Any, Any] | None) -> tuple[str, Any]:
    # (cell, (value, gradient) as host arrays) for one complex linalg function here
    backend = ad.get_backend()
    cdt = ad.complex128 if backend.supports(ad.complex128) else ad.complex64
    if not backend.supports(cdt):
        return "no complex dtype", None
    r = np.random.default_rng(3)
    z = r.normal(size=(3, 3)) + 1j * r.normal(size=(3, 3))
    host = z @ z.conj().T + 3 * np.eye(3)  # Hermitian positive definite
    tol = 1e-9 if cdt == ad.complex128 and backend.exact_float64 else 1e-3
    try:
        with ad.no_grad():
            value = np.asarray(fn(ad.tensor(host, dtype=cdt)).numpy())
    except (NotImplementedError, TypeError, ValueError):
        return "raises", None
    except Exception as err:
        return f"fails ({type(err).__name__})", None
    value_ok = ref is None or np.allclose(value, ref[0], rtol=tol, atol=tol)
    x = ad.tensor(host, dtype=cdt, requires_grad=True)
    try:
        out = fn(x)
        w = np.linspace(0.5, 1.5, out.size).reshape(out.shape)
        if out.dtype.kind == "complex floating":
            w = w.astype(np.complex128)
        weights = ad.tensor(w, dtype=out.dtype)
        ad.sum(ad.real(out * weights)).backward()
        assert x.grad is not None
        grad = np.asarray(x.grad.numpy())
    except NotImplementedError:
        return ("✓" if value_ok else "✗ wrong") + ", gradient raises", (value, None)
    except Exception as err:
        return ("✓" if value_ok else "✗ wrong") + f", gradient fails ({type(err).__name__})", None
    grad_ok = ref is None or (ref[1] is not None and np.allclose(grad, ref[1], rtol=tol, atol=tol))
    cell = ("✓" if value_ok else "✗ wrong") + (", gradient ✓" if grad_ok else ", gradient ✗")
    return cell, (value, grad)


def complex_linalg_table(names: Sequence[str]) -> dict[str, dict[str, str]]:
    """For each linalg function and backend: do complex values and gradients run and agree
    with NumPy's (whose own are tested against PyTorch and finite differences)?"""
    table: dict[str, dict[str, str]] = {}
    for name, fn in _COMPLEX_LINALG.items():
        with ad.use_backend("numpy"):
            _, ref = _complex_probe(fn, None)
        row = {"numpy": _complex_probe(fn, None)[0] if ref is None else _ok_cell(ref)}
        for backend in names:
            with ad.use_backend(backend):
                row[backend] = _complex_probe(fn, ref)[0]
        table[name] = row
    return table


def _ok_cell(ref: tuple[Any, Any]) -> str:
    return "✓, gradient " + ("raises" if ref[1] is None else "✓")


def write_capability_table(path: str, names: Sequence[str]) -> str:
    """Write the capability table as Markdown to ``path`` and return it."""
    import datetime

    table = capability_table(names)
    lines = [
        "# Capability table",
        "",
        "Each sampled primitive on each backend installed when the table was made, per float",
        "dtype: the first mark says whether it runs, the second whether its gradient agrees",
        "with NumPy float64 (1e-9 relative in exact float64, 1e-4 otherwise); `✗` alone means",
        "the backend cannot hold the dtype. Generated from the primitive registry's samples by",
        f"`python -m autodiff.checks --capabilities docs/capabilities.md` on {datetime.date.today().isoformat()}.",
        "",
        "| primitive | numpy | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    numpy_cells = capability_table(["numpy"])
    for prim, row in table.items():
        lines.append(
            f"| `{prim}` | {numpy_cells[prim]['numpy']} | "
            + " | ".join(row[n] for n in names)
            + " |"
        )
    lines += [
        "",
        "## Complex linear algebra",
        "",
        "Each function on a complex Hermitian positive definite matrix: whether the value",
        "agrees with NumPy's, and whether the gradient runs and agrees with NumPy's",
        "(`raises`: a clear `NotImplementedError`, never a silently wrong answer).",
        "",
        "| function | numpy | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for fname, crow in complex_linalg_table(names).items():
        lines.append(
            f"| `{fname}` | {crow['numpy']} | " + " | ".join(crow[n] for n in names) + " |"
        )
    lines += ["", *conformance_markdown()]
    text = "\n".join(lines) + "\n"
    with open(path, "w") as fh:
        fh.write(text)
    return text


if __name__ == "__main__":
    import sys

    available = other_backends()
    if len(sys.argv) > 1 and sys.argv[1] == "--capabilities":
        print(
            write_capability_table(
                sys.argv[2] if len(sys.argv) > 2 else "docs/capabilities.md", available
            )
        )
    else:
        print(
            write_cross_backend_table(
                sys.argv[1] if len(sys.argv) > 1 else "docs/cross-backend.md", available
            )
        )
