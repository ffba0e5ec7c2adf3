"""``ad.save`` / ``ad.load``: checkpoints that cannot run code when loaded.

The format is a NumPy ``.npz`` (a zip of uncompressed ``.npy`` arrays) plus a JSON
manifest describing the structure (nested dicts, lists and tuples of tensors, numbers,
strings, booleans and None). Nothing is unpickled, so a hostile file can at worst fail
to load, and it fails early and cheaply: every size a file declares (zip members, the
manifest, each array's shape and dtype) is checked against the bytes present and against
a ceiling before anything is read, and every problem raises ``CheckpointError``.
Arrays are stored exactly (bit for bit; bfloat16 as its raw 16 bits) and loaded onto
the current backend or onto ``device``, so a checkpoint saved on one backend loads on
another.

Writes are atomic and exclusive: a uniquely named temporary file in the destination's
folder, created with ``O_EXCL | O_NOFOLLOW``, is written, fsynced, renamed onto the
destination, and the folder is fsynced; on any error the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import secrets
import stat
import zipfile
from typing import Any

import numpy as np

import autodiff as ad

from . import _dtypes
from ._config import resolve_device

__all__ = ["MAX_DEPTH", "MAX_MANIFEST_BYTES", "CheckpointError", "load", "save"]

FORMAT = "autodiff-checkpoint"
#: version 2 adds each tensor's shape to the manifest and bfloat16; version 1 still loads
VERSION = 2
_READS = (1, 2)
_MANIFEST = "__autodiff_manifest__"
#: the most levels of nested containers a checkpoint may hold (saving refuses deeper ones)
MAX_DEPTH = 64
#: the largest manifest ``ad.load`` parses (about 200,000 tensors)
MAX_MANIFEST_BYTES = 16 * 2**20
_MAX_NPY_HEADER = 10_000
#: the dtypes a checkpoint may hold, by name (bfloat16 is stored as uint16 bits)
_DTYPES = frozenset(dt.name for dt in _dtypes.ALL_DTYPES)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class CheckpointError(ValueError):
    """A file is not a readable autodiff checkpoint (truncated, corrupt, too large or foreign).

    Examples
    --------
    >>> import autodiff as ad, tempfile, os
    >>> from autodiff.serialization import CheckpointError
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("not a checkpoint")
    >>> try:
    ...     ad.load(path)
    ... except CheckpointError as err:
    ...     print(isinstance(err, ValueError), "not a .npz archive" in str(err))
    True True
    """


# -- saving ----------------------------------------------------------------------------


def _host_array(t: ad.Tensor) -> np.ndarray:
    """The tensor's bytes as a C-contiguous NumPy array (bfloat16 as uint16 bits)."""
    t = t.detach()
    if t.dtype is _dtypes.bfloat16:
        # bfloat16 is the upper half of a float32: exact through float32 on every backend
        f32 = np.ascontiguousarray(t.astype(_dtypes.float32).numpy(), dtype=np.float32)
        return (f32.view(np.uint32) >> 16).astype(np.uint16)
    return np.ascontiguousarray(t.numpy())


def _encode(obj: Any, arrays: dict[str, np.ndarray], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(
            f"cannot save containers nested deeper than {MAX_DEPTH} levels (or a container "
            "that contains itself)."
        )
    if isinstance(obj, ad.Tensor):
        level = getattr(obj, "_level", None)  # a value of a running jvp or vmap
        if level is not None:
            raise TypeError(
                f"cannot save a value inside {level.kind} (a dual number or a batched "
                "value): a checkpoint holds one array per tensor, so its tangent or batch "
                f"would be lost. Return it from the {level.kind}'d function (which gives "
                "ordinary tensors) and save those."
            )
        key = f"a{len(arrays)}"
        arrays[key] = _host_array(obj)
        return {
            "tensor": key,
            "dtype": obj.dtype.name,
            "requires_grad": obj.requires_grad,
            "shape": list(obj.shape),
        }
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"checkpoint dict keys must be strings, got {k!r}.")
        return {"dict": {k: _encode(v, arrays, depth + 1) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, depth + 1) for v in obj]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(
        f"cannot save {type(obj).__name__}: checkpoints hold tensors, numbers, strings, "
        "None and dicts/lists/tuples of them (use module.state_dict() for models)."
    )


