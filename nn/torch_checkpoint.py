"""Read PyTorch checkpoints (files written by `torch.save`) without PyTorch and without executing code.

`nn.load(path)` sends a file here when its first bytes are those of a zip archive or of a
pickle (the extension is not trusted: `.pt`, `.pth`, `.bin` or anything else).

Formats read
------------
* The zip format, `torch.save`'s default since PyTorch 1.6: `<name>/data.pkl` (the pickled
  object, protocol 2), `<name>/data/<key>` (the raw bytes of one storage each),
  `<name>/byteorder` ("little" or "big"; little when absent), `<name>/version` and a few
  bookkeeping entries that are ignored. Entries must be stored uncompressed, as torch writes them.
* The legacy format (`torch.save(..., _use_new_zipfile_serialization=False)`): pickled magic
  number, protocol version (1001) and system info, the pickled object, the pickled list of
  storage keys, then per storage an int64 element count and its raw little-endian bytes.
  The whole file is read into memory. This format has no checksums: damage to tensor bytes
  goes unnoticed (zip entries carry CRC-32s, so there it is caught).

What comes back
---------------
Tensors (`torch._utils._rebuild_tensor_v2` / `_v3`, and `nn.Parameter` through
`_rebuild_parameter`) become new C-contiguous `np.ndarray`s copied out of their storage:
views that share a storage, storage offsets, non-contiguous and zero strides, 0-d and empty
tensors are all rebuilt exactly. dtypes: float16/32/64, int8/16/32/64, uint8/16/32/64, bool;
bfloat16 becomes float32 (NumPy has no bfloat16; the widening is exact). Device locations
are ignored: everything is loaded to the CPU, like `map_location="cpu"`.
Containers: dict and `collections.OrderedDict` both come back as plain dicts (a state dict's
`_metadata` attribute, PyTorch's per-module version numbers, is dropped), list, tuple, set,
frozenset; leaves str, bytes, int, float, bool, None; `torch.Size` becomes a tuple. So a state
dict comes back as `{name: np.ndarray}`, as from a safetensors file, and any other object is
returned as the same structure with arrays in place of tensors.

What is refused (`nn.CheckpointError`, naming the file and the reason)
---------------------------------------------------------------------
Every other global (`os.system`, `builtins.eval`, pickled NumPy arrays, whole `nn.Module`
objects, any user class, ...) is refused by name before anything is called; TorchScript
archives; sparse, quantized and other tensor kinds; bare storages; storages whose declared
size disagrees with the bytes in the file or that are missing; tensors whose offset, size or
stride reach outside their storage; malformed, truncated or bit-flipped files; nesting deeper
than `_MAX_DEPTH` and self-containing structures; and arrays adding up to more than
`_EXPANSION` times the file's size plus `_SLACK` bytes (zero strides could otherwise blow a
small file up into huge arrays).

How it stays safe
-----------------
The pickle is read by a `pickle.Unpickler` whose `find_class` returns only inert stand-ins
defined in this module (never an object named by the file), and whose `persistent_load` only
names storages checked against the archive. Before the unpickler runs, `pickletools.genops`
walks the opcode stream without building anything: globals named in it are checked, every
declared length is checked against the bytes present (so no allocation follows a forged
length), memo indices are bounded, and opcodes `torch.save` never writes (the copyreg extension
registry, out-of-band buffers) are refused. Every object of ours the pickle can reach refuses
BUILD, so a file cannot alter the stand-ins. Reading writes nothing and imports nothing.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
import struct
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from .serialization import CheckpointError

__all__ = ["sniff", "load_torch"]

_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # the legacy format's first pickle
_LEGACY_PROTOCOL_VERSION = 1001
_MAX_DEPTH = 100  # nesting of containers in the loaded object
_MAX_DIMS = 32
_EXPANSION, _SLACK = 8, 64 * 1024 * 1024  # arrays may total _EXPANSION x the file size + _SLACK bytes
# torch.save never writes these: the copyreg extension registry, text persistent ids, out-of-band buffers.
# (INST, OBJ and NEWOBJ need no ban: they can only call or instantiate what find_class returned.)
_REFUSED_OPCODES = frozenset({"EXT1", "EXT2", "EXT4", "PERSID", "NEXT_BUFFER", "READONLY_BUFFER"})
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


class _Bad(Exception):
    """A reason to refuse the file; `load_torch` turns it into a CheckpointError that names the path."""


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# ----------------------------------------------------------------- dtypes
class _DType:
    """A torch dtype: its name, the NumPy dtype of its stored (little-endian) bytes, and what NumPy returns."""

    __slots__ = ("name", "stored", "out")

    def __init__(self, name: str, stored: str, out: str | None = None) -> None:
        self.name, self.stored = name, np.dtype(stored)
        self.out = np.dtype(out or stored).newbyteorder("=")


_DTYPES = {
    d.name: d
    for d in (
        _DType("float16", "<f2"), _DType("float32", "<f4"), _DType("float64", "<f8"),
        _DType("bfloat16", "<u2", "f4"),  # the upper half of a float32
        _DType("int8", "i1"), _DType("int16", "<i2"), _DType("int32", "<i4"), _DType("int64", "<i8"),
        _DType("uint8", "u1"), _DType("uint16", "<u2"), _DType("uint32", "<u4"), _DType("uint64", "<u8"),
        _DType("bool", "u1", "?"),  # any nonzero byte is True, as in torch
    )
}  # fmt: skip
_DTYPE_ALIASES = {"half": "float16", "float": "float32", "double": "float64", "short": "int16", "int": "int32",
                  "long": "int64"}
_STORAGE_TYPES = {
    "HalfStorage": "float16", "FloatStorage": "float32", "DoubleStorage": "float64", "BFloat16Storage": "bfloat16",
    "CharStorage": "int8", "ShortStorage": "int16", "IntStorage": "int32", "LongStorage": "int64",
    "ByteStorage": "uint8", "BoolStorage": "bool",
    "UntypedStorage": "uint8",  # bytes; _rebuild_tensor_v3 names the tensor's dtype
}  # fmt: skip


# ----------------------------------------------------------------- what the pickle may see
class _Inert:
    """Base of every object of ours the pickle can reach: __slots__ leaves no __dict__ for BUILD to
    write into, and BUILD's __setstate__ is refused, so a file cannot alter our objects."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise _Bad(f"the pickle tries to set the state of {self.describe()} (BUILD), which torch.save never does")

    def describe(self) -> str:
        return f"an object of type {type(self).__name__}"


