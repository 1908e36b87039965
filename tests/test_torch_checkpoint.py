"""`nn.load` on PyTorch checkpoints (issue 14, item 5): no torch needed, no code executed.

The committed fixtures (tests/fixtures/torch, made by make_fixtures.py) run without torch;
round trips through a real `torch.save` run where torch is installed. Hostile and damaged
files, hand-built with pickle opcodes in torch's zip layout, must all end in
`nn.CheckpointError` naming the file: never another exception, never an effect, never a
large allocation.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import math
import os
import pathlib
import pickle
import shutil
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import nn
import nn.torch_checkpoint
from autograd_core import Tensor

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "torch"
_spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mf)
_TMP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large])
ITEMSIZE = {"FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "LongStorage": 8, "BoolStorage": 1,
            "ByteStorage": 1, "BFloat16Storage": 2}
NP_STORED = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
             "BoolStorage": "u1", "ByteStorage": "u1"}


# ----------------------------------------------------------------- building torch-shaped files by hand
def _frag(value: Any) -> bytes:
    """The protocol-2 opcodes of a plain value, without PROTO/STOP and without memo entries."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=2)
    pickler.fast = True
    pickler.dump(value)
    return buf.getvalue()[2:-1]


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _pid(stype: str = "FloatStorage", key: str = "0", numel: int = 6, module: str = "torch",
         location: str = "cpu") -> bytes:
    return b"(" + _frag("storage") + _global(module, stype) + _frag(key) + _frag(location) + _frag(numel) + b"tQ"


def _tensor(pid: bytes | None = None, offset: Any = 0, size: Any = (6,), stride: Any = (1,), extra: bytes = b"",
            fn: str = "_rebuild_tensor_v2", hooks: bytes = b"}") -> bytes:
    pid = _pid() if pid is None else pid
    args = pid + _frag(offset) + _frag(size) + _frag(stride) + b"\x89" + hooks + extra
    return _global("torch._utils", fn) + b"(" + args + b"tR"


def _dict(entries: dict[str, bytes]) -> bytes:
    return b"\x80\x02}(" + b"".join(_frag(k) + v for k, v in entries.items()) + b"u."


def _torch_zip(path: pathlib.Path, pkl: bytes, storages: dict[str, bytes] | None = None, root: str = "archive",
               byteorder: bytes | None = b"little", extra: dict[str, bytes] | None = None,
               compression: int = zipfile.ZIP_STORED) -> pathlib.Path:
    storages = {"0": np.arange(6, dtype="<f4").tobytes()} if storages is None else storages
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr(f"{root}/data.pkl", pkl)
        if byteorder is not None:
            zf.writestr(f"{root}/byteorder", byteorder)
        for key, data in storages.items():
            zf.writestr(f"{root}/data/{key}", data)
        zf.writestr(f"{root}/version", b"3\n")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def _legacy(path: pathlib.Path, main: bytes, keys: list[str], storages: list[tuple[int, bytes]],
            magic: int = 0x1950A86A20F9469CFC6C) -> pathlib.Path:
    head = pickle.dumps(magic, 2) + pickle.dumps(1001, 2) + pickle.dumps({"little_endian": True}, 2)
    body = b"".join(struct.pack("<q", n) + data for n, data in storages)
    path.write_bytes(head + main + pickle.dumps(keys, 2) + body)
    return path


def _legacy_pid(key: str = "k", numel: int = 6) -> bytes:
    return b"(" + _frag("storage") + _global("torch", "FloatStorage") + _frag(key) + _frag("cpu") + _frag(numel) \
        + b"Nt" + b"Q"


def _refused(path: pathlib.Path, match: str | None = None) -> nn.CheckpointError:
    with pytest.raises(nn.CheckpointError) as info:
        nn.load(path)
    assert str(path) in str(info.value), f"error does not name the path: {info.value}"
    if match is not None:
        assert match in str(info.value), str(info.value)
    return info.value


