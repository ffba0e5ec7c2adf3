"""``Tensor``'s operators and methods, bound onto the class once the ops exist.

``autodiff/tensor.py`` defines the tensor record; the operators (``x + y``, ``x[k]``,
``x += y`` ...), the constructor, ``backward`` and the methods need the engine and the
ops, which import ``tensor``. So they are written above the ops, in subclasses of
``Tensor`` that are never instantiated (``TensorOperators`` in ``_operators.py``,
``TensorMethods`` here), and ``bind()`` copies the very same functions onto
``Tensor`` when ``autodiff`` is imported (as JAX binds its array methods): a method call
costs what it would cost had the method been written in the class body. ``Tensor``
declares every one of them for type checkers and editors (``tensor.py``'s
``TYPE_CHECKING`` block), and mypy checks each implementation here against that
declaration, as an override.

``TensorMethods`` holds the method forms of namespace functions: ``x.prod()``,
``x.var()``, ``x.clip(0, 1)`` ...
Each method calls the namespace function of the same meaning (``ad.prod`` ...), so
values and gradients are those of the function; keyword names are the namespace's
(``axis=``, ``keepdims=``). PyTorch's spellings are accepted where they cannot change
the answer: ``dim=``/``keepdim=`` beside ``axis=``/``keepdims=``, and the aliases
``clamp``, ``unsqueeze``, ``permute``, ``expand`` and ``view``. Where PyTorch's method
of the same name returns something else (``max(dim=)`` and ``sort(dim=)`` return
``(values, indices)``; ``var(dim=)`` defaults to ``correction=1``), ``dim=`` raises
instead of silently giving another number. The table of methods is in
``docs/tensors.md`` (checked by ``tests/test_methods.py``).
"""

from __future__ import annotations

import math
from typing import Any

import autodiff as ad

from ._operators import TensorOperators
from .tensor import Tensor

__all__ = ["TensorMethods", "bind"]


def _axis(name: str, axis: Any, dim: Any) -> Any:
    if dim is None:
        return axis
    if axis is not None:
        raise TypeError(
            f"{name}() got both axis= and dim= (NumPy's and PyTorch's name for one argument); pass one."
        )
    return dim


def _keep(name: str, keepdims: bool, keepdim: bool | None) -> bool:
    if keepdim is None:
        return keepdims
    if keepdims:
        raise TypeError(f"{name}() got both keepdims= and keepdim=; pass one.")
    return keepdim


def _no_dim(name: str, dim: Any, why: str) -> None:
    if dim is not None:
        raise TypeError(f"{name}() does not take dim=: {why}")


def _shape_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    # t.view(2, 3) and t.view((2, 3)) alike
    if len(args) == 1 and not isinstance(args[0], int):
        return tuple(args[0])
    return args


_TUPLE_RESULT = (
    "PyTorch's form returns (values, indices), this one the values only. Write "
    "x.{name}(axis=...) for the values and x.arg{name}(axis=...) for the indices."
)


