"""Function transforms: ``vjp``, ``jvp``, ``grad``, ``value_and_grad``, ``stop_gradient``.

Transforms nest: an input that already takes part in an outer differentiation
is watched through an identity node instead of being cut from its graph, and
the inner backward then records itself (``create_graph``) so the outer
transform can differentiate through it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

from . import _tree
from ._backward import backward
from ._forward import DualTensor, JVPLevel, dual
from ._forward_ops import _ones_like, _zeros_like
from ._interpose import LevelTensor, enter
from .engine import LEVELS, apply1
from .grad_mode import enable_grad
from .ops.elementwise import pos_p
from .tensor import Tensor, wrap

__all__ = [
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "stop_gradient",
    "value_and_grad",
    "vjp",
]


def stop_gradient(x: Any) -> Any:
    """Return ``x`` (a tensor or a tree of tensors) cut from the graph.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor(2.0, requires_grad=True)
    >>> ad.stop_gradient(x * x).requires_grad
    False
    """
    return _tree.tree_map(lambda t: t.detach() if isinstance(t, Tensor) else t, x)


#: how many transforms are evaluating their function right now: a transform
#: nested inside another must record its backward, even when the outer one
#: differentiates through a closure rather than through its arguments
_DEPTH: ContextVar[int] = ContextVar("autodiff_transform_depth", default=0)


class _tracing:
    """Context: grad recording on, and one transform level deeper."""

    def __enter__(self) -> None:
        self._grad = enable_grad()
        self._grad.__enter__()
        self._token = _DEPTH.set(_DEPTH.get() + 1)

    def __exit__(self, *exc: object) -> None:
        _DEPTH.reset(self._token)
        self._grad.__exit__(None, None, None)


def _lift(x: Any, who: str) -> Any:
    """A number or array given where a transform differentiates, as a tensor.

    As JAX does, a Python float or complex, a NumPy scalar or array (anything
    ``ad.asarray`` reads) becomes a tensor on the default backend (Python numbers
    get the default dtype), so that it is differentiated; before, it was passed
    through and silently got no derivative. Integers and booleans raise (they have
    none); leaves that are not numbers (``None``, strings) pass through unchanged.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (float, complex)) or (not isinstance(x, (str, bytes)) and _array_like(x)):
        from .creation import asarray

        x = asarray(x)
    elif not isinstance(x, int):  # bool is an int
        return x
    if isinstance(x, int) or not x.dtype.is_floating:
        kind = type(x).__name__ if isinstance(x, int) else f"{x.dtype.name} array"
        raise TypeError(
            f"{who}: cannot differentiate with respect to an input of type {kind}; only "
            "floating-point inputs have derivatives. Pass a float (2.0, not 2) or a "
            "floating tensor, or leave the input out of what is differentiated "
            "(argnums, or a None tangent for jvp)."
        )
    return x


def _array_like(x: Any) -> bool:
    # a NumPy (or other array library's) scalar or array
    t = type(x)
    return hasattr(t, "__array__") or hasattr(t, "__array_namespace__") or hasattr(t, "__dlpack__")


def _watch(x: Any, who: str = "grad") -> Any:
    if not isinstance(x, Tensor):
        x = _lift(x, who)
        if not isinstance(x, Tensor):
            return x
    if x._rg:
        return apply1(pos_p, x)  # keeps the link to an outer graph
    if not x.dtype.is_floating:
        raise TypeError(
            f"cannot differentiate with respect to a {x.dtype.name} tensor; "
            "only floating-point inputs have gradients."
        )
    # a value of a running jvp or vmap stays one (its tangent or batch is kept)
    y = x._leaf() if isinstance(x, LevelTensor) else x.detach()
    y._rg = True
    levels = LEVELS.get()
    if levels and levels[-1].kind == "vmap" and not isinstance(y, LevelTensor):
        levels[-1].own(y)  # vmap: this leaf needs no graph below it (_batching)
    return y


