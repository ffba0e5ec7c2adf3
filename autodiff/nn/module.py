"""``Module`` and ``Parameter``: containers of trainable tensors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..tensor import Tensor, init_leaf

__all__ = ["Module", "Parameter", "Sequential"]


class Parameter(Tensor):
    """A tensor that a ``Module`` registers as trainable (it requires grad).

    Examples
    --------
    >>> import autodiff as ad
    >>> p = ad.nn.Parameter(ad.zeros(3))
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        t = data if isinstance(data, Tensor) else Tensor(data)
        init_leaf(self, t.data, t._backend)
        self.requires_grad = requires_grad  # the setter refuses integer dtypes

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("Tensor(") :]


class Module:
    """Base class of layers and models.

    Assigning a ``Parameter`` or a ``Module`` to an attribute registers it;
    ``parameters()``, ``named_parameters()``, ``state_dict()`` walk them.

    Examples
    --------
    >>> import autodiff as ad
    >>> class Affine(ad.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = ad.nn.Parameter(ad.ones(2))
    ...     def forward(self, x):
    ...         return x * self.w
    >>> [name for name, _ in Affine().named_parameters()]
    ['w']
    """

    _parameters: dict[str, Parameter]
    _modules: dict[str, Module]
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() first."
            )
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the module's output; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward().")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every submodule, with dotted names."""
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (``"0.weight"``), each once."""
        seen: set[int] = set()
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter, each once."""
        return (p for _, p in self.named_parameters())

    def children(self) -> Iterator[Module]:
        """The direct submodules."""
        return iter(self._modules.values())

    def zero_grad(self) -> None:
        """Clear ``.grad`` of every parameter."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) here and in every submodule."""
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (dropout off)."""
        return self.train(False)

    def state_dict(self) -> dict[str, Tensor]:
        """A flat ``{dotted name: tensor}`` of the parameters (detached, sharing data)."""
        return {name: p.detach() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values from ``state`` into the parameters.

        Raises
        ------
        KeyError
            With ``strict``, when keys are missing or unexpected (all are listed).
        ValueError
            When a value's shape differs from its parameter's.
        """
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                "pass strict=False to load the keys that match."
            )
        for name, value in state.items():
            p = params.get(name)
            if p is None:
                continue
            v = value if isinstance(value, Tensor) else Tensor(value)
            if v.shape != p.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {v.shape} in the state but {p.shape} in the model."
                )
            v = v.to_device(p.device).astype(p.dtype)
            p.data = v.data

    def to_device(self, device: Any) -> Module:
        """Move every parameter to ``device`` (in place; the module is returned)."""
        for p in self.parameters():
            moved = p.detach().to_device(device)
            p.data = moved.data
            p._backend = moved._backend
        return self

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={m!r}" for n, m in self._modules.items())
        return f"{type(self).__name__}({inner})"


class Sequential(Module):
    """Modules applied one after another.

    Examples
    --------
    >>> import autodiff as ad
    >>> net = ad.nn.Sequential(ad.nn.Linear(2, 3, dtype=ad.float64), ad.nn.ReLU())
    >>> net(ad.ones((4, 2), dtype=ad.float64)).shape
    (4, 3)
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(
                    f"Sequential takes modules, got {type(m).__name__} at position {i}."
                )
            setattr(self, str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x
