"""Transform levels: ``vmap`` and forward mode as interpreters of primitive calls.

A transform (one ``vmap``, one ``jvp``) runs as a *level*. Entering it pushes a
``Level`` on ``engine.LEVELS`` (per thread and context) and counts in
``engine.TRACING``, so while it runs ``engine.apply1``/``apply2``/``apply`` hand every
primitive call to ``dispatch`` instead of taking their fast path (no transform: no
cost beyond the one check they already made for ``ad.compile``).

The values a level works on are ``LevelTensor``s: tensors that belong to that level
(a vmap's batched value, a jvp's dual number) and wrap values of the levels below.
``dispatch`` gives a call to the innermost level that owns one of its arguments; that
level's ``process`` computes the result from the wrapped values with ordinary
``autodiff`` operations, which dispatch again, to the levels below and finally to
``engine.apply_plain``. This is JAX's design: nesting (``vmap(vmap(f))``,
``jvp(jvp(f))``) and composition in any order come from the levels, not from
special cases, and a level never sees another level's values by mistake.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from . import engine
from .engine import LEVELS, TRACING, Primitive, apply_plain
from .tensor import Tensor

__all__ = ["Level", "LevelTensor", "dispatch", "enter"]


class Level:
    """One running transform. Subclasses implement ``process``.

    Attributes
    ----------
    depth : int
        Position in the stack of running levels (0 is the outermost).
    active : bool
        True while the transform runs; a value of a finished level that is used
        again raises instead of computing with a stale batch or tangent.
    """

    __slots__ = ("__weakref__", "active", "depth")

    #: what the transform is called in error messages
    kind = "transform"

    def __init__(self) -> None:
        self.depth = -1
        self.active = False

    def process(self, prim: Primitive, args: tuple[Any, ...], params: Any) -> Any:
        """Compute ``prim(*args, **params)`` where some ``args`` belong to this level."""
        raise NotImplementedError


class LevelTensor(Tensor):
    """A tensor that belongs to a transform level (``_level``)."""

    __slots__ = ("_level",)

    _level: Level

    def _leaf(self) -> LevelTensor:
        """A new tensor of the same level and value with no tape (no node, no
        ``.grad``, ``_rg`` False): what ``grad`` watches when it differentiates with
        respect to a value of a running transform. Copies every slot; subclasses with
        computed slots override it."""
        t = object.__new__(type(self))
        for cls in type(self).__mro__:
            slots = cls.__dict__.get("__slots__", ())
            for name in (slots,) if isinstance(slots, str) else slots:
                if name == "__weakref__":
                    continue
                slot = cls.__dict__[name]  # the slot itself, not a property shadowing it
                with suppress(AttributeError):  # a slot never set stays unset
                    slot.__set__(t, slot.__get__(self, cls))
        t._rg = False
        t._node = None
        t._oi = 0
        t._grad = None
        t._hooks = None
        t.name = None
        return t


def _escaped(lvl: Level, prim: Primitive) -> RuntimeError:
    return RuntimeError(
        f"{prim.name}: an intermediate value of a {lvl.kind} that has finished was used "
        f"(it was kept in a variable or closure outside the {lvl.kind}'d function); "
        f"return it from the function instead, so that the {lvl.kind} can turn it into "
        "an ordinary tensor."
    )


def dispatch(prim: Primitive, args: tuple[Any, ...], params: Mapping[str, Any] | None) -> Any:
    """Run one primitive call while a trace or a transform is active."""
    top: Level | None = None
    for a in args:
        if isinstance(a, LevelTensor):
            lvl = a._level
            if not lvl.active:
                raise _escaped(lvl, prim)
            if top is None or lvl.depth > top.depth:
                top = lvl
    if top is None:
        return apply_plain(prim, args, params)
    return top.process(prim, args, params)


@contextmanager
def enter(lvl: Level) -> Iterator[Level]:
    """Run ``lvl`` as the innermost level for the duration of the block."""
    stack = LEVELS.get()
    lvl.depth = len(stack)
    lvl.active = True
    token = LEVELS.set((*stack, lvl))
    TRACING[0] += 1
    try:
        yield lvl
    finally:
        TRACING[0] -= 1
        LEVELS.reset(token)
        lvl.active = False


engine.INTERPOSE[0] = dispatch