def _vjp_core(
    outs: Sequence[Tensor], watched: Sequence[Any], cts: Sequence[Any], retain: bool
) -> list[Any]:
    create = (
        _DEPTH.get() > 0
        or bool(LEVELS.get())
        or any(isinstance(c, Tensor) and c._rg for c in cts)
        or any(isinstance(w, Tensor) and w._node is not None for w in watched)
    )
    roots, root_grads = [], []
    for o, c in zip(outs, cts):
        if not isinstance(o, Tensor):
            raise TypeError(
                f"a differentiated function must return tensors, got {type(o).__name__}."
            )
        c = (
            c
            if isinstance(c, Tensor)
            else wrap(o._backend.asarray(c, dtype=o.dtype, device=o.device), o._backend)
        )
        if c.shape != o.shape:
            raise ValueError(f"cotangent of shape {c.shape} for an output of shape {o.shape}.")
        if o._rg:
            roots.append(o)
            root_grads.append(c if create else c.data)
    tensors = [w for w in watched if isinstance(w, Tensor)]
    found = (
        backward(
            roots,
            root_grads,
            retain_graph=retain,
            create_graph=create,
            inputs=tensors,
            accumulate=False,
        )
        if roots
        else {}
    )
    result: list[Any] = []
    for w in watched:
        if not isinstance(w, Tensor):
            result.append(None)
            continue
        entry = found.get(id(w))
        if entry is None:
            result.append(_zeros_like(w))
        else:
            result.append(entry[1])
    return result


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """Evaluate ``f(*primals)`` and return ``(out, vjp_fn)``.

    ``vjp_fn(cotangent)`` returns a tuple with the gradient for each primal
    (same tree structure). With ``has_aux``, ``f`` returns ``(out, aux)`` and
    ``vjp`` returns ``(out, vjp_fn, aux)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> out, f_vjp = ad.vjp(ad.sin, ad.tensor(0.0))
    >>> f_vjp(ad.tensor(1.0))[0].item()
    1.0
    """
    leaves, structure = _tree.flatten(primals)
    with _tracing():  # a transform differentiates even inside no_grad
        watched = [_watch(x, "vjp") for x in leaves]
        result = f(*_tree.unflatten(structure, watched))
    aux = None
    if has_aux:
        result, aux = result
    out_leaves, _ = _tree.flatten(result)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        ct_leaves, _ = _tree.flatten(cotangent)
        if len(ct_leaves) != len(out_leaves):
            raise ValueError(
                f"the cotangent has {len(ct_leaves)} leaves but the output has {len(out_leaves)}."
            )
        grads = _vjp_core(out_leaves, watched, ct_leaves, retain=True)
        return _tree.unflatten(structure, grads)

    if has_aux:
        return result, vjp_fn, aux
    return result, vjp_fn


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J·tangents)`` in one pass that carries tangents.

    ``f`` runs once on dual numbers (each value with its tangent; see
    ``autodiff._forward``): every primitive applies its JVP rule as it goes, and no
    reverse pass runs. It composes with ``grad``, ``vjp``, ``vmap`` and itself in any
    order; the tangent is itself differentiable (an outer ``grad`` records it). Inside
    ``f`` the values' primals are concrete (``float(x)`` and Python control flow work);
    a value kept past the call raises when used.

    Parameters
    ----------
    f : callable
        Takes ``*primals``, returns a tensor or a tree of tensors.
    primals, tangents : sequence
        Arguments and their tangents (same trees; each tangent has its primal's shape
        and dtype; ``None`` is a zero tangent).

    Returns
    -------
    (out, tangent_out)
        ``f(*primals)`` (cut from the graph unless an outer transform records it) and
        its tangent, with the same tree structure.

    Examples
    --------
    >>> import autodiff as ad
    >>> out, t = ad.jvp(ad.exp, (ad.tensor(0.0),), (ad.tensor(2.0),))
    >>> t.item()
    2.0
    """
    p_leaves, structure = _tree.flatten(tuple(primals))
    t_leaves, _ = _tree.flatten(tuple(tangents))
    if len(p_leaves) != len(t_leaves):
        raise ValueError("primals and tangents must have the same structure.")
    for k, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        if t is not None and not isinstance(p, Tensor):
            p_leaves[k], t_leaves[k] = _lift_primal(p, t, k)
    _check_tangents("jvp", p_leaves, t_leaves)
    level = JVPLevel()
    with enter(level):
        ins = []
        for p, t in zip(p_leaves, t_leaves):
            if isinstance(p, Tensor):
                if t is not None and not p.dtype.is_floating:
                    raise TypeError(
                        f"jvp: cannot differentiate with respect to a {p.dtype.name} tensor; "
                        "only floating-point inputs have tangents (pass None as its tangent)."
                    )
                ins.append(dual(level, p, t))
            else:
                ins.append(p)
        result = f(*_tree.unflatten(structure, ins))
        out_leaves, out_structure = _tree.flatten(result)
        outs, tans = [], []
        for o in out_leaves:
            if isinstance(o, DualTensor) and o._level is level:
                p, t = o._primal, o._tangent
            elif isinstance(o, Tensor):
                p, t = o, None
            else:
                raise TypeError(
                    f"a differentiated function must return tensors, got {type(o).__name__}."
                )
            outs.append(p)
            tans.append(_zeros_like(p) if t is None else t)
    return _tree.unflatten(out_structure, outs), _tree.unflatten(out_structure, tans)


def _lift_primal(p: Any, t: Any, k: int) -> tuple[Any, Any]:
    """A primal that is not a tensor but has a tangent, and its tangent, as tensors: a
    Python number takes a tensor tangent's dtype and device; a Python-number tangent
    takes its primal's."""
    from .creation import asarray

    if isinstance(p, (float, complex)) and isinstance(t, Tensor):
        return asarray(p, dtype=t.dtype, device=t.device), t
    lifted = _lift(p, "jvp")
    if not isinstance(lifted, Tensor):
        raise TypeError(
            f"jvp: primal {k} is a {type(p).__name__}, which has no tangent; pass None as "
            "its tangent (or make it a floating tensor)."
        )
    if not isinstance(t, Tensor):
        scalar = isinstance(t, (bool, int, float, complex))
        t = asarray(t, dtype=lifted.dtype if scalar else None, device=lifted.device)
    return lifted, t


