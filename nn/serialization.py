"""Checkpoints as safetensors files: `save`/`load` for state dicts, `save_checkpoint`/`load_checkpoint`.

Safe by construction: a safetensors file is a JSON header plus raw array bytes, so
loading parses JSON and copies bytes and can never run code (no pickle anywhere).

Writes are atomic: the bytes go to a temporary file in the target's directory,
which is flushed, fsynced and then renamed over the target with `os.replace`. A
crash at any point leaves either the old file or the new one, never half of one.

Every file written here carries a SHA-256 checksum (metadata key `nn.checksum`) of
the tensor names, dtypes, shapes, bytes and the other metadata, so a flipped bit
anywhere is caught on load. Files from elsewhere (no checksum) still load.

safetensors is an optional dependency (`pip install "autograd-core[nn]"`), imported on
first use, so `import nn` works without it; saving or loading without it is an
ImportError that names the extra.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

_CHECKSUM_KEY = "nn.checksum"
# Marks files written here. The checksum covers it, and its presence demands a
# checksum, so damage to either key's name is caught too.
_FORMAT_KEY, _FORMAT = "nn.format", "nn-safetensors-1"
_RESERVED_PREFIX = "nn."
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


class CheckpointError(ValueError):
    """A file that is not a valid, intact safetensors checkpoint (truncated, corrupted, or another format)."""


# ----------------------------------------------------------------- helpers
def _safetensors(where: str) -> Any:
    """The `safetensors` package, imported lazily (an optional dependency), or an ImportError saying what to install."""
    try:
        import safetensors.numpy
    except ImportError as exc:
        raise ImportError(
            f"{where}: nn's checkpoints need the safetensors package, which is not installed; "
            f'install the nn extra: pip install "autograd-core[nn]" (or pip install safetensors)'
        ) from exc
    return safetensors


def _contiguous(value: Any) -> np.ndarray:
    # Not np.ascontiguousarray: it turns 0-d arrays (e.g. num_batches_tracked) into shape (1,).
    arr = np.asarray(value)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _to_arrays(state_dict: Mapping[str, Any], where: str) -> dict[str, np.ndarray]:
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{where}: expected a dict of name -> array, got {type(state_dict).__name__}")
    out = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"{where}: keys must be strings, got {name!r}")
        arr = _contiguous(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{where}: '{name}' has dtype {arr.dtype}; only bool, integer and float arrays can be saved"
            )
        out[name] = arr
    return out


def _check_metadata(metadata: Mapping[str, str] | None, where: str) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError(f"{where}: metadata must be a dict of str -> str (encode other values, e.g. with json.dumps)")
    return dict(metadata)


def _checksum(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = arrays[name]
        h.update(json.dumps([name, arr.dtype.str, list(arr.shape)]).encode())
        h.update(_contiguous(arr).tobytes())
    h.update(json.dumps(sorted(metadata.items())).encode())
    return "sha256:" + h.hexdigest()


def _atomic_write(path: str, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory and `os.replace`."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # Make the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _read_header(path: str, data: bytes) -> dict[str, Any]:
    """Parse and sanity-check the safetensors header, with errors that say what is wrong."""
    if len(data) == 0:
        raise CheckpointError(f"load: '{path}' is empty, not a safetensors file")
    if len(data) < 8:
        raise CheckpointError(f"load: '{path}' is {len(data)} bytes, too short for a safetensors header (truncated?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or n > len(data) - 8:
        raise CheckpointError(
            f"load: '{path}' declares a {n}-byte header but has {len(data) - 8} bytes after the length field; "
            f"it is truncated or not a safetensors file"
        )
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"load: '{path}' has no valid safetensors JSON header (corrupted or another format): {exc}"
        ) from None
    if not isinstance(header, dict):
        raise CheckpointError(f"load: '{path}' has a safetensors header that is not a JSON object (corrupted)")
    return header


# ----------------------------------------------------------------- state dicts
def save(
    state_dict: Mapping[str, Any], path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None
) -> None:
    """Write `state_dict` (name -> Tensor or array) to `path` as safetensors, atomically.

    `metadata` is an optional dict of str -> str stored in the header; keys starting
    with 'nn.' are reserved. Dtypes and shapes are kept exactly.
    """
    path = os.fspath(path)
    arrays = _to_arrays(state_dict, "save")
    meta = _check_metadata(metadata, "save")
    if any(k.startswith(_RESERVED_PREFIX) for k in meta):
        raise ValueError(f"save: metadata keys starting with '{_RESERVED_PREFIX}' are reserved, got {sorted(meta)}")
    _save_arrays(arrays, path, meta, "save")


def _save_arrays(arrays: dict[str, np.ndarray], path: str, meta: dict[str, str], where: str) -> None:
    meta = {**meta, _FORMAT_KEY: _FORMAT}
    meta[_CHECKSUM_KEY] = _checksum(arrays, meta)
    _atomic_write(path, _safetensors(where).numpy.save(arrays, metadata=meta))


def load(path: str | os.PathLike[str], with_metadata: bool = False) -> Any:
    """Read a safetensors file: a dict of name -> `np.ndarray`.

    With `with_metadata=True` returns `(state, metadata)`, metadata being the str -> str
    dict given to `save` (the checksum key removed). Raises `CheckpointError` (a
    `ValueError`) naming the path and the problem for an empty, truncated, corrupted or
    non-safetensors file, and `FileNotFoundError` for a missing one.

    A PyTorch checkpoint (a `torch.save` file, zip or legacy format, recognised by its first
    bytes) is read by `nn.torch_checkpoint` without PyTorch and without executing code; its
    metadata is `{}`.
    """
    path = os.fspath(path)
    from . import torch_checkpoint  # here, not at the top: it imports CheckpointError from this module

    kind = torch_checkpoint.sniff(path)  # by the first bytes, not the extension
    if kind is not None:
        state = torch_checkpoint.load_torch(path, kind)
        return (state, {}) if with_metadata else state
    safetensors = _safetensors("load")  # before reading: a missing package is the first thing to fix
    with open(path, "rb") as f:
        data = f.read()
    header = _read_header(path, data)
    try:
        arrays = safetensors.numpy.load(data)
    except safetensors.SafetensorError as exc:
        raise CheckpointError(
            f"load: '{path}' is not a valid safetensors file (truncated or corrupted): {exc}"
        ) from None
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f"load: '{path}' has malformed metadata (corrupted)")
    meta = dict(meta)
    expected = meta.pop(_CHECKSUM_KEY, None)
    if expected is None and _FORMAT_KEY in meta:
        raise CheckpointError(f"load: '{path}' lost its checksum entry: the file is corrupted")
    if expected is not None and expected != _checksum(arrays, meta):
        raise CheckpointError(f"load: '{path}' failed its checksum: the file is corrupted")
    meta.pop(_FORMAT_KEY, None)
    return (arrays, meta) if with_metadata else arrays


# ----------------------------------------------------------------- training checkpoints
def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Save model weights, and optionally optimizer and scheduler state, to one safetensors file.

    Layout: 'model.<name>' for `model.state_dict()`; 'optimizer.state.<index>.<key>' for
    each optimizer state array; the optimizer's param groups and scalar state (e.g.
    'step'), the scheduler's state and `epoch` go into the metadata as JSON under
    'nn.optimizer', 'nn.scheduler' and 'nn.epoch'. Restore with `load_checkpoint`.
    """
    path = os.fspath(path)
    meta = _check_metadata(metadata, "save_checkpoint")
    if any(k.startswith(_RESERVED_PREFIX) for k in meta):
        raise ValueError(f"save_checkpoint: metadata keys starting with '{_RESERVED_PREFIX}' are reserved")
    arrays = {f"model.{k}": v for k, v in _to_arrays(model.state_dict(), "save_checkpoint").items()}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for idx, entry in sd["state"].items():
            for key, value in entry.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optimizer.state.{idx}.{key}"] = _contiguous(value)
                else:
                    scalars.setdefault(str(idx), {})[key] = _json_value(value)
        groups = [{k: _json_value(v) for k, v in g.items()} for g in sd["param_groups"]]
        meta["nn.optimizer"] = json.dumps(
            {"class": type(optimizer).__name__, "param_groups": groups, "scalars": scalars}
        )
    if scheduler is not None:
        state = {k: _json_value(v) for k, v in scheduler.state_dict().items()}
        meta["nn.scheduler"] = json.dumps({"class": type(scheduler).__name__, "state": state})
    if epoch is not None:
        meta["nn.epoch"] = str(int(epoch))
    _save_arrays(arrays, path, meta, "save_checkpoint")


