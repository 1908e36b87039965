"""Hostile checkpoint files (issue 7, item 4): truncated, bit-flipped, forged headers, huge sizes.

`nn.load` / `nn.load_checkpoint` must answer every damaged file with a clear error
(`nn.CheckpointError`, a ValueError, or an OSError) that names the path, never
allocate memory from a size the file merely declares, and never execute anything.
"""

from __future__ import annotations

import ast
import json
import pathlib
import struct
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nn

SERIALIZATION = pathlib.Path(nn.serialization.__file__)
_TMP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _state() -> dict[str, np.ndarray]:
    return {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], dtype=np.int64)}


@pytest.fixture
def valid(tmp_path: pathlib.Path) -> bytes:
    path = tmp_path / "valid.safetensors"
    nn.save(_state(), path)
    return path.read_bytes()


def _write(tmp_path: pathlib.Path, data: bytes, name: str = "bad.safetensors") -> pathlib.Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _raw(header: Any, body: bytes = b"", length: int | None = None) -> bytes:
    """A safetensors-shaped file: 8-byte little-endian header length, JSON header, body."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + body


def _refused(path: pathlib.Path, call: Any = None) -> BaseException:
    with pytest.raises((ValueError, OSError)) as info:
        (call or nn.load)(path)
    assert str(path) in str(info.value) or path.name in str(info.value), f"error does not name the path: {info.value}"
    return info.value


@_TMP
@given(cut=st.integers(0, 10_000))
def test_every_truncation_is_refused(tmp_path: pathlib.Path, valid: bytes, cut: int) -> None:
    n = cut % len(valid)  # every proper prefix, the empty file included
    err = _refused(_write(tmp_path, valid[:n]))
    assert isinstance(err, nn.CheckpointError)


@_TMP
@given(position=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_bit_flips_are_caught_or_harmless(tmp_path: pathlib.Path, valid: bytes, position: int, bit: int) -> None:
    data = bytearray(valid)
    data[position % len(data)] ^= 1 << bit
    path = _write(tmp_path, bytes(data))
    try:
        loaded = nn.load(path)
    except nn.CheckpointError as exc:
        assert str(path) in str(exc)
        return
    # A flip that still loads (e.g. JSON whitespace) must not have changed any value.
    expected = _state()
    assert set(loaded) == set(expected)
    for k, v in expected.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        np.testing.assert_array_equal(loaded[k], v)


GOOD_BODY = np.arange(6, dtype=np.float32).tobytes()
FORGED = {
    "invalid_json": _raw(b"{not json"),
    "not_utf8": _raw(b"\xff\xfe\xfd"),
    "json_list": _raw([1, 2, 3]),
    "header_longer_than_file": _raw({"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}, length=10**6),
    "header_length_2_60": _raw(b"{}", length=2**60),
    "header_length_2_64_minus_1": _raw(b"{}", length=2**64 - 1),
    "negative_offsets": _raw({"w": {"dtype": "F32", "shape": [6], "data_offsets": [-24, 0]}}, GOOD_BODY),
    "reversed_offsets": _raw({"w": {"dtype": "F32", "shape": [0], "data_offsets": [24, 0]}}, GOOD_BODY),
    "offsets_past_end": _raw({"w": {"dtype": "F32", "shape": [12], "data_offsets": [0, 48]}}, GOOD_BODY),
    "overlapping": _raw({"a": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]},
                         "b": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}, GOOD_BODY),
    "gap": _raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, GOOD_BODY[:16]),
    "unknown_dtype": _raw({"w": {"dtype": "F99", "shape": [6], "data_offsets": [0, 24]}}, GOOD_BODY),
    "object_dtype": _raw({"w": {"dtype": "O", "shape": [6], "data_offsets": [0, 24]}}, GOOD_BODY),
    "shape_product_overflows": _raw({"w": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 24]}},
                                    GOOD_BODY),
    "shape_mismatches_span": _raw({"w": {"dtype": "F32", "shape": [7], "data_offsets": [0, 24]}}, GOOD_BODY),
    "negative_shape": _raw({"w": {"dtype": "F32", "shape": [-6], "data_offsets": [0, 24]}}, GOOD_BODY),
    "string_shape": _raw({"w": {"dtype": "F32", "shape": "6", "data_offsets": [0, 24]}}, GOOD_BODY),
    "entry_not_object": _raw({"w": [1, 2]}, GOOD_BODY),
    "huge_declared_tensor": _raw({"w": {"dtype": "F32", "shape": [2**38], "data_offsets": [0, 2**40]}}, GOOD_BODY),
    "metadata_not_strings": _raw({"__metadata__": {"a": 1}, "w": {"dtype": "F32", "shape": [6],
                                                                  "data_offsets": [0, 24]}}, GOOD_BODY),
    "bad_checksum": _raw({"__metadata__": {"nn.checksum": "sha256:00", "nn.format": "nn-safetensors-1"},
                          "w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}, GOOD_BODY),
    "format_without_checksum": _raw({"__metadata__": {"nn.format": "nn-safetensors-1"},
                                     "w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}, GOOD_BODY),
}


@pytest.mark.parametrize("kind", sorted(FORGED))
def test_forged_headers_are_refused(tmp_path: pathlib.Path, kind: str) -> None:
    err = _refused(_write(tmp_path, FORGED[kind]))
    assert isinstance(err, nn.CheckpointError), f"{kind}: {type(err).__name__}: {err}"


@pytest.mark.parametrize("kind", ["huge_declared_tensor", "header_length_2_60", "shape_product_overflows"])
def test_declared_sizes_allocate_nothing(tmp_path: pathlib.Path, kind: str) -> None:
    path = _write(tmp_path, FORGED[kind])
    tracemalloc.start()
    try:
        with pytest.raises(nn.CheckpointError):
            nn.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"{kind}: loading allocated {peak} bytes for a {path.stat().st_size}-byte file"


def test_empty_file_directory_and_missing_path(tmp_path: pathlib.Path) -> None:
    err = _refused(_write(tmp_path, b""))
    assert isinstance(err, nn.CheckpointError) and "empty" in str(err)
    assert isinstance(_refused(tmp_path), OSError)
    assert isinstance(_refused(tmp_path / "missing.safetensors"), FileNotFoundError)


@pytest.mark.parametrize("kind", ["invalid_json", "header_length_2_60", "offsets_past_end", "unknown_dtype"])
def test_load_checkpoint_refuses_damaged_files(tmp_path: pathlib.Path, kind: str) -> None:
    path = _write(tmp_path, FORGED[kind])
    err = _refused(path, lambda p: nn.load_checkpoint(p, nn.Linear(2, 2)))
    assert isinstance(err, nn.CheckpointError)


@pytest.mark.parametrize("meta", [{"nn.optimizer": "{not json"}, {"nn.optimizer": "[1, 2]"},
                                  {"nn.optimizer": json.dumps({"class": "SGD"})}, {"nn.epoch": "ten"},
                                  {"nn.scheduler": "{"}])
def test_load_checkpoint_refuses_malformed_training_state(tmp_path: pathlib.Path, meta: dict[str, str]) -> None:
    import safetensors.numpy as st_numpy

    model = nn.Linear(2, 2)
    optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
    scheduler = nn.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    arrays = {f"model.{k}": np.asarray(v) for k, v in model.state_dict().items()}
    path = _write(tmp_path, st_numpy.save(arrays, metadata=meta))  # a foreign file: no checksum
    opt = optimizer if "nn.optimizer" in meta else None
    sched = scheduler if "nn.scheduler" in meta else None
    err = _refused(path, lambda p: nn.load_checkpoint(p, model, opt, sched))
    assert isinstance(err, nn.CheckpointError), f"{type(err).__name__}: {err}"


def test_serialization_never_imports_pickle_or_evaluates_code() -> None:
    tree = ast.parse(SERIALIZATION.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"pickle", "cPickle", "dill", "marshal", "shelve", "joblib", "torch"}, imported
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not calls & {"eval", "exec", "compile", "__import__"}, calls
    assert "allow_pickle" not in SERIALIZATION.read_text()
