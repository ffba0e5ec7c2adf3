"""Learning-rate schedulers: ``StepLR`` and ``CosineAnnealingLR`` (PyTorch's rules)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Optimizer

__all__ = ["CosineAnnealingLR", "StepLR"]


class _Scheduler:
    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def step(self) -> None:
        """Advance one epoch and set the optimizer's learning rate.

        Examples
        --------
        >>> import autodiff as ad
        >>> opt = ad.optim.SGD([ad.nn.Parameter(ad.zeros(1))], lr=1.0)
        >>> sched = ad.optim.StepLR(opt, step_size=1, gamma=0.5)
        >>> sched.step()
        >>> sched.epoch, opt.lr
        (1, 0.5)
        """
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The epoch counter and base learning rate.

        Examples
        --------
        >>> import autodiff as ad
        >>> opt = ad.optim.SGD([ad.nn.Parameter(ad.zeros(1))], lr=1.0)
        >>> sched = ad.optim.StepLR(opt, step_size=2)
        >>> sched.step()
        >>> sched.state_dict()
        {'epoch': 1, 'base_lr': 1.0}
        """
        return {"epoch": self.epoch, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned.

        Examples
        --------
        >>> import autodiff as ad
        >>> opt = ad.optim.SGD([ad.nn.Parameter(ad.zeros(1))], lr=1.0)
        >>> sched = ad.optim.StepLR(opt, step_size=2, gamma=0.1)
        >>> sched.load_state_dict({"epoch": 3, "base_lr": 1.0})
        >>> sched.step()  # epoch 4: two decays
        >>> round(opt.lr, 6)
        0.01
        """
        self.epoch = int(state["epoch"])
        self.base_lr = float(state["base_lr"])


class StepLR(_Scheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    optimizer : Optimizer
        Its current learning rate is the base rate.
    step_size : int
        Epochs between decays.
    gamma : float
        Decay factor.

    Examples
    --------
    >>> import autodiff as ad
    >>> opt = ad.optim.SGD([ad.nn.Parameter(ad.zeros(1))], lr=1.0)
    >>> sched = ad.optim.StepLR(opt, step_size=2, gamma=0.5)
    >>> rates = []
    >>> for _ in range(4):
    ...     sched.step()
    ...     rates.append(opt.lr)
    >>> rates
    [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = step_size
        self.gamma = gamma

    def lr_at(self, epoch: int) -> float:
        """The learning rate after ``epoch`` epochs.

        Examples
        --------
        >>> import autodiff as ad
        >>> opt = ad.optim.SGD([ad.nn.Parameter(ad.zeros(1))], lr=1.0)
        >>> ad.optim.StepLR(opt, step_size=2, gamma=0.5).lr_at(5)
        0.25
        """
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(_Scheduler):
    """Cosine decay from the base rate to ``eta_min`` over ``T_max`` epochs.

    Parameters
    ----------
    optimizer : Optimizer
        Its current learning rate is the base rate.
    T_max : int
        Epochs from the base rate down to ``eta_min``.
    eta_min : float
        The final learning rate.

    Examples
    --------
    >>> import autodiff as ad
    >>> opt = ad.optim.SGD([ad.nn.Parameter(ad.zeros(1))], lr=1.0)
    >>> sched = ad.optim.CosineAnnealingLR(opt, T_max=2)
    >>> rates = []
    >>> for _ in range(2):
    ...     sched.step()
    ...     rates.append(round(opt.lr, 4))
    >>> rates
    [0.5, 0.0]
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer)
        self.T_max = T_max
        self.eta_min = eta_min

    def lr_at(self, epoch: int) -> float:
        """The learning rate after ``epoch`` epochs.

        Examples
        --------
        >>> import autodiff as ad
        >>> opt = ad.optim.SGD([ad.nn.Parameter(ad.zeros(1))], lr=1.0)
        >>> sched = ad.optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
        >>> round(sched.lr_at(0), 4), round(sched.lr_at(2), 4), round(sched.lr_at(4), 4)
        (1.0, 0.55, 0.1)
        """
        return (
            self.eta_min
            + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        )
