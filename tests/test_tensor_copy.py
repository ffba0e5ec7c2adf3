"""``ad.tensor`` copies its data, as ``torch.tensor`` does; ``ad.asarray`` follows the
array API standard's ``copy=None`` (issue 19)."""

from __future__ import annotations

import numpy as np

import autodiff as ad

from .conftest import make


def test_editing_the_array_after_the_forward_does_not_change_the_gradient() -> None:
    host = np.array([3.0, 4.0])
    x = ad.tensor(host, requires_grad=True)
    y = ad.sum(x * x)
    host[:] = 100.0  # the user reuses the buffer
    y.backward()
    np.testing.assert_allclose(np.asarray(x.grad.numpy()), [6.0, 8.0])
    np.testing.assert_allclose(np.asarray(x.numpy()), [3.0, 4.0])


def test_tensor_of_a_tensor_is_a_detached_copy() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    for t in (ad.tensor(x), ad.tensor(x * 2.0), ad.tensor(x, dtype=x.dtype)):
        assert t.is_leaf and not t.requires_grad
        assert t.data is not x.data
    np.testing.assert_allclose(np.asarray(ad.tensor(x * 2.0).numpy()), [2.0, 4.0])


def test_asarray_keeps_the_standards_copy_semantics() -> None:
    x = make([1.0, 2.0])
    assert ad.asarray(x) is x
    host = np.array([1.0, 2.0])
    assert ad.asarray(host, copy=True).tolist() == [1.0, 2.0]
    copied = ad.asarray(host, copy=True)
    host[0] = 5.0
    assert copied.tolist() == [1.0, 2.0]
