"""Anomaly mode: find the first operation whose gradient is NaN or infinite.

Inside ``ad.detect_anomaly()`` every recorded operation remembers where in the
user's code it was created, and backward checks each gradient it computes;
the first non-finite one raises ``AnomalyError`` naming the primitive, the
shapes and that file and line. Off by default; when off the engine pays one
integer test per recorded operation.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

__all__ = ["AnomalyError", "detect_anomaly"]

F = TypeVar("F", bound=Callable[..., Any])

ANOMALY: ContextVar[bool] = ContextVar("autodiff_anomaly", default=False)
#: how many detect_anomaly scopes are open in any thread: the engine's cheap first test
ACTIVE = [0]
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


class AnomalyError(RuntimeError):
    """A gradient became NaN or infinite during backward (raised in anomaly mode).

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor(1.0, requires_grad=True)
    >>> with ad.detect_anomaly():
    ...     try:
    ...         (x * ad.inf).backward()
    ...     except ad.AnomalyError as err:
    ...         print(type(err).__name__, isinstance(err, RuntimeError))
    AnomalyError True
    """


def enabled() -> bool:
    """True inside ``detect_anomaly`` in this thread or task.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.anomaly import enabled
    >>> with ad.detect_anomaly():
    ...     enabled()
    True
    >>> enabled()
    False
    """
    return bool(ACTIVE[0]) and ANOMALY.get()


def creation_site() -> str:
    """``file:line in function`` of the innermost caller outside autodiff.

    Examples
    --------
    >>> from autodiff.anomaly import creation_site
    >>> def where():
    ...     return creation_site()
    >>> where().endswith(" in where")
    True
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE):
            return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<unknown>"


def check(node: Any, index: int, grad: Any) -> None:
    """Raise ``AnomalyError`` when ``grad`` (for input ``index`` of ``node``) is not all finite.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.anomaly import check
    >>> y = ad.tensor([1.0, 2.0], requires_grad=True) * 2.0
    >>> check(y._node, 0, ad.tensor([1.0, 1.0]))  # finite: nothing happens
    >>> try:
    ...     check(y._node, 0, ad.tensor([1.0, ad.nan]))
    ... except ad.AnomalyError as err:
    ...     print(str(err).split(";")[0])
    backward of 'multiply' produced a NaN or infinite gradient for its input 0 (input shapes (2,))
    """
    data = getattr(grad, "data", grad) if type(grad).__name__ == "Tensor" else grad
    backend = node.backend
    xp = backend.xp
    if bool(xp.all(xp.isfinite(data))):
        return
    shapes = ", ".join(str(tuple(t.shape)) for t in node.inputs if hasattr(t, "shape"))
    where = getattr(node, "trace", None) or "<created outside detect_anomaly>"
    raise AnomalyError(
        f"backward of '{node.prim.name}' produced a NaN or infinite gradient for its input {index} "
        f"(input shapes {shapes}); the forward operation was created at {where}."
    )


class detect_anomaly:
    """Context manager and decorator: report the first NaN/inf gradient and where its op was made.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([1.0, 2.0], requires_grad=True)
    >>> with ad.detect_anomaly():
    ...     y = (x * ad.inf).sum()
    ...     try:
    ...         y.backward()
    ...     except ad.AnomalyError as err:
    ...         print(str(err).split(";")[0])
    backward of 'multiply' produced a NaN or infinite gradient for its input 0 (input shapes (2,))
    """

    def __init__(self) -> None:
        self._tokens: list[Token[bool]] = []

    def __enter__(self) -> None:
        self._tokens.append(ANOMALY.set(True))
        ACTIVE[0] += 1

    def __exit__(self, *exc: object) -> None:
        ACTIVE[0] -= 1
        ANOMALY.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
