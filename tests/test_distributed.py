"""nn.distributed and nn.parallel.DistributedDataParallel.

Multi-process checks run `mpiexec -n 2 python tests/mpi/<script>.py` in a subprocess (with a
timeout, so a hang fails instead of blocking the suite); they skip when mpiexec or mpi4py is
missing. The single-process checks need neither (mpi4py only where init_process_group is called).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn import distributed as dist
from nn.parallel import DistributedDataParallel

ROOT = Path(__file__).resolve().parent.parent
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
MPIEXEC = shutil.which("mpiexec")
needs_mpiexec = pytest.mark.skipif(
    MPIEXEC is None or not HAVE_MPI4PY, reason="needs mpiexec and mpi4py (pip install \"autograd-core[distributed]\")"
)


def mpirun(script: str, n: int = 2, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [MPIEXEC, "-n", str(n), sys.executable, str(ROOT / "tests" / "mpi" / script)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


# ----------------------------------------------------------------- several processes
@needs_mpiexec
def test_collectives_two_processes() -> None:
    result = mpirun("collectives.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "collectives ok rank 0" in result.stdout and "collectives ok rank 1" in result.stdout


@needs_mpiexec
def test_ddp_matches_single_process_training() -> None:
    # parameters made equal at construction; MLP and CNN, 20 SGD-momentum steps within 1e-10;
    # no_sync accumulation; accumulation over synchronised backwards; unused parameters
    result = mpirun("ddp_equivalence.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ddp ok rank 0" in result.stdout and "ddp ok rank 1" in result.stdout


@needs_mpiexec
def test_failing_rank_ends_the_job_quickly() -> None:
    start = time.monotonic()
    result = mpirun("raise_error.py", timeout=60)
    assert result.returncode != 0
    assert "boom from rank 1" in result.stderr
    assert "should not get here" not in result.stdout
    assert time.monotonic() - start < 30


# ----------------------------------------------------------------- a single process
def test_world_of_one_without_init() -> None:
    assert not dist.is_initialized()
    assert dist.get_rank() == 0 and dist.get_world_size() == 1
    dist.barrier()
    a = np.arange(3.0)
    for op in ("sum", "mean", "max", "min"):
        assert dist.all_reduce(a, op=op) is a
    assert np.array_equal(a, np.arange(3.0))
    t = ag.Tensor(np.ones(2))
    assert dist.broadcast(t, src=0) is t
    assert dist.all_reduce(t, async_op=True).wait() is t
    dist.destroy_process_group()  # nothing to destroy: no error


def test_collective_argument_errors() -> None:
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(np.ones(2), op="prod")
    with pytest.raises(TypeError, match="NumPy array or a Tensor"):
        dist.all_reduce([1.0, 2.0])
    with pytest.raises(ValueError, match="src must be a rank"):
        dist.broadcast(np.ones(2), src=1)
    with pytest.raises(ValueError, match="unknown backend 'nccl'; available: mpi"):
        dist.init_process_group(backend="nccl")


def test_missing_mpi4py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r'pip install "autograd-core\[distributed\]"'):
        dist.init_process_group()
    assert not dist.is_initialized()


def test_ddp_without_init_only_delegates() -> None:
    nn.manual_seed(0)
    model = nn.Linear(3, 2)
    ddp = DistributedDataParallel(model)
    assert ddp.module is model
    assert list(ddp.state_dict()) == ["module.weight", "module.bias"]
    assert [id(p) for p in ddp.parameters()] == [id(p) for p in model.parameters()]
    x = ag.Tensor(np.ones((4, 3), dtype=np.float32))
    assert np.array_equal(ddp(x).data, model(x).data)
    ddp.load_state_dict({k: v * 0 for k, v in ddp.state_dict().items()})
    assert not model.weight.data.any()


@pytest.fixture
def group():
    if not HAVE_MPI4PY:
        pytest.skip('mpi4py is not installed (pip install "autograd-core[distributed]")')
    dist.init_process_group(backend="mpi")
    dist.init_process_group()  # idempotent
    yield
    dist.destroy_process_group()
    assert not dist.is_initialized()


def test_world_of_one_initialized(group: None) -> None:
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    a = np.arange(4.0)[::2]
    assert dist.all_reduce(a, op="mean") is a and np.array_equal(a, [0.0, 2.0])
    dist.barrier()


def test_ddp_hooks_in_a_world_of_one(group: None, float64_default: None) -> None:
    # The bucketed hook machinery runs in a world of one too: gradients equal a plain backward,
    # including accumulation into an existing .grad and no_sync.
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    reference = copy.deepcopy(model)
    ddp = DistributedDataParallel(model, bucket_cap_mb=0.0001)
    assert len(ddp._buckets) > 1
    x = ag.Tensor(np.random.default_rng(0).normal(size=(5, 3)))
    for _ in range(2):
        ddp(x).sum().backward()
        reference(x).sum().backward()
    with ddp.no_sync():
        ddp(x).sum().backward()
    reference(x).sum().backward()
    (ddp(x) ** 2).sum().backward()
    (reference(x) ** 2).sum().backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12, atol=1e-12)


def test_ddp_unused_parameters_in_a_world_of_one(group: None) -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(2, 2)
            self.unused = nn.Linear(2, 2)

        def forward(self, x):
            return self.used(x)

    model = Two()
    ddp = DistributedDataParallel(model)
    ddp(ag.Tensor(np.ones((1, 2), dtype=np.float32))).sum().backward()
    assert model.used.weight.grad is not None and model.unused.weight.grad is None
    ddp(ag.Tensor(np.ones((1, 2), dtype=np.float32))).sum().backward()  # the next step is not stuck
    assert np.allclose(model.used.weight.grad, 2.0)


def test_ag_grad_on_a_wrapped_model_returns_local_gradients_not_zeros() -> None:
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    import autograd_core as ag
    import nn
    from nn import distributed as dist

    dist.init_process_group(backend="mpi")
    try:
        model = nn.parallel.DistributedDataParallel(nn.Linear(3, 2))
        x = np.ones((4, 3), dtype=np.float32)
        (gw, gb) = ag.grad(model(x).sum(), [model.module.weight, model.module.bias])
        np.testing.assert_allclose(gw.data, np.full((2, 3), 4.0))
        np.testing.assert_allclose(gb.data, np.full(2, 4.0))
    finally:
        dist.destroy_process_group()
