"""Where this engine's step time goes: NumPy/BLAS kernels against Python overhead.

Two profiler runs per workload, for `ours` only:

- **Native samples (Linux `perf`)**, the kernel share. The step runs in a loop in a fresh
  probe process (`python -m benchmarks.profiling MODULE FACTORY`, same thread variables);
  `perf record` samples it for a second and every sample is classed by the library its
  instruction is in: *kernels* (NumPy's compiled modules, the BLAS/LAPACK library, libm),
  *Python* (the interpreter: libpython, the python binary, stdlib extension modules),
  *libc* (malloc/free/memcpy, called by both), *OS* (the Linux kernel: page faults of fresh
  allocations, scheduling) and *other*. Only the main thread's samples count: it runs the
  step from start to end (waiting on BLAS workers inside BLAS), so its samples split the
  step's wall time, whereas idle BLAS workers spin and would inflate the kernel share.
  Sampling adds no overhead to the step.
- **cProfile** (in this process, a few steps), the per-function view: the Python
  functions with the most own time, and the C functions cProfile can see.

cProfile alone cannot give the kernel share: it only sees calls of C *function objects*
(`ndarray.sum`, `ufunc.reduce`, `np.concatenate`, ...). Operators on arrays (`a @ b`,
`a * b`) and ufunc calls (`np.exp(a)`) are not function objects to it, so their time lands
in the own time of the Python function that ran them (on `mlp_step` it sees 4% of the time
in C where `perf` finds about 85% in NumPy and BLAS). The cProfile figure kept in the
report, `cprofile.visible_kernel_share`, is the NumPy C time it saw per step over the
unprofiled median step time: a lower bound. Without `perf` (not Linux, not installed, or
`perf_event_paranoid` too strict) the kernel share is reported as null with the reason.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

PERF_SECONDS, PERF_FREQUENCY = 1.0, 999
CPROFILE_SECONDS, CPROFILE_MAX_STEPS = 0.5, 20
TOP = 8
_SAMPLE = re.compile(r"^\s*(?P<tid>\d+)\s+[0-9a-f]+\s+(?P<sym>.*?)\s+\((?P<dso>[^()]*)\)\s*$")
_KERNEL_LIBS = ("blas", "lapack", "mkl", "gomp", "gfortran", "quadmath", "libm.so", "libm-", "libmvec")


def _short_path(path: str) -> str:
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.relpath(path, root) if path.startswith(root) else path


def _is_numpy_c(name: str) -> bool:
    return any(k in name for k in ("numpy", "ndarray", "ufunc"))


def cprofile_steps(step: Callable[[], None], median_s: float, tiny: bool = False) -> dict[str, Any]:
    """cProfile a few calls of `step`: top Python functions by own time and the visible C functions, per step."""
    n = 1 if tiny else max(1, min(CPROFILE_MAX_STEPS, int(CPROFILE_SECONDS / max(median_s, 1e-9))))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (primitive calls, calls, own s, cumulative s, callers)}
    python, c_funcs = [], []
    for (filename, line, name), (_, calls, own, _cum, _callers) in stats.items():
        if filename == "~":
            if "_lsprof.Profiler" not in name:
                c_funcs.append({"function": name, "own_s": own / n, "calls": calls / n, "numpy": _is_numpy_c(name)})
        else:
            python.append({"function": f"{_short_path(filename)}:{line}({name})", "own_s": own / n, "calls": calls / n})
    numpy_c = sum(f["own_s"] for f in c_funcs if f["numpy"])
    return {
        "steps": n,
        "profiled_step_s": sum(f["own_s"] for f in python + c_funcs),
        "numpy_c_s": numpy_c,
        "visible_kernel_share": min(1.0, numpy_c / median_s) if median_s > 0 else None,
        "top_python": sorted(python, key=lambda f: -f["own_s"])[:TOP],
        "top_c": sorted(c_funcs, key=lambda f: -f["own_s"])[:TOP],
    }


def category(dso: str) -> str:
    """The class of a sample by the path of the library (DSO) its instruction is in."""
    name = os.path.basename(dso).lower()
    if dso.startswith("[kernel") or name.startswith("[kernel") or dso == "[vdso]":
        return "os"
    if "/numpy/" in dso or "numpy.libs" in dso or any(k in name for k in _KERNEL_LIBS):
        return "kernels"
    if "libpython" in name or name.startswith("python") or "/lib-dynload/" in dso:
        return "python"
    if name.startswith(("libc.so", "libc-")):
        return "libc"
    return "other"


def classify_samples(lines: list[str], main_tid: int | None = None) -> dict[str, Any]:
    """Shares of `perf script -F tid,ip,sym,dso` samples per category, and the top symbols.

    Only the main thread's samples (`main_tid`) count: it runs the step from start to end, so
    its samples split the step's wall time, while idle BLAS workers spin and would count as kernels.
    """
    by_category: Counter[str] = Counter()
    by_symbol: Counter[tuple[str, str]] = Counter()
    others = 0
    for line in lines:
        m = _SAMPLE.match(line)
        if not m:
            continue
        if main_tid is not None and int(m["tid"]) != main_tid:
            others += 1
            continue
        by_category[category(m["dso"])] += 1
        by_symbol[(m["sym"], m["dso"])] += 1
    total = sum(by_category.values())
    if not total:
        return {"samples": 0, "other_thread_samples": others, "shares": {}, "top_symbols": []}
    top = [{"symbol": sym, "library": os.path.basename(dso), "category": category(dso), "share": k / total}
           for (sym, dso), k in by_symbol.most_common(TOP)]
    shares = {c: by_category.get(c, 0) / total for c in ("kernels", "python", "libc", "os", "other")}
    return {"samples": total, "other_thread_samples": others, "shares": shares, "top_symbols": top}


def perf_profile(module: str, factory: str, *, tiny: bool = False, threads: int = 1,
                 seconds: float = PERF_SECONDS) -> dict[str, Any]:
    """Sample the step loop of a fresh probe process with `perf record`; {"available": False, ...} without perf."""
    from benchmarks.suite import thread_env

    perf = shutil.which("perf")
    if perf is None:
        return {"available": False, "reason": "the Linux `perf` tool is not installed"}
    with tempfile.TemporaryDirectory() as tmp:
        data, err_path = os.path.join(tmp, "perf.data"), os.path.join(tmp, "probe.err")
        cmd = [sys.executable, "-m", "benchmarks.profiling", module, factory, "--threads", str(threads),
               "--seconds", str(seconds * 4 + 30), *(["--tiny"] if tiny else [])]
        with open(err_path, "w") as err:
            probe = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=thread_env(threads))
        try:
            # a factory may print (downloads, progress bars) before the probe's own "ready"
            if probe.stdout is None or not any(line.strip() == "ready" for line in iter(probe.stdout.readline, "")):
                probe.wait()
                with open(err_path) as f:
                    tail = (f.read().strip().splitlines() or ["no output"])[-1]
                return {"available": False, "reason": f"the profile probe failed: {tail}"}
            rec = subprocess.run([perf, "record", "-q", "-F", str(PERF_FREQUENCY), "-o", data, "-p", str(probe.pid),
                                  "--", "sleep", str(seconds)], capture_output=True, text=True)
        finally:
            if probe.poll() is None:
                probe.terminate()
            probe.wait()
        if rec.returncode != 0 or not os.path.exists(data):
            tail = (rec.stderr.strip().splitlines() or [f"status {rec.returncode}"])[-1]
            return {"available": False, "reason": f"perf record failed: {tail}"}
        script = subprocess.run([perf, "script", "-i", data, "-F", "tid,ip,sym,dso"], capture_output=True, text=True)
    out = classify_samples(script.stdout.splitlines(), main_tid=probe.pid)
    if not out["samples"]:
        return {"available": False, "reason": "perf recorded no samples"}
    return {"available": True, "seconds": seconds, **out}


def profile_ours(step: Callable[[], None], median_s: float, module: str, factory: str, *, tiny: bool = False,
                 threads: int = 1) -> dict[str, Any]:
    """The `profile` entry of a workload: kernel and Python shares (from perf) and the cProfile tables."""
    native = perf_profile(module, factory, tiny=tiny, threads=threads, seconds=0.2 if tiny else PERF_SECONDS)
    profile = cprofile_steps(step, median_s, tiny)
    shares = native.get("shares", {})
    return {
        "method": "perf" if native["available"] else None,
        "kernel_share": shares.get("kernels"),
        "python_share": shares.get("python"),
        "perf": native,
        "cprofile": profile,
    }


def main(argv: list[str] | None = None) -> None:
    """The probe: build the step, say "ready", then run steps until killed or `--seconds` pass."""
    parser = argparse.ArgumentParser(description="Step loop for `perf record -p` (see module docstring)")
    parser.add_argument("module")
    parser.add_argument("factory")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)

    from benchmarks.suite import call_factory, pin_threads

    pin_threads(args.threads, ["ours"])
    step = call_factory(getattr(importlib.import_module(args.module), args.factory), tiny=args.tiny)
    step()
    step()  # warm: the samples should see steady-state steps only
    print("ready", flush=True)
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        step()


if __name__ == "__main__":
    main()