def _training_state(meta: Mapping[str, str], key: str, path: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object stored under metadata `key`, with `fields` present, or a CheckpointError."""
    try:
        value = json.loads(meta[key])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"load_checkpoint: '{path}' has malformed {key} metadata (corrupted): {exc}") from None
    if not isinstance(value, dict) or not all(f in value for f in fields):
        raise CheckpointError(
            f"load_checkpoint: '{path}' has malformed {key} metadata (corrupted): expected an object with {fields}"
        )
    return value


def load_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    strict: bool = True,
) -> dict[str, Any]:
    """Restore what `save_checkpoint` wrote into `model` (and `optimizer`, `scheduler` if given).

    Returns {'epoch': int or None, 'metadata': the user's str -> str metadata}.
    Resuming from it continues training exactly as if it had never stopped.
    """
    path = os.fspath(path)
    arrays, meta = load(path, with_metadata=True)
    model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model.")}, strict=strict)
    if optimizer is not None:
        if "nn.optimizer" not in meta:
            raise ValueError(f"load_checkpoint: '{path}' holds no optimizer state")
        saved = _training_state(meta, "nn.optimizer", path, ("class", "param_groups", "scalars"))
        if saved["class"] != type(optimizer).__name__:
            raise ValueError(
                f"load_checkpoint: '{path}' holds {saved['class']} state, "
                f"cannot load it into {type(optimizer).__name__}"
            )
        try:
            state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in saved["scalars"].items()}
            for key, value in arrays.items():
                if key.startswith("optimizer.state."):
                    idx, name = key[len("optimizer.state.") :].split(".", 1)
                    state.setdefault(int(idx), {})[name] = value
        except (TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(
                f"load_checkpoint: '{path}' has malformed optimizer state (corrupted): {exc}"
            ) from None
        groups = saved["param_groups"]
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise CheckpointError(f"load_checkpoint: '{path}' has malformed optimizer param_groups (corrupted)")
        for saved_group, group in zip(groups, optimizer.param_groups):
            for k, v in saved_group.items():  # JSON turned tuples (betas) into lists
                if isinstance(group.get(k), tuple) and isinstance(v, list):
                    saved_group[k] = tuple(v)
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    if scheduler is not None:
        if "nn.scheduler" not in meta:
            raise ValueError(f"load_checkpoint: '{path}' holds no scheduler state")
        scheduler.load_state_dict(_training_state(meta, "nn.scheduler", path, ("class", "state"))["state"])
    epoch = meta.pop("nn.epoch", None)
    if epoch is not None and not epoch.lstrip("-").isdigit():
        raise CheckpointError(f"load_checkpoint: '{path}' has a malformed epoch {epoch!r} (corrupted)")
    user_meta = {k: v for k, v in meta.items() if not k.startswith(_RESERVED_PREFIX)}
    return {"epoch": None if epoch is None else int(epoch), "metadata": user_meta}
