"""Data: batching, seeded shuffling, and data sets that ship inside the package.

No data set is fetched from the network at run time. ``load_digits`` reads the
8×8 handwritten digits (the UCI optical-recognition set, 1,797 images, as
shipped by scikit-learn under its BSD licence) from a 45 KB file bundled here.

Examples
--------
>>> import autodiff as ad
>>> x, y = ad.data.load_digits()
>>> x.shape, y.shape, x.dtype, y.dtype
((1797, 64), (1797,), autodiff.float32, autodiff.int64)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from importlib import resources
from typing import Any

import numpy as np

import autodiff as ad

__all__ = ["DataLoader", "load_digits", "train_test_split"]


def load_digits(
    *, flatten: bool = True, dtype: Any = None, device: Any = None
) -> tuple[ad.Tensor, ad.Tensor]:
    """The 8×8 digits as ``(images, labels)``: images scaled to [0, 1] (float32 by
    default), shape (1797, 64) or (1797, 1, 8, 8) with ``flatten=False``; labels int64.

    Examples
    --------
    >>> import autodiff as ad
    >>> images, labels = ad.data.load_digits(flatten=False)
    >>> images.shape, float(ad.max(images)), labels[:5].tolist()
    ((1797, 1, 8, 8), 1.0, [0, 1, 2, 3, 4])
    """
    with (
        resources.files(__package__).joinpath("digits.npz").open("rb") as fh,
        np.load(fh, allow_pickle=False) as f,
    ):
        images = f["images"].astype(np.float64) / 16.0
        labels = f["labels"].astype(np.int64)
    images = images.reshape(len(images), -1) if flatten else images[:, None, :, :]
    x = ad.tensor(images, dtype=ad.float32 if dtype is None else dtype, device=device)
    return x, ad.tensor(labels, device=device)


def train_test_split(
    *arrays: ad.Tensor, test_fraction: float = 0.2, seed: int = 0
) -> list[ad.Tensor]:
    """Shuffle rows with ``seed`` and split each array into (train, test).

    Parameters
    ----------
    *arrays : Tensor
        Arrays with the same number of rows; they are shuffled alike.
    test_fraction : float
        Share of the rows that go to the test part, in (0, 1).
    seed : int
        Seed of the shuffle.

    Returns
    -------
    list of Tensor
        ``[a_train, a_test, b_train, b_test, ...]``.

    Examples
    --------
    >>> import autodiff as ad
    >>> x = ad.reshape(ad.arange(20.0), (10, 2))
    >>> y = ad.arange(10)
    >>> x_train, x_test, y_train, y_test = ad.data.train_test_split(x, y, test_fraction=0.2)
    >>> x_train.shape, x_test.shape, y_test.shape
    ((8, 2), (2, 2), (2,))
    >>> (x_test[:, 0] == 2 * y_test).tolist()  # rows stay paired
    [True, True]
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array.")
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ValueError(
            f"all arrays need the same number of rows; got {[a.shape[0] for a in arrays]}."
        )
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}.")
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_fraction))
    parts = (order[n_test:], order[:n_test])
    out = []
    for a in arrays:
        for idx in parts:
            out.append(ad.take(a, ad.tensor(idx, device=a.device), axis=0))
    return out


class DataLoader:
    """Mini-batches of ``(x, y, ...)`` rows, reshuffled each epoch from ``seed``.

    Parameters
    ----------
    *arrays : Tensor
        Arrays with the same number of rows; each batch holds the same rows of each.
    batch_size : int
    shuffle : bool
        Shuffle the rows at the start of every epoch (iteration).
    seed : int or None
        Seed of the shuffles.
    drop_last : bool
        Leave out the last, smaller batch.

    Examples
    --------
    >>> import autodiff as ad
    >>> x, y = ad.data.load_digits()
    >>> batches = ad.data.DataLoader(x, y, batch_size=500, seed=0)
    >>> len(batches), [b[0].shape[0] for b in batches]
    (4, [500, 500, 500, 297])
    """

    def __init__(
        self,
        *arrays: ad.Tensor,
        batch_size: int = 64,
        shuffle: bool = True,
        seed: int | None = 0,
        drop_last: bool = False,
    ) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array.")
        self.n = arrays[0].shape[0]
        if any(a.shape[0] != self.n for a in arrays):
            raise ValueError("all arrays given to DataLoader need the same number of rows.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        self.arrays = arrays
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        """The shuffling generator's state: saved with a checkpoint, it lets a resumed run
        draw exactly the shuffles the uninterrupted run would have drawn.

        Examples
        --------
        >>> import autodiff as ad
        >>> x = ad.arange(6)
        >>> a = ad.data.DataLoader(x, batch_size=6, seed=0)
        >>> _ = list(a)  # one epoch
        >>> b = ad.data.DataLoader(x, batch_size=6, seed=123)
        >>> b.load_state_dict(a.state_dict())
        >>> next(iter(a))[0].tolist() == next(iter(b))[0].tolist()
        True
        """
        return {"rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned.

        Raises
        ------
        ValueError
            When ``state`` is not a DataLoader state of this generator kind.
        """
        rng = state.get("rng") if isinstance(state, dict) else None
        kind = self._rng.bit_generator.state["bit_generator"]
        if not isinstance(rng, dict) or rng.get("bit_generator") != kind:
            raise ValueError(f"not a DataLoader state (a {kind} generator state): {state!r:.80}")
        self._rng.bit_generator.state = rng

    def skip_epochs(self, epochs: int) -> None:
        """Draw the shuffles of ``epochs`` epochs without making batches (to continue a run
        from its epoch count when its ``state_dict`` was not saved).

        Examples
        --------
        >>> import autodiff as ad
        >>> x = ad.arange(6)
        >>> a, b = (ad.data.DataLoader(x, batch_size=6, seed=0) for _ in range(2))
        >>> _ = [list(a) for _ in range(2)]
        >>> b.skip_epochs(2)
        >>> next(iter(a))[0].tolist() == next(iter(b))[0].tolist()
        True
        """
        for _ in range(epochs):
            if self.shuffle:
                self._rng.permutation(self.n)

    def __iter__(self) -> Iterator[tuple[ad.Tensor, ...]]:
        order = self._rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield tuple(ad.take(a, ad.tensor(idx, device=a.device), axis=0) for a in self.arrays)
