"""``ad.compile`` is safe: a trace records only its own thread, and a replay gives the
eager result, traces again, or refuses — never a stale value (issue 19)."""

from __future__ import annotations

import random
import threading
from typing import Any

import numpy as np
import pytest

import autodiff as ad

from .conftest import make, rtol


def _np(t: ad.Tensor) -> np.ndarray:
    return np.asarray(t.numpy())


def test_a_trace_never_records_another_threads_operations() -> None:
    # thread A traces while thread B trains eagerly; B's steps must not enter A's program,
    # and B (which never compiles) must never see a TraceError
    inside, b_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    @ad.compile
    def double(x: ad.Tensor) -> ad.Tensor:
        y = x * 2.0
        inside.set()
        b_done.wait(timeout=30)  # B runs its whole training while A is being traced
        return y + 1.0

    wb = ad.nn.Parameter(make([-0.2, 0.8, 1.8]))
    opt = ad.optim.SGD([wb], lr=0.1)
    b_losses: list[float] = []
    b_final: list[Any] = []  # read in B: MLX evaluates an array in the thread that made it

    def thread_b() -> None:
        try:
            inside.wait(timeout=30)
            for _ in range(3):
                opt.zero_grad()
                loss = ad.sum(wb * wb)
                loss.backward()
                opt.step()
                b_losses.append(loss.item())  # a host read: refused under tracing
            _ = wb.backend.random.uniform((2,))  # a random draw: refused under tracing
            b_final.extend([wb.data, _np(wb)])
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            b_done.set()

    tb = threading.Thread(target=thread_b)
    tb.start()
    out = double(make([1.0, 2.0]))
    tb.join()
    assert not errors, errors
    np.testing.assert_allclose(_np(out), [3.0, 5.0])
    # B's three SGD steps, w <- w - 0.1 * 2w, exactly as eager
    expected = np.array([-0.2, 0.8, 1.8]) * 0.8**3
    np.testing.assert_allclose(b_final[1], expected, rtol=rtol(1e-12))
    assert len(b_losses) == 3
    # replays of A repeat nothing of B's (an old bug rebound B's weights on every replay)
    for _ in range(3):
        np.testing.assert_allclose(_np(double(make([1.0, 2.0]))), [3.0, 5.0])
    assert wb.data is b_final[0] and wb.grad is not None
    assert double.replays == 3


def test_threads_tracing_side_by_side_get_their_own_programs() -> None:
    barrier = threading.Barrier(4)
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:

            @ad.compile
            def f(x: ad.Tensor) -> ad.Tensor:
                barrier.wait(timeout=30)  # all four trace at the same time
                return ad.sum(ad.tanh(x * float(k + 1)))

            x = make([0.1, 0.2, 0.3])
            results[k] = (f(x).item(), f(x).item(), f.traces, f.replays)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in range(4):
        eager = float(np.sum(np.tanh(np.array([0.1, 0.2, 0.3]) * (k + 1))))
        first, second, traces, replays = results[k]
        assert (traces, replays) == (1, 1)
        np.testing.assert_allclose([first, second], [eager, eager], rtol=rtol(1e-12))


# -- guards ----------------------------------------------------------------------------


def test_a_closed_over_dict_entry_or_flag_that_changed_traces_again() -> None:
    settings = {"scale": 2.0}
    flag = [True]

    @ad.compile
    def f(x: ad.Tensor) -> ad.Tensor:
        y = x * settings["scale"]
        return y + 1.0 if flag[0] else y

    x = make([1.0, 2.0])
    np.testing.assert_allclose(_np(f(x)), [3.0, 5.0])
    settings["scale"] = 5.0
    np.testing.assert_allclose(_np(f(x)), [6.0, 11.0])  # eager: 5.0, not the traced 2.0
    flag[0] = False
    np.testing.assert_allclose(_np(f(x)), [5.0, 10.0])
    np.testing.assert_allclose(_np(f(x)), [5.0, 10.0])
    assert f.replays == 1


SCALE = 2.0


def _reads_a_global(x: ad.Tensor) -> ad.Tensor:
    return x * SCALE


USE_BIAS = True


