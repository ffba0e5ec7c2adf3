"""``Tensor``: a backend array, plus what reverse mode needs to know about it."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from . import _core, backends
from ._core import CURRENT_TRACER as _CURRENT_TRACER
from ._core import TRACING as _TRACING
from ._dtypes import DType
from .grad_mode import is_grad_enabled as _grad_enabled

__all__ = ["Tensor", "init_leaf", "wrap"]

_new = object.__new__


class Tensor:
    """An N-d array of one backend that can take part in differentiation.

    Create tensors with ``ad.tensor``, ``ad.var``, ``ad.constant`` or any
    array API creation function (``ad.asarray``, ``ad.zeros`` ...).
    ``Tensor(data, ...)`` accepts the same arguments as ``ad.tensor``.

    Attributes
    ----------
    data : array
        The backend array (a NumPy array on the NumPy backend ...).
    grad : Tensor or None
        Accumulated gradient of a leaf after ``backward()``.
    name : str or None
        The name given by ``ad.var`` (used by ``Gradients`` lookups).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> _ = y.backward()
    >>> x.grad.tolist()
    [2.0, 4.0]
    """

    __slots__ = (
        "__weakref__",
        "_backend",
        "_grad",
        "_hooks",
        "_node",
        "_oi",
        "_rg",
        "_view",
        "_views",
        "data",
        "name",
    )

    data: Any
    _backend: Any
    _rg: bool
    _node: Any
    _oi: int
    _grad: Tensor | None
    name: str | None
    _hooks: list[Callable[[Tensor], Tensor | None]] | None

    # -- attributes ----------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The tensor's shape as a tuple of ints."""
        return tuple(self.data.shape)

    @property
    def dtype(self) -> DType:
        """The autodiff dtype (``ad.float32`` ...), the same object on every backend."""
        return self._backend.dtype_of(self.data)

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.data.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.data.shape)

    @property
    def device(self) -> Any:
        """The ``ad.Device`` the data lives on (``numpy:cpu``, ``cupy:cuda:0`` ...)."""
        return self._backend.device_of(self.data)

    @property
    def backend(self) -> Any:
        """The ``Backend`` object that stores this tensor."""
        return self._backend

    @property
    def grad(self) -> Tensor | None:
        """The gradient ``backward()`` accumulated into this leaf (None until then)."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if _TRACING[0] and (tracer := _CURRENT_TRACER.get()) is not None:
            tracer.grad_set(self)  # ad.compile: the call's own .grad, not the entry one
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor. Settable on leaves."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._node is not None:
            raise RuntimeError(
                "requires_grad can only be changed on leaf tensors; use .detach() to get "
                "a leaf from the result of an operation."
            )
        if value and not self.dtype.is_floating:
            raise TypeError(
                f"only floating-point tensors can require gradients, but this tensor is "
                f"{self.dtype.name}; convert it first, e.g. x.astype(ad.float64)."
            )
        self._rg = bool(value)

    def requires_grad_(self, value: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return ``self``."""
        self.requires_grad = value
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded operation."""
        return self._node is None

    @property
    def grad_fn(self) -> str | None:
        """Name of the primitive that made this tensor (None for leaves)."""
        return None if self._node is None else self._node.prim.name

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call ``fn(grad)`` when the gradient for this tensor is computed.

        ``fn`` may return a replacement gradient. Returns a function that
        removes the hook.
        """
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad.")
        node = self._node
        if node is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(fn)
            hooks = self._hooks
            entry: Any = fn
        else:
            if node.hooks is None:
                node.hooks = []
            entry = (self._oi, fn)
            node.hooks.append(entry)
            hooks = node.hooks

        def remove() -> None:
            if entry in hooks:
                hooks.remove(entry)

        return remove

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after ``backward()``."""
        if self._node is None:
            return
        ref = weakref.ref(self)

        def keep(g: Tensor) -> None:
            t = ref()
            if t is not None:
                t.grad = g if t.grad is None else t.grad + g

        self.register_hook(keep)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return wrap(self.data, self._backend)

    # -- conversion ------------------------------------------------------------
    def numpy(self) -> Any:
        """The data as a NumPy array (copied to the host if needed).

        On the NumPy backend it is the tensor's own array, not a copy (as PyTorch's
        ``.numpy()`` shares memory): writing into it changes the tensor, and no
        gradient sees the write. Take ``t.numpy().copy()`` to modify it freely.
        """
        return self._backend.to_numpy(self.data)

    def item(self) -> Any:
        """The single element as a Python scalar."""
        if self.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element; this one has shape {self.shape}."
            )
        return self.numpy().item()

    value = item

    def tolist(self) -> Any:
        """The data as (nested) Python lists."""
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in ("signed integer", "unsigned integer"):
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype.name}.")
        return int(self.item())

    def __len__(self) -> int:
        if not self.data.shape:
            raise TypeError("len() of a 0-d tensor")
        return int(self.data.shape[0])

    def __iter__(self) -> Iterator[Tensor]:
        if not self.data.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __array_namespace__(self, *, api_version: str | None = None) -> Any:
        namespace = _core.NAMESPACE
        if api_version is not None and api_version not in namespace.SUPPORTED_API_VERSIONS:
            raise ValueError(
                f"api_version {api_version!r} is not supported; autodiff implements "
                f"{', '.join(namespace.SUPPORTED_API_VERSIONS)}."
            )
        return namespace

    def __dlpack__(
        self,
        *,
        stream: Any = None,
        max_version: tuple[int, int] | None = None,
        dl_device: Any = None,
        copy: bool | None = None,
    ) -> Any:
        """Export the data through DLPack (the graph does not travel with it)."""
        kwargs: dict[str, Any] = {}
        if stream is not None:
            kwargs["stream"] = stream
        if max_version is not None:
            kwargs["max_version"] = max_version
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        return _array_data(self).__dlpack__(**kwargs)

    def __dlpack_device__(self) -> Any:
        return _array_data(self).__dlpack_device__()

    #: NumPy defers to the tensor's reflected operators (``np.float64(2) * t`` calls
    #: ``t.__rmul__``) instead of converting it with ``__array__``; PyTorch uses 1000 too
    __array_priority__ = 1000

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        """``np.asarray(t)``: the data as a NumPy array, without a copy where the backend
        keeps it in host memory (NumPy, PyTorch on the CPU, array-api-strict's CPU device).

        Raises ``RuntimeError`` when ``t`` requires grad in grad mode: NumPy would compute
        on values autodiff cannot see, so the graph would be cut and the gradient silently
        wrong. Raises ``TypeError`` for data in device memory (CuPy, CUDA, MLX's GPU), as
        CuPy does: ``t.numpy()`` copies to the host explicitly.
        """
        if self._rg and _grad_enabled():
            raise RuntimeError(
                "converting a tensor that requires grad to a NumPy array would cut the graph: "
                "NumPy computes on a copy autodiff cannot see, so no gradient would flow "
                "through it. Use np.asarray(t.detach()) if you want the values only, run the "
                "code under `with ad.no_grad():`, or use autodiff functions (ad.exp, ...) "
                "instead of NumPy ones to keep differentiating."
            )
        backend = self._backend
        if not backend.host_readable(self.data):
            raise TypeError(
                f"implicit conversion of a tensor on {self.device} to a NumPy array is not "
                "allowed (it would copy it from the device); use t.numpy() to copy it to "
                "the host explicitly."
            )
        if copy is False and backend.host_copies:
            raise ValueError(
                f"np.asarray(t, copy=False): the {backend.name} backend can give its data to "
                "NumPy only as a copy; pass copy=None or copy=True."
            )
        host = backend.to_numpy(self.data)  # a NumPy array: its namespace is NumPy's
        hx = host.__array_namespace__()
        return hx.asarray(host, dtype=dtype, copy=None if backend.host_copies else copy)

    # -- copy and pickle: data, dtype, backend, device, requires_grad and a leaf's .grad;
    # never the graph or hooks. A non-leaf becomes a detached leaf (as ``.detach()``).
    def __copy__(self) -> Tensor:
        t = _new(type(self))
        leaf = self._node is None
        init_leaf(t, self.data, self._backend, self._rg and leaf)
        t._grad = self._grad if leaf else None
        t.name = self.name
        return t

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        import copy

        backend = self._backend
        t = _new(type(self))
        leaf = self._node is None
        data = backend.asarray(self.data, device=self.device, copy=True)
        init_leaf(t, data, backend, self._rg and leaf)
        memo[id(self)] = t
        t._grad = copy.deepcopy(self._grad, memo) if leaf else None
        t.name = self.name
        return t

    def __reduce_ex__(self, protocol: Any) -> Any:
        leaf = self._node is None
        return (
            _rebuild,
            (
                type(self),
                self._backend.name,
                self.device.label,
                self.dtype.name,
                self.numpy(),
                self._rg and leaf,
                self._grad if leaf else None,
                self.name,
            ),
        )

    def __format__(self, spec: str) -> str:
        # f"{loss:.3f}" on a 0-d tensor formats its value, as NumPy's 0-d arrays do
        if spec and self.ndim == 0:
            return format(self.item(), spec)
        return super().__format__(spec)

    def __repr__(self) -> str:
        body = repr(self.numpy())
        if body.startswith("array("):
            body = body[6:-1]
            body = body.split(", dtype=")[0]
        extra = [f"dtype={self.dtype.name}", f"device={self.device}"]
        if (self.ndim > 1 or self.size > 6) and "shape=" not in body:
            extra.insert(0, f"shape={self.shape}")
        if self.name is not None:
            extra.insert(0, f"name={self.name!r}")
        if self._node is not None:
            extra.append(f"grad_fn={self._node.prim.name}")
        elif self._rg:
            extra.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extra)})"

    def __str__(self) -> str:
        return str(self.numpy())

    __hash__ = object.__hash__

    # -- bound by autodiff._methods once the ops exist -------------------------------
    if TYPE_CHECKING:  # the operator surface and methods, for type checkers and editors
        # TensorOperators (_operators.py)
        def __init__(
            self, data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
        ) -> None: ...
        def backward(
            self, grad: Any = None, *, retain_graph: bool = False, create_graph: bool = False
        ) -> Any: ...
        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __pow__(self, other: Any) -> Tensor: ...
        def __rpow__(self, other: Any) -> Tensor: ...
        def __matmul__(self, other: Any) -> Tensor: ...
        def __rmatmul__(self, other: Any) -> Tensor: ...
        def __floordiv__(self, other: Any) -> Tensor: ...
        def __rfloordiv__(self, other: Any) -> Tensor: ...
        def __mod__(self, other: Any) -> Tensor: ...
        def __rmod__(self, other: Any) -> Tensor: ...
        def __and__(self, other: Any) -> Tensor: ...
        def __rand__(self, other: Any) -> Tensor: ...
        def __or__(self, other: Any) -> Tensor: ...
        def __ror__(self, other: Any) -> Tensor: ...
        def __xor__(self, other: Any) -> Tensor: ...
        def __rxor__(self, other: Any) -> Tensor: ...
        def __lshift__(self, other: Any) -> Tensor: ...
        def __rlshift__(self, other: Any) -> Tensor: ...
        def __rshift__(self, other: Any) -> Tensor: ...
        def __rrshift__(self, other: Any) -> Tensor: ...
        def __invert__(self) -> Tensor: ...
        def __iadd__(self, other: Any) -> Tensor: ...
        def __isub__(self, other: Any) -> Tensor: ...
        def __imul__(self, other: Any) -> Tensor: ...
        def __itruediv__(self, other: Any) -> Tensor: ...
        def __ipow__(self, other: Any) -> Tensor: ...
        def __ifloordiv__(self, other: Any) -> Tensor: ...
        def __imod__(self, other: Any) -> Tensor: ...
        def __iand__(self, other: Any) -> Tensor: ...
        def __ior__(self, other: Any) -> Tensor: ...
        def __ixor__(self, other: Any) -> Tensor: ...
        def __ilshift__(self, other: Any) -> Tensor: ...
        def __irshift__(self, other: Any) -> Tensor: ...
        def __imatmul__(self, other: Any) -> Tensor: ...
        def _inplace(self, prim: Any, other: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __pos__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __eq__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __lt__(self, other: Any) -> Tensor: ...
        def __le__(self, other: Any) -> Tensor: ...
        def __gt__(self, other: Any) -> Tensor: ...
        def __ge__(self, other: Any) -> Tensor: ...
        def __getitem__(self, key: Any) -> Tensor: ...
        def __setitem__(self, key: Any, value: Any) -> None: ...
        @property
        def T(self) -> Tensor: ...
        @property
        def mT(self) -> Tensor: ...
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def sin(self) -> Tensor: ...
        def cos(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def reshape(self, *shape: Any) -> Tensor: ...
        def transpose(self, *axes: Any) -> Tensor: ...
        def matmul(self, other: Any) -> Tensor: ...
        def astype(self, dtype: Any, *, copy: bool = True) -> Tensor: ...
        def to_device(self, device: Any, /, *, stream: Any = None) -> Tensor: ...
        # TensorMethods (_methods.py)
        def sum(
            self,
            axis: Any = None,
            keepdims: bool = False,
            *,
            dtype: Any = None,
            dim: Any = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def mean(
            self,
            axis: Any = None,
            keepdims: bool = False,
            *,
            dim: Any = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def prod(
            self,
            axis: Any = None,
            keepdims: bool = False,
            *,
            dtype: Any = None,
            dim: Any = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None) -> Tensor: ...
        def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None) -> Tensor: ...
        def var(
            self,
            axis: Any = None,
            *,
            correction: float | None = None,
            keepdims: bool = False,
            dim: Any = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def std(
            self,
            axis: Any = None,
            *,
            correction: float | None = None,
            keepdims: bool = False,
            dim: Any = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def argmax(
            self,
            axis: int | None = None,
            keepdims: bool = False,
            *,
            dim: int | None = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def argmin(
            self,
            axis: int | None = None,
            keepdims: bool = False,
            *,
            dim: int | None = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def all(
            self,
            axis: Any = None,
            keepdims: bool = False,
            *,
            dim: Any = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def any(
            self,
            axis: Any = None,
            keepdims: bool = False,
            *,
            dim: Any = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def cumsum(
            self, axis: int | None = None, *, dtype: Any = None, dim: int | None = None
        ) -> Tensor: ...
        def cumprod(
            self, axis: int | None = None, *, dtype: Any = None, dim: int | None = None
        ) -> Tensor: ...
        def norm(
            self,
            ord: Any = None,  # noqa: A002
            axis: Any = None,
            keepdims: bool = False,
            *,
            p: Any = None,
            dim: Any = None,
            keepdim: bool | None = None,
        ) -> Tensor: ...
        def clip(self, min: Any = None, max: Any = None) -> Tensor: ...  # noqa: A002

        clamp = clip

        def round(self, decimals: int = 0) -> Tensor: ...
        def conj(self) -> Tensor: ...
        @property
        def real(self) -> Tensor: ...
        @property
        def imag(self) -> Tensor: ...
        def squeeze(self, axis: Any = None, *, dim: Any = None) -> Tensor: ...
        def unsqueeze(self, dim: int) -> Tensor: ...
        def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor: ...
        def ravel(self) -> Tensor: ...
        def view(self, *shape: Any) -> Tensor: ...
        def permute(self, *dims: Any) -> Tensor: ...
        def swapaxes(self, axis1: int, axis2: int) -> Tensor: ...
        def expand(self, *sizes: Any) -> Tensor: ...
        def sort(
            self, axis: int = -1, *, descending: bool = False, stable: bool = True, dim: Any = None
        ) -> Tensor: ...
        def argsort(
            self,
            axis: int = -1,
            *,
            descending: bool = False,
            stable: bool = True,
            dim: int | None = None,
        ) -> Tensor: ...
        def take(self, indices: Any, axis: int | None = None) -> Tensor: ...
        def nonzero(self) -> tuple[Tensor, ...]: ...
        def dot(self, other: Any) -> Tensor: ...


def init_leaf(t: Tensor, data: Any, backend: Any, requires_grad: bool = False) -> None:
    """Give every slot of ``t`` its leaf value (constructors; ``wrap`` inlines this)."""
    t.data = data
    t._backend = backend
    t._rg = requires_grad
    t._node = None
    t._oi = 0
    t._grad = None
    t.name = None
    t._hooks = None


def _array_data(t: Tensor) -> Any:
    """``t.data`` as an array that DLPack can export: NumPy's 0-d results are NumPy
    scalars (autodiff keeps them: their arithmetic is ten times faster) and Dask's
    arrays are graphs, computed here."""
    data = t.data
    if not hasattr(data, "__dlpack_device__"):
        data = t._backend.xp.asarray(data)
        if not hasattr(data, "__dlpack_device__"):
            data = t._backend.to_numpy(data)
    return data


def _rebuild(
    cls: type[Tensor],
    backend_name: str,
    device: str,
    dtype: str,
    host: Any,
    requires_grad: bool,
    grad: Tensor | None,
    name: str | None,
) -> Tensor:
    """Unpickle a tensor (see ``Tensor.__reduce_ex__``)."""
    backend = backends.get(backend_name)
    t = _new(cls)
    init_leaf(t, backend.asarray(host, dtype=dtype, device=device), backend, requires_grad)
    t._grad = grad
    t.name = name
    return t


def wrap(data: Any, backend: Any) -> Tensor:
    """Wrap a native array as a tensor that does not require grad (no checks).

    The slot stores are spelled out rather than calling ``init_leaf``: this runs once
    per primitive call.
    """
    t = _new(Tensor)
    t.data = data
    t._backend = backend
    t._rg = False
    t._node = None
    t._oi = 0
    t._grad = None
    t.name = None
    t._hooks = None
    return t
