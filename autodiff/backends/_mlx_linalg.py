"""The ``linalg`` and ``fft`` extensions of the MLX namespace (``MLXNamespace.linalg``,
``MLXNamespace.fft``), over ``mlx.core.linalg`` and ``mlx.core.fft``."""

from __future__ import annotations

from typing import Any

__all__ = ["MLXFFT", "MLXLinalg"]


class MLXLinalg:
    """The standard's ``linalg`` extension over ``mlx.core.linalg``.

    MLX runs its factorizations (inv, solve, cholesky, qr, svd, eigh, det, ...) on the CPU
    stream only, so they are called with ``stream=mx.cpu``; the standard's keywords
    (``full_matrices``, ``mode``, ``rtol``, ``offset``, ``ord``) are mapped or filled in.
    """

    def __init__(self, mx: Any, np: Any) -> None:
        self._mx = mx
        self._np = np
        self._cpu = mx.cpu

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mx.linalg, name)

    def _real(self, x: Any, name: str) -> None:
        if self._mx.issubdtype(x.dtype, self._mx.complexfloating):
            raise NotImplementedError(
                f"linalg.{name}: MLX's linear algebra takes float32 and float64 only, not "
                f"{x.dtype}; move the tensor to another backend with .to_device('numpy:cpu')."
            )

    def _empty(self, name: str, *xs: Any, **kw: Any) -> Any:
        # an empty matrix or stack never reaches mx.linalg (det of a 0×0 matrix kills the
        # process with SIGFPE): NumPy answers these shape-only cases on the host
        np = self._np
        host = [np.zeros(x.shape, dtype=np.dtype(str(x.dtype).split(".")[-1])) for x in xs]
        res = getattr(np.linalg, name)(*host, **kw)
        if isinstance(res, tuple):
            return tuple(self._mx.array(r) for r in res)
        return self._mx.array(res)

    def inv(self, x: Any, /) -> Any:
        self._real(x, "inv")
        if x.size == 0:
            return self._empty("inv", x)
        return self._mx.linalg.inv(x, stream=self._cpu)

    def solve(self, x1: Any, x2: Any, /) -> Any:
        mx = self._mx
        self._real(x1, "solve")
        self._real(x2, "solve")
        if x1.size == 0 or x2.size == 0:
            return self._empty("solve", x1, x2)
        if x2.ndim == 1:
            # one right-hand vector shared by every matrix of the stack
            col = mx.broadcast_to(mx.expand_dims(x2, -1), (*x1.shape[:-1], 1))
            return mx.squeeze(mx.linalg.solve(x1, col, stream=self._cpu), -1)
        shape = mx.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
        a = mx.broadcast_to(x1, (*shape, *x1.shape[-2:]))
        b = mx.broadcast_to(x2, (*shape, *x2.shape[-2:]))
        return mx.linalg.solve(a, b, stream=self._cpu)

    def det(self, x: Any, /) -> Any:
        self._real(x, "det")
        if x.size == 0:
            return self._empty("det", x)
        return self._mx.linalg.det(x, stream=self._cpu)

    def slogdet(self, x: Any, /) -> tuple[Any, Any]:
        self._real(x, "slogdet")
        if x.size == 0:
            return self._empty("slogdet", x)
        sign, logabs = self._mx.linalg.slogdet(x, stream=self._cpu)
        return sign, logabs

    def cholesky(self, x: Any, /, *, upper: bool = False) -> Any:
        self._real(x, "cholesky")
        if x.size == 0:
            return self._empty("cholesky", x, upper=upper)
        return self._mx.linalg.cholesky(x, upper=upper, stream=self._cpu)

    def eigh(self, x: Any, /) -> tuple[Any, Any]:
        if x.size == 0:
            return self._empty("eigh", x)
        w, v = self._mx.linalg.eigh(x, stream=self._cpu)
        return w, v

    def eigvalsh(self, x: Any, /) -> Any:
        if x.size == 0:
            return self._empty("eigvalsh", x)
        return self._mx.linalg.eigvalsh(x, stream=self._cpu)

    def qr(self, x: Any, /, *, mode: str = "reduced") -> tuple[Any, Any]:
        self._real(x, "qr")
        if mode != "reduced" and x.shape[-2] > x.shape[-1]:
            raise NotImplementedError("MLX's qr gives the reduced factorization only.")
        if x.size == 0:
            return self._empty("qr", x, mode=mode)
        q, r = self._mx.linalg.qr(x, stream=self._cpu)
        return q, r

    def svd(self, x: Any, /, *, full_matrices: bool = True) -> tuple[Any, Any, Any]:
        if x.size == 0:
            return self._empty("svd", x, full_matrices=full_matrices)
        u, s, vh = self._mx.linalg.svd(x, stream=self._cpu)  # full matrices
        if not full_matrices:
            k = min(x.shape[-2], x.shape[-1])
            u, vh = u[..., :k], vh[..., :k, :]
        return u, s, vh

    def svdvals(self, x: Any, /) -> Any:
        if x.size == 0:
            return self._empty("svdvals", x)
        return self._mx.linalg.svd(x, compute_uv=False, stream=self._cpu)

    def pinv(self, x: Any, /, *, rtol: Any = None) -> Any:
        mx = self._mx
        if x.size == 0:
            return self._empty("pinv", x)
        u, s, vh = self.svd(x, full_matrices=False)
        if mx.issubdtype(x.dtype, mx.complexfloating):  # V S⁺ Uᴴ: conjugate transposes
            u, vh = mx.conj(u), mx.conj(vh)
        if rtol is None:
            rtol = max(x.shape[-2:]) * float(
                self._np.finfo(self._np.dtype(str(s.dtype).split(".")[-1])).eps
            )
        cut = mx.max(s, axis=-1, keepdims=True) * _per_matrix(mx, rtol)
        inv_s = mx.where(s > cut, 1 / mx.where(s > cut, s, 1), 0)
        return mx.swapaxes(vh, -1, -2) @ (mx.expand_dims(inv_s, -1) * mx.swapaxes(u, -1, -2))

    def matrix_rank(self, x: Any, /, *, rtol: Any = None) -> Any:
        mx = self._mx
        if x.size == 0:
            return self._empty("matrix_rank", x)
        s = self.svdvals(x)
        if rtol is None:
            rtol = max(x.shape[-2:]) * float(
                self._np.finfo(self._np.dtype(str(s.dtype).split(".")[-1])).eps
            )
        cut = mx.max(s, axis=-1, keepdims=True) * _per_matrix(mx, rtol)
        return mx.sum(s > cut, axis=-1).astype(mx.int64)

    def diagonal(self, x: Any, /, *, offset: int = 0) -> Any:
        return self._mx.diagonal(x, offset, -2, -1)

    def trace(self, x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
        return self._mx.sum(self.diagonal(x, offset=offset), axis=-1)

    def cross(self, x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
        return self._mx.linalg.cross(x1, x2, axis=axis)

    def vector_norm(
        self,
        x: Any,
        /,
        *,
        axis: Any = None,
        keepdims: bool = False,
        ord: Any = 2,  # noqa: A002
    ) -> Any:
        mx = self._mx
        a = mx.abs(x)
        if axis is None:
            a = mx.reshape(a, (-1,))
            red: Any = 0
        else:
            red = axis if isinstance(axis, int) else list(axis)
        if ord == mx.inf or ord == float("inf"):
            out = mx.max(a, axis=red, keepdims=keepdims)
        elif ord == -float("inf"):
            out = mx.min(a, axis=red, keepdims=keepdims)
        elif ord == 0:
            out = mx.sum(a != 0, axis=red, keepdims=keepdims).astype(x.dtype)
        else:
            out = mx.power(mx.sum(mx.power(a, ord), axis=red, keepdims=keepdims), 1.0 / ord)
        if axis is None and keepdims:
            out = mx.reshape(out, (1,) * x.ndim)
        return out

    def matmul(self, x1: Any, x2: Any, /) -> Any:
        return self._mx.matmul(x1, x2)

    def matrix_transpose(self, x: Any, /) -> Any:
        return self._mx.swapaxes(x, -1, -2)


class MLXFFT:
    """The standard's ``fft`` extension over ``mlx.core.fft`` (complex64: MLX has no
    complex128, so float64 input raises rather than narrowing)."""

    def __init__(self, mx: Any) -> None:
        self._mx = mx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mx.fft, name)

    def fftfreq(self, n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Any:
        out = self._mx.fft.fftfreq(n, d)
        return out if dtype is None else out.astype(dtype)

    def rfftfreq(self, n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Any:
        out = self._mx.fft.rfftfreq(n, d)
        return out if dtype is None else out.astype(dtype)


def _per_matrix(mx: Any, rtol: Any) -> Any:
    # an array rtol has one value per matrix (shape x.shape[:-2], broadcast): it scales
    # each matrix's largest singular value, kept as (..., 1)
    return mx.expand_dims(rtol, -1) if isinstance(rtol, mx.array) else rtol