class _Affine(ad.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = ad.nn.Parameter(make([2.0]))

    def forward(self, x: ad.Tensor) -> ad.Tensor:
        return x * self.w + 1.0 if USE_BIAS else x * self.w


def test_a_global_read_by_a_modules_forward_traces_again() -> None:
    global USE_BIAS
    model = _Affine()
    f = ad.compile(model)
    x = make([1.0])
    try:
        np.testing.assert_allclose(_np(f(x)), [3.0])
        USE_BIAS = False
        np.testing.assert_allclose(_np(f(x)), [2.0])
    finally:
        USE_BIAS = True


def test_a_global_that_changed_traces_again() -> None:
    global SCALE
    f = ad.compile(_reads_a_global)
    x = make([1.0, 2.0])
    try:
        np.testing.assert_allclose(_np(f(x)), [2.0, 4.0])
        SCALE = 5.0
        np.testing.assert_allclose(_np(f(x)), [5.0, 10.0])
    finally:
        SCALE = 2.0


def test_a_replaced_submodule_or_parameter_traces_again() -> None:
    dt = make([1.0]).dtype

    class Net(ad.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = ad.nn.Linear(2, 1, dtype=dt)

        def forward(self, x: ad.Tensor) -> ad.Tensor:
            return ad.sum(self.fc(x))

    model = Net()
    f = ad.compile(lambda x: model(x))
    x = make([[1.0, 2.0]])
    assert np.isclose(f(x).item(), model(x).item())
    new = ad.nn.Linear(2, 1, dtype=dt)
    new.weight.data = make([[10.0, 5.0]]).data
    new.bias.data = make([0.0]).data
    model.fc = new  # a new submodule
    assert np.isclose(f(x).item(), 20.0)
    new.weight = ad.nn.Parameter(make([[1.0, 1.0]]))  # a new parameter object
    assert np.isclose(f(x).item(), 3.0)
    model.eval()  # the training flag is guarded too
    assert np.isclose(f(x).item(), 3.0)


def test_a_module_given_as_an_argument_is_guarded() -> None:
    dt = make([1.0]).dtype
    model = ad.nn.Sequential(ad.nn.Linear(2, 1, dtype=dt))
    f = ad.compile(lambda m, x: ad.sum(m(x)))
    x = make([[1.0, 2.0]])
    f(model, x)
    layer = ad.nn.Linear(2, 1, dtype=dt)
    setattr(model, "0", layer)
    assert np.isclose(f(model, x).item(), ad.sum(layer(x)).item())


class _Declared:
    #: the guards skip ``cache`` (the walk is what the class declares, as ad.nn.Module does)
    __compile_guards__ = (("cache",), ())

    def __init__(self) -> None:
        self.scale = 2.0
        self.cache: list[int] = []


def test_a_class_declares_how_the_guards_walk_it() -> None:
    obj = _Declared()
    f = ad.compile(lambda x: x * obj.scale)
    x = make([1.0])
    f(x)
    obj.cache.append(1)  # skipped by the class's declaration: still replays
    f(x)
    assert (f.traces, f.replays) == (1, 1)
    obj.scale = 3.0  # checked: the stale program is not replayed
    assert f(x).item() == 3.0
    assert f.replays == 1


def test_a_changed_default_dtype_traces_again() -> None:
    backend = ad.get_backend()
    if not backend.supports(ad.float64):
        pytest.skip("the backend has no float64")

    def g(x: ad.Tensor) -> ad.Tensor:
        return x * 1.0 + ad.asarray([0.5])  # the constant takes the default dtype

    f = ad.compile(g)
    x = make([1.0], dtype=ad.float32)
    try:
        ad.set_default_dtype(ad.float64)
        assert f(x).dtype == g(x).dtype == ad.float64
        ad.set_default_dtype(ad.float32)
        assert f(x).dtype == g(x).dtype == ad.float32  # as eager, not the traced float64
    finally:
        ad.set_default_dtype(None)


def test_a_rebound_closed_over_tensor_traces_again() -> None:
    w = make([1.0, 2.0])

    @ad.compile
    def f(x: ad.Tensor) -> ad.Tensor:
        return x * w

    x = make([1.0, 1.0])
    f(x)
    w = make([3.0, 4.0])  # the closure now holds another tensor
    np.testing.assert_allclose(_np(f(x)), [3.0, 4.0])


def test_host_random_draws_are_refused_at_trace_time() -> None:
    @ad.compile
    def noisy(x: ad.Tensor) -> ad.Tensor:
        return x + float(np.random.normal())  # noqa: NPY002 - the global generator

    with pytest.raises(ad.TraceError, match="random"):
        noisy(make([1.0]))

    @ad.compile
    def noisy_py(x: ad.Tensor) -> ad.Tensor:
        return x * random.random()

    with pytest.raises(ad.TraceError, match="random"):
        noisy_py(make([1.0]))

    gen = np.random.default_rng(0)

    @ad.compile
    def noisy_gen(x: ad.Tensor) -> ad.Tensor:
        return x + gen.normal()  # a Generator in the closure

    with pytest.raises(ad.TraceError, match="random"):
        noisy_gen(make([1.0]))


def test_the_functions_own_side_effects_do_not_block_replays() -> None:
    calls: list[int] = []

    @ad.compile
    def f(x: ad.Tensor) -> ad.Tensor:
        ad._jit.trace.each_call(lambda: calls.append(1))
        return x * 2.0

    for _ in range(3):
        f(make([1.0]))
    assert (len(calls), f.replays) == (3, 2)


# -- gradients of ignored inputs -------------------------------------------------------


def test_compiled_grad_of_an_ignored_input_is_zeros_like_eager() -> None:
    def f(x: ad.Tensor, y: ad.Tensor) -> ad.Tensor:
        return ad.sum(x * x)  # y is ignored

    g = ad.grad(f, argnums=(0, 1))
    cg = ad.compile(g)
    x, y = make([1.0, 2.0]), make([[3.0], [4.0]])
    for _ in range(2):  # trace, then replay
        gx, gy = cg(x, y)
        np.testing.assert_allclose(_np(gx), [2.0, 4.0])
        assert gy.shape == (2, 1) and gy.dtype == y.dtype
        np.testing.assert_allclose(_np(gy), np.zeros((2, 1)))
    assert cg.replays == 1
    _, tangent = ad.compile(lambda x: ad.jvp(lambda z: make([1.0]), (x,), (x,)))(x)
    np.testing.assert_allclose(_np(tangent), [0.0])


def test_a_value_read_only_through_host_value_does_not_trace_again() -> None:
    from autodiff._jit.trace import host_value

    rate = {"lr": 0.5}
    step = ad.compile(lambda w: w - host_value(lambda: rate["lr"], w) * w)
    step(make([1.0, 1.0]))
    rate["lr"] = 0.25
    np.testing.assert_allclose(_np(step(make([1.0, 1.0]))), [0.75, 0.75])
    assert step.replays == 1  # replayed with the new rate, not traced again
