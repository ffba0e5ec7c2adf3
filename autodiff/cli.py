"""The ``autodiff`` command: ``info`` and ``demo`` (more commands join as they land)."""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import autodiff as ad
from autodiff.checks import CONFORMANCE, run_checks
from autodiff.serialization import CheckpointError
from autodiff.training import (
    TrainConfig,
    build_mlp,
    make_optimizer,
    plot_curves,
    train_classifier,
)

__all__ = ["build_parser", "main"]


def _print(*args: Any) -> None:
    print(*args, flush=True)


def cmd_info(args: argparse.Namespace) -> int:
    """Version, backends, devices and dtypes; what is missing and how to install it."""
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
                _print(f"  {'':<18}             {_conformance_line(name)}")
            except Exception as err:
                _print(f"  {name:<18} broken      {err}")
        else:
            hint = backend.install_hint if backend is not None else ""
            _print(f"  {name:<18} missing     {why}. {hint}".rstrip())
    return 0


def _conformance_line(name: str) -> str:
    """What array-api-tests gives on backend ``name`` (docs/conformance.md)."""
    if name not in CONFORMANCE:
        return "array API: not measured (docs/conformance.md)"
    passed, failed, _ = CONFORMANCE[name]
    return (
        f"array API: {passed} of {passed + failed} array-api-tests pass, {failed} known "
        "failures listed with their causes (docs/conformance.md)"
    )


def quickstart(out: Any = _print) -> dict[str, Any]:
    """Run the seeds' quick-start examples, print them, and return their values."""
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


def _select(args: argparse.Namespace) -> None:

    if getattr(args, "backend", None) or getattr(args, "device", None):
        ad.set_backend(args.backend or ad.get_backend().name, args.device)


def _digits(seed: int, flatten: bool = True) -> tuple[Any, Any, Any, Any]:

    x, y = ad.data.load_digits(flatten=flatten)
    x_train, x_test, y_train, y_test = ad.data.train_test_split(x, y, test_fraction=0.2, seed=seed)
    return x_train, x_test, y_train, y_test


def cmd_demo(args: argparse.Namespace) -> int:
    """The quick-start examples, then an MLP trained on the bundled digits."""
    _select(args)
    _print(f"autodiff demo on backend '{ad.get_backend().name}' ({ad.get_device()})\n")
    quickstart()
    if args.graph:
        x = ad.var("x", 2.0)
        y = ad.var("y", 3.0)
        ad.viz.render(x * y + ad.sin(x), path=args.graph)
        _print(f"   wrote the graph of z = x*y + sin(x) to {args.graph}")
    _print(
        "\n6. Training a 64-64-10 MLP with Adam on the 8×8 handwritten digits (1,797 images, bundled)"
    )
    start = time.perf_counter()
    config = TrainConfig(
        hidden=(64,), optimizer="adam", lr=0.01, epochs=args.epochs, batch_size=32, seed=0
    )
    model = build_mlp(64, config.hidden, 10, seed=config.seed)
    opt = make_optimizer(config.optimizer, model.parameters(), config.lr)
    result = train_classifier(model, opt, _digits(config.seed), config)
    _print(
        f"   test accuracy {result.test_accuracy:.1%} after {config.epochs} epochs, "
        f"{time.perf_counter() - start:.1f} s ({result.examples_per_second:,.0f} examples/s)"
    )
    if args.plot:
        plot_curves(result, args.plot)
        _print(f"   wrote {args.plot}")
    if result.test_accuracy < 0.95:
        print(
            f"autodiff demo: test accuracy {result.test_accuracy:.1%} is below 95%: something is wrong.",
            file=sys.stderr,
        )
        return 1
    return 0


#: ``autodiff train``'s settings when neither the command line nor a checkpoint gives them
TRAIN_DEFAULTS: dict[str, Any] = {
    "hidden": "64",
    "optimizer": "adam",
    "lr": 0.01,
    "batch_size": 32,
    "seed": 0,
}
#: settings a resumed run must keep: they fix the model's shape, the optimizer's state
#: and the shuffles, so changing them would no longer continue the same run
_FIXED = {
    "hidden": "--hidden",
    "optimizer": "--optimizer",
    "batch_size": "--batch-size",
    "seed": "--seed",
}


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(h) for h in str(text).split(",") if h.strip())
    except ValueError:
        sizes = (0,)
    if any(h < 1 for h in sizes):
        raise ValueError(
            f"--hidden takes positive layer sizes separated by commas, such as 128,64; got {text!r}."
        )
    return sizes