class _Global(_Inert):
    """The stand-in find_class returns for an allow-listed global: callable only if it rebuilds something."""

    __slots__ = ("name", "kind", "value")

    def __init__(self, name: str, kind: str, value: Any) -> None:
        self.name, self.kind, self.value = name, kind, value

    def __call__(self, *args: Any) -> Any:
        if self.kind != "call":
            raise _Bad(f"the pickle calls {self.describe()}, which torch.save never does")
        try:
            return self.value(*args)
        except TypeError as exc:  # wrong arity: a forged call
            raise _Bad(f"{self.name} called with {len(args)} arguments ({exc})") from None

    def describe(self) -> str:
        return f"the global '{self.name}'"


class _Storage(_Inert):
    """A storage named by a persistent id, checked against the file; its bytes are read when first needed."""

    __slots__ = ("key", "dtype", "nbytes", "data")

    def __init__(self, key: str, dtype: _DType, nbytes: int) -> None:
        self.key, self.dtype, self.nbytes, self.data = key, dtype, nbytes, None

    def describe(self) -> str:
        return f"a bare storage (key {_short(self.key)!r}), not a tensor"


class _TensorRef(_Inert):
    """A tensor whose geometry has been checked against its storage; materialized after unpickling."""

    __slots__ = ("storage", "offset", "size", "stride", "dtype")

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple, dtype: _DType) -> None:
        self.storage, self.offset, self.size, self.stride, self.dtype = storage, offset, size, stride, dtype


