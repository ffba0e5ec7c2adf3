"""MkDocs hook: redraw the pictures in docs/images/ with autodiff.viz during the build.

When graphviz or its dot program is missing, the committed pictures are kept
and the build says so.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.autodiff")


def on_pre_build(config: Any, **kwargs: Any) -> None:
    if importlib.util.find_spec("graphviz") is None or shutil.which("dot") is None:
        log.info("graphviz/dot not installed: keeping the committed graph pictures")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import gen_figures

        gen_figures.main()
    finally:
        sys.path.pop(0)
