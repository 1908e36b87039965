"""`ag.checkpoint` (issue 16, item 3): activation memory and time of a deep MLP training step.

    python -m benchmarks.bench_checkpoint              # the table below
    python -m benchmarks.bench_checkpoint --repeat 5 --threads 1
    python -m benchmarks.run ckpt_mlp50 --memory-steps 3   # checkpointed step vs PyTorch's

A 50-layer MLP (Linear(256, 256) + ReLU per layer, batch 256, float32) trained with
SGD, run plainly and with a checkpoint around every layer and around every 5 layers.
For each it reports

- kept: the memory held at the end of the forward pass (loss computed, before backward),
  above what was allocated before it: the activations the graph keeps (tracemalloc,
  which sees NumPy's arrays);
- peak: the peak traced memory during forward + backward above the same baseline
  (the new gradients of the parameters, 12.6 MiB, are part of it in every mode);
- time per step (zero_grad, forward, backward, SGD step), the median of `--repeat`
  rounds timed alternately across the three modes, without tracemalloc.

`tiny=True` (the workload factories): 4 layers of width 8, batch 2, a checkpoint every
2 layers. No peer engine has activation checkpointing.
"""

from __future__ import annotations

import argparse
import gc
import os
import tracemalloc
from collections.abc import Callable
from typing import Any

DEPTH, WIDTH, BATCH = 50, 256, 256
TINY_DEPTH, TINY_WIDTH, TINY_BATCH, TINY_EVERY = 4, 8, 2, 2
MODES = {"plain": 0, "every layer": 1, "every 5 layers": 5}


def _config(tiny: bool) -> tuple[int, int, int]:
    return (TINY_DEPTH, TINY_WIDTH, TINY_BATCH) if tiny else (DEPTH, WIDTH, BATCH)


def _data(tiny: bool = False) -> tuple[Any, Any]:
    import numpy as np  # imported late, so `--threads` can pin BLAS first

    _, width, batch = _config(tiny)
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, width)).astype(np.float32), rng.integers(0, 10, batch)


def _segments(n: int, every: int) -> list[tuple[int, int]]:
    return [(i, min(i + every, n)) for i in range(0, n, every)]


def _model_ours(tiny: bool = False) -> Any:
    import nn

    depth, width, _ = _config(tiny)
    nn.manual_seed(0)
    return nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.ReLU()) for _ in range(depth)])


def _forward_ours(model: Any, x: Any, every: int) -> Any:
    import autograd_core as ag
    import nn

    if not every:
        return model(x)
    h = x
    for start, stop in _segments(len(model), every):
        block = model[start] if stop - start == 1 else nn.Sequential(*[model[i] for i in range(start, stop)])
        h = ag.checkpoint(block, h)
    return h


def step_ours(every: int, tiny: bool = False) -> tuple[Callable[[], None], Callable[[], Any], Callable[[], None]]:
    """(one training step, forward to the loss, SGD update) for this engine; the step calls `.backward()`."""
    import autograd_core as ag
    import nn

    x, y = _data(tiny)
    inputs = ag.Tensor(x)
    model = _model_ours(tiny)
    head = nn.Linear(x.shape[1], 10)
    params = list(model.parameters()) + list(head.parameters())
    optimizer = nn.optim.SGD(params, lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def forward() -> Any:
        optimizer.zero_grad()
        return loss_fn(head(_forward_ours(model, inputs, every)), y)

    def step() -> None:
        forward().backward()
        optimizer.step()

    return step, forward, optimizer.step


def ckpt_mlp50_ours(tiny: bool = False) -> Callable[[], None]:
    """For `benchmarks.run`: the step with a checkpoint every 5 layers (every 2 when tiny)."""
    return step_ours(TINY_EVERY if tiny else 5, tiny)[0]


def ckpt_mlp50_torch(tiny: bool = False) -> Callable[[], None]:
    """PyTorch's step with `torch.utils.checkpoint.checkpoint(use_reentrant=False)` every 5 layers."""
    import torch
    from torch.utils.checkpoint import checkpoint

    depth, width, _ = _config(tiny)
    x, y = _data(tiny)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        *[torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU()) for _ in range(depth)]
    )
    head = torch.nn.Linear(width, 10)
    optimizer = torch.optim.SGD(list(model.parameters()) + list(head.parameters()), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
    blocks = [model[start:stop] for start, stop in _segments(depth, TINY_EVERY if tiny else 5)]

    def step() -> None:
        optimizer.zero_grad()
        h = inputs
        for block in blocks:
            h = checkpoint(block, h, use_reentrant=False)
        loss_fn(head(h), targets).backward()
        optimizer.step()

    return step


def traced_memory(every: int) -> tuple[int, int]:
    """(bytes kept at the end of the forward pass, peak bytes during forward + backward), traced."""
    step, forward, update = step_ours(every)
    step()  # warm up: gradients exist from here on, as in a training loop
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        loss = forward()
        kept = tracemalloc.get_traced_memory()[0] - base
        loss.backward()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    update()
    return kept, peak


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"{DEPTH}-layer MLP, width {WIDTH}, batch {BATCH}, float32, threads={args.threads}")
    rows = []
    for name, every in MODES.items():
        kept, peak = traced_memory(every)
        rows.append({"mode": name, "kept": kept, "peak": peak})
    from benchmarks.run import time_steps  # here, so the workload factories do not need the harness

    # Timed in alternating rounds (benchmarks.run), so a busier moment of the machine hits every mode alike.
    times = time_steps([step_ours(every)[0] for every in MODES.values()], args.repeat, budget=0.3)
    for row, seconds in zip(rows, times):
        row["time"] = seconds
    plain = rows[0]
    print(f"{'checkpoint':16s} {'kept after forward':>22s} {'peak fwd+bwd':>20s} {'time/step':>18s}")
    for r in rows:
        print(
            f"{r['mode']:16s} {r['kept'] / 2**20:8.1f} MiB ({r['kept'] / plain['kept']:5.1%}) "
            f"{r['peak'] / 2**20:8.1f} MiB ({r['peak'] / plain['peak']:5.1%}) "
            f"{r['time'] * 1e3:8.1f} ms ({r['time'] / plain['time']:4.2f}x)",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    import sys

    _threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads BLAS
        os.environ[_var] = _threads
    main()
