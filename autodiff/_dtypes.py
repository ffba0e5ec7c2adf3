"""autodiff's own dtype objects.

Every backend maps its native dtypes to these singletons, so ``t.dtype ==
ad.float32`` holds whatever array library stores the tensor.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ALL_DTYPES",
    "DType",
    "bfloat16",
    "bool",
    "complex64",
    "complex128",
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "isdtype",
    "to_dtype",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
]

_builtin_bool = bool


class DType:
    """A data type, independent of the array library that stores the data.

    Parameters
    ----------
    name : str
        Canonical name (``"float32"``, ``"int64"``, ``"bool"`` ...).
    kind : str
        One of ``"bool"``, ``"signed integer"``, ``"unsigned integer"``,
        ``"real floating"``, ``"complex floating"``.
    bits : int
        Size of one element in bits.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.tensor([1.0, 2.0], dtype=ad.float32).dtype == ad.float32
    True
    """

    __slots__ = ("bits", "kind", "name")

    def __init__(self, name: str, kind: str, bits: int) -> None:
        self.name = name
        self.kind = kind
        self.bits = bits

    def __repr__(self) -> str:
        return f"autodiff.{self.name}"

    __str__ = __repr__

    def __reduce__(self) -> str:
        return self.name

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self.bits // 8

    @property
    def is_floating(self) -> _builtin_bool:
        """True for real and complex floating dtypes (the differentiable ones)."""
        return self.kind in ("real floating", "complex floating")


bool = DType("bool", "bool", 8)  # noqa: A001 - the standard's name
int8 = DType("int8", "signed integer", 8)
int16 = DType("int16", "signed integer", 16)
int32 = DType("int32", "signed integer", 32)
int64 = DType("int64", "signed integer", 64)
uint8 = DType("uint8", "unsigned integer", 8)
uint16 = DType("uint16", "unsigned integer", 16)
uint32 = DType("uint32", "unsigned integer", 32)
uint64 = DType("uint64", "unsigned integer", 64)
float16 = DType("float16", "real floating", 16)
bfloat16 = DType("bfloat16", "real floating", 16)
float32 = DType("float32", "real floating", 32)
float64 = DType("float64", "real floating", 64)
complex64 = DType("complex64", "complex floating", 64)
complex128 = DType("complex128", "complex floating", 128)

ALL_DTYPES: tuple[DType, ...] = (
    bool,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
    float16,
    bfloat16,
    float32,
    float64,
    complex64,
    complex128,
)

_BY_NAME: dict[str, DType] = {d.name: d for d in ALL_DTYPES}

#: the dtypes with no ``ad.<name>`` attribute (the array API standard has neither): a
#: user asks for them by name (``dtype="float16"``) or with the backend's own dtype
#: (``torch.bfloat16``), where the backend has them
UNNAMED: tuple[DType, ...] = (float16, bfloat16)


def to_dtype(obj: Any) -> DType:
    """Return the autodiff dtype for ``obj``.

    Accepts an autodiff ``DType``, a dtype name (``"float32"``), or any object
    whose ``str()`` or ``name`` is a dtype name (NumPy, CuPy, MLX and
    array-api-strict dtypes all qualify).

    Raises
    ------
    TypeError
        If ``obj`` names no dtype autodiff knows.

    Examples
    --------
    >>> import numpy as np
    >>> import autodiff as ad
    >>> from autodiff._dtypes import to_dtype
    >>> to_dtype("float32") is ad.float32
    True
    >>> to_dtype(np.dtype("int16")).name
    'int16'
    >>> to_dtype(float) is ad.float64  # Python's float is double precision
    True
    """
    if obj.__class__ is DType:
        return obj
    if obj is float:
        return float64
    if obj is int:
        return int64
    if obj is _builtin_bool:
        return bool
    if obj is complex:
        return complex128
    for candidate in (getattr(obj, "name", None), getattr(obj, "__name__", None), str(obj)):
        if isinstance(candidate, str):
            name = candidate.rsplit(".", 1)[-1].rstrip("_")
            found = _BY_NAME.get(name)
            if found is not None:
                return found
    named = ", ".join(f"ad.{d.name}" for d in ALL_DTYPES if d not in UNNAMED)
    unnamed = " and ".join(f"{d.name!r}" for d in UNNAMED)
    raise TypeError(
        f"{obj!r} is not a dtype autodiff knows; use one of {named}, or its name as a "
        f"string ('float32'). {unnamed} have no ad.* attribute: pass the name as a "
        "string, or the backend's own dtype (numpy.float16, torch.bfloat16), on a backend "
        "that supports them."
    )


_KINDS = {
    "bool": ("bool",),
    "signed integer": ("signed integer",),
    "unsigned integer": ("unsigned integer",),
    "integral": ("signed integer", "unsigned integer"),
    "real floating": ("real floating",),
    "complex floating": ("complex floating",),
    "numeric": ("signed integer", "unsigned integer", "real floating", "complex floating"),
}


def isdtype(dtype: Any, kind: Any) -> _builtin_bool:
    """Whether ``dtype`` is of ``kind``: a dtype, a kind name (``"integral"``,
    ``"real floating"``, ``"numeric"`` ...), or a tuple of those.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.isdtype(ad.float32, "real floating"), ad.isdtype(ad.int8, ("bool", "integral"))
    (True, True)
    """
    dt = to_dtype(dtype)
    if isinstance(kind, tuple):
        return any(isdtype(dt, k) for k in kind)
    if isinstance(kind, str):
        kinds = _KINDS.get(kind)
        if kinds is None:
            raise ValueError(f"isdtype: unknown kind {kind!r}; use one of {sorted(_KINDS)}.")
        return dt.kind in kinds
    return dt is to_dtype(kind)