def _train_checkpoint(path: str) -> dict[str, Any]:
    """The checkpoint at ``path``, checked to be one ``autodiff train`` wrote."""
    try:
        state = ad.load(path)
    except CheckpointError as err:
        raise ValueError(f"{err} Delete it, or pass another --checkpoint.") from err
    if (
        not isinstance(state, dict)
        or not {"model", "optimizer", "epoch"} <= set(state)
        or isinstance(state["epoch"], bool)
        or not isinstance(state["epoch"], int)
    ):
        raise ValueError(
            f"{path} is a checkpoint but not one `autodiff train` wrote (it needs 'model', "
            "'optimizer' and 'epoch'); pass another --checkpoint."
        )
    return state


def _resume_settings(
    state: dict[str, Any], given: dict[str, Any], path: str
) -> tuple[dict[str, Any], list[str]]:
    """The resumed run's settings: the checkpoint's, except a changed --lr (with a notice);
    a change to anything that fixes the run is refused."""
    saved = dict(state.get("config") or {})
    if not saved:  # written before "config" existed: what the checkpoint still says
        if isinstance(state.get("hidden"), list):
            saved["hidden"] = ",".join(map(str, state["hidden"]))
        hyper = state["optimizer"].get("hyper") if isinstance(state["optimizer"], dict) else None
        if isinstance(hyper, dict) and isinstance(hyper.get("lr"), float):
            saved["lr"] = hyper["lr"]
    settings = {**TRAIN_DEFAULTS, **saved}
    notices = []
    for key, value in given.items():
        before = settings[key]
        same = _hidden(value) == _hidden(before) if key == "hidden" else value == before
        if same or key not in saved:
            settings[key] = value
        elif key in _FIXED:
            flag = _FIXED[key]
            raise ValueError(
                f"{path} was trained with {flag} {before}; {flag} {value} would start a "
                f"different run, not continue it. Omit {flag} to resume, or pass another "
                "--checkpoint to start a new run."
            )
        else:  # the learning rate: applied from here on
            settings[key] = value
            notices.append(
                f"note: --lr {value} replaces the checkpoint's learning rate {before} "
                f"from epoch {state['epoch'] + 1} on."
            )
    return settings, notices


