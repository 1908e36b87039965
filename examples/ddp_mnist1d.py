"""MNIST-1D's CNN trained on several processes with DistributedDataParallel.

    mpiexec -n 2 python -m examples.ddp_mnist1d           # 2 processes, global batch 100
    python -m examples.ddp_mnist1d                        # the same run on 1 process, for comparison
    mpiexec -n 2 python -m examples.ddp_mnist1d --quick   # 1,500 steps instead of 6,000

The recipe of `examples/mnist1d.py` (the paper's CNN, Adam lr 1e-2, global batch 100,
6,000 steps), written the data-parallel way: every process builds the model, wraps it
in `nn.parallel.DistributedDataParallel` (rank 0's weights are broadcast, gradients are
averaged during backward) and reads its own shard of each epoch through
`nn.data.DistributedSampler` (reshuffled by `set_epoch`), taking `100 / world` samples
per step, so a step sees the same global batch whatever the number of processes and
the step counts compare one for one. Only rank 0 prints. Run with
`OPENBLAS_NUM_THREADS=1` so that the processes do not fight over cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import nn
from examples.mnist1d import MODELS, accuracy
from nn.datasets import load_mnist1d


def _init_distributed() -> tuple[int, int]:
    """Join the MPI process group when there is one (mpi4py installed); (rank, world size)."""
    from nn import distributed

    try:
        distributed.init_process_group(backend="mpi")
    except (ImportError, RuntimeError):
        return 0, 1
    return distributed.get_rank(), distributed.get_world_size()


def train(model_name: str, steps: int, global_batch: int, seed: int, rank: int, world: int, data) -> dict:
    x_train, y_train, x_test, y_test = data
    if global_batch % world:
        raise SystemExit(f"global batch {global_batch} is not divisible by {world} processes")
    nn.manual_seed(seed)
    net = MODELS[model_name]()
    model = net
    if world > 1:
        from nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net)
    optimizer = nn.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    train_set = nn.data.TensorDataset(x_train, y_train)
    sampler = nn.data.DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    loader = nn.data.DataLoader(train_set, batch_size=global_batch // world, sampler=sampler, drop_last=True)
    step, epoch, losses, t0 = 0, 0, [], time.perf_counter()
    while step < steps:
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if step % 500 == 0 and rank == 0:
                print(f"  step {step:5d}: loss {np.mean(losses[-100:]):.3f}, "
                      f"test accuracy {accuracy(net, x_test, y_test):.1%}", flush=True)
            if step == steps:
                break
        epoch += 1
    seconds = time.perf_counter() - t0
    return {"accuracy": accuracy(net, x_test, y_test), "seconds": seconds, "steps": steps}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="MNIST-1D on several processes (run under mpiexec).")
    parser.add_argument("--model", default="cnn", choices=sorted(MODELS))
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=100, help="global batch (split over the processes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1,500 steps")
    args = parser.parse_args(argv)
    steps = 1500 if args.quick else args.steps
    rank, world = _init_distributed()
    (x_train, y_train), (x_test, y_test) = load_mnist1d()
    if rank == 0:
        print(f"MNIST-1D {args.model}: {world} process(es), global batch {args.batch} "
              f"({args.batch // world} per process), {steps} steps", flush=True)
    result = train(args.model, steps, args.batch, args.seed, rank, world, (x_train, y_train, x_test, y_test))
    if rank == 0:
        print(f"{args.model} on {world} process(es): test accuracy {result['accuracy']:.1%} "
              f"in {result['seconds']:.1f}s ({steps / result['seconds']:.0f} steps/s)", flush=True)
    return result


if __name__ == "__main__":
    main()
