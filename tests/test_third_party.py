"""Third-party array API code runs on autodiff tensors and is differentiable.

array-api-extra, SciPy (with ``SCIPY_ARRAY_API=1``) and scikit-learn (with
``array_api_dispatch=True``) find the ``autodiff``
namespace through ``Tensor.__array_namespace__``; their results are tensors with a
graph, checked against finite differences.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.testing import check_grads

from .conftest import make

xpx = pytest.importorskip("array_api_extra")

R = np.random.default_rng(3)

#: name → (function of tensors, host arguments)
EXTRA: dict[str, tuple[Callable[..., Any], tuple[np.ndarray, ...]]] = {
    "cov": (lambda x: xpx.cov(x), (R.normal(size=(3, 5)),)),
    "kron": (lambda a, b: xpx.kron(a, b), (R.normal(size=(2, 2)), R.normal(size=(2, 3)))),
    "sinc": (lambda x: xpx.sinc(x), (R.uniform(0.1, 2.0, size=(4,)),)),
    "pad": (lambda x: xpx.pad(x, 1) * x[0, 0], (R.normal(size=(2, 3)),)),
    "expand_dims_tuple": (
        lambda x: ad.expand_dims(x, axis=(0, 2)) * x[0, 0],
        (R.normal(size=(2, 3)),),
    ),
    "atleast_nd": (lambda x: xpx.atleast_nd(x, ndim=3) ** 2, (R.normal(size=(3,)),)),
    "create_diagonal": (
        lambda x: xpx.create_diagonal(x) @ xpx.create_diagonal(x),
        (R.normal(size=(3,)),),
    ),
}


#: built by writing into a fresh constant array in place (``xp.full``, then
#: ``out[...] = x``): forward mode cannot reach an object made without the inputs, and
#: ``jvp`` says so instead of dropping the tangent
WRITES_INTO_CONSTANT = {"pad", "create_diagonal"}


@pytest.mark.parametrize("name", list(EXTRA))
def test_array_api_extra_is_differentiable(name: str) -> None:
    fn, host = EXTRA[name]
    args = tuple(make(a) for a in host)
    out = fn(*args)
    assert isinstance(out, ad.Tensor)
    if name in WRITES_INTO_CONSTANT:
        check_grads(fn, args, order=2, modes=("rev",))
        with pytest.raises(TypeError, match="inside jvp"):
            ad.jvp(fn, args, args)
    else:
        check_grads(fn, args, order=2)


def test_array_api_extra_cov_matches_numpy() -> None:
    host = R.normal(size=(3, 6))
    np.testing.assert_allclose(xpx.cov(make(host)).numpy(), np.cov(host), rtol=1e-5)


SCIPY_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import scipy.special as sp
    import autodiff as ad
    from autodiff.testing import check_grads

    dtype = ad.float64 if ad.get_backend().supports(ad.float64) else ad.float32
    x = ad.tensor(np.random.default_rng(0).normal(size=(3, 4)), dtype=dtype)
    for name, fn in [
        ("logsumexp", lambda t: sp.logsumexp(t, axis=1)),
        ("softmax", lambda t: sp.softmax(t, axis=0)),
        ("log_softmax", lambda t: sp.log_softmax(t, axis=1)),
    ]:
        out = fn(x)
        assert isinstance(out, ad.Tensor), (name, type(out))
        check_grads(fn, (x,), order=1)
        print("ok", name)

    import sklearn
    from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel

    sklearn.set_config(array_api_dispatch=True)
    for name, fn in [
        ("rbf_kernel", lambda t: rbf_kernel(t, gamma=0.5)),
        ("euclidean_distances", lambda t: euclidean_distances(t, t[:2] + 3.0)),
    ]:
        out = fn(x)
        assert isinstance(out, ad.Tensor), (name, type(out))
        check_grads(fn, (x,), order=1)
        print("ok", name)
    """
)


def test_scipy_and_scikit_learn_are_differentiable() -> None:
    pytest.importorskip("scipy")
    pytest.importorskip("sklearn")
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    run = subprocess.run(
        [sys.executable, "-c", SCIPY_SCRIPT], capture_output=True, text=True, env=env, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == [
        "ok",
        "logsumexp",
        "ok",
        "softmax",
        "ok",
        "log_softmax",
        "ok",
        "rbf_kernel",
        "ok",
        "euclidean_distances",
    ]
