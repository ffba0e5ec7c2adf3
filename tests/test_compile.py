"""``ad.compile``: replays equal eager calls, traces again when they must, and refuses
what a replay could not reproduce."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff.testing import check_grads

from .conftest import make, rtol

R = np.random.default_rng(11)


def _close(a: Any, b: Any) -> None:
    la, _ = ad._tree.flatten(a)
    lb, _ = ad._tree.flatten(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x.numpy()), np.asarray(y.numpy()), rtol=rtol(1e-12))


def mlp_loss(w1: ad.Tensor, w2: ad.Tensor, x: ad.Tensor) -> ad.Tensor:
    h = ad.relu(x @ w1)
    return ad.nn.functional.logsumexp(h @ w2, axis=1).mean() + ad.sum(ad.square(w1)) * 0.01


#: name → (function to compile, host arguments)
CASES: dict[str, tuple[Callable[..., Any], tuple[np.ndarray, ...]]] = {
    "forward": (lambda x, y: ad.tanh(x) * y + ad.sin(y), (R.normal(size=(3, 4)), R.normal(size=4))),
    "value_and_grad": (
        lambda w1, w2, x: ad.value_and_grad(mlp_loss, argnums=(0, 1))(w1, w2, x),
        (R.normal(size=(4, 5)), R.normal(size=(5, 3)), R.normal(size=(6, 4))),
    ),
    "grad_chain": (
        lambda x: ad.grad(lambda t: ad.sum(ad.tanh(ad.tanh(t * 1.0001 + 0.001))))(x),
        (R.normal(size=16),),
    ),
    "hessian": (lambda x: ad.hessian(lambda t: ad.sum(t**3 * ad.exp(t)))(x), (R.normal(size=3),)),
    "jvp": (
        lambda x, v: ad.jvp(lambda t: ad.sin(t) * t, (x,), (v,)),
        (R.normal(size=4), R.normal(size=4)),
    ),
    "vjp": (
        lambda x, g: ad.vjp(lambda t: ad.cumulative_sum(ad.exp(t)), x)[1](g),
        (R.normal(size=4), R.normal(size=4)),
    ),
    "indexing_and_reductions": (
        lambda x: ad.grad(lambda t: ad.sum(ad.prod(t[1:, ::2], axis=0)) + ad.max(t))(x),
        (R.uniform(0.5, 2.0, size=(3, 4)),),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_replays_equal_eager_calls(name: str) -> None:
    fn, host = CASES[name]
    compiled = ad.compile(fn)
    first = tuple(make(a) for a in host)
    _close(compiled(*first), fn(*first))  # the trace
    for _ in range(2):
        new = tuple(make(a + R.normal(scale=0.1, size=a.shape)) for a in host)
        _close(compiled(*new), fn(*new))  # replays, with new values
    assert compiled.traces == 1 and compiled.replays == 2


def test_a_new_shape_dtype_or_python_value_traces_again() -> None:
    @ad.compile
    def f(x: ad.Tensor, scale: float) -> ad.Tensor:
        return ad.sum(x * scale)

    f(make([1.0, 2.0]), 2.0)
    f(make([3.0, 4.0]), 2.0)
    assert f.traces == 1
    assert f(make([1.0, 2.0, 3.0]), 2.0).item() == 12.0
    assert f(make([1.0, 2.0]), 3.0).item() == 9.0
    assert f.traces == 3


def test_closed_over_tensors_are_read_on_every_call() -> None:
    w = make([1.0, 2.0])

    @ad.compile
    def f(x: ad.Tensor) -> ad.Tensor:
        return ad.sum(x * w)

    x = make([1.0, 1.0])
    assert f(x).item() == 3.0
    with ad.no_grad():
        w -= 1.0  # an optimizer-style update outside the compiled function
    assert f(x).item() == 1.0


def test_results_needed_for_gradients_run_eagerly() -> None:
    f = ad.compile(lambda x: ad.sum(ad.exp(x)))
    x = make([0.0, 1.0], requires_grad=True)
    for _ in range(2):
        x.grad = None
        f(x).backward()
        np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]), rtol=rtol())
    with ad.no_grad():
        assert not f(x).requires_grad


def test_a_compiled_gradient_matches_finite_differences() -> None:
    def loss(t: ad.Tensor) -> ad.Tensor:
        return ad.sum(ad.logaddexp(t, ad.square(t)) * ad.cos(t))

    g = ad.compile(ad.grad(loss))
    x = R.normal(size=5)
    g(make(x))
    got = g(make(x + 0.3)).numpy()
    exact = rtol() < 1e-6  # float64 with float64 accuracy
    eps = 1e-6 if exact else 1e-2
    numeric = [
        (loss(make(x + 0.3 + eps * e)).item() - loss(make(x + 0.3 - eps * e)).item()) / (2 * eps)
        for e in np.eye(5)
    ]
    np.testing.assert_allclose(
        got, numeric, rtol=1e-5 if exact else 2e-2, atol=1e-6 if exact else 1e-2
    )


def test_check_grads_passes_on_compiled_functions_and_compiled_gradients() -> None:
    def loss(x: ad.Tensor, y: ad.Tensor) -> ad.Tensor:
        return ad.sum(ad.tanh(x * y) + ad.square(x) * ad.exp(-y))

    x, y = make(R.normal(size=3)), make(R.normal(size=3))
    # a compiled function, differentiated (to second order, both modes)
    check_grads(ad.compile(loss), (x, y), order=2)
    # a compiled gradient, itself checked against finite differences of the eager one
    g = ad.compile(ad.grad(loss, argnums=(0, 1)))
    g(x, y)  # traced; the calls check_grads makes with other values replay or re-trace
    check_grads(lambda a, b: ad.sum(g(a, b)[0] * b), (x, y), order=1, modes=("rev",))
    _close(g(x, y), ad.grad(loss, argnums=(0, 1))(x, y))
    with ad.no_grad():
        _close(g(x, y), ad.grad(loss, argnums=(0, 1))(x, y))


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda x: x * 2 if bool(ad.sum(x) > 0) else x, "reads a traced value on the host"),
        (lambda x: x * float(ad.max(x)), "reads a traced value on the host"),
        (lambda x: ad.nn.functional.dropout(x, 0.5, training=True), "random numbers"),
        (lambda x: ad.sum(ad.sort(x)), None),
        (lambda x: ad.nonzero(x > 0)[0], "reads a traced value on the host|not computed"),
    ],
)
def test_what_a_replay_cannot_follow_raises_at_trace_time(
    fn: Callable[..., Any], match: str | None
) -> None:
    f = ad.compile(fn)
    x = make([1.0, -2.0, 3.0])
    if match is None:
        np.testing.assert_allclose(f(x).numpy(), fn(x).numpy())  # traceable: fine
        return
    with pytest.raises(ad.TraceError, match=match):
        f(x)


def _mlp(seed: int) -> ad.nn.Module:
    rng = np.random.default_rng(seed)
    model = ad.nn.Sequential(ad.nn.Linear(4, 8), ad.nn.Tanh(), ad.nn.Linear(8, 3))
    for p in model.parameters():
        p.data = make(rng.normal(size=p.shape) * 0.5, dtype=p.dtype).data
    return model


OPTIMIZERS: dict[str, Callable[[Any], ad.optim.Optimizer]] = {
    "sgd": lambda ps: ad.optim.SGD(ps, lr=0.1),
    "momentum": lambda ps: ad.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2),
    "nesterov": lambda ps: ad.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda ps: ad.optim.Adam(ps, lr=0.05, weight_decay=1e-2),
    "adamw": lambda ps: ad.optim.AdamW(ps, lr=0.05),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_compiled_training_step_equals_eager_steps(name: str) -> None:
    x = make(R.normal(size=(6, 4)))
    y = ad.tensor(np.array([0, 2, 1, 1, 0, 2]))
    runs = []
    for compiled in (False, True):
        model = _mlp(5)
        opt = OPTIMIZERS[name](model.parameters())
        sched = ad.optim.StepLR(opt, step_size=2, gamma=0.5)

        def step(x: ad.Tensor, y: ad.Tensor, model: Any = model, opt: Any = opt) -> ad.Tensor:
            opt.zero_grad()
            loss = ad.nn.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        fn = ad.compile(step) if compiled else step
        losses = []
        for _ in range(6):
            losses.append(fn(x, y).item())
            sched.step()  # the learning rate changes between calls: not frozen in a replay
        runs.append((losses, [p.numpy() for p in model.parameters()], opt))
    (eager_losses, eager_params, eager_opt), (losses, params, opt) = runs
    (program,) = fn._programs.values()
    # a backend's own compiler (jax.jit, mx.compile) may reassociate the float32 arithmetic
    # of these layers; autodiff's replay repeats eager's exactly
    tol = 1e-5 if program.fast else rtol(1e-10)
    np.testing.assert_allclose(losses, eager_losses, rtol=tol)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=tol, atol=1e-12)
    assert opt.step_count == eager_opt.step_count == 6
    assert [s.get("step") for s in opt.state] == [s.get("step") for s in eager_opt.state]
    # the first call traces; optimizers that create state on their first step trace once
    # more (their state's layout is guarded), then every call replays
    assert fn.replays == (5 if name == "sgd" else 4)


def test_what_a_training_step_cannot_replay_is_refused() -> None:
    w = ad.nn.Parameter(make([1.0, 2.0]))
    opt = ad.optim.SGD([w], lr=0.1)

    @ad.compile
    def no_zeroing(x: ad.Tensor) -> ad.Tensor:
        loss = ad.sum(w * x)
        loss.backward()  # accumulates into w.grad, unset on the first call
        opt.step()
        return loss

    no_zeroing(make([1.0, 1.0]))  # traced: w.grad was unset
    with pytest.raises(ad.TraceError, match="zero_grad"):
        no_zeroing(make([1.0, 1.0]))  # a replay would overwrite the gradient w.grad holds

    @ad.compile
    def accumulate(x: ad.Tensor) -> ad.Tensor:
        loss = ad.sum(w * x)
        loss.backward()  # into a .grad computed before the call
        return loss

    with pytest.raises(ad.TraceError, match="zero_grad"):
        accumulate(make([1.0, 1.0]))

    @ad.compile
    def update_only() -> ad.Tensor:
        opt.step()  # reads w.grad, computed outside
        return w * 1

    with pytest.raises(ad.TraceError, match="computed before the call"):
        update_only()

    @ad.compile
    def foreign(x: ad.Tensor) -> ad.Tensor:
        w.data = np.zeros(2)  # not computed by autodiff operations
        return x * 2

    with pytest.raises(ad.TraceError, match="did not compute"):
        foreign(make([1.0, 1.0]))


def test_rebinding_an_argument_or_a_closed_over_tensor_is_replayed() -> None:
    state = make([0.0, 0.0])

    @ad.compile
    def bump(x: ad.Tensor) -> ad.Tensor:
        with ad.no_grad():
            x += 1.0  # the argument of this call, not the traced one's
            state[...] = state + x
        return x * 2

    outs = []
    for k in range(3):
        x = make([float(k), 1.0])
        outs.append(bump(x).tolist())
        assert x.tolist() == [k + 1.0, 2.0]
    assert outs == [[2.0, 4.0], [4.0, 4.0], [6.0, 4.0]]
    assert state.tolist() == [6.0, 6.0] and bump.replays == 2


def test_a_closed_over_tensor_of_another_shape_or_dtype_traces_again() -> None:
    w = make([[1.0, 2.0], [3.0, 4.0]])
    f = ad.compile(lambda x: ad.sum(x * w, axis=0))
    x = make([[1.0, 1.0], [1.0, 1.0]])
    assert f(x).tolist() == [4.0, 6.0] and f(x).tolist() == [4.0, 6.0]
    w.data = make([[[1.0, 2.0], [3.0, 4.0]]] * 2).data  # now (2, 2, 2): a new result shape
    out = f(x)
    assert out.shape == (2, 2) and out.tolist() == [[2.0, 4.0], [6.0, 8.0]]
    assert f.traces == 1 and f.replays == 1  # traced again in place of the stale program
    dt = ad.float32 if w.dtype != ad.float32 else ad.float16
    if ad.get_backend().supports(dt):
        w.data = w.astype(dt).data
        assert f(x).dtype == ad.result_type(x.dtype, dt) and f.replays == 1


def test_bad_arguments() -> None:
    f = ad.compile(lambda x, opts: x * 2)
    with pytest.raises(TypeError, match="neither a tensor nor hashable"):
        f(make([1.0]), [1, 2])


def test_gradients_do_not_flow_from_replays_into_closed_over_tensors() -> None:
    w = make([1.0, 2.0], requires_grad=True)
    f = ad.compile(lambda x: ad.sum(x * w))
    x = make([3.0, 4.0])
    f(x)
    out = f(x)
    assert f.replays == 1 and not out.requires_grad
    with pytest.raises(RuntimeError):
        out.backward()


def test_a_graph_built_over_placeholders_evaluates_and_differentiates_new_inputs() -> None:
    dt = make([0.0]).dtype
    w = ad.placeholder((3, 2), dt, name="w")
    x = ad.placeholder((4, 3), dt, name="x")
    g = ad.Graph(lambda w, x: ad.tanh(x @ w), w, x)
    for _ in range(3):
        hw, hx = R.normal(size=(3, 2)), R.normal(size=(4, 3))
        _close(g.forward(w=hw, x=hx), ad.tanh(make(hx) @ make(hw)))
        grads = g.backward(hw, hx)
        ref = ad.grad(lambda a, b: ad.sum(ad.tanh(b @ a)), argnums=(0, 1))(make(hw), make(hx))
        _close((grads["w"], grads["x"]), ref)
    assert g._forward.replays == 3 and g._backward is not None and g._backward.replays == 2


def test_a_graph_refuses_inputs_it_was_not_built_for() -> None:
    g = ad.Graph(lambda a: a * 2, ad.placeholder((2,), name="a"))
    with pytest.raises(ValueError, match="built for"):
        g.forward(a=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="missing"):
        g.forward(b=[1.0, 2.0])
    with pytest.raises(TypeError, match="placeholder"):
        ad.Graph(lambda a: a, make([1.0]))


def test_a_backend_compiler_takes_the_program_where_there_is_one() -> None:
    f = ad.compile(ad.grad(lambda t: ad.sum(ad.tanh(t * 1.5 + 0.1) ** 2)))
    x = make(R.normal(size=5))
    for _ in range(3):
        got = f(x)
    _close(got, ad.grad(lambda t: ad.sum(ad.tanh(t * 1.5 + 0.1) ** 2))(x))
    program = next(iter(f._programs.values()))
    has_compiler = ad.get_backend().compile_program is not None
    assert bool(program.fast) == has_compiler  # mx.compile on MLX; our replay elsewhere
    (info,) = f.summary()
    assert info["backend_compiler"] == has_compiler and info["backend_error"] is None
    assert not info["eager"] and info["instructions"] == program.size > 0


def test_the_summary_tells_what_each_trace_became() -> None:
    f = ad.compile(lambda x: ad.sum(ad.exp(x)))
    assert f.summary() == []
    f(make([1.0, 2.0]))
    f(make([1.0, 2.0], requires_grad=True))  # runs eagerly: its results need a graph
    first, second = f.summary()
    assert not first["eager"] and first["backend_compiler"] is None  # not replayed yet
    assert second == {"eager": True}


def test_keywords_select_traces_and_tensors_must_be_positional() -> None:
    @ad.compile
    def f(x: ad.Tensor, *, power: int = 2) -> ad.Tensor:
        return ad.sum(x**power)

    x = make([1.0, 2.0])
    assert f(x, power=2).item() == 5.0
    assert f(x, power=3).item() == 9.0
    assert f(x, power=3).item() == 9.0
    assert f.traces == 2 and f.replays == 1
    with pytest.raises(TypeError, match="by position"):
        f(x, power=x)


def test_inline_operators_match_the_primitives_they_replace() -> None:
    from autodiff._jit.program import _OPERATORS
    from autodiff.engine import PRIMITIVES

    a, b = make([1.5, -2.0, 3.0]).data, make([0.5, 2.0, -1.0]).data
    xp = ad.get_backend().xp
    for name, template in _OPERATORS.items():
        prim = PRIMITIVES[name]
        n = template.count("{")
        args = (a, b)[:n]
        inline = eval(template.format(*(f"args[{i}]" for i in range(n))))
        np.testing.assert_array_equal(
            np.asarray(ad.backends.get(ad.get_backend().name).to_numpy(inline)),
            np.asarray(ad.get_backend().to_numpy(prim.forward(xp, *args))),
        )


def test_values_that_are_the_same_object_keep_their_own_slots() -> None:
    # NumPy's True/False scalars are singletons: two comparisons of 0-d tensors give the
    # same object, which must not make a replay read one comparison for the other
    @ad.compile
    def f(x: ad.Tensor, y: ad.Tensor) -> ad.Tensor:
        a = x > 0
        b = y > 0  # True at trace time: the same object as a
        return ad.where(a, x, 0.0) + ad.where(b, y, 0.0)

    assert f(make(1.0), make(1.0)).item() == 2.0
    assert f(make(-1.0), make(1.0)).item() == 1.0
    assert f(make(1.0), make(-1.0)).item() == 1.0

    # two closed-over tensors sharing a data object are read each from its own tensor
    a = make([1.0, 2.0])
    b = ad.tensor(a.data)
    g = ad.compile(lambda x: x * a + b)
    g(make([1.0, 1.0]))
    b.data = make([10.0, 20.0]).data
    np.testing.assert_allclose(g(make([1.0, 1.0])).numpy(), [11.0, 22.0])


@pytest.mark.skipif(ad.get_backend().name != "torch", reason="the torch backend's hand-off")
def test_a_hot_program_goes_to_torch_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ad.get_backend(), "compile_after", 2)

    def chain(t: ad.Tensor) -> ad.Tensor:
        for _ in range(5):
            t = (t * 1.0001 + 0.001).tanh()
        return ad.sum(t)

    f = ad.compile(ad.grad(chain))
    x = make(R.normal(size=8))
    want = ad.grad(chain)(x).numpy()
    for _ in range(5):  # a trace, two replays of autodiff's program, then torch.compile's
        np.testing.assert_allclose(f(x).numpy(), want, rtol=1e-12)
    (program,) = f._programs.values()
    assert program.fast, program.fast_error  # the backend's compiled program, in use


def test_a_gradients_seed_reads_only_the_outputs_shape() -> None:
    """``ad.grad``'s seed is ``ones_like`` of the output: the program makes it from the
    traced shape, so a linear function's compiled gradient keeps no forward operation
    (reading the output made dead-code elimination keep the whole forward pass)."""

    def chain(t: ad.Tensor) -> ad.Tensor:
        for _ in range(5):
            t = t * 0.5 + 1.0
        return ad.sum(t)

    f = ad.compile(ad.grad(chain), fuse=False, buffers=False)
    for _ in range(3):
        x = make(R.normal(size=3))
        got = f(x)
        _close(got, ad.grad(chain)(x))
    np.testing.assert_allclose(got.numpy(), np.full(3, 0.5**5), rtol=rtol())
    (program,) = f._programs.values()
    names = [ins.prim.name for ins in program.code]
    assert "add" not in names and names.count("multiply") == 5, names
