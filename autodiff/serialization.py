"""``ad.save`` / ``ad.load``: checkpoints that cannot run code when loaded.

The format is a NumPy ``.npz`` (a zip of ``.npy`` arrays) read with
``allow_pickle=False``, plus a JSON manifest describing the structure
(nested dicts, lists and tuples of tensors, numbers, strings, booleans and
None). Nothing is unpickled, so a hostile file can at worst fail to load.
Arrays are stored exactly (bit for bit) and loaded onto the current backend
or onto ``device``, so a checkpoint saved on one backend loads on another.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

import autodiff as ad

from .tensor import Tensor

__all__ = ["CheckpointError", "load", "save"]

FORMAT = "autodiff-checkpoint"
VERSION = 1
_MANIFEST = "__autodiff_manifest__"


class CheckpointError(ValueError):
    """A file is not a readable autodiff checkpoint (truncated, corrupt or foreign).

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


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, Tensor):
        key = f"a{len(arrays)}"
        host = np.ascontiguousarray(obj.numpy())
        arrays[key] = host
        return {"tensor": key, "dtype": obj.dtype.name, "requires_grad": obj.requires_grad}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"checkpoint dict keys must be strings, got {k!r}.")
        return {"dict": {k: _encode(v, arrays) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_encode(v, arrays) for v in obj]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(
        f"cannot save {type(obj).__name__}: checkpoints hold tensors, numbers, strings, "
        "None and dicts/lists/tuples of them (use module.state_dict() for models)."
    )


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` (a tensor, a state dict, optimizer state, nested containers) to ``path``.

    Parameters
    ----------
    obj : Tensor, number, str, bool, None, or dicts/lists/tuples of them
        Dict keys must be strings.
    path : str or os.PathLike
        The file to write (atomically: a temporary file is renamed onto it).

    Examples
    --------
    >>> import autodiff as ad, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> ad.save({"w": ad.tensor([1.0, 2.0]), "step": 3}, path)
    >>> ad.load(path)["w"].tolist()
    [1.0, 2.0]
    """
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays)
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree})
    arrays[_MANIFEST] = np.frombuffer(manifest.encode(), dtype=np.uint8)
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)  # never leaves a half-written checkpoint behind


def _decode(node: Any, data: Any, device: Any) -> Any:
    if not isinstance(node, dict) or len(node) not in (1, 3):
        raise CheckpointError(f"malformed manifest entry {node!r}.")
    if "tensor" in node:
        arr = data[node["tensor"]]
        if arr.dtype.name != node["dtype"]:
            raise CheckpointError(
                f"array {node['tensor']} has dtype {arr.dtype.name}, the manifest says {node['dtype']}."
            )
        return ad.tensor(arr, device=device, requires_grad=bool(node["requires_grad"]))
    kind, value = next(iter(node.items()))
    if kind == "dict":
        return {k: _decode(v, data, device) for k, v in value.items()}
    if kind == "list":
        return [_decode(v, data, device) for v in value]
    if kind == "tuple":
        return tuple(_decode(v, data, device) for v in value)
    if kind == "value":
        return value
    raise CheckpointError(f"unknown manifest entry kind {kind!r}.")


def load(path: str | os.PathLike[str], *, device: Any = None) -> Any:
    """Read a checkpoint written by ``save``; tensors go to ``device`` (current backend if None).

    Raises
    ------
    CheckpointError
        (a ``ValueError``) when the file is truncated, corrupt, not a checkpoint,
        or contains anything that would need unpickling.
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
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise CheckpointError(
                f"{path} is not an autodiff checkpoint (it is not a .npz archive)."
            )
        fh.seek(0)
        try:
            with np.load(fh, allow_pickle=False) as data:
                return _read(path, data, device)
        except CheckpointError:
            raise
        except (
            zipfile.BadZipFile,
            ValueError,
            KeyError,
            OSError,
            EOFError,
            UnicodeDecodeError,
        ) as err:
            raise CheckpointError(f"{path} is truncated or corrupt: {err}") from err


def _read(path: str, data: Any, device: Any) -> Any:
    if _MANIFEST not in data.files:
        raise CheckpointError(
            f"{path} has no autodiff manifest: it is a plain .npz, not a checkpoint."
        )
    manifest = json.loads(data[_MANIFEST].tobytes().decode())
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{path} has a malformed manifest.")
    if manifest.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not an autodiff checkpoint (format {manifest.get('format')!r})."
        )
    if manifest.get("version") != VERSION:
        raise CheckpointError(
            f"{path} is checkpoint version {manifest.get('version')}; this autodiff reads version {VERSION}."
        )
    return _decode(manifest["tree"], data, device)