def _check_tangents(name: str, primals: list[Any], tangents: list[Any]) -> None:
    """Each tangent has its primal's shape and dtype (a (1,) or 0-d tangent would be
    broadcast silently into a wrong product)."""
    for k, (p, t) in enumerate(zip(primals, tangents)):
        if t is None or not isinstance(p, Tensor):
            continue
        if not isinstance(t, Tensor):
            raise TypeError(
                f"{name}: tangent {k} is a {type(t).__name__}; give a tensor of its primal's "
                f"shape {p.shape} and dtype {p.dtype.name} (e.g. ad.asarray(..., dtype=...))."
            )
        if t.shape != p.shape or t.dtype != p.dtype:
            raise ValueError(
                f"{name}: tangent {k} has shape {t.shape} ({t.dtype.name}) but its primal "
                f"has shape {p.shape} ({p.dtype.name}); a tangent must have its primal's "
                "shape and dtype."
            )


def _check_scalar(out: Any, name: str) -> None:
    if not isinstance(out, Tensor):
        raise TypeError(
            f"{name}: the function must return a scalar tensor, but it returned {type(out).__name__}."
        )
    if out.size != 1:
        raise TypeError(
            f"{name}: the function must return a scalar, but it returned shape {out.shape}; use ad.vjp or ad.jacobian for non-scalar outputs."
        )
    if not out.dtype.is_floating:
        raise TypeError(
            f"{name}: the function returned a {out.dtype.name} tensor; only floating outputs can be differentiated."
        )


def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, *, has_aux: bool = False
) -> Callable[..., Any]:
    """Return a function computing ``(f(*args), df/dargs[argnums])``.

    With ``has_aux``, ``f`` returns ``(value, aux)`` and the result is
    ``((value, aux), grad)``.

    Parameters
    ----------
    f : callable
        Returns a scalar floating tensor (or ``(scalar, aux)`` with ``has_aux``).
    argnums : int or sequence of int
        Which positional arguments to differentiate; a sequence gives a tuple
        of gradients.
    has_aux : bool
        ``f`` also returns auxiliary data, passed through undifferentiated.

    Examples
    --------
    >>> import autodiff as ad
    >>> v, g = ad.value_and_grad(lambda x: (x * x).sum())(ad.tensor([1.0, 2.0]))
    >>> v.item(), g.tolist()
    (5.0, [2.0, 4.0])
    """
    single = isinstance(argnums, int)
    nums: tuple[int, ...] = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        for n in nums:
            if not -len(args) <= n < len(args):
                raise ValueError(
                    f"argnums {n} is out of range for a call with {len(args)} positional arguments."
                )
        args_l = list(args)
        chosen = tuple(args_l[n] for n in nums)
        leaves, structure = _tree.flatten(chosen)
        with _tracing():
            watched = [_watch(x) for x in leaves]
            for n, sub in zip(nums, _tree.unflatten(structure, watched)):
                args_l[n] = sub
            out = f(*args_l, **kwargs)
        aux = None
        if has_aux:
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise TypeError("with has_aux=True the function must return a pair (value, aux).")
            out, aux = out
        _check_scalar(out, "grad")
        grads = _vjp_core([out], watched, [_ones_like(out)], retain=False)
        tree = _tree.unflatten(structure, grads)
        g = tree[0] if single else tree
        outer = any(isinstance(w, Tensor) and w._node is not None for w in watched)
        value = out if outer else out.detach()
        return ((value, aux) if has_aux else value), g

    return wrapped


def grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, *, has_aux: bool = False
) -> Callable[..., Any]:
    """Return a function computing the gradient of scalar-valued ``f``.

    Parameters
    ----------
    f, argnums, has_aux
        As in ``value_and_grad``; with ``has_aux`` the function returns ``(grad, aux)``.

    Examples
    --------
    >>> import autodiff as ad
    >>> df = ad.grad(lambda x: x ** 3)
    >>> df(ad.tensor(2.0)).item()
    12.0
    >>> ad.grad(df)(ad.tensor(2.0)).item()
    12.0
    >>> gx, gy = ad.grad(lambda x, y: x * y, argnums=(0, 1))(ad.tensor(2.0), ad.tensor(5.0))
    >>> gx.item(), gy.item()
    (5.0, 2.0)
    """
    vg = value_and_grad(f, argnums, has_aux=has_aux)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        (value, g) = vg(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g

    return wrapped


def _args_with(args: tuple[Any, ...], nums: tuple[int, ...], subs: Any) -> list[Any]:
    out = list(args)
    for n, sub in zip(nums, subs):
        out[n] = sub
    return out


def _argnums(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise ValueError(
                f"argnums {n} is out of range for a call with {nargs} positional arguments."
            )
    return nums


def jacobian(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, *, mode: str = "auto"
) -> Callable[..., Any]:
    """Return a function computing the Jacobian of ``f`` with respect to ``args[argnums]``.

    For an output of shape ``O`` and an input of shape ``I`` the Jacobian has
    shape ``O + I``. Outputs may be trees: each output leaf is replaced by its
    Jacobian (a tuple over ``argnums`` when that is a tuple).

    Parameters
    ----------
    mode : {"auto", "rev", "fwd"}
        ``"rev"`` builds it row by row with VJPs, ``"fwd"`` column by column
        with JVPs; ``"auto"`` takes the one needing fewer passes (fewer
        outputs than inputs → reverse).

    Examples
    --------
    >>> import autodiff as ad
    >>> J = ad.jacobian(lambda x: x ** 2)(ad.tensor([1.0, 2.0]))
    >>> J.tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    if mode not in ("auto", "rev", "fwd"):
        raise ValueError(f"mode must be 'auto', 'rev' or 'fwd', got {mode!r}.")

    def jac(*args: Any) -> Any:
        nums = _argnums(argnums, len(args))
        chosen = tuple(args[n] for n in nums)
        leaves, structure = _tree.flatten(chosen)
        leaves = [_lift(x, "jacobian") for x in leaves]
        for x in leaves:
            if not isinstance(x, Tensor):
                raise TypeError(
                    f"jacobian: cannot differentiate with respect to a {type(x).__name__}; "
                    "the arguments in argnums must be tensors, numbers or arrays."
                )

        def fn(*xs: Any) -> Any:
            return f(*_args_with(args, nums, _tree.unflatten(structure, list(xs))))

        forward = mode == "fwd"
        if not forward:
            with _tracing():
                watched = [_watch(x, "jacobian") for x in leaves]
                out = fn(*watched)
            outs, out_structure = _tree.flatten(out)
            _check_floating(outs)
            n_out = sum(o.size for o in outs)
            n_in = sum(x.size for x in watched)
            forward = mode == "auto" and n_in < n_out
        if forward:
            outs, out_structure, blocks = _jac_fwd(fn, leaves)
        else:
            blocks = _jac_rev(outs, watched)
        single = isinstance(argnums, int)
        per_out = [
            (_tree.unflatten(structure, b)[0] if single else _tree.unflatten(structure, b))
            for b in blocks
        ]
        return _tree.unflatten(out_structure, per_out)

    return jac


def _check_floating(outs: list[Any]) -> None:
    for o in outs:
        if not isinstance(o, Tensor) or not o.dtype.is_floating:
            raise TypeError(f"jacobian: the function must return floating tensors, got {o!r}.")


def _jac_fwd(fn: Callable[..., Any], leaves: list[Any]) -> tuple[list[Any], Any, list[list[Any]]]:
    """Forward-mode Jacobian: ``vmap`` of ``jvp`` over the input basis vectors (all the
    columns of one input in one batched pass, no Python loop over them)."""
    from ._vmap import vmap
    from .creation import eye, zeros
    from .ops.shape import reshape

    outs: list[Any] | None = None
    out_structure: Any = None
    columns: list[list[Any] | None] = []
    for i, x in enumerate(leaves):
        if not isinstance(x, Tensor) or x.size == 0:
            columns.append(None)
            continue
        basis = reshape(eye(x.size, dtype=x.dtype, device=x.device), (x.size, *x.shape))

        def column(t: Any, i: int = i) -> Any:
            tangents = [t if k == i else None for k in range(len(leaves))]
            return jvp(fn, tuple(leaves), tuple(tangents))[1]

        t_out = vmap(column, out_axes=-1)(basis)
        cols, out_structure = _tree.flatten(t_out)
        _check_floating(cols)
        if outs is None:
            outs = [reshape(c[..., 0], c.shape[:-1]) for c in cols]  # shapes and dtypes
        columns.append(cols)
    if outs is None:  # every input is empty: the shapes come from one call
        outs, out_structure = _tree.flatten(fn(*leaves))
        _check_floating(outs)
    blocks: list[list[Any]] = [[None] * len(leaves) for _ in outs]
    for i, (x, per_out) in enumerate(zip(leaves, columns)):
        for o_i, o in enumerate(outs):
            if per_out is not None:
                blocks[o_i][i] = reshape(per_out[o_i], (*o.shape, *x.shape))
            else:
                blocks[o_i][i] = zeros((*o.shape, *x.shape), dtype=o.dtype, device=o.device)
    return outs, out_structure, blocks


def _jac_rev(outs: list[Any], watched: list[Any]) -> list[list[Any]]:
    """Reverse-mode Jacobian: ``vmap`` of the VJP over the output basis vectors (all
    the rows of one output in one batched backward pass)."""
    from ._vmap import vmap
    from .creation import eye, zeros
    from .ops.shape import reshape

    blocks: list[list[Any]] = [[None] * len(watched) for _ in outs]
    for o_i, o in enumerate(outs):
        if o.size == 0:
            for i, x in enumerate(watched):
                blocks[o_i][i] = zeros((*o.shape, *x.shape), dtype=o.dtype, device=o.device)
            continue
        basis = reshape(eye(o.size, dtype=o.dtype, device=o.device), (o.size, *o.shape))

        def row(c: Any, o_i: int = o_i) -> Any:
            cts = [c if q == o_i else _zeros_like(p) for q, p in enumerate(outs)]
            return tuple(_vjp_core(outs, watched, cts, retain=True))

        rows = vmap(row)(basis)
        for i, x in enumerate(watched):
            blocks[o_i][i] = reshape(rows[i], (*o.shape, *x.shape))
    return blocks


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Return a function computing the Hessian of scalar-valued ``f`` (forward over reverse).

    The Jacobian, in forward mode, of ``grad(f)``: each column is one ``jvp`` of the
    gradient (the gradient's backward pass carries the tangent).

    Examples
    --------
    >>> import autodiff as ad
    >>> H = ad.hessian(lambda x: (x ** 3).sum())(ad.tensor([1.0, 2.0]))
    >>> H.tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return jacobian(grad(f, argnums), argnums, mode="fwd")


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Hessian-vector product of scalar-valued ``f``: ``(f(*primals), H · tangents)``.

    Forward over reverse: one ``jvp`` of the gradient, about the cost of a gradient
    carrying tangents; the Hessian is never formed.

    Examples
    --------
    >>> import autodiff as ad
    >>> value, hv = ad.hvp(lambda x: (x ** 3).sum(), (ad.tensor([1.0, 2.0]),), (ad.tensor([1.0, 1.0]),))
    >>> value.item(), hv[0].tolist()
    (9.0, [6.0, 12.0])
    """
    primals = tuple(primals)
    tangents = tuple(tangents)
    leaves, structure = _tree.flatten(primals)
    t_leaves, _ = _tree.flatten(tangents)
    if len(t_leaves) != len(leaves):
        raise ValueError("primals and tangents must have the same structure.")
    _check_tangents("hvp", leaves, t_leaves)

    def value_and_gradient(*xs: Any) -> tuple[Any, Any]:
        with _tracing():
            watched = [_watch(x, "hvp") for x in xs]
            out = f(*_tree.unflatten(structure, watched))
            _check_scalar(out, "hvp")
            grads = _vjp_core([out], watched, [_ones_like(out)], retain=False)
        return out, tuple(grads)

    (value, _), (_, hv) = jvp(value_and_gradient, tuple(leaves), tuple(t_leaves))
    return value, _tree.unflatten(structure, list(hv))
