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

Not walked: Python modules, classes, and the attributes of objects of library classes
(NumPy arrays, optimizers: those guard their own hyper-parameters with ``guard``). Code
of installed packages and the standard library is walked through its closures only.
"""

from __future__ import annotations

import copy
import functools
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import Any

from .tensor import Tensor

__all__ = ["Guards", "collect", "failing"]

_MISSING = object()
#: plain Python data: compared by value
_SCALARS = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (tuple, list, frozenset, set)
#: past this many checks the walk stops (a function reaching a huge object graph)
_BUDGET = 4096
_LIBRARY_DIRS = tuple(
    p
    for p in {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)
_USER_MODULE: dict[str, bool] = {}
_GLOBAL_NAMES: dict[types.CodeType, tuple[str, ...]] = {}


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


def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """The names ``code`` (and the functions, lambdas and comprehensions in it) may read
    as globals."""
    names = _GLOBAL_NAMES.get(code)
    if names is None:
        found = dict.fromkeys(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found.update(dict.fromkeys(_global_names(const)))
        names = _GLOBAL_NAMES[code] = tuple(found)
    return names


def _plain(v: Any, depth: int = 0) -> bool:
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


class _Walk:
    def __init__(self) -> None:
        self.checks: list[tuple[Callable[[], Any], Any]] = []
        self.plain: set[int] = set()  # indices of the checks of plain data
        self.tensors: dict[int, Tensor] = {}
        self.seen: set[int] = set()

    def value(self, v: Any, get: Callable[[], Any]) -> None:
        """Check that ``get()`` still gives ``v`` (by value when plain data)."""
        if len(self.checks) >= _BUDGET:
            return
        if isinstance(v, Tensor):
            self.tensors[id(v)] = v
            self.checks.append((_same(get, v), True))
        elif _plain(v):
            self.plain.add(len(self.checks))
            self.checks.append((get, copy.deepcopy(v)))
        elif not isinstance(v, (types.ModuleType, type)):
            self.checks.append((_same(get, v), True))
            self.inside(v)

    def inside(self, v: Any) -> None:
        """Checks for what ``v`` (whose identity is checked already) holds."""
        if id(v) in self.seen or len(self.checks) >= _BUDGET:
            return
        self.seen.add(id(v))
        from ._compile import CompiledFunction
        from .nn.module import Module

        t = type(v)
        if t is types.FunctionType:
            self.function(v)
        elif t is types.MethodType:
            self.value(v.__self__, functools.partial(_const, v.__self__))
            self.inside(v.__func__)
        elif t is functools.partial:
            self.inside(v.func)
            for a in (*v.args, *v.keywords.values()):
                self.value(a, functools.partial(_const, a))
        elif t is tuple:
            for a in v:
                self.value(a, functools.partial(_const, a))
        elif t is list:
            self.checks.append((v.__len__, len(v)))
            for i, a in enumerate(v):
                self.value(a, functools.partial(_item, v, i))
        elif t is dict:
            self.dict(v)
        elif isinstance(v, Module):
            self.dict(v.__dict__, ("_parameters", "_modules"))
        elif isinstance(v, CompiledFunction):
            self.inside(v.fn)
        elif hasattr(v, "__dict__") and _user_module(getattr(t, "__module__", "")):
            self.dict(v.__dict__)  # a user's object: its attributes
        else:
            self.reach(v, 0)

    def dict(self, d: dict[Any, Any], ignore: tuple[str, ...] = ()) -> None:
        self.checks.append((functools.partial(_keys, d), _keys(d)))
        for k, a in d.items():
            if k not in ignore:
                self.value(a, functools.partial(d.get, k, _MISSING))

    def function(self, f: types.FunctionType) -> None:
        for cell in f.__closure__ or ():
            try:
                v = cell.cell_contents
            except ValueError:  # a variable not yet assigned
                continue
            self.value(v, functools.partial(_cell, cell))
        if _user_module(f.__globals__.get("__name__", "")):
            g = f.__globals__
            for name in _global_names(f.__code__):
                if name in g:
                    self.value(g[name], functools.partial(g.get, name, _MISSING))

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


def _same(get: Callable[[], Any], v: Any) -> Callable[[], bool]:
    return lambda: get() is v


def _const(v: Any) -> Any:
    return v


def _item(seq: list[Any], i: int) -> Any:
    return seq[i] if i < len(seq) else _MISSING


def _keys(d: dict[Any, Any]) -> tuple[Any, ...]:
    return tuple(d)


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


def _config() -> tuple[Any, Any, Any]:
    from . import _config

    sel = _config.current()
    return (sel.backend, sel.device, _config._default_float)


class Guards:
    """What ``collect`` found: ``checks`` (``(fn, value)``: a replay needs ``fn()`` to
    still equal ``value``), the indices of those on plain data, and the reachable
    tensors (by id)."""

    def __init__(self, walk: _Walk) -> None:
        self.checks = walk.checks
        self.plain = walk.plain
        self.tensors = walk.tensors

    def after_trace(self) -> list[tuple[Callable[[], Any], Any]]:
        """The checks to keep once the traced call returned: plain data the function
        changed itself (a counter, a list it appends to) is its own side effect, which
        replays do not repeat (``each_call`` declares one that they must) — no check; an
        object it rebound makes every call trace again (a replay could not rebind it)."""
        return [
            (fn, value)
            for i, (fn, value) in enumerate(self.checks)
            if i not in self.plain or failing([(fn, value)]) < 0
        ]


def collect(fn: Callable[..., Any], args: tuple[Any, ...]) -> Guards:
    """The checks for what ``fn`` reads from Python (see the module documentation), and
    the tensors it can reach."""
    walk = _Walk()
    walk.checks.append((_config, _config()))  # backend, device and default dtype
    walk.inside(fn)
    for a in args:
        if not isinstance(a, Tensor):
            walk.inside(a)
    return Guards(walk)


def failing(checks: list[tuple[Callable[[], Any], Any]]) -> int:
    """The index of the first check whose value changed, or -1 when none did."""
    for i, (fn, value) in enumerate(checks):
        try:
            now = fn()
        except Exception:
            return i
        if now is not value and now != value:
            return i
    return -1
