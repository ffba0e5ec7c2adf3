"""Which backend and device new tensors go to, and the default float dtype.

The selection lives in a ``ContextVar`` (``use_backend``) over a process
default (``set_backend``) over the environment (``AUTODIFF_BACKEND``,
``AUTODIFF_DEVICE``), which is validated when ``autodiff`` is imported and
resolved on first use.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar

from . import _dtypes, backends
from ._dtypes import DType
from .backends import Backend, BackendUnavailableError, Device

__all__ = [
    "Selection",
    "default_dtypes_for",
    "get_backend",
    "get_default_dtype",
    "get_device",
    "move_array",
    "resolve_device",
    "set_backend",
    "set_default_dtype",
    "use_backend",
]

F = TypeVar("F", bound=Callable[..., Any])

DEVICE_CHOICES = ("cpu", "cuda", "cuda:N", "gpu", "metal")
_DEVICE_RE = re.compile(r"^(cpu|cuda|cuda:\d+|gpu|metal)$")
_DEVICE_TO_BACKEND = {"cpu": "numpy", "cuda": "cupy", "metal": "mlx"}


class Selection:
    """A resolved (backend, device) pair.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._config import current
    >>> sel = current()
    >>> sel.backend is ad.get_backend(), sel.device == ad.get_device()
    (True, True)
    """

    __slots__ = ("backend", "device")

    def __init__(self, backend: Backend, device: Device) -> None:
        self.backend = backend
        self.device = device


def _read_env() -> tuple[str | None, str | None]:
    name = os.environ.get("AUTODIFF_BACKEND") or None
    device = os.environ.get("AUTODIFF_DEVICE") or None
    if name is not None:
        name = name.strip()
        if name not in backends.BUILTIN and name not in backends.registered():
            raise ValueError(
                f"AUTODIFF_BACKEND={name!r} is not a registered backend; choose one of: "
                f"{', '.join(backends.registered())}."
            )
    if device is not None:
        device = device.strip().lower()
        if not _DEVICE_RE.match(device):
            raise ValueError(
                f"AUTODIFF_DEVICE={device!r} is not a valid device; choose one of: "
                f"{', '.join(DEVICE_CHOICES)}."
            )
    return name, device


def _run_as_command() -> bool:
    """Whether this import starts the ``autodiff`` command (its script or ``python -m``)."""
    import sys

    argv = list(getattr(sys, "orig_argv", ()))
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "autodiff":
        return True
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    return script in ("autodiff", "autodiff.exe", "autodiff-script.py")


try:
    _ENV = _read_env()
except ValueError as _err:
    if not _run_as_command():
        raise
    # the command reports bad input in one line, without a traceback
    import sys as _sys

    print(f"autodiff: error: {_err} Or unset it to use the default.", file=_sys.stderr)
    raise SystemExit(2) from None
_process_default: Selection | None = None
_CURRENT: ContextVar[Selection | None] = ContextVar("autodiff_backend", default=None)
_default_float: DType | None = None


def _backend_for_device(device: str) -> str:
    kind = device.split(":", 1)[0]
    if kind in _DEVICE_TO_BACKEND:
        return _DEVICE_TO_BACKEND[kind]
    # "gpu": CUDA through CuPy if it works here, else MLX on Metal.
    for candidate in ("cupy", "mlx"):
        if candidate in backends.registered():
            ok, _ = backends.get(candidate).availability()
            if ok and _has_gpu(backends.get(candidate)):
                return candidate
    raise BackendUnavailableError(
        "AUTODIFF_DEVICE=gpu, but no GPU backend can run here: CuPy needs a CUDA GPU "
        "(pip install 'autodiff[cupy]'), MLX needs Apple Silicon Metal "
        "(pip install 'autodiff[mlx]'). Use AUTODIFF_DEVICE=cpu to run on the CPU."
    )


def _has_gpu(backend: Backend) -> bool:
    try:
        return any(d.label != "cpu" for d in backend.devices())
    except Exception:
        return False


def _resolve(name: str | None, device: Any) -> Selection:
    if name is None:
        if isinstance(device, Device):
            name = device.backend
        elif (
            isinstance(device, str)
            and ":" in device
            and device.split(":")[0] in backends.registered()
        ):
            name = device.split(":")[0]
        elif isinstance(device, str):
            name = _backend_for_device(device.lower())
        else:
            name = "numpy"
    backend = backends.get(name)
    ok, why = backend.availability()
    if not ok:
        raise BackendUnavailableError(
            f"backend '{name}' cannot run here: {why}. {backend.install_hint}"
        )
    return Selection(backend, backend.device(device))


def _env_selection() -> Selection:
    global _process_default
    if _process_default is None:
        name, device = _ENV
        _process_default = _resolve(name, device)
    return _process_default


def current() -> Selection:
    """The active (backend, device) selection.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._config import current
    >>> with ad.use_backend("numpy"):
    ...     current().backend.name
    'numpy'
    """
    sel = _CURRENT.get()
    if sel is None:
        sel = _process_default if _process_default is not None else _env_selection()
    return sel


def get_backend() -> Backend:
    """Return the current default ``Backend``.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.get_backend().name in ad.backends.registered()
    True
    """
    return current().backend


def get_device() -> Device:
    """Return the current default ``Device``.

    Examples
    --------
    >>> import autodiff as ad
    >>> with ad.use_backend("numpy"):
    ...     str(ad.get_device())
    'numpy:cpu'
    """
    return current().device


def set_backend(name: str, device: Any = None) -> None:
    """Set the process-wide default backend (and device).

    Parameters
    ----------
    name : str
        A registered backend name.
    device : str or Device, optional
        A device of that backend (``"cpu"``, ``"gpu"``, ``"cuda:1"`` ...).

    Raises
    ------
    ValueError
        Unknown backend or device.
    BackendUnavailableError
        The backend's library or device is missing here.

    Examples
    --------
    >>> import autodiff as ad
    >>> before = ad.get_backend(), ad.get_device()
    >>> ad.set_backend("numpy", "cpu")
    >>> str(ad.get_device())
    'numpy:cpu'
    >>> ad.set_backend(before[0].name, before[1])  # restore the previous default
    """
    global _process_default
    _process_default = _resolve(name, device)


class use_backend:
    """Context manager and decorator that selects a backend in its scope.

    Scoped with a ``ContextVar``: other threads and asyncio tasks keep theirs.

    Parameters
    ----------
    name : str
        A registered backend name.
    device : str or Device, optional
        A device of that backend.

    Examples
    --------
    >>> import autodiff as ad
    >>> with ad.use_backend("numpy"):
    ...     str(ad.zeros(3).device)
    'numpy:cpu'
    """

    def __init__(self, name: str, device: Any = None) -> None:
        self.name = name
        self.device_spec = device
        self._tokens: list[Token[Selection | None]] = []

    def __enter__(self) -> Backend:
        sel = _resolve(self.name, self.device_spec)
        self._tokens.append(_CURRENT.set(sel))
        return sel.backend

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _CURRENT.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with use_backend(self.name, self.device_spec):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def set_default_dtype(dtype: Any) -> None:
    """Set the floating dtype that Python floats become (``None`` restores the backend's).

    Parameters
    ----------
    dtype : DType or None
        ``ad.float32`` or ``ad.float64`` (or ``None``).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.set_default_dtype(ad.float32)
    >>> ad.tensor(1.5).dtype
    autodiff.float32
    >>> ad.set_default_dtype(None)
    """
    global _default_float
    if dtype is None:
        _default_float = None
        return
    dt = _dtypes.to_dtype(dtype)
    if dt.kind != "real floating":
        raise TypeError(f"the default dtype must be a real floating dtype, got {dt.name}.")
    _default_float = dt


def get_default_dtype(backend: Backend | None = None) -> DType:
    """The floating dtype Python floats become on ``backend`` (current one if None).

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.get_default_dtype(ad.backends.get("numpy"))
    autodiff.float64
    """
    if _default_float is not None:
        return _default_float
    return (backend or get_backend()).default_float


def default_dtypes_for(backend: Any, device: Any) -> dict[str, DType]:
    """The default dtypes on ``device`` of ``backend``: the backend's (or
    ``set_default_dtype``'s) where the device holds them, the 32-bit ones where it
    does not (array_api_strict's ``no_float64``, MLX's GPU, PyTorch's MPS).

    The default complex dtype follows the default float (complex64 beside float32).

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._config import default_dtypes_for
    >>> numpy = ad.backends.get("numpy")
    >>> default_dtypes_for(numpy, numpy.default_device)["integral"]
    autodiff.int64
    """
    real = get_default_dtype(backend)
    if not backend.supports(real, device):
        real = _dtypes.float32
    cplx = _dtypes.complex64 if real.bits == 32 else _dtypes.complex128
    if not backend.supports(cplx, device):
        cplx = _dtypes.complex64
    integral = _dtypes.int64 if backend.supports(_dtypes.int64, device) else _dtypes.int32
    return {
        "real floating": real,
        "complex floating": cplx,
        "integral": integral,
        "indexing": integral,
    }


# -- devices ------------------------------------------------------------------


def resolve_device(spec: Any, default_backend: Backend | None = None) -> Device:
    """Turn ``spec`` (``Device``, ``"mlx:gpu"``, ``"cpu"``, a native device) into a ``Device``.

    A bare label (``"cpu"``) means that device of ``default_backend`` (the current
    backend when None).

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff._config import resolve_device
    >>> str(resolve_device("numpy:cpu"))
    'numpy:cpu'
    >>> str(resolve_device("cpu", ad.backends.get("numpy")))
    'numpy:cpu'
    """
    if isinstance(spec, Device):
        return backends.get(spec.backend).device(spec)
    if isinstance(spec, str):
        head, _, rest = spec.partition(":")
        if rest and head in backends.registered():
            return backends.get(head).device(rest)
    backend = default_backend if default_backend is not None else current().backend
    return backend.device(spec)


def move_array(data: Any, src: Backend, dst: Device) -> Any:
    """Copy a native array of ``src`` onto ``dst`` (DLPack when possible, else the host).

    Examples
    --------
    >>> import numpy as np
    >>> import autodiff as ad
    >>> from autodiff._config import move_array
    >>> numpy_backend = ad.backends.get("numpy")
    >>> move_array(np.array([1.0, 2.0]), numpy_backend, numpy_backend.device("cpu")).tolist()
    [1.0, 2.0]
    """
    target = backends.get(dst.backend)
    if target is src:
        return data.to_device(dst.native)
    if src.name != "mlx" and dst.label == "cpu" and hasattr(data, "__dlpack__"):
        # zero-copy where both libraries speak DLPack on the same device
        from_dlpack = getattr(target.xp, "from_dlpack", None)
        if from_dlpack is not None:
            try:
                out = from_dlpack(data)
                if target.dtype_of(out) is src.dtype_of(data):  # never narrow on the way
                    return out
            except (
                TypeError,
                ValueError,
                RuntimeError,
                BufferError,
                AttributeError,
                NotImplementedError,
            ):
                pass
    return target.asarray(src.to_numpy(data), device=dst)
