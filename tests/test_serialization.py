"""ad.save / ad.load: exact round trips, across backends, and clear errors on bad files."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad
from autodiff.serialization import CheckpointError

from .conftest import make


def test_round_trip_is_bit_exact(tmp_path: Path, rng: np.random.Generator) -> None:
    net = ad.nn.Sequential(ad.nn.Linear(3, 4), ad.nn.ReLU(), ad.nn.Linear(4, 2))
    opt = ad.optim.Adam(net.parameters(), lr=0.01)
    ad.nn.mse_loss(net(ad.ones((2, 3))), ad.zeros((2, 2))).backward()
    opt.step()
    obj = {
        "model": net.state_dict(),
        "optim": opt.state_dict(),
        "x": make(rng.standard_normal((3, 2))),
        "ints": ad.tensor([1, 2, 3]),
        "meta": {"epoch": 3, "name": "run", "ok": True, "none": None, "pair": (1.5, [2, 3])},
    }
    path = tmp_path / "ckpt.npz"
    ad.save(obj, path)
    back = ad.load(path)
    for k, v in obj["model"].items():
        assert np.array_equal(back["model"][k].numpy(), v.numpy())
        assert back["model"][k].dtype == v.dtype
    assert np.array_equal(back["x"].numpy(), obj["x"].numpy())
    assert back["ints"].dtype == ad.int64
    assert back["meta"] == obj["meta"]
    opt2 = ad.optim.Adam(net.parameters(), lr=0.5)
    opt2.load_state_dict(back["optim"])
    assert opt2.lr == 0.01
    assert opt2.step_count == 1
    net2 = ad.nn.Sequential(ad.nn.Linear(3, 4), ad.nn.ReLU(), ad.nn.Linear(4, 2))
    net2.load_state_dict(back["model"])


def test_save_on_one_backend_load_on_another(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    with ad.use_backend("array_api_strict"):
        w = ad.tensor([[1.0, 2.5]], dtype=ad.float32, requires_grad=True)
        ad.save({"w": w}, path)
    back = ad.load(path, device="numpy:cpu")
    assert back["w"].backend.name == "numpy"
    assert back["w"].dtype == ad.float32
    assert back["w"].requires_grad
    assert back["w"].tolist() == [[1.0, 2.5]]


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    ad.save({"w": ad.ones(100)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        ad.load(path)


def test_flipped_bytes(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    ad.save({"w": ad.ones(100)}, path)
    data = bytearray(path.read_bytes())
    for i in range(60, 200):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        ad.load(path)


def test_pickle_is_refused(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("code ran!",))

    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="not a .npz archive"):
        ad.load(path)
    # a pickled object array hidden inside a real .npz
    sneaky = tmp_path / "sneaky.npz"
    np.savez(
        sneaky,
        __autodiff_manifest__=np.frombuffer(
            b'{"format": "autodiff-checkpoint", "version": 1, "tree": {"tensor": "a0", "dtype": "object", "requires_grad": false}}',
            dtype=np.uint8,
        ),
        a0=np.array([Boom()], dtype=object),
    )
    with pytest.raises(CheckpointError, match="unknown dtype 'object'"):
        ad.load(sneaky)
    # the manifest claims float64, the member is a pickled object array
    np.savez(
        sneaky,
        __autodiff_manifest__=np.frombuffer(
            b'{"format": "autodiff-checkpoint", "version": 1, "tree": {"tensor": "a0", "dtype": "float64", "requires_grad": false}}',
            dtype=np.uint8,
        ),
        a0=np.array([Boom()], dtype=object),
    )
    with pytest.raises(CheckpointError, match="holds object, the manifest says float64"):
        ad.load(sneaky)


def test_foreign_npz_and_bad_objects(tmp_path: Path) -> None:
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.ones(3))
    with pytest.raises(CheckpointError, match="no autodiff manifest"):
        ad.load(plain)
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError):
        ad.load(tmp_path / "z.npz")
    with pytest.raises(TypeError, match="cannot save object"):
        ad.save({"x": object()}, tmp_path / "o.npz")
    with pytest.raises(FileNotFoundError):
        ad.load(tmp_path / "missing.npz")


def _trained_adam(shape: tuple[int, ...]) -> ad.optim.Adam:
    w = ad.nn.Parameter(ad.ones(shape, dtype=ad.float32))
    opt = ad.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    return opt


def _snapshot(opt: ad.optim.Optimizer) -> tuple[object, ...]:
    return (
        dict(opt.hyper),
        opt.step_count,
        [
            {k: (v.tolist() if isinstance(v, ad.Tensor) else v) for k, v in s.items()}
            for s in opt.state
        ],
        [p.tolist() for p in opt.params],
    )


def test_optimizer_load_state_dict_checks_shapes() -> None:
    """A (3,) Adam state loaded for a (1,) parameter used to turn it into shape (3,)."""
    state = _trained_adam((3,)).state_dict()
    opt = _trained_adam((1,))
    before = _snapshot(opt)
    with pytest.raises(
        ValueError, match=r"'exp_avg' of parameter 0 has shape \(3,\), the parameter \(1,\)"
    ):
        opt.load_state_dict(state)
    assert _snapshot(opt) == before
    opt.step()
    assert opt.params[0].shape == (1,)


def test_optimizer_load_state_dict_is_all_or_nothing() -> None:
    """A wrong shape on the last parameter leaves the earlier ones untouched."""
    a = [
        ad.nn.Parameter(ad.ones(2, dtype=ad.float32)),
        ad.nn.Parameter(ad.ones(3, dtype=ad.float32)),
    ]
    b = [
        ad.nn.Parameter(ad.ones(2, dtype=ad.float32)),
        ad.nn.Parameter(ad.ones(4, dtype=ad.float32)),
    ]
    src, dst = ad.optim.Adam(a, lr=0.3), ad.optim.Adam(b, lr=0.1)
    for opt, ps in ((src, a), (dst, b)):
        sum((p * p).sum() for p in ps).backward()
        opt.step()
        opt.step()
    before = _snapshot(dst)
    with pytest.raises(ValueError, match="parameter 1 has shape"):
        dst.load_state_dict(src.state_dict())
    assert _snapshot(dst) == before
    # another optimizer's state, another parameter count, a non-floating dtype
    sgd = ad.optim.SGD(b, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="the state is SGD's, this optimizer is Adam"):
        dst.load_state_dict(sgd.state_dict())
    legacy = {k: v for k, v in sgd.state_dict().items() if k != "type"}
    with pytest.raises(ValueError, match="hyper-parameters"):
        dst.load_state_dict(legacy)
    with pytest.raises(ValueError, match="the state has 1 parameters, the optimizer 2"):
        dst.load_state_dict(_trained_adam((2,)).state_dict())
    bad = dst.state_dict()
    bad["hyper"] = {**bad["hyper"], "lr": "fast"}
    with pytest.raises(ValueError, match="learning rate must be a non-negative number"):
        dst.load_state_dict(bad)
    bad = dst.state_dict()
    bad["state"]["1"] = {**bad["state"]["1"], "exp_avg": ad.ones(4, dtype=ad.int32)}
    with pytest.raises(TypeError, match="'exp_avg' of parameter 1 is int32"):
        dst.load_state_dict(bad)
    assert _snapshot(dst) == before


def test_loaded_optimizer_state_is_not_shared_with_its_source() -> None:
    src = _trained_adam((2,))
    dst = ad.optim.Adam(src.params, lr=0.1)
    dst.load_state_dict(src.state_dict())
    before = src.state[0]["exp_avg"].tolist()
    dst.step()
    assert src.state[0]["exp_avg"].tolist() == before


def test_module_load_state_dict_is_all_or_nothing() -> None:
    """A wrong shape on the last key used to raise after earlier keys were overwritten."""
    net = ad.nn.Sequential(ad.nn.Linear(2, 3), ad.nn.ReLU(), ad.nn.Linear(3, 1))
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state = {k: ad.full(v.shape, 7.0, dtype=v.dtype) for k, v in net.state_dict().items()}
    state["2.bias"] = ad.zeros(5, dtype=ad.float32)  # the last key is wrong
    with pytest.raises(ValueError, match=r"'2.bias' has shape \(5,\)"):
        net.load_state_dict(state)
    for k, v in net.state_dict().items():
        assert np.array_equal(v.numpy(), before[k]), k
    with pytest.raises(KeyError, match="missing keys"):
        net.load_state_dict({"0.weight": state["0.weight"]})
    for k, v in net.state_dict().items():
        assert np.array_equal(v.numpy(), before[k]), k
