"""The NumPy bridge (``__array__``, NumPy scalars, copy and pickle, DLPack of 0-d
results) and what SciPy's and scikit-learn's suites found: one promotion table, every
NaN distinct in ``unique_*``, helper arrays on the inputs' device (issue 18)."""

from __future__ import annotations

import copy
import itertools
import operator
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff._dtypes import to_dtype
from autodiff.checks import run_checks

from .conftest import make

NAME = ad.get_backend().name


def _host(t: ad.Tensor) -> np.ndarray:
    return np.asarray(t.numpy())


# -- __array__ -------------------------------------------------------------------------


def test_asarray_of_a_tensor_is_its_values() -> None:
    t = make([[1.0, 2.0], [3.0, 4.5]])
    out = np.asarray(t)
    assert out.dtype == np.dtype(t.dtype.name)
    np.testing.assert_array_equal(out, [[1.0, 2.0], [3.0, 4.5]])
    ints = np.asarray(ad.asarray([1, 2, 3], dtype=ad.int32))
    assert ints.dtype == np.int32
    assert ints.tolist() == [1, 2, 3]
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


def test_asarray_does_not_copy_host_data() -> None:
    if NAME != "numpy":
        pytest.skip("NumPy's own arrays are the ones NumPy can view without a copy")
    t = ad.tensor([1.0, 2.0, 3.0])
    assert np.shares_memory(np.asarray(t), t.data)
    assert not np.shares_memory(np.asarray(t, copy=True), t.data)
    assert np.asarray(t, copy=False) is t.data


def test_asarray_copy_false_refuses_where_the_backend_copies(backend: ad.Backend) -> None:
    if not backend.host_copies:
        pytest.skip(f"{backend.name} hands NumPy its data without a copy")
    with pytest.raises(ValueError, match="copy"):
        np.asarray(ad.tensor([1.0, 2.0]), copy=False)


def test_asarray_refuses_a_tensor_that_requires_grad() -> None:
    x = make([1.0, 2.0], requires_grad=True)
    for t in (x, x * 2.0):
        with pytest.raises(RuntimeError, match=r"cut the graph.*detach\(\).*no_grad"):
            np.asarray(t)
    # the ways out the message names
    np.testing.assert_array_equal(np.asarray(x.detach()), [1.0, 2.0])
    with ad.no_grad():
        np.testing.assert_array_equal(np.asarray(x * 2.0), [2.0, 4.0])


def test_asarray_of_device_memory_raises_as_cupy_does() -> None:
    if NAME != "array_api_strict":
        pytest.skip("array-api-strict's device1 stands for device memory")
    t = ad.tensor([1.0, 2.0], device=ad.get_backend().device("device1"))
    with pytest.raises(TypeError, match=r"\.numpy\(\)"):
        np.asarray(t)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


# -- NumPy scalars on the left ---------------------------------------------------------

OPS: list[Callable[[Any, Any], Any]] = [
    operator.mul,
    operator.add,
    operator.sub,
    operator.truediv,
    operator.pow,
    operator.lt,
    operator.ge,
]


