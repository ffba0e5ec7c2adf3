"""Run W1–W6 for autodiff and every installed peer, each system in its own process.

    python -m benchmarks [--quick] [--out results.json] [--chart chart.png]

Thread counts are pinned to 2, gradients are checked to agree across systems
before timing, and medians of repeats are reported with ratios to the
hand-written NumPy limit and to PyTorch.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WORKLOADS = {
    "W1": ("200 chained elementwise ops on 16 f64", "µs/op", 1e6 / 201),
    "W2": ("MLP 4-16-16-1 scalar by scalar, 8 samples", "ms/step", 1e3),
    "W3": ("MLP 784-256-128-10, batch 128, f32, + SGD", "ms/step", 1e3),
    "W4": ("1024² f32 matmul, loss sum(C²), dA and dB", "ms", 1e3),
    "W5": ("20,000 × (x·0.999 + 0.001) on 0-d f64, backward", "ms", 1e3),
    "W6": ("W3 for 300 steps: peak RSS", "MB", 1.0),
}
REPEATS = {"W1": 30, "W2": 5, "W3": 50, "W4": 5, "W5": 3}
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def worker(system: str, workload: str, quick: bool) -> dict[str, Any]:
    """Build, check once, then time one system on one workload (in this process)."""
    from benchmarks.workloads import builders, inputs

    table = builders(system)
    if workload not in table:
        return {"skipped": "not implemented for this system"}
    data = inputs(workload, quick)
    step, fingerprint = table[workload](data)
    step()
    result: dict[str, Any] = {"fingerprint": fingerprint()}
    if workload == "W6":
        rss = []
        for i in range(data["steps"]):
            step()
            if i in (9, data["steps"] - 1):
                rss.append(_rss_mb())
        result["value"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        result["growth_mb"] = rss[1] - rss[0]
        return result
    times = []
    for _ in range(2 if quick else REPEATS[workload]):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    result["value"] = statistics.median(times) * WORKLOADS[workload][2]
    return result


def systems(backends: list[str]) -> list[str]:
    """The systems installed here: NumPy by hand, autodiff per backend, and the peers."""
    out = ["numpy"] + [f"autodiff-{b}" for b in backends] + [f"compiled-{b}" for b in backends]
    for name, module in (
        ("torch", "torch"),
        ("jax", "jax"),
        ("autograd", "autograd"),
        ("mygrad", "mygrad"),
        ("micrograd", "micrograd"),
    ):
        if importlib.util.find_spec(module) is not None:
            out.append(name)
    if "mlx" in backends and importlib.util.find_spec("mlx") is not None:
        out.append("mx.grad")  # MLX's own autodiff, the peer of the MLX backend
    return out


def _env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    env.update(dict.fromkeys(THREAD_VARS, "2"))
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_one(system: str, workload: str, quick: bool, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.run", "--worker", system, workload] + (
        ["--quick"] if quick else []
    )
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=_env(), timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {proc.returncode}: {tail[0][:200]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agree(a: list[float], b: list[float], rtol: float) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= rtol * max(1e-6, abs(y)) for x, y in zip(a, b))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("SYSTEM", "WORKLOAD"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and few repeats (a smoke test)"
    )
    parser.add_argument(
        "--backends", default="numpy", help="autodiff backends, comma separated (default numpy)"
    )
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--out", default="bench-results/results.json")
    parser.add_argument("--chart", default="bench-results/chart.png")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.quick)))
        return 0

    names = systems([b for b in args.backends.split(",") if b])
    results: dict[str, dict[str, Any]] = {}
    failed = False
    for w in args.workloads.split(","):
        results[w] = {}
        for s in names:
            r = run_one(s, w, args.quick, args.timeout)
            results[w][s] = r
            print(f"{w} {s:<20} {json.dumps(r)}", flush=True)
        ref_name = "numpy" if "fingerprint" in results[w].get("numpy", {}) else "autodiff-numpy"
        ref = results[w].get(ref_name, {}).get("fingerprint")
        for s, r in results[w].items():
            if ref is not None and "fingerprint" in r:
                single = "mlx" in s or s == "mx.grad"  # float32 where others run float64
                r["agrees"] = agree(
                    r["fingerprint"],
                    ref,
                    1e-2 if w in ("W3", "W6", "W4") else 1e-4 if single else 1e-6,
                )
                if not r["agrees"]:
                    failed = True
                    print(
                        f"!! {w}: {s}'s gradients differ from {ref_name}'s: {r['fingerprint']} vs {ref}"
                    )
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "date": time.strftime("%Y-%m-%d"),
        "command": "python -m benchmarks " + " ".join(a for a in (argv or sys.argv[1:]) if a),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(markdown(results))
    try:
        chart(results, args.chart)
    except ImportError:
        print("(matplotlib is not installed: no chart)")
    return 1 if failed else 0


def markdown(results: dict[str, dict[str, Any]]) -> str:
    """The results as a Markdown table with ratios to NumPy and to PyTorch."""
    names = sorted(
        {s for r in results.values() for s in r},
        key=lambda s: (s != "numpy", not s.startswith("autodiff"), s),
    )
    lines = [
        "| workload | unit | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for w, row in results.items():
        cells = []
        for s in names:
            r = row.get(s, {})
            if "value" not in r:
                cells.append("—" if "skipped" in r or not r else "error")
                continue
            text = f"{r['value']:.3g}"
            if "growth_mb" in r:
                text += f" (+{r['growth_mb']:.1f})"
            cells.append(text)
        lines.append(f"| {w} | {WORKLOADS[w][1]} | " + " | ".join(cells) + " |")
    lines += ["", "Ratios (autodiff ÷ peer, lower is better):", ""]
    for w, row in results.items():
        for backend in [s for s in names if s.startswith("autodiff")]:
            ours = row.get(backend, {}).get("value")
            if ours is None:
                continue
            parts = []
            for peer in ("numpy", "torch", "micrograd"):
                theirs = row.get(peer, {}).get("value")
                if theirs:
                    parts.append(f"{ours / theirs:.2f}× {peer}")
            lines.append(f"- {w} {backend}: " + ", ".join(parts))
    return "\n".join(lines)


def chart(results: dict[str, dict[str, Any]], path: str) -> None:
    """A bar chart per workload (log scale), written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.6))
    for ax, (w, row) in zip(axes if len(results) > 1 else [axes], results.items()):
        items = [(s, r["value"]) for s, r in row.items() if "value" in r]
        ax.bar(
            [s.replace("autodiff-", "ad-") for s, _ in items],
            [v for _, v in items],
            color=["tab:blue" if s.startswith("autodiff") else "tab:gray" for s, _ in items],
        )
        ax.set_title(f"{w} ({WORKLOADS[w][1]})")
        ax.set_yscale("log")
        ax.tick_params(axis="x", rotation=60, labelsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
