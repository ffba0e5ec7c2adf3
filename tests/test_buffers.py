"""``ad.compile`` on NumPy writes large intermediates into buffers reused by every replay:
results equal the allocating replay bit for bit, and nothing a replay hands back (an
output, a view of one, a parameter an optimizer step rebinds) is ever overwritten by a
later replay."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff._jit import buffers as _buffers
from autodiff._jit import numba as _numba

pytestmark = pytest.mark.skipif(
    ad.get_backend().name != "numpy", reason="preallocated buffers are the NumPy backend's"
)

R = np.random.default_rng(5)
N = 64  # (N, N) float64 intermediates: 32 KB


@pytest.fixture(autouse=True)
def _small_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    # buffers from 16 KB, so that the tests' small arrays exercise them; the default
    # (1 MiB) is tested on its own below
    monkeypatch.setattr(_buffers, "MIN_BYTES", 16 * 1024)


def _program(f: Any) -> Any:
    (program,) = f._programs.values()
    return program


def _pool(f: Any) -> list[Any]:
    return _program(f).fn.__globals__["_POOL"]


def _bits(t: ad.Tensor) -> bytes:
    return np.ascontiguousarray(t.numpy()).tobytes()


def _both(fn: Callable[..., Any], *args: Any, fuse: bool = False) -> tuple[Any, Any]:
    buffered = ad.compile(fn, fuse=fuse)
    plain = ad.compile(fn, fuse=fuse, buffers=False)
    for f in (buffered, plain):
        f(*args)  # trace
    return buffered, plain


def test_intermediates_share_buffers_and_replays_match_bit_for_bit() -> None:
    def chain(x: ad.Tensor, w: ad.Tensor) -> Any:
        def loss(x: ad.Tensor, w: ad.Tensor) -> ad.Tensor:
            h = x
            for _ in range(4):
                h = ad.tanh(h @ w) * 0.5 + h
            return ad.sum(h * h)

        return ad.grad(loss, argnums=(0, 1))(x, w)

    x, w = ad.tensor(R.normal(size=(N, N))), ad.tensor(R.normal(size=(N, N)) / N)
    buffered, plain = _both(chain, x, w)
    program = _program(buffered)
    assert _program(plain).allocate is None and program.allocate is not None
    rewritten = sum(1 for ins in program.code if ins.prim.name == "inline")
    buffers = program.allocate()
    # buffers are shared between results whose lives do not overlap
    assert 0 < len(buffers) < rewritten
    (info,) = buffered.summary()
    assert info["buffers"] == len(buffers) and info["buffer_bytes"] == sum(
        b.nbytes for b in buffers
    )
    assert plain.summary()[0]["buffers"] == plain.summary()[0]["buffer_bytes"] == 0
    first = [_bits(g) for g in buffered(x, w)]
    assert first == [_bits(g) for g in plain(x, w)]
    assert first == [_bits(g) for g in chain(x, w)]  # eager
    # every replay takes the same set from the pool and puts it back
    (held,) = _pool(buffered)
    x2 = ad.tensor(R.normal(size=(N, N)))
    assert [_bits(g) for g in buffered(x2, w)] == [_bits(g) for g in plain(x2, w)]
    assert _pool(buffered) == [held]


def test_results_and_their_views_are_never_overwritten_by_the_next_replay() -> None:
    def f(x: ad.Tensor) -> Any:
        a = x * 2.0  # reaches the caller through a reshape
        b = ad.exp(x) + 1.0  # through a transpose and a slice of it
        c = ad.sin(x) - x  # intermediate only
        return a.reshape(-1), b.T[1:], ad.sum(c * c, axis=0), (c + a) * b

    x1, x2 = ad.tensor(R.normal(size=(N, N))), ad.tensor(R.normal(size=(N, N)))
    buffered, plain = _both(f, x1)
    outs = buffered(x1)
    kept = [o.numpy().copy() for o in outs]
    again = buffered(x2)
    for o, k in zip(outs, kept):  # the first replay's results are untouched
        assert np.array_equal(o.numpy(), k)
    for o, p in zip(again, plain(x2)):
        assert _bits(o) == _bits(p)
    for o in again:
        assert not any(np.shares_memory(o.numpy(), b) for b in _pool(buffered)[0])


def test_a_buffer_lives_as_long_as_its_views_are_read() -> None:
    def f(x: ad.Tensor) -> ad.Tensor:
        a = x * 2.0
        v = a.T  # the last direct read of a; v is read after b is made
        b = ad.exp(x) + 1.0  # same shape and dtype as a: must not take a's buffer
        return ad.sum(v * b)

    x = ad.tensor(R.normal(size=(N, N)))
    buffered, plain = _both(f, x)
    assert _program(buffered).allocate is not None
    want = np.sum((x.numpy() * 2.0).T * (np.exp(x.numpy()) + 1.0))
    for _ in range(2):
        assert _bits(buffered(x)) == _bits(plain(x))
        np.testing.assert_allclose(buffered(x).numpy(), want, rtol=1e-12)


def test_a_training_step_never_writes_parameters_into_buffers() -> None:
    def build(buffers: bool) -> tuple[Any, list[ad.nn.Parameter]]:
        rng = np.random.default_rng(0)
        model = ad.nn.Sequential(
            ad.nn.Linear(N, 2 * N, dtype=ad.float64),
            ad.nn.ReLU(),
            ad.nn.Linear(2 * N, 10, dtype=ad.float64),
        )
        for p in model.parameters():
            p.data = rng.normal(size=p.shape) * 0.1
        opt = ad.optim.Adam(list(model.parameters()), lr=1e-2)

        def step(x: ad.Tensor, y: ad.Tensor) -> ad.Tensor:
            opt.zero_grad()
            loss = ad.nn.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return ad.compile(step, buffers=buffers), list(model.parameters())

    x = ad.tensor(R.normal(size=(N, N)))
    y = ad.tensor(R.integers(0, 10, N))
    (fb, pb), (fp, pp) = build(True), build(False)
    before: list[tuple[Any, Any]] = []
    for _ in range(4):
        assert _bits(fb(x, y)) == _bits(fp(x, y))
        for a, b in zip(pb, pp):
            assert _bits(a) == _bits(b) and _bits(a.grad) == _bits(b.grad)
        # the arrays of earlier steps keep their values: no write-back is a buffer
        for data, copy in before:
            assert np.array_equal(data, copy)
        before += [(p.data, p.data.copy()) for p in pb]
    assert _program(fb).allocate is not None


def test_calls_from_several_threads_each_get_their_own_buffers() -> None:
    f = ad.compile(lambda x: ad.sum(ad.tanh(x * 3.0) * x, axis=1), fuse=False)
    inputs = [R.normal(size=(N, N)) for _ in range(8)]
    want = [np.sum(np.tanh(a * 3.0) * a, axis=1) for a in inputs]
    f(ad.tensor(inputs[0]))
    got: dict[int, Any] = {}
    start = threading.Barrier(len(inputs))

    def work(k: int) -> None:
        start.wait()
        for _ in range(50):
            got[k] = f(ad.tensor(inputs[k])).numpy()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, w in enumerate(want):
        np.testing.assert_array_equal(got[k], w)
    assert 1 <= len(_pool(f)) <= len(inputs)


def test_small_results_and_order_of_memory() -> None:
    # below MIN_BYTES NumPy's allocator is as fast: no buffers
    small = ad.compile(lambda x: ad.sum(ad.exp(x) * x))
    small(ad.tensor(R.normal(size=8)))
    assert _program(small).allocate is None
    # a Fortran-ordered intermediate gets a Fortran-ordered buffer, with the same values
    x = ad.tensor(R.normal(size=(N, 2 * N)))
    buffered, plain = _both(lambda x: ad.sum(ad.exp(x.T) * 2.0, axis=0), x)
    assert any(order == "F" for _, _, order in _buffers_of(buffered))
    assert _bits(buffered(x)) == _bits(plain(x))


def _buffers_of(f: Any) -> list[tuple[Any, ...]]:
    allocate = _program(f).allocate
    return [(b.shape, b.dtype, "F" if b.flags.f_contiguous else "C") for b in allocate()]


@pytest.mark.skipif(not _numba.available(), reason="numba is not installed")
def test_fused_kernels_write_into_buffers() -> None:
    def f(x: ad.Tensor) -> ad.Tensor:
        h = (x * 1.5 + 0.25) * x - 1.0  # a fused run whose result only feeds a matmul
        return ad.sum(h @ x)

    x = ad.tensor(R.normal(size=(N, N)))
    buffered, plain = _both(f, x, fuse=True)
    fused = [ins for ins in _program(buffered).code if ins.prim.name == "inline"]
    assert any("_out" in ins.template and "B[" in ins.template for ins in fused)
    assert _bits(buffered(x)) == _bits(plain(x))


def test_results_below_min_bytes_allocate_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the default threshold
    x = ad.tensor(R.normal(size=(N, N)))  # 32 KB: below 1 MiB
    f = ad.compile(lambda x: ad.sum((x @ x) * 2.0))
    f(x)
    assert _program(f).allocate is None
    n = 512  # 2 MiB in float64
    y = ad.tensor(R.normal(size=(n, n)))
    g = ad.compile(lambda x: ad.sum(ad.tanh(x @ x) * 2.0))
    g(y)
    assert g.summary()[0]["buffers"] >= 1


def _written(f: Any) -> list[tuple[str, tuple[int, ...], list[int | None], list[int]]]:
    """Per buffered instruction: kind, operand slots, the buffer each output is written
    to (None: a fresh array), and the buffers its operands hold."""
    held: dict[int, int] = {}
    rows = []
    for ins in _program(f).code:
        outs = ins.out_slots
        if ins.prim.name != "inline" or "B[" not in ins.template:
            continue
        template = ins.template
        if "((" in template:  # a fused kernel: _outK((B[j], None, ), operands)
            inside = template.split("((")[1].split(")")[0]
            kinds = [p.strip() for p in inside.split(",") if p.strip()]
            into = [int(p[2:-1]) if p.startswith("B[") else None for p in kinds]
            kind = "fused"
        else:
            into = [int(template.split("out=B[")[1].split("]")[0])]
            kind = "matmul" if ins.names[template.split("(")[0]] is np.matmul else "ufunc"
        operands = [held[i] for i in ins.ins if i in held]
        for o, j in zip(outs, into):
            if j is not None:
                held[o] = j
        rows.append((kind, ins.ins, into, operands))
    return rows


def test_a_ufunc_writes_over_an_operand_it_reads_last_matmul_and_kernels_never() -> None:
    def chain(x: ad.Tensor) -> ad.Tensor:
        h = ad.exp(x * 2.0)  # multiply into a buffer, exp over it
        h = ad.tanh(h) - 0.5  # over it again, twice
        return ad.sum(h @ h)  # a matmul: its own buffer

    x = ad.tensor(R.normal(size=(N, N)) * 0.1)
    buffered, plain = _both(chain, x)
    rows = _written(buffered)
    assert [r[0] for r in rows] == ["ufunc"] * 4 + ["matmul"]
    assert {r[2][0] for r in rows[:4]} == {rows[0][2][0]}  # one buffer for the chain
    assert rows[4][2][0] not in rows[4][3]  # matmul never writes over an operand
    assert _program(buffered).allocate is not None and len(_program(buffered).allocate) == 2
    assert _bits(buffered(x)) == _bits(plain(x))

    if _numba.available():

        def fusing(x: ad.Tensor) -> ad.Tensor:
            h = ad.tanh((x * 1.5 + 0.25) * x)  # a fused run, then a ufunc over its buffer
            return ad.sum(((h * 3.0 - x) * h) @ x)  # a fused run reading the buffer last

        f, p = _both(fusing, x, fuse=True)
        kernels = [r for r in _written(f) if r[0] == "fused"]
        assert len(kernels) == 2
        for _, _, into, operands in kernels:  # an aliased output runs numba's scalar loop
            assert not set(into) & set(operands)
        assert _bits(f(x)) == _bits(p(x))


def test_complex_tanh_and_expm1_keep_their_special_case_kernels_under_buffers() -> None:
    """The NumPy backend's tanh and expm1 kernels equal the ufuncs on real arrays (so
    buffers and fused loops stand in for them there) but patch complex special cases:
    a complex result must still go through the kernel (tanh(inf + 1j) is 1 + 0j, and
    expm1 at infinities follows exp)."""

    def chain(z: ad.Tensor) -> tuple[ad.Tensor, ad.Tensor]:
        w = -z  # negation keeps every sign: the comparison below is bit for bit
        return -ad.tanh(w), -ad.expm1(w)

    special = [complex(np.inf, 2.0), complex(-np.inf, -2.0), complex(-0.0, -0.0)]
    special += [complex(np.inf, np.inf), complex(np.nan, 0.0)]
    host = R.normal(size=(N, N)) + 1j * R.normal(size=(N, N))
    host[0, : len(special)] = [-s for s in special]
    z = ad.tensor(host)
    with np.errstate(all="ignore"):
        want = [np.ascontiguousarray(t.numpy()).tobytes() for t in chain(z)]
        buffered, plain = _both(chain, z)
        for f in (buffered, plain):
            assert [_bits(t) for t in f(z)] == want
        # the kernels' answers, not NumPy's ufuncs' (tanh(inf + 2j) is 1 + 0j, not 1 - 0j)
        t = -buffered(z)[0].numpy()[0, 0]
    assert t == 1.0 and not np.signbit(t.imag)
