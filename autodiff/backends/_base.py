"""The ``Backend`` object and ``Device``: what every array library supplies."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from .. import _dtypes
from .._core import bind_kernels, current_tracer
from .._dtypes import DType

__all__ = ["BY_NAMESPACE", "Backend", "BackendUnavailableError", "Device", "HostRandom"]

#: id(backend.xp) → backend, so code that only has a namespace (a rule calling
#: another primitive) can still use that backend's kernels.
BY_NAMESPACE: dict[int, Backend] = {}


class BackendUnavailableError(RuntimeError):
    """A backend was chosen that cannot run here (library missing, no device).

    Examples
    --------
    >>> import autodiff as ad
    >>> issubclass(ad.BackendUnavailableError, RuntimeError)
    True
    >>> try:
    ...     ad.backends.get("no-such-backend")
    ... except (ad.BackendUnavailableError, ValueError) as err:
    ...     print(type(err).__name__)
    ValueError
    """


class Device:
    """A device of one backend, e.g. ``numpy:cpu``, ``cupy:cuda:0``, ``mlx:gpu``.

    Parameters
    ----------
    backend : str
        The backend's registered name.
    native : object
        The array library's own device object (``"cpu"``, a CuPy device, ...).
    label : str, optional
        The part after ``backend:`` in ``str(device)``; defaults to ``str(native)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> str(ad.tensor([1.0]).device)
    'numpy:cpu'
    """

    __slots__ = ("backend", "label", "native")

    def __init__(self, backend: str, native: Any, label: str | None = None) -> None:
        self.backend = backend
        self.native = native
        self.label = str(native) if label is None else label

    def __str__(self) -> str:
        return f"{self.backend}:{self.label}"

    def __repr__(self) -> str:
        return f"Device('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == other or self.label == other
        if not isinstance(other, Device):
            return NotImplemented
        return self.backend == other.backend and self.label == other.label

    def __hash__(self) -> int:
        return hash((self.backend, self.label))


class HostRandom:
    """A seeded generator that draws on the host with NumPy and moves the result.

    Backends without a generator of their own (or whose generator differs
    between devices) use this, so one seed gives the same numbers everywhere.

    Parameters
    ----------
    backend : Backend
        The backend whose arrays the draws are returned as.
    seed : int or None
        Seed of the host NumPy generator.

    Examples
    --------
    >>> import autodiff as ad
    >>> backend = ad.backends.get("numpy")
    >>> rng = ad.backends.HostRandom(backend, seed=0)
    >>> first = backend.to_numpy(rng.uniform((3,), dtype="float64"))
    >>> rng.seed(0)  # the same seed gives the same numbers again
    >>> (backend.to_numpy(rng.uniform((3,), dtype="float64")) == first).tolist()
    [True, True, True]
    >>> sorted(backend.to_numpy(rng.permutation(4)).tolist())
    [0, 1, 2, 3]
    """

    def __init__(self, backend: Backend, seed: int | None = None) -> None:
        import numpy as np

        self._np = np
        self._backend = backend
        self._rng = np.random.default_rng(seed)

    def seed(self, seed: int | None) -> None:
        """Reset the generator to ``seed``."""
        self._rng = self._np.random.default_rng(seed)

    def get_state(self) -> Any:
        """Where the generator is in its stream (for ``set_state``: ``ad.checkpoint``
        replays the draws of its forward pass in the recomputation)."""
        return self._rng.bit_generator.state

    def set_state(self, state: Any) -> None:
        """Go back to a state ``get_state`` returned."""
        self._rng.bit_generator.state = state

    def _out(self, host: Any, dtype: Any, device: Any) -> Any:
        tracer = current_tracer()
        if tracer is not None:
            tracer.refuse("draws random numbers (a replay would repeat the same draw)")
        b = self._backend
        dtype = b.default_float if dtype is None else _dtypes.to_dtype(dtype)
        return b.asarray(host.astype(dtype.name), dtype=dtype, device=device)

    def normal(
        self,
        shape: Sequence[int] | int,
        *,
        mean: float = 0.0,
        std: float = 1.0,
        dtype: Any = None,
        device: Any = None,
    ) -> Any:
        """Draw from N(mean, std²)."""
        return self._out(self._rng.normal(mean, std, size=shape), dtype, device)

    def uniform(
        self,
        shape: Sequence[int] | int,
        *,
        low: float = 0.0,
        high: float = 1.0,
        dtype: Any = None,
        device: Any = None,
    ) -> Any:
        """Draw from U[low, high)."""
        return self._out(self._rng.uniform(low, high, size=shape), dtype, device)

    def integers(
        self,
        low: int,
        high: int,
        shape: Sequence[int] | int = (),
        *,
        dtype: Any = None,
        device: Any = None,
    ) -> Any:
        """Draw integers from [low, high)."""
        dtype = _dtypes.int64 if dtype is None else _dtypes.to_dtype(dtype)
        host = self._rng.integers(low, high, size=shape)
        return self._backend.asarray(host.astype(dtype.name), dtype=dtype, device=device)

    def permutation(self, n: int, *, device: Any = None) -> Any:
        """A random permutation of ``range(n)`` as an int64 array."""
        host = self._rng.permutation(n).astype("int64")
        return self._backend.asarray(host, dtype=_dtypes.int64, device=device)


def scatter_into_zeros_no_device(xp: Any, g: Any, key: Any, shape: tuple[int, ...]) -> Any:
    """``scatter_into_zeros`` for libraries whose arrays have no ``.device`` (MLX, Dask)."""
    out = xp.zeros(shape, dtype=g.dtype)
    plain = tuple(k for k in key if k is not None)
    out[plain] = xp.reshape(g, tuple(out[plain].shape))
    return out


def _guard_host_read(to_numpy: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Wrap a backend's ``to_numpy``: under ``ad.compile`` tracing, reading a traced value
    on the host is data-dependent control flow, which a replay could not follow."""

    def guarded(self: Any, array: Any) -> Any:
        tracer = current_tracer()
        if tracer is not None:
            tracer.check_host_read(array)
        return to_numpy(self, array)

    guarded.__doc__ = to_numpy.__doc__
    guarded.__name__ = to_numpy.__name__
    return guarded


