"""What ``ad.compile`` records while it traces, and the hooks for host-side state.

The tracer records every primitive call as an instruction over slots (one slot per array,
found by object identity), checks what a replay could not follow (host reads, random
draws, ``.grad`` from before the call), and collects the host work replays repeat:
``guard`` (trace again when a Python value changes), ``host_value`` (a number recomputed
on the host by every replay) and ``each_call`` (bookkeeping every replay runs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..engine import CURRENT_TRACER, TRACING, Primitive, current_tracer
from ..tensor import Tensor, wrap
from .instruction import Instr

__all__ = ["TraceError", "each_call", "guard", "host_value"]


class TraceError(RuntimeError):
    """A compiled function did something a replay could not reproduce.

    Examples
    --------
    >>> import autodiff as ad
    >>> f = ad.compile(lambda x: x * 2 if float(ad.sum(x)) > 0 else x)
    >>> try:
    ...     f(ad.tensor([1.0]))
    ... except ad.TraceError as err:
    ...     print("refused:", "host" in str(err))
    refused: True
    """


#: guards ``TRACING[0]``, the count of traces running in any thread
_COUNT_LOCK = threading.Lock()


class _Tracer:
    """Records primitive calls as instructions over slots (one slot per array)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.slot_of: dict[int, int] = {}  # id(raw array) -> slot
        self.keep: list[Any] = []  # every traced array stays alive: ids stay unique
        self.n = 0
        self.args: list[int] = []  # slots of the positional tensor arguments
        self.externals: list[tuple[int, Tensor, Any]] = []  # (slot, tensor, its data then)
        self.literals: dict[int, Any] = {}  # slot -> constant Python scalar / array
        self.code: list[Instr] = []
        # host work done again on every replay, in order: ("call", fn) runs fn,
        # ("input", slot, fn, backend, dtype, device) feeds fn() to a slot (see host_value)
        self.host: list[tuple[Any, ...]] = []
        self.guards: list[tuple[Callable[[], Any], Any]] = []  # (fn, its value when traced)
        # id -> (tensor, data, grad) of every tensor alive when the call began
        self.entry: dict[int, tuple[Tensor, Any, Any]] = {}
        self.unset_grads: list[Tensor] = []  # pre-existing leaves whose .grad backward set
        self.grads_set: set[int] = set()  # ids of tensors whose .grad the call assigned
        self.owner: dict[int, Tensor] = {}  # external slot -> the tensor it is read from
        self.external_of: dict[int, int] = {}  # id(external tensor) -> its slot
        self.active = False  # between start() and stop()
        self.reachable: dict[int, Tensor] = {}  # tensors the function can reach, by id

    def start(self) -> Any:
        """Make this the tracer of the calling thread and context (``stop`` undoes it)."""
        with _COUNT_LOCK:
            TRACING[0] += 1
        self.active = True
        return CURRENT_TRACER.set(self)

    def stop(self, token: Any) -> None:
        """Stop recording: the calling context gets its previous tracer back."""
        self.active = False
        CURRENT_TRACER.reset(token)
        with _COUNT_LOCK:
            TRACING[0] -= 1

    def _new(self, array: Any) -> int:
        """A new slot for an array the trace made (or an argument's)."""
        slot = self.n
        self.n += 1
        self.slot_of[id(array)] = slot
        self.keep.append(array)
        return slot

    def arg(self, t: Tensor) -> int:
        """The slot of a positional tensor argument (shared by arguments with one array)."""
        slot = self.slot_of.get(id(t.data))
        if slot is None:
            slot = self._new(t.data)
        self.args.append(slot)
        return slot

    def _ref(self, a: Any) -> int:
        """The slot an operand is read from: a traced value's; for a tensor made outside
        the trace (a parameter), one slot per tensor, read afresh by every replay
        (``externals``); for anything else, a literal baked into the program."""
        if isinstance(a, Tensor):
            slot = self.slot_of.get(id(a.data))
            if slot is not None and slot not in self.owner:
                return slot  # a traced value (or an argument)
            # made outside the trace (a parameter) or a constant made inside it: one slot
            # per tensor, read from that tensor (two tensors may share a data object)
            slot = self.external_of.get(id(a))
            if slot is None:
                slot = self.n
                self.n += 1
                self.slot_of.setdefault(id(a.data), slot)
                self.keep.append(a.data)
                self.owner[slot] = a
                self.external_of[id(a)] = slot
                self.externals.append((slot, a, a.data))
            return slot
        slot = self.n
        self.n += 1
        self.literals[slot] = a
        return slot

    def record(
        self, prim: Primitive, fwd: Any, backend: Any, args: tuple[Any, ...], params: Any, out: Any
    ) -> Any:
        """Record one primitive call; returns its output(s), where an output the trace
        already knows is replaced by a copy (see ``_fresh``), for the caller to wrap."""
        if not self.active:
            return out  # a context copied while tracing (an asyncio task) outlived it
        ins = tuple(self._ref(a) for a in args)
        if prim.nout == 1:
            out = self._fresh(out, backend)
            outs: Any = self._new(out)
        else:
            out = tuple(self._fresh(o, backend) for o in out)
            outs = tuple(self._new(o) for o in out)
        self.code.append(Instr(prim, fwd, backend.xp, ins, outs, backend, params or None))
        return out

    def _fresh(self, out: Any, backend: Any) -> Any:
        """``out``, or a copy of it when the object already has a slot: slots are found by
        object identity, and NumPy's ``True``/``False`` scalars are singletons (two
        comparisons would share a slot), as is an input a forward returns unchanged."""
        if id(out) not in self.slot_of:
            return out
        return backend.xp.asarray(out, copy=True)  # the namespace's: no alias recorded

    def alias(self, source: Any, converted: Any) -> None:
        """``converted`` was made from a traced array by a conversion: the same slot."""
        slot = self.slot_of.get(id(source))
        if slot is None:
            return
        if str(getattr(source, "dtype", "")) != str(getattr(converted, "dtype", "")):
            self.refuse(
                "converts a traced value to another dtype outside autodiff's operations "
                "(use .astype())"
            )
        self.slot_of[id(converted)] = slot
        self.keep.append(converted)

    def check_host_read(self, array: Any) -> None:
        """Refuse a host read (``to_numpy``) of a value the trace computed."""
        if id(array) in self.slot_of and not any(e[2] is array for e in self.externals):
            self.refuse(
                "reads a traced value on the host (bool(), float(), .item(), .tolist(), "
                "printing, indexing with a computed index array, or a data-dependent "
                "shape): a replay could not follow the branch it takes"
            )

    def accumulating(self, leaf: Tensor) -> None:
        """``backward()`` is about to add into ``leaf.grad``: a replay can follow only a
        gradient made during the call, or one that was unset when the call began (a replay
        then checks that it still is)."""
        entry = self.entry.get(id(leaf))
        if entry is None or id(leaf) in self.grads_set:
            return  # a tensor made by the call, or a .grad the call set (opt.zero_grad())
        if entry[2] is not None:
            self.refuse(
                "adds gradients into a .grad accumulated before the call (a replay would "
                "read it as it was when traced); call opt.zero_grad() inside the compiled "
                "function"
            )
        self.unset_grads.append(leaf)

    def grad_set(self, t: Tensor) -> None:
        """Note that the call assigned ``t.grad`` (a write-back replays it)."""
        self.grads_set.add(id(t))

    def refuse(self, what: str) -> None:
        """Raise ``TraceError``: the function does ``what``, which a replay cannot."""
        raise TraceError(f"ad.compile({self.name}): the function {what}.")

    def host_input(self, array: Any, fn: Callable[[], Any], like: Tensor) -> None:
        """A slot fed by ``fn()`` on the host at every replay (see ``host_value``)."""
        slot = self._new(array)
        self.host.append(("input", slot, fn, like._backend, like.dtype, like.device))