def cmd_train(args: argparse.Namespace) -> int:
    """Train a classifier; save and resume checkpoints.

    A resumed run continues the same run bit for bit: the model, the optimizer state and
    the data loader's shuffling state come from the checkpoint. ``--lr`` may change on
    resume (a notice says so); ``--hidden``, ``--optimizer``, ``--batch-size`` and
    ``--seed`` may not (a one-line error says what to do).
    """
    _select(args)
    if args.dataset != "digits":
        raise ValueError(f"unknown dataset {args.dataset!r}; available: digits.")
    if args.checkpoint and not os.path.isdir(os.path.dirname(os.path.abspath(args.checkpoint))):
        raise ValueError(
            f"--checkpoint {args.checkpoint}: its folder does not exist; create it first."
        )
    given = {k: getattr(args, k) for k in TRAIN_DEFAULTS if getattr(args, k) is not None}
    settings = {**TRAIN_DEFAULTS, **given}
    notices: list[str] = []
    state: dict[str, Any] | None = None
    if args.checkpoint and os.path.exists(args.checkpoint):
        state = _train_checkpoint(args.checkpoint)
        settings, notices = _resume_settings(state, given, args.checkpoint)
    hidden = _hidden(settings["hidden"])
    config = TrainConfig(
        hidden=hidden,
        optimizer=settings["optimizer"],
        lr=float(settings["lr"]),
        epochs=args.epochs,
        batch_size=int(settings["batch_size"]),
        seed=int(settings["seed"]),
    )
    model = build_mlp(64, hidden, 10, seed=config.seed)
    opt = make_optimizer(config.optimizer, model.parameters(), config.lr)
    data = _digits(config.seed)
    loader = ad.data.DataLoader(data[0], data[2], batch_size=config.batch_size, seed=config.seed)
    start_epoch = 0
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
        except (KeyError, ValueError, TypeError) as err:
            message = err.args[0] if isinstance(err, KeyError) else err
            raise ValueError(
                f"{args.checkpoint} does not fit this model and optimizer: {message}"
            ) from err
        opt.lr = config.lr = settings["lr"] = float(settings["lr"])
        start_epoch = state["epoch"]
        if "loader" in state:
            loader.load_state_dict(state["loader"])
        else:  # written before the loader's state was saved: draw the epochs' shuffles
            loader.skip_epochs(start_epoch)
        _print(f"resumed from {args.checkpoint} at epoch {start_epoch}")
        for line in notices:
            _print(line)

    def save(epoch: int) -> None:
        if args.checkpoint:
            ad.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "loader": loader.state_dict(),
                    "epoch": epoch,
                    "hidden": list(hidden),
                    "config": {k: settings[k] for k in TRAIN_DEFAULTS},
                },
                args.checkpoint,
            )

    _print(
        f"training on {ad.get_backend().name} ({ad.get_device()}): MLP 64-{'-'.join(map(str, hidden))}-10, "
        f"{config.optimizer}, lr {config.lr}"
    )
    result = train_classifier(
        model,
        opt,
        data,
        config,
        start_epoch=start_epoch,
        on_epoch=save,
        quiet=args.quiet,
        loader=loader,
    )
    _print(f"test accuracy {result.test_accuracy:.1%} ({result.seconds:.1f} s)")
    if args.plot:
        plot_curves(result, args.plot)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """check_grads over every primitive; a table; non-zero exit on any failure."""
    _select(args)
    rows = run_checks(order=args.order)
    _print(f"gradient check on {ad.get_backend().name} ({ad.get_device()}), order {args.order}")
    _print(f"{'primitive':<22} {'dtype':<8} {'max error':>10}  status")
    for r in rows:
        err = "-" if r.max_error is None else f"{r.max_error:.1e}"
        _print(f"{r.primitive:<22} {r.dtype:<8} {err:>10}  {r.status}")
    failed = [r for r in rows if r.status.startswith("FAIL")]
    passed = sum(r.status == "pass" for r in rows)
    _print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark suite (benchmarks/ in a source checkout) in a subprocess."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "run.py").exists():
        raise RuntimeError(
            "autodiff bench needs a source checkout (the benchmarks/ folder); clone the repository."
        )
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    cmd = [
        sys.executable,
        "-m",
        "benchmarks",
        *(["--quick"] if args.quick else []),
        "--backends",
        args.backends,
    ]
    return subprocess.run(cmd, cwd=root, env=env, check=False).returncode


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``autodiff`` command."""
    parser = argparse.ArgumentParser(
        prog="autodiff",
        description="Reverse-mode automatic differentiation on any array API backend.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p_info = sub.add_parser("info", help="version, backends, devices and what is missing")
    p_info.set_defaults(func=cmd_info)

    def backend_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--backend", help="backend name (default: AUTODIFF_BACKEND or numpy)")
        p.add_argument("--device", help="device of that backend (cpu, gpu, cuda:0 ...)")

    p_demo = sub.add_parser("demo", help="the quick-start examples, then train on the digits")
    backend_options(p_demo)
    p_demo.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    p_demo.add_argument(
        "--plot", metavar="PNG", help="write loss/accuracy curves (needs matplotlib)"
    )
    p_demo.add_argument(
        "--graph", metavar="SVG", help="write the quick-start graph (needs graphviz)"
    )
    p_demo.set_defaults(func=cmd_demo)

    p_train = sub.add_parser("train", help="train a classifier, with checkpoints and resume")
    backend_options(p_train)
    p_train.add_argument("--dataset", default="digits", help="data set (digits)")
    p_train.add_argument(
        "--hidden", help="hidden layer sizes, comma separated (default 64; kept on resume)"
    )
    p_train.add_argument(
        "--optimizer",
        choices=["sgd", "adam", "adamw"],
        help="default adam; a resumed run keeps the checkpoint's",
    )
    p_train.add_argument(
        "--lr",
        type=float,
        help="learning rate (default 0.01; on resume, replaces the checkpoint's)",
    )
    p_train.add_argument("--epochs", type=int, default=15, help="total epochs (default 15)")
    p_train.add_argument("--batch-size", type=int, help="default 32; kept on resume")
    p_train.add_argument("--seed", type=int, help="default 0; kept on resume")
    p_train.add_argument(
        "--checkpoint", metavar="PATH", help="save after every epoch; resume if it exists"
    )
    p_train.add_argument(
        "--plot", metavar="PNG", help="write loss/accuracy curves (needs matplotlib)"
    )
    p_train.add_argument("--quiet", action="store_true", help="no progress output")
    p_train.set_defaults(func=cmd_train)

    p_check = sub.add_parser("check", help="gradient check of every primitive, as a table")
    backend_options(p_check)
    p_check.add_argument(
        "--order", type=int, default=2, help="derivative order to check (default 2)"
    )
    p_check.set_defaults(func=cmd_check)

    p_bench = sub.add_parser("bench", help="run the W1-W6 benchmark suite against the peers")
    p_bench.add_argument("--quick", action="store_true", help="tiny sizes, a smoke test")
    p_bench.add_argument("--backends", default="numpy", help="autodiff backends, comma separated")
    p_bench.set_defaults(func=cmd_bench)
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
    except KeyboardInterrupt:
        print(f"autodiff {args.command}: interrupted.", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, KeyError, OSError, ImportError) as err:
        # bad input, a backend that cannot run here, an unreadable or unwritable file:
        # one line that says what is wrong and what to do, no traceback
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        if isinstance(err, OSError) and err.filename is not None:
            message = f"{err.filename}: {err.strerror or err}"
        print(f"autodiff {args.command}: error: {message}", file=sys.stderr)
        return 1