class TensorMethods(Tensor):
    """Method forms of namespace functions (bound onto ``Tensor`` by ``bind``)."""

    __slots__ = ()

    # -- reductions ------------------------------------------------------------
    def sum(
        self,
        axis: Any = None,
        keepdims: bool = False,
        *,
        dtype: Any = None,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.sum(x, axis=axis, keepdims=keepdims)``; ``dim=``/``keepdim=`` also accepted."""
        return ad.sum(
            self,
            axis=_axis("sum", axis, dim),
            dtype=dtype,
            keepdims=_keep("sum", keepdims, keepdim),
        )

    def mean(
        self,
        axis: Any = None,
        keepdims: bool = False,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.mean(x, axis=axis, keepdims=keepdims)``; ``dim=``/``keepdim=`` also accepted."""
        return ad.mean(
            self, axis=_axis("mean", axis, dim), keepdims=_keep("mean", keepdims, keepdim)
        )

    def prod(
        self,
        axis: Any = None,
        keepdims: bool = False,
        *,
        dtype: Any = None,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.prod(x, axis=axis, keepdims=keepdims)``; ``dim=``/``keepdim=`` also accepted."""
        return ad.prod(
            self,
            axis=_axis("prod", axis, dim),
            dtype=dtype,
            keepdims=_keep("prod", keepdims, keepdim),
        )

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
        """``ad.max(x, axis=axis, keepdims=keepdims)``; ties share the gradient equally."""
        _no_dim("max", dim, _TUPLE_RESULT.format(name="max"))
        return ad.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
        """``ad.min(x, axis=axis, keepdims=keepdims)``; ties share the gradient equally."""
        _no_dim("min", dim, _TUPLE_RESULT.format(name="min"))
        return ad.min(self, axis=axis, keepdims=keepdims)

    def var(
        self,
        axis: Any = None,
        *,
        correction: float | None = None,
        keepdims: bool = False,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.var(x, axis=axis, correction=correction, keepdims=keepdims)``.

        ``correction`` defaults to 0 (the standard's and NumPy's default). PyTorch's
        default is 1, so ``dim=`` needs ``correction=`` spelt out.
        """
        return ad.var(
            self,
            axis=_stat_axis("var", axis, dim, correction),
            correction=correction or 0.0,
            keepdims=_keep("var", keepdims, keepdim),
        )

    def std(
        self,
        axis: Any = None,
        *,
        correction: float | None = None,
        keepdims: bool = False,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.std(x, axis=axis, correction=correction, keepdims=keepdims)``.

        ``correction`` defaults to 0 (the standard's and NumPy's default). PyTorch's
        default is 1, so ``dim=`` needs ``correction=`` spelt out.
        """
        return ad.std(
            self,
            axis=_stat_axis("std", axis, dim, correction),
            correction=correction or 0.0,
            keepdims=_keep("std", keepdims, keepdim),
        )

    def argmax(
        self,
        axis: int | None = None,
        keepdims: bool = False,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.argmax(x, axis=axis, keepdims=keepdims)`` (of the flattened tensor if no axis)."""
        return ad.argmax(
            self, axis=_axis("argmax", axis, dim), keepdims=_keep("argmax", keepdims, keepdim)
        )

    def argmin(
        self,
        axis: int | None = None,
        keepdims: bool = False,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.argmin(x, axis=axis, keepdims=keepdims)`` (of the flattened tensor if no axis)."""
        return ad.argmin(
            self, axis=_axis("argmin", axis, dim), keepdims=_keep("argmin", keepdims, keepdim)
        )

    def all(
        self,
        axis: Any = None,
        keepdims: bool = False,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.all(x, axis=axis, keepdims=keepdims)``."""
        return ad.all(self, axis=_axis("all", axis, dim), keepdims=_keep("all", keepdims, keepdim))

    def any(
        self,
        axis: Any = None,
        keepdims: bool = False,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.any(x, axis=axis, keepdims=keepdims)``."""
        return ad.any(self, axis=_axis("any", axis, dim), keepdims=_keep("any", keepdims, keepdim))

    def cumsum(
        self, axis: int | None = None, *, dtype: Any = None, dim: int | None = None
    ) -> Tensor:
        """``ad.cumulative_sum`` along ``axis``; of the flattened tensor if no axis (NumPy)."""
        axis = _axis("cumsum", axis, dim)
        x = self if axis is not None else ad.reshape(self, (-1,))
        return ad.cumulative_sum(x, axis=axis, dtype=dtype)

    def cumprod(
        self, axis: int | None = None, *, dtype: Any = None, dim: int | None = None
    ) -> Tensor:
        """``ad.cumulative_prod`` along ``axis``; of the flattened tensor if no axis (NumPy)."""
        axis = _axis("cumprod", axis, dim)
        x = self if axis is not None else ad.reshape(self, (-1,))
        return ad.cumulative_prod(x, axis=axis, dtype=dtype)

    def norm(
        self,
        ord: Any = None,  # noqa: A002
        axis: Any = None,
        keepdims: bool = False,
        *,
        p: Any = None,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """``ad.linalg.vector_norm`` (2-norm of all elements by default, as PyTorch).

        ``ord`` (PyTorch: ``p``) is a number, ``"fro"`` (the 2-norm of the elements) or
        ``"nuc"`` (``ad.linalg.matrix_norm`` of the last two axes).
        """
        if p is not None:
            if ord is not None:
                raise TypeError("norm() got both ord= and p= (the same argument); pass one.")
            ord = p  # noqa: A001
        axis = _axis("norm", axis, dim)
        keepdims = _keep("norm", keepdims, keepdim)
        if ord == "nuc":
            axes = (axis,) if isinstance(axis, int) else axis
            if axis is not None and tuple(a % self.ndim for a in axes) != (
                self.ndim - 2,
                self.ndim - 1,
            ):
                raise ValueError(
                    "norm(ord='nuc') is the norm of the last two axes; move the axes there first."
                )
            return ad.linalg.matrix_norm(self, ord="nuc", keepdims=keepdims)
        if ord is None or ord == "fro":
            ord = 2  # noqa: A001
        return ad.linalg.vector_norm(self, axis=axis, keepdims=keepdims, ord=ord)

    # -- elementwise -----------------------------------------------------------
    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """``ad.clip(x, min, max)``."""
        return ad.clip(self, min, max)

    clamp = clip

    def round(self, decimals: int = 0) -> Tensor:
        """``ad.round(x)``; with ``decimals``, ``round(x * 10**d) / 10**d`` (as NumPy).

        The gradient is zero almost everywhere, as the function's.
        """
        if decimals == 0:
            return ad.round(self)
        scale = 10.0**decimals
        return ad.round(self * scale) / scale

    def conj(self) -> Tensor:
        """``ad.conj(x)``."""
        return ad.conj(self)

    @property
    def real(self) -> Tensor:
        """``ad.real(x)``."""
        return ad.real(self)

    @property
    def imag(self) -> Tensor:
        """``ad.imag(x)``."""
        return ad.imag(self)

    # -- shape -----------------------------------------------------------------
    def squeeze(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        """``ad.squeeze(x, axis)``; every size-1 axis when ``axis`` is None (NumPy, PyTorch)."""
        axis = _axis("squeeze", axis, dim)
        if axis is None:
            axis = tuple(i for i, n in enumerate(self.shape) if n == 1)
        return ad.squeeze(self, axis)

    def unsqueeze(self, dim: int) -> Tensor:
        """PyTorch's name for ``ad.expand_dims(x, axis=dim)``."""
        return ad.expand_dims(self, axis=dim)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """``ad.reshape`` merging axes ``start_dim`` to ``end_dim`` (all by default) into one."""
        if self.ndim == 0:
            return ad.reshape(self, (1,))
        start, end = start_dim % self.ndim, end_dim % self.ndim
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}.")
        merged = math.prod(self.shape[start : end + 1])
        return ad.reshape(self, (*self.shape[:start], merged, *self.shape[end + 1 :]))

    def ravel(self) -> Tensor:
        """``ad.reshape(x, (-1,))``."""
        return ad.reshape(self, (-1,))

    def view(self, *shape: Any) -> Tensor:
        """PyTorch's name for ``ad.reshape`` (``t.view(2, 3)`` or ``t.view((2, 3))``).

        A view or a copy exactly when ``ad.reshape`` is (see ``docs/indexing.md``).
        Reinterpreting the bytes as another dtype (``t.view(ad.int64)``) is not offered.
        """
        if len(shape) == 1 and isinstance(shape[0], (ad.DType, str, type)):
            raise TypeError(
                "view(dtype) reinterprets memory, which autodiff does not offer; use "
                "x.astype(dtype) to convert the values."
            )
        return ad.reshape(self, _shape_args(shape))

    def permute(self, *dims: Any) -> Tensor:
        """PyTorch's name for ``ad.permute_dims(x, dims)`` (``t.permute(1, 0)`` or ``t.permute((1, 0))``)."""
        return ad.permute_dims(self, _shape_args(dims))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """``ad.permute_dims`` exchanging two axes."""
        axes = list(range(self.ndim))
        a, b = axis1 % self.ndim, axis2 % self.ndim
        axes[a], axes[b] = axes[b], axes[a]
        return ad.permute_dims(self, tuple(axes))

    def expand(self, *sizes: Any) -> Tensor:
        """PyTorch's name for ``ad.broadcast_to``; a size of -1 keeps that axis.

        As ``broadcast_to``, the result is read-only (writing into it raises).
        """
        shape = _shape_args(sizes)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ValueError(
                f"expand: {shape} has fewer axes than the tensor's shape {self.shape}."
            )
        full = tuple(
            self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape)
        )
        return ad.broadcast_to(self, full)

    # -- sorting and selection ---------------------------------------------------
    def sort(
        self,
        axis: int = -1,
        *,
        descending: bool = False,
        stable: bool = True,
        dim: Any = None,
    ) -> Tensor:
        """``ad.sort(x, axis=axis)``: a sorted copy.

        NumPy's ``ndarray.sort`` sorts in place and returns None; PyTorch's returns
        ``(values, indices)``. Here the values are returned and ``x`` is unchanged;
        ``x.argsort()`` gives the indices.
        """
        _no_dim("sort", dim, _TUPLE_RESULT.format(name="sort"))
        return ad.sort(self, axis=axis, descending=descending, stable=stable)

    def argsort(
        self,
        axis: int = -1,
        *,
        descending: bool = False,
        stable: bool = True,
        dim: int | None = None,
    ) -> Tensor:
        """``ad.argsort(x, axis=axis)``; ``dim=`` also accepted."""
        axis = axis if dim is None else dim
        return ad.argsort(self, axis=axis, descending=descending, stable=stable)

    def take(self, indices: Any, axis: int | None = None) -> Tensor:
        """``ad.take(x, indices, axis=axis)``; of the flattened tensor if no axis (NumPy, PyTorch)."""
        x = ad.asarray(self) if axis is not None or self.ndim == 1 else ad.reshape(self, (-1,))
        return ad.take(x, ad.asarray(indices, device=self.device), axis=axis)

    def nonzero(self) -> tuple[Tensor, ...]:
        """``ad.nonzero(x)``: a tuple of index tensors, one per axis (NumPy's form;
        PyTorch's ``nonzero(as_tuple=True)``)."""
        return ad.nonzero(self)

    # -- products --------------------------------------------------------------
    def dot(self, other: Any) -> Tensor:
        """``ad.matmul`` for tensors of one or two axes (no complex conjugation), as NumPy's ``dot``."""
        other = ad.asarray(other, device=self.device)
        if not (1 <= self.ndim <= 2 and 1 <= other.ndim <= 2):
            raise ValueError(
                f"dot() takes tensors of one or two axes, got shapes {self.shape} and "
                f"{other.shape}; use ad.matmul or ad.tensordot."
            )
        return ad.matmul(self, other)


def _stat_axis(name: str, axis: Any, dim: Any, correction: float | None) -> Any:
    if dim is not None and correction is None:
        raise TypeError(
            f"{name}(dim=...) needs correction= spelt out: PyTorch's {name} defaults to "
            f"correction=1 (unbiased), the standard's and NumPy's to 0."
        )
    return _axis(name, axis, dim)


#: class plumbing that ``bind`` never copies (``__hash__``: a class that defines
#: ``__eq__`` gets ``__hash__ = None``; ``Tensor`` keeps ``object.__hash__``)
_NOT_BOUND = frozenset(("__module__", "__qualname__", "__doc__", "__slots__", "__hash__"))


def bind() -> None:
    """Put the operators and methods defined here on ``Tensor`` (the same function
    objects: no indirection per call). ``autodiff/__init__.py`` calls it once the ops
    exist; calling it again changes nothing."""
    for cls in (TensorOperators, TensorMethods):
        for name, member in vars(cls).items():
            if name in _NOT_BOUND or not (callable(member) or isinstance(member, property)):
                continue
            setattr(Tensor, name, member)


bind()
