"""Creating tensors: ``tensor``, ``var``, ``constant`` and the array API creation functions."""

from __future__ import annotations

import operator
from typing import Any

from . import _dtypes, backends
from ._config import current, default_dtypes_for, get_default_dtype, resolve_device
from .backends import Backend, Device
from .tensor import Tensor, wrap

__all__ = [
    "arange",
    "asarray",
    "constant",
    "empty",
    "empty_like",
    "eye",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "tensor",
    "var",
    "zeros",
    "zeros_like",
]


def _target(device: Any) -> tuple[Backend, Device]:
    if device is None:
        sel = current()
        return sel.backend, sel.device
    dev = resolve_device(device)
    return backends.get(dev.backend), dev


def _is_pythonic(obj: Any) -> bool:
    return isinstance(obj, (int, float, complex, list, tuple)) and not isinstance(obj, bool)


def _from_data(obj: Any, dtype: Any, device: Any, copy: Any) -> Tensor:
    if isinstance(obj, Tensor):
        out = obj
        if device is not None:
            out = out.to_device(device)
        if dtype is not None and _dtypes.to_dtype(dtype) is not out.dtype:
            out = out.astype(dtype)
        elif copy:
            # a copy stays on the graph (array API code copies before writing into it)
            out = out.astype(out.dtype, copy=True)
        return out
    backend, dev = _target(device)
    target_dt = None if dtype is None else _dtypes.to_dtype(dtype)
    if target_dt is None and _is_pythonic(obj):
        data = _from_python(obj, backend, dev, copy)
    else:
        if target_dt is not None and not backend.supports(target_dt, dev):
            raise TypeError(
                f"{target_dt.name} is not supported on {dev}; autodiff never narrows "
                f"silently. Use one of: {', '.join(d.name for d in backend.dtypes(dev))}."
            )
        try:
            data = backend.asarray(obj, dtype=target_dt, device=dev, copy=copy)
        except TypeError:
            if not isinstance(obj, (list, tuple)):
                raise
            # nested lists of 0-d tensors (PyTorch's asarray calls len() on them)
            import numpy as np

            data = backend.asarray(np.asarray(obj), dtype=target_dt, device=dev, copy=copy)
    return wrap(data, backend)


#: dtypes a device must hold for Python data to go to the backend as it is (its own
#: inference then only needs the float/complex width adjusted)
_WIDE = (_dtypes.float64, _dtypes.complex128, _dtypes.int64)
#: NumPy kind letter → key of the default dtypes
_KIND_DEFAULT = {"f": "real floating", "c": "complex floating", "i": "integral"}


def _from_python(obj: Any, backend: Backend, dev: Device, copy: Any) -> Any:
    """Python numbers and nested lists in the device's default dtypes.

    Floats become the default float and complex numbers the default complex dtype,
    which follows it (complex64 beside float32, as on MLX and PyTorch); on a device
    without 64-bit dtypes the defaults are the 32-bit ones.
    """
    import numpy as np

    if all(backend.supports(dt, dev) for dt in _WIDE):
        try:
            data = backend.asarray(obj, device=dev, copy=copy)
        except TypeError:
            if not isinstance(obj, (list, tuple)):
                raise
            # nested lists of 0-d tensors (PyTorch's asarray calls len() on them):
            # through the host, where each element converts itself
            data = backend.asarray(np.asarray(obj), device=dev, copy=copy)
        found = backend.dtype_of(data)
        if not found.is_floating:
            return data
        want = get_default_dtype(backend)
        if found.kind == "complex floating":
            want = _dtypes.complex64 if want.bits == 32 else _dtypes.complex128
        if found is want:
            return data
        # the backend's own default was narrower (array_api_strict's device2, torch
        # under set_default_dtype(float64)): infer again on the host, at full precision
        source = np.asarray(obj) if found.bits < want.bits else data
        return backend.asarray(source, dtype=want, device=dev)
    # the backend (or this device) lacks a 64-bit dtype its own inference would pick
    # (MLX has no complex128; array_api_strict's no_float64 device has no float64):
    # infer on the host, then create in the device's defaults
    host = np.asarray(obj)
    key = _KIND_DEFAULT.get(host.dtype.kind)
    if key is None:
        return backend.asarray(host, device=dev, copy=copy)
    target = default_dtypes_for(backend, dev)[key]
    if key == "integral" and target is _dtypes.int32:
        info = np.iinfo(np.int32)
        if host.size and (host.min() < info.min or host.max() > info.max):
            raise TypeError(
                f"{obj!r} does not fit in int32, the widest integer dtype on {dev}; "
                "autodiff never narrows silently."
            )
    return backend.asarray(host, dtype=target, device=dev, copy=copy)


def _device_default(backend: Backend, dev: Device, key: str = "real floating") -> Any:
    return default_dtypes_for(backend, dev)[key]