class _StateDict(dict):
    """Stand-in for collections.OrderedDict. torch pickles a state dict's `_metadata` attribute with
    BUILD; it only holds version numbers, so the state is dropped rather than set."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        pass


def _is_int(value: Any) -> bool:
    return type(value) is int  # not bool, not a subclass


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if type(value) not in (tuple, list) or len(value) > _MAX_DIMS:
        raise _Bad(f"tensor {what} must be a tuple of at most {_MAX_DIMS} ints, got {type(value).__name__}")
    if not all(_is_int(v) and 0 <= v < 2**62 for v in value):
        raise _Bad(f"tensor {what} must hold ints in [0, 2**62), got {_short(repr(tuple(value)))}")
    return tuple(value)


def _tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any, metadata: Any,
            dtype: _DType | None) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise _Bad(f"a tensor is rebuilt from {_describe(storage)} instead of a storage")
    dtype = dtype or storage.dtype
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if len(size) != len(stride):
        raise _Bad(f"tensor size {size} and stride {stride} differ in length")
    if not _is_int(offset) or offset < 0:
        raise _Bad(f"tensor storage offset must be a non-negative int, got {_short(repr(offset))}")
    if type(requires_grad) is not bool or not isinstance(hooks, dict):
        raise _Bad("malformed tensor arguments (requires_grad must be a bool, backward hooks a dict)")
    if metadata is not None and (not isinstance(metadata, dict) or any(v is not False for v in metadata.values())):
        raise _Bad("tensors with conj/neg bits or other metadata are not supported")
    available = storage.nbytes // dtype.stored.itemsize
    if math.prod(size) > 0:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= available:  # also where a forged size or stride would read out of bounds
            raise _Bad(
                f"tensor of size {size}, stride {stride}, offset {offset} reads element {last} "
                f"of storage {_short(storage.key)!r}, which holds {available} {dtype.name} elements"
            )
    return _TensorRef(storage, offset, size, stride, dtype)


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any,
                       metadata: Any = None) -> _TensorRef:
    return _tensor(storage, offset, size, stride, requires_grad, hooks, metadata, None)


def _rebuild_tensor_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any,
                       dtype: Any, metadata: Any = None) -> _TensorRef:
    if not (isinstance(dtype, _Global) and dtype.kind == "dtype"):
        raise _Bad(f"_rebuild_tensor_v3 needs a torch dtype, got {_describe(dtype)}")
    return _tensor(storage, offset, size, stride, requires_grad, hooks, metadata, dtype.value)


def _rebuild_parameter(data: Any, requires_grad: Any, hooks: Any, state: Any = None) -> _TensorRef:
    if not isinstance(data, _TensorRef):
        raise _Bad(f"a Parameter wraps {_describe(data)} instead of a tensor")
    return data  # a Parameter is its data here; requires_grad, hooks and attributes are dropped


def _ordered_dict(*items: Any) -> _StateDict:
    out = _StateDict()
    if len(items) > 1 or (items and type(items[0]) not in (list, tuple)):
        raise _Bad("OrderedDict called with arguments torch.save never writes")
    for pair in items[0] if items else ():
        if type(pair) not in (list, tuple) or len(pair) != 2:
            raise _Bad("OrderedDict called with something other than (key, value) pairs")
        out[pair[0]] = pair[1]
    return out


def _torch_size(dims: Any = ()) -> tuple[int, ...]:
    return _ints(dims, "torch.Size")


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    # Pickle protocol 2 writes a bytes object as _codecs.encode(str, "latin1").
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise _Bad("_codecs.encode is only accepted as pickle protocol 2 writes bytes")
    return text.encode("latin-1")


def _allow_list() -> dict[tuple[str, str], _Global]:
    calls: dict[tuple[str, str], Callable[..., Any]] = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("collections", "OrderedDict"): _ordered_dict,
        ("torch", "Size"): _torch_size,
        ("_codecs", "encode"): _codecs_encode,
    }
    allowed = {key: _Global(".".join(key), "call", fn) for key, fn in calls.items()}
    for name, dtype in _STORAGE_TYPES.items():
        modules = ("torch", "torch.storage") if name == "UntypedStorage" else ("torch",)
        allowed.update({(m, name): _Global(f"{m}.{name}", "storage", _DTYPES[dtype]) for m in modules})
    for name in [*_DTYPES, *_DTYPE_ALIASES]:
        allowed[("torch", name)] = _Global(f"torch.{name}", "dtype", _DTYPES[_DTYPE_ALIASES.get(name, name)])
    return allowed


_ALLOWED = _allow_list()


def _describe(obj: Any) -> str:
    return obj.describe() if isinstance(obj, _Inert) else f"an object of type {type(obj).__name__}"


# ----------------------------------------------------------------- pickles
class _Unpickler(pickle.Unpickler):
    """Resolves globals only to the stand-ins above and persistent ids only to checked storages."""

    def __init__(self, data: bytes, storages: _Storages | None) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        stand_in = _ALLOWED.get((module, name))
        if stand_in is None:
            raise _Bad(f"refused global '{_short(f'{module}.{name}')}': only tensors and plain containers are rebuilt")
        return stand_in

    def persistent_load(self, pid: Any) -> Any:
        if self._storages is None:
            raise _Bad("a persistent id outside the pickle that holds the tensors")
        return self._storages.resolve(pid)


def _check_opcodes(data: bytes, start: int) -> int:
    """Walk the pickle at data[start:] without building anything; return the offset just past its STOP."""
    stream = io.BytesIO(data)
    stream.seek(start)
    count = 0
    try:
        for op, arg, _pos in pickletools.genops(stream):
            count += 1
            if op.name in ("GLOBAL", "INST"):  # named in the opcode: refuse before anything is built
                module, _, name = arg.partition(" ")
                if (module, name) not in _ALLOWED:
                    raise _Bad(f"refused global '{_short(f'{module}.{name}')}': only tensors and plain containers "
                               f"are rebuilt")
            if op.name in _REFUSED_OPCODES:
                raise _Bad(f"pickle opcode {op.name}, which torch.save never writes, is refused")
            if op.name in _MEMO_PUTS and arg > count:  # the C unpickler sizes its memo by the largest index
                raise _Bad(f"pickle memo index {arg} is out of range")
            if op.name == "FRAME" and arg > len(data) - stream.tell():
                raise _Bad("pickle frame longer than the data (truncated?)")
            if op.name == "STOP":
                return stream.tell()
    except _Bad:
        raise
    except Exception as exc:  # genops: unknown opcode, truncated argument, length past the end
        raise _Bad(f"malformed pickle (truncated or corrupted): {_short(str(exc), 200)}") from None
    raise _Bad("pickle without a STOP opcode (truncated)")


def _unpickle(data: bytes, start: int, storages: _Storages | None) -> tuple[Any, int]:
    """The object pickled at data[start:], unpickled with the allow-list, and where that pickle ends."""
    end = _check_opcodes(data, start)
    try:
        return _Unpickler(data[start:end], storages).load(), end
    except _Bad:
        raise
    except Exception as exc:  # the unpickler's own complaints about a malformed stream
        raise _Bad(f"malformed pickle (corrupted): {type(exc).__name__}: {_short(str(exc), 200)}") from None


# ----------------------------------------------------------------- storages
class _Storages:
    """The storages a file holds: checks each persistent id, and hands out each storage's bytes."""

    def __init__(self, pid_length: int, byteorder: str) -> None:
        self.pid_length, self.byteorder = pid_length, byteorder
        self.by_key: dict[str, _Storage] = {}

    def resolve(self, pid: Any) -> _Storage:
        if type(pid) is not tuple or len(pid) != self.pid_length or pid[0] != "storage":
            raise _Bad("malformed persistent id (expected ('storage', type, key, location, numel))")
        storage_type, key, location, numel = pid[1:5]
        if not (isinstance(storage_type, _Global) and storage_type.kind == "storage"):
            raise _Bad(f"persistent id names {_describe(storage_type)} instead of a storage type")
        if type(key) is not str or type(location) is not str or not _is_int(numel) or numel < 0:
            raise _Bad("malformed persistent id (key and location must be str, numel a non-negative int)")
        if self.pid_length == 6 and pid[5] is not None:
            raise _Bad("legacy storage views (torch < 1.0) are not supported")
        dtype = storage_type.value
        nbytes = numel * dtype.stored.itemsize
        known = self.by_key.get(key)
        if known is not None:
            if known.dtype is not dtype or known.nbytes != nbytes:
                raise _Bad(f"storage {_short(key)!r} is declared twice with different types or sizes")
            return known
        self.check_size(key, nbytes)
        self.by_key[key] = storage = _Storage(key, dtype, nbytes)
        return storage

    def check_size(self, key: str, nbytes: int) -> None:
        raise NotImplementedError

    def read(self, storage: _Storage) -> bytes | memoryview:
        raise NotImplementedError


