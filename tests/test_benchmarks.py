"""The benchmark harness runs (tiny sizes); no timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


@pytest.mark.parametrize("workload", ["W1", "W2", "W3", "W4", "W5"])
def test_autodiff_and_numpy_agree(workload: str) -> None:
    from benchmarks.run import agree, worker

    ours = worker("autodiff-numpy", workload, quick=True)
    assert ours["value"] > 0
    ref = worker("numpy" if workload != "W2" else "autodiff-numpy", workload, quick=True)
    assert agree(
        ours["fingerprint"], ref["fingerprint"], 1e-2 if workload in ("W3", "W4") else 1e-6
    )


def test_suite_end_to_end(tmp_path: Path) -> None:
    from benchmarks.run import main

    out = tmp_path / "r.json"
    assert (
        main(
            [
                "--quick",
                "--workloads",
                "W1,W5",
                "--out",
                str(out),
                "--chart",
                str(tmp_path / "c.png"),
            ]
        )
        == 0
    )
    assert '"W1"' in out.read_text()
    del sys.modules["benchmarks.run"]


def test_buffers_benchmark_runs() -> None:
    from benchmarks.buffers import main

    ratios = main(["--quick"])
    assert set(ratios) == {"W3", "matmul 128", "chain 128"}
    assert all(r > 0 for r in ratios.values())
