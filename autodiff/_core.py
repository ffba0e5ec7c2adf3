"""The bottom of autodiff: the primitive table and the slots every layer reads.

``Primitive`` and ``primitive()`` (every primitive by name in ``PRIMITIVES``), the
per-input rule ``identity``, the ``ad.compile`` tracer slots (``TRACING``,
``CURRENT_TRACER``, ``current_tracer``), the ``NAMESPACE`` slot and the backends'
kernel tables. This module imports nothing of autodiff: the backends, the tensor
record, the engine and the ops all import it, so imports point one way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

__all__ = [
    "CURRENT_TRACER",
    "NAMESPACE",
    "PRIMITIVES",
    "TRACING",
    "Primitive",
    "bind_kernels",
    "current_tracer",
    "identity",
    "primitive",
]

#: Every primitive by name (filled as the op modules define them).
PRIMITIVES: dict[str, Primitive] = {}

#: How many ``ad.compile`` traces are running, in any thread (a one-element list: cheap
#: to read). Operations test this first and only then ask ``CURRENT_TRACER`` for the
#: tracer of their own thread and context: no cost when nothing traces, and a trace
#: never records another thread's operations.
TRACING: list[int] = [0]
#: the ``ad.compile`` tracer of this thread and context (new threads start without one)
CURRENT_TRACER: ContextVar[Any] = ContextVar("autodiff_tracer", default=None)
_CURRENT_TRACER = CURRENT_TRACER.get


def current_tracer() -> Any:
    """The ``ad.compile`` tracer of this thread and context, or None."""
    if not TRACING[0]:
        return None
    tracer = _CURRENT_TRACER()
    return tracer if tracer is not None and tracer.active else None


#: The ``autodiff`` module, set by ``autodiff/__init__.py`` once the namespace is
#: complete: the ``xp`` of rules under ``create_graph=True``.
NAMESPACE: Any = None


class Primitive:
    """One differentiable (or not) operation.

    Parameters
    ----------
    name : str
        Unique name, used by backend ``kernels`` overrides and error messages.
    forward : callable
        ``forward(xp, *arrays, **params) -> array`` (a tuple of arrays when
        ``nout > 1``), written against the array API.
    vjp : callable, optional
        ``vjp(xp, g, ans, *inputs, **params) -> tuple`` with one entry per
        input. ``g`` and ``ans`` are tuples when ``nout > 1``.
    vjps : tuple of callables, optional
        Per-input rules ``rule(xp, g, ans, *inputs, **params) -> array``; the
        engine calls only those whose input needs a gradient. Give ``vjp`` or
        ``vjps``, not both; give neither for a non-differentiable primitive
        (its outputs never require grad).
    nout : int
        Number of outputs.
    jvp : callable, optional
        Forward-mode rule ``jvp(xp, tangents, ans, *inputs, **params) -> tangent``:
        ``tangents`` has one entry per input (``None`` for a zero tangent or a
        non-tensor input); returns the output's tangent (a tuple when ``nout > 1``).
    batch : callable, optional
        Batching rule for ``vmap``: ``batch(xp, dims, *inputs, **params) -> (out,
        out_dims)`` where ``dims`` gives each input's batch axis (``None``: unbatched).
    holomorphic : bool
        The rule is written as ``g * f'(z)`` for a complex-differentiable ``f``. On
        complex outputs the engine then returns ``g * conj(f'(z))`` (PyTorch's
        convention: the gradient of a real loss is ``dL/dx + i dL/dy``) by conjugating
        the cotangent going in and the gradients coming out. Real-valued rules need
        not care.
    """

    __slots__ = (
        "__dict__",
        "batch",
        "differentiable",
        "forward",
        "holomorphic",
        "jvp",
        "name",
        "nout",
        "vjp",
        "vjps",
    )

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        vjp: Callable[..., Any] | None = None,
        *,
        vjps: Sequence[Callable[..., Any] | None] | None = None,
        jvp: Callable[..., Any] | None = None,
        batch: Callable[..., Any] | None = None,
        nout: int = 1,
        holomorphic: bool = False,
    ) -> None:
        if vjp is not None and vjps is not None:
            raise ValueError(f"primitive '{name}': give vjp or vjps, not both.")
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.vjps = tuple(vjps) if vjps is not None else None
        self.jvp = jvp
        self.batch = batch
        self.nout = nout
        self.holomorphic = holomorphic and nout == 1
        self.differentiable = vjp is not None or vjps is not None

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


def identity(xp: Any, g: Any, ans: Any, *inputs: Any, **params: Any) -> Any:
    """The per-input rule "the gradient is ``g`` itself" (``add``, ``subtract``'s first
    input): the engine passes ``g`` on without calling it."""
    return g


#: The kernel tables of loaded backends, ``(by name, by primitive)``: a backend declares
#: its faster forwards by primitive name (``bind_kernels``); the engine looks them up by
#: primitive object, one dict lookup per call. A primitive defined after a backend
#: loaded (an extension module imported later) gets its kernel here too.
_KERNEL_TABLES: list[tuple[Mapping[str, Callable[..., Any]], dict[Any, Callable[..., Any]]]] = []


def bind_kernels(
    by_name: Mapping[str, Callable[..., Any]], by_prim: dict[Any, Callable[..., Any]]
) -> None:
    """Fill ``by_prim`` (a backend's ``kernels``) from ``by_name``, now and for every
    primitive defined later. ``by_name`` is kept: entries added to it later are bound
    when their primitive is defined, not before."""
    for name, kernel in by_name.items():
        prim = PRIMITIVES.get(name)
        if prim is not None:
            by_prim[prim] = kernel
    if not any(table[0] is by_name for table in _KERNEL_TABLES):
        _KERNEL_TABLES.append((by_name, by_prim))


def primitive(
    name: str,
    forward: Callable[..., Any],
    vjp: Callable[..., Any] | None = None,
    **kwargs: Any,
) -> Primitive:
    """Create a ``Primitive`` and add it to ``PRIMITIVES``."""
    if name in PRIMITIVES:
        raise ValueError(f"primitive '{name}' is already defined.")
    prim = Primitive(name, forward, vjp, **kwargs)
    PRIMITIVES[name] = prim
    for by_name, by_prim in _KERNEL_TABLES:
        kernel = by_name.get(name)
        if kernel is not None:
            by_prim[prim] = kernel
    return prim