class _ZipStorages(_Storages):
    def __init__(self, zf: zipfile.ZipFile, root: str, file_size: int, byteorder: str) -> None:
        super().__init__(5, byteorder)
        self.zf, self.root, self.file_size = zf, root, file_size
        self.infos = {info.filename: info for info in zf.infolist()}

    def entry(self, key: str) -> zipfile.ZipInfo:
        info = self.infos.get(f"{self.root}/data/{key}")
        if info is None:
            raise _Bad(f"storage {_short(key)!r} has no entry {_short(f'{self.root}/data/{key}')!r} in the archive")
        return info

    def check_size(self, key: str, nbytes: int) -> None:
        info = self.entry(key)
        if info.file_size != nbytes:
            raise _Bad(f"storage {_short(key)!r} is declared as {nbytes} bytes but its entry holds {info.file_size}")

    def read(self, storage: _Storage) -> bytes | memoryview:
        if storage.data is None:
            storage.data = _read_entry(self.zf, self.entry(storage.key), self.file_size)
            if len(storage.data) != storage.nbytes:
                raise _Bad(f"storage {_short(storage.key)!r} has {len(storage.data)} bytes, not {storage.nbytes}")
        return storage.data


class _LegacyStorages(_Storages):
    def __init__(self, file_size: int) -> None:
        super().__init__(6, "little")  # the legacy writer always converts to little-endian
        self.file_size = file_size

    def check_size(self, key: str, nbytes: int) -> None:
        if nbytes > self.file_size:  # checked exactly once the data section is read
            raise _Bad(f"storage {_short(key)!r} is declared as {nbytes} bytes, more than the whole file")

    def read(self, storage: _Storage) -> bytes | memoryview:
        if storage.data is None:
            raise _Bad(f"storage {_short(storage.key)!r} has no data in the file")
        return storage.data


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, file_size: int) -> bytes:
    # torch stores every entry uncompressed; insisting on it bounds every read by the file's real size.
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise _Bad(f"entry {_short(info.filename)!r} is compressed, which torch.save never does")
    if info.header_offset + info.compress_size > file_size:
        raise _Bad(f"entry {_short(info.filename)!r} extends past the end of the file (truncated)")
    return zf.read(info)