@pytest.mark.parametrize("op", OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scalar", [np.float64(2.0), np.float32(1.5), np.int64(3)], ids=repr)
def test_numpy_scalar_on_the_left_gives_a_tensor(op: Callable[..., Any], scalar: Any) -> None:
    t = make([0.5, 1.0, 2.0], dtype=ad.float32)
    try:
        ad.result_type(ad.asarray(scalar).dtype, t.dtype)
    except TypeError:
        # a NumPy scalar is a 0-d array of its dtype (as in NumPy): array-api-strict
        # refuses int64 with float32, and so does the operator
        with pytest.raises(TypeError):
            op(scalar, t)
        return
    out = op(scalar, t)
    assert isinstance(out, ad.Tensor), type(out)
    expected = op(scalar, np.asarray([0.5, 1.0, 2.0], dtype=np.float32))
    np.testing.assert_allclose(
        _host(out).astype(np.float64), expected.astype(np.float64), rtol=1e-6
    )


def test_numpy_scalar_on_the_left_is_differentiable() -> None:
    x = make([1.0, 2.0, 3.0], requires_grad=True)
    y = np.float64(2.0) * x + np.float32(1.0) - np.float64(3.0) / x
    y.sum().backward()
    np.testing.assert_allclose(_host(x.grad), 2.0 + 3.0 / np.array([1.0, 2.0, 3.0]) ** 2)


# -- copy.deepcopy and pickle -----------------------------------------------------------


def _same_tensor(a: ad.Tensor, b: ad.Tensor) -> None:
    assert type(a) is type(b)
    assert a.dtype == b.dtype
    assert a.device == b.device
    assert a.requires_grad == b.requires_grad
    np.testing.assert_array_equal(_host(a), _host(b))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copy_of_a_leaf_keeps_data_dtype_device_and_grad(how: str) -> None:
    x = ad.var("w", make([1.0, 2.0, 3.0], dtype=ad.float32))
    (x * x).sum().backward()
    y = copy.deepcopy(x) if how == "deepcopy" else pickle.loads(pickle.dumps(x))
    _same_tensor(x, y)
    assert y.is_leaf and y.name == "w"
    assert y.grad is not None and y.grad is not x.grad
    np.testing.assert_array_equal(_host(y.grad), [2.0, 4.0, 6.0])
    # the copy is a leaf of its own: its gradient does not reach x
    x.grad = None
    (y * 3.0).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(_host(y.grad), [5.0, 7.0, 9.0])


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copy_of_a_non_leaf_is_a_detached_leaf(how: str) -> None:
    x = make([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    z = copy.deepcopy(y) if how == "deepcopy" else pickle.loads(pickle.dumps(y))
    assert z.is_leaf and not z.requires_grad and z.grad is None
    np.testing.assert_array_equal(_host(z), [2.0, 4.0])


def test_deepcopy_does_not_share_memory() -> None:
    if NAME != "numpy":
        pytest.skip("memory sharing is observable with NumPy arrays")
    x = ad.tensor([1.0, 2.0])
    y = copy.deepcopy(x)
    assert not np.shares_memory(x.data, y.data)
    assert copy.copy(x).data is x.data


def test_pickle_keeps_a_non_default_device() -> None:
    if NAME != "array_api_strict":
        pytest.skip("array-api-strict has a second device")
    dev = ad.get_backend().device("device1")
    x = ad.tensor([1.0, 2.0], device=dev, requires_grad=True)
    for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert y.device == dev
        _same_tensor(x, y)


def _model() -> tuple[ad.nn.Module, Any]:
    ad.get_backend().random.seed(0)
    model = ad.nn.Sequential(ad.nn.Linear(3, 4), ad.nn.Tanh(), ad.nn.Linear(4, 1))
    return model, ad.optim.Adam(model.parameters(), lr=0.1)


def _train_step(model: ad.nn.Module, opt: Any, x: ad.Tensor) -> float:
    opt.zero_grad()
    loss = (model(x) ** 2).mean()
    loss.backward()
    opt.step()
    return float(loss)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copied_model_and_optimizer_train_on_identically(how: str) -> None:
    model, opt = _model()
    x = ad.tensor(np.random.default_rng(0).normal(size=(5, 3)), dtype=ad.float32)
    _train_step(model, opt, x)
    pair = (model, opt)
    model2, opt2 = copy.deepcopy(pair) if how == "deepcopy" else pickle.loads(pickle.dumps(pair))
    params, params2 = list(model.parameters()), list(model2.parameters())
    assert all(isinstance(p, ad.nn.Parameter) for p in params2)
    for p, q in zip(params, params2, strict=True):
        _same_tensor(p, q)
        assert p is not q
    for _ in range(3):
        assert _train_step(model, opt, x) == _train_step(model2, opt2, x)
    for p, q in zip(params, params2, strict=True):
        np.testing.assert_array_equal(_host(p), _host(q))


def test_deepcopied_model_is_independent() -> None:
    model, _ = _model()
    ema = copy.deepcopy(model)
    with ad.no_grad():
        for p in model.parameters():
            p *= 0.0
    assert all(float(ad.sum(ad.abs(p))) > 0 for p in ema.parameters())


# -- 0-d results ------------------------------------------------------------------------


def test_zero_d_reduction_results_export_through_dlpack() -> None:
    x = make([1.0, 2.0, 3.5])
    for s in (ad.sum(x), ad.mean(x), ad.max(x), x[1], ad.sum(x) * 2.0):
        assert s.ndim == 0
        host = np.from_dlpack(s)
        assert host.shape == ()
        assert float(host) == float(s)
    assert float(np.from_dlpack(ad.sum(x))) == 6.5


# -- one promotion table ----------------------------------------------------------------


def test_result_type_of_int64_and_float32_is_the_dtype_of_their_sum(backend: ad.Backend) -> None:
    if not backend.supports(ad.int64):
        pytest.skip("no int64 here")
    i = ad.asarray([1, 2], dtype=ad.int64)
    f = ad.asarray([1.0, 2.0], dtype=ad.float32)
    try:
        expected = (i + f).dtype
    except TypeError:
        with pytest.raises(TypeError, match="no type promotion"):
            ad.result_type(i, f)
        with pytest.raises(TypeError, match="no type promotion"):
            ad.result_type(ad.int64, ad.float32)
        return
    assert ad.result_type(i, f) == expected
    assert ad.result_type(ad.int64, ad.float32) == expected


FUNCTIONS: dict[str, Callable[[ad.Tensor, ad.Tensor], ad.Tensor]] = {
    "multiply": ad.multiply,
    "subtract": ad.subtract,
    "maximum": ad.maximum,
    "where": lambda a, b: ad.where(ad.asarray([True]), a, b),
    "concat": lambda a, b: ad.concat([a, b]),
    "stack": lambda a, b: ad.stack([a, b]),
}
#: pairs where the standard is silent (integer with floating) or speaks (the rest)
PAIRS = [
    ("int64", "float32"),
    ("int32", "float32"),
    ("uint8", "float64"),
    ("float16", "int64"),
    ("int8", "uint8"),
    ("uint16", "int32"),
    ("float32", "float64"),
    ("int64", "uint64"),
]
#: dtypes whose every pair the add test compares (a subset keeps JAX's compiles few)
TABLE = [
    "int8", "uint8", "int16", "int64", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
]  # fmt: skip


def _dtype_or_error(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except TypeError:
        return TypeError


def _mismatches(
    backend: ad.Backend, fn: Callable[..., ad.Tensor], pairs: Any
) -> list[tuple[str, str, Any, Any]]:
    wrong = []
    for an, bn in pairs:
        a, b = to_dtype(an), to_dtype(bn)
        if not (backend.supports(a) and backend.supports(b)):
            continue
        x, y = ad.zeros((1,), dtype=a), ad.ones((1,), dtype=b)
        got = _dtype_or_error(lambda x=x, y=y: fn(x, y).dtype)
        told = _dtype_or_error(lambda a=a, b=b: ad.result_type(a, b))
        if got != told:
            wrong.append((an, bn, got, told))
    return wrong


def test_result_type_is_the_table_of_the_operators(backend: ad.Backend) -> None:
    assert not _mismatches(backend, operator.add, itertools.product(TABLE, repeat=2))


@pytest.mark.parametrize("fname", list(FUNCTIONS))
def test_result_type_names_what_every_function_returns(backend: ad.Backend, fname: str) -> None:
    pairs = [p for p in PAIRS if fname != "maximum" or "complex" not in "".join(p)]
    assert not _mismatches(backend, FUNCTIONS[fname], pairs)


@pytest.mark.parametrize("scalar", [1, 1.5, 1j, True], ids=repr)
def test_result_type_with_python_scalars_names_what_operators_return(
    backend: ad.Backend, scalar: Any
) -> None:
    wrong = []
    for a in backend.dtypes():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch: complex32 is experimental
            got = _dtype_or_error(lambda a=a: (ad.zeros((1,), dtype=a) * scalar).dtype)
        told = _dtype_or_error(lambda a=a: ad.result_type(a, scalar))
        if got != told and a.kind != "bool":
            wrong.append((a.name, got, told))
    assert not wrong, wrong


def test_result_type_keeps_the_standard_where_it_speaks() -> None:
    assert ad.result_type(ad.int8, ad.uint8) == ad.int16
    assert ad.result_type(ad.uint8, ad.int32) == ad.int32
    assert ad.result_type(ad.float32, ad.float64) == ad.float64
    assert ad.result_type(ad.float32, ad.complex64) == ad.complex64
    assert ad.result_type(make([1.0], dtype=ad.float32), 2.0) == ad.float32
    assert ad.result_type(ad.asarray([1], dtype=ad.int8), 300) == ad.int8


# -- every NaN is distinct in unique_* ---------------------------------------------------


def test_unique_counts_every_nan_apart(fdtype: ad.DType) -> None:
    nan = float("nan")
    host = np.array([[2.0, nan, 1.0], [nan, 2.0, 3.0], [1.0, 2.0, nan]])
    x = make(host, dtype=fdtype)
    values = _host(ad.unique_values(x))
    assert values.shape == (6,)  # 1, 2, 3 and three NaNs
    np.testing.assert_array_equal(values[:3], [1.0, 2.0, 3.0])
    assert np.isnan(values[3:]).all()
    counted = ad.unique_counts(x)
    np.testing.assert_array_equal(_host(counted.counts), [2, 3, 1, 1, 1, 1])
    everything = ad.unique_all(x)
    vals = _host(everything.values)
    idx = _host(everything.indices)
    inv = _host(everything.inverse_indices)
    cnt = _host(everything.counts)
    flat = host.reshape(-1)
    assert inv.shape == host.shape
    # the standard's relations: x == values[inverse], values == x[indices]
    np.testing.assert_array_equal(vals[inv], host)
    np.testing.assert_array_equal(flat[idx], vals)
    np.testing.assert_array_equal(np.bincount(inv.reshape(-1)), cnt)
    # a first index is the first occurrence: 2.0 first appears at flat position 0
    assert idx[1] == 0 and idx[0] == 2
    inverse = ad.unique_inverse(x)
    assert len(set(_host(inverse.inverse_indices)[np.isnan(host)].tolist())) == 3


def test_unique_of_only_nans(fdtype: ad.DType) -> None:
    x = make([float("nan")] * 3, dtype=fdtype)
    everything = ad.unique_all(x)
    assert _host(everything.values).shape == (3,)
    assert _host(everything.counts).tolist() == [1, 1, 1]
    assert sorted(_host(everything.inverse_indices).tolist()) == [0, 1, 2]


# -- helper arrays on the inputs' device --------------------------------------------------


@pytest.fixture
def device1() -> Any:
    if NAME != "array_api_strict":
        pytest.skip("array-api-strict's device1 is a device arrays cannot leave implicitly")
    return ad.get_backend().device("device1")


INDEXING: dict[str, Callable[[ad.Tensor, Any], ad.Tensor]] = {
    "int_tensor": lambda x, d: x[ad.asarray([0, 2, 0], device=d)],
    "int_list": lambda x, d: x[[0, 2, 0]],
    "mask": lambda x, d: x[x > 1.5],
    "take": lambda x, d: ad.take(x, ad.asarray([2, 2, 1], device=d)),
    "take_along_axis": lambda x, d: ad.take_along_axis(x, ad.asarray([1, 0], device=d), axis=0),
}
EXPECTED_GRAD = {
    "int_tensor": [2.0, 0.0, 1.0],
    "int_list": [2.0, 0.0, 1.0],
    "mask": [0.0, 1.0, 1.0],
    "take": [0.0, 1.0, 2.0],
    "take_along_axis": [1.0, 1.0, 0.0],
}


@pytest.mark.parametrize("name", list(INDEXING))
def test_advanced_index_gradients_stay_on_the_device(name: str, device1: Any) -> None:
    x = ad.tensor([1.0, 2.0, 3.0], device=device1, requires_grad=True)
    INDEXING[name](x, device1).sum().backward()
    assert x.grad is not None and x.grad.device == device1
    np.testing.assert_array_equal(x.grad.numpy(), EXPECTED_GRAD[name])


def test_every_rule_runs_on_a_second_device(device1: Any) -> None:
    with ad.use_backend("array_api_strict", device=device1):
        rows = run_checks(order=2)
    failed = [(r.primitive, r.status) for r in rows if r.status.startswith("FAIL")]
    assert not failed, failed
    assert sum(r.status == "pass" for r in rows) > 50


# -- what scikit-learn and SciPy needed besides ---------------------------------------------


@pytest.mark.parametrize(
    "assign",
    [
        lambda y: y.__setitem__(ad.asarray([True, True]), ad.asarray([5.0, 6.0])),
        lambda y: y.__setitem__([1, 0], 5.0),
        lambda y: y.__setitem__(slice(None), 5.0),
        lambda y: y.__setitem__(Ellipsis, ad.asarray([5.0, 6.0])),
    ],
    ids=["mask", "int_list", "slice", "ellipsis"],
)
def test_a_fully_overwritten_tensor_sends_no_gradient_back(assign: Callable[..., Any]) -> None:
    # scikit-learn's ``var[zeros] = new[zeros]`` overwrites a 0 / 0: the old value must
    # not receive even a zero gradient, which sqrt'(0) = inf would turn into NaN
    # (PyTorch gives NaN here)
    w = make([0.0, 1.0], requires_grad=True)
    y = ad.sqrt(w)
    assign(y)
    (ad.sum(y * y) + ad.sum(w)).backward()
    np.testing.assert_array_equal(_host(w.grad), [1.0, 1.0])


def test_setitem_of_booleans_and_integers_at_integer_positions() -> None:
    b = ad.asarray([True, False, True])
    b[ad.asarray([0, 1])] = ad.asarray([False, True])
    assert b.tolist() == [False, True, True]
    i = ad.asarray([1, 2, 3], dtype=ad.int32)
    i[[2, 0]] = ad.asarray([7, 9], dtype=ad.int32)
    assert i.tolist() == [9, 2, 7] and i.dtype == ad.int32


def test_full_takes_a_zero_d_tensor_as_fill_value() -> None:
    # SciPy's iterative solvers call xp.full(n, xp.asarray(value), dtype=...)
    out = ad.full(3, ad.asarray(-1, dtype=ad.int32), dtype=ad.int32)
    assert out.tolist() == [-1, -1, -1] and out.dtype == ad.int32
    assert ad.full(2, ad.asarray(True)).dtype == ad.bool
    with pytest.raises(ValueError, match="0-d"):
        ad.full(2, ad.asarray([1.0, 2.0]))


def test_in_place_operators_cast_back_where_the_backend_does(backend: ad.Backend) -> None:
    # SciPy's nsum: ``nfev[i] += n`` with int32 counters and int64 counts
    if not backend.supports(ad.int64):
        pytest.skip("no int64 here")
    counts = ad.asarray([1, 2], dtype=ad.int32)
    if not backend.inplace_casts(ad.int32, ad.int64):
        with pytest.raises(TypeError, match="cannot change the dtype"):
            counts += ad.asarray([3, 4], dtype=ad.int64)
        return
    counts += ad.asarray([3, 4], dtype=ad.int64)
    assert counts.dtype == ad.int32 and counts.tolist() == [4, 6]
    x = ad.tensor([1.0, 2.0], dtype=ad.float64, requires_grad=True)
    y = ad.ones(2, dtype=ad.float32) * 1.0
    y += x * 3.0
    assert y.dtype == ad.float32 and y.tolist() == [4.0, 7.0]
    y.sum().backward()
    assert x.grad.dtype == ad.float64 and x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(TypeError, match="cannot change the dtype"):
        counts += 1.5


def test_format_of_a_zero_d_tensor_formats_its_value() -> None:
    loss = ad.sum(make([0.25, 0.5]))
    assert f"{loss:.3f}" == "0.750"
    assert f"{loss}" == str(loss)
    with pytest.raises(TypeError):
        f"{make([1.0, 2.0]):.2f}"


@pytest.mark.parametrize("how", ["setitem", "view_iadd"])
def test_threads_writing_disjoint_parts_of_one_tensor_lose_no_write(how: str) -> None:
    # scikit-learn's pairwise_kernels(n_jobs=2) writes slices of one result from threads;
    # each write reads the tensor, computes and rebinds it, which must be one step
    import threading

    if NAME == "mlx":
        pytest.skip("MLX computes on per-thread streams: its arrays stay in their thread")
    n, size = 4, 100_000
    for _ in range(5):
        base = ad.zeros((n, size), dtype=ad.float32)
        rows = [base[i] for i in range(n)]
        barrier = threading.Barrier(n)

        def work(
            i: int,
            base: ad.Tensor = base,
            rows: list[ad.Tensor] = rows,
            barrier: threading.Barrier = barrier,
        ) -> None:
            barrier.wait()
            if how == "setitem":
                base[i] = ad.full((size,), float(i + 1), dtype=ad.float32)
            else:
                rows[i] += float(i + 1)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        host = _host(base)
        np.testing.assert_array_equal(host[:, 0], np.arange(1.0, n + 1.0))
        np.testing.assert_array_equal(host[:, -1], np.arange(1.0, n + 1.0))
