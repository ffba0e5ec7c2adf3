"""``python -m autodiff``: the same as the ``autodiff`` command."""

from .cli import main

raise SystemExit(main())
