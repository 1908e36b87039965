"""The benchmark suite: every workload in this engine and in each installed peer, side by side.

    python -m benchmarks                          # all workloads, all engines, 1 and 2 threads
    python -m benchmarks mlp_step cnn_step        # some workloads
    python -m benchmarks --threads 1 --repeat 30 --engines ours torch
    python -m benchmarks --json bench.json --markdown bench.md --chart bench.png
    python -m benchmarks --list                   # workloads and the engines that run them
    python -m benchmarks --tiny --threads 1       # smoke test: tiny sizes, 2 rounds

Engines: `ours` (autograd_core), `torch` (PyTorch CPU, the reference), `mygrad`, `hips` (HIPS
autograd), `micrograd`. The workloads and their factories are listed in `benchmarks/workloads.py`.

How it runs. Each thread count runs in a fresh child process whose OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and AUTOGRAD_NUM_THREADS are set before NumPy loads,
and which also calls `autograd_core.set_num_threads` and `torch.set_num_threads`. In it,
for each step workload, every engine's step (and the workload's BLAS floor) is built, called
once (*first call*), calibrated to about 50 ms a round (*calibration*: the per-call time
measured then; *calls/round*), and timed for `--repeat` rounds that take turns between the
engines, the order rotating every round: a busy moment of a shared machine slows every
engine alike, so the ratios hold even when absolute times drift. An engine whose rounds
have taken 30 s stops after 3 rounds. Peak memory is measured afterwards, each engine in
its own fresh process (`benchmarks.memory`), and this engine's kernel/Python shares from a
`perf` sample of a fresh process plus a cProfile run (`benchmarks.profiling`). A job
workload is run once per engine and reports the seconds it returns.

Console columns, per thread count:
- `per`: the unit the times are per (a step, or an op for `op_overhead`: step / ops per step).
- an engine's column: its median time per unit over the rounds; `(0.79x)` after it is
  ours / that engine, the ratio of the two medians: below 1 means ours is faster. The same
  direction for every peer and for the floor.
- `ours IQR`: half the p25–p75 range of ours's rounds over its median (the JSON has p25,
  p75, min and max for every engine). `ours 1st call`: the first step after building (per unit,
  like the times), with its one-off costs (the JSON also has `calibration_s`, the per-call time while calibrating).
- `BLAS floor`: the workload's matrix products alone, in NumPy; `(1.8x)` is ours / floor,
  how many times the bare products the whole step takes.
- `kernels / Python`: the shares of this engine's step time in NumPy/BLAS code and in the
  interpreter, from `perf` samples of the main thread (the rest is libc, the OS kernel and
  other libraries); – when `perf` is unavailable. cProfile cannot measure this (it does not
  see array operators): see `benchmarks/profiling.py`.
- peak memory: resident memory of `--memory-steps` steps above the process's memory after
  set-up (imports, model, data), in MiB.
Cells say `n/a` when the engine does not run the workload, `skipped` when it (or a package)
is not installed, `error` when it failed; the lines under the table give the reasons.

JSON (`--json`): {schema, command, argv, date, machine {cpu, cores_available, platform,
versions}, settings {...}, ratio, runs: [{threads, blas: threadpoolctl's libraries and
thread counts, workloads: {name: {kind, unit, units, status, reason?, engines: {engine:
{status, reason?, median_s, p25_s, p75_s, min_s, max_s, samples_s, rounds, calls_per_round,
first_call_s, calibration_s, per_unit_s, peak_memory_bytes} | {status, seconds, result} for
jobs}, floor, ratios {engine: ours/engine}, ratio_spread {engine: [p25, p75] of the
round-by-round ratios}, profile {kernel_share, python_share, perf, cprofile}}}}], errors}.

Exit status 1 when any workload or engine failed (an ImportError is a skip, not a failure),
or an output could not be written; the suite still runs everything else first.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import machine, report
from benchmarks.suite import Settings, pin_threads, run_suite, thread_env
from benchmarks.workloads import ENGINES, REFERENCE, WORKLOADS

TINY_ROUNDS, TINY_BUDGET = 2, 0.001


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", metavar="workload", help="workloads to run (default: all)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    parser.add_argument("--repeat", type=int, default=15, help="timing rounds (default: 15)")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES), help="default: all")
    parser.add_argument("--memory-steps", type=int, default=5, help="steps per peak-memory probe; 0: no probes")
    parser.add_argument("--no-profile", action="store_true", help="skip the kernel/Python profile of ours")
    parser.add_argument("--json", metavar="PATH", help="write the full report as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write README-ready markdown tables")
    parser.add_argument("--chart", metavar="PATH", help="write a PNG bar chart of ours / PyTorch (matplotlib)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes and 2 rounds: a smoke test")
    parser.add_argument("--list", action="store_true", help="list the workloads and the engines that run them")
    parser.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)  # set by the parent
    parser.add_argument("--child-output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)} (choose from {', '.join(WORKLOADS)})")
    if min(args.threads) < 1 or args.repeat < 1 or args.memory_steps < 0:
        parser.error("--threads and --repeat take positive numbers, --memory-steps zero or more")
    args.workloads = args.workloads or list(WORKLOADS)
    args.engines = [e for e in ENGINES if e in args.engines]
    return args


def settings_from(args: argparse.Namespace, threads: int) -> Settings:
    return Settings(engines=tuple(args.engines), threads=threads,
                    repeat=min(args.repeat, TINY_ROUNDS) if args.tiny else args.repeat, tiny=args.tiny,
                    memory_steps=args.memory_steps, profile=not args.no_profile,
                    budget=TINY_BUDGET if args.tiny else Settings.budget)


def list_workloads() -> str:
    """One line per workload: kind, the engines with a factory (and the floor), description."""
    import importlib

    lines = []
    for w in WORKLOADS.values():
        try:
            module = importlib.import_module(w.module)
        except Exception as exc:  # a module being written, or a missing package: say so, list the rest
            runs = f"({w.module} not importable: {type(exc).__name__}: {exc})"
        else:
            if w.kind == "job":
                runs = "job" if hasattr(module, f"{w.prefix}_job") else f"(no {w.prefix}_job)"
            else:
                runs = " ".join(e for e in (*ENGINES, "blas") if hasattr(module, f"{w.prefix}_{e}"))
        lines.append(f"{w.name:18s} {w.kind:4s} {runs:40s} {w.description}")
    return "\n".join(lines)


def run_child(args: argparse.Namespace) -> int:
    """A thread count's run, in this (fresh) process: its result goes to --child-output as JSON."""
    settings = settings_from(args, args.child_threads)
    pin_threads(settings.threads, settings.engines)
    result = run_suite(args.workloads, settings, log=lambda line: print(line, flush=True))
    report.write_json(result, args.child_output)
    return 0


