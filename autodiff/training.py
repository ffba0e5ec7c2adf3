"""The training loop behind ``autodiff demo`` and ``autodiff train``."""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import autodiff as ad

__all__ = [
    "Progress",
    "TrainConfig",
    "TrainResult",
    "accuracy",
    "build_mlp",
    "make_optimizer",
    "plot_curves",
    "train_classifier",
]


class Progress:
    """A progress line: redrawn in place on a terminal, one line per epoch otherwise,
    nothing at all when ``quiet``. Uses tqdm when it is installed and output is a terminal.

    Parameters
    ----------
    total : int
        Steps in the epoch.
    desc : str
        Text in front of the bar.
    stream : text file, optional
        Where to write (standard output by default).
    quiet : bool
        Write nothing.

    Examples
    --------
    >>> import io
    >>> from autodiff.training import Progress
    >>> out = io.StringIO()  # not a terminal: only the summary line is written
    >>> bar = Progress(2, "epoch 1/1", stream=out)
    >>> bar.update(2, loss="0.5000")
    >>> bar.close("epoch 1/1  loss 0.5000")
    >>> out.getvalue().splitlines()
    ['epoch 1/1  loss 0.5000']
    """

    def __init__(
        self, total: int, desc: str, stream: TextIO | None = None, quiet: bool = False
    ) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.total = total
        self.desc = desc
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar: Any = None
        if self.tty and not quiet:
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=desc, file=self.stream, leave=True)
            except ImportError:
                self._bar = None
        self.count = 0

    def update(self, n: int, **stats: Any) -> None:
        """Advance by ``n`` steps and show ``stats``.

        Examples
        --------
        >>> import io
        >>> from autodiff.training import Progress
        >>> bar = Progress(10, "train", stream=io.StringIO())
        >>> bar.update(3, loss="1.2")
        >>> bar.count
        3
        """
        self.count += n
        if self.quiet or not self.tty:
            return
        text = "  ".join(f"{k} {v}" for k, v in stats.items())
        if self._bar is not None:
            self._bar.update(n)
            self._bar.set_postfix_str(text, refresh=False)
        else:
            width = 30
            done = int(width * self.count / max(self.total, 1))
            self.stream.write(
                f"\r{self.desc} [{'#' * done}{'.' * (width - done)}] {self.count}/{self.total}  {text}"
            )
            self.stream.flush()

    def close(self, summary: str) -> None:
        """Finish the bar and print ``summary`` on its own line.

        Examples
        --------
        >>> import io
        >>> from autodiff.training import Progress
        >>> out = io.StringIO()
        >>> Progress(1, "train", stream=out).close("done")
        >>> Progress(1, "train", stream=out, quiet=True).close("not written")
        >>> out.getvalue().splitlines()
        ['done']
        """
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.close()
        elif self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(summary + "\n")
        self.stream.flush()


@dataclass
class TrainConfig:
    """What to train and how.

    Examples
    --------
    >>> from autodiff.training import TrainConfig
    >>> config = TrainConfig(hidden=(32, 16), epochs=3)
    >>> config.hidden, config.epochs, config.optimizer, config.lr
    ((32, 16), 3, 'adam', 0.01)
    """

    hidden: tuple[int, ...] = (64,)
    optimizer: str = "adam"
    lr: float = 0.01
    epochs: int = 15
    batch_size: int = 32
    seed: int = 0
    weight_decay: float = 0.0


@dataclass
class TrainResult:
    """Curves and final numbers of a run.

    Examples
    --------
    >>> from autodiff.training import TrainResult
    >>> result = TrainResult(losses=[0.9, 0.4], accuracies=[0.7, 0.85])
    >>> result.losses[-1], result.test_accuracy
    (0.4, 0.0)
    """

    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    test_accuracy: float = 0.0
    seconds: float = 0.0
    examples_per_second: float = 0.0


def build_mlp(
    n_in: int, hidden: tuple[int, ...], n_out: int, *, seed: int = 0, dtype: Any = None
) -> ad.nn.Sequential:
    """A ReLU multilayer perceptron with seeded initialisation.

    Parameters
    ----------
    n_in, n_out : int
        Input features and output classes.
    hidden : tuple of int
        Width of each hidden layer.
    seed : int
        Seed of the backend's generator for the initial weights.
    dtype : DType, optional
        Parameter dtype (float32 by default).

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.training import build_mlp
    >>> net = build_mlp(4, (8,), 3, seed=0)
    >>> len(net), sum(p.size for p in net.parameters())
    (3, 67)
    >>> net(ad.ones((2, 4), dtype=ad.float32)).shape
    (2, 3)
    """
    ad.get_backend().random.seed(seed)
    layers: list[ad.nn.Module] = []
    sizes = (n_in, *hidden)
    for a, b in itertools.pairwise(sizes):
        layers += [ad.nn.Linear(a, b, dtype=dtype), ad.nn.ReLU()]
    layers.append(ad.nn.Linear(sizes[-1], n_out, dtype=dtype))
    return ad.nn.Sequential(*layers)


def make_optimizer(
    name: str, params: Any, lr: float, weight_decay: float = 0.0
) -> ad.optim.Optimizer:
    """``sgd`` (momentum 0.9), ``adam`` or ``adamw`` by name.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.training import make_optimizer
    >>> w = ad.nn.Parameter(ad.zeros(2))
    >>> opt = make_optimizer("SGD", [w], lr=0.1)
    >>> type(opt).__name__, opt.lr, opt.hyper["momentum"]
    ('SGD', 0.1, 0.9)
    """
    name = name.lower()
    if name == "sgd":
        return ad.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return ad.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return ad.optim.AdamW(params, lr=lr, weight_decay=weight_decay or 1e-2)
    raise ValueError(f"unknown optimizer {name!r}; choose sgd, adam or adamw.")


