"""Audit of the raw-array fast paths (``ad.jvp``'s ``autodiff._forward_fast``, ``vmap``'s
``autodiff._batching_raw``): cases where the fast path and the general path could see
different values, each checked against the value the function was called with."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad

from .conftest import make


def _host(t: Any) -> np.ndarray:
    return np.asarray(t.numpy(), dtype=np.float64)


def test_jvp_primal_read_back_is_the_value_jvp_was_called_with() -> None:
    """A write into the caller's primal and tangent tensors inside the function
    (``x0[0] = v`` rebinds ``x0`` to a new array) must not make one dual report two
    values: every read of the dual (operations, ``.numpy()``, returning it unchanged)
    sees the primal and tangent ``jvp`` was called with. The fast path computes on the
    arrays it was given; ``a.numpy()`` and a returned ``a`` used to read the caller's
    tensor again, after the write ([10, 2, 3] against [1, 2, 3])."""
    x0 = make([1.0, 2.0, 3.0])
    t0 = make([1.0, 1.0, 1.0])
    seen: dict[str, Any] = {}

    def f(a: Any) -> Any:
        x0[0] = 10.0
        t0[1] = 5.0
        seen["numpy"] = np.asarray(a.numpy(), dtype=np.float64)
        seen["op"] = _host(a * 1)
        seen["item"] = float(a[0])
        return a, a * 1

    (out_a, out_op), (tan_a, tan_op) = ad.jvp(f, (x0,), (t0,))
    np.testing.assert_array_equal(seen["numpy"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(seen["op"], [1.0, 2.0, 3.0])
    assert seen["item"] == 1.0
    np.testing.assert_array_equal(_host(out_a), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(_host(out_op), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(_host(tan_a), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(_host(tan_op), [1.0, 1.0, 1.0])
    # the caller's tensors took the writes
    np.testing.assert_array_equal(_host(x0), [10.0, 2.0, 3.0])
    np.testing.assert_array_equal(_host(t0), [1.0, 5.0, 1.0])