def _assert_same(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert type(got) is dict and list(got) == list(expected)
    for name, value in expected.items():
        assert isinstance(got[name], np.ndarray), name
        assert got[name].dtype == value.dtype and got[name].shape == value.shape, name
        np.testing.assert_array_equal(got[name], value, err_msg=name)
        assert got[name].flags.c_contiguous and got[name].flags.writeable, name


# ----------------------------------------------------------------- committed fixtures (no torch needed)
@pytest.mark.parametrize("name", ["dtypes_views.pt", "dtypes_views_legacy.pt"])
def test_fixture_dtypes_views_strides_and_scalars(name: str) -> None:
    loaded = nn.load(FIXTURES / name)
    _assert_same(loaded, mf.expected_dtypes_views())
    assert not np.shares_memory(loaded["float32"], loaded["row"])  # views come back as copies


def test_fixture_state_dict_loads_into_the_nn_model() -> None:
    state = nn.load(FIXTURES / "model_state_dict.pt")  # an OrderedDict with _metadata in the pickle
    _assert_same(state, mf.expected_model())
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Conv2d(1, 2, 3))
    model.load_state_dict(state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), state[name], err_msg=name)


def test_fixture_nested_containers_keep_their_shape() -> None:
    loaded = nn.load(FIXTURES / "nested.pt")
    expected = mf.expected_nested()
    assert loaded.keys() == expected.keys()
    for key in ("epoch", "history", "shape", "flags", "name", "blob"):
        assert loaded[key] == expected[key] and type(loaded[key]) is type(expected[key]), key
    np.testing.assert_array_equal(loaded["model"]["w"], expected["model"]["w"])
    assert type(loaded["params"]) is list and loaded["params"][0].dtype == np.float32
    np.testing.assert_array_equal(loaded["params"][0], expected["params"][0])


def test_format_comes_from_the_bytes_not_the_extension(tmp_path: pathlib.Path) -> None:
    expected = mf.expected_dtypes_views()
    for name in ["model.bin", "model.pth", "model", "model.safetensors"]:
        shutil.copy(FIXTURES / "dtypes_views.pt", tmp_path / name)
        _assert_same(nn.load(tmp_path / name), expected)
    state, meta = nn.load(tmp_path / "model.bin", with_metadata=True)
    assert meta == {} and state.keys() == expected.keys()
    nn.save({"w": np.ones(3, np.float32)}, tmp_path / "really_safetensors.pt")
    np.testing.assert_array_equal(nn.load(tmp_path / "really_safetensors.pt")["w"], np.ones(3))


def test_loading_needs_neither_torch_nor_safetensors() -> None:
    code = ("import sys; sys.modules['torch'] = sys.modules['safetensors'] = None\n"  # importing them now fails
            "import nn\n"
            f"s = nn.load({str(FIXTURES / 'dtypes_views.pt')!r}); l = nn.load({str(FIXTURES / 'nested.pt')!r})\n"
            "assert 'torch' not in [m for m, v in sys.modules.items() if v is not None]\n"
            "print(sorted(s)[0], l['epoch'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=pathlib.Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["bfloat16", "3"]


def test_big_endian_archives_are_byteswapped(tmp_path: pathlib.Path) -> None:
    values = np.array([1.5, -2.25, 3.0], dtype=np.float64)
    pkl = _dict({"w": _tensor(_pid("DoubleStorage", numel=3), size=(3,))})
    path = _torch_zip(tmp_path / "be.pt", pkl, {"0": values.astype(">f8").tobytes()}, byteorder=b"big")
    got = nn.load(path)["w"]
    assert got.dtype == np.float64 and got.dtype.isnative
    np.testing.assert_array_equal(got, values)


def test_source_never_imports_torch_or_evaluates_code() -> None:
    source = pathlib.Path(nn.torch_checkpoint.__file__).read_text()
    tree = ast.parse(source)
    imported = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"torch", "importlib", "builtins", "subprocess", "marshal", "dill", "joblib"}, imported
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not calls & {"eval", "exec", "compile", "__import__", "getattr", "setattr"}, calls
    for banned in ("pickle.load(", "pickle.loads(", "allow_pickle", "open(path, \"w", "open(path, 'w"):
        assert banned not in source, banned


