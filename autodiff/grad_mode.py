"""Grad mode: whether primitives record graph nodes.

The flag lives in a ``ContextVar``, so threads and asyncio tasks each see
their own setting.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]

F = TypeVar("F", bound=Callable[..., Any])

GRAD_ENABLED: ContextVar[bool] = ContextVar("autodiff_grad_enabled", default=True)


def is_grad_enabled() -> bool:
    """Return True when operations on tensors that require grad are recorded.

    Examples
    --------
    >>> import autodiff as ad
    >>> ad.is_grad_enabled()
    True
    >>> with ad.no_grad():
    ...     ad.is_grad_enabled()
    False
    """
    return GRAD_ENABLED.get()


class set_grad_enabled:
    """Context manager and decorator that sets grad mode to ``mode``.

    Parameters
    ----------
    mode : bool
        True records operations for differentiation, False does not.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor(2.0, requires_grad=True)
    >>> with ad.set_grad_enabled(False):
    ...     y = x * x
    >>> y.requires_grad
    False
    """

    __slots__ = ("_tokens", "mode")

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._tokens: list[Token[bool]] = []

    def __enter__(self) -> None:
        self._tokens.append(GRAD_ENABLED.set(self.mode))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        GRAD_ENABLED.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = GRAD_ENABLED.set(mode)
            try:
                return func(*args, **kwargs)
            finally:
                GRAD_ENABLED.reset(token)

        return wrapper  # type: ignore[return-value]


class no_grad(set_grad_enabled):
    """Context manager and decorator that stops recording operations.

    Examples
    --------
    >>> import autodiff as ad
    >>> w = ad.tensor([1.0, 2.0], requires_grad=True)
    >>> with ad.no_grad():
    ...     v = w * 2.0
    >>> v.requires_grad
    False
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Context manager and decorator that turns recording back on inside ``no_grad``.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor(1.0, requires_grad=True)
    >>> with ad.no_grad():
    ...     with ad.enable_grad():
    ...         y = x * 3.0
    >>> y.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(True)
