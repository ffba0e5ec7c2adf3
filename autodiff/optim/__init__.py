"""Optimizers and learning-rate schedulers (PyTorch's update rules).

Examples
--------
>>> import autodiff as ad
>>> w = ad.nn.Parameter(ad.tensor([1.0, -1.0]))
>>> opt = ad.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward() is not None
True
>>> opt.step()
>>> w.tolist()
[0.8, -0.8]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

import autodiff as ad
from autodiff import each_call, guard, host_value

from .lr_scheduler import CosineAnnealingLR, StepLR

__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealingLR", "Optimizer", "StepLR"]


class Optimizer:
    """Base class: holds parameters, hyper-parameters and per-parameter state.

    A subclass sets ``defaults`` and implements ``_update(p, g, state)``, which
    returns the new value of one parameter from its gradient.

    Parameters
    ----------
    params : iterable of Tensor
        Tensors that require grad (e.g. ``model.parameters()``).
    **hyper
        Hyper-parameters, over ``defaults``.

    Examples
    --------
    >>> import autodiff as ad
    >>> class SignDescent(ad.optim.Optimizer):
    ...     defaults = {"lr": 0.1}
    ...     def _update(self, p, g, state):
    ...         return p - self.hyper["lr"] * ad.sign(g)
    >>> w = ad.nn.Parameter(ad.tensor([1.0, -2.0]))
    >>> opt = SignDescent([w])
    >>> _ = (w * w).sum().backward()
    >>> opt.step()
    >>> w.tolist()
    [0.9, -1.9]
    """

    defaults: ClassVar[dict[str, Any]] = {}
    #: hyper-parameters ``_update`` reads with ``host_value`` (``self._lr(p)``): changing
    #: them does not make a compiled training step trace again
    dynamic: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: Iterable[ad.Tensor], **hyper: Any) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got an empty parameter list.")
        for p in self.params:
            if not isinstance(p, ad.Tensor) or not p.requires_grad:
                raise TypeError(
                    "optimizers take tensors that require grad (e.g. model.parameters())."
                )
        self.hyper = {**self.defaults, **hyper}
        if self.hyper.get("lr", 0.0) < 0:
            raise ValueError(f"learning rate must be non-negative, got {self.hyper['lr']}.")
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self.step_count = 0

    @property
    def lr(self) -> float:
        """The current learning rate (settable, as schedulers do).

        Examples
        --------
        >>> import autodiff as ad
        >>> opt = ad.optim.SGD([ad.nn.Parameter(ad.zeros(1))], lr=0.1)
        >>> opt.lr = 0.05
        >>> opt.lr, opt.hyper["lr"]
        (0.05, 0.05)
        """
        return float(self.hyper["lr"])

    @lr.setter
    def lr(self, value: float) -> None:
        self.hyper["lr"] = float(value)

    def zero_grad(self) -> None:
        """Clear every parameter's ``.grad``.

        Examples
        --------
        >>> import autodiff as ad
        >>> w = ad.nn.Parameter(ad.tensor([1.0]))
        >>> opt = ad.optim.SGD([w], lr=0.1)
        >>> _ = (w * w).sum().backward()
        >>> opt.zero_grad()
        >>> w.grad is None
        True
        """
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient.

        Parameters whose ``.grad`` is None are left as they are.

        Examples
        --------
        >>> import autodiff as ad
        >>> w = ad.nn.Parameter(ad.tensor([1.0, 2.0]))
        >>> opt = ad.optim.SGD([w], lr=0.5)
        >>> _ = w.sum().backward()
        >>> opt.step()
        >>> w.tolist(), opt.step_count
        ([0.5, 1.5], 1)
        """
        # Inside ad.compile, Python code runs only while tracing: counters advance on
        # every replay (each_call), hyper-parameters and the state's layout are guarded
        # (a change traces again), and state tensors are updated by rebinding their data,
        # which replays write back.
        each_call(self._count)
        guard(self._layout)
        with ad.no_grad():  # nothing is recorded: the parameters need no detached copies
            for p, state in zip(self.params, self.state):
                g = p.grad
                if g is not None:
                    p.data = self._update(p, g, state).data

    def _count(self) -> None:
        self.step_count += 1

    def _layout(self) -> tuple[Any, ...]:
        """What the update's Python control flow depends on (``guard`` under ad.compile)."""
        fixed = tuple(sorted((k, v) for k, v in self.hyper.items() if k not in self.dynamic))
        return fixed, tuple(tuple(sorted(s)) for s in self.state)

    def _lr(self, p: ad.Tensor) -> Any:
        """The learning rate, read afresh by every replay of a compiled step."""
        return host_value(lambda: self.hyper["lr"], p)

    def _update(self, p: ad.Tensor, g: ad.Tensor, state: dict[str, Any]) -> ad.Tensor:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Optimizer type, hyper-parameters, step count and per-parameter state.

        Examples
        --------
        >>> import autodiff as ad
        >>> w = ad.nn.Parameter(ad.tensor([1.0]))
        >>> opt = ad.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> _ = w.sum().backward()
        >>> opt.step()
        >>> state = opt.state_dict()
        >>> state["type"], state["step_count"], state["hyper"]["momentum"]
        ('SGD', 1, 0.9)
        >>> state["state"]["0"]["momentum_buffer"].tolist()
        [1.0]
        """
        return {
            "type": type(self).__name__,
            "hyper": dict(self.hyper),
            "step_count": self.step_count,
            "state": {str(i): dict(s) for i, s in enumerate(self.state)},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned, all or nothing.

        Everything is checked before anything changes: the optimizer type, the
        hyper-parameter names, the number of parameters, and each state tensor's shape
        against its parameter's (a floating tensor is cast to the parameter's floating
        dtype, as PyTorch does; any other dtype mismatch is refused). On any error the
        optimizer is exactly as before.

        Raises
        ------
        ValueError
            When the state is for another optimizer or other parameters.
        TypeError
            When an entry has the wrong type or dtype.

        Examples
        --------
        >>> import autodiff as ad
        >>> w = ad.nn.Parameter(ad.tensor([1.0]))
        >>> opt = ad.optim.Adam([w], lr=0.1)
        >>> _ = w.sum().backward()
        >>> opt.step()
        >>> fresh = ad.optim.Adam([w], lr=0.5)
        >>> fresh.load_state_dict(opt.state_dict())
        >>> fresh.lr, fresh.step_count, fresh.state[0]["step"]
        (0.1, 1, 1)
        """
        if not isinstance(state, dict) or not {"hyper", "step_count", "state"} <= set(state):
            raise ValueError(
                "load_state_dict takes what Optimizer.state_dict() returned: a dict with "
                "'hyper', 'step_count' and 'state'."
            )
        name = type(self).__name__
        kind = state.get("type", name)
        if kind != name:
            raise ValueError(
                f"the state is {kind}'s, this optimizer is {name}: create a {kind} to "
                "resume it, or start the new optimizer from scratch."
            )
        hyper, per, count = state["hyper"], state["state"], state["step_count"]
        if not isinstance(hyper, dict) or set(hyper) != set(self.hyper):
            got = sorted(hyper) if isinstance(hyper, dict) else type(hyper).__name__
            raise ValueError(
                f"the state's hyper-parameters {got} are not {name}'s {sorted(self.hyper)}."
            )
        lr = hyper.get("lr", 0.0)
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr >= 0:
            raise ValueError(
                f"the state's learning rate must be a non-negative number, got {lr!r}."
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise TypeError(f"step_count must be a non-negative int, got {count!r}.")
        if not isinstance(per, dict) or set(per) != {str(i) for i in range(len(self.params))}:
            n = len(per) if isinstance(per, dict) else type(per).__name__
            raise ValueError(f"the state has {n} parameters, the optimizer {len(self.params)}.")
        entries = [self._checked_entry(i, p, per[str(i)]) for i, p in enumerate(self.params)]
        # nothing above changed the optimizer; now everything is replaced at once
        self.hyper = dict(hyper)
        self.step_count = count
        self.state = entries

    def _checked_entry(self, i: int, p: ad.Tensor, entry: Any) -> dict[str, Any]:
        """Parameter ``i``'s state, checked and moved to its device (no side effects)."""
        if not isinstance(entry, dict):
            raise TypeError(f"the state of parameter {i} is a {type(entry).__name__}, not a dict.")
        out: dict[str, Any] = {}
        for k, v in entry.items():
            if not isinstance(v, ad.Tensor):
                out[k] = v
                continue
            if v.shape != p.shape:
                raise ValueError(
                    f"the state's {k!r} of parameter {i} has shape {v.shape}, the parameter "
                    f"{p.shape}: the state belongs to other parameters."
                )
            if v.dtype != p.dtype and not (v.dtype.kind == p.dtype.kind == "real floating"):
                raise TypeError(
                    f"the state's {k!r} of parameter {i} is {v.dtype.name}, the parameter "
                    f"{p.dtype.name}."
                )
            moved = v.detach().to_device(p.device)
            out[k] = moved.astype(p.dtype, copy=True)
        return out


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov and weight decay.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        Learning rate.
    momentum : float
        Momentum factor (0 turns momentum off).
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0`` and no dampening).
    weight_decay : float
        L2 penalty added to the gradient.
    dampening : float
        Dampening of the momentum.

    Examples
    --------
    >>> import autodiff as ad
    >>> w = ad.nn.Parameter(ad.tensor([1.0]))
    >>> opt = ad.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     _ = w.sum().backward()  # gradient 1.0
    ...     opt.step()
    >>> round(w.item(), 4)  # 1 - 0.1 * 1.0 - 0.1 * 1.9
    0.71
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3,
        "momentum": 0.0,
        "dampening": 0.0,
        "nesterov": False,
        "weight_decay": 0.0,
    }

    def __init__(
        self,
        params: Iterable[ad.Tensor],
        lr: float = 1e-3,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and no dampening.")
        super().__init__(
            params,
            lr=lr,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
            dampening=dampening,
        )

    dynamic = frozenset({"lr"})

    def _update(self, p: ad.Tensor, g: ad.Tensor, state: dict[str, Any]) -> ad.Tensor:
        h = self.hyper
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        if h["momentum"]:
            buf = state.get("momentum_buffer")
            if buf is None:  # the first step: the buffer is (a copy of) the gradient
                buf = state["momentum_buffer"] = ad.astype(g, g.dtype, copy=True)
            else:
                buf.data = (h["momentum"] * buf + (1 - h["dampening"]) * g).data
            g = g + h["momentum"] * buf if h["nesterov"] else buf
        return p - self._lr(p) * g


class Adam(Optimizer):
    """Adam (with L2 ``weight_decay`` added to the gradient, as PyTorch's Adam).

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        Learning rate.
    betas : (float, float)
        Decay rates of the first and second moment estimates.
    eps : float
        Added to the denominator.
    weight_decay : float
        L2 penalty added to the gradient.

    Examples
    --------
    >>> import autodiff as ad
    >>> w = ad.nn.Parameter(ad.tensor([1.0, -1.0]))
    >>> opt = ad.optim.Adam([w], lr=0.1)
    >>> _ = (w * w).sum().backward()
    >>> opt.step()  # the first step moves each entry by about lr
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, -0.9]
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
    }
    decoupled = False

    def __init__(
        self,
        params: Iterable[ad.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)

    dynamic = frozenset({"lr"})

    def _update(self, p: ad.Tensor, g: ad.Tensor, state: dict[str, Any]) -> ad.Tensor:
        h = self.hyper
        b1, b2 = h["betas"]
        if h["weight_decay"]:
            if self.decoupled:
                p = p * host_value(lambda: 1 - self.hyper["lr"] * h["weight_decay"], p)
            else:
                g = g + h["weight_decay"] * p
        m = state.get("exp_avg")
        if m is None:  # the first step
            state["step"] = 0
            m = state["exp_avg"] = (1 - b1) * g
            v = state["exp_avg_sq"] = (1 - b2) * g * g
        else:
            v = state["exp_avg_sq"]
            m.data = (b1 * m + (1 - b1) * g).data
            v.data = (b2 * v + (1 - b2) * g * g).data
        each_call(lambda: state.__setitem__("step", state["step"] + 1))
        # the bias corrections, as Python floats on every step (host_value under compile)
        root_bc2 = host_value(lambda: math.sqrt(1 - b2 ** state["step"]), p)
        step_size = host_value(lambda: self.hyper["lr"] / (1 - b1 ** state["step"]), p)
        return p - step_size * (m / (ad.sqrt(v) / root_bc2 + h["eps"]))


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01, as PyTorch).

    The parameter is scaled by ``1 - lr * weight_decay`` before the Adam step.

    Examples
    --------
    >>> import autodiff as ad
    >>> w = ad.nn.Parameter(ad.tensor([1.0]))
    >>> opt = ad.optim.AdamW([w], lr=0.1)
    >>> _ = w.sum().backward()
    >>> opt.step()  # 1 * (1 - 0.1 * 0.01) - 0.1
    >>> round(w.item(), 4)
    0.899
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[ad.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
