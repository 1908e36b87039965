"""Time each workload in this engine and in PyTorch CPU, in one process, same thread count.

    python -m benchmarks.run                 # all workloads, 1 thread
    python -m benchmarks.run op_overhead     # one workload
    python -m benchmarks.run --threads 2 --repeat 30

Prints median time per step for both engines, timed in alternating rounds, and the
ratio (ours / PyTorch). Thread counts are pinned before NumPy or PyTorch load their
BLAS. `--memory-steps N` adds the peak resident memory of an N-step run, measured in a
fresh process for each engine.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

# name: (module, factory prefix, unit count per step for a per-unit figure, unit name)
WORKLOADS: dict[str, tuple[str, str, int | str, str]] = {
    "op_overhead": ("benchmarks.bench_core", "op_overhead", "OPS_PER_STEP", "op"),
    "mlp_step": ("benchmarks.bench_nn", "mlp_step", 1, "step"),
    "cnn_step": ("benchmarks.bench_cnn", "cnn_step", 1, "step"),
    "conv2d": ("benchmarks.bench_cnn", "conv2d", 1, "step"),
    "rnn_step": ("benchmarks.bench_sequence", "rnn_step", 1, "step"),
    "attention_step": ("benchmarks.bench_sequence", "attention_step", 1, "step"),
    "solve_slogdet": ("benchmarks.bench_linalg", "solve_slogdet", 1, "step"),
    "ckpt_mlp50": ("benchmarks.bench_checkpoint", "ckpt_mlp50", 1, "step"),
    "hessian_100": ("benchmarks.bench_transforms", "hessian_100", 1, "step"),
    "jvp_mlp": ("benchmarks.bench_transforms", "jvp_mlp", 1, "step"),
    "jvp_mlp_forward": ("benchmarks.bench_transforms", "jvp_mlp_forward", 1, "step"),
    "minilm_encode": ("benchmarks.bench_minilm", "minilm_encode", 1, "step"),
    "per_sample_grads": ("benchmarks.bench_vmap", "per_sample_grads", 1, "step"),
}


def _pin_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def _calibrate(step: Callable[[], None], budget: float) -> int:
    """Calls per timing round so that one round takes about `budget` seconds."""
    step()  # warm up
    t0 = time.perf_counter()
    step()
    return max(1, int(budget / max(time.perf_counter() - t0, 1e-7)))


def _round(step: Callable[[], None], calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - t0) / calls


def time_steps(steps: list[Callable[[], None]], repeat: int, budget: float = 0.02) -> list[float]:
    """Median seconds per call of each step, timed in alternating rounds.

    Interleaving the engines round by round means a slower or busier moment of the
    machine hits both alike, so the ratio stays stable even when absolute times drift.
    """
    calls = [_calibrate(step, budget) for step in steps]
    samples: list[list[float]] = [[] for _ in steps]
    for _ in range(repeat):
        for step, n, out in zip(steps, calls, samples):
            out.append(_round(step, n))
    return [statistics.median(s) for s in samples]


_MEMORY_PROBE = """
import sys, importlib
module = importlib.import_module(sys.argv[1])
step = getattr(module, sys.argv[2])()
def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak-RSS mark to the current RSS (Linux)
base = status("VmRSS:")  # after imports, model and data: the run itself starts here
for _ in range(int(sys.argv[3])):
    step()
print(status("VmHWM:") - base)
"""


def peak_memory(module: str, factory: str, steps: int) -> int:
    """Peak resident memory of `steps` calls above the memory before the first, in a fresh process.

    Resident memory counts every allocator (NumPy's and PyTorch's alike), which
    tracemalloc does not. The baseline is taken after imports, model and data are set
    up, so the figure is what the training run itself needs at its peak.
    """
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, module, factory, str(steps)],
        capture_output=True, text=True, check=True, env=os.environ,
    )
    return max(int(out.stdout.strip().splitlines()[-1]), 0)


def run(names: list[str], repeat: int, memory_steps: int) -> list[dict[str, object]]:
    try:
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    except ImportError:
        torch = None
        print("PyTorch is not installed: timing this engine only (pip install torch==2.13.0)")
    rows = []
    for name in names:
        module_name, prefix, units, unit = WORKLOADS[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            print(f"{name:15s} skipped ({exc})")
            continue
        n_units = getattr(module, units) if isinstance(units, str) else units
        try:
            steps = [getattr(module, f"{prefix}_ours")()]
        except ImportError as exc:  # a workload's optional package (e.g. pretrained model files) is absent
            print(f"{name:15s} skipped ({exc})")
            continue
        try:
            steps += [getattr(module, f"{prefix}_torch")()] if torch else []
        except ImportError as exc:  # the PyTorch side needs a package beyond torch (e.g. sentence-transformers)
            print(f"{name:15s} PyTorch side skipped ({exc})")
        theirs_available = len(steps) == 2
        times = time_steps(steps, repeat)
        ours, theirs = times[0], (times[1] if theirs_available else None)
        row: dict[str, object] = {"workload": name, "ours_s": ours, "torch_s": theirs}
        line = f"{name:15s} ours {ours / n_units * 1e6:9.2f} us/{unit}"
        if theirs:
            row["ratio"] = ours / theirs
            line += f"   torch {theirs / n_units * 1e6:9.2f} us/{unit}   ratio {ours / theirs:5.2f}x"
        if memory_steps:
            mine = peak_memory(module_name, f"{prefix}_ours", memory_steps)
            line += f"   peak mem ours {mine / 2**20:7.1f} MiB"
            row["ours_peak"] = mine
            if theirs_available:
                other = peak_memory(module_name, f"{prefix}_torch", memory_steps)
                row["torch_peak"] = other
                line += f" torch {other / 2**20:7.1f} MiB ({mine / max(other, 1):4.2f}x)"
        print(line, flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", choices=[[], *WORKLOADS], help="default: all")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--memory-steps", type=int, default=0, help="also trace peak memory over N steps")
    args = parser.parse_args(argv)
    _pin_threads(args.threads)
    print(f"threads={args.threads} python={sys.version.split()[0]}")
    run(args.workloads or list(WORKLOADS), args.repeat, args.memory_steps)


if __name__ == "__main__":
    main()
