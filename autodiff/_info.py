"""Data type functions, ``from_dlpack`` and ``__array_namespace_info__``.

Type promotion is autodiff's own table (the standard's, on autodiff's dtype objects),
so ``ad.result_type`` answers the same whatever backend holds the data.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from . import _dtypes, backends
from ._config import current, default_dtypes_for, get_default_dtype, resolve_device
from ._dtypes import DType, isdtype
from .tensor import Tensor, wrap

__all__ = [
    "Info",
    "__array_namespace_info__",
    "can_cast",
    "finfo",
    "finfo_object",
    "from_dlpack",
    "iinfo",
    "iinfo_object",
    "isdtype",
    "result_type",
]


def _dtype(obj: Any) -> DType:
    if isinstance(obj, Tensor):
        return obj.dtype
    return _dtypes.to_dtype(obj)


_FLOATS = {32: _dtypes.float32, 64: _dtypes.float64}
_COMPLEX = {32: _dtypes.complex64, 64: _dtypes.complex128}
_SIGNED = {8: _dtypes.int8, 16: _dtypes.int16, 32: _dtypes.int32, 64: _dtypes.int64}
_UNSIGNED = {8: _dtypes.uint8, 16: _dtypes.uint16, 32: _dtypes.uint32, 64: _dtypes.uint64}


def _precision(dt: DType) -> int:
    # bits of one real component
    return dt.bits // 2 if dt.kind == "complex floating" else dt.bits


#: the dtypes the standard's promotion table covers (float16 and bfloat16 are not in it)
_STANDARD = frozenset(
    [_dtypes.bool, *_SIGNED.values(), *_UNSIGNED.values(), *_FLOATS.values(), *_COMPLEX.values()]
)
_FLOATING = ("real floating", "complex floating")


def _standard_promote(a: DType, b: DType) -> DType | None:
    """The standard's promotion of ``a`` and ``b``; None where the standard is silent
    (integer with floating, bool with numeric, int64 with uint64, float16 ...)."""
    if a is b:
        return a
    if a not in _STANDARD or b not in _STANDARD:
        return None
    ka, kb = a.kind, b.kind
    if ka == "bool" or kb == "bool":
        return None
    if ka in _FLOATING or kb in _FLOATING:
        if ka not in _FLOATING or kb not in _FLOATING:
            return None
        bits = builtins.max(_precision(a), _precision(b))
        return (_COMPLEX if "complex floating" in (ka, kb) else _FLOATS)[bits]
    if ka == kb:
        return a if a.bits >= b.bits else b
    signed, unsigned = (a, b) if ka == "signed integer" else (b, a)
    if unsigned.bits >= 64:
        return None
    return _SIGNED[builtins.max(signed.bits, 2 * unsigned.bits)]


def _promote(a: DType, b: Any, backend: Any = None) -> DType:
    """The one promotion table of autodiff: the standard's where it speaks, else what
    ``backend``'s own ``x + y`` gives (NumPy's int64 with float32 is float64, PyTorch's
    is float32), so ``result_type`` always names the dtype the operators and functions
    return. ``b`` is a dtype or a Python scalar type (``int``, ``float`` ...)."""
    out = _standard_promote(a, b) if isinstance(b, DType) else _standard_scalar(a, b)
    if (
        backend is not None
        and (out is None or not backend.supports(out))
        and backend.supports(a)
        and (not isinstance(b, DType) or backend.supports(b))
    ):
        # silent standard, or a dtype the library lacks (MLX has no complex128)
        out = backend.promoted(a, b)
    if out is None:
        name = b.name if isinstance(b, DType) else f"a Python {b.__name__}"
        where = "" if backend is None else f" on the {backend.name} backend"
        raise TypeError(
            f"no type promotion between {a.name} and {name}{where} (the array API standard "
            "does not define one); cast one of them first, e.g. x.astype(ad.float64)."
        )
    return out


def _standard_scalar(dt: DType, kind: type) -> DType | None:
    # the standard's mixing of an array with a Python scalar: the scalar is weak when it is
    # of the array's kind (int with integer or floating arrays, float with floating arrays)
    if dt not in _STANDARD:
        return None
    if kind is builtins.bool:
        return dt if dt.kind == "bool" else None
    if kind is int:
        return dt if dt.kind != "bool" else None
    if kind is float:
        return dt if dt.is_floating else None
    if dt.kind == "complex floating":
        return dt
    return _COMPLEX[dt.bits] if dt.kind == "real floating" else None


def result_type(*arrays_and_dtypes: Any) -> DType:
    """The dtype of an operation on these tensors, dtypes and Python scalars (scalars
    are weak: ``float32`` with ``1.0`` stays ``float32``).

    The standard's promotion where it speaks; where it is silent (an integer with a
    floating dtype ...) the backend's own rule, the backend of the first tensor or else
    the current one: ``ad.result_type(i, f)`` is always the dtype of ``i + f``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.result_type(ad.int8, ad.uint8), ad.result_type(ad.float32, ad.complex128)
    (autodiff.int16, autodiff.complex128)
    >>> ad.result_type(ad.tensor([1.0], dtype=ad.float32), 2.0)
    autodiff.float32
    >>> i, f = ad.asarray([1], dtype=ad.int64), ad.asarray([1.0], dtype=ad.float32)
    >>> ad.result_type(i, f) == (i + f).dtype
    True
    """
    backend = (
        next((a._backend for a in arrays_and_dtypes if isinstance(a, Tensor)), None)
        or current().backend
    )
    dts = [
        _dtype(a)
        for a in arrays_and_dtypes
        if not isinstance(a, (builtins.bool, int, float, complex))
    ]
    scalars = [a for a in arrays_and_dtypes if isinstance(a, (builtins.bool, int, float, complex))]
    if not dts:
        if not scalars:
            raise ValueError("result_type needs at least one tensor or dtype.")
        kind = type(scalars[0])
        dts = [get_default_dtype(backend) if kind is float else _dtypes.to_dtype(kind)]
        scalars = scalars[1:]
    out = dts[0]
    for d in dts[1:]:
        out = _promote(out, d, backend)
    for s in scalars:
        out = _promote(out, type(s), backend)
    return out


def can_cast(from_: Any, to: Any, /) -> bool:
    """Whether ``from_`` (a dtype or tensor) promotes to ``to`` without losing kind or
    range, by the standard's promotion rules.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.can_cast(ad.int8, ad.int16), ad.can_cast(ad.float64, ad.float32)
    (True, False)
    """
    a, b = _dtype(from_), _dtypes.to_dtype(to)
    backend = from_._backend if isinstance(from_, Tensor) else current().backend
    try:
        return _promote(a, b, backend) is b and not (a.is_floating and not b.is_floating)
    except TypeError:
        return False


class finfo_object:
    """Machine limits of a floating dtype (what ``finfo`` returns).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.finfo(ad.float64).eps
    2.220446049250313e-16
    """

    __slots__ = ("bits", "dtype", "eps", "max", "min", "smallest_normal")

    def __init__(self, dt: DType) -> None:
        info = np.finfo(np.dtype(dt.name))
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.smallest_normal = float(info.smallest_normal)
        self.dtype = _FLOATS[self.bits] if dt.kind == "complex floating" else dt

    def __repr__(self) -> str:
        return f"finfo(dtype={self.dtype.name}, bits={self.bits}, eps={self.eps})"


class iinfo_object:
    """Limits of an integer dtype (what ``iinfo`` returns).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.iinfo(ad.int16).max
    32767
    """

    __slots__ = ("bits", "dtype", "max", "min")

    def __init__(self, dt: DType) -> None:
        info = np.iinfo(np.dtype(dt.name))
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = dt

    def __repr__(self) -> str:
        return f"iinfo(dtype={self.dtype.name}, min={self.min}, max={self.max})"


def finfo(type: Any, /) -> finfo_object:  # noqa: A002 - the standard's name
    """Limits of a floating dtype (or of a tensor's dtype): ``bits``, ``eps``, ``max``,
    ``min``, ``smallest_normal``, ``dtype``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.finfo(ad.float32).bits, ad.finfo(ad.complex128).dtype
    (32, autodiff.float64)
    """
    dt = _dtype(type)
    if not dt.is_floating or dt is _dtypes.bfloat16:
        raise TypeError(f"finfo needs a floating dtype, got {dt.name}; use iinfo for integers.")
    return finfo_object(dt)


def iinfo(type: Any, /) -> iinfo_object:  # noqa: A002 - the standard's name
    """Limits of an integer dtype (or of a tensor's dtype): ``bits``, ``max``, ``min``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.iinfo(ad.int8).min, ad.iinfo(ad.uint8).max
    (-128, 255)
    """
    dt = _dtype(type)
    if dt.kind not in ("signed integer", "unsigned integer"):
        raise TypeError(f"iinfo needs an integer dtype, got {dt.name}; use finfo for floats.")
    return iinfo_object(dt)


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Tensor:
    """A tensor viewing (or, with ``copy=True``, copying) another library's array
    through DLPack, on the current backend (or the backend of ``device``).

    Examples
    --------
    >>> import numpy as np
    >>> import autodiff as ad
    >>> ad.from_dlpack(np.arange(3.0)).tolist()
    [0.0, 1.0, 2.0]
    """
    if isinstance(x, Tensor):
        x = x.data
    if device is None:
        backend = current().backend
    else:
        dev = resolve_device(device)
        backend = backends.get(dev.backend)
    xp = backend.xp
    kwargs: dict[str, Any] = {}
    if copy is not None:
        kwargs["copy"] = copy
    try:
        data = xp.from_dlpack(x, **kwargs)
    except (TypeError, BufferError, RuntimeError) as err:
        raise type(err)(
            f"from_dlpack: {backend.name} cannot import {type(x).__name__} through DLPack "
            f"({err}); use ad.asarray(...) to copy through host memory."
        ) from err
    return wrap(data, backend)


#: array-api-tests (2024.12, ``--max-examples 5 --derandomize``) through autodiff, per
#: backend: (passed, known failures, skipped). Every known failure is listed with its
#: cause in ``conformance/<backend>-xfails.txt``; ``nox -s conformance`` keeps these true
#: and ``docs/conformance.md``, ``docs/capabilities.md`` and ``autodiff info`` show them.
CONFORMANCE: dict[str, tuple[int, int, int]] = {
    "numpy": (1366, 0, 14),
    "array_api_strict": (1366, 0, 14),
    "mlx": (1343, 21, 14),
    "torch": (1344, 9, 15),
    "jax": (1317, 47, 16),
    "dask": (1360, 6, 14),
}


def conformance_markdown() -> list[str]:
    """The ``CONFORMANCE`` figures as the Markdown section ``docs/capabilities.md`` ends
    with (``python -m autodiff.checks --capabilities`` writes it)."""
    lines = [
        "## Array API conformance",
        "",
        "The standard's own test suite, array-api-tests (2024.12), through the `autodiff`",
        "namespace on each backend; every known failure is listed with its cause in",
        "`conformance/<backend>-xfails.txt` and explained in [Conformance](conformance.md).",
        "",
        "| backend | passed | known failures | skipped by the suite |",
        "| --- | --- | --- | --- |",
    ]
    for name, (passed, failed, skipped) in CONFORMANCE.items():
        lines.append(f"| {name} | {passed} | {failed} | {skipped} |")
    return lines


class Info:
    """What ``__array_namespace_info__()`` returns: the devices, dtypes and
    capabilities of the current backend (or of the backend of the ``device`` asked
    about).

    Examples
    --------
    >>> import autodiff as ad
    >>> info = ad.__array_namespace_info__()
    >>> info.default_dtypes()["real floating"] == ad.get_default_dtype()
    True
    >>> info.default_device() in info.devices()
    True
    """

    __module__ = "autodiff"

    def capabilities(self) -> dict[str, Any]:
        """Boolean indexing and data-dependent shapes are supported; up to 64 dims.

        Data-dependent shapes are False on Dask, whose arrays of unknown shape autodiff
        refuses (``ad.where`` is the alternative there).
        """
        dds = current().backend.name != "dask"
        return {"boolean indexing": dds, "data-dependent shapes": dds, "max dimensions": 64}

    def default_device(self) -> Any:
        """The device new tensors go to (``AUTODIFF_DEVICE``, ``use_backend`` ...)."""
        return current().device

    def _backend(self, device: Any) -> Any:
        if device is None:
            return current().backend, current().device
        dev = resolve_device(device)
        return backends.get(dev.backend), dev

    def default_dtypes(self, *, device: Any = None) -> dict[str, DType]:
        """Default dtypes on ``device``: real and complex floating, integral, indexing.

        They follow the device: on one without float64 the defaults are float32 and
        complex64.
        """
        backend, dev = self._backend(device)
        return default_dtypes_for(backend, dev)

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict[str, DType]:
        """The array API dtypes ``device`` holds, optionally only those of ``kind``."""
        backend, dev = self._backend(device)
        out = {}
        for dt in backend.dtypes(dev):
            if dt in (_dtypes.float16, _dtypes.bfloat16):
                continue  # not array API dtypes
            if kind is None or isdtype(dt, kind):
                out[dt.name] = dt
        return out

    def devices(self) -> list[Any]:
        """The devices of the current backend (``ad.use_backend``, ``AUTODIFF_BACKEND``).

        Another backend's devices are listed by ``ad.backends.get(name).devices()``.
        """
        return list(current().backend.devices())


def __array_namespace_info__() -> Info:
    """The inspection object of the array API standard (devices, dtypes, capabilities).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.__array_namespace_info__().capabilities()["boolean indexing"]
    True
    """
    return Info()
