"""The compiler's instruction: one named record per step of a traced program.

The tracer makes one ``Instr`` per primitive call; the backend's passes (``fuse_program``,
``buffer_program``) replace runs of them with ``FUSED`` or ``INLINE`` ones; the program
then marks, on each, the slots it reads for the last time (``dead``) and writes the whole
list as straight-line Python. Every field has one meaning at every stage; replays never
read these records (they run the generated code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._core import Primitive

__all__ = ["FUSED", "INLINE", "Instr"]


def _marker_forward(xp: Any, *args: Any) -> Any:
    raise RuntimeError("a backend's rewritten instruction has no forward of its own")


# Markers of instructions a backend's ``fuse_program`` / ``buffer_program`` made (not in
# PRIMITIVES: they exist only inside compiled programs). INLINE: written as an expression
# (``Instr.template`` formatted with the operands' names, ``Instr.names`` the globals it
# needs). FUSED: its ``fwd`` runs a fused kernel.
INLINE = Primitive("inline", _marker_forward)
FUSED = Primitive("fused", _marker_forward)


class Instr:
    """One step of a traced program: ``outs = fwd(xp, *ins, **params)`` over slots.

    Parameters
    ----------
    prim : Primitive
        What the step computes: the traced primitive, or ``INLINE`` / ``FUSED`` for a step
        a backend's pass made.
    fwd : callable or None
        The function the step calls: the primitive's forward, the backend's kernel for
        it, or a fused kernel's runner; None for an ``INLINE`` step.
    xp : namespace
        The array namespace passed to ``fwd`` as its first argument.
    ins : tuple of int
        The slots of the operands, in order.
    outs : int or tuple of int
        The slot of the result (an int), or of each result of a several-output primitive
        (a tuple).
    backend : Backend
        The backend the step ran on when traced.
    params : dict or None
        The primitive's keyword parameters; None when it has none.
    template : str or None
        ``INLINE`` only: the expression, formatted with the operands' local names.
    names : dict or None
        ``INLINE`` only: the globals the expression needs, by name.

    Attributes
    ----------
    dead : tuple of int
        Slots read here for the last time (the program deletes them after the step);
        empty until the program computes it.
    """

    __slots__ = (
        "backend",
        "dead",
        "fwd",
        "ins",
        "names",
        "outs",
        "params",
        "prim",
        "template",
        "xp",
    )

    def __init__(
        self,
        prim: Primitive,
        fwd: Callable[..., Any] | None,
        xp: Any,
        ins: tuple[int, ...],
        outs: int | tuple[int, ...],
        backend: Any,
        params: dict[str, Any] | None = None,
        template: str | None = None,
        names: dict[str, Any] | None = None,
    ) -> None:
        self.prim = prim
        self.fwd = fwd
        self.xp = xp
        self.ins = ins
        self.outs = outs
        self.backend = backend
        self.params = params
        self.template = template
        self.names = names
        self.dead: tuple[int, ...] = ()

    @property
    def out_slots(self) -> tuple[int, ...]:
        """The result slots as a tuple, for one result or several."""
        outs = self.outs
        return outs if outs.__class__ is tuple else (outs,)  # type: ignore[return-value]

    @property
    def out(self) -> int:
        """The result slot of a one-output step (every step a fusion pass joins)."""
        outs = self.outs
        if not isinstance(outs, int):
            raise ValueError(f"{self!r} has several outputs")
        return outs

    def __repr__(self) -> str:
        return f"Instr({self.prim.name}: {self.ins} -> {self.outs})"
