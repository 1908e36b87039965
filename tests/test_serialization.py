"""Checkpoints: round trip, dtypes, atomic writes, rejection of damaged files, exact resume."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

import nn
from autograd_core import Tensor
from nn.serialization import CheckpointError


def sample_state():
    rng = np.random.default_rng(0)
    return {
        "layers.0.weight": rng.normal(size=(4, 3)).astype(np.float32),
        "layers.0.bias": Tensor(rng.normal(size=(4,))),  # float64 Tensor
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),  # 0-d
        "mask": np.array([True, False]),
        "half": np.arange(6, dtype=np.float16).reshape(2, 3).T,  # non-contiguous
    }


def test_round_trip_keeps_values_dtypes_shapes(tmp_path):
    path = tmp_path / "m.safetensors"
    state = sample_state()
    nn.save(state, path, metadata={"epoch": "3", "note": "hello"})
    loaded = nn.load(path)
    assert loaded.keys() == state.keys()
    for k, v in state.items():
        ref = np.asarray(v)
        assert isinstance(loaded[k], np.ndarray)
        assert loaded[k].dtype == ref.dtype and loaded[k].shape == ref.shape
        np.testing.assert_array_equal(loaded[k], ref)
    arrays, meta = nn.load(str(path), with_metadata=True)
    assert meta == {"epoch": "3", "note": "hello"}


def test_plain_safetensors_files_without_checksum_load(tmp_path):
    import safetensors.numpy

    path = tmp_path / "plain.safetensors"
    safetensors.numpy.save_file({"w": np.ones((2, 2), np.float32)}, str(path), metadata={"a": "b"})
    arrays, meta = nn.load(path, with_metadata=True)
    np.testing.assert_array_equal(arrays["w"], np.ones((2, 2)))
    assert meta == {"a": "b"}


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="str -> str"):
        nn.save({"a": np.ones(2)}, tmp_path / "x", metadata={"epoch": 3})
    with pytest.raises(ValueError, match="reserved"):
        nn.save({"a": np.ones(2)}, tmp_path / "x", metadata={"nn.checksum": "x"})
    with pytest.raises(TypeError, match="dtype object"):
        nn.save({"a": np.array([None])}, tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "missing.safetensors")


# ----------------------------------------------------------------- atomic writes
def test_crash_during_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    nn.save({"w": np.zeros(3)}, path)
    old_bytes = path.read_bytes()

    def crash(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(nn.serialization.os, "fsync", crash)
    with pytest.raises(OSError, match="simulated"):
        nn.save({"w": np.ones(1000)}, path)
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_crash_half_way_through_the_bytes(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    nn.save({"w": np.zeros(3)}, path)
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise KeyboardInterrupt  # even a non-Exception interruption cleans up

    monkeypatch.setattr(nn.serialization.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        nn.save({"w": np.ones(1000)}, path)
    np.testing.assert_array_equal(nn.load(path)["w"], np.zeros(3))
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_new_file_is_readable_by_others(tmp_path):
    path = tmp_path / "m.safetensors"
    nn.save({"w": np.zeros(2)}, path)
    assert os.stat(path).st_mode & 0o044 == 0o044  # not mkstemp's private 0600


# ----------------------------------------------------------------- damaged files
@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    nn.save(sample_state(), path, metadata={"k": "v"})
    return path


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty.safetensors' is empty"):
        nn.load(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(b"this is not a checkpoint at all, just text" * 3)
    with pytest.raises(ValueError, match="garbage.bin.*(truncated|not a safetensors)"):
        nn.load(path)


def test_pickle_file_is_rejected_without_running_it(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="evil.pt"):
        nn.load(path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(good_file, keep):
    data = good_file.read_bytes()
    good_file.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="good.safetensors"):
        nn.load(good_file)


def test_every_single_bit_flip_is_caught(good_file):
    # Every byte (length field, JSON header with its key names, tensor bytes), two of
    # its bits each. The checksum covers what the format itself cannot check.
    data = good_file.read_bytes()
    for pos in range(len(data)):
        for bit in {pos % 8, (3 * pos + 5) % 8}:
            flipped = bytearray(data)
            flipped[pos] ^= 1 << bit
            good_file.write_bytes(bytes(flipped))
            with pytest.raises(CheckpointError, match="good.safetensors"):
                nn.load(good_file)


def test_header_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.safetensors"
    header = json.dumps([1, 2]).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(CheckpointError, match="not a JSON object"):
        nn.load(path)


# ----------------------------------------------------------------- training checkpoints
def _setup(opt_name, seed):
    nn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 2))
    kw = {
        "Adam": dict(lr=0.01, amsgrad=True),
        "SGD": dict(lr=0.1, momentum=0.9, nesterov=True),
        "RMSprop": dict(lr=0.01, centered=True, momentum=0.5),
        "Adagrad": dict(lr=0.1),
    }[opt_name]
    opt = getattr(nn.optim, opt_name)(model.parameters(), **kw)
    sched = nn.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def _train(model, opt, sched, steps, start):
    rng = np.random.default_rng(100 + start)
    for i in range(steps):
        x = Tensor(rng.normal(size=(4, 3)).astype(np.float32))
        opt.zero_grad()
        ((model(x) - 1.0) ** 2).mean().backward()
        opt.step()
        sched.step()
        rng = np.random.default_rng(100 + start + i + 1)


@pytest.mark.parametrize("opt_name", ["Adam", "SGD", "RMSprop", "Adagrad"])
def test_resume_from_checkpoint_is_bit_identical(tmp_path, opt_name):
    ref = _setup(opt_name, seed=0)
    _train(*ref, steps=6, start=0)

    run = _setup(opt_name, seed=0)
    _train(*run, steps=3, start=0)
    path = tmp_path / "ckpt.safetensors"
    nn.save_checkpoint(path, *run, epoch=3, metadata={"run": "a"})

    fresh = _setup(opt_name, seed=123)  # different init: everything must come from the file
    info = nn.load_checkpoint(path, *fresh)
    assert info == {"epoch": 3, "metadata": {"run": "a"}}
    _train(*fresh, steps=3, start=3)

    for (k, a), b in zip(ref[0].state_dict().items(), fresh[0].state_dict().values()):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert fresh[2].get_last_lr() == ref[2].get_last_lr()
    sa, sb = ref[1].state_dict(), fresh[1].state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for idx in sa["state"]:
        for key, value in sa["state"][idx].items():
            np.testing.assert_array_equal(value, sb["state"][idx][key])


def test_checkpoint_layout_and_mismatched_optimizer(tmp_path):
    model, opt, sched = _setup("Adam", seed=0)
    _train(model, opt, sched, steps=1, start=0)
    path = tmp_path / "ckpt.safetensors"
    nn.save_checkpoint(path, model, opt)
    arrays, meta = nn.load(path, with_metadata=True)
    assert "model.0.weight" in arrays and "optimizer.state.0.exp_avg" in arrays
    assert arrays["optimizer.state.3.max_exp_avg_sq"].shape == (2,)
    saved = json.loads(meta["nn.optimizer"])
    assert saved["scalars"]["0"] == {"step": 1} and saved["param_groups"][0]["betas"] == [0.9, 0.999]
    other = nn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="holds Adam state, cannot load it into SGD"):
        nn.load_checkpoint(path, model, other)
    with pytest.raises(ValueError, match="no scheduler state"):
        nn.load_checkpoint(path, model, scheduler=sched)