# ----------------------------------------------------------------- round trips through real torch.save
@pytest.fixture(params=[True, False], ids=["zip", "legacy"])
def zip_format(request: pytest.FixtureRequest) -> bool:
    return request.param


def test_torch_module_state_dict_round_trip(tmp_path: pathlib.Path, zip_format: bool) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Conv2d(1, 2, 3))
    with torch.no_grad():
        ref[1].running_mean.uniform_(-1, 1)
        ref[1].running_var.uniform_(0.5, 2)
        ref[1].num_batches_tracked.fill_(11)
    path = tmp_path / "model.pth"
    torch.save(ref.state_dict(), path, _use_new_zipfile_serialization=zip_format)
    state = nn.load(path)
    expected = {k: v.numpy() for k, v in ref.state_dict().items()}
    _assert_same(state, expected)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Conv2d(1, 2, 3))
    model.load_state_dict(state)
    model.eval()
    ref.eval()
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        want = ref[1](ref[0](torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(model[1](model[0](Tensor(x))).data, want, rtol=1e-5, atol=1e-6)


def test_torch_every_dtype_and_view_round_trip(tmp_path: pathlib.Path, zip_format: bool) -> None:
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(1)
    big = torch.randn(5, 7, generator=gen, dtype=torch.float64)
    state = {"f64": big, "view": big[1:, 2::3], "T": big.t()[3:], "f32": torch.randn(3, 2, generator=gen),
             "f16": torch.randn(4, generator=gen).half(), "bf16": torch.randn(2, 3, generator=gen).bfloat16(),
             "i64": torch.randint(-(2**40), 2**40, (4,), generator=gen), "u8": torch.randint(0, 256, (5,),
             generator=gen, dtype=torch.uint8), "i8": torch.randint(-128, 128, (3, 1), generator=gen,
             dtype=torch.int8), "i16": torch.tensor([-7, 9], dtype=torch.int16), "i32": torch.tensor([[1, -2]],
             dtype=torch.int32), "b": torch.rand(6, generator=gen) > 0.5, "zero_d": torch.tensor(2.5),
             "empty": torch.zeros(2, 0, dtype=torch.int64), "expand": torch.arange(4.0).expand(3, 4)}
    path = tmp_path / "all.pt"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    loaded = nn.load(path)
    expected = {k: (v.float() if v.dtype == torch.bfloat16 else v).contiguous().numpy() for k, v in state.items()}
    _assert_same(loaded, expected)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_torch_optimizer_state_and_pickle_protocols(tmp_path: pathlib.Path, zip_format: bool, protocol: int) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "opt.pt"
    torch.save({"optimizer": opt.state_dict(), "weight": model.weight, "tied": model.weight}, path,
               pickle_protocol=protocol, _use_new_zipfile_serialization=zip_format)
    loaded = nn.load(path)
    groups, state = loaded["optimizer"]["param_groups"], loaded["optimizer"]["state"]
    assert groups[0]["betas"] == (0.9, 0.999) and groups[0]["params"] == [0, 1] and sorted(state) == [0, 1]
    for index in range(2):
        want = opt.state_dict()["state"][index]
        for key in ("step", "exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(state[index][key], want[key].numpy())
    np.testing.assert_array_equal(loaded["weight"], model.weight.detach().numpy())
    assert loaded["tied"] is loaded["weight"]  # one tensor pickled twice is one array, as torch gives one tensor


def test_torch_refused_contents_name_the_global(tmp_path: pathlib.Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2), "extra": np.ones(2)}, tmp_path / "numpy.pt")
    err = _refused(tmp_path / "numpy.pt", "refused global 'numpy")
    assert "_reconstruct" in str(err)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")  # a whole module, not a state dict
    _refused(tmp_path / "module.pt", "refused global 'torch.nn.modules.linear.Linear'")
    with warnings.catch_warnings():  # torch.jit is deprecated in recent torch
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "script.pt")
    _refused(tmp_path / "script.pt", "TorchScript")


