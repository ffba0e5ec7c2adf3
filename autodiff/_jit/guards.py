"""What a compiled function reads from Python, as guards a replay checks first.

``ad.compile`` records primitive calls; the Python values the function reads (a flag or
a dict entry in a closure or a global, a module's submodules and parameters, the default
dtype) are baked into the program. Before a trace, ``collect`` walks what the function can
reach — closure cells, the globals its code names (nested functions and comprehensions
included), modules, functions, lists, tuples, dicts and user objects found there — and
returns one check per place: plain Python data (numbers, strings, None, and lists,
tuples, dicts and sets of them) is compared by value, anything else by identity, so a
rebound global, a replaced submodule or parameter, or a changed entry makes the next call
trace again instead of replaying a stale program.

A class can say how its instances are walked with a class attribute
``__compile_guards__ = (skipped, methods)``: every attribute in the instance's ``__dict__``
but the names in ``skipped`` is checked, and the globals and closures of the methods named
in ``methods`` are walked. ``ad.nn.Module`` declares ``(("_parameters", "_modules"),
("forward",))``, so this module needs no knowledge of ``nn``.

Not walked: Python modules, classes, and the attributes of objects of library classes
(NumPy arrays, optimizers: those guard their own hyper-parameters with ``guard``). Code
of installed packages and the standard library is walked through its closures only.
"""

from __future__ import annotations

import copy
import dis
import functools
import random
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import Any

from .. import _config as _cfg
from ..tensor import Tensor

__all__ = ["Check", "Guards", "collect", "compile_checks", "holds"]