# ----------------------------------------------------------------- the two formats
def _load_zip(f: Any, file_size: int) -> tuple[Any, _Storages]:
    zf = zipfile.ZipFile(f)
    names = [info.filename for info in zf.infolist()]
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise _Bad("a zip archive without exactly one '<name>/data.pkl': not a torch.save checkpoint")
    root = pickles[0][: -len("/data.pkl")]
    if f"{root}/constants.pkl" in names or any(n.startswith(f"{root}/code/") for n in names):
        raise _Bad("a TorchScript archive (torch.jit.save), not a torch.save checkpoint")
    byteorder = "little"
    if f"{root}/byteorder" in names:
        byteorder = _read_entry(zf, zf.getinfo(f"{root}/byteorder"), file_size).decode("ascii", "replace")
        if byteorder not in ("little", "big"):
            raise _Bad(f"unknown byte order {_short(byteorder)!r}")
    storages = _ZipStorages(zf, root, file_size, byteorder)
    data = _read_entry(zf, zf.getinfo(pickles[0]), file_size)
    obj, end = _unpickle(data, 0, storages)
    if end != len(data):
        raise _Bad("unexpected bytes after the pickle in data.pkl (corrupted)")
    return obj, storages


def _load_legacy(data: bytes) -> tuple[Any, _Storages]:
    magic, pos = _unpickle(data, 0, None)
    if not _is_int(magic) or magic != _MAGIC_NUMBER:
        raise _Bad("a pickle that is not a PyTorch checkpoint (no torch.save magic number)")
    version, pos = _unpickle(data, pos, None)
    if not _is_int(version) or version != _LEGACY_PROTOCOL_VERSION:
        raise _Bad(f"unsupported legacy protocol version {_short(repr(version))}")
    sys_info, pos = _unpickle(data, pos, None)
    if not isinstance(sys_info, dict):
        raise _Bad("malformed legacy system info")
    storages = _LegacyStorages(len(data))
    obj, pos = _unpickle(data, pos, storages)
    keys, pos = _unpickle(data, pos, None)
    if type(keys) is not list or not all(type(k) is str for k in keys) or len(set(keys)) != len(keys):
        raise _Bad("malformed legacy storage key list")
    if set(keys) != set(storages.by_key):
        raise _Bad("the legacy storage key list does not match the storages the tensors use")
    view = memoryview(data)
    for key in keys:
        storage = storages.by_key[key]
        if pos + 8 > len(data):
            raise _Bad(f"storage {_short(key)!r} is missing (truncated)")
        (numel,) = struct.unpack_from("<q", data, pos)
        if numel * storage.dtype.stored.itemsize != storage.nbytes:
            raise _Bad(f"storage {_short(key)!r} has {numel} elements in the file, not {storage.nbytes} bytes' worth")
        pos += 8
        if pos + storage.nbytes > len(data):
            raise _Bad(f"storage {_short(key)!r} is cut short (truncated)")
        storage.data = view[pos : pos + storage.nbytes]
        pos += storage.nbytes
    if pos != len(data):
        raise _Bad("unexpected bytes after the last storage (corrupted)")
    return obj, storages


