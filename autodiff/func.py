"""Functional forms of ``nn`` models: call a ``Module`` with given parameters,
stack the parameters of an ensemble, and per-example gradients (``torch.func``'s
``functional_call`` and ``stack_module_state``).

Examples
--------
>>> import autodiff as ad
>>> model = ad.nn.Linear(3, 1)
>>> params = {k: v.detach() for k, v in model.named_parameters()}
>>> ad.func.functional_call(model, params, ad.ones((2, 3))).shape
(2, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import autodiff as ad

__all__ = ["functional_call", "per_example_grads", "stack_module_state"]


def _owner(module: ad.nn.Module, name: str) -> tuple[ad.nn.Module, str]:
    *path, leaf = name.split(".")
    owner = module
    for part in path:
        sub = owner._modules.get(part)
        if sub is None:
            raise KeyError(f"functional_call: the model has no submodule {part!r} (in {name!r}).")
        owner = sub
    if leaf not in owner._parameters:
        raise KeyError(
            f"functional_call: the model has no parameter {name!r}; its parameters are "
            f"{[n for n, _ in module.named_parameters()]}."
        )
    return owner, leaf


@contextmanager
def _swapped(module: ad.nn.Module, params: Mapping[str, Any]) -> Iterator[None]:
    """``module`` with the attributes named in ``params`` set to the given values (the
    registered parameters stay; the attributes are restored afterwards)."""
    saved = []
    try:
        for name, value in params.items():
            owner, leaf = _owner(module, name)
            saved.append((owner, leaf, owner.__dict__[leaf]))
            object.__setattr__(owner, leaf, value)
        yield
    finally:
        for owner, leaf, old in reversed(saved):
            object.__setattr__(owner, leaf, old)


def functional_call(
    module: ad.nn.Module,
    params: Mapping[str, Any],
    args: Any = (),
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Call ``module`` with its parameters replaced by ``params`` (by dotted name).

    As ``torch.func.functional_call``: the module itself is not changed; parameters
    not named in ``params`` keep their own values. Because the values are ordinary
    arguments, the call can be differentiated (``ad.grad``) and mapped (``ad.vmap``)
    with respect to them.

    Parameters
    ----------
    module : nn.Module
        The model.
    params : mapping
        Dotted parameter name (as ``named_parameters()`` gives) to tensor.
    args : tensor or tuple
        The positional arguments of ``module(...)`` (a single non-tuple value is one
        argument).
    kwargs : mapping, optional
        Keyword arguments of ``module(...)``.

    Returns
    -------
    Any
        What ``module(*args, **kwargs)`` returns.

    Examples
    --------
    >>> import autodiff as ad
    >>> lin = ad.nn.Linear(2, 1)
    >>> p = {"weight": ad.ones((1, 2)), "bias": ad.zeros(1)}
    >>> ad.func.functional_call(lin, p, ad.tensor([[1.0, 2.0]])).tolist()
    [[3.0]]
    """
    if not isinstance(module, ad.nn.Module):
        raise TypeError(f"functional_call: expected an nn.Module, got {type(module).__name__}.")
    call_args = args if isinstance(args, tuple) else (args,)
    with _swapped(module, params):
        return module(*call_args, **(kwargs or {}))


def stack_module_state(models: Sequence[ad.nn.Module]) -> dict[str, ad.Tensor]:
    """The parameters of models of one architecture, stacked along a new axis 0.

    For an ensemble: ``ad.vmap(lambda p, x: functional_call(models[0], p, x),
    in_axes=(0, None))(stack_module_state(models), x)`` runs every model at once.
    The stacked tensors are new leaves that require grad when the models'
    parameters do.

    Examples
    --------
    >>> import autodiff as ad
    >>> models = [ad.nn.Linear(3, 2) for _ in range(4)]
    >>> ad.func.stack_module_state(models)["weight"].shape
    (4, 2, 3)
    """
    models = list(models)
    if not models:
        raise ValueError("stack_module_state: give at least one model.")
    names = [n for n, _ in models[0].named_parameters()]
    out: dict[str, ad.Tensor] = {}
    for k, m in enumerate(models):
        got = [n for n, _ in m.named_parameters()]
        if got != names:
            raise ValueError(
                f"stack_module_state: model {k} has parameters {got}, model 0 has {names}; "
                "the models must have one architecture."
            )
    for name in names:
        ps = [dict(m.named_parameters())[name] for m in models]
        shapes = {p.shape for p in ps}
        if len(shapes) > 1:
            raise ValueError(
                f"stack_module_state: parameter {name!r} has shapes {sorted(shapes)} across "
                "the models; they must be equal."
            )
        t = ad.stack([p.detach() for p in ps], axis=0)
        t.requires_grad = any(p.requires_grad for p in ps)
        out[name] = t
    return out


def per_example_grads(
    model: ad.nn.Module,
    loss_fn: Callable[[Any, Any], Any],
    X: Any,
    y: Any,
    params: Mapping[str, Any] | None = None,
) -> dict[str, ad.Tensor]:
    """The gradient of the loss of each example, for every parameter of ``model``.

    ``loss_fn(model(x), y)`` is evaluated for each example (``x = X[i]`` with a batch
    axis of 1 added, so the model sees a batch of one); the result maps each
    parameter's name to a tensor of shape ``(len(X), *param.shape)``. One vectorized
    pass (``vmap(grad(...))``), not a loop: the recipe for differential privacy
    (clipping each example's gradient), influence functions and Fisher information.

    Parameters
    ----------
    model : nn.Module
        The model; it is not changed.
    loss_fn : callable
        ``loss_fn(output, target) -> scalar`` (a mean or sum over its batch of one).
    X, y : Tensor
        Inputs and targets, examples along axis 0.
    params : mapping, optional
        The parameters to differentiate (default: all of the model's, detached).

    Returns
    -------
    dict
        Parameter name to per-example gradient.

    Examples
    --------
    >>> import autodiff as ad
    >>> model = ad.nn.Linear(3, 1)
    >>> X, y = ad.ones((5, 3)), ad.zeros((5, 1))
    >>> g = ad.func.per_example_grads(model, ad.nn.functional.mse_loss, X, y)
    >>> g["weight"].shape, g["bias"].shape
    ((5, 1, 3), (5, 1))
    """
    if params is None:
        params = {n: p.detach() for n, p in model.named_parameters()}

    def loss(p: Mapping[str, Any], x: Any, t: Any) -> Any:
        out = functional_call(model, p, (ad.expand_dims(x, axis=0),))
        return loss_fn(out, ad.expand_dims(t, axis=0))

    result: dict[str, ad.Tensor] = ad.vmap(ad.grad(loss), in_axes=(None, 0, 0))(dict(params), X, y)
    return result
