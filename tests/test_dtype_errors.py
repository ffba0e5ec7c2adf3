"""What autodiff says about a dtype it does not know: only names a user can pass."""

from __future__ import annotations

import re

import pytest

import autodiff as ad
from autodiff._dtypes import ALL_DTYPES, UNNAMED, to_dtype


def _message(obj: object) -> str:
    with pytest.raises(TypeError) as info:
        to_dtype(obj)
    return str(info.value)


def test_unnamed_dtypes_are_exactly_those_without_an_ad_attribute() -> None:
    # the error message is built from UNNAMED: it must match the public namespace
    for d in ALL_DTYPES:
        assert hasattr(ad, d.name) == (d not in UNNAMED), d.name
        if d not in UNNAMED:
            assert getattr(ad, d.name) is d


@pytest.mark.parametrize("bad", ["float8", "complex32", object()])
def test_unknown_dtype_lists_only_what_a_user_can_pass(bad: object) -> None:
    msg = _message(bad)
    listed = re.search(r"use one of (.*?)(?:, or |\s*\(for example)", msg)
    assert listed is not None, msg
    names = [n.strip().removeprefix("ad.") for n in listed.group(1).split(",")]
    assert names, msg
    for name in names:
        assert isinstance(getattr(ad, name, None), ad.DType), (name, msg)
    assert "ad.float16" not in msg and "ad.bfloat16" not in msg
    # and it says how to get the two that have no ad.* attribute
    assert "'float16'" in msg and "'bfloat16'" in msg and "string" in msg


@pytest.mark.parametrize("name", [d.name for d in UNNAMED])
def test_the_advice_for_unnamed_dtypes_works(name: str) -> None:
    # by name as a string: the dtype, or an error naming the backend that lacks it
    try:
        t = ad.zeros(2, dtype=name)
    except TypeError as err:
        refused = str(err)
    else:
        refused = ""
    if refused:
        assert name in refused and "not supported" in refused
        return
    assert t.dtype is to_dtype(name)
    assert t.dtype.name == name