# ----------------------------------------------------------------- tensors and containers out
class _Builder:
    """Turns the unpickled object into plain Python containers and arrays, once per object, with limits."""

    def __init__(self, storages: _Storages, budget: int) -> None:
        self.storages, self.budget = storages, budget
        self.done: dict[int, Any] = {}  # by id: shared sub-objects are converted once
        self.active: set[int] = set()  # containers being converted: meeting one again is a cycle

    def build(self, obj: Any, depth: int = 0) -> Any:
        kind = type(obj)
        if obj is None or kind in (bool, int, float, str, bytes, bytearray):
            return obj
        if id(obj) in self.done:
            return self.done[id(obj)]
        if depth > _MAX_DEPTH:
            raise _Bad(f"the checkpoint nests containers deeper than {_MAX_DEPTH} levels")
        if id(obj) in self.active:
            raise _Bad("the checkpoint holds a structure that contains itself")
        self.active.add(id(obj))
        if kind is _TensorRef:
            out: Any = self.array(obj)
        elif kind in (dict, _StateDict):
            out = {self.key(k, depth): self.build(v, depth + 1) for k, v in obj.items()}
        elif kind in (list, tuple):
            out = kind(self.build(v, depth + 1) for v in obj)
        elif kind in (set, frozenset):
            out = kind(self.key(v, depth) for v in obj)
        else:
            raise _Bad(f"the checkpoint holds {_describe(obj)}; only tensors and plain containers are rebuilt")
        self.active.discard(id(obj))
        self.done[id(obj)] = out
        return out

    def key(self, key: Any, depth: int) -> Any:
        """Dict keys and set members: str, int, float, bool, None, bytes, or tuples of them."""
        if key is None or type(key) in (str, int, float, bool, bytes):
            return key
        if type(key) is tuple and depth < _MAX_DEPTH:
            return tuple(self.key(k, depth + 1) for k in key)
        raise _Bad(f"the checkpoint uses {_describe(key)} as a dict key or set member")

    def array(self, ref: _TensorRef) -> np.ndarray:
        dtype, size = ref.dtype, ref.size
        count = math.prod(size)
        self.budget -= count * dtype.out.itemsize
        if self.budget < 0:  # before allocating: zero strides could turn a few bytes into terabytes
            raise _Bad(f"the tensors add up to more than {_EXPANSION}x the file's size plus {_SLACK} bytes")
        if count == 0:
            return np.zeros(size, dtype=dtype.out)
        stored = dtype.stored
        if self.storages.byteorder == "big" and stored.itemsize > 1:
            stored = stored.newbyteorder(">")
        raw = self.storages.read(ref.storage)
        buf = np.frombuffer(raw, dtype=stored, count=len(raw) // stored.itemsize)
        # Dimensions of length 1 never step, so their (possibly huge) strides are not used.
        strides = tuple(s * stored.itemsize if n > 1 else 0 for n, s in zip(size, ref.stride))
        view = np.lib.stride_tricks.as_strided(buf[ref.offset :], shape=size, strides=strides, writeable=False)
        out = np.array(view, dtype=stored.newbyteorder("="), order="C")
        if dtype.name == "bfloat16":
            return (out.astype(np.uint32) << 16).view(np.float32)
        return out.astype(dtype.out, copy=False)


# ----------------------------------------------------------------- entry points
def sniff(path: str | os.PathLike[str]) -> str | None:
    """'zip' or 'pickle' when `path` starts like a torch.save file, else None (safetensors, unreadable, other)."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return None  # the safetensors path reports missing files and directories as it always has
    if head[8:9] == b"{":  # safetensors: an 8-byte header length, then the JSON header
        return None
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    return None


def load_torch(path: str | os.PathLike[str], kind: str | None = None) -> Any:
    """Read a torch.save file (zip or legacy format) as NumPy arrays in plain containers.

    A state dict comes back as `{name: np.ndarray}`; other objects as the same structure with
    arrays in place of tensors. Raises `CheckpointError` naming the path for anything that is
    not tensors and plain containers, and for damaged files; never executes code from the file.
    """
    path = os.fspath(path)
    kind = kind or sniff(path)
    if kind not in ("zip", "pickle"):
        raise CheckpointError(f"load: '{path}' is not a PyTorch checkpoint (neither a zip archive nor a pickle)")
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        try:
            if kind == "zip":
                obj, storages = _load_zip(f, file_size)
            else:
                obj, storages = _load_legacy(f.read())
            return _Builder(storages, _EXPANSION * file_size + _SLACK).build(obj)
        except _Bad as exc:
            raise CheckpointError(f"load: '{path}' (PyTorch checkpoint): {exc}") from None
        except Exception as exc:  # zipfile's and NumPy's complaints about a damaged archive
            raise CheckpointError(
                f"load: '{path}' is not a readable PyTorch checkpoint (truncated or corrupted): "
                f"{type(exc).__name__}: {_short(str(exc), 200)}"
            ) from None