def _create_exclusive(folder: str, name: str) -> tuple[int, str]:
    """A new, uniquely named file in ``folder``: never an existing file, never a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {folder}.")


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open a folder; its rename is durable on its own
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` (a tensor, a state dict, optimizer state, nested containers) to ``path``.

    The write is atomic: a uniquely named temporary file next to ``path`` (created
    exclusively, never through a symbolic link) is written and fsynced, then renamed onto
    ``path``, and the folder is fsynced. Concurrent saves to one path each leave a
    complete checkpoint (the last rename wins); an interrupted save leaves the previous
    file untouched and no temporary file behind.

    Parameters
    ----------
    obj : Tensor, number, str, bool, None, or dicts/lists/tuples of them
        Dict keys must be strings; at most ``MAX_DEPTH`` levels of nesting.
    path : str or os.PathLike
        The file to write. A symbolic link at ``path`` is replaced, not written through.

    Examples
    --------
    >>> import autodiff as ad, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> ad.save({"w": ad.tensor([1.0, 2.0]), "step": 3}, path)
    >>> ad.load(path)["w"].tolist()
    [1.0, 2.0]
    """
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays, 0)
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree}).encode()
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, "the folder to save in does not exist", folder)
    fd, tmp = _create_exclusive(folder, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                members = {_MANIFEST: np.frombuffer(manifest, dtype=np.uint8), **arrays}
                for key, arr in members.items():
                    with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, arr, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


# -- loading ---------------------------------------------------------------------------


def load(path: str | os.PathLike[str], *, device: Any = None, max_bytes: int | None = None) -> Any:
    """Read a checkpoint written by ``save``; tensors go to ``device`` (current backend if None).

    Parameters
    ----------
    path : str or os.PathLike
        A regular file (a FIFO, device or folder is refused without blocking).
    device : str or Device, optional
        Where the tensors go.
    max_bytes : int, optional
        The most bytes the checkpoint's contents (arrays and manifest, uncompressed) may
        take. By default the size of the file itself: what ``save`` writes (uncompressed)
        always fits, and a compressed archive cannot expand past its own size. Lower it
        for untrusted files, raise it to read an archive whose members are compressed.

    Raises
    ------
    CheckpointError
        (a ``ValueError``) for every problem with the file: not a regular file,
        unreadable, truncated, corrupt, larger than ``max_bytes``, nested deeper than
        ``MAX_DEPTH``, not a checkpoint, or holding anything that would need unpickling.
        The message says what is wrong.
    FileNotFoundError
        When ``path`` does not exist.

    Examples
    --------
    >>> import autodiff as ad, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> ad.save({"w": ad.tensor([1.5], requires_grad=True), "epochs": (1, 2)}, path)
    >>> state = ad.load(path)
    >>> state["w"].tolist(), state["w"].requires_grad, state["epochs"]
    ([1.5], True, (1, 2))
    """
    path = os.fspath(path)
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0
    ):
        raise ValueError(f"max_bytes must be a non-negative int or None, got {max_bytes!r}.")
    if device is not None:
        device = resolve_device(device)  # a bad device is the caller's error, not the file's
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise CheckpointError(f"cannot open {path}: {err.strerror or err}.") from err
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise CheckpointError(
            f"{path} is not a regular file (it is a {_file_kind(st.st_mode)}); "
            "a checkpoint is a file written by ad.save."
        )
    with os.fdopen(fd, "rb") as fh:
        ceiling = st.st_size if max_bytes is None else max_bytes
        try:
            return _read(path, fh, st.st_size, ceiling, device)
        except CheckpointError:
            raise
        except (MemoryError, OverflowError) as err:
            raise CheckpointError(f"{path} is too large to load: {err}") from err
        except RecursionError as err:
            raise CheckpointError(f"{path} has a manifest nested too deeply.") from err
        except Exception as err:  # a crafted file can make zipfile/numpy raise anything
            raise CheckpointError(
                f"{path} is truncated or corrupt: {type(err).__name__}: {err}"
            ) from err


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return kind
    return "special file"


