"""``autodiff check``: ``check_grads`` over every differentiable primitive on a backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff as ad

from .engine import PRIMITIVES
from .ops.special import softmax_cross_entropy
from .testing import check_grads

__all__ = [
    "SAMPLES",
    "CheckRow",
    "cross_backend_errors",
    "run_checks",
    "tolerance",
    "write_cross_backend_table",
]

_R = np.random.default_rng(0)


def _pos(*shape: int) -> Any:
    return _R.uniform(0.5, 2.0, size=shape)


def _any(*shape: int) -> Any:
    return _R.uniform(-1.5, 1.5, size=shape)


#: primitive name → (function, argument host arrays); inputs avoid kinks and ties
SAMPLES: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "add": (ad.add, (_any(2, 3), _any(3))),
    "subtract": (ad.subtract, (_any(2, 3), _any(2, 1))),
    "multiply": (ad.multiply, (_any(2, 3), _any(3))),
    "divide": (ad.divide, (_any(2, 3), _pos(3))),
    "negative": (ad.negative, (_any(3),)),
    "positive": (ad.positive, (_any(3),)),
    "pow": (ad.pow, (_pos(3), _any(3))),
    "exp": (ad.exp, (_any(2, 2),)),
    "log": (ad.log, (_pos(2, 2),)),
    "sin": (ad.sin, (_any(3),)),
    "cos": (ad.cos, (_any(3),)),
    "sqrt": (ad.sqrt, (_pos(3),)),
    "tanh": (ad.tanh, (_any(3),)),
    "sigmoid": (ad.sigmoid, (_any(3),)),
    "relu": (ad.relu, (np.array([-1.0, 0.5, 2.0]),)),
    "abs": (ad.abs, (np.array([-1.0, 0.5, 2.0]),)),
    "maximum": (ad.maximum, (np.array([1.0, -2.0, 3.0]), np.array([0.0, 1.0, 4.0]))),
    "minimum": (ad.minimum, (np.array([1.0, -2.0, 3.0]), np.array([0.0, 1.0, 4.0]))),
    "where": (lambda a, b: ad.where(ad.tensor([True, False, True]), a, b), (_any(3), _any(3))),
    "sum": (lambda a: ad.sum(a, axis=1), (_any(2, 3),)),
    "mean": (lambda a: ad.mean(a, axis=0), (_any(2, 3),)),
    "max": (lambda a: ad.max(a, axis=1), (np.array([[1.0, 3.0, 2.0], [0.5, -1.0, 0.0]]),)),
    "min": (lambda a: ad.min(a, axis=1), (np.array([[1.0, 3.0, 2.0], [0.5, -1.0, 0.0]]),)),
    "logsumexp": (lambda a: ad.logsumexp(a, axis=1), (_any(2, 3),)),
    "matmul": (ad.matmul, (_any(2, 3), _any(3, 2))),
    "reshape": (lambda a: ad.reshape(a, (3, 2)), (_any(2, 3),)),
    "broadcast_to": (lambda a: ad.broadcast_to(a, (2, 3)), (_any(3),)),
    "squeeze": (lambda a: ad.squeeze(a, axis=0), (_any(1, 3),)),
    "expand_dims": (lambda a: ad.expand_dims(a, axis=1), (_any(3),)),
    "permute_dims": (lambda a: ad.permute_dims(a, (1, 0, 2)), (_any(2, 3, 2),)),
    "matrix_transpose": (ad.matrix_transpose, (_any(2, 3),)),
    "concat": (lambda a, b: ad.concat([a, b], axis=0), (_any(2, 3), _any(1, 3))),
    "stack": (lambda a, b: ad.stack([a, b], axis=1), (_any(2, 3), _any(2, 3))),
    "astype": (lambda a: ad.astype(a, ad.float32) * 1.0, (_any(3),)),
    "getitem": (lambda a: a[1:, ::2], (_any(3, 4),)),
    "scatter_into_zeros": (
        lambda a: ad.grad(lambda t: (t[1:, ::2] * a).sum())(ad.zeros((3, 4), dtype=a.dtype)),
        (_any(2, 2),),
    ),
    "take": (lambda a: ad.take(a, ad.tensor([2, 0, 2]), axis=0), (_any(3, 2),)),
    "tan": (ad.tan, (_any(3) / 2,)),
    "asin": (ad.asin, (_any(3) / 2,)),
    "acos": (ad.acos, (_any(3) / 2,)),
    "atan": (ad.atan, (_any(3),)),
    "sinh": (ad.sinh, (_any(3),)),
    "cosh": (ad.cosh, (_any(3),)),
    "asinh": (ad.asinh, (_any(3),)),
    "acosh": (ad.acosh, (_pos(3) + 1,)),
    "atanh": (ad.atanh, (_any(3) / 2,)),
    "expm1": (ad.expm1, (_any(3),)),
    "log1p": (ad.log1p, (_pos(3),)),
    "log2": (ad.log2, (_pos(3),)),
    "log10": (ad.log10, (_pos(3),)),
    "square": (ad.square, (_any(3),)),
    "reciprocal": (ad.reciprocal, (_pos(3),)),
    # complex parts, reached from real inputs: real(conj(a (1 + 2i)) (0.5 + i)) = 2.5 a
    "conj": (lambda a: ad.real(ad.conj(a * (1 + 2j)) * (0.5 + 1j)), (_any(3),)),
    "real": (lambda a: ad.real(ad.exp(a * (1 + 2j))), (_any(3),)),
    "imag": (lambda a: ad.imag(ad.sin(a * (1 - 0.5j)) * a), (_any(3),)),
    "logaddexp": (ad.logaddexp, (_any(2, 3), _any(3))),
    "hypot": (ad.hypot, (_pos(3), _any(3))),
    "atan2": (ad.atan2, (_any(3), _pos(3))),
    "copysign": (ad.copysign, (_pos(3), _any(3))),
    "remainder": (ad.remainder, (np.array([1.3, -2.6, 5.1]), np.array([2.0, 2.0, -2.0]))),
    "prod": (lambda a: ad.prod(a, axis=1), (_any(2, 3),)),
    "cumulative_sum": (lambda a: ad.cumulative_sum(a, axis=1), (_any(2, 3),)),
    "cumulative_prod": (lambda a: ad.cumulative_prod(a, axis=1), (_any(2, 3),)),
    "flip": (lambda a: ad.flip(a, axis=0), (_any(2, 3),)),
    "roll": (lambda a: ad.roll(a, 1, axis=1), (_any(2, 3),)),
    "tril": (ad.tril, (_any(3, 3),)),
    "triu": (ad.triu, (_any(3, 3),)),
    "scatter_add": (
        lambda a: ad.grad(lambda t: (ad.take(t, ad.tensor([2, 0, 2]), axis=0) * a).sum())(
            ad.zeros((3, 2), dtype=a.dtype)
        ),
        (_any(3, 2),),
    ),
    # (the logsumexp output's gradient enters at second order: the rule reads it)
    "softmax_cross_entropy": (lambda a: softmax_cross_entropy(a, ad.tensor([0, 2])), (_any(2, 3),)),
}


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
    dtype = ad.float64 if backend.supports(ad.float64) and backend.exact_float64 else ad.float32
    rows = []
    for name, prim in PRIMITIVES.items():
        if not prim.differentiable or name == "to_device":
            continue
        sample = SAMPLES.get(name)
        if sample is None:
            rows.append(CheckRow(name, dtype.name, None, "no sample"))
            continue
        fn, host = sample
        args = tuple(ad.tensor(a, dtype=dtype) for a in host)
        try:
            check_grads(fn, args, order=order)
            err = _max_error(fn, args)
            rows.append(CheckRow(name, dtype.name, err, "pass"))
        except AssertionError as failure:
            rows.append(CheckRow(name, dtype.name, None, f"FAIL: {str(failure).splitlines()[0]}"))
    return rows


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
    for prim, (fn, host) in SAMPLES.items():
        with ad.use_backend(reference):
            ref = _grads(fn, host, ad.float64)
        row: dict[str, float] = {}
        for name in names:
            with ad.use_backend(name):
                backend = ad.get_backend()
                dtype = (
                    ad.float64
                    if backend.supports(ad.float64) and backend.exact_float64
                    else ad.float32
                )
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
    for prim, (fn, host) in SAMPLES.items():
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
    text = "\n".join(lines) + "\n"
    with open(path, "w") as fh:
        fh.write(text)
    return text


if __name__ == "__main__":
    import sys

    available = [
        n
        for n in ("array_api_strict", "mlx", "torch", "jax", "dask", "cupy")
        if n in ad.backends.available()
    ]
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
