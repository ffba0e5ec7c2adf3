"""A pytest plugin that runs scikit-learn's own array-API tests with autodiff as the
namespace.

scikit-learn parametrises those tests over ``yield_namespaces()`` (``"numpy"``,
``"array_api_strict"``, ``"torch"`` ...) when its test modules are imported; this plugin
makes that generator yield ``"autodiff"`` alone (on autodiff's default NumPy backend),
or the names in ``SKLEARN_NAMESPACES`` (comma-separated) to measure another library
the same way. Nothing of scikit-learn's is edited. Usage::

    SCIPY_ARRAY_API=1 python -m pytest -p conformance.sklearn_autodiff \
        --pyargs sklearn.metrics.tests.test_common -k array_api

(see docs/conformance.md for the measured run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any


def pytest_configure(config: Any) -> None:
    import sklearn.utils._array_api as array_api

    names = os.environ.get("SKLEARN_NAMESPACES", "autodiff").split(",")

    def yield_namespaces(include_numpy_namespaces: bool = True) -> Iterator[str]:
        yield from names

    array_api.yield_namespaces = yield_namespaces
