"""The suite's former entry point, kept for its command line: now a thin wrapper over `python -m benchmarks`.

    python -m benchmarks.run                 # all workloads, ours against PyTorch, 1 thread
    python -m benchmarks.run op_overhead     # one workload
    python -m benchmarks.run --threads 2 --repeat 30 --memory-steps 200

It runs `python -m benchmarks WORKLOADS --engines ours torch --threads N --repeat N
--memory-steps N --no-profile`: the two engines side by side, as before; see that module
for the full suite (peers, several thread counts, JSON, markdown and chart).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from benchmarks.suite import time_interleaved


def time_steps(steps: list[Callable[[], None]], repeat: int, budget: float = 0.02) -> list[float]:
    """Median seconds per call of each step, timed in interleaved rounds (`benchmarks.suite.time_interleaved`).

    Kept for the workload modules' own `main`s; a step that raises makes this raise.
    """
    timed, errors = time_interleaved({str(i): step for i, step in enumerate(steps)}, repeat, budget)
    if errors:
        raise RuntimeError("; ".join(f"step {i}: {e}" for i, e in errors.items()))
    return [timed[str(i)]["median_s"] for i in range(len(steps))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", help="default: all")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--memory-steps", type=int, default=0, help="also measure peak memory over N steps")
    args = parser.parse_args(argv)
    from benchmarks.__main__ import main as suite_main

    return suite_main([*args.workloads, "--engines", "ours", "torch", "--threads", str(args.threads),
                       "--repeat", str(args.repeat), "--memory-steps", str(args.memory_steps), "--no-profile"])


if __name__ == "__main__":
    sys.exit(main())
