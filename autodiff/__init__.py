"""autodiff: reverse-mode automatic differentiation on any array API backend.

``import autodiff as ad``: the module is itself an array API namespace whose
functions take and return differentiable ``Tensor``s.

Examples
--------
>>> import autodiff as ad
>>> x = ad.var("x", 2.0)
>>> y = ad.var("y", 3.0)
>>> z = x * y + ad.sin(x)
>>> grads = z.backward()
>>> f"{float(grads['x']):.4f}"
'2.5839'
"""

from __future__ import annotations

import math as _math
import sys as _sys
from typing import TYPE_CHECKING as _TYPE_CHECKING

from . import _core, _methods, backends, engine, fft, linalg
from ._batching import VmapFallbackWarning
from ._compute import compute
from ._config import (
    get_backend,
    get_default_dtype,
    get_device,
    set_backend,
    set_default_dtype,
    use_backend,
)
from ._dtypes import (
    DType,
    bool,
    complex64,
    complex128,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)
from ._gradients import Gradients
from ._info import (
    __array_namespace_info__,
    can_cast,
    finfo,
    from_dlpack,
    iinfo,
    isdtype,
    result_type,
)
from ._jit.compile import CompiledFunction, TraceError, compile
from ._jit.graph import Graph, Placeholder, placeholder
from ._jit.trace import each_call, guard, host_value
from ._vmap import vmap
from .anomaly import AnomalyError, detect_anomaly
from .backends import Backend, BackendUnavailableError, Device
from .creation import (
    arange,
    asarray,
    constant,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from .custom import checkpoint, custom_vjp
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .linalg import tensordot, vecdot
from .ops.elementwise import (
    abs,
    add,
    bitwise_and,
    bitwise_invert,
    bitwise_left_shift,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    conj,
    divide,
    equal,
    floor_divide,
    greater,
    greater_equal,
    imag,
    less,
    less_equal,
    multiply,
    negative,
    not_equal,
    positive,
    pow,
    real,
    relu,
    remainder,
    sign,
    square,
    subtract,
    where,
)
from .ops.indexing import take, take_along_axis
from .ops.linalg import matmul
from .ops.manipulation import (
    broadcast_arrays,
    broadcast_shapes,
    flip,
    meshgrid,
    moveaxis,
    repeat,
    roll,
    tile,
    tril,
    triu,
    unstack,
)
from .ops.reduction import max, mean, min, sum
from .ops.rounding import (
    ceil,
    clip,
    copysign,
    floor,
    isfinite,
    isinf,
    isnan,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    nextafter,
    round,
    signbit,
    trunc,
)
from .ops.shape import (
    astype,
    broadcast_to,
    concat,
    expand_dims,
    matrix_transpose,
    permute_dims,
    reshape,
    squeeze,
    stack,
)
from .ops.sorting import (
    argsort,
    isin,
    nonzero,
    searchsorted,
    sort,
    unique_all,
    unique_counts,
    unique_inverse,
    unique_values,
)
from .ops.special import logsumexp
from .ops.statistics import (
    all,
    any,
    argmax,
    argmin,
    count_nonzero,
    cumulative_prod,
    cumulative_sum,
    diff,
    prod,
    std,
    var,
)
from .ops.transcendental import (
    acos,
    acosh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    cos,
    cosh,
    exp,
    expm1,
    hypot,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    reciprocal,
    sigmoid,
    sin,
    sinh,
    sqrt,
    tan,
    tanh,
)
from .serialization import load, save
from .tensor import Tensor
from .transforms import grad, hessian, hvp, jacobian, jvp, stop_gradient, value_and_grad, vjp

# isort: split
# the layers above use only the public namespace, complete once the imports above ran
from . import data, nn, optim, viz

__version__ = "0.1.0"
__array_api_version__ = "2024.12"
SUPPORTED_API_VERSIONS = ("2023.12", "2024.12")

e = _math.e
pi = _math.pi
inf = _math.inf
nan = _math.nan
newaxis = None

_core.NAMESPACE = _sys.modules[__name__]

#: public submodules imported on first attribute access, so ``ad.testing.check_grads``
#: works after ``import autodiff`` alone without making that import heavier
_LAZY_SUBMODULES = ("checks", "cli", "func", "testing", "training")

if _TYPE_CHECKING:
    from . import checks, cli, func, testing, training
else:

    def __getattr__(name: str) -> object:
        if name in _LAZY_SUBMODULES:
            import importlib

            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY_SUBMODULES})