# ----------------------------------------------------------------- hostile pickles
class _Boom:
    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple:
        return self.fn, self.args


def _marker_cases(marker: pathlib.Path) -> dict[str, tuple[bytes, str]]:
    """data.pkl payloads that would create `marker` if executed, with the global they must be refused for."""
    cmd = f"touch {marker}"
    return {
        "os_system_reduce": (pickle.dumps({"w": _Boom(os.system, cmd)}, protocol=2), f"{os.system.__module__}.system"),
        "os_system_opcodes": (b"\x80\x02cos\nsystem\n" + _frag(cmd) + b"\x85R.", "os.system"),
        "builtins_open": (b"\x80\x02cbuiltins\nopen\n" + _frag(str(marker)) + _frag("w") + b"\x86R.",
                          "builtins.open"),
        "py2_builtin_eval": (b"\x80\x02c__builtin__\neval\n" + _frag(f"open({str(marker)!r}, 'w')") + b"\x85R.",
                             "__builtin__.eval"),
        "subprocess": (pickle.dumps(_Boom(subprocess.check_call, ["touch", str(marker)]), protocol=4),
                       "subprocess.check_call"),
        "after_a_good_tensor": (b"\x80\x02}(" + _frag("w") + _tensor() + _frag("x") + b"cos\nsystem\n"
                                + _frag(cmd) + b"\x85Ru.", "os.system"),
        "inside_tensor_args": (_dict({"w": _tensor(hooks=b"cos\nsystem\n" + _frag(cmd) + b"\x85R")}), "os.system"),
        "inst_opcode": (b"\x80\x02(S'" + cmd.encode() + b"'\nios\nsystem\n.", "os.system"),
        "stack_global_p4": (b"\x80\x04\x8c\x02os\x8c\x06system\x93" + _frag(cmd) + b"\x85R.", "os.system"),
    }


_RAW = ["os_system_reduce", "os_system_opcodes", "builtins_open", "py2_builtin_eval", "subprocess", "inst_opcode",
        "stack_global_p4"]  # no tensors: these also make sense as a bare pickle (the legacy route)


@pytest.mark.parametrize("case,container", [(c, "zip") for c in _marker_cases(pathlib.Path("m"))]
                         + [(c, "raw") for c in _RAW])
def test_code_in_the_pickle_is_refused_and_never_runs(tmp_path: pathlib.Path, case: str, container: str) -> None:
    marker = tmp_path / "pwned"
    pkl, name = _marker_cases(marker)[case]
    path = tmp_path / "evil.pt"
    if container == "zip":
        _torch_zip(path, pkl)
    else:
        path.write_bytes(pkl)
    err = _refused(path)
    assert f"refused global '{name}'" in str(err), str(err)
    assert not marker.exists()
    assert sorted(os.listdir(tmp_path)) == ["evil.pt"]  # reading wrote nothing