def _check_members(path: str, zf: zipfile.ZipFile, size: int, ceiling: int) -> dict[str, Any]:
    """Every member's declared sizes, checked before any member is read."""
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in zf.infolist():
        name = info.filename
        if not name.endswith(".npy") or name[:-4] in members:
            raise CheckpointError(f"{path} has an unexpected or repeated member {name!r}.")
        if info.flag_bits & 0x1:
            raise CheckpointError(f"{path}: member {name!r} is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(
                f"{path}: member {name!r} uses compression method {info.compress_type}; "
                "checkpoints are stored or deflated."
            )
        stored = info.compress_type == zipfile.ZIP_STORED
        if info.compress_size > size or (stored and info.file_size != info.compress_size):
            raise CheckpointError(
                f"{path}: member {name!r} declares {info.file_size} bytes "
                f"({info.compress_size} stored) but the file holds {size}: it is truncated or corrupt."
            )
        total += info.file_size
        members[name[:-4]] = info
    if total > ceiling:
        raise CheckpointError(
            f"{path} declares {total:,} bytes of contents, over the ceiling of {ceiling:,} "
            "(by default the file's own size); pass ad.load(path, max_bytes=...) to allow more."
        )
    return members


def _read(path: str, fh: Any, size: int, ceiling: int, device: Any) -> Any:
    if fh.read(4) != b"PK\x03\x04":
        raise CheckpointError(f"{path} is not an autodiff checkpoint (it is not a .npz archive).")
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        members = _check_members(path, zf, size, ceiling)
        info = members.pop(_MANIFEST, None)
        if info is None:
            raise CheckpointError(
                f"{path} has no autodiff manifest: it is a plain .npz, not a checkpoint."
            )
        if info.file_size > MAX_MANIFEST_BYTES:
            raise CheckpointError(
                f"{path} has a {info.file_size:,}-byte manifest, over the limit of "
                f"{MAX_MANIFEST_BYTES:,} bytes."
            )
        raw = _read_array(path, zf, info, _MANIFEST, "uint8")
        if raw.ndim != 1:
            raise CheckpointError(f"{path} has a malformed manifest.")
        manifest = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(manifest, dict):
            raise CheckpointError(f"{path} has a malformed manifest.")
        if manifest.get("format") != FORMAT:
            raise CheckpointError(
                f"{path} is not an autodiff checkpoint (format {manifest.get('format')!r})."
            )
        version = manifest.get("version")
        if version not in _READS:
            raise CheckpointError(
                f"{path} is checkpoint version {version!r}; this autodiff reads versions "
                f"{', '.join(map(str, _READS))}."
            )
        decoder = _Decoder(path, zf, members, device)
        out = decoder.decode(manifest.get("tree"), 0)
        if members:
            raise CheckpointError(
                f"{path} has arrays the manifest never names: {sorted(members)[:5]}."
            )
        return out