_MISSING = object()
#: plain Python data: compared by value
_SCALARS = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (tuple, list, frozenset, set)
#: past this many checks the walk stops (a function reaching a huge object graph)
_BUDGET = 4096
#: a list, tuple or dict with more items is checked by identity and length only
_ITEMS = 256
_LIBRARY_DIRS = tuple(
    p
    for p in {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)
_USER_MODULE: dict[str, bool] = {}
_GLOBAL_NAMES: dict[types.CodeType, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _user_module(name: str) -> bool:
    """Whether module ``name`` is the user's code (not autodiff, not an installed package
    nor the standard library): only its functions' globals are guarded."""
    found = _USER_MODULE.get(name)
    if found is None:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None) or ""
        found = not (
            name == "autodiff"
            or name.startswith("autodiff.")
            or (path and path.startswith(_LIBRARY_DIRS))
            or (module is not None and not path and name != "__main__")
        )
        _USER_MODULE[name] = found
    return found


_LOADS = {"LOAD_GLOBAL": "g", "LOAD_NAME": "g", "LOAD_DEREF": "d", "LOAD_CLASSDEREF": "d"}


def _reads(code: types.CodeType) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The globals and the closure variables ``code`` itself reads (not nested code)."""
    found = _GLOBAL_NAMES.get(code)
    if found is None:
        kinds: dict[str, dict[str, None]] = {"g": {}, "d": {}}
        for ins in dis.get_instructions(code):
            kind = _LOADS.get(ins.opname)
            if kind is not None:
                kinds[kind][ins.argval] = None
        found = _GLOBAL_NAMES[code] = (tuple(kinds["g"]), tuple(kinds["d"]))
    return found


def _names(code: types.CodeType, skip: frozenset[types.CodeType] = frozenset()) -> set[str]:
    """The globals and closure variables ``code`` and the functions, lambdas and
    comprehensions in it read, except code in ``skip``."""
    g, d = _reads(code)
    out = {*g, *d}
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and const not in skip:
            out |= _names(const, skip)
    return out


def _plain(v: Any, depth: int = 0) -> bool:
    """Whether ``v`` is checked by value: a scalar, or a small container of them."""
    if isinstance(v, _SCALARS):
        return True
    if depth > 8:
        return False
    t = type(v)
    if t in _CONTAINERS:
        return len(v) <= 256 and all(_plain(x, depth + 1) for x in v)
    if t is dict:
        return len(v) <= 256 and all(
            _plain(k, depth + 1) and _plain(x, depth + 1) for k, x in v.items()
        )
    return False


#: A check: ``(kind, a, b, expected, by_value)``. The value read is ``a.cell_contents``
#: ("cell"), ``a.get(b)`` ("get"), ``a[b]`` ("item"), ``a`` itself ("const"), ``len(a)``
#: ("len") or ``a()`` ("call"); it must be ``expected`` (``is``), or equal it when
#: ``by_value``.
Check = tuple[str, Any, Any, Any, bool]


class _Walk:
    """The walk before a trace: from the function through its closure cells, globals,
    modules and objects, a check for every place whose value the trace depends on."""

    def __init__(self) -> None:
        self.checks: list[Check] = []
        # per check, the (code, name) reads it is there for: a read that only a function
        # given to each_call, host_value or guard makes (which replays run or check
        # themselves) needs no check (see Guards.after_trace)
        self.tag: tuple[tuple[types.CodeType, str], ...] = ()
        self.tags: list[tuple[tuple[types.CodeType, str], ...]] = []
        self.tensors: dict[int, Tensor] = {}
        self.seen: set[int] = set()
        self.rngs: list[tuple[Any, str | None]] = []  # random generators, with their states

    def _check(self, kind: str, a: Any, b: Any, expected: Any, by_value: bool) -> None:
        """Add one check, tagged with the reads it is there for."""
        self.checks.append((kind, a, b, expected, by_value))
        self.tags.append(self.tag)

    def value(self, v: Any, kind: str, a: Any, b: Any = None) -> None:
        """Check that the place ``(kind, a, b)`` still holds ``v`` (an equal value when
        plain data)."""
        if len(self.checks) >= _BUDGET:
            return
        if isinstance(v, Tensor):
            self.tensors[id(v)] = v
            self._check(kind, a, b, v, False)
        elif _plain(v):
            if kind != "const" or not isinstance(v, _SCALARS):  # a constant scalar holds
                self._check(kind, a, b, copy.deepcopy(v), True)
        elif not isinstance(v, (types.ModuleType, type)):
            if kind != "const":
                self._check(kind, a, b, v, False)
            self.inside(v)

    def inside(self, v: Any) -> None:
        """Checks for what ``v`` (whose identity is checked already) holds."""
        if id(v) in self.seen or len(self.checks) >= _BUDGET:
            return
        self.seen.add(id(v))
        t = type(v)
        if t is types.FunctionType:
            self.function(v)
        elif t is types.MethodType:
            self.value(v.__self__, "const", v.__self__)
            self.inside(v.__func__)
        elif t is functools.partial:
            self.inside(v.func)
            for a in (*v.args, *v.keywords.values()):
                self.value(a, "const", a)
        elif t in (tuple, list, dict) and len(v) > _ITEMS:
            if t is not tuple:  # a large container: its length only
                self._check("len", v, None, len(v), True)
        elif t is tuple:
            for a in v:
                self.value(a, "const", a)
        elif t is list:
            self._check("len", v, None, len(v), True)
            for i, a in enumerate(v):
                self.value(a, "item", v, i)
        elif t is dict:
            self.dict(v)
        elif (declared := getattr(t, "__compile_guards__", None)) is not None:
            skipped, methods = declared  # ad.nn.Module declares its own (see the docstring)
            self.dict(v.__dict__, skipped)
            self.methods(t, methods)
        elif callable(getattr(v, "__wrapped__", None)):
            self.inside(v.__wrapped__)  # a wrapper (an ad.compile'd function): what it calls
        elif hasattr(v, "__dict__") and _user_module(getattr(t, "__module__", "")):
            self.dict(v.__dict__)  # a user's object: its attributes
            self.methods(t, ("__call__",))
        elif _rng_state(v) is not None:
            self.rngs.append((v, _rng_state(v)))  # a draw during the trace is refused
        else:
            self.reach(v, 0)

    def methods(self, cls: type, names: tuple[str, ...]) -> None:
        """The globals and closures of a user class's methods (a ``forward`` reading a
        global flag)."""
        for name in names:
            f = getattr(cls, name, None)
            if type(f) is types.FunctionType and _user_module(f.__module__ or ""):
                self.inside(f)

    def dict(self, d: dict[Any, Any], ignore: tuple[str, ...] = ()) -> None:
        """Check a namespace dict: the same number of keys (none added or removed),
        each holding the same value."""
        self._check("len", d, None, len(d), True)
        for k, a in d.items():
            if k not in ignore:
                self.value(a, "get", d, k)

    def function(self, f: types.FunctionType) -> None:
        """Check the closure cells and the globals (of a user's module) that a function's
        code reads, each tagged with the read."""
        code = f.__code__
        names = _names(code)
        outer = self.tag
        for name, cell in zip(code.co_freevars, f.__closure__ or ()):
            try:
                v = cell.cell_contents
            except ValueError:  # a variable not yet assigned
                continue
            if name in names:
                self.tag = (*outer, (code, name))
                self.value(v, "cell", cell)
        if _user_module(f.__globals__.get("__name__", "")):
            g = f.__globals__
            for name in sorted(names):
                if name in g:
                    self.tag = (*outer, (code, name))
                    self.value(g[name], "get", g, name)
        self.tag = outer

    def reach(self, v: Any, depth: int) -> None:
        """Collect the tensors a library object holds (no checks): a tensor the function
        can reach is one whose rebinding the program must repeat or refuse."""
        if depth > 4 or len(self.tensors) > 100_000:
            return
        if isinstance(v, Tensor):
            self.tensors[id(v)] = v
            return
        t = type(v)
        if t in (list, tuple, set, frozenset):
            items: Any = v
        elif t is dict:
            items = v.values()
        elif hasattr(v, "__dict__") and not isinstance(v, (types.ModuleType, type)):
            items = vars(v).values()
        else:
            return
        if id(v) in self.seen and depth:
            return
        self.seen.add(id(v))
        for a in items:
            self.reach(a, depth + 1)


def _rng_state(v: Any) -> str | None:
    """The state of a host random generator the function can reach (a NumPy
    ``Generator`` or ``RandomState``, a ``random.Random``), or None for anything else."""
    module = getattr(type(v), "__module__", "") or ""
    try:
        if module.startswith("numpy.random"):
            bits = getattr(v, "bit_generator", None) or getattr(v, "_bit_generator", None)
            return None if bits is None else repr(bits.state)
        if isinstance(v, random.Random):
            return repr(v.getstate())
    except Exception:
        return None
    return None


def _config() -> tuple[Any, str, Any]:
    """The backend, device and default dtype that operations creating tensors use."""
    sel = _cfg._CURRENT.get()
    if sel is None:
        sel = _cfg._process_default or _cfg.current()
    return (sel.backend, sel.device.label, _cfg._default_float)


def _read(check: Check) -> Any:
    """The value a check reads now (``_MISSING`` for a key or index that is gone)."""
    kind, a, b = check[0], check[1], check[2]
    if kind == "cell":
        return a.cell_contents
    if kind == "get":
        return a.get(b, _MISSING)
    if kind == "item":
        return a[b] if b < len(a) else _MISSING
    if kind == "len":
        return len(a)
    if kind == "call":
        return a()
    return a


def holds(check: Check) -> bool:
    """Whether one check still holds (a read that raises does not)."""
    try:
        now = _read(check)
    except Exception:
        return False
    expected = check[3]
    return now is expected or (check[4] and now == expected)


_READ = {
    "cell": "{a}.cell_contents",
    "get": "{a}.get({b}, M)",
    "item": "({a}[{b}] if len({a}) > {b} else M)",
    "len": "len({a})",
    "call": "{a}()",
    "const": "{a}",
}


def compile_checks(checks: list[Check]) -> Callable[[], bool]:
    """One function that tells whether every check holds: straight-line Python, one
    line per check (about 50 ns each), stopping at the first that fails."""
    env: dict[str, Any] = {"M": _MISSING}
    lines = ["def holds():", "    try:"]
    for k, (kind, a, b, expected, by_value) in enumerate(checks):
        env[f"a{k}"], env[f"b{k}"], env[f"e{k}"] = a, b, expected
        read = _READ[kind].format(a=f"a{k}", b=f"b{k}")
        if by_value:
            lines.append(f"        v = {read}")
            lines.append(f"        if v is not e{k} and v != e{k}: return False")
        else:
            lines.append(f"        if {read} is not e{k}: return False")
    lines += ["    except Exception:", "        return False", "    return True"]
    exec(compile("\n".join(lines), "<autodiff.compile guards>", "exec"), env)
    return env["holds"]


class Guards:
    """What ``collect`` found: the checks, and the tensors the function can reach."""

    def __init__(self, walk: _Walk) -> None:
        self.checks = walk.checks
        self.tags = walk.tags
        self.tensors = walk.tensors
        self.rngs = walk.rngs

    def drew(self) -> bool:
        """Whether a random generator the function reaches has moved since ``collect``."""
        return any(_rng_state(rng) != state for rng, state in self.rngs)

    def after_trace(self, declared: list[Any]) -> list[Check]:
        """The checks to keep once the traced call returned.

        Plain data the function changed itself (a counter, a list it appends to) is its
        own side effect, which replays do not repeat (``each_call`` declares one that
        they must): no check. An object it rebound makes every call trace again (a
        replay could not rebind it). A value read only by the functions in ``declared``
        (given to ``each_call``, ``host_value`` or ``guard``, which every replay runs
        again) needs no check either: a new learning rate must not trace again."""
        skip = frozenset(c for c in (getattr(fn, "__code__", None) for fn in declared) if c)
        used: dict[types.CodeType, set[str]] = {}

        def needed(tag: tuple[tuple[types.CodeType, str], ...]) -> bool:
            for code, name in tag:
                if code not in used:
                    used[code] = _names(code, skip)
                if name not in used[code]:
                    return False
            return True

        return [
            check
            for check, tag in zip(self.checks, self.tags)
            if (not skip or needed(tag)) and (not check[4] or holds(check))
        ]


def collect(fn: Callable[..., Any], args: tuple[Any, ...]) -> Guards:
    """The checks for what ``fn`` reads from Python (see the module documentation), and
    the tensors it can reach."""
    walk = _Walk()
    walk._check("call", _config, None, _config(), True)  # backend, device, default dtype
    walk.inside(fn)
    for a in args:
        if not isinstance(a, Tensor):
            walk.inside(a)
    return Guards(walk)