def test_build_cannot_alter_the_stand_ins(tmp_path: pathlib.Path) -> None:
    fn = _global("torch._utils", "_rebuild_tensor_v2")
    evil = {"build_on_global": b"\x80\x02" + fn + b"}" + _frag("__defaults__") + _frag((1,)) + b"sb.",
            "slotstate_on_global": b"\x80\x02" + fn + b"N}" + _frag("value") + b"N" + b"s\x86b.",
            "build_on_tensor": _dict({"w": _tensor() + b"}" + _frag("offset") + _frag(-100) + b"sb"}),
            "build_on_storage": b"\x80\x02" + _pid() + b"}" + _frag("nbytes") + _frag(10**9) + b"sb.",
            "build_on_dict": b"\x80\x02}}" + _frag("x") + _frag(1) + b"sb."}
    for name, pkl in evil.items():
        _refused(_torch_zip(tmp_path / f"{name}.pt", pkl))
    good = _torch_zip(tmp_path / "good.pt", _dict({"w": _tensor(offset=1, size=(5,))}))
    np.testing.assert_array_equal(nn.load(good)["w"], np.arange(1, 6, dtype=np.float32))


# ----------------------------------------------------------------- forged structure and sizes
F32 = np.arange(6, dtype="<f4").tobytes()
FORGED: dict[str, tuple[Callable[[pathlib.Path], pathlib.Path], str]] = {
    "numel_larger_than_entry": (lambda p: _torch_zip(p, _dict({"w": _tensor(_pid(numel=7))})), "declared as 28"),
    "numel_smaller_than_entry": (lambda p: _torch_zip(p, _dict({"w": _tensor(_pid(numel=5), size=(5,))})),
                                 "entry holds 24"),
    "missing_storage_entry": (lambda p: _torch_zip(p, _dict({"w": _tensor(_pid(key="9"))})), "no entry"),
    "offset_out_of_bounds": (lambda p: _torch_zip(p, _dict({"w": _tensor(offset=1)})), "reads element 6"),
    "stride_out_of_bounds": (lambda p: _torch_zip(p, _dict({"w": _tensor(size=(2, 3), stride=(3, 2))})),
                             "reads element 7"),
    "size_out_of_bounds": (lambda p: _torch_zip(p, _dict({"w": _tensor(size=(7,))})), "reads element 6"),
    "huge_size_zero_stride": (lambda p: _torch_zip(p, _dict({"w": _tensor(size=(2**40,), stride=(0,))})),
                              "more than 8x"),
    "huge_numel": (lambda p: _torch_zip(p, _dict({"w": _tensor(_pid(numel=2**50))})), "declared as"),
    "negative_offset": (lambda p: _torch_zip(p, _dict({"w": _tensor(offset=-1)})), "offset"),
    "negative_stride": (lambda p: _torch_zip(p, _dict({"w": _tensor(size=(2,), stride=(-1,))})), "stride"),
    "bool_size": (lambda p: _torch_zip(p, _dict({"w": _tensor(size=(True,))})), "size"),
    "size_stride_lengths": (lambda p: _torch_zip(p, _dict({"w": _tensor(size=(2, 3), stride=(1,))})), "length"),
    "too_many_dims": (lambda p: _torch_zip(p, _dict({"w": _tensor(size=(1,) * 40, stride=(1,) * 40)})), "at most"),
    "unknown_storage_type": (lambda p: _torch_zip(p, _dict({"w": _tensor(_pid("ComplexFloatStorage"))})),
                             "refused global 'torch.ComplexFloatStorage'"),
    "wrong_dtype_name": (lambda p: _torch_zip(p, _dict({"w": _tensor(
        _pid("UntypedStorage", numel=24, module="torch.storage"), extra=_global("torch", "float99"),
        fn="_rebuild_tensor_v3")})), "refused global 'torch.float99'"),
    "dtype_not_a_dtype": (lambda p: _torch_zip(p, _dict({"w": _tensor(
        _pid("UntypedStorage", numel=24, module="torch.storage"), extra=_frag("float32"),
        fn="_rebuild_tensor_v3")})), "needs a torch dtype"),
    "same_key_two_types": (lambda p: _torch_zip(p, _dict({"a": _tensor(), "b": _tensor(_pid("IntStorage"))})),
                           "declared twice"),
    "malformed_pid": (lambda p: _torch_zip(p, b"\x80\x02" + _frag(("storage", 1)) + b"Q."), "persistent id"),
    "pid_not_a_storage_type": (lambda p: _torch_zip(p, _dict({"w": _tensor(
        _pid("_rebuild_tensor_v2", module="torch._utils"))})), "instead of a storage type"),
    "bare_storage": (lambda p: _torch_zip(p, _dict({"s": _pid()})), "bare storage"),
    "uncalled_global": (lambda p: _torch_zip(p, _dict({"g": _global("torch", "FloatStorage")})),
                        "the global 'torch.FloatStorage'"),
    "calling_a_storage_type": (lambda p: _torch_zip(p, b"\x80\x02" + _global("torch", "FloatStorage") + b")R."),
                               "calls the global"),
    "tensor_as_dict_key": (lambda p: _torch_zip(p, b"\x80\x02}" + _tensor() + _frag(1) + b"s."), "dict key"),
    "wrong_arity": (lambda p: _torch_zip(p, b"\x80\x02" + _global("torch._utils", "_rebuild_tensor_v2") + b")R."),
                    "arguments"),
    "nonempty_metadata": (lambda p: _torch_zip(p, _dict({"w": _tensor(extra=b"}" + _frag("neg") + b"\x88s")})),
                          "metadata"),
    "compressed_entries": (lambda p: _torch_zip(p, _dict({"w": _tensor()}), compression=zipfile.ZIP_DEFLATED),
                           "compressed"),
    "no_data_pkl": (lambda p: _torch_zip(p, b"", root="a/b"), "data.pkl"),
    "two_roots": (lambda p: _torch_zip(p, _dict({}), extra={"other/data.pkl": _dict({})}), "exactly one"),
    "torchscript": (lambda p: _torch_zip(p, _dict({}), extra={"archive/constants.pkl": b""}), "TorchScript"),
    "bad_byteorder": (lambda p: _torch_zip(p, _dict({}), byteorder=b"middle"), "byte order"),
    "trailing_bytes": (lambda p: _torch_zip(p, _dict({}) + b"junk"), "after the pickle"),
    "no_stop": (lambda p: _torch_zip(p, _dict({})[:-1]), "STOP"),
    "memo_index_bomb": (lambda p: _torch_zip(p, b"\x80\x02]r\xff\xff\xff\x7f."), "memo index"),
    "binbytes8_bomb": (lambda p: _torch_zip(p, b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"xx."), "malformed"),
    "frame_bomb": (lambda p: _torch_zip(p, b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"N."), "frame"),
    "ext_opcode": (lambda p: _torch_zip(p, b"\x80\x02\x82\x01."), "EXT1"),
    "newobj": (lambda p: _torch_zip(p, b"\x80\x02" + _global("collections", "OrderedDict") + b")\x81."), "NEWOBJ"),
    "obj_opcode": (lambda p: _torch_zip(p, b"\x80\x02(" + _global("torch", "FloatStorage") + b"o."),
                   "calls the global"),
    "deep_nesting": (lambda p: _torch_zip(p, b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b"."), "deeper than"),
    "self_containing": (lambda p: _torch_zip(p, b"\x80\x02]q\x00h\x00a."), "contains itself"),
    "legacy_wrong_magic": (lambda p: _legacy(p, _dict({}), [], [], magic=42), "magic number"),
    "legacy_plain_pickle": (lambda p: (p.write_bytes(pickle.dumps({"a": [1, 2]}, 2)), p)[1], "magic number"),
    "legacy_numel_mismatch": (lambda p: _legacy(p, _dict({"w": _tensor(_legacy_pid())}), ["k"], [(5, F32)]),
                              "elements in the file"),
    "legacy_missing_key": (lambda p: _legacy(p, _dict({"w": _tensor(_legacy_pid())}), [], []), "key list"),
    "legacy_truncated_data": (lambda p: _legacy(p, _dict({"w": _tensor(_legacy_pid())}), ["k"], [(6, F32[:20])]),
                              "cut short"),
    "legacy_trailing": (lambda p: _legacy(p, _dict({"w": _tensor(_legacy_pid())}), ["k"], [(6, F32 + b"x")]),
                        "after the last storage"),
    "legacy_storage_view": (lambda p: _legacy(p, _dict({"w": _tensor(_legacy_pid()[:-3] + _frag(("v", 0, 6))
                                                                      + b"tQ")}), ["k"], [(6, F32)]), "views"),
    "legacy_module": (lambda p: _legacy(p, b"\x80\x02" + b"(" + _frag("module") + _frag("x") + b"tQ.", [], []),
                      "persistent id"),
}


