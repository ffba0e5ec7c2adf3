"""``ad.tensor`` copies its data, as ``torch.tensor`` does; ``ad.asarray`` follows the
array API standard's ``copy=None`` (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest

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


#: host sources: 0-d and 1-d, the widths and kinds a user hands over
_SOURCES = [
    np.array(3.0),
    np.array([1.0, 0.0, 3.0]),
    np.array([1.0, 0.0, 3.0], dtype=np.float32),
    np.array(2, dtype=np.int64),
    np.array([1, 0, 3], dtype=np.int32),
    np.array([True, False]),
    np.float64(3.0),
]


def _expected(host: np.ndarray, dt: ad.DType) -> np.ndarray:
    # every value above is exact in every dtype (bfloat16 has no NumPy dtype: float32)
    name = "float32" if dt.name == "bfloat16" else dt.name
    return np.asarray(host).astype(name)


def _check(t: ad.Tensor, host: np.ndarray, dt: ad.DType | None) -> None:
    if dt is not None:
        assert t.dtype is dt, (t.dtype, dt)
    assert t.shape == np.shape(host)
    want = _expected(host, t.dtype)
    # bfloat16 reaches the host through float32 (MLX's has no buffer format)
    read = t.astype(ad.float32) if t.dtype.name == "bfloat16" else t
    got = np.asarray(read.tolist(), dtype=want.dtype)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ad.backends.available())
def test_tensor_copies_every_source_into_every_dtype_on_every_backend(name: str) -> None:
    """``ad.tensor(data, dtype=...)`` on each backend and each dtype its default device
    holds, from a NumPy array (0-d too), a Python list and a tensor: the right values,
    and a copy (PyTorch raised "can't alias tensor" for a 0-d NumPy array)."""
    backend = ad.backends.get(name)
    dev = backend.default_device
    for host in _SOURCES:
        real_source = np.asarray(host).dtype.kind != "c"
        for dt in [None, *backend.dtypes(dev)]:
            if dt is not None and dt.kind == "complex floating" and not real_source:
                continue
            buf = np.array(host)  # a writable copy the user then edits
            t = ad.tensor(buf, dtype=dt, device=dev)
            buf[...] = 7
            _check(t, host, dt)
            if buf.ndim:
                _check(ad.tensor(buf.tolist(), dtype=dt, device=dev), buf, dt)
            try:
                src = ad.asarray(np.array(host), device=dev)
            except TypeError:  # the device lacks the source's dtype (MLX: float64)
                continue
            c = ad.tensor(src, dtype=dt, device=dev)
            assert c.data is not src.data
            _check(c, host, dt)


@pytest.mark.parametrize("lib", ["jax", "mlx"])
def test_torch_reads_a_foreign_0d_array_by_value_not_by_its_bytes(lib: str) -> None:
    """torch.asarray read a JAX or MLX array's buffer: a 0-d array came back with shape
    (1,) and dtype=float16 reinterpreted float32 1.0 as [0.0, 1.875]."""
    pytest.importorskip("torch")
    if "torch" not in ad.backends.available():
        pytest.skip("the torch backend is not available")
    if lib == "jax":
        jnp = pytest.importorskip("jax.numpy")
        arrays = [jnp.asarray(1.5, dtype=jnp.float32), jnp.asarray([1.5, 2.0], dtype=jnp.float32)]
    else:
        mx = pytest.importorskip("mlx.core")
        arrays = [mx.array(1.5), mx.array([1.5, 2.0])]
    torch_dev = ad.backends.get("torch").default_device
    for a in arrays:
        host = np.asarray(a)
        for dt in (None, ad.float32, ad.float64, ad.int32):
            t = ad.tensor(a, dtype=dt, device=torch_dev)
            want = host if dt is None else host.astype(dt.name)
            assert t.shape == host.shape
            np.testing.assert_array_equal(np.asarray(t.tolist()), want)