def _child_command(args: argparse.Namespace, threads: int, output: str) -> list[str]:
    cmd = [sys.executable, "-m", "benchmarks", *args.workloads, "--engines", *args.engines,
           "--repeat", str(args.repeat), "--memory-steps", str(args.memory_steps),
           "--child-threads", str(threads), "--child-output", output]
    return cmd + (["--tiny"] if args.tiny else []) + (["--no-profile"] if args.no_profile else [])


def run_threads(args: argparse.Namespace, threads: int) -> dict[str, Any]:
    """Run one thread count in a fresh child process pinned to it, and read back its result."""
    with tempfile.TemporaryDirectory() as tmp:
        output = os.path.join(tmp, "run.json")
        proc = subprocess.run(_child_command(args, threads, output), env=thread_env(threads))
        if proc.returncode != 0 or not os.path.exists(output):
            return {"threads": threads, "error": f"the child process exited with status {proc.returncode}"}
        with open(output) as f:
            return json.load(f)


def collect_errors(runs: list[dict[str, Any]]) -> list[str]:
    errors = []
    for run in runs:
        if "error" in run:
            errors.append(f"threads={run['threads']}: {run['error']}")
            continue
        for name, result in run["workloads"].items():
            if result.get("status") == "error":
                errors.append(f"threads={run['threads']} {name}: {result.get('reason', '')}")
    return errors


def build_report(args: argparse.Namespace, argv: list[str], runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema": 1,
        "command": "python -m benchmarks " + shlex.join(argv) if argv else "python -m benchmarks",
        "argv": argv,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine.machine_info(),
        "settings": {"workloads": args.workloads, "engines": args.engines, "threads": args.threads,
                     "repeat": settings_from(args, 1).repeat, "memory_steps": args.memory_steps,
                     "profile": not args.no_profile, "tiny": args.tiny, "reference": REFERENCE},
        "ratio": "ours / engine, ratio of the median times: below 1, ours is faster",
        "runs": runs,
        "errors": collect_errors(runs),
    }


def write_outputs(args: argparse.Namespace, rep: dict[str, Any]) -> list[str]:
    """Write --json, --markdown and --chart; return what could not be written."""
    failures = []
    for path, write in ((args.json, report.write_json), (args.chart, report.chart),
                        (args.markdown, lambda r, p: Path(p).write_text(report.markdown(r)))):
        if not path:
            continue
        try:
            write(rep, path)
        except (ImportError, OSError) as exc:
            failures.append(f"{path}: {exc}")
        else:
            print(f"wrote {path}")
    return failures


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.list:
        print(list_workloads())
        return 0
    if args.child_threads is not None:
        return run_child(args)
    runs = [run_threads(args, n) for n in args.threads]
    rep = build_report(args, argv, runs)
    print(report.console(rep))
    failures = write_outputs(args, rep)
    for line in rep["errors"] + failures:
        print(f"ERROR: {line}", file=sys.stderr)
    return 1 if rep["errors"] or failures else 0


if __name__ == "__main__":
    sys.exit(main())
