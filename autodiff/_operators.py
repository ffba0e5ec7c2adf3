"""``Tensor``'s constructor, ``backward``, operators and primitive methods.

Written in ``TensorOperators``, a subclass of ``Tensor`` that is never instantiated, and
bound onto ``Tensor`` by ``autodiff._methods.bind`` once the ops exist (see there).
"""

from __future__ import annotations

from typing import Any

from . import _views as _vw
from ._backward import backward
from ._gradients import Gradients
from .creation import tensor
from .engine import apply1 as _apply1
from .engine import apply2 as _apply2
from .grad_mode import is_grad_enabled as _grad_enabled
from .ops import elementwise as _ew
from .ops import indexing as _ix
from .ops import linalg as _la
from .ops import move as _mv
from .ops import shape as _sh
from .ops import transcendental as _tr
from .tensor import Tensor, init_leaf, wrap

__all__ = ["TensorOperators"]


class TensorOperators(Tensor):
    """The constructor, ``backward``, the operators and the methods of ``Tensor``
    that call primitives directly (bound onto ``Tensor`` by ``bind``)."""

    __slots__ = ()

    def __init__(
        self,
        data: Any,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> None:
        made = tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        init_leaf(self, made.data, made._backend, made._rg)

    # -- reverse mode ----------------------------------------------------------
    def backward(
        self,
        grad: Any = None,
        *,
        retain_graph: bool = False,
        create_graph: bool = False,
    ) -> Any:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Parameters
        ----------
        grad : Tensor or array-like, optional
            The cotangent; required unless the tensor has a single element.
        retain_graph : bool
            Keep the graph so backward can run through it again.
        create_graph : bool
            Record the backward pass, so gradients can be differentiated again.

        Returns
        -------
        Gradients
            This call's gradients, by leaf tensor or leaf name.

        Examples
        --------
        >>> import autodiff as ad
        >>> x = ad.var("x", 3.0)
        >>> grads = (x * x + x).backward()
        >>> float(grads["x"])
        7.0
        """
        if not self._rg:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: no input of the "
                "computation requires grad. Create inputs with requires_grad=True or ad.var()."
            )
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient works only on a single-element tensor; "
                    f"this one has shape {self.shape}. Reduce it first (e.g. y.sum()."
                    f"backward()) or pass grad= of shape {self.shape}."
                )
            g = self._backend.xp.ones_like(self.data)
        else:
            g = (
                grad.data
                if isinstance(grad, Tensor)
                else self._backend.asarray(grad, dtype=self.dtype, device=self.device)
            )
            if tuple(g.shape) != self.shape:
                raise ValueError(
                    f"backward(): grad has shape {tuple(g.shape)} but the tensor has shape "
                    f"{self.shape}; they must match."
                )
        root_grad: Any = g
        if create_graph:
            root_grad = grad if isinstance(grad, Tensor) else wrap(g, self._backend)
        items = backward([self], [root_grad], retain_graph=retain_graph, create_graph=create_graph)
        return Gradients(items)

    # -- operators (the primitives live in autodiff.ops) -------------------------
    def __add__(self, other: Any) -> Tensor:
        return _apply2(_ew.add_p, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _apply2(_ew.add_p, other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _apply2(_ew.sub_p, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _apply2(_ew.sub_p, other, self)

    def __mul__(self, other: Any) -> Tensor:
        if other is self:
            # x * x: one primitive whose rule is 2 x g, not two products and a sum
            return _apply1(_ew.square_p, self)
        return _apply2(_ew.mul_p, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _apply2(_ew.mul_p, other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _apply2(_ew.div_p, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _apply2(_ew.div_p, other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _apply2(_ew.pow_p, self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _apply2(_ew.pow_p, other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _la.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _la.matmul(other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return _apply2(_ew.floor_divide_p, self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _apply2(_ew.floor_divide_p, other, self)

    def __mod__(self, other: Any) -> Tensor:
        return _apply2(_ew.remainder_p, self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _apply2(_ew.remainder_p, other, self)

    def __and__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_and_p, self, other)

    def __rand__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_and_p, other, self)

    def __or__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_or_p, self, other)

    def __ror__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_or_p, other, self)

    def __xor__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_xor_p, self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_xor_p, other, self)

    def __lshift__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_left_shift_p, self, other)

    def __rlshift__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_left_shift_p, other, self)

    def __rshift__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_right_shift_p, self, other)

    def __rrshift__(self, other: Any) -> Tensor:
        return _apply2(_ew.bitwise_right_shift_p, other, self)

    def __invert__(self) -> Tensor:
        return _apply1(_ew.bitwise_invert_p, self)

    # in-place operators: the tensor object is rebound to the result (see _inplace)
    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(_ew.add_p, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(_ew.sub_p, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(_ew.mul_p, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(_ew.div_p, other)

    def __ipow__(self, other: Any) -> Tensor:
        return self._inplace(_ew.pow_p, other)

    def __ifloordiv__(self, other: Any) -> Tensor:
        return self._inplace(_ew.floor_divide_p, other)

    def __imod__(self, other: Any) -> Tensor:
        return self._inplace(_ew.remainder_p, other)

    def __iand__(self, other: Any) -> Tensor:
        return self._inplace(_ew.bitwise_and_p, other)

    def __ior__(self, other: Any) -> Tensor:
        return self._inplace(_ew.bitwise_or_p, other)

    def __ixor__(self, other: Any) -> Tensor:
        return self._inplace(_ew.bitwise_xor_p, other)

    def __ilshift__(self, other: Any) -> Tensor:
        return self._inplace(_ew.bitwise_left_shift_p, other)

    def __irshift__(self, other: Any) -> Tensor:
        return self._inplace(_ew.bitwise_right_shift_p, other)

    def __imatmul__(self, other: Any) -> Tensor:
        return self._inplace(None, other)

    def _inplace(self, prim: Any, other: Any) -> Tensor:
        """``x op= y``: rebind ``x`` to ``x op y``, which must keep x's shape and dtype.

        As with ``x[key] = v``, the memory of ``x`` is not written: ``x.data`` becomes the
        new array and, when recording, ``x`` becomes a non-leaf whose graph holds the old
        value, while operations recorded before keep the value they used. A view writes
        through to its base, and every live view of the base sees the new value (see
        ``autodiff._views``). A leaf that requires grad can be updated only under
        ``ad.no_grad()``.
        """
        recording = _grad_enabled()
        if self._node is None and self._rg and recording:
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation: "
                "update it under `with ad.no_grad():`, or compute a new tensor (x = x + y)."
            )
        with _vw.WRITE_LOCK:  # read, compute and rebind as one step (threads)
            self._inplace_locked(prim, other)
        return self

    def _inplace_locked(self, prim: Any, other: Any) -> None:
        old = wrap(self.data, self._backend)
        old._rg, old._node, old._oi = self._rg, self._node, self._oi
        out = _la.matmul(old, other) if prim is None else _apply2(prim, old, other)
        if out.shape != self.shape:
            raise ValueError(
                f"an in-place operation cannot change the shape of a tensor: {self.shape} "
                f"would become {out.shape}; write x = x op y instead."
            )
        if out.dtype is not self.dtype:
            if not self._backend.inplace_casts(self.dtype, out.dtype):
                raise TypeError(
                    f"an in-place operation cannot change the dtype of a tensor: "
                    f"{self.dtype.name} would become {out.dtype.name}; cast first or write "
                    "x = x op y instead."
                )
            # as the backend does in place (NumPy: int32 += int64 stays int32)
            out = _sh.astype(out, self.dtype)
        _ix.assign(self, out)

    def __neg__(self) -> Tensor:
        return _apply1(_ew.neg_p, self)

    def __pos__(self) -> Tensor:
        return _apply1(_ew.pos_p, self)

    def __abs__(self) -> Tensor:
        return _apply1(_ew.abs_p, self)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _apply2(_ew.equal_p, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _apply2(_ew.not_equal_p, self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _apply2(_ew.less_p, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _apply2(_ew.less_equal_p, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _apply2(_ew.greater_p, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _apply2(_ew.greater_equal_p, self, other)

    def __getitem__(self, key: Any) -> Tensor:
        return _ix.getitem(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        """``x[key] = value``: rebinds ``x`` to a new value (see ``autodiff.ops.indexing.setitem``)."""
        _ix.setitem(self, key, value)

    # -- method forms users know ---------------------------------------------------
    @property
    def T(self) -> Tensor:
        """Transpose of a tensor with at most two dimensions."""
        if self.ndim > 2:
            raise ValueError(
                f".T needs a tensor with at most 2 dimensions, got {self.ndim}; use .mT to "
                "transpose the last two axes or .transpose(axes)."
            )
        return _sh.permute_dims(self, tuple(range(self.ndim))[::-1])

    @property
    def mT(self) -> Tensor:
        """Transpose of the last two axes (a stack of matrices)."""
        return _sh.matrix_transpose(self)

    # sum, mean, max, min, prod, var, clip ... : see TensorMethods (autodiff/_methods.py)

    def exp(self) -> Tensor:
        """Elementwise e**x."""
        return _apply1(_tr.exp_p, self)

    def log(self) -> Tensor:
        """Elementwise natural logarithm."""
        return _apply1(_tr.log_p, self)

    def sin(self) -> Tensor:
        """Elementwise sine."""
        return _apply1(_tr.sin_p, self)

    def cos(self) -> Tensor:
        """Elementwise cosine."""
        return _apply1(_tr.cos_p, self)

    def tanh(self) -> Tensor:
        """Elementwise hyperbolic tangent."""
        return _apply1(_tr.tanh_p, self)

    def sqrt(self) -> Tensor:
        """Elementwise square root."""
        return _apply1(_tr.sqrt_p, self)

    def relu(self) -> Tensor:
        """Elementwise max(x, 0); the gradient at 0 is 0."""
        return _apply1(_ew.relu_p, self)

    def sigmoid(self) -> Tensor:
        """Elementwise logistic function 1 / (1 + exp(-x))."""
        return _apply1(_tr.sigmoid_p, self)

    def abs(self) -> Tensor:
        """Elementwise absolute value; the gradient at 0 is 0."""
        return _apply1(_ew.abs_p, self)

    def reshape(self, *shape: Any) -> Tensor:
        """Reshape (``t.reshape(2, 3)`` or ``t.reshape((2, 3))``)."""
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        return _sh.reshape(self, shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes (reverse them when none are given)."""
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        return _sh.permute_dims(self, axes)

    def matmul(self, other: Any) -> Tensor:
        """Matrix product ``self @ other``."""
        return _la.matmul(self, other)

    def astype(self, dtype: Any, *, copy: bool = True) -> Tensor:
        """Cast to ``dtype`` (differentiable between floating dtypes)."""
        return _sh.astype(self, dtype, copy=copy)

    def to_device(self, device: Any, /, *, stream: Any = None) -> Tensor:
        """Move to ``device`` (``"numpy:cpu"``, ``ad.Device`` ...), across backends too.

        The move is differentiable: gradients flow back to the source device.
        """
        return _mv.to_device(self, device, stream=stream)