def _guard_conversion(asarray: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a backend's ``asarray``: under ``ad.compile`` tracing, a conversion of a traced
    array that returns a new object (array-api-strict wraps anew) is the same value, so
    the tracer must know the new object as an alias of the traced one."""

    def guarded(
        self: Any, obj: Any, dtype: Any = None, device: Any = None, copy: Any = None
    ) -> Any:
        out = asarray(self, obj, dtype, device, copy)
        tracer = current_tracer()
        if tracer is not None and out is not obj:
            tracer.alias(obj, out)
        return out

    guarded.__doc__ = asarray.__doc__
    guarded.__name__ = asarray.__name__
    return guarded


class Backend:
    """One array library, seen through its array API namespace.

    Subclasses set ``name``, ``install_hint`` and the dtype table, and
    implement ``_load_xp``, ``_device_table`` and ``device_of``. Everything a
    primitive needs goes through this object: ``xp`` for the generic
    array-API forward, ``kernels`` for faster backend-specific forwards.

    Attributes
    ----------
    name : str
        Registered name (``"numpy"``).
    kernels : dict
        Primitive → faster forward ``f(xp, *arrays, **params)``, the engine's one
        lookup per call. Never a gradient rule: those are the same on every backend.
        Backends declare their kernels by primitive name (``declare_kernels``).
    kernel_names : dict
        Primitive name → faster forward, as declared.

    Examples
    --------
    >>> import autodiff as ad
    >>> numpy = ad.backends.get("numpy")
    >>> numpy.name, numpy.supports(ad.float64), str(numpy.default_device)
    ('numpy', True, 'numpy:cpu')
    """

    #: the registered name (``"numpy"``): ``ad.set_backend(name)``, ``AUTODIFF_BACKEND``
    name: str = "?"
    #: what to tell a user who lacks the library (``availability()`` gives the reason)
    install_hint: str = ""
    #: arrays may live on different devices: operations check that their operands share
    #: one (``device_of``); False skips that check on the hot path
    multi_device: bool = False
    #: operations build a graph that runs later (Dask, MLX): per-op costs differ
    lazy: bool = False
    #: float64 results carry float64 precision (MLX computes some in float32)
    exact_float64: bool = True
    #: array API extensions the backend's namespace implements
    extensions: tuple[str, ...] = ("linalg", "fft")
    #: primitives the backend declares it cannot run (its library lacks them); they
    #: raise NotImplementedError, the capability table shows them, and tests skip them
    #: (a primitive that fails without being declared here fails its tests)
    unsupported: frozenset[str] = frozenset()
    #: float dtype for Python floats when no default was set
    default_float: DType = _dtypes.float64

    #: the array API namespace, imported on first use (see ``__getattr__``)
    xp: Any
    #: the library's complex dtypes (as its arrays report them): the backward pass's
    #: one-lookup test for the complex-gradient convention
    complex_natives: frozenset[Any] = frozenset()

    # -- what ``ad.compile`` asks of a backend (every one optional) ------------
    #: primitive name → the library's ufunc computing it; a compiled program calls it
    #: directly instead of the primitive's forward (NumPy: ``{"add": np.add, ...}``)
    ufuncs: ClassVar[Mapping[str, Callable[..., Any]]] = {}
    #: 0-d inputs enter a compiled program as scalars (``a[()]``): NumPy's scalar
    #: arithmetic is ~10x faster than its 0-d array arithmetic, with the same dtype rules
    scalar_entry: bool = False
    #: ``fuse_program(code, values, literals, keep) -> code``: the traced program (a list
    #: of ``Instr``) with runs of instructions replaced by fused ones; None: no fusion
    fuse_program: Callable[..., list[Any]] | None = None
    #: ``buffer_program(code, values, keep) -> (code, allocate)``: instructions rewritten
    #: to write into buffers every replay reuses, and the allocator of one set of them
    #: (None when none pays); None: no buffers
    buffer_program: Callable[..., tuple[list[Any], Any]] | None = None
    #: ``compile_program(fn) -> compiled fn or None``: hand a whole replay (a pure function
    #: of arrays) to the library's own compiler (``mx.compile``, ``torch.compile``)
    compile_program: Callable[[Callable[..., Any]], Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "asarray" in cls.__dict__:
            cls.asarray = _guard_conversion(cls.__dict__["asarray"])  # type: ignore[method-assign]
        if "to_numpy" in cls.__dict__:
            cls.to_numpy = _guard_host_read(cls.__dict__["to_numpy"])  # type: ignore[method-assign,assignment]

    def __init__(self) -> None:
        self.kernels: dict[Any, Callable[..., Any]] = {}
        self.kernel_names: dict[str, Callable[..., Any]] = {}
        self._dtype_to_native: dict[DType, Any] = {}
        self._native_to_dtype: dict[Any, DType] = {}
        self._devices: dict[str, Device] | None = None
        self._random: Any = None

    # -- the namespace -------------------------------------------------------
    def _load_xp(self) -> Any:
        raise NotImplementedError

    def declare_kernels(self, kernels: Mapping[str, Callable[..., Any]]) -> None:
        """Declare faster forwards by primitive name (``{"matmul": fn}``).

        Each ``fn(xp, *arrays, **params)`` computes what the primitive's generic forward
        computes; it replaces that forward on this backend, never a gradient rule. Names
        of primitives not defined yet (an extension imported later) are bound when the
        primitive is defined; unknown names are kept and never used.
        """
        self.kernel_names.update(kernels)
        bind_kernels(self.kernel_names, self.kernels)

    def __getattr__(self, name: str) -> Any:
        # ``xp`` is loaded on first use, then stored as a plain attribute (no property
        # call on the hot path)
        if name != "xp":
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        ok, why = self.availability()
        if not ok:
            raise BackendUnavailableError(
                f"backend '{self.name}' cannot run here: {why}. {self.install_hint}"
            )
        xp = self._load_xp()
        self._fill_dtypes(xp)
        BY_NAMESPACE.setdefault(id(xp), self)
        self.xp = xp
        return xp

    def availability(self) -> tuple[bool, str]:
        """Return ``(True, "")`` or ``(False, reason)``; never raises."""
        return True, ""

    #: arrays report NumPy ``np.dtype`` instances (NumPy, CuPy, JAX, Dask): index those too
    numpy_dtypes: bool = False

    def _fill_dtypes(self, xp: Any) -> None:
        for dt in _dtypes.ALL_DTYPES:
            native = getattr(xp, dt.name, None)
            if native is not None and self._native_ok(dt, native):
                self._dtype_to_native[dt] = native
                self._native_to_dtype[native] = dt
        if self.numpy_dtypes:
            import numpy as np

            for dt, native in list(self._dtype_to_native.items()):
                self._native_to_dtype[np.dtype(native)] = dt
        self.complex_natives = frozenset(
            native for native, dt in self._native_to_dtype.items() if dt.kind == "complex floating"
        )

    def _native_ok(self, dtype: DType, native: Any) -> bool:
        return True

    # -- dtypes ---------------------------------------------------------------
    def native_dtype(self, dtype: Any) -> Any:
        """The library's dtype for an autodiff dtype; ``TypeError`` if it has none."""
        self.xp  # noqa: B018 - make sure the table is filled
        dt = _dtypes.to_dtype(dtype)
        native = self._dtype_to_native.get(dt)
        if native is None:
            raise TypeError(
                f"backend '{self.name}' has no {dt.name}; it supports "
                f"{', '.join(d.name for d in self.dtypes())}."
            )
        return native

    def dtype_of(self, array: Any) -> DType:
        """The autodiff dtype of a native array."""
        dt = self._native_to_dtype.get(array.dtype)
        if dt is None:
            dt = _dtypes.to_dtype(array.dtype)
        return dt

    def dtypes(self, device: Any = None) -> tuple[DType, ...]:
        """The autodiff dtypes this backend (on ``device``) can hold."""
        self.xp  # noqa: B018
        return tuple(d for d in self._dtype_to_native if self.supports(d, device))

    def supports(self, dtype: Any, device: Any = None) -> bool:
        """Whether arrays of ``dtype`` can live on ``device`` (default device if None)."""
        self.xp  # noqa: B018
        return _dtypes.to_dtype(dtype) in self._dtype_to_native

    #: a value of each Python scalar type, for ``promoted``
    _SCALAR_PROBES: ClassVar[dict[type, Any]] = {bool: True, int: 1, float: 1.5, complex: 1j}

    def promoted(self, a: DType, b: Any) -> DType | None:
        """The dtype of ``x + y`` in this library, for ``x`` of dtype ``a`` and ``y`` of
        dtype ``b`` or a Python scalar of type ``b``; None where the library refuses.

        ``ad.result_type`` asks this where the standard defines no promotion, so it
        names what the operators return. Found once with size-0 arrays, then cached.
        """
        cache: dict[tuple[DType, Any], DType | None] = self.__dict__.setdefault("_promoted", {})
        key = (a, b)
        if key not in cache:
            import warnings

            xp = self.xp
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # PyTorch: "ComplexHalf is experimental"
                    x = xp.zeros((0,), dtype=self.native_dtype(a))
                    if isinstance(b, DType):
                        y = xp.zeros((0,), dtype=self.native_dtype(b))
                    else:
                        y = self._SCALAR_PROBES[b]
                    cache[key] = self.dtype_of(x + y)
            except (TypeError, ValueError, RuntimeError):
                cache[key] = None
        return cache[key]

    def inplace_casts(self, a: DType, b: DType) -> bool:
        """Whether ``x op= y`` in this library keeps ``x``'s dtype ``a`` when ``x op y``
        has dtype ``b`` (NumPy casts back within a kind: ``int32 += int64`` stays int32;
        array-api-strict refuses; JAX rebinds to the new dtype). Probed once, cached."""
        cache: dict[tuple[DType, DType], bool] = self.__dict__.setdefault("_inplace_casts", {})
        key = (a, b)
        if key not in cache:
            xp = self.xp
            try:
                x = xp.zeros((1,), dtype=self.native_dtype(a))
                y = xp.zeros((1,), dtype=self.native_dtype(b))
                x += y
                cache[key] = self.dtype_of(x) is a
            except (TypeError, ValueError, RuntimeError):
                cache[key] = False
        return cache[key]

    # -- devices -------------------------------------------------------------
    def _device_table(self) -> dict[str, Any]:
        """Map device label → native device, for every device present."""
        raise NotImplementedError

    def devices(self) -> tuple[Device, ...]:
        """Every device of this backend present on this machine."""
        return tuple(self._device_map().values())

    def _device_map(self) -> dict[str, Device]:
        if self._devices is None:
            self.xp  # noqa: B018
            self._devices = {
                label: Device(self.name, native, label)
                for label, native in self._device_table().items()
            }
        return self._devices

    @property
    def default_device(self) -> Device:
        """The device arrays go to when none is named."""
        return next(iter(self._device_map().values()))

    def device(self, spec: Any) -> Device:
        """Resolve ``spec`` (a ``Device``, a label such as ``"cpu"``, or a native device).

        Raises
        ------
        ValueError
            If the backend has no such device.
        """
        if spec is None:
            return self.default_device
        table = self._device_map()
        if isinstance(spec, Device):
            if spec.backend != self.name:
                raise ValueError(
                    f"device {spec} belongs to backend '{spec.backend}', not '{self.name}'."
                )
            label = spec.label
        elif isinstance(spec, str):
            label = spec.split(":", 1)[1] if spec.startswith(self.name + ":") else spec
            label = self._alias(label)
        else:
            label = self._label_of_native(spec)
        found = table.get(label)
        if found is None:
            raise ValueError(
                f"backend '{self.name}' has no device '{spec}'; devices here: "
                f"{', '.join(str(d) for d in table.values())}."
            )
        return found

    def _alias(self, label: str) -> str:
        return label

    def _label_of_native(self, native: Any) -> str:
        for label, dev in self._device_map().items():
            if dev.native == native:
                return label
        return str(native)

    def device_of(self, array: Any) -> Device:
        """The ``Device`` an array lives on."""
        return self.default_device

    # -- arrays --------------------------------------------------------------
    def asarray(self, obj: Any, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
        """Make a native array from ``obj`` (nested lists, scalars, buffers, arrays)."""
        xp = self.xp
        native_dt = None if dtype is None else self.native_dtype(dtype)
        dev = self.device(device).native if device is not None else None
        if dtype is not None and not self.supports(dtype, device):
            raise TypeError(
                f"{_dtypes.to_dtype(dtype).name} is not supported on "
                f"{self.device(device)}; use a dtype it supports: "
                f"{', '.join(d.name for d in self.dtypes(device))}."
            )
        return xp.asarray(obj, dtype=native_dt, device=dev, copy=copy)

    asarray = _guard_conversion(asarray)

    def to_numpy(self, array: Any) -> Any:
        """Copy (or view) a native array as a NumPy array on the host."""
        import numpy as np

        return np.asarray(array)

    to_numpy = _guard_host_read(to_numpy)  # type: ignore[assignment]

    #: ``to_numpy`` always makes a new array (a computed Dask graph, a copy out of MLX), so
    #: ``np.asarray(tensor, copy=False)`` must refuse, as NumPy's ``__array__`` protocol asks
    host_copies: bool = False

    def host_readable(self, array: Any) -> bool:
        """Whether NumPy may read ``array`` implicitly (``np.asarray(tensor)``): True where
        the data is in host memory. ``Tensor.__array__`` raises for the others, as CuPy
        does, so a device-to-host copy is never made behind the user's back."""
        return True

    def on_host(self, name: str, *arrays: Any, device: Any = None) -> tuple[Any, ...]:
        """NumPy's function ``name`` run on host copies of ``arrays``, each result brought
        back as this backend's array on ``device``: for work the library lacks (PyTorch's
        ``unique_all``) or whose result shape depends on values (``repeat`` by counts).

        Examples
        --------
        >>> import autodiff as ad
        >>> b = ad.backends.get("numpy")
        >>> [a.tolist() for a in b.on_host("repeat", b.asarray([0, 1]), b.asarray([2, 1]))]
        [[0, 0, 1]]
        """
        import numpy as np

        res = getattr(np, name)(*(np.asarray(self.to_numpy(a)) for a in arrays))
        parts = tuple(res) if isinstance(res, tuple) else (res,)
        return tuple(self.asarray(p, device=device) for p in parts)

    @property
    def random(self) -> Any:
        """The backend's seeded generator: ``seed``, ``normal``, ``uniform``,
        ``integers``, ``permutation``."""
        if self._random is None:
            self._random = HostRandom(self)
        return self._random

    def compute_many(self, arrays: Sequence[Any]) -> list[Any]:
        """NumPy copies of several arrays; lazy backends compute them in one pass."""
        return [self.to_numpy(a) for a in arrays]

    def synchronize(self, array: Any) -> None:
        """Wait until ``array`` is computed (lazy and asynchronous backends)."""

    def __repr__(self) -> str:
        return f"<autodiff backend '{self.name}'>"
