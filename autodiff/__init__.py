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
>>> round(float(grads["x"]), 4)
2.5839
"""

from __future__ import annotations

import math as _math
import sys as _sys

# tensor first: it completes its own imports of the engine and the ops
# isort: off
from .tensor import Tensor

# isort: on
from . import backends, engine, fft, linalg
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
    var,
    zeros,
    zeros_like,
)
from .custom import checkpoint, custom_vjp
from .engine import Gradients
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .linalg import tensordot, vecdot
from .ops.elementwise import (
    abs,
    add,
    cos,
    divide,
    equal,
    exp,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    positive,
    pow,
    relu,
    sigmoid,
    sign,
    sin,
    sqrt,
    subtract,
    tanh,
    where,
)
from .ops.indexing import take, take_along_axis
from .ops.linalg import matmul
from .ops.reduction import max, mean, min, sum
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
from .ops.special import logsumexp
from .transforms import grad, hessian, hvp, jacobian, jvp, stop_gradient, value_and_grad, vjp

__version__ = "0.1.0"
__array_api_version__ = "2024.12"
SUPPORTED_API_VERSIONS = ("2023.12", "2024.12")

e = _math.e
pi = _math.pi
inf = _math.inf
nan = _math.nan
newaxis = None

engine.NAMESPACE = _sys.modules[__name__]

# layers above the core use only the namespace defined above
from . import data, nn, optim, viz  # noqa: E402
from .anomaly import AnomalyError, detect_anomaly  # noqa: E402
from .serialization import load, save  # noqa: E402

__all__ = [
    "AnomalyError",
    "Backend",
    "BackendUnavailableError",
    "DType",
    "Device",
    "Gradients",
    "Tensor",
    "__array_api_version__",
    "abs",
    "add",
    "arange",
    "asarray",
    "astype",
    "backends",
    "bool",
    "broadcast_to",
    "checkpoint",
    "complex64",
    "complex128",
    "concat",
    "constant",
    "cos",
    "custom_vjp",
    "data",
    "detect_anomaly",
    "divide",
    "e",
    "empty",
    "empty_like",
    "enable_grad",
    "equal",
    "exp",
    "expand_dims",
    "eye",
    "fft",
    "float32",
    "float64",
    "full",
    "full_like",
    "get_backend",
    "get_default_dtype",
    "get_device",
    "grad",
    "greater",
    "greater_equal",
    "hessian",
    "hvp",
    "inf",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "jacobian",
    "jvp",
    "less",
    "less_equal",
    "linalg",
    "linspace",
    "load",
    "log",
    "logsumexp",
    "matmul",
    "matrix_transpose",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multiply",
    "nan",
    "negative",
    "newaxis",
    "nn",
    "no_grad",
    "not_equal",
    "ones",
    "ones_like",
    "optim",
    "permute_dims",
    "pi",
    "positive",
    "pow",
    "relu",
    "reshape",
    "save",
    "set_backend",
    "set_default_dtype",
    "set_grad_enabled",
    "sigmoid",
    "sign",
    "sin",
    "sqrt",
    "squeeze",
    "stack",
    "stop_gradient",
    "subtract",
    "sum",
    "take",
    "take_along_axis",
    "tanh",
    "tensor",
    "tensordot",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "use_backend",
    "value_and_grad",
    "var",
    "vecdot",
    "viz",
    "vjp",
    "where",
    "zeros",
    "zeros_like",
]
