"""Peak resident memory of a workload's steps, measured for one engine in a fresh process (Linux).

The parent calls `peak_memory`, which runs this module as a probe:

    python -m benchmarks.memory MODULE FACTORY STEPS [--tiny] [--threads N] [--engine E]

The probe builds the step (imports, model and data), resets the kernel's peak-RSS mark to
the current RSS through /proc/self/clear_refs, runs STEPS steps and prints VmHWM minus the
RSS at the reset: what the steps themselves needed at their peak, above the set-up.
Resident memory counts every allocator (NumPy's, PyTorch's, the peers'), which tracemalloc
does not.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

PROBE_TIMEOUT_S = 900


def _status(field: str) -> int:
    """A /proc/self/status field in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))


def peak_memory(module: str, factory: str, steps: int, *, tiny: bool = False, threads: int = 1,
                engine: str = "ours") -> int:
    """Bytes of peak resident memory that `steps` steps add above their set-up, in a fresh process
    whose thread variables are pinned to `threads`. Raises RuntimeError when the probe fails."""
    from benchmarks.suite import thread_env

    cmd = [sys.executable, "-m", "benchmarks.memory", module, factory, str(steps), "--threads", str(threads),
           "--engine", engine, *(["--tiny"] if tiny else [])]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=thread_env(threads), timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{factory}: no answer after {PROBE_TIMEOUT_S} s") from None
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines or not lines[-1].lstrip("-").isdigit():
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{factory} exited with status {out.returncode}: {tail}")
    return max(int(lines[-1]), 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Peak-memory probe of one workload factory (see module docstring)")
    parser.add_argument("module")
    parser.add_argument("factory")
    parser.add_argument("steps", type=int)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--engine", default="ours")
    args = parser.parse_args(argv)

    from benchmarks.suite import call_factory, pin_threads

    pin_threads(args.threads, [args.engine])
    step = call_factory(getattr(importlib.import_module(args.module), args.factory), tiny=args.tiny)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak-RSS mark (VmHWM) to the current RSS
    except OSError as exc:
        sys.exit(f"peak memory needs Linux's /proc/self/clear_refs: {exc}")
    base = _status("VmRSS:")
    for _ in range(args.steps):
        step()
    print(_status("VmHWM:") - base)


if __name__ == "__main__":
    main()
