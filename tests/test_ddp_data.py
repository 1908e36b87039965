"""DistributedSampler, DataLoader(sampler=), and nn.fit under DDP on two MPI processes."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nn
from nn.data import DataLoader, DistributedSampler, TensorDataset

CASES = [(n, p, d) for n in (0, 1, 2, 7, 10, 11, 16) for p in (1, 2, 3, 4, 5) for d in (False, True)]


def _ours(n: int, p: int, r: int, shuffle: bool, drop_last: bool, epoch: int = 0, seed: int = 0) -> list[int]:
    s = DistributedSampler(TensorDataset(np.arange(n)), num_replicas=p, rank=r, shuffle=shuffle, seed=seed,
                           drop_last=drop_last)
    s.set_epoch(epoch)
    out = list(s)
    assert len(out) == len(s)
    return out


@pytest.mark.parametrize("n,p,drop_last", CASES)
def test_unshuffled_orders_equal_torch(n: int, p: int, drop_last: bool) -> None:
    torch_data = pytest.importorskip("torch.utils.data")
    for r in range(p):
        ref = torch_data.DistributedSampler(range(n), num_replicas=p, rank=r, shuffle=False, drop_last=drop_last)
        if n == 0 and not drop_last:
            continue  # torch pads an empty list by an infinite loop / error; nothing to compare
        assert _ours(n, p, r, False, drop_last) == list(ref)
        assert len(DistributedSampler(TensorDataset(np.arange(n)), p, r, shuffle=False, drop_last=drop_last)) == len(
            ref
        )


@pytest.mark.parametrize("n,p,drop_last", [c for c in CASES if c[0] > 0])
def test_shuffled_partition_and_padding(n: int, p: int, drop_last: bool) -> None:
    shards = [_ours(n, p, r, True, drop_last, epoch=2, seed=5) for r in range(p)]
    per_rank = n // p if drop_last else math.ceil(n / p)
    assert all(len(s) == per_rank for s in shards)
    flat = [i for s in shards for i in s]
    if drop_last:
        assert len(set(flat)) == len(flat) == per_rank * p  # disjoint; only the tail is dropped
    else:
        assert set(flat) == set(range(n))  # every sample read, the padding repeats some
    # the interleaving is indices[r::p] of one permutation, the same on every rank
    order = np.random.default_rng(5 + 2).permutation(n)
    padded = np.resize(order, per_rank * p) if not drop_last else order[: per_rank * p]
    for r in range(p):
        assert shards[r] == padded[r::p].tolist()


def test_set_epoch_reshuffles_and_seed_is_deterministic() -> None:
    a0, a1 = _ours(100, 2, 0, True, False, epoch=0), _ours(100, 2, 0, True, False, epoch=1)
    assert a0 != a1
    assert a0 == _ours(100, 2, 0, True, False, epoch=0)
    assert _ours(100, 2, 0, True, False, seed=1) != a0


def test_defaults_without_process_group_and_bad_arguments() -> None:
    s = DistributedSampler(TensorDataset(np.arange(5)), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (1, 0, [0, 1, 2, 3, 4])
    with pytest.raises(ValueError):
        DistributedSampler(TensorDataset(np.arange(5)), num_replicas=2, rank=2)
    with pytest.raises(ValueError):
        DistributedSampler(TensorDataset(np.arange(5)), num_replicas=0, rank=0)


def test_dataloader_with_sampler() -> None:
    ds = TensorDataset(np.arange(11) * 10, np.arange(11))
    s = DistributedSampler(ds, num_replicas=3, rank=2, shuffle=False)
    loader = DataLoader(ds, batch_size=3, sampler=s)
    batches = [(xb.data.tolist(), yb.data.tolist()) for xb, yb in loader]
    assert batches == [([20, 50, 80], [2, 5, 8]), ([0], [0])]  # 11 -> 12 by repeating index 0
    assert len(loader) == 2
    assert len(DataLoader(ds, batch_size=3, sampler=s, drop_last=True)) == 1
    assert [y.data.tolist() for _, y in DataLoader(ds, batch_size=4, sampler=[3, 1, 2])] == [[3, 1, 2]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, batch_size=3, sampler=s, shuffle=True)


def test_fit_single_process_with_sampler_calls_set_epoch() -> None:
    class Spy(DistributedSampler):
        epochs: list[int] = []

        def set_epoch(self, epoch: int) -> None:
            self.epochs.append(epoch)
            super().set_epoch(epoch)

    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    nn.manual_seed(0)
    model = nn.Linear(3, 2)
    sampler = Spy(TensorDataset(x, y), num_replicas=2, rank=0)
    hist = nn.fit(model, nn.CrossEntropyLoss(), nn.optim.SGD(model.parameters(), lr=0.1), x, y, epochs=3,
                  batch_size=4, sampler=sampler, verbose=0)
    assert Spy.epochs == [0, 1, 2] and len(hist.history["loss"]) == 3


def _mpiexec() -> str:
    exe = shutil.which("mpiexec")
    if exe is None or importlib.util.find_spec("mpi4py") is None:
        pytest.skip("needs mpiexec and mpi4py (pip install mpich mpi4py)")
    if importlib.util.find_spec("nn.distributed") is None or importlib.util.find_spec("nn.parallel") is None:
        pytest.skip("needs nn.distributed and nn.parallel")
    return exe


def test_fit_under_ddp_on_two_processes(tmp_path: Path) -> None:
    exe = _mpiexec()
    script = Path(__file__).parent / "mpi_fit" / "fit_ddp.py"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        proc = subprocess.run([exe, "-n", "2", sys.executable, str(script), str(tmp_path)], capture_output=True,
                              text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("mpiexec -n 2 fit_ddp.py did not finish in 120 s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    logs = [(tmp_path / f"rank{r}.log").read_text() for r in range(2)]
    assert "Epoch 2/2" in logs[0]  # rank 0 shows progress
    assert logs[1].strip() == ""  # rank 1 is silent
    res = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert res[0]["history"] == res[1]["history"]  # all-reduced logs: equal on every rank
    assert res[0]["weights_sum"] == pytest.approx(res[1]["weights_sum"], rel=1e-6)  # DDP kept replicas equal
    assert res[0]["epoch_seen"] == 1  # set_epoch was called
    hist, single = res[0]["history"], res[0]["single_process_val"]
    assert hist["val_loss"][-1] == pytest.approx(single["loss"], rel=1e-5)
    assert hist["val_accuracy"][-1] == pytest.approx(single["accuracy"], rel=1e-6)
    assert set(hist) == {"loss", "accuracy", "val_loss", "val_accuracy"}
