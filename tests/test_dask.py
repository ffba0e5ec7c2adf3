"""The Dask backend: lazy graphs, gradients equal to NumPy's, a 10M-row run on a LocalCluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad

pytest.importorskip("dask.array")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _loss(x: ad.Tensor, w: ad.Tensor, b: ad.Tensor) -> ad.Tensor:
    return (ad.tanh(x @ w + b) ** 2 * ad.exp(-x.sum(axis=1, keepdims=True))).mean()


def test_gradients_match_numpy_on_chunked_arrays() -> None:
    import dask.array as da

    rng = np.random.default_rng(0)
    xh = rng.standard_normal((1000, 4))
    wh = rng.standard_normal((4, 3))
    bh = rng.standard_normal((3,))
    with ad.use_backend("numpy"):
        x, w, b = (
            ad.tensor(xh),
            ad.tensor(wh, requires_grad=True),
            ad.tensor(bh, requires_grad=True),
        )
        _loss(x, w, b).backward()
        expected = (w.grad.numpy(), b.grad.numpy())
    with ad.use_backend("dask"):
        x = ad.asarray(da.from_array(xh, chunks=(250, 4)))
        w = ad.tensor(wh, requires_grad=True)
        b = ad.tensor(bh, requires_grad=True)
        loss = _loss(x, w, b)
        loss.backward()
        assert w.grad.backend.name == "dask"
        assert hasattr(w.grad.data, "dask")  # still a lazy graph
        gw, gb = ad.compute(w.grad, b.grad)
    np.testing.assert_allclose(gw, expected[0], rtol=1e-10)
    np.testing.assert_allclose(gb, expected[1], rtol=1e-10)


def test_nothing_is_computed_until_asked() -> None:
    import dask

    calls = []

    def counting(block: np.ndarray) -> np.ndarray:
        if block.size:  # dask also calls it on an empty "meta" block
            calls.append(1)
        return block

    import dask.array as da

    with ad.use_backend("dask"):
        raw = da.from_array(np.ones((8, 2)), chunks=(4, 2)).map_blocks(counting, dtype=np.float64)
        x = ad.asarray(raw)
        w = ad.tensor([1.0, 2.0], requires_grad=True)
        loss = (x @ w).sum()
        loss.backward()
        assert calls == []
        with dask.config.set(scheduler="synchronous"):
            value, grad = ad.compute(loss, w.grad)
    assert float(value) == 24.0
    assert grad.tolist() == [8.0, 8.0]
    assert len(calls) == 2  # each chunk once, shared by the loss and the gradient


def test_ten_million_rows_on_a_local_cluster() -> None:
    pytest.importorskip("distributed")
    script = EXAMPLES / "dask_logistic_regression.py"
    args = ["--rows", "10000000", "--steps", "2", "--memory-limit", "600MiB"]
    run = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    losses = [
        float(line.split("loss ")[1].split()[0])
        for line in out.splitlines()
        if line.startswith("step")
    ]
    assert len(losses) == 2
    assert losses[1] < losses[0]
    peaks = out.split("peak RSS per worker (MiB): ")[1].splitlines()[0]
    values = [float(item.split(":")[1]) for item in peaks.strip("{}").split(",")]
    assert max(values) < 600, "a worker went past its memory limit"
    assert max(values) < 687, "a worker held the whole data set"


@pytest.mark.parametrize("shape", [(3,), (2, 3), (3, 2), (0, 3), (1,)])
@pytest.mark.parametrize("k", [0, 1, -1, 2, -5])
def test_eye_of_any_shape(shape: tuple[int, ...], k: int) -> None:
    """Dask's own eye built a graph missing a chunk when n_cols > n_rows: computing
    ad.eye(2, 3) raised "Missing dependency"."""
    with ad.use_backend("dask"):
        got = [ad.eye(*shape, k=k, dtype=dt).numpy() for dt in (None, ad.float32, ad.bool)]
    for g, dt in zip(got, (None, np.float32, np.bool_)):
        want = np.eye(*shape, k=k, dtype=dt)
        assert g.dtype == want.dtype
        np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("num", [0, 1, 2, 7, 50])
def test_linspace_ends_at_stop(num: int) -> None:
    """Dask's linspace computes start + i*step: its last value was an ulp off stop."""
    for dt in (ad.float32, ad.float64):
        with ad.use_backend("dask"):
            got = ad.linspace(-3.3, 2.9, num, dtype=dt).numpy()
            open_end = ad.linspace(-3.3, 2.9, num, dtype=dt, endpoint=False).numpy()
        np.testing.assert_array_equal(got, np.linspace(-3.3, 2.9, num, dtype=dt.name))
        want = np.linspace(-3.3, 2.9, num, dtype=dt.name, endpoint=False)
        np.testing.assert_allclose(open_end, want, rtol=1e-6)


def test_from_dlpack() -> None:
    """array_api_compat's Dask namespace has no from_dlpack (an AttributeError)."""
    torch = pytest.importorskip("torch")
    host = np.arange(6.0).reshape(2, 3)
    with ad.use_backend("dask"):
        for source in (host, torch.arange(6.0, dtype=torch.float64).reshape(2, 3)):
            t = ad.from_dlpack(source)
            assert t.backend.name == "dask" and hasattr(t.data, "dask")
            np.testing.assert_array_equal(t.numpy(), host)
        np.testing.assert_array_equal(ad.from_dlpack(host, copy=True).numpy(), host)
        lazy = ad.asarray(np.arange(3.0))
        np.testing.assert_array_equal(ad.from_dlpack(lazy).numpy(), [0.0, 1.0, 2.0])
