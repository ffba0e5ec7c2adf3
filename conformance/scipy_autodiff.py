"""A pytest plugin that runs SciPy's own array-API tests with autodiff as the backend.

SciPy parametrises those tests with its ``xp`` fixture over the array libraries it
knows; this plugin replaces the fixture's parameters by the ``autodiff`` namespace alone
(on autodiff's default NumPy backend), before SciPy's ``conftest.py`` registers it.
Nothing of SciPy's is edited. Usage, from a directory outside SciPy's source tree::

    SCIPY_ARRAY_API=1 python -m pytest -p conformance.scipy_autodiff \
        --pyargs scipy.special -m array_api_backends

(see docs/conformance.md for the measured run).
"""

from __future__ import annotations

from typing import Any

import pytest

import autodiff


@pytest.hookimpl(tryfirst=True)
def pytest_plugin_registered(plugin: Any, manager: Any) -> None:
    if getattr(plugin, "__name__", "") != "scipy.conftest":
        return
    plugin.xp_known_backends.add("autodiff")
    original = plugin.xp._get_wrapped_function()
    param = pytest.param(autodiff, id="autodiff", marks=pytest.mark.array_api_backends)
    plugin.xp = pytest.fixture(params=[param])(original)
