"""``ad.vmap``: map a function over an axis of its inputs, with JAX's semantics."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import _core, _tree, custom
from ._batching import BatchAns, BatchLevel, BatchTensor, batched, unwrap
from ._interpose import enter
from .engine import Node, Primitive
from .grad_mode import GRAD_ENABLED
from .tensor import Tensor

__all__ = ["record_custom", "vmap"]

_SCALARS = (bool, int, float, complex)


def vmap(
    f: Callable[..., Any],
    in_axes: Any = 0,
    out_axes: Any = 0,
    *,
    axis_size: int | None = None,
) -> Callable[..., Any]:
    """Vectorize ``f`` over an axis of its inputs: ``vmap(f)(xs)[i] == f(xs[i])``.

    ``f`` runs once, on values that look like one example; each primitive it calls
    runs for the whole batch (its batching rule, or a loop with a
    ``VmapFallbackWarning``). ``vmap`` composes with ``grad``, ``jvp``, ``jacobian``,
    ``compile`` and itself, in any order: ``vmap(grad(loss), in_axes=(None, 0, 0))``
    gives per-example gradients.

    Parameters
    ----------
    f : callable
        Takes tensors (or trees of them: tuples, lists, dicts) and returns a tensor
        or a tree of tensors.
    in_axes : int, None or tree
        The mapped axis of each positional argument: an int (negative counts from
        the end) or ``None`` (not mapped, the same for every example); one value for
        every argument, or a tuple with one entry per argument, each an int, ``None``
        or a tree matching a prefix of that argument. Keyword arguments are passed
        through unmapped.
    out_axes : int, None or tree
        Where the mapped axis goes in each output (a prefix of the output tree);
        ``None`` only for outputs that do not depend on the mapped inputs.
    axis_size : int, optional
        The batch size, needed when no argument is mapped (and checked otherwise).

    Returns
    -------
    callable
        The vectorized function, with ``f``'s signature.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> ad.vmap(lambda r: (r * r).sum())(x).tolist()
    [5.0, 25.0]
    >>> w = ad.tensor([1.0, -1.0])
    >>> ad.vmap(ad.grad(lambda w, r: (w * r).sum() ** 2), in_axes=(None, 0))(w, x).tolist()
    [[-2.0, -4.0], [-6.0, -8.0]]
    """
    if not callable(f):
        raise TypeError(f"vmap: f must be callable, got {type(f).__name__}.")
    _check_axes_tree(in_axes, "in_axes")
    _check_axes_tree(out_axes, "out_axes")
    if axis_size is not None and (not isinstance(axis_size, int) or axis_size < 0):
        raise ValueError(f"vmap: axis_size must be a non-negative int, got {axis_size!r}.")

    @functools.wraps(f)
    def vmapped(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_axes, (tuple, list)):
            if len(in_axes) != len(args):
                raise ValueError(
                    f"vmap: in_axes has {len(in_axes)} entries but the function was called "
                    f"with {len(args)} positional arguments; give one entry per argument "
                    "(or a single int or None for all)."
                )
            per_arg = list(in_axes)
        elif isinstance(in_axes, dict):
            raise TypeError(
                "vmap: in_axes must be an int, None, or a tuple with one entry per "
                "positional argument (a dict can describe one argument inside that tuple)."
            )
        else:
            per_arg = [in_axes] * len(args)
        leaves, structure = _tree.flatten(args)
        axes: list[Any] = []
        for k, (a, ax) in enumerate(zip(args, per_arg)):
            axes.extend(_prefix_leaves(ax, a, f"argument {k}"))
        leaves = [_as_input(x, ax) for x, ax in zip(leaves, axes)]
        size = _batch_size(leaves, axes, axis_size)
        level = BatchLevel(size)
        with enter(level):
            ins = [
                x if ax is None or not isinstance(x, Tensor) else batched(level, x, ax)
                for x, ax in zip(leaves, axes)
            ]
            out = f(*_tree.unflatten(structure, ins), **kwargs)
            out_leaves, out_structure = _tree.flatten(out)
            oaxes = _prefix_leaves(out_axes, out, "the output")
            result = [unbatched(level, x, ax) for x, ax in zip(out_leaves, oaxes)]
        return _tree.unflatten(out_structure, result)

    return vmapped


def unbatched(level: BatchLevel, x: Any, axis: int | None) -> Any:
    """An output of the vmapped function as an ordinary value, batch axis at ``axis``."""
    xp = _core.NAMESPACE
    if isinstance(x, BatchTensor) and x._level is level:
        if axis is None:
            raise ValueError(
                "vmap: out_axes is None for an output that depends on the mapped inputs; "
                "give the axis to put the batch on (e.g. out_axes=0)."
            )
        val, d = x._val, x._bdim
        axis = _norm_out_axis(axis, val.ndim)
        return val if d == axis else xp.moveaxis(val, d, axis)
    if axis is None or x is None:
        return x
    if not isinstance(x, Tensor):
        x = xp.asarray(x)
    axis = _norm_out_axis(axis, x.ndim + 1)
    shape = list(x.shape)
    shape.insert(axis, level.size)
    return xp.broadcast_to(xp.expand_dims(x, axis=axis), tuple(shape))


def _norm_out_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"vmap: out_axes {axis} is out of range for an output with {ndim - 1} "
            f"dimensions per example (valid: {-ndim} to {ndim - 1})."
        )
    return axis % ndim


def _check_axes_tree(axes: Any, what: str) -> None:
    leaves, _ = _tree.flatten(axes)
    for a in leaves:
        if a is not None and (not isinstance(a, int) or isinstance(a, bool)):
            raise TypeError(
                f"vmap: {what} entries must be ints or None, got {type(a).__name__} {a!r}."
            )


def _prefix_leaves(axes: Any, value: Any, where: str) -> list[Any]:
    """The axis of each leaf of ``value``: ``axes`` is a tree prefix of ``value``."""
    if axes is None or isinstance(axes, int):
        n = len(_tree.flatten(value)[0])
        return [axes] * n
    if isinstance(axes, dict):
        if not isinstance(value, dict) or set(axes) != set(value):
            raise ValueError(
                f"vmap: the axes given for {where} are a dict with keys {sorted(axes)}, "
                f"which does not match the value ({_describe(value)})."
            )
        out: list[Any] = []
        for k in value:  # the value's order: the order flatten uses
            out.extend(_prefix_leaves(axes[k], value[k], f"{where}[{k!r}]"))
        return out
    if isinstance(axes, (tuple, list)):
        if (
            not isinstance(value, (tuple, list))
            or isinstance(value, Tensor)
            or len(value) != len(axes)
        ):
            raise ValueError(
                f"vmap: the axes given for {where} are a {type(axes).__name__} of "
                f"{len(axes)} entries, which does not match the value ({_describe(value)})."
            )
        out = []
        for i, (ax, v) in enumerate(zip(axes, value)):
            out.extend(_prefix_leaves(ax, v, f"{where}[{i}]"))
        return out
    raise TypeError(f"vmap: axes must be ints, None or trees of them, got {axes!r}.")


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    if isinstance(value, (tuple, list)) and not isinstance(value, Tensor):
        return f"a {type(value).__name__} of {len(value)} entries"
    return f"a {type(value).__name__}"


def _as_input(x: Any, axis: int | None) -> Any:
    if axis is None or x is None or isinstance(x, Tensor):
        return x
    if isinstance(x, _SCALARS):
        raise ValueError(
            f"vmap: cannot map over axis {axis} of a Python scalar ({x!r}); give in_axes "
            "None for it, or pass a tensor."
        )
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return _core.NAMESPACE.asarray(x)
    raise TypeError(
        f"vmap: cannot map over a {type(x).__name__}; mapped arguments must be tensors "
        "or arrays (give in_axes None for other values)."
    )


def _batch_size(leaves: list[Any], axes: list[Any], axis_size: int | None) -> int:
    found: list[tuple[str, int]] = []
    for k, (x, ax) in enumerate(zip(leaves, axes)):
        if ax is None or x is None:
            continue
        shape = x.shape
        if not -len(shape) <= ax < len(shape):
            raise ValueError(
                f"vmap: in_axes {ax} is out of range for input leaf {k} of shape "
                f"{tuple(shape)} (valid: {-len(shape)} to {len(shape) - 1}"
                + (", or None: a 0-d value cannot be mapped" if not shape else "")
                + ")."
            )
        found.append((f"input leaf {k} (shape {tuple(shape)}, axis {ax})", shape[ax]))
    sizes = {n for _, n in found}
    if len(sizes) > 1:
        raise ValueError(
            "vmap: the mapped axes have different sizes: "
            + "; ".join(f"{w}: {n}" for w, n in found)
            + ". Every mapped input needs the same batch size."
        )
    if not found:
        if axis_size is None:
            raise ValueError(
                "vmap: no input is mapped (every in_axes is None or no tensor was given); "
                "pass axis_size= to say how many times to map."
            )
        return axis_size
    size = found[0][1]
    if axis_size is not None and axis_size != size:
        raise ValueError(f"vmap: axis_size={axis_size} but the mapped inputs have size {size}.")
    return int(size)


def record_custom(
    prim: Primitive, inputs: list[Any], outs: list[Any], params: dict[str, Any]
) -> list[Any]:
    """A ``custom_vjp`` call on batched values: its outputs get a node at this level
    (the rule runs ``bwd`` on batched values) and, where the batch itself requires
    grad (``grad(vmap(f))``), their batches get a node below whose rule is ``bwd``
    under a new ``vmap``; the batches never carry the gradient of ``fwd``'s own
    operations."""
    level = max(
        (t._level for t in (*outs, *inputs) if isinstance(t, BatchTensor)),
        key=lambda lv: lv.depth,
    )
    low_in = [unwrap(level, t) for t in inputs]
    low_out = [
        unwrap(
            level, o if isinstance(o, BatchTensor) and o._level is level else level.wrap(o, None)
        )
        for o in outs
    ]
    vals = [v for v, _ in low_out]
    if GRAD_ENABLED.get() and any(isinstance(v, Tensor) and v._rg for v, _ in low_in):
        from .backends._base import BY_NAMESPACE
        from .grad_mode import no_grad
        from .tensor import wrap

        cf = prim.vjp.__self__  # type: ignore[union-attr]
        res_leaves, res_struct = _tree.flatten(params["res"])
        res_low = [unwrap(level, r) if isinstance(r, Tensor) else (r, None) for r in res_leaves]
        res_tree = _tree.unflatten(res_struct, [v for v, _ in res_low])
        res_axes = _tree.unflatten(res_struct, [d for _, d in res_low])
        g_axes = _tree.unflatten(params["out_structure"], [d for _, d in low_out])

        def rule(xp: Any, g: Any, ans: Any, *ins: Any) -> tuple[Any, ...]:
            recorded = xp is _core.NAMESPACE
            gs = list(g) if isinstance(g, tuple) else [g]
            if not recorded:
                backend = BY_NAMESPACE[id(xp)]
                gs = [wrap(x, backend) for x in gs]
            g_tree = _tree.unflatten(params["out_structure"], gs)
            per = vmap(lambda r, c: tuple(cf.bwd(r, c)), in_axes=(res_axes, g_axes))
            if recorded:
                cts = per(res_tree, g_tree)
            else:
                with no_grad():
                    cts = per(res_tree, g_tree)
            flat = custom._align(cts, params["counts"])
            out: list[Any] = []
            ad = _core.NAMESPACE
            for k, i in enumerate(params["idx"]):
                c, d = flat[i], low_in[k][1]
                if c is not None:
                    c = ad.sum(c, axis=0) if d is None else ad.moveaxis(c, 0, d)
                out.append(c if recorded or c is None else c.data)
            return tuple(out)

        low = Primitive(prim.name, custom._no_forward, rule, nout=len(outs))
        vals = custom._record(low, [v for v, _ in low_in], vals, {})
    attached = [level.wrap(v, d) for v, (_, d) in zip(vals, low_out)]
    ans = BatchAns(level, attached)
    node = Node(prim, attached[0]._backend, tuple(inputs), params, ans, tuple(inputs))
    for i, t in enumerate(attached):
        t._rg = True
        t._node = node
        t._oi = i
    return attached


custom.LEVEL_RECORDERS["vmap"] = record_custom
