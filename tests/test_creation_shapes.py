"""Creation functions take integer sizes, as the array API requires: a float or a bool is a
TypeError (``ad.ones((2.5,))`` used to give shape (2,)), never rounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad

MAKERS: dict[str, Callable[[Any], ad.Tensor]] = {
    "zeros": lambda s: ad.zeros(s),
    "ones": lambda s: ad.ones(s),
    "empty": lambda s: ad.empty(s),
    "full": lambda s: ad.full(s, 1.0),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
@pytest.mark.parametrize("shape", [(2.5,), 2.5, (2, 3.0), np.float64(2.0), (np.float32(1.0),)])
def test_float_shapes_raise_type_error(name: str, shape: Any) -> None:
    with pytest.raises(TypeError):  # the reference: NumPy refuses them too
        np.ones(shape)
    with pytest.raises(TypeError, match="integer"):
        MAKERS[name](shape)


@pytest.mark.parametrize("name", sorted(MAKERS))
@pytest.mark.parametrize("shape", [True, (2, False), (np.bool_(True),), "3", None, (None,)])
def test_bools_and_other_objects_are_not_shapes(name: str, shape: Any) -> None:
    with pytest.raises(TypeError, match="integer"):
        MAKERS[name](shape)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_integer_shapes_of_every_kind_work(name: str) -> None:
    make = MAKERS[name]
    assert make(3).shape == (3,)
    assert make((2, 3)).shape == (2, 3)
    assert make([2, 1]).shape == (2, 1)
    assert make(()).shape == ()
    assert make((np.int64(2), np.int32(0))).shape == (2, 0)
    assert make(np.int16(4)).shape == (4,)
    with pytest.raises(ValueError, match="non-negative"):
        make((2, -1))


def test_eye_and_linspace_take_integer_sizes() -> None:
    for bad in (lambda: ad.eye(2.5), lambda: ad.eye(2, 3.0), lambda: ad.eye(2, k=0.5)):
        with pytest.raises(TypeError, match="must be an integer"):
            bad()
    with pytest.raises(TypeError, match="linspace's num must be an integer"):
        ad.linspace(0.0, 1.0, 2.5)
    with pytest.raises(TypeError, match="must be an integer"):
        ad.linspace(0.0, 1.0, True)
    assert ad.eye(np.int64(2), k=-1).tolist() == [[0.0, 0.0], [1.0, 0.0]]
    assert ad.linspace(0.0, 1.0, np.int64(3)).shape == (3,)
