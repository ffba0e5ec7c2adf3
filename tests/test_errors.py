"""Bad input gets a clear error that says what was wrong."""

from __future__ import annotations

import pytest

import autodiff as ad

from .conftest import make


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        make([1.0, 2.0]) + make([1.0, 2.0, 3.0])


def test_matmul_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        ad.matmul(make([[1.0] * 3] * 2), make([[1.0] * 5] * 4))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        ad.matmul(make(1.0), make([1.0]))


def test_two_backends_in_one_op_names_both_devices() -> None:
    a = ad.tensor([1.0], device="numpy:cpu")
    b = ad.tensor([1.0], device="array_api_strict:cpu")
    with pytest.raises(ValueError, match=r"numpy:cpu.*array_api_strict:cpu"):
        a + b
    with pytest.raises(ValueError, match="different devices"):
        ad.stack([a, b])


def test_two_devices_of_one_backend() -> None:
    a = ad.tensor([1.0], device="array_api_strict:cpu")
    b = ad.tensor([1.0], device="array_api_strict:device1")
    with pytest.raises(ValueError, match=r"array_api_strict:cpu.*array_api_strict:device1"):
        a * b


def test_reshape_and_axes() -> None:
    x = make([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 2\)"):
        x.reshape(3)
    with pytest.raises(IndexError, match="axis 2 is out of range"):
        ad.sum(x, axis=2)
    with pytest.raises(ValueError, match="not a permutation"):
        ad.permute_dims(x, (0, 0))
    with pytest.raises(ValueError, match="has size 2, not 1"):
        ad.squeeze(x, axis=0)
    with pytest.raises(ValueError, match="differ outside axis"):
        ad.concat([x, make([[1.0, 2.0, 3.0]])], axis=0)
    with pytest.raises(ValueError, match="all shapes must be equal"):
        ad.stack([x, make([1.0])])


def test_index_out_of_range() -> None:
    x = make([1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0]


def test_item_on_many_elements() -> None:
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        make([1.0, 2.0]).item()


def test_bad_operand_type() -> None:
    with pytest.raises(TypeError, match="cannot combine a tensor with object"):
        make([1.0]) + object()


def test_device_of_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown backend|no device"):
        ad.tensor([1.0], device="nunpy:cpu")