def accuracy(model: ad.nn.Module, x: ad.Tensor, y: ad.Tensor) -> float:
    """Fraction of rows whose arg-max logit is the label.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.training import accuracy
    >>> model = ad.nn.Sequential()  # the identity: the inputs are the logits
    >>> logits = ad.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 5.0]])
    >>> accuracy(model, logits, ad.tensor([0, 1, 1, 1]))
    0.75
    """
    with ad.no_grad():
        logits = model(x)
        best = ad.max(logits, axis=1, keepdims=True)
        hit = ad.sum(
            ad.nn.functional.one_hot(y, logits.shape[1], dtype=logits.dtype)
            * (logits == best).astype(logits.dtype),
            axis=1,
        )
        return float(ad.mean((hit > 0).astype(ad.float32)).item())


def train_classifier(
    model: ad.nn.Module,
    opt: ad.optim.Optimizer,
    data: tuple[ad.Tensor, ad.Tensor, ad.Tensor, ad.Tensor],
    config: TrainConfig,
    *,
    start_epoch: int = 0,
    quiet: bool = False,
    stream: TextIO | None = None,
    on_epoch: Any = None,
    loader: Any = None,
) -> TrainResult:
    """Mini-batch training with cross-entropy; prints a progress bar per epoch.

    Parameters
    ----------
    model : Module
        Maps a batch of rows to logits.
    opt : Optimizer
        Updates ``model``'s parameters.
    data : tuple of Tensor
        ``(x_train, x_test, y_train, y_test)``, labels as integer classes.
    config : TrainConfig
        Epochs, batch size and seed are read from it.
    start_epoch : int
        Resume after this many epochs. Without ``loader``, the shuffles of the epochs
        done are drawn first, so the run continues as the uninterrupted one would.
    quiet : bool
        Print nothing.
    stream : text file, optional
        Where the progress goes (standard output by default).
    on_epoch : callable, optional
        Called with the number of epochs done after each epoch.
    loader : DataLoader, optional
        The training batches, e.g. restored with ``DataLoader.load_state_dict`` from a
        checkpoint (its shuffles continue from that state). By default a loader over
        ``x_train, y_train`` seeded with ``config.seed``.

    Returns
    -------
    TrainResult
        Per-epoch losses and test accuracies, the final accuracy and the speed.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.training import TrainConfig, build_mlp, make_optimizer, train_classifier
    >>> x = ad.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=ad.float32)
    >>> y = ad.tensor([0, 1, 1, 0])
    >>> config = TrainConfig(hidden=(8,), epochs=2, batch_size=2)
    >>> model = build_mlp(2, config.hidden, 2, seed=0)
    >>> opt = make_optimizer(config.optimizer, model.parameters(), config.lr)
    >>> result = train_classifier(model, opt, (x, x, y, y), config, quiet=True)
    >>> len(result.losses), 0.0 <= result.test_accuracy <= 1.0
    (2, True)
    """
    x_train, x_test, y_train, y_test = data
    if loader is None:
        loader = ad.data.DataLoader(
            x_train, y_train, batch_size=config.batch_size, seed=config.seed
        )
        loader.skip_epochs(start_epoch)
    result = TrainResult()
    start = time.perf_counter()
    seen = 0
    for epoch in range(start_epoch, config.epochs):
        bar = Progress(len(loader), f"epoch {epoch + 1}/{config.epochs}", stream, quiet)
        total = 0.0
        t0 = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad()
            loss = ad.nn.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            value = loss.item()
            total += value * xb.shape[0]
            seen += xb.shape[0]
            bar.update(1, loss=f"{value:.4f}")
        epoch_loss = total / x_train.shape[0]
        acc = accuracy(model, x_test, y_test)
        rate = x_train.shape[0] / max(time.perf_counter() - t0, 1e-9)
        result.losses.append(epoch_loss)
        result.accuracies.append(acc)
        bar.close(
            f"epoch {epoch + 1:>3}/{config.epochs}  loss {epoch_loss:.4f}  test accuracy {acc:.3f}  {rate:,.0f} examples/s"
        )
        if on_epoch is not None:
            on_epoch(epoch + 1)
    result.seconds = time.perf_counter() - start
    result.examples_per_second = seen / max(result.seconds, 1e-9)
    result.test_accuracy = (
        result.accuracies[-1] if result.accuracies else accuracy(model, x_test, y_test)
    )
    return result


def plot_curves(result: TrainResult, path: str) -> None:
    """Write the loss and accuracy curves to ``path`` (needs matplotlib).

    Raises
    ------
    RuntimeError
        When matplotlib is not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> from autodiff.training import TrainResult, plot_curves
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> try:
    ...     plot_curves(TrainResult(losses=[0.9, 0.4], accuracies=[0.7, 0.8]), path)
    ...     written = os.path.exists(path)
    ... except RuntimeError:  # matplotlib is not installed here
    ...     written = True
    >>> written
    True
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from err
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = range(1, len(result.losses) + 1)
    a.plot(epochs, result.losses, marker="o")
    a.set(xlabel="epoch", ylabel="training loss", title="loss")
    b.plot(epochs, result.accuracies, marker="o", color="tab:green")
    b.set(xlabel="epoch", ylabel="test accuracy", title="accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
