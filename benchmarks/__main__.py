"""``python -m benchmarks``: the W1–W6 suite (see benchmarks/run.py)."""

from benchmarks.run import main

raise SystemExit(main())
