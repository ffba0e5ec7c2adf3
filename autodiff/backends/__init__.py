"""The backend registry.

Backends are created lazily from factories: ``import autodiff`` imports no
optional array library. Third-party packages add backends with
``register()`` or through the entry-point group ``autodiff.backends`` (the
entry point's object is a factory returning a ``Backend``).

Examples
--------
>>> import autodiff as ad
>>> "numpy" in ad.backends.registered()
True
>>> ad.backends.get("numpy").name
'numpy'
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

from ._base import Backend, BackendUnavailableError, Device, HostRandom

__all__ = [
    "BUILTIN",
    "Backend",
    "BackendUnavailableError",
    "Device",
    "HostRandom",
    "available",
    "get",
    "register",
    "registered",
]

#: Built-in backends: name → "module:class" (imported on first use).
BUILTIN: dict[str, str] = {
    "numpy": "autodiff.backends._numpy:NumpyBackend",
    "array_api_strict": "autodiff.backends._array_api_strict:ArrayApiStrictBackend",
    "mlx": "autodiff.backends._mlx:MLXBackend",
    "cupy": "autodiff.backends._cupy:CuPyBackend",
    "torch": "autodiff.backends._torch:TorchBackend",
    "jax": "autodiff.backends._jax:JaxBackend",
    "dask": "autodiff.backends._dask:DaskBackend",
}

ENTRY_POINT_GROUP = "autodiff.backends"

_factories: dict[str, Callable[[], Backend]] = {}
_instances: dict[str, Backend] = {}
_lock = threading.Lock()
_entry_points_loaded = False


def _import_factory(path: str) -> Callable[[], Backend]:
    def factory() -> Backend:
        module_name, _, attr = path.partition(":")
        cls: Callable[[], Backend] = getattr(importlib.import_module(module_name), attr)
        return cls()

    return factory


for _name, _path in BUILTIN.items():
    _factories[_name] = _import_factory(_path)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _factories:
            _factories[ep.name] = _entry_point_factory(ep)


def _entry_point_factory(ep: object) -> Callable[[], Backend]:
    def factory() -> Backend:
        made = ep.load()()  # type: ignore[attr-defined]
        if not isinstance(made, Backend):
            raise TypeError(
                f"entry point {ep!r} of group '{ENTRY_POINT_GROUP}' returned "
                f"{type(made).__name__}, not an autodiff Backend."
            )
        return made

    return factory


def registered() -> tuple[str, ...]:
    """Names of every registered backend, built-in and third-party.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> import autodiff as ad
    >>> names = ad.backends.registered()
    >>> "numpy" in names, "array_api_strict" in names
    (True, True)
    """
    _load_entry_points()
    return tuple(_factories)


def register(name: str, factory: Callable[[], Backend], *, overwrite: bool = False) -> None:
    """Register a backend under ``name``.

    Parameters
    ----------
    name : str
        The name users pass to ``ad.set_backend`` and ``AUTODIFF_BACKEND``.
    factory : callable
        Called with no arguments on first use; returns a ``Backend``.
    overwrite : bool
        Replace an existing registration instead of raising ``ValueError``.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.backends._numpy import NumpyBackend
    >>> class MyNumpy(NumpyBackend):
    ...     name = "my_numpy"
    >>> ad.backends.register("my_numpy", MyNumpy, overwrite=True)
    >>> ad.backends.get("my_numpy").name
    'my_numpy'
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a backend name must be an identifier, got {name!r}.")
    if not callable(factory):
        raise TypeError(f"factory for backend '{name}' must be callable, got {factory!r}.")
    _load_entry_points()
    with _lock:
        if name in _factories and not overwrite:
            raise ValueError(
                f"backend '{name}' is already registered; pass overwrite=True to replace it."
            )
        _factories[name] = factory
        _instances.pop(name, None)


def get(name: str) -> Backend:
    """Return the ``Backend`` object registered as ``name``.

    Raises
    ------
    ValueError
        If no backend has that name (the message lists the registered ones).

    Examples
    --------
    >>> import autodiff as ad
    >>> backend = ad.backends.get("numpy")
    >>> backend.name
    'numpy'
    >>> backend is ad.backends.get("numpy")  # one instance per name
    True
    """
    backend = _instances.get(name)
    if backend is not None:
        return backend
    names = registered()
    if name not in _factories:
        raise ValueError(f"unknown backend {name!r}; registered backends: {', '.join(names)}.")
    with _lock:
        backend = _instances.get(name)
        if backend is None:
            backend = _factories[name]()
            if not isinstance(backend, Backend):
                raise TypeError(
                    f"the factory of backend '{name}' returned {type(backend).__name__}, "
                    "not an autodiff Backend."
                )
            _instances[name] = backend
    return backend


def available() -> tuple[str, ...]:
    """Names of the backends usable on this machine (library importable, device present).

    Returns
    -------
    tuple of str
        A subset of ``registered()``, in the same order.

    Examples
    --------
    >>> import autodiff as ad
    >>> "numpy" in ad.backends.available()  # NumPy is a required dependency
    True
    >>> set(ad.backends.available()) <= set(ad.backends.registered())
    True
    """
    out = []
    for name in registered():
        try:
            ok, _ = get(name).availability()
        except Exception:  # a broken third-party factory must not break the listing
            ok = False
        if ok:
            out.append(name)
    return tuple(out)
