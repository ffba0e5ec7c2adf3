"""The array API namespace the Dask backend hands the primitives: ``array_api_compat.dask.array``
with a ``linalg`` extension that runs on stacks of matrices, and its ``eye``, ``linspace``
and ``from_dlpack`` made the standard's (``DaskNamespace``).

Dask's own ``linalg`` takes 2-D arrays only and lacks ``det``, ``slogdet``, ``eigh``,
``eigvalsh``, ``pinv`` and ``cross``. ``DaskLinalg`` computes each of these per chunk
(``dask.array.apply_gufunc``): the matrix axes are made one chunk (a matrix is never split
across chunks, the batch axes keep their chunks) and every chunk is a stack of whole
matrices, which the chunk's own library factors (NumPy's ``linalg`` through
``array_api_compat``, with the standard's keywords and result dtypes). A 2-D matrix split into
chunks that Dask's blocked algorithms take (square blocks for ``inv``, ``solve`` and
``cholesky``; one row or column of blocks for ``qr`` and ``svd``) still goes to them: they
need not hold the whole matrix in one chunk.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DaskLinalg", "DaskNamespace"]


class DaskNamespace:
    """``array_api_compat.dask.array`` with ``linalg`` replaced by ``DaskLinalg``."""

    def __init__(self, compat: Any) -> None:
        self._compat = compat
        self.linalg = DaskLinalg(compat.linalg)

    def __getattr__(self, name: str) -> Any:
        # every other name is array_api_compat's; kept after the first lookup
        value = getattr(self._compat, name)
        setattr(self, name, value)
        return value

    def eye(
        self, n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
        device: Any = None,
    ) -> Any:  # fmt: skip
        # Dask's eye builds a graph with a missing chunk when n_cols > n_rows (compute
        # raised "Missing dependency"): the diagonal as a comparison of two aranges
        import dask.array as da

        cols = n_rows if n_cols is None else n_cols
        hit = da.arange(cols)[None, :] - da.arange(n_rows)[:, None] == k
        return hit.astype(self._compat.float64 if dtype is None else dtype)

    def linspace(
        self, start: Any, stop: Any, /, num: int, *, dtype: Any = None, device: Any = None,
        endpoint: bool = True,
    ) -> Any:  # fmt: skip
        # Dask computes start + i*step: its last value can be an ulp off stop, which the
        # standard includes exactly
        import dask.array as da

        out = self._compat.linspace(start, stop, num, dtype=dtype, endpoint=endpoint)
        if not endpoint or num < 2:
            return out
        return da.where(da.arange(num, chunks=out.chunks) == num - 1, stop, out).astype(out.dtype)

    def from_dlpack(self, x: Any, /, *, device: Any = None, copy: bool | None = None) -> Any:
        # array_api_compat's Dask namespace has none: NumPy imports it, one chunk
        import dask.array as da
        import numpy as np

        if isinstance(x, da.Array):  # no __dlpack__ (a graph, not memory): itself
            return x.copy() if copy else x
        host = np.from_dlpack(x) if copy is None else np.from_dlpack(x, copy=copy)
        return da.from_array(host, chunks=host.shape or ())


def _chunk_linalg(block: Any) -> Any:
    # the linalg extension of the library holding one chunk (NumPy's through
    # array_api_compat: the standard's keywords, stacks, and result dtypes)
    from array_api_compat import array_namespace

    return array_namespace(block).linalg


def _real_dtype(dtype: Any) -> Any:
    import numpy as np

    return np.empty((), dtype=dtype).real.dtype


def _whole(a: Any, core: int) -> bool:
    # the last ``core`` axes are one chunk each: every chunk holds whole matrices
    return all(len(c) == 1 for c in a.chunks[a.ndim - core :])


def _per_chunk(name: str, signature: str, a: Any, dtypes: Any, sizes: Any = None, **kw: Any) -> Any:
    def fn(*blocks: Any) -> Any:
        return getattr(_chunk_linalg(blocks[0]), name)(*blocks, **kw)

    multi = isinstance(dtypes, tuple)
    meta = tuple(_meta(a[0], d) for d in dtypes) if multi else _meta(a[0], dtypes)
    out = _gufunc((lambda *b: tuple(fn(*b))) if multi else fn, signature, a, meta, sizes)
    return tuple(out) if multi else out


def _gufunc(fn: Any, signature: str, arrays: Any, meta: Any, sizes: Any = None) -> Any:
    import dask.array as da
    import numpy as np

    # the core (matrix) axes of each input made one chunk here; Dask's allow_rechunk then
    # only aligns the batch axes' chunks between inputs (it divides by a core axis's
    # chunk size, so not when one is empty: the batch chunks are left as they are)
    groups = signature.split("->")[0].replace("),(", ")|(").split("|")
    cores = [len([d for d in g.strip("()").split(",") if d]) for g in groups]
    arrays = [x.rechunk({x.ndim - 1 - k: -1 for k in range(c)}) for x, c in zip(arrays, cores)]
    empty = any(0 in x.shape[x.ndim - c :] for x, c in zip(arrays, cores))
    if len(arrays) > 1:
        # the batch axes broadcast here: Dask's check refuses a length 0 against a length 1
        batch = np.broadcast_shapes(*(x.shape[: x.ndim - c] for x, c in zip(arrays, cores)))
        arrays = [
            x
            if x.shape[: x.ndim - c] == batch
            else da.broadcast_to(x, batch + x.shape[x.ndim - c :])
            for x, c in zip(arrays, cores)
        ]
    return da.apply_gufunc(
        fn, signature, *arrays, meta=meta, output_sizes=sizes, allow_rechunk=not empty
    )


def _meta(sample: Any, dtype: Any) -> Any:
    # an empty array of the chunks' type and the result's dtype (given as meta: Dask would
    # cast a complex meta to a real dtype, a ComplexWarning)
    m = sample._meta
    if m.dtype.kind == "c" and dtype.kind != "c":
        m = m.real
    return m.astype(dtype)


class DaskLinalg:
    """The standard's ``linalg`` extension for Dask arrays, on stacks of matrices.

    Functions below run per chunk (see the module's docstring); the others
    (``matmul``, ``vecdot``, ``vector_norm``, ``matrix_norm``, ``diagonal``, ``trace``,
    ``tensordot``, ``outer``, ``matrix_transpose``) are array_api_compat's.
    """

    def __init__(self, compat_linalg: Any) -> None:
        self._compat = compat_linalg

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compat, name)

    def _native(self, a: Any, square: bool = True) -> bool:
        # a 2-D matrix split into chunks that Dask's blocked algorithm takes: square
        # blocks (LU, Cholesky), or one column or row of blocks (QR, SVD)
        if a.ndim != 2 or _whole(a, 2):
            return False
        rows, cols = a.chunks
        if square:  # every block square: one chunk size on both axes
            return len(set(rows + cols)) == 1
        return len(rows) == 1 or len(cols) == 1

    def det(self, x: Any, /) -> Any:
        return _per_chunk("det", "(m,m)->()", (x,), x.dtype)

    def slogdet(self, x: Any, /) -> Any:
        sign, logabs = _per_chunk("slogdet", "(m,m)->(),()", (x,), (x.dtype, _real_dtype(x.dtype)))
        return self._compat.SlogdetResult(sign, logabs)

    def inv(self, x: Any, /) -> Any:
        if self._native(x):
            out = self._compat.inv(x)  # Dask's LU gives float64 for float32 input
            return out if out.dtype == x.dtype else out.astype(x.dtype)
        return _per_chunk("inv", "(m,m)->(m,m)", (x,), x.dtype)

    def solve(self, x1: Any, x2: Any, /) -> Any:
        import numpy as np

        dtype = np.result_type(x1.dtype, x2.dtype)
        if self._native(x1) and x2.ndim <= 2 and x2.chunks[0] == x1.chunks[0]:
            out = self._compat.solve(x1, x2)
            return out if out.dtype == dtype else out.astype(dtype)
        # the standard: a 1-D x2 is one vector for every matrix of x1, solved as a column
        # (a chunk of x2 broadcast over x1's batch would read as a matrix)
        col = x2.ndim == 1
        rhs = x2[:, None] if col else x2
        out = _per_chunk("solve", "(m,m),(m,k)->(m,k)", (x1, rhs), dtype)
        return out[..., 0] if col else out

    def cholesky(self, x: Any, /, *, upper: bool = False) -> Any:
        if self._native(x):
            import dask.array as da

            # Dask's cholesky gives the upper factor unless asked for the lower one
            low = da.linalg.cholesky(x, lower=True)
            if not upper:
                return low
            return low.T.conj() if x.dtype.kind == "c" else low.T
        return _per_chunk("cholesky", "(m,m)->(m,m)", (x,), x.dtype, upper=upper)

    def eigh(self, x: Any, /) -> Any:
        w, v = _per_chunk("eigh", "(m,m)->(m),(m,m)", (x,), (_real_dtype(x.dtype), x.dtype))
        return self._compat.EighResult(w, v)

    def eigvalsh(self, x: Any, /) -> Any:
        return _per_chunk("eigvalsh", "(m,m)->(m)", (x,), _real_dtype(x.dtype))

    def qr(self, x: Any, /, *, mode: str = "reduced") -> Any:
        if self._native(x, square=False) and mode == "reduced":
            return self._compat.qr(x)
        m, n = x.shape[-2], x.shape[-1]
        signature = "(m,n)->(m,k),(k,n)" if mode == "reduced" else "(m,n)->(m,m),(m,n)"
        q, r = _per_chunk("qr", signature, (x,), (x.dtype, x.dtype), {"k": min(m, n)}, mode=mode)
        return self._compat.QRResult(q, r)

    def svd(self, x: Any, /, *, full_matrices: bool = True) -> Any:
        if self._native(x, square=False) and not full_matrices:
            return self._compat.svd(x, full_matrices=False)
        m, n = x.shape[-2], x.shape[-1]
        signature = "(m,n)->(m,m),(k),(n,n)" if full_matrices else "(m,n)->(m,k),(k),(k,n)"
        dtypes = (x.dtype, _real_dtype(x.dtype), x.dtype)
        u, s, vh = _per_chunk(
            "svd", signature, (x,), dtypes, {"k": min(m, n)}, full_matrices=full_matrices
        )
        return self._compat.SVDResult(u, s, vh)

    def svdvals(self, x: Any, /) -> Any:
        m, n = x.shape[-2], x.shape[-1]
        return _per_chunk("svdvals", "(m,n)->(k)", (x,), _real_dtype(x.dtype), {"k": min(m, n)})

    def pinv(self, x: Any, /, *, rtol: Any = None) -> Any:
        if rtol is None or isinstance(rtol, (int, float)):
            return _per_chunk("pinv", "(m,n)->(n,m)", (x,), x.dtype, rtol=rtol)
        # an array rtol: one per matrix of the stack, broadcast over its batch axes
        return _per_chunk_rtol("pinv", "(m,n),()->(n,m)", x, rtol, x.dtype)

    def matrix_rank(self, x: Any, /, *, rtol: Any = None) -> Any:
        import numpy as np

        dtype = np.dtype(np.int64)
        if rtol is None or isinstance(rtol, (int, float)):
            return _per_chunk("matrix_rank", "(m,n)->()", (x,), dtype, rtol=rtol)
        return _per_chunk_rtol("matrix_rank", "(m,n),()->()", x, rtol, dtype)

    def cross(self, x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
        import dask.array as da
        import numpy as np

        if x1.shape[axis] != 3 or x2.shape[axis] != 3:
            raise ValueError(
                f"cross: the axis {axis} of both inputs must have size 3, got shapes "
                f"{tuple(x1.shape)} and {tuple(x2.shape)}."
            )
        dtype = np.result_type(x1.dtype, x2.dtype)
        a, b = da.moveaxis(x1, axis, -1), da.moveaxis(x2, axis, -1)
        out = _per_chunk("cross", "(i),(i)->(i)", (a, b), dtype)
        return da.moveaxis(out, -1, axis)


def _per_chunk_rtol(name: str, signature: str, x: Any, rtol: Any, dtype: Any) -> Any:
    import dask.array as da

    def fn(block: Any, tol: Any) -> Any:
        return getattr(_chunk_linalg(block), name)(block, rtol=tol)

    return _gufunc(fn, signature, (x, da.asarray(rtol)), _meta(x, dtype))
