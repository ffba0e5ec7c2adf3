"""Audit of the raw-array fast paths (``ad.jvp``'s ``autodiff._forward_fast``, ``vmap``'s
``autodiff._batching_raw``): cases where the fast path and the general path could see
different values, each checked against the value the function was called with."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

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


def test_jvp_passthrough_tangent_is_broadcast_and_promoted_to_the_output() -> None:
    """``x + c`` passes ``x``'s tangent through uncopied: against ``torch.func.jvp``,
    with a constant of more dimensions (the tangent is broadcast to the output's shape)
    and of another kind (integer: the float32 tangent takes the promoted dtype;
    complex: it becomes complex), on either side of each fused binary operation."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x0 = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    u0 = rng.standard_normal(4).astype(np.float32)
    consts = [rng.uniform(0.5, 2.0, (3, 4)), rng.integers(1, 5, (3, 4))]
    if ad.get_backend().supports(ad.complex64):
        consts.append((rng.uniform(0.5, 2.0, (3, 4)) + 1j).astype(np.complex64))
    ops = [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a * b,
        lambda a, b: a / b,
    ]
    for c0 in consts:
        if c0.dtype == np.float64 and not ad.get_backend().supports(ad.float64):
            c0 = c0.astype(np.float32)
        for op in ops:
            for swap in (False, True):
                try:
                    _call(op, swap, ad.asarray(c0), make(x0, ad.float32))
                except TypeError:
                    continue  # a promotion the backend refuses (array_api_strict: int + float)
                out, t = ad.jvp(
                    functools.partial(_call, op, swap, ad.asarray(c0)),
                    (make(x0, ad.float32),),
                    (make(u0, ad.float32),),
                )
                _, want = torch.func.jvp(
                    functools.partial(_call, op, swap, torch.tensor(c0)),
                    (torch.tensor(x0),),
                    (torch.tensor(u0),),
                )
                assert t.shape == out.shape == tuple(want.shape)
                assert t.dtype == out.dtype
                np.testing.assert_allclose(
                    np.asarray(t.numpy()), want.numpy(), rtol=2e-6, atol=1e-6
                )


def _call(op: Any, swap: bool, c: Any, z: Any) -> Any:
    return op(c, z) if swap else op(z, c)
