"""ad.save / ad.load under attack: concurrent and interrupted saves, planted links, FIFOs,
bombs, crafted manifests, and a bounded fuzz test in which every case raises
CheckpointError (or loads the original values exactly) within bounded time and memory."""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import autodiff as ad
from autodiff import serialization
from autodiff.serialization import CheckpointError

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX links and FIFOs")


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _manifest(tree: Any, version: int = 1) -> bytes:
    text = json.dumps({"format": "autodiff-checkpoint", "version": version, "tree": tree})
    return _npy(np.frombuffer(text.encode(), dtype=np.uint8))


def _archive(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tensor_node(key: str, dtype: str = "float64", shape: list[int] | None = None) -> Any:
    node: dict[str, Any] = {"tensor": key, "dtype": dtype, "requires_grad": False}
    if shape is not None:
        node["shape"] = shape
    return node


def _leftovers(folder: Path, keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


# -- saving: concurrent, planted links, interruptions (items 10-12) --------------------


def test_concurrent_saves_to_one_path_each_leave_a_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.npz"
    # host tensors: MLX arrays cannot be read from a thread that did not create them
    values = {
        i: ad.full((250_000,), float(i), dtype=ad.float32, device="numpy:cpu") for i in range(3)
    }
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for _ in range(10):
                ad.save({"w": values[i], "who": i}, path)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    back = ad.load(path)
    assert np.array_equal(back["w"].numpy(), values[back["who"]].numpy())
    assert _leftovers(tmp_path, "ckpt.npz") == []


@posix_only
def test_a_planted_link_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "ckpt.npz"
    (tmp_path / "ckpt.npz.tmp").symlink_to(victim)  # the old fixed temporary name
    ad.save({"w": ad.ones(3)}, path)
    assert victim.read_text() == "precious"
    assert not path.is_symlink()
    assert ad.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    # a link at the destination itself is replaced, its target left alone
    link = tmp_path / "link.npz"
    link.symlink_to(victim)
    ad.save({"w": ad.zeros(2)}, link)
    assert victim.read_text() == "precious"
    assert not link.is_symlink()


def test_temporary_file_is_created_exclusively_without_following_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real_open = os.open

    def spy(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(file).endswith(".tmp"):
            seen.append(flags)
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    ad.save({"w": ad.ones(2)}, tmp_path / "a.npz")
    assert len(seen) == 1
    assert seen[0] & os.O_EXCL and seen[0] & os.O_CREAT
    assert seen[0] & getattr(os, "O_NOFOLLOW", 0) == getattr(os, "O_NOFOLLOW", 0)


def test_interrupted_save_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ckpt.npz"
    ad.save({"w": ad.ones(3)}, path)
    before = path.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def interrupted(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:  # after the manifest, in the middle of the arrays
            raise KeyboardInterrupt
        real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ad.save({"w": ad.zeros(1000), "v": ad.zeros(3)}, path)
    monkeypatch.setattr(np.lib.format, "write_array", real)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, "ckpt.npz") == []
    # an error while writing to the disk (full disk) cleans up too
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space")))
    with pytest.raises(OSError, match="No space"):
        ad.save({"w": ad.zeros(3)}, path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, "ckpt.npz") == []


def test_save_fsyncs_the_file_before_the_rename_and_then_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    ad.save({"w": ad.ones(2)}, tmp_path / "a.npz")
    if not os.path.isdir("/proc/self/fd"):
        assert events[:2] == ["file", "rename"]
    else:
        assert events == ["file", "rename", "dir"]


# -- loading: non-regular files, sizes, crafted contents (items 14-15) -----------------


def _loads_within(path: Any, seconds: float = 5.0, **kwargs: Any) -> BaseException | None:
    """ad.load in a daemon thread: the error it raised (None if none); fails if it blocks."""
    out: list[BaseException | None] = []

    def run() -> None:
        try:
            ad.load(path, **kwargs)
            out.append(None)
        except BaseException as err:
            out.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"ad.load({path}) blocked"
    return out[0]


@posix_only
def test_fifo_folder_and_devices_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    err = _loads_within(fifo)
    assert isinstance(err, CheckpointError)
    assert "not a regular file (it is a FIFO)" in str(err)
    err = _loads_within(tmp_path)
    assert isinstance(err, CheckpointError)
    assert "folder" in str(err)
    if os.path.exists("/dev/zero"):
        err = _loads_within("/dev/zero")
        assert isinstance(err, CheckpointError)
        assert "character device" in str(err)
    link = tmp_path / "to_pipe.npz"
    link.symlink_to(fifo)
    assert isinstance(_loads_within(link), CheckpointError)
    loop = tmp_path / "loop.npz"
    loop.symlink_to(loop)
    assert isinstance(_loads_within(loop), CheckpointError)


def _deflate_bomb(path: Path, declared: int) -> Path:
    """A valid checkpoint of ``declared`` bytes of zeros, deflated to about 1/1000."""
    n = declared // 8
    manifest = _manifest(_tensor_node("a0", "float64", [n]))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__autodiff_manifest__.npy", manifest)
        with zf.open("a0.npy", "w", force_zip64=True) as m:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": "<f8", "fortran_order": False, "shape": (n,)}
            )
            m.write(header.getvalue())
            chunk = bytes(1 << 20)
            for _ in range(declared // len(chunk)):
                m.write(chunk)
    return path


def _measure(path: Any, **kwargs: Any) -> tuple[BaseException | None, float, int]:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        ad.load(path, **kwargs)
        err = None
    except BaseException as e:
        err = e
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return err, seconds, peak


def test_deflate_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    bomb = _deflate_bomb(tmp_path / "bomb.npz", 64 * 2**20)
    assert bomb.stat().st_size < 2**20
    err, seconds, peak = _measure(bomb)
    assert isinstance(err, CheckpointError)
    assert "over the ceiling" in str(err)
    assert "max_bytes" in str(err)
    assert seconds < 1.0
    assert peak < 2**20
    # a caller who trusts the file raises the ceiling: the stream is decompressed exactly
    back = ad.load(bomb, max_bytes=65 * 2**20, device="numpy:cpu")
    assert back.shape == (8 * 2**20,)
    assert not np.any(back.numpy())
    # and a ceiling below what ad.save wrote refuses an ordinary checkpoint
    path = tmp_path / "plain.npz"
    ad.save({"w": ad.zeros(1000)}, path)
    with pytest.raises(CheckpointError, match="over the ceiling of 100 "):
        ad.load(path, max_bytes=100)


def test_member_that_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    """A deflated member whose stream holds far more than the size it declares."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2,)}
    )
    declared = header.getvalue() + bytes(16)
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__autodiff_manifest__.npy", _manifest(_tensor_node("a0", "float64", [2])))
        zf.writestr("a0.npy", declared + bytes(8 << 20))
    data = bytearray(path.read_bytes())
    # patch the declared uncompressed size of a0.npy (local header and central directory)
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = data.find(sig, data.find(sig) + 1)  # the second member's record
        data[pos + at : pos + at + 4] = struct.pack("<I", len(declared))
    path.write_bytes(bytes(data))
    err, seconds, peak = _measure(path)
    assert isinstance(err, CheckpointError)
    assert seconds < 1.0
    assert peak < 2**20


def test_array_shape_larger_than_its_bytes_is_refused_before_allocating(tmp_path: Path) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    path = _archive(
        tmp_path / "huge.npz",
        {
            "__autodiff_manifest__.npy": _manifest(_tensor_node("a0", "float64", [10**12])),
            "a0.npy": header.getvalue() + bytes(8),
        },
    )
    err, _, peak = _measure(path)
    assert isinstance(err, CheckpointError)
    assert "declares shape (1000000000000,)" in str(err)
    assert peak < 2**20


def test_manifest_bombs_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arr = _npy(np.zeros(2500))
    # one 20 KB array named 5,000 times: each array may be read once
    path = _archive(
        tmp_path / "refs.npz",
        {
            "__autodiff_manifest__.npy": _manifest({"list": [_tensor_node("a0")] * 5000}),
            "a0.npy": arr,
        },
    )
    err, seconds, peak = _measure(path)
    assert isinstance(err, CheckpointError)
    assert seconds < 1.0
    assert "missing or named twice" in str(err)
    assert peak < 4 * 2**20
    # a manifest over the limit is refused from its declared size
    monkeypatch.setattr(serialization, "MAX_MANIFEST_BYTES", 1000)
    path = _archive(
        tmp_path / "big.npz",
        {"__autodiff_manifest__.npy": _manifest({"value": "x" * 5000})},
    )
    with pytest.raises(CheckpointError, match="manifest, over the limit of 1,000 bytes"):
        ad.load(path)


@pytest.mark.parametrize("depth", [serialization.MAX_DEPTH + 2, 100_000])
def test_deep_nesting_is_refused(tmp_path: Path, depth: int) -> None:
    text = '{"list": [' * depth + "]}" * depth
    raw = ('{"format": "autodiff-checkpoint", "version": 1, "tree": ' + text + "}").encode()
    path = _archive(
        tmp_path / "deep.npz",
        {"__autodiff_manifest__.npy": _npy(np.frombuffer(raw, dtype=np.uint8))},
    )
    err, seconds, _ = _measure(path)
    assert isinstance(err, CheckpointError)
    assert "nest" in str(err)
    assert seconds < 2.0


def test_saving_too_deep_or_cyclic_containers_raises(tmp_path: Path) -> None:
    nested: list[Any] = []
    for _ in range(serialization.MAX_DEPTH + 1):
        nested = [nested]
    with pytest.raises(ValueError, match="nested deeper than 64"):
        ad.save(nested, tmp_path / "deep.npz")
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="contains itself"):
        ad.save(cycle, tmp_path / "cycle.npz")
    ok: list[Any] = []
    for _ in range(serialization.MAX_DEPTH):
        ok = [ok]
    ad.save(ok, tmp_path / "ok.npz")
    assert ad.load(tmp_path / "ok.npz") == ok
    assert _leftovers(tmp_path, "ok.npz") == []


def _crafted(tmp_path: Path) -> dict[str, Path]:
    """Files that made the old loader raise something other than CheckpointError."""
    good = _npy(np.ones(2))
    files = {
        # AttributeError: a dict entry that holds a list
        "dict of list": {"__autodiff_manifest__.npy": _manifest({"dict": [1, 2]})},
        # TypeError: a tensor entry whose key is a list
        "list key": {
            "__autodiff_manifest__.npy": _manifest(_tensor_node([1], "float64")),  # type: ignore[arg-type]
            "a0.npy": good,
        },
        "value holding a dict": {"__autodiff_manifest__.npy": _manifest({"value": {"a": 1}})},
        "manifest not an object": {
            "__autodiff_manifest__.npy": _npy(np.frombuffer(b"[1]", np.uint8))
        },
        "manifest not utf-8": {
            "__autodiff_manifest__.npy": _npy(np.frombuffer(b"\xff\xfe", np.uint8))
        },
        "manifest 2-d": {"__autodiff_manifest__.npy": _npy(np.zeros((2, 2), np.uint8))},
        "manifest float": {"__autodiff_manifest__.npy": _npy(np.zeros(3))},
        "int requires grad": {
            "__autodiff_manifest__.npy": _manifest(
                {"tensor": "a0", "dtype": "int64", "requires_grad": True}
            ),
            "a0.npy": _npy(np.ones(2, np.int64)),
        },
        "structured dtype": {
            "__autodiff_manifest__.npy": _manifest(_tensor_node("a0", "float64")),
            "a0.npy": _npy(np.zeros(2, dtype=[("a", "<f8")])),
        },
        "fortran order": {
            "__autodiff_manifest__.npy": _manifest(_tensor_node("a0", "float64")),
            "a0.npy": _npy(np.asfortranarray(np.ones((2, 3)))),
        },
        "unreferenced member": {
            "__autodiff_manifest__.npy": _manifest({"value": 1}),
            "a0.npy": good,
        },
        "not .npy": {"__autodiff_manifest__.npy": _manifest({"value": 1}), "x.txt": b"hi"},
        "wrong shape in manifest": {
            "__autodiff_manifest__.npy": _manifest(_tensor_node("a0", "float64", [3])),
            "a0.npy": good,
        },
        "huge integer": {
            "__autodiff_manifest__.npy": _npy(
                np.frombuffer(
                    b'{"format": "autodiff-checkpoint", "version": 2, "tree": {"value": '
                    + b"9" * 5000
                    + b"}}",
                    np.uint8,
                )
            )
        },
        "version from the future": {"__autodiff_manifest__.npy": _manifest({"value": 1}, 99)},
    }
    out = {name: _archive(tmp_path / f"{i}.npz", m) for i, (name, m) in enumerate(files.items())}
    # NotImplementedError / RuntimeError in zipfile: unknown compression, encryption
    data = bytearray(_archive(tmp_path / "m.npz", files["dict of list"]).read_bytes())
    for sig, at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        pos = data.find(sig)
        data[pos + at : pos + at + 2] = struct.pack("<H", 99)
    (tmp_path / "method.npz").write_bytes(bytes(data))
    out["unknown compression"] = tmp_path / "method.npz"
    data = bytearray(_archive(tmp_path / "e.npz", files["dict of list"]).read_bytes())
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        data[pos + at] |= 1
    (tmp_path / "encrypted.npz").write_bytes(bytes(data))
    out["encrypted"] = tmp_path / "encrypted.npz"
    (tmp_path / "empty.npz").write_bytes(b"")
    out["empty"] = tmp_path / "empty.npz"
    (tmp_path / "sig.npz").write_bytes(b"PK\x03\x04" + bytes(100))
    out["signature only"] = tmp_path / "sig.npz"
    return out


def test_crafted_files_raise_only_checkpoint_error_naming_the_problem(tmp_path: Path) -> None:
    for name, path in _crafted(tmp_path).items():
        err, seconds, _ = _measure(path)
        assert isinstance(err, CheckpointError), (name, err)
        assert str(path) in str(err), (name, err)
        assert seconds < 2.0, name


# -- bfloat16 (item 16) -----------------------------------------------------------------


def test_bfloat16_round_trips_bit_for_bit(tmp_path: Path) -> None:
    backend = ad.get_backend()
    if not backend.supports("bfloat16"):
        pytest.skip(f"{backend.name} has no bfloat16")
    values = [1.5, -2.25, 3.140625, 0.0, -0.0, float("inf"), float("-inf"), 1e-38, 65280.0]
    w = ad.tensor(values, dtype=ad.float32).astype("bfloat16")
    w.requires_grad = True
    path = tmp_path / "bf16.npz"
    ad.save({"w": w, "nan": ad.tensor([float("nan")], dtype=ad.float32).astype("bfloat16")}, path)
    back = ad.load(path)
    assert back["w"].dtype.name == "bfloat16"
    assert back["w"].requires_grad
    bits = np.asarray(back["w"].detach().astype(ad.float32).numpy()).view(np.uint32)
    want = np.asarray(w.detach().astype(ad.float32).numpy()).view(np.uint32)
    assert np.array_equal(bits, want)  # -0.0 and the infinities included
    assert np.isnan(back["nan"].astype(ad.float32).numpy()).all()
    # stored as raw bits with the dtype's name, so any reader can decode it
    with np.load(path, allow_pickle=False) as raw:
        assert raw["a0"].dtype == np.uint16
        assert raw["a0"].tolist()[:2] == [0x3FC0, 0xC010]
    # a backend without bfloat16 says so
    with pytest.raises(CheckpointError, match="bfloat16.*cannot be loaded"):
        ad.load(path, device="numpy:cpu")


# -- the fuzz test ----------------------------------------------------------------------


@posix_only
def test_fuzz_every_damaged_file_raises_checkpoint_error_in_bounded_time_and_memory(
    tmp_path: Path,
) -> None:
    net = ad.nn.Sequential(ad.nn.Linear(4, 8), ad.nn.ReLU(), ad.nn.Linear(8, 2))
    opt = ad.optim.Adam(net.parameters(), lr=0.01)
    ad.nn.mse_loss(net(ad.ones((3, 4), dtype=ad.float32)), ad.zeros((3, 2))).backward()
    opt.step()
    obj = {"model": net.state_dict(), "optim": opt.state_dict(), "meta": {"epoch": 3}}
    good = tmp_path / "good.npz"
    ad.save(obj, good)
    data = good.read_bytes()
    reference = {k: v.numpy() for k, v in obj["model"].items()}
    rng = np.random.default_rng(0)
    cases: list[Path] = []

    def case(name: str, content: bytes) -> None:
        p = tmp_path / f"case{len(cases)}_{name}.npz"
        p.write_bytes(content)
        cases.append(p)

    for n in np.unique(np.linspace(0, len(data) - 1, 160).astype(int)):
        case("trunc", data[:n])
    for _ in range(200):
        flipped = bytearray(data)
        for i in rng.integers(0, len(data), rng.integers(1, 9)):
            flipped[i] ^= int(rng.integers(1, 256))
        case("flip", bytes(flipped))
    for _ in range(20):  # random garbage with the zip signature
        case("junk", b"PK\x03\x04" + rng.bytes(int(rng.integers(0, 4000))))
    cases.append(_deflate_bomb(tmp_path / "bomb.npz", 32 * 2**20))
    raw = (
        '{"format": "autodiff-checkpoint", "version": 1, "tree": '
        + '{"list": [' * 50_000
        + "]}" * 50_000
        + "}"
    )
    case(
        "deep",
        _archive(
            tmp_path / "d.npz",
            {"__autodiff_manifest__.npy": _npy(np.frombuffer(raw.encode(), np.uint8))},
        ).read_bytes(),
    )
    cases.extend(_crafted(tmp_path).values())
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    cases.append(fifo)
    for target in (fifo, tmp_path, tmp_path / "missing-target"):
        link = tmp_path / f"link{len(cases)}.npz"
        link.symlink_to(target)
        cases.append(link)
    dangling = cases[-1]
    loop = tmp_path / "loop.npz"
    loop.symlink_to(loop)
    cases.append(loop)

    loaded = 0
    for path in cases:
        err = _loads_within(path, 5.0)  # a FIFO or a hang fails here instead of blocking
        if err is None:  # a flip in a field nothing depends on (a timestamp): exact values
            back = ad.load(path)
            loaded += 1
            for k, v in reference.items():
                assert np.array_equal(back["model"][k].numpy(), v), path
            continue
        if path == dangling:
            assert isinstance(err, FileNotFoundError), (path, err)  # as for a missing file
            continue
        assert isinstance(err, CheckpointError), (path, type(err), err)
        size = path.stat().st_size if path.is_file() else 0
        _, seconds, peak = _measure(path)
        assert seconds < 2.0, (path, seconds)
        assert peak < 8 * size + 4 * 2**20, (path, peak)
    assert loaded < len(cases) // 4
