"""The compiler behind ``ad.compile``: trace a function once, replay a flat program.

The passes, in the order a first call runs them:

- ``guards.py``: what the function reads from Python (closure cells, globals, modules,
  the backend and default dtype), checked before every replay;
- ``trace.py``: the tracer that records every primitive call of the eager run
  (forward and backward) as instructions over array slots;
- ``instruction.py``: ``Instr``, the record of one step of a traced program, and the
  ``FUSED`` / ``INLINE`` markers of steps the backend's passes make;
- ``compile.py``: ``CompiledFunction``: the signature cache, the trace, the replay;
- ``program.py``: ``Program``: the passes over a trace (dead code, traced values, the
  backend's fusion and buffers, last uses) and the generated straight-line Python;
- ``numba.py`` (and ``backends/_cupy_fuse.py``, kept with the CuPy backend: only backends import CuPy): fuse runs of elementwise instructions into one
  kernel (numba on NumPy, ``ElementwiseKernel`` on CuPy), reached through the backend's
  ``fuse_program``;
- ``buffers.py``: preallocated output buffers reused across replays, reached through
  the backend's ``buffer_program``;
- ``graph.py``: ``ad.Graph`` / ``ad.placeholder``, a compiled graph built ahead of time.

This ``__init__`` imports nothing, so a backend can load a fuser without loading the
compiler.
"""