@pytest.mark.parametrize("kind", sorted(FORGED))
def test_forged_files_are_refused(tmp_path: pathlib.Path, kind: str) -> None:
    make, message = FORGED[kind]
    _refused(make(tmp_path / f"{kind}.pt"), message)


def test_good_hand_built_files_load(tmp_path: pathlib.Path) -> None:
    # The forgeries above differ from these in one thing each.
    path = _torch_zip(tmp_path / "ok.pt", _dict({"w": _tensor(size=(2, 3), stride=(1, 2)), "e": _tensor(
        offset=99, size=(0, 5), stride=(1, 1))}))
    got = nn.load(path)
    np.testing.assert_array_equal(got["w"], np.arange(6, dtype=np.float32).reshape(3, 2).T)
    assert got["e"].shape == (0, 5)
    path = _legacy(tmp_path / "ok_legacy.pt", _dict({"w": _tensor(_legacy_pid())}), ["k"], [(6, F32)])
    np.testing.assert_array_equal(nn.load(path)["w"], np.arange(6, dtype=np.float32))
    shared = b"\x80\x02]q\x00" + b"(h\x00h\x00l" + b"\x85."  # ([x, x],): one list twice, not a cycle
    assert nn.load(_torch_zip(tmp_path / "dag.pt", shared)) == ([[], []],)
    # Not a dict at the top: a bare tensor (saved on a GPU: the location is ignored), a list of tensors.
    bare = nn.load(_torch_zip(tmp_path / "bare.pt", b"\x80\x02" + _tensor(_pid(location="cuda:0")) + b"."))
    assert isinstance(bare, np.ndarray) and bare.tolist() == [0, 1, 2, 3, 4, 5]
    listed = nn.load(_torch_zip(tmp_path / "list.pt", b"\x80\x02(" + _tensor(size=(2,)) + _tensor(offset=4, size=(2,))
                                + b"l."))
    assert type(listed) is list and [a.tolist() for a in listed] == [[0, 1], [4, 5]]


