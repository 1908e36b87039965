"""Job workloads: whole runs, timed once per engine (`{prefix}_job(engine, threads, tiny)`).

- `mnist1d_job`: the MNIST-1D main job (`examples.mnist1d`): each of its models (MLP,
  CNN, GRU) trained from scratch as the example trains them (Adam lr 1e-2, batch 100 in
  order through the training set, test accuracy every 250 steps, seed 0), for 4,000 of
  the example's 6,000 steps, so that a run stays under about 2 minutes per engine on a
  busy 2-core machine (about 40 s here and 60 s in PyTorch when idle, the GRU most of
  it; `tiny`: 3 steps). Engine `ours` runs `examples.mnist1d.train` itself; `torch` runs the same models,
  initialisation scheme, optimizer, batch schedule and evaluation written in PyTorch, on
  the same generated data. Only the training loops are timed (the data is generated once
  per process, outside the timing; each model first runs one untimed step). Returns
  `{"seconds", "per_model", "accuracy", "steps"}`.
- `ddp_job`: `benchmarks.bench_ddp` (MNIST-1D MLP, global batch 512, one BLAS thread per
  process whatever `threads` says) launched with `mpiexec -n 1` and `-n 2`; this engine
  only. Returns seconds per global step at 2 processes, the 1-process figure, the speedup
  and the share of the all-reduce hidden behind backward.
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import time
from collections.abc import Callable
from typing import Any

import numpy as np

MNIST1D_STEPS, MNIST1D_TINY_STEPS, MNIST1D_SEED = 4000, 3, 0
DDP_STEPS, DDP_TINY_STEPS = 400, 3
BATCH, LR, EVAL_EVERY = 100, 1e-2, 250  # examples.mnist1d.train's


@functools.cache
def _mnist1d() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test), generated once per process (a few seconds)."""
    from nn.datasets import load_mnist1d

    (x_train, y_train), (x_test, y_test) = load_mnist1d()
    return x_train, y_train, x_test, y_test


def _torch_models() -> dict[str, Callable[[], Any]]:
    """examples.mnist1d's MODELS in PyTorch, layer for layer."""
    import torch
    from torch import nn

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear1, self.linear2, self.linear3 = nn.Linear(40, 100), nn.Linear(100, 100), nn.Linear(100, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.linear1(x).relu()
            h = h + self.linear2(h).relu()
            return self.linear3(h)

    class CNN(nn.Module):
        def __init__(self, channels: int = 25) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
            self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.linear = nn.Linear(channels * 5, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = x.reshape(x.shape[0], 1, x.shape[-1])
            h = self.conv3(self.conv2(self.conv1(h).relu()).relu()).relu()
            return self.linear(h.reshape(h.shape[0], -1))

    class GRU(nn.Module):
        def __init__(self, hidden_size: int = 6, steps: int = 40) -> None:
            super().__init__()
            self.gru = nn.GRU(1, hidden_size, batch_first=True, bidirectional=True)
            self.linear = nn.Linear(2 * hidden_size * steps, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            output, _ = self.gru(x.reshape(x.shape[0], x.shape[1], 1))
            return self.linear(output.reshape(output.shape[0], -1))

    return {"mlp": MLP, "cnn": CNN, "gru": GRU}


def _train_torch(name: str, data: tuple[np.ndarray, ...], steps: int) -> float:
    """examples.mnist1d.train in PyTorch; returns the final test accuracy."""
    import torch

    x_train, y_train, x_test, y_test = (torch.from_numpy(a) for a in data)
    torch.manual_seed(MNIST1D_SEED)
    model = _torch_models()[name]()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    losses, acc = [], 0.0
    for step in range(steps + 1):
        start = (step * BATCH) % len(x_train)
        loss = loss_fn(model(x_train[start:start + BATCH]), y_train[start:start + BATCH])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % EVAL_EVERY == 0:  # as the example: eval mode, no grad, argmax
            model.eval()
            with torch.no_grad():
                acc = float((model(x_test).argmax(dim=-1) == y_test).double().mean())
            model.train()
    return acc


def mnist1d_job(engine: str, threads: int, tiny: bool = False) -> dict:
    """Train every model of examples.mnist1d once in `engine` ("ours" or "torch") on `threads` threads."""
    if engine == "ours":
        import autograd_core as ag
        from examples.mnist1d import MODELS, train

        previous = ag.get_num_threads()
        ag.set_num_threads(threads)

        def run(name: str, data: tuple, steps: int) -> float:
            return train(name, MNIST1D_SEED, data, steps, show_progress=False)["test_accuracy"][-1]

        names: list[str] = list(MODELS)
        restore: Callable[[], None] = lambda: ag.set_num_threads(previous)
    elif engine == "torch":
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        run, names = _train_torch, list(_torch_models())
        restore = lambda: torch.set_num_threads(previous)
    else:
        raise NotImplementedError(f"mnist1d_job runs this engine and PyTorch only, not {engine!r}")
    data = _mnist1d()
    steps = MNIST1D_TINY_STEPS if tiny else MNIST1D_STEPS
    per_model, accuracy = {}, {}
    try:
        for name in names:
            run(name, data, 0)  # untimed: first-call costs (PyTorch's lazy set-up, caches) are not training
            t0 = time.perf_counter()
            accuracy[name] = run(name, data, steps)
            per_model[name] = time.perf_counter() - t0
    finally:
        restore()
    return {"seconds": sum(per_model.values()), "per_model": per_model, "accuracy": accuracy, "steps": steps}


def ddp_job(engine: str, threads: int, tiny: bool = False) -> dict:
    """bench_ddp at 1 and 2 MPI processes; `threads` is not used (one BLAS thread per process by design)."""
    if engine != "ours":
        raise NotImplementedError(f"ddp_throughput runs this engine only (DistributedDataParallel), not {engine!r}")
    if shutil.which("mpiexec") is None:
        raise ImportError("ddp_throughput needs mpiexec: pip install mpich mpi4py")
    if importlib.util.find_spec("mpi4py") is None:
        raise ImportError("ddp_throughput needs mpi4py: pip install mpi4py")
    from benchmarks.bench_ddp import launch

    steps = DDP_TINY_STEPS if tiny else DDP_STEPS
    try:
        one, two = launch(1, steps), launch(2, steps)
    except SystemExit as exc:  # launch() exits with the workers' output when mpiexec fails
        raise RuntimeError(str(exc)) from None
    return {"seconds": two["step_s"], "one_process_s": one["step_s"],
            "speedup": two["steps_per_s"] / one["steps_per_s"], "overlap": two["overlap"], "comm_s": two["t_comm"],
            "steps": steps, "threads_per_process": 1}
