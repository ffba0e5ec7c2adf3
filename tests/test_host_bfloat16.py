"""Reading a bfloat16 tensor on the host: NumPy has no bfloat16, so ``numpy()`` gives
float32 where the library's own conversion fails (MLX, PyTorch), exact since a bfloat16 is
the upper half of a float32; ``tolist()``, ``item()``, ``float()`` and printing work."""

from __future__ import annotations

import numpy as np
import pytest

import autodiff as ad
from autodiff import _dtypes

#: bfloat16 values (8 bits of mantissa: each is exact), from a float32 array's upper halves
VALUES = [1.5, -2.25, 0.0078125, 3.0e38, -0.0, float("inf")]
HOLD = [b for b in ad.backends.available() if ad.backends.get(b).supports(_dtypes.bfloat16)]


def _bf16_values() -> list[float]:
    f32 = np.array(VALUES, dtype=np.float32)
    return ((f32.view(np.uint32) >> 16) << 16).astype(np.uint32).view(np.float32).tolist()


@pytest.mark.skipif(not HOLD, reason="no installed backend holds bfloat16")
@pytest.mark.parametrize("name", HOLD)
def test_bfloat16_reads_back_exactly(name: str) -> None:
    want = _bf16_values()
    with ad.use_backend(name):
        x = ad.asarray(want, dtype="bfloat16")
        assert x.dtype is _dtypes.bfloat16
        got = x.tolist()
        host = x.numpy()
        first, second = x[0].item(), float(x[1])
        shown = repr(x)
    assert got == want
    assert np.asarray(host, dtype=np.float32).tolist() == want
    assert (first, second) == (want[0], want[1])
    assert "bfloat16" in shown


@pytest.mark.skipif("mlx" not in HOLD, reason="MLX is not installed")
def test_mlx_host_paths_keep_the_dtype() -> None:
    """Sort, unique and nonzero go through NumPy on MLX: bfloat16 passes through float32
    and comes back bfloat16; float64 values stayed float64 (mx.array made them float32)."""
    with ad.use_backend("mlx"):
        b = ad.asarray([3.0, 1.0, 3.0, 0.0], dtype="bfloat16")
        assert ad.argsort(b).tolist() == [3, 1, 0, 2]
        assert ad.argsort(b, descending=True).tolist() == [0, 2, 1, 3]
        assert ad.nonzero(b)[0].tolist() == [0, 1, 2]
        values, counts = ad.unique_counts(b)
        assert values.dtype is _dtypes.bfloat16
        assert (values.tolist(), counts.tolist()) == ([0.0, 1.0, 3.0], [1, 1, 2])
        x = ad.asarray([3.0, 1.0 + 2.0**-40, 3.0], dtype=ad.float64)
        u = ad.unique_values(x)
        assert u.dtype == ad.float64
        assert u.tolist() == [1.0 + 2.0**-40, 3.0]
        assert ad.unique_all(x).values.dtype == ad.float64
