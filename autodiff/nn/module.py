"""``Module`` and ``Parameter``: containers of trainable tensors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import autodiff as ad

__all__ = ["Module", "Parameter", "Sequential"]


class Parameter(ad.Tensor):
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
        super().__init__(data)  # as ad.tensor: any array, a tensor or nested lists
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

    #: how ``ad.compile``'s guards walk a module: every attribute but these two dicts
    #: (whose entries are attributes too), and the globals and closures of ``forward``
    __compile_guards__: ClassVar[tuple[tuple[str, ...], tuple[str, ...]]] = (
        ("_parameters", "_modules"),
        ("forward",),
    )

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
        """Compute the module's output; subclasses define it.

        Calling the module (``module(x)``) calls ``forward``.

        Examples
        --------
        >>> import autodiff as ad
        >>> class Double(ad.nn.Module):
        ...     def forward(self, x):
        ...         return 2.0 * x
        >>> Double()(ad.tensor([1.0, 2.0])).tolist()
        [2.0, 4.0]
        """
        raise NotImplementedError(f"{type(self).__name__} does not define forward().")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every submodule, with dotted names.

        Examples
        --------
        >>> import autodiff as ad
        >>> net = ad.nn.Sequential(ad.nn.Linear(2, 2), ad.nn.Sequential(ad.nn.ReLU()))
        >>> [name for name, _ in net.named_modules()]
        ['', '0', '1', '1.0']
        """
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (``"0.weight"``), each once.

        Examples
        --------
        >>> import autodiff as ad
        >>> net = ad.nn.Sequential(ad.nn.Linear(2, 3), ad.nn.ReLU(), ad.nn.Linear(3, 1))
        >>> [(name, p.shape) for name, p in net.named_parameters()]
        [('0.weight', (3, 2)), ('0.bias', (3,)), ('2.weight', (1, 3)), ('2.bias', (1,))]
        """
        seen: set[int] = set()
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter, each once.

        Examples
        --------
        >>> import autodiff as ad
        >>> sum(p.size for p in ad.nn.Linear(3, 2).parameters())
        8
        """
        return (p for _, p in self.named_parameters())

    def children(self) -> Iterator[Module]:
        """The direct submodules.

        Examples
        --------
        >>> import autodiff as ad
        >>> net = ad.nn.Sequential(ad.nn.Linear(2, 2), ad.nn.Sequential(ad.nn.ReLU()))
        >>> [type(m).__name__ for m in net.children()]
        ['Linear', 'Sequential']
        """
        return iter(self._modules.values())

    def zero_grad(self) -> None:
        """Clear ``.grad`` of every parameter.

        Examples
        --------
        >>> import autodiff as ad
        >>> layer = ad.nn.Linear(2, 1)
        >>> _ = layer(ad.ones((1, 2), dtype=ad.float32)).sum().backward()
        >>> layer.weight.grad is None
        False
        >>> layer.zero_grad()
        >>> layer.weight.grad is None
        True
        """
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) here and in every submodule.

        Returns the module itself.

        Examples
        --------
        >>> import autodiff as ad
        >>> net = ad.nn.Sequential(ad.nn.Dropout(0.5))
        >>> net.train(False) is net, net[0].training
        (True, False)
        >>> net.train()[0].training
        True
        """
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (dropout off); the same as ``train(False)``.

        Examples
        --------
        >>> import autodiff as ad
        >>> net = ad.nn.Sequential(ad.nn.Dropout(0.5)).eval()
        >>> net.training, net[0].training
        (False, False)
        """
        return self.train(False)

    def state_dict(self) -> dict[str, ad.Tensor]:
        """A flat ``{dotted name: tensor}`` of the parameters (detached, sharing data).

        Examples
        --------
        >>> import autodiff as ad
        >>> state = ad.nn.Linear(2, 1).state_dict()
        >>> sorted(state), state["weight"].requires_grad
        (['bias', 'weight'], False)
        """
        return {name: p.detach() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values from ``state`` into the parameters, all or nothing.

        Every key, shape and conversion is checked first; on any error no parameter
        has changed.

        Raises
        ------
        KeyError
            With ``strict``, when keys are missing or unexpected (all are listed).
        ValueError
            When a value's shape differs from its parameter's.

        Examples
        --------
        >>> import autodiff as ad
        >>> layer = ad.nn.Linear(2, 1)
        >>> layer.load_state_dict({"weight": ad.tensor([[1.0, 2.0]]), "bias": ad.tensor([0.5])})
        >>> layer.weight.tolist(), layer.weight.dtype
        ([[1.0, 2.0]], autodiff.float32)
        >>> layer.load_state_dict({"bias": ad.tensor([0.0])}, strict=False)
        >>> layer.bias.tolist()
        [0.0]
        """
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                "pass strict=False to load the keys that match."
            )
        # every value is checked and converted before any parameter changes: on an
        # error the model is exactly as before
        staged = []
        for name, value in state.items():
            p = params.get(name)
            if p is None:
                continue
            v = value if isinstance(value, ad.Tensor) else ad.Tensor(value)
            if v.shape != p.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {v.shape} in the state but {p.shape} in the model."
                )
            staged.append((p, v.detach().to_device(p.device).astype(p.dtype, copy=True).data))
        for p, data in staged:
            p.data = data

    def to_device(self, device: Any) -> Module:
        """Move every parameter to ``device`` (in place; the module is returned).

        Examples
        --------
        >>> import autodiff as ad
        >>> layer = ad.nn.Linear(2, 1).to_device("numpy:cpu")
        >>> str(layer.weight.device)
        'numpy:cpu'
        """
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