def tensor(
    data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Make a tensor from data (PyTorch style).

    Parameters
    ----------
    data : scalar, nested sequence, array or Tensor
        Python floats become the default float dtype (float64 on NumPy, CuPy
        and array-api-strict; float32 on MLX); arrays keep their dtype.
    dtype : DType, optional
    device : str or Device, optional
        ``"numpy:cpu"``, ``"cpu"`` (of the current backend), an ``ad.Device`` ...
    requires_grad : bool
        Record operations on it for differentiation (floating dtypes only).

    Notes
    -----
    The data is always copied, as by ``torch.tensor``: writing into a NumPy array
    afterwards never changes the tensor (nor a gradient computed from it). A tensor
    given as ``data`` is copied and detached. ``ad.asarray`` follows the array API
    standard instead: with its default ``copy=None`` it shares memory with an array of
    the same backend when it can.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([1.0, 2.0], requires_grad=True)
    >>> x.shape, x.dtype, x.requires_grad
    ((2,), autodiff.float64, True)
    >>> import numpy as np
    >>> a = np.array([1.0, 2.0])
    >>> t = ad.tensor(a)
    >>> a[0] = 100.0
    >>> t.tolist()  # a copy: the edit does not reach it
    [1.0, 2.0]
    """
    t = _from_data(data, dtype, device, True)
    if t._node is not None or t is data:
        t = t.detach()
    if requires_grad:
        t.requires_grad = True
    return t


def var(name: str, value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A named leaf that requires grad (integers become the default float dtype).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.var("x", 2.0)
    >>> y = ad.var("y", 3.0)
    >>> z = x * y + ad.sin(x)
    >>> grads = z.backward()
    >>> round(float(grads["x"]), 4), float(grads["y"])
    (2.5839, 2.0)
    """
    t = _from_data(value, dtype, device, None)
    if t is value:
        t = t.detach()
    if dtype is None and not t.dtype.is_floating:
        default = _device_default(t._backend, t.device)
        t = wrap(t._backend.asarray(t.data, dtype=default), t._backend)
    t.requires_grad = True
    t.name = str(name)
    return t


def constant(value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor that does not require grad (gradients never flow into it).

    Parameters
    ----------
    value : scalar, nested sequence, array or Tensor
        The data; a tensor is detached from its graph.
    dtype : DType, optional
    device : str or Device, optional

    Examples
    --------
    >>> import autodiff as ad
    >>> c = ad.constant([1.0, 2.0])
    >>> c.requires_grad, c.tolist()
    (False, [1.0, 2.0])
    """
    t = _from_data(value, dtype, device, None)
    return t.detach() if t is value or t.requires_grad else t


def asarray(
    obj: Any, /, *, dtype: Any = None, device: Any = None, copy: bool | None = None
) -> Tensor:
    """Convert ``obj`` to a tensor; a tensor passes through with its graph intact.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([1.0], requires_grad=True)
    >>> ad.asarray(x) is x
    True
    """
    return _from_data(obj, dtype, device, copy)


def _int(value: Any, what: str, *, negative: bool = False) -> int:
    """``value`` as an int: Python and NumPy integers pass; floats and bools raise
    ``TypeError`` (the array API's sizes are integers; ``int(2.5)`` would give 2)."""
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(
            f"{what} must be an integer, got {value!r} ({type(value).__name__}); "
            "sizes are never rounded."
        )
    n = operator.index(value)
    if n < 0 and not negative:
        raise ValueError(f"{what} must be non-negative, got {n}.")
    return n


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, bool) or hasattr(type(shape), "__index__"):
        return (_int(shape, "a shape"),)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(
            f"a shape is an integer or a tuple of integers, got {shape!r} ({type(shape).__name__})."
        ) from None
    return tuple(_int(d, "each entry of a shape") for d in dims)


def _dtype_or_default(dtype: Any, backend: Backend, dev: Device) -> Any:
    dt = _device_default(backend, dev) if dtype is None else _dtypes.to_dtype(dtype)
    if not backend.supports(dt, dev):
        raise TypeError(
            f"{dt.name} is not supported on {dev}; autodiff never narrows silently. "
            f"Use one of: {', '.join(d.name for d in backend.dtypes(dev))}."
        )
    return backend.native_dtype(dt)


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor of zeros (default float dtype unless ``dtype`` is given).

    Parameters
    ----------
    shape : int or tuple of int
    dtype : DType, optional
    device : str or Device, optional

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.zeros((2, 2)).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    backend, dev = _target(device)
    nd = _dtype_or_default(dtype, backend, dev)
    return wrap(backend.xp.zeros(_shape(shape), dtype=nd, device=dev.native), backend)


def ones(shape: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor of ones (default float dtype unless ``dtype`` is given).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.ones(3, dtype=ad.int32).tolist()
    [1, 1, 1]
    """
    backend, dev = _target(device)
    nd = _dtype_or_default(dtype, backend, dev)
    return wrap(backend.xp.ones(_shape(shape), dtype=nd, device=dev.native), backend)


def empty(shape: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An uninitialized tensor (its values are whatever the memory held).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.empty((2, 3)).shape
    (2, 3)
    """
    backend, dev = _target(device)
    nd = _dtype_or_default(dtype, backend, dev)
    return wrap(backend.xp.empty(_shape(shape), dtype=nd, device=dev.native), backend)


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor filled with ``fill_value`` (its dtype follows the value when not given).

    Python ``bool`` values give ``bool``, ``int`` values ``int64``, floats the
    default float dtype.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.full(2, 7).tolist(), ad.full(2, 7).dtype
    ([7, 7], autodiff.int64)
    """
    if isinstance(fill_value, Tensor):
        # a 0-d tensor (SciPy passes xp.asarray(value)): its value, as NumPy accepts
        if fill_value.ndim != 0:
            raise ValueError(
                f"full: fill_value must be a scalar or a 0-d tensor, got shape "
                f"{fill_value.shape}; use ad.broadcast_to for an array."
            )
        if dtype is None:
            dtype = fill_value.dtype
        fill_value = fill_value.item()
    backend, dev = _target(device)
    if dtype is None and isinstance(fill_value, bool):
        dtype = _dtypes.bool
    elif dtype is None and isinstance(fill_value, int):
        dtype = _device_default(backend, dev, "integral")
    elif dtype is None and isinstance(fill_value, complex):
        dtype = _device_default(backend, dev, "complex floating")
    nd = _dtype_or_default(dtype, backend, dev)
    return wrap(backend.xp.full(_shape(shape), fill_value, dtype=nd, device=dev.native), backend)


def _like(x: Any, dtype: Any, device: Any) -> tuple[Any, Any, Any]:
    x = x if isinstance(x, Tensor) else asarray(x)
    backend = x._backend
    dev = x.device if device is None else resolve_device(device, backend)
    nd = backend.native_dtype(x.dtype if dtype is None else dtype)
    return x, backend, (nd, dev)


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Zeros with the shape (and, by default, dtype and device) of ``x``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.zeros_like(ad.tensor([[1, 2]])).tolist()
    [[0, 0]]
    """
    x, backend, (nd, dev) = _like(x, dtype, device)
    return wrap(backend.xp.zeros(x.shape, dtype=nd, device=dev.native), backend)


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Ones with the shape (and, by default, dtype and device) of ``x``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.ones_like(ad.tensor([5.0, 6.0])).tolist()
    [1.0, 1.0]
    """
    x, backend, (nd, dev) = _like(x, dtype, device)
    return wrap(backend.xp.ones(x.shape, dtype=nd, device=dev.native), backend)


def empty_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An uninitialized tensor like ``x``.

    Examples
    --------
    >>> import autodiff as ad
    >>> e = ad.empty_like(ad.tensor([1.0, 2.0, 3.0]))
    >>> e.shape, e.dtype
    ((3,), autodiff.float64)
    """
    x, backend, (nd, dev) = _like(x, dtype, device)
    return wrap(backend.xp.empty(x.shape, dtype=nd, device=dev.native), backend)


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor like ``x`` filled with ``fill_value``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.full_like(ad.tensor([1.0, 2.0]), 0.5).tolist()
    [0.5, 0.5]
    """
    x, backend, (nd, dev) = _like(x, dtype, device)
    return wrap(backend.xp.full(x.shape, fill_value, dtype=nd, device=dev.native), backend)


def arange(
    start: Any,
    /,
    stop: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
) -> Tensor:
    """Evenly spaced values in ``[start, stop)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.arange(3).tolist()
    [0, 1, 2]
    """
    backend, dev = _target(device)
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, stop, step))
        dtype = _device_default(backend, dev, "real floating" if is_float else "integral")
    nd = _dtype_or_default(dtype, backend, dev)
    data = backend.xp.arange(start, stop, step, dtype=nd, device=dev.native)
    return wrap(data, backend)


def linspace(
    start: Any,
    stop: Any,
    /,
    num: int,
    *,
    dtype: Any = None,
    device: Any = None,
    endpoint: bool = True,
) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop``.

    Parameters
    ----------
    start, stop : float
        The first and the last value (``stop`` is left out with ``endpoint=False``).
    num : int
        How many values.
    endpoint : bool
        Whether ``stop`` is the last value.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.linspace(0.0, 1.0, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    num = _int(num, "linspace's num")
    backend, dev = _target(device)
    nd = _dtype_or_default(dtype, backend, dev)
    data = backend.xp.linspace(start, stop, num, dtype=nd, device=dev.native, endpoint=endpoint)
    return wrap(data, backend)


def eye(
    n_rows: int,
    n_cols: int | None = None,
    /,
    *,
    k: int = 0,
    dtype: Any = None,
    device: Any = None,
) -> Tensor:
    """A 2-d tensor with ones on the ``k``-th diagonal.

    Parameters
    ----------
    n_rows : int
    n_cols : int, optional
        Defaults to ``n_rows``.
    k : int
        The diagonal: 0 the main one, positive above it, negative below.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    >>> ad.eye(2, 3, k=1).tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    n_rows = _int(n_rows, "eye's n_rows")
    n_cols = None if n_cols is None else _int(n_cols, "eye's n_cols")
    k = _int(k, "eye's k", negative=True)
    backend, dev = _target(device)
    nd = _dtype_or_default(dtype, backend, dev)
    return wrap(backend.xp.eye(n_rows, n_cols, k=k, dtype=nd, device=dev.native), backend)
