"""The ``autodiff`` command: ``info`` and ``demo`` (more commands join as they land)."""

from __future__ import annotations

import argparse
import math
import platform
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["build_parser", "main"]


def _print(*args: Any) -> None:
    print(*args, flush=True)


def cmd_info(args: argparse.Namespace) -> int:
    """Version, backends, devices and dtypes; what is missing and how to install it."""
    import autodiff as ad

    _print(f"autodiff {ad.__version__} (array API {ad.__array_api_version__})")
    _print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}")
    try:
        current = ad.get_backend().name
        _print(f"default backend: {current} (device {ad.get_device()})")
    except Exception as err:
        _print(f"default backend: unavailable: {err}")
    _print("backends:")
    for name in ad.backends.registered():
        try:
            backend = ad.backends.get(name)
            ok, why = backend.availability()
        except Exception as err:
            ok, why, backend = False, str(err), None
        if ok and backend is not None:
            try:
                devices = ", ".join(str(d) for d in backend.devices())
                dtypes = ", ".join(d.name for d in backend.dtypes())
                _print(f"  {name:<18} available   devices: {devices}")
                _print(f"  {'':<18}             dtypes: {dtypes}")
            except Exception as err:
                _print(f"  {name:<18} broken      {err}")
        else:
            hint = backend.install_hint if backend is not None else ""
            _print(f"  {name:<18} missing     {why}. {hint}".rstrip())
    return 0


def quickstart(out: Any = _print) -> dict[str, Any]:
    """Run the seeds' quick-start examples, print them, and return their values."""
    import autodiff as ad

    results: dict[str, Any] = {}
    out("1. Scalars with named variables:  z = x*y + sin(x) at x=2, y=3")
    x = ad.var("x", 2.0)
    y = ad.var("y", 3.0)
    z = x * y + ad.sin(x)
    grads = z.backward()
    out(
        f"   z = {z.item():.6f}   dz/dx = {grads['x'].item():.6f}   dz/dy = {grads['y'].item():.6f}"
    )
    out(
        f"   (expected z = 6 + sin 2 = {6 + math.sin(2):.6f}, dz/dx = 3 + cos 2 = {3 + math.cos(2):.6f})"
    )
    results["z"] = (z.item(), grads["x"].item(), grads["y"].item())

    out("2. PyTorch style:  z = (x + y) * x,  x = [1, 2], y = [3, 4]")
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = ad.tensor([3.0, 4.0], requires_grad=True)
    z = (x + y) * x
    z.backward(ad.ones_like(z))
    assert x.grad is not None
    assert y.grad is not None
    out(f"   z = {z.tolist()}   dz/dx = {x.grad.tolist()}   dz/dy = {y.grad.tolist()}")
    results["xy"] = (x.grad.tolist(), y.grad.tolist())

    out("3. y = x*x + x at x = 3")
    x = ad.tensor(3.0, requires_grad=True)
    y = x * x + x
    y.backward()
    assert x.grad is not None
    out(f"   y = {y.item()}   dy/dx = {x.grad.item()}")
    results["poly"] = (y.item(), x.grad.item())

    out("4. Broadcasting:  loss = sum(tanh(a + b) * (a + 2)),  a (2, 3), b (1, 3)")
    rng = ad.get_backend().random
    rng.seed(0)
    a = ad.tensor(rng.normal((2, 3)), requires_grad=True)
    b = ad.tensor(rng.normal((1, 3)), requires_grad=True)
    loss = ((a + b).tanh() * (a + 2.0)).sum()
    loss.backward()
    assert a.grad is not None
    assert b.grad is not None
    out(
        f"   loss = {loss.item():.6f}   a.grad.shape = {a.grad.shape}   b.grad.shape = {b.grad.shape}"
    )
    results["broadcast"] = (a.grad.shape, b.grad.shape)

    out("5. Functional style:  d/dx and d²/dx² of x**3 * sin(x) at x = 1")
    f = lambda t: t**3 * ad.sin(t)  # noqa: E731
    d1 = ad.grad(f)(ad.tensor(1.0))
    d2 = ad.grad(ad.grad(f))(ad.tensor(1.0))
    out(f"   f' = {d1.item():.6f}   f'' = {d2.item():.6f}")
    results["higher"] = (d1.item(), d2.item())
    return results


def cmd_demo(args: argparse.Namespace) -> int:
    """The quick-start examples with their values and gradients."""
    import autodiff as ad

    if args.backend:
        ad.set_backend(args.backend, args.device)
    _print(f"autodiff demo on backend '{ad.get_backend().name}' ({ad.get_device()})\n")
    quickstart()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``autodiff`` command."""
    parser = argparse.ArgumentParser(
        prog="autodiff",
        description="Reverse-mode automatic differentiation on any array API backend.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p_info = sub.add_parser("info", help="version, backends, devices and what is missing")
    p_info.set_defaults(func=cmd_info)
    p_demo = sub.add_parser("demo", help="run the quick-start examples")
    p_demo.add_argument("--backend", help="backend name (default: AUTODIFF_BACKEND or numpy)")
    p_demo.add_argument("--device", help="device of that backend (cpu, gpu, cuda:0 ...)")
    p_demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``autodiff`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except (ValueError, TypeError, RuntimeError) as err:
        print(f"autodiff {args.command}: error: {err}", file=sys.stderr)
        return 1
