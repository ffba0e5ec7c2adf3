"""The lazy style on ``ad.compile``'s tracer: ``ad.Graph`` over ``ad.placeholder``s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..tensor import Tensor
from .compile import CompiledFunction

__all__ = ["Graph", "Placeholder", "placeholder"]


class Placeholder:
    """The shape and dtype of a future input of a ``Graph`` (no data).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.placeholder((3,), name="x")
    >>> x.shape, x.dtype == ad.get_default_dtype(), x.name
    ((3,), True, 'x')
    """

    __slots__ = ("device", "dtype", "name", "shape")

    def __init__(self, shape: Any, dtype: Any = None, device: Any = None, name: str | None = None):
        from .. import _dtypes
        from .._config import current, get_default_dtype

        sel = current()
        self.shape = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
        self.dtype = get_default_dtype(sel.backend) if dtype is None else _dtypes.to_dtype(dtype)
        self.device = device
        self.name = name

    def __repr__(self) -> str:
        return f"placeholder({self.shape}, {self.dtype.name}, name={self.name!r})"


def placeholder(
    shape: Any, dtype: Any = None, *, device: Any = None, name: str | None = None
) -> Placeholder:
    """Declare an input of a ``Graph``: its shape and dtype, with no data.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.placeholder((2, 3), ad.float32, name="batch")
    placeholder((2, 3), float32, name='batch')
    """
    return Placeholder(shape, dtype, device, name)


class Graph:
    """A computation built once over placeholders, then evaluated and differentiated
    repeatedly with new inputs (the lazy style: ``forward()``, then ``backward()``).

    ``fn`` maps tensors for the placeholders (in order) to a tensor. The graph is traced
    at construction (for the forward) and on the first ``backward`` (for the gradients);
    calls then replay those programs. Inputs must match the placeholders' shapes and
    dtypes: anything else raises ``ValueError`` — a graph never replays a program built
    for other inputs.

    Examples
    --------
    >>> import autodiff as ad
    >>> x, y = ad.placeholder((2,), name="x"), ad.placeholder((2,), name="y")
    >>> g = ad.Graph(lambda x, y: (x + y) * x, x, y)
    >>> g.forward(x=[1.0, 2.0], y=[3.0, 4.0]).tolist()
    [4.0, 12.0]
    >>> grads = g.backward(x=[1.0, 2.0], y=[3.0, 4.0])  # of the sum of the output
    >>> grads["x"].tolist(), grads["y"].tolist()
    ([5.0, 8.0], [1.0, 2.0])
    """

    def __init__(self, fn: Callable[..., Any], *placeholders: Placeholder) -> None:
        if not placeholders or not all(isinstance(p, Placeholder) for p in placeholders):
            raise TypeError("Graph(fn, *placeholders) needs at least one ad.placeholder(...).")
        self.fn = fn
        self.placeholders = placeholders
        self.names = [p.name or f"input{i}" for i, p in enumerate(placeholders)]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"placeholder names must be unique, got {self.names}.")
        self._forward = CompiledFunction(fn, max_traces=1)
        self._backward: CompiledFunction | None = None
        from ..creation import zeros

        with _no_grad():
            self._forward(*(zeros(p.shape, dtype=p.dtype, device=p.device) for p in placeholders))

    def _inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Tensor]:
        from ..creation import asarray

        if args and kwargs:
            raise TypeError("pass the inputs by position or by name, not both.")
        if kwargs:
            missing = [n for n in self.names if n not in kwargs]
            extra = [k for k in kwargs if k not in self.names]
            if missing or extra:
                raise TypeError(
                    f"inputs {self.names} expected; missing {missing}, unknown {extra}."
                )
            args = tuple(kwargs[n] for n in self.names)
        if len(args) != len(self.placeholders):
            raise TypeError(f"{len(self.placeholders)} inputs expected, got {len(args)}.")
        out = []
        for name, p, a in zip(self.names, self.placeholders, args):
            t = asarray(a, dtype=p.dtype, device=p.device)
            if t.shape != p.shape:
                raise ValueError(
                    f"input {name!r} has shape {t.shape}; the graph was built for {p.shape}."
                )
            out.append(t.detach())
        return out

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate the graph on new inputs (by position or by placeholder name)."""
        with _no_grad():
            return self._forward(*self._inputs(args, kwargs))

    __call__ = forward

    def backward(self, *args: Any, **kwargs: Any) -> dict[str, Tensor]:
        """Gradients of the sum of the output with respect to every input, by name."""
        inputs = self._inputs(args, kwargs)
        if self._backward is None:
            from ..ops.reduction import sum as _sum
            from ..transforms import grad

            n = len(inputs)
            self._backward = CompiledFunction(
                grad(lambda *xs: _sum(self.fn(*xs)), argnums=tuple(range(n))), max_traces=1
            )
        with _no_grad():
            grads = self._backward(*inputs)
        return dict(zip(self.names, grads))


def _no_grad() -> Any:
    from ..grad_mode import no_grad

    return no_grad()