@pytest.mark.parametrize("kind", ["huge_size_zero_stride", "huge_numel", "memo_index_bomb", "binbytes8_bomb",
                                  "frame_bomb", "deep_nesting"])
def test_declared_sizes_allocate_nothing(tmp_path: pathlib.Path, kind: str) -> None:
    path = FORGED[kind][0](tmp_path / f"{kind}.pt")
    tracemalloc.start()
    try:
        with pytest.raises(nn.CheckpointError):
            nn.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"{kind}: loading allocated {peak} bytes for a {path.stat().st_size}-byte file"


# ----------------------------------------------------------------- fuzzing
@pytest.fixture(scope="module")
def fixture_bytes() -> dict[str, bytes]:
    return {name: (FIXTURES / name).read_bytes() for name in ["dtypes_views.pt", "dtypes_views_legacy.pt"]}


@_TMP
@given(cut=st.integers(0, 10**6), legacy=st.booleans())
def test_every_truncation_is_refused(tmp_path: pathlib.Path, fixture_bytes: dict[str, bytes], cut: int,
                                     legacy: bool) -> None:
    data = fixture_bytes["dtypes_views_legacy.pt" if legacy else "dtypes_views.pt"]
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: cut % len(data)])
    _refused(path)


@_TMP
@given(position=st.integers(0, 10**6), bit=st.integers(0, 7), legacy=st.booleans())
def test_bit_flips_are_caught_or_harmless(tmp_path: pathlib.Path, fixture_bytes: dict[str, bytes], position: int,
                                          bit: int, legacy: bool) -> None:
    data = bytearray(fixture_bytes["dtypes_views_legacy.pt" if legacy else "dtypes_views.pt"])
    data[position % len(data)] ^= 1 << bit
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(data))
    try:
        loaded = nn.load(path)
    except nn.CheckpointError as exc:
        assert str(path) in str(exc)
        return
    if not legacy:  # zip entries carry CRCs: a flip that loads must have hit bytes that hold no value
        _assert_same(loaded, mf.expected_dtypes_views())