def _read_array(
    path: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, expect: str
) -> np.ndarray:
    """One ``.npy`` member: header checked against its size, then exactly that many bytes."""
    with zf.open(info) as member:
        head = io.BytesIO(member.read(min(info.file_size, _MAX_NPY_HEADER + 16)))
    version = np.lib.format.read_magic(head)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(head, _MAX_NPY_HEADER)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(head, _MAX_NPY_HEADER)
    else:
        raise CheckpointError(f"{path}: array {key} has .npy version {version}.")
    if (
        dtype.hasobject
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.kind not in "biufc"
        or dtype.name != expect
        or fortran
    ):
        raise CheckpointError(
            f"{path}: array {key} holds {dtype}{' (column-major)' if fortran else ''}, "
            f"the manifest says {expect}."
        )
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise CheckpointError(f"{path}: array {key} has an invalid shape {shape}.")
    offset = head.tell()
    nbytes = math.prod(shape) * dtype.itemsize
    if offset + nbytes != info.file_size:
        raise CheckpointError(
            f"{path}: array {key} declares shape {shape} of {dtype} ({nbytes:,} bytes) "
            f"but its member holds {info.file_size - offset:,}: it is truncated or corrupt."
        )
    with zf.open(info) as member:
        member.read(offset)
        data = member.read(nbytes)  # zipfile stops at the declared size and checks the CRC
        if len(data) != nbytes or member.read(1):
            raise CheckpointError(f"{path}: array {key} is truncated.")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


class _Decoder:
    """Turns manifest nodes into values, reading each named array once."""

    def __init__(self, path: str, zf: zipfile.ZipFile, members: dict[str, Any], device: Any):
        self.path = path
        self.zf = zf
        self.members = members
        self.device = device

    def bad(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.path} has a malformed manifest: {what}.")

    def decode(self, node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise CheckpointError(
                f"{self.path} nests containers deeper than {MAX_DEPTH} levels (MAX_DEPTH)."
            )
        if not isinstance(node, dict) or not node:
            raise self.bad(f"entry {str(node)[:80]!r} is not an object")
        if "tensor" in node:
            return self.tensor(node)
        if len(node) != 1:
            raise self.bad(f"entry with keys {sorted(node)[:5]}")
        kind, value = next(iter(node.items()))
        if kind == "dict" and isinstance(value, dict):
            return {k: self.decode(v, depth + 1) for k, v in value.items()}
        if kind in ("list", "tuple") and isinstance(value, list):
            items = [self.decode(v, depth + 1) for v in value]
            return items if kind == "list" else tuple(items)
        if kind == "value" and (value is None or isinstance(value, (bool, int, float, str))):
            return value
        raise self.bad(f"entry of kind {kind!r} holding {type(value).__name__}")

    def tensor(self, node: dict[str, Any]) -> ad.Tensor:
        keys = set(node)
        if keys not in (
            {"tensor", "dtype", "requires_grad"},
            {"tensor", "dtype", "requires_grad", "shape"},
        ):
            raise self.bad(f"tensor entry with keys {sorted(keys)[:6]}")
        key, name, grad = node["tensor"], node["dtype"], node["requires_grad"]
        if not isinstance(key, str) or not isinstance(grad, bool):
            raise self.bad(f"tensor entry {str(node)[:120]}")
        if name not in _DTYPES:
            raise self.bad(f"array {key[:40]!r} has unknown dtype {str(name)[:40]!r}")
        info = self.members.pop(key, None)
        if info is None:
            raise CheckpointError(
                f"{self.path}: the manifest names array {key!r}, which is missing or named twice."
            )
        bf16 = name == _dtypes.bfloat16.name
        arr = _read_array(self.path, self.zf, info, key, "uint16" if bf16 else name)
        if "shape" in node and node["shape"] != list(arr.shape):
            raise CheckpointError(
                f"{self.path}: array {key} has shape {arr.shape}, the manifest says {node['shape']}."
            )
        if bf16:
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        try:
            t = ad.asarray(arr, device=self.device, copy=True)
            if bf16:
                t = t.astype(_dtypes.bfloat16)
            if grad:
                t.requires_grad = True
        except (TypeError, ValueError, RuntimeError) as err:
            raise CheckpointError(
                f"{self.path}: array {key} ({name}, shape {arr.shape}) cannot be loaded here: {err}"
            ) from err
        return t
