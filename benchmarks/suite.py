"""Running the workloads at one thread count, in this process: factories, interleaved step timing, job runs.

`run_suite` is what a `python -m benchmarks` child process calls once its thread count is
pinned; it returns one JSON-ready dict. Nothing here imports NumPy at module level, so the
parent process can import it before the thread variables are set for the children.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.workloads import ENGINES, REFERENCE, WORKLOADS, Workload

FLOOR = "blas"  # the `{prefix}_blas` factory: timed with the engines, reported as the BLAS floor
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "AUTOGRAD_NUM_THREADS")
ROOT = Path(__file__).resolve().parent.parent  # the repository: `benchmarks` is not an installed package
MIN_ROUNDS = 3  # an engine past its time cap still gets this many rounds

Log = Callable[[str], None]


@dataclass
class Settings:
    """How one thread count is run; the CLI options map onto these fields one to one."""

    engines: tuple[str, ...] = ENGINES
    threads: int = 1
    repeat: int = 15
    tiny: bool = False
    memory_steps: int = 5
    profile: bool = True
    budget: float = 0.05  # seconds per engine per round: the calibrated calls fill about this much
    engine_cap: float = 30.0  # an engine stops after this many seconds of rounds (slow peers)
    settle: float | None = None  # pause before each round; None: SETTLE_S when threads > 1, else 0


# Idle worker threads keep spinning after a parallel call: OpenBLAS's (NumPy's BLAS) for about
# 0.1 s, PyTorch's OpenMP ones for a while too. In one process, an engine's spinners would take
# the cores of the next engine's round (measured at 2 threads: PyTorch's mlp_step 4.2 -> 5.6 ms
# and our conv2d 7.7 -> 13.9 ms right after the other's rounds). A pause before each round lets
# them go to sleep, so every engine starts its round on quiet cores, as it does alone. Half a
# round, untimed, then wakes the engine's own threads: on this VM a core that slept takes some
# 50 ms to come back to speed (measured: the first 4 calls of conv2d after a 0.2 s sleep took
# 1.5x as long at 2 threads; at 1 thread there is no such ramp).
SETTLE_S = 0.2


def thread_env(threads: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process pinned to `threads`: the BLAS/OpenMP variables must be
    set before NumPy loads, and the repository goes on PYTHONPATH so `benchmarks` imports from anywhere."""
    env = dict(os.environ if base is None else base)
    env.update(dict.fromkeys(THREAD_VARS, str(threads)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def pin_threads(threads: int, engines: Sequence[str]) -> None:
    """Set this process's thread count in the engines that have a runtime setting too."""
    import autograd_core

    autograd_core.set_num_threads(threads)
    if "torch" in engines:
        try:
            import torch
        except ImportError:
            return  # the torch factories raise ImportError and are skipped with its text
        torch.set_num_threads(threads)


def describe(exc: BaseException) -> str:
    """An exception as one line: its type and text."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def accepts_tiny(factory: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "tiny" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def call_factory(factory: Callable[..., Any], *args: Any, tiny: bool = False) -> Any:
    """Call a workload factory; `tiny=True` is passed only in tiny mode, and only to factories that
    take it, so factories written before the `tiny` parameter still run (at full size)."""
    if tiny and accepts_tiny(factory):
        return factory(*args, tiny=True)
    return factory(*args)


def units_of(workload: Workload, module: ModuleType) -> int:
    units = getattr(module, workload.units) if isinstance(workload.units, str) else workload.units
    return int(units)


# --- step timing -------------------------------------------------------------------------------------------


def _timed(step: Callable[[], None], calls: int) -> float:
    """Seconds per call of `calls` back-to-back calls."""
    t0 = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - t0) / calls


def _calibrate(step: Callable[[], None], budget: float) -> tuple[int, float]:
    """Calls per round so that a round takes about `budget` seconds, and the per-call time measured."""
    per_call = _timed(step, 1)
    if per_call < budget / 10:  # too short to time alone: measure a batch of about a tenth of the budget
        per_call = _timed(step, max(1, int(budget / 10 / max(per_call, 1e-7))))
    return max(1, round(budget / max(per_call, 1e-9))), per_call


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """Median, quartiles and range of per-call times, one sample per round."""
    p25, p75 = _quartiles(samples)
    return {"median_s": statistics.median(samples), "p25_s": p25, "p75_s": p75, "min_s": min(samples),
            "max_s": max(samples), "rounds": len(samples), "samples_s": list(samples)}


def time_interleaved(steps: Mapping[str, Callable[[], None]], repeat: int, budget: float = 0.05,
                     engine_cap: float = 30.0, settle: float = 0.0) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Time each step in rounds that take turns, so a busier moment of the machine hits them all alike.

    Each step is called once (the first-call warm-up), calibrated to about `budget` seconds a
    round, then timed for `repeat` rounds; the order within a round rotates so no engine always
    runs right after the same other one. A step that raises is dropped and its error returned;
    one whose rounds have used `engine_cap` seconds stops after MIN_ROUNDS rounds. `settle`
    seconds of sleep precede each round (see SETTLE_S).
    """
    results: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    calls: dict[str, int] = {}
    for name, step in steps.items():
        try:
            first = _timed(step, 1)
            calls[name], calibration = _calibrate(step, budget)
        except Exception as exc:  # a failing engine must not stop the others
            errors[name] = describe(exc)
            continue
        results[name] = {"first_call_s": first, "calibration_s": calibration, "calls_per_round": calls[name]}
    samples: dict[str, list[float]] = {name: [] for name in results}
    spent = dict.fromkeys(results, 0.0)
    active = list(results)
    for r in range(repeat):
        if not active:
            break
        k = r % len(active)
        for name in active[k:] + active[:k]:
            try:
                if settle:
                    time.sleep(settle)
                    _timed(steps[name], max(1, calls[name] // 2))  # untimed: wakes this engine's threads
                per_call = _timed(steps[name], calls[name])
            except Exception as exc:
                errors[name] = describe(exc)
                continue
            samples[name].append(per_call)
            spent[name] += per_call * calls[name]
        active = [n for n in active if n not in errors and (spent[n] < engine_cap or len(samples[n]) < MIN_ROUNDS)]
    for name in errors:
        results.pop(name, None)
    for name, result in results.items():
        result.update(summarize(samples[name]))
    return results, errors


def ratios(entries: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """ours / other for every other engine (and the floor) that ran: the ratio of the medians, and
    the quartiles of the round-by-round ratios (rounds i of both, which ran next to each other)."""
    ours = entries.get("ours", {})
    if ours.get("status") != "ok":
        return {}, {}
    out: dict[str, float] = {}
    spread: dict[str, list[float]] = {}
    for name, entry in entries.items():
        if name == "ours" or entry.get("status") != "ok":
            continue
        theirs = entry.get("median_s", entry.get("seconds"))
        mine = ours.get("median_s", ours.get("seconds"))
        if not theirs or mine is None:
            continue
        out[name] = mine / theirs
        pairs = list(zip(ours.get("samples_s", []), entry.get("samples_s", [])))
        if pairs:
            spread[name] = list(_quartiles([a / b for a, b in pairs if b > 0]))
    return out, spread


# --- workloads ---------------------------------------------------------------------------------------------


def _build_steps(w: Workload, module: ModuleType, settings: Settings,
                 log: Log) -> tuple[dict[str, Callable[[], None]], dict[str, dict[str, Any]]]:
    steps: dict[str, Callable[[], None]] = {}
    entries: dict[str, dict[str, Any]] = {}
    for engine in (*settings.engines, FLOOR):
        factory = getattr(module, f"{w.prefix}_{engine}", None)
        if factory is None:
            entries[engine] = {"status": "n/a"}
            continue
        try:
            steps[engine] = call_factory(factory, tiny=settings.tiny)
        except ImportError as exc:  # the engine or a package the workload needs is not installed
            entries[engine] = {"status": "skipped", "reason": describe(exc)}
            log(f"  {w.name}: {engine} skipped ({describe(exc)})")
            continue
        except Exception as exc:
            entries[engine] = {"status": "error", "reason": describe(exc)}
            log(f"  {w.name}: {engine} ERROR while building: {describe(exc)}")
            continue
        entries[engine] = {"status": "ok"}
        if settings.tiny:
            entries[engine]["tiny"] = accepts_tiny(factory)
    return steps, entries


def run_step_workload(w: Workload, module: ModuleType, settings: Settings, log: Log = print) -> dict[str, Any]:
    """Time every engine of a step workload interleaved, then its memory probes and the profile of ours."""
    from benchmarks import memory, profiling

    result: dict[str, Any] = {"units": units_of(w, module)}
    steps, entries = _build_steps(w, module, settings, log)
    gc.collect()  # garbage from building the models should not be collected inside someone's round
    settle = settings.settle if settings.settle is not None else (SETTLE_S if settings.threads > 1 else 0.0)
    timed, errors = time_interleaved(steps, settings.repeat, settings.budget, settings.engine_cap,
                                     0.0 if settings.tiny else settle)
    for name, error in errors.items():
        entries[name] = {"status": "error", "reason": error}
        log(f"  {w.name}: {name} ERROR while timing: {error}")
    for name, timing in timed.items():
        entries[name].update(timing, per_unit_s=timing["median_s"] / result["units"])
    if settings.memory_steps > 0:
        for name in timed:
            if name == FLOOR:
                continue
            try:
                entries[name]["peak_memory_bytes"] = memory.peak_memory(
                    w.module, f"{w.prefix}_{name}", settings.memory_steps, tiny=settings.tiny,
                    threads=settings.threads, engine=name)
            except (RuntimeError, OSError) as exc:
                entries[name]["status"] = "error"
                entries[name]["reason"] = f"memory probe: {describe(exc)}"
                log(f"  {w.name}: {name} ERROR in the memory probe: {describe(exc)}")
    result["floor"] = entries.pop(FLOOR)
    result["engines"] = entries
    result["ratios"], result["ratio_spread"] = ratios({**entries, FLOOR: result["floor"]})
    if settings.profile and "ours" in timed:
        try:
            result["profile"] = profiling.profile_ours(steps["ours"], timed["ours"]["median_s"], w.module,
                                                       f"{w.prefix}_ours", tiny=settings.tiny,
                                                       threads=settings.threads)
        except Exception as exc:  # keep the timings; the failure is reported with the workload's errors
            result["profile"] = {"error": describe(exc)}
            log(f"  {w.name}: ERROR in the profile: {describe(exc)}")
    return result


def run_job_workload(w: Workload, module: ModuleType, settings: Settings, log: Log = print) -> dict[str, Any]:
    """Run a job workload once per engine, in ENGINES order."""
    job = getattr(module, f"{w.prefix}_job", None)
    if job is None:
        return {"status": "n/a", "reason": f"{w.module} has no {w.prefix}_job", "engines": {}}
    entries: dict[str, dict[str, Any]] = {}
    for engine in settings.engines:
        try:
            out = call_factory(job, engine, settings.threads, tiny=settings.tiny)
            entries[engine] = {"status": "ok", "seconds": float(out["seconds"]), "result": dict(out)}
        except ImportError as exc:
            entries[engine] = {"status": "skipped", "reason": describe(exc)}
            log(f"  {w.name}: {engine} skipped ({describe(exc)})")
        except NotImplementedError:  # the job does not exist for this engine
            entries[engine] = {"status": "n/a"}
        except Exception as exc:
            entries[engine] = {"status": "error", "reason": describe(exc)}
            log(f"  {w.name}: {engine} ERROR: {describe(exc)}")
    result: dict[str, Any] = {"engines": entries}
    result["ratios"], result["ratio_spread"] = ratios(entries)
    return result


def run_workload(w: Workload, settings: Settings, log: Log = print) -> dict[str, Any]:
    """One workload's JSON entry; never raises for the workload's own failures."""
    head: dict[str, Any] = {"name": w.name, "kind": w.kind, "unit": w.unit, "description": w.description}
    try:
        module = importlib.import_module(w.module)
    except ImportError as exc:
        log(f"{w.name}: skipped ({describe(exc)})")
        return {**head, "status": "skipped", "reason": describe(exc), "engines": {}}
    except Exception as exc:
        log(f"{w.name}: ERROR importing {w.module}: {describe(exc)}")
        return {**head, "status": "error", "reason": describe(exc), "engines": {}}
    try:
        body = (run_job_workload if w.kind == "job" else run_step_workload)(w, module, settings, log)
    except Exception as exc:  # a bug past the per-engine guards (e.g. a bad units constant): still continue
        log(f"{w.name}: ERROR: {describe(exc)}")
        return {**head, "status": "error", "reason": describe(exc), "engines": {}}
    out = {**head, **body}
    errors = [f"{name}: {e['reason']}" for name, e in (*out["engines"].items(), ("blas", out.get("floor") or {}))
              if e.get("status") == "error"]
    if (out.get("profile") or {}).get("error"):
        errors.append(f"profile: {out['profile']['error']}")
    if "status" not in out:
        ran = any(e.get("status") == "ok" for e in out["engines"].values())
        out["status"] = "error" if errors else ("ok" if ran else "skipped")
    if errors:
        out["reason"] = "; ".join(errors)
    log(one_line(out))
    return out


def one_line(result: Mapping[str, Any]) -> str:
    """A workload's progress line: each engine's median and ours / it."""
    from benchmarks.report import format_seconds

    parts = []
    for name, entry in (*result.get("engines", {}).items(), (FLOOR, result.get("floor") or {})):
        if entry.get("status") != "ok":
            continue
        seconds = entry.get("median_s", entry.get("seconds"))
        ratio = result.get("ratios", {}).get(name)
        parts.append(f"{name} {format_seconds(seconds)}" + (f" ({ratio:.2f}x)" if ratio else ""))
    return f"{result['name']}: " + (", ".join(parts) or result.get("status", ""))


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's view of the BLAS/OpenMP libraries loaded in this process and their thread counts."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture", "filepath")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def run_suite(names: Sequence[str], settings: Settings, registry: Mapping[str, Workload] = WORKLOADS,
              log: Log = print) -> dict[str, Any]:
    """Every named workload at this process's thread count: the `runs[]` entry of the JSON report."""
    log(f"threads={settings.threads}: {len(names)} workload(s), engines {', '.join(settings.engines)}")
    workloads = {name: run_workload(registry[name], settings, log) for name in names}
    return {"threads": settings.threads, "reference": REFERENCE, "workloads": workloads, "blas": blas_info(),
            "python": sys.version.split()[0]}
