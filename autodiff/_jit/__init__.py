"""The compiler behind ``ad.compile``: trace a function once, replay a flat program.

The passes, in the order a first call runs them:

- ``guards.py``: what the function reads from Python (closure cells, globals, modules,
  the backend and default dtype), checked before every replay;
- ``trace.py``: the tracer that records every primitive call of the eager run
  (forward and backward) as instructions over array slots;
- ``compile.py``: ``CompiledFunction``: the signature cache, the trace, the program
  (dead code, constants, operators inline), the backend's passes, the generated Python;
- ``numba.py`` / ``cupy_fuse.py``: fuse runs of elementwise instructions into one
  kernel (numba on NumPy, ``ElementwiseKernel`` on CuPy), reached through the backend's
  ``fuse_program``;
- ``buffers.py``: preallocated output buffers reused across replays, reached through
  the backend's ``buffer_program``;
- ``graph.py``: ``ad.Graph`` / ``ad.placeholder``, a compiled graph built ahead of time.

This ``__init__`` imports nothing, so a backend can load a fuser without loading the
compiler.
"""