STORAGE_TYPES = [*NP_STORED, "BFloat16Storage"]
FORGERIES = ["numel_short", "entry_size", "missing_key", "unknown_type", "negative_offset", "negative_stride",
             "ndim_mismatch", "offset_past_end"]


@_TMP
@given(data=st.data(), stype=st.sampled_from(STORAGE_TYPES), ndim=st.integers(0, 3), offset=st.integers(0, 8),
       spare=st.integers(0, 3), forgery=st.sampled_from(["none"] * 3 + FORGERIES))
def test_forged_geometry_loads_exactly_or_is_refused(tmp_path: pathlib.Path, data: st.DataObject, stype: str,
                                                     ndim: int, offset: int, spare: int, forgery: str) -> None:
    # A geometry that fits its storage by construction, then (mostly) one thing forged.
    size = data.draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim), label="size")
    stride = data.draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim), label="stride")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if math.prod(size) else -1
    numel, slack, key_present = max(last + 1, 0) + spare, 0, True
    if forgery == "numel_short":
        numel = max(last, 0)
    elif forgery == "entry_size":
        slack = data.draw(st.sampled_from([-1, 1]), label="slack")
    elif forgery == "missing_key":
        key_present = False
    elif forgery == "unknown_type":
        stype = data.draw(st.sampled_from(["ComplexFloatStorage", "QInt8Storage", "NoSuchStorage"]), label="type")
    elif forgery == "negative_offset":
        offset = -1
    elif forgery == "negative_stride" and ndim:
        stride[0] = -1
    elif forgery == "ndim_mismatch":
        stride.append(1)
    elif forgery == "offset_past_end":
        offset += numel
    itemsize = ITEMSIZE.get(stype, 8)
    nbytes = max(0, numel * itemsize + slack)
    raw = data.draw(st.binary(min_size=nbytes, max_size=nbytes))
    storages = {"0": raw} if key_present else {}
    path = _torch_zip(tmp_path / "g.pt", _dict({"w": _tensor(_pid(stype, numel=numel), offset, tuple(size),
                                                              tuple(stride))}), storages)
    valid = (stype in ITEMSIZE and key_present and nbytes == numel * itemsize and len(size) == len(stride)
             and offset >= 0 and min(stride, default=0) >= 0
             and (math.prod(size) == 0 or offset + sum((n - 1) * s for n, s in zip(size, stride)) < numel))
    event("loads" if valid else "refused")
    if not valid:
        _refused(path)
        return
    got = nn.load(path)["w"]
    # The oracle: element by element, index arithmetic on the raw storage.
    stored = np.frombuffer(raw, dtype="<u2" if stype == "BFloat16Storage" else NP_STORED[stype])
    want = np.zeros(size, dtype=got.dtype)
    for idx in np.ndindex(*size):
        value = stored[offset + sum(i * s for i, s in zip(idx, stride))]
        if stype == "BFloat16Storage":
            value = np.array([int(value) << 16], dtype=np.uint32).view(np.float32)[0]
        want[idx] = value != 0 if stype == "BoolStorage" else value
    assert got.shape == tuple(size) and got.tobytes() == want.tobytes()
