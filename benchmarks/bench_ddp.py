"""Data-parallel throughput: the MNIST-1D MLP at global batch 512 on 1 and 2 MPI processes.

    python -m benchmarks.bench_ddp            # launches `mpiexec -n 1` and `mpiexec -n 2` itself
    python -m benchmarks.bench_ddp --steps 400 --bandwidth-gbit 10 --latency-us 20

Every process runs with one BLAS thread (OPENBLAS_NUM_THREADS=1 and friends), so 2
processes use 2 cores and 1 process uses 1. A step is forward, cross-entropy, backward
(with DDP's gradient all-reduce when there are 2 processes) and an SGD update on
`512 / world` samples per process; the global batch is 512 either way, so global steps/s
compare directly. The steps are timed between two barriers after 30 warm-up steps.

Overlap (2 processes), measured in the same run on the same per-process batch of 256, with
a barrier after every step so that both processes always compute at the same time (two
busy processes slow each other down on this machine; a process that ran ahead alone
would look faster than it can be in training):
- `t_ddp`: a step of the DDP-wrapped model;
- `t_local`: a step of the same model without DDP (no communication at all); the
  1-process step time over `t_local` is the best speedup this machine allows;
- `t_comm`: communication alone: one `all_reduce(op="mean")` of an array as large as DDP's
  gradient bucket(s) (every parameter plus one flag per parameter, float32), after a barrier,
  so no compute is there to hide it.
Exposed communication is `t_ddp - t_local`; the share hidden behind backward is
`1 - exposed / t_comm` (clipped to [0, 1]). With a bucket of 60 kB on one machine the
all-reduce is short, so the figure is noisy: read it together with `t_comm`.

The last table is arithmetic, not a measurement: a ring all-reduce of B bytes over p ranks
costs 2(p-1)/p * B / bandwidth + 2(p-1) * latency; compute per step is the measured
1-process step time divided by p (perfect compute scaling, the best case), and the
all-reduce is assumed not hidden at all (the worst case) - so the table shows where adding
ranks stops paying for this small model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

import numpy as np

GLOBAL_BATCH = 512
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "AUTOGRAD_NUM_THREADS")


def _timed(fn, steps: int, barrier) -> float:
    """Seconds per call of fn over `steps` calls, between barriers."""
    barrier()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    barrier()
    return (time.perf_counter() - t0) / steps


def worker(steps: int) -> None:
    import autograd_core as ag
    import nn
    from examples.mnist1d import MLP
    from nn import distributed as dist

    if hasattr(ag, "set_num_threads"):  # the engine's own threads, where this version has them
        ag.set_num_threads(1)
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = GLOBAL_BATCH // world
    rng = np.random.default_rng(rank)
    x = ag.Tensor(rng.normal(size=(local, 40)).astype(np.float32))
    y = rng.integers(0, 10, size=local)
    loss_fn = nn.CrossEntropyLoss()

    def stepper(model):
        opt = nn.optim.SGD(model.parameters(), lr=0.01)

        def step() -> None:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

        return step

    nn.manual_seed(0)
    net = MLP()
    if world > 1:
        from nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net)
    else:
        model = net
    step = stepper(model)
    for _ in range(30):
        step()
    t_step = _timed(step, steps, dist.barrier)
    result = {"world": world, "local_batch": local, "step_s": t_step, "steps_per_s": 1.0 / t_step}
    params = list(net.parameters())
    n_floats = sum(p.data.size for p in params) + len(params)
    result["grad_bytes"] = 4 * n_floats
    if world > 1:
        plain = stepper(MLP())
        for _ in range(30):
            plain()

        def in_step(run: Any) -> Any:  # both processes step together: no one runs alone on the machine
            def synced() -> None:
                run()
                dist.barrier()

            return synced

        t_local = _timed(in_step(plain), steps, dist.barrier)
        buf = np.zeros(n_floats, dtype=np.float32)

        def comm() -> None:
            dist.barrier()
            dist.all_reduce(buf, op="mean")

        def barrier_only() -> None:
            dist.barrier()

        for _ in range(30):
            comm()
        t_comm = _timed(comm, steps, dist.barrier) - _timed(barrier_only, steps, dist.barrier)
        t_ddp = _timed(in_step(step), steps, dist.barrier)  # again, next to t_local in time
        exposed = max(t_ddp - t_local, 0.0)
        result.update(t_ddp=t_ddp, t_local=t_local, t_comm=max(t_comm, 1e-9), exposed=exposed,
                      overlap=float(np.clip(1.0 - exposed / max(t_comm, 1e-9), 0.0, 1.0)))
    if rank == 0:
        print("RESULT " + json.dumps(result), flush=True)
    dist.destroy_process_group()


def launch(n: int, steps: int) -> dict:
    exe = shutil.which("mpiexec")
    if exe is None:
        raise SystemExit("mpiexec not found: pip install mpich mpi4py")
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    cmd = [exe, "-n", str(n), sys.executable, "-m", "benchmarks.bench_ddp", "--worker", "--steps", str(steps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(lines[-1][len("RESULT "):])


def ring_allreduce_s(p: int, nbytes: float, bandwidth_bytes: float, latency_s: float) -> float:
    return 2 * (p - 1) / p * nbytes / bandwidth_bytes + 2 * (p - 1) * latency_s


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="timed steps per measurement")
    parser.add_argument("--bandwidth-gbit", type=float, default=10.0, help="network bandwidth for the model, Gb/s")
    parser.add_argument("--latency-us", type=float, default=20.0, help="per-message latency for the model, µs")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.steps)
        return {}

    one, two = launch(1, args.steps), launch(2, args.steps)
    speedup = two["steps_per_s"] / one["steps_per_s"]
    print(f"MNIST-1D MLP, global batch {GLOBAL_BATCH}, one BLAS thread per process, {args.steps} timed steps")
    print(f"  1 process : {one['steps_per_s']:7.1f} global steps/s ({one['step_s'] * 1e3:.2f} ms/step, batch 512)")
    print(f"  2 processes: {two['steps_per_s']:7.1f} global steps/s ({two['step_s'] * 1e3:.2f} ms/step, "
          f"batch 256 each)  -> speedup {speedup:.2f}x (target >= 1.7x)")
    print(f"  overlap: step with DDP {two['t_ddp'] * 1e3:.3f} ms, without communication {two['t_local'] * 1e3:.3f} ms, "
          f"exposed {two['exposed'] * 1e3:.3f} ms; all-reduce of {two['grad_bytes'] / 1e3:.0f} kB alone "
          f"{two['t_comm'] * 1e3:.3f} ms -> {two['overlap']:.0%} hidden behind backward")

    bw = args.bandwidth_gbit * 1e9 / 8
    lat = args.latency_us * 1e-6
    t1 = one["step_s"]
    print(f"\nSimulated scaling (ring all-reduce of {two['grad_bytes'] / 1e3:.0f} kB, {args.bandwidth_gbit:g} Gb/s, "
          f"{args.latency_us:g} µs latency; compute = measured 1-process step / p; no overlap):")
    print(f"  {'ranks':>5} {'batch/rank':>10} {'compute ms':>10} {'allreduce ms':>12} {'step ms':>8} "
          f"{'speedup':>8} {'efficiency':>10}")
    rows = []
    for p in (1, 2, 4, 8, 16, 32, 64):
        comp = t1 / p
        comm = ring_allreduce_s(p, two["grad_bytes"], bw, lat) if p > 1 else 0.0
        sp = t1 / (comp + comm)
        rows.append({"ranks": p, "speedup": sp})
        print(f"  {p:>5} {GLOBAL_BATCH // p:>10} {comp * 1e3:>10.3f} {comm * 1e3:>12.3f} {(comp + comm) * 1e3:>8.3f} "
              f"{sp:>7.2f}x {sp / p:>9.0%}")
    return {"one": one, "two": two, "speedup": speedup, "simulated": rows}


if __name__ == "__main__":
    main()