__all__ = [
    "AnomalyError",
    "Backend",
    "BackendUnavailableError",
    "CompiledFunction",
    "DType",
    "Device",
    "Gradients",
    "Graph",
    "Placeholder",
    "Tensor",
    "TraceError",
    "VmapFallbackWarning",
    "__array_api_version__",
    "__array_namespace_info__",
    "abs",
    "acos",
    "acosh",
    "add",
    "all",
    "any",
    "arange",
    "argmax",
    "argmin",
    "argsort",
    "asarray",
    "asin",
    "asinh",
    "astype",
    "atan",
    "atan2",
    "atanh",
    "backends",
    "bitwise_and",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "bool",
    "broadcast_arrays",
    "broadcast_shapes",
    "broadcast_to",
    "can_cast",
    "ceil",
    "checkpoint",
    "clip",
    "compile",
    "complex64",
    "complex128",
    "concat",
    "conj",
    "constant",
    "copysign",
    "cos",
    "cosh",
    "count_nonzero",
    "cumulative_prod",
    "cumulative_sum",
    "custom_vjp",
    "data",
    "detect_anomaly",
    "diff",
    "divide",
    "e",
    "each_call",
    "empty",
    "empty_like",
    "enable_grad",
    "equal",
    "exp",
    "expand_dims",
    "expm1",
    "eye",
    "fft",
    "finfo",
    "flip",
    "float32",
    "float64",
    "floor",
    "floor_divide",
    "from_dlpack",
    "full",
    "full_like",
    "get_backend",
    "get_default_dtype",
    "get_device",
    "grad",
    "greater",
    "greater_equal",
    "guard",
    "hessian",
    "host_value",
    "hvp",
    "hypot",
    "iinfo",
    "imag",
    "inf",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "isdtype",
    "isfinite",
    "isin",
    "isinf",
    "isnan",
    "jacobian",
    "jvp",
    "less",
    "less_equal",
    "linalg",
    "linspace",
    "load",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logsumexp",
    "matmul",
    "matrix_transpose",
    "max",
    "maximum",
    "mean",
    "meshgrid",
    "min",
    "minimum",
    "moveaxis",
    "multiply",
    "nan",
    "negative",
    "newaxis",
    "nextafter",
    "nn",
    "no_grad",
    "nonzero",
    "not_equal",
    "ones",
    "ones_like",
    "optim",
    "permute_dims",
    "pi",
    "placeholder",
    "positive",
    "pow",
    "prod",
    "real",
    "reciprocal",
    "relu",
    "remainder",
    "repeat",
    "reshape",
    "result_type",
    "roll",
    "round",
    "save",
    "searchsorted",
    "set_backend",
    "set_default_dtype",
    "set_grad_enabled",
    "sigmoid",
    "sign",
    "signbit",
    "sin",
    "sinh",
    "sort",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "stop_gradient",
    "subtract",
    "sum",
    "take",
    "take_along_axis",
    "tan",
    "tanh",
    "tensor",
    "tensordot",
    "tile",
    "tril",
    "triu",
    "trunc",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
    "unstack",
    "use_backend",
    "value_and_grad",
    "var",
    "vecdot",
    "viz",
    "vjp",
    "vmap",
    "where",
    "zeros",
    "zeros_like",
]