def guard(fn: Callable[[], Any]) -> None:
    """Declare that the function being compiled depends on the Python value ``fn()``.

    Outside ``ad.compile`` tracing this does nothing. Under tracing, ``fn()`` is recorded,
    and a later call whose ``fn()`` differs traces again instead of replaying (as a new
    shape would). ``ad.optim``'s optimizers guard their hyper-parameters (all but the
    learning rate, which is a ``host_value``) and the layout of their state.

    Examples
    --------
    >>> import autodiff as ad
    >>> settings = {"scale": 2.0}
    >>> @ad.compile
    ... def f(x):
    ...     ad.guard(lambda: settings["scale"])
    ...     return x * settings["scale"]
    >>> _ = f(ad.ones(2)); settings["scale"] = 3.0
    >>> f(ad.ones(2)).tolist(), f.traces  # the guard saw the change: traced again
    ([3.0, 3.0], 1)
    """
    tracer = current_tracer()
    if tracer is not None:
        tracer.guards.append((fn, fn()))


def host_value(fn: Callable[[], Any], like: Tensor) -> Any:
    """``fn()``, a Python number computed on the host, to combine with tensors like ``like``.

    Outside ``ad.compile`` tracing this returns ``fn()``. Under tracing it returns a 0-d
    tensor of ``like``'s dtype and device that every replay recomputes with ``fn()``, so
    a value that changes between calls (a scheduled learning rate, Adam's bias
    correction) is not frozen into the program.

    Examples
    --------
    >>> import autodiff as ad
    >>> rate = {"lr": 0.5}
    >>> step = ad.compile(lambda w: w - ad.host_value(lambda: rate["lr"], w) * w)
    >>> _ = step(ad.ones(2)); rate["lr"] = 0.25
    >>> step(ad.ones(2)).tolist(), step.traces  # replayed with the new rate
    ([0.75, 0.75], 1)
    """
    value = fn()
    tracer = current_tracer()
    if tracer is None:
        return value
    backend = like._backend
    t = wrap(backend.asarray(value, dtype=like.dtype, device=like.device), backend)
    tracer.host_input(t.data, fn, like)
    return t


def each_call(fn: Callable[[], Any]) -> None:
    """Run ``fn()`` now, and again on every replay when the caller is being traced.

    For host-side bookkeeping a compiled function must not freeze: the optimizers'
    step counters. Replays run these (and ``host_value``) in the order they were met.

    Examples
    --------
    >>> import autodiff as ad
    >>> calls = []
    >>> f = ad.compile(lambda x: (ad.each_call(lambda: calls.append(1)), x * 2)[1])
    >>> _ = f(ad.ones(1)); _ = f(ad.ones(1)); _ = f(ad.ones(1))
    >>> len(calls), f.replays
    (3, 2)
    """
    fn()
    tracer = current_tracer()
    if tracer is not None:
        tracer.host.append(("call", fn))
