"""The suite's outputs from its JSON report: console tables, markdown tables, the bar chart, the JSON file.

Every function here reads the merged report (see `benchmarks.__main__` for its layout), so
a saved JSON file can be rendered again later: `markdown(json.load(f))`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

NAMES = {"ours": "ours", "torch": "PyTorch", "mygrad": "MyGrad", "hips": "HIPS autograd", "micrograd": "micrograd",
         "blas": "BLAS floor"}
RATIO_NOTE = ("(0.79x) after a time is ours / that engine, from the medians: below 1, ours is faster; "
              "against the BLAS floor it is how many times the bare matrix products the whole step takes.")


def format_seconds(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "–"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def format_mib(n_bytes: int | None) -> str:
    return "–" if n_bytes is None else f"{n_bytes / 2**20:.1f}"


def _per_unit(entry: Mapping[str, Any], units: int) -> float | None:
    if "seconds" in entry:  # a job: one run
        return entry["seconds"]
    return entry["median_s"] / units if "median_s" in entry else None


def _cell(result: Mapping[str, Any], name: str, entry: Mapping[str, Any] | None) -> str:
    """One engine's time per unit with ours / it, or why there is none."""
    if not entry:
        return "–"
    if entry.get("status") != "ok":
        return entry.get("status", "–")
    text = format_seconds(_per_unit(entry, result.get("units", 1)))
    ratio = result.get("ratios", {}).get(name)
    return f"{text} ({ratio:.2f}x)" if name != "ours" and ratio is not None else text


def _shares(result: Mapping[str, Any]) -> str:
    profile = result.get("profile") or {}
    kernels, python = profile.get("kernel_share"), profile.get("python_share")
    return "–" if kernels is None else f"{kernels:.0%} / {python:.0%}"


def _spread(entry: Mapping[str, Any]) -> str:
    if "p25_s" not in entry or not entry.get("median_s"):
        return "–"
    return f"±{(entry['p75_s'] - entry['p25_s']) / 2 / entry['median_s']:.1%}"


def _engines(run: Mapping[str, Any]) -> list[str]:
    """The engines present in a run's results, in ENGINES order."""
    from benchmarks.workloads import ENGINES

    seen = {name for w in run["workloads"].values() for name in w.get("engines", {})}
    return [e for e in ENGINES if e in seen]


def timing_rows(run: Mapping[str, Any], console: bool = False) -> list[list[str]]:
    engines = _engines(run)
    head = ["workload", "per", *(NAMES[e] for e in engines), NAMES["blas"], "kernels / Python"]
    if console:
        head[3:3] = ["ours IQR", "ours 1st call"]
    rows = [head]
    for name, result in run["workloads"].items():
        cells = [name, result.get("unit", "step") if result.get("kind") != "job" else "run"]
        cells += [_cell(result, e, result.get("engines", {}).get(e)) for e in engines]
        cells += [_cell(result, "blas", result.get("floor")), _shares(result)]
        if console:
            ours = result.get("engines", {}).get("ours", {})
            first = ours["first_call_s"] / result.get("units", 1) if "first_call_s" in ours else None
            cells[3:3] = [_spread(ours), format_seconds(first)]
        rows.append(cells)
    return rows


def memory_rows(run: Mapping[str, Any]) -> list[list[str]]:
    engines = _engines(run)
    rows = [["workload", *(f"{NAMES[e]} (MiB)" for e in engines)]]
    for name, result in run["workloads"].items():
        entries = result.get("engines", {})
        if any("peak_memory_bytes" in entries.get(e, {}) for e in engines):
            rows.append([name, *(format_mib(entries.get(e, {}).get("peak_memory_bytes")) for e in engines)])
    return rows if len(rows) > 1 else []


def notes(run: Mapping[str, Any]) -> list[str]:
    """Skipped and failed workloads and engines, one line each."""
    lines = []
    for name, result in run["workloads"].items():
        if not result.get("engines") and result.get("reason"):  # the module, not an engine, failed
            lines.append(f"{name}: {result['status']} ({result['reason']})")
            continue
        for engine, entry in (*result.get("engines", {}).items(), ("blas", result.get("floor") or {})):
            if entry.get("status") in ("skipped", "error"):
                lines.append(f"{name}: {engine} {entry['status']} ({entry.get('reason', '')})")
    return lines


def text_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "| " + " | ".join("---" for _ in rows[0]) + " |"]
    lines += ["| " + " | ".join([f"`{r[0]}`", *r[1:]]) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _blas_line(run: Mapping[str, Any]) -> str:
    """The BLAS libraries loaded in a run (NumPy's, and any a peer brought) and their thread counts."""
    libs = sorted((b for b in run.get("blas", []) if b.get("user_api") == "blas"), key=lambda b: b["filepath"] or "")
    return ", ".join(f"{b['internal_api']} {b['version']} ({Path(b['filepath'] or '?').name}, "
                     f"{b['num_threads']} thread{'s' if b['num_threads'] != 1 else ''})" for b in libs) or "?"


def console(report: Mapping[str, Any]) -> str:
    parts = []
    for run in report["runs"]:
        if "workloads" not in run:
            parts.append(f"threads={run['threads']}: ERROR ({run.get('error', 'no result')})")
            continue
        parts.append(f"\nthreads={run['threads']}  BLAS: {_blas_line(run)}")
        parts.append(text_table(timing_rows(run, console=True)))
        mem = memory_rows(run)
        if mem:
            parts.append("peak memory above set-up, MiB:\n" + text_table(mem))
        parts += [f"  {line}" for line in notes(run)]
    parts.append(RATIO_NOTE + " IQR: half the p25–p75 range of ours's rounds, over the median; "
                 "1st call: the first step after building, warm-up included.")
    return "\n".join(parts)


def header(report: Mapping[str, Any]) -> str:
    m = report["machine"]
    v = m["versions"]
    peers = ", ".join(f"{NAMES[e]} {v[e]}" for e in ("torch", "mygrad", "hips", "micrograd") if v.get(e))
    threads = ", ".join(str(r["threads"]) for r in report["runs"])
    return (f"Measured on {m['cpu']} ({m['cores_available']} cores available), {m['platform']}; Python "
            f"{v['python']}, NumPy {v['numpy']}; peers: {peers or 'none'}. Threads: {threads}. "
            f"Date: {report['date']}.\n\nReproduce: `{report['command']}`")


def markdown(report: Mapping[str, Any]) -> str:
    """README-ready markdown: the machine and command, then per thread count the times and peak memory."""
    parts = [header(report), "", RATIO_NOTE + " Times are medians per step (per op for `op_overhead`); "
             "kernels / Python is this engine's share of step time in NumPy/BLAS and in the interpreter "
             "(perf samples of the main thread)."]
    for run in report["runs"]:
        if "workloads" not in run:
            continue
        n = run["threads"]
        parts += ["", f"#### {n} thread{'s' if n != 1 else ''} (BLAS: {_blas_line(run)})", "",
                  markdown_table(timing_rows(run))]
        mem = memory_rows(run)
        if mem:
            parts += ["", f"Peak resident memory of {report['settings']['memory_steps']} steps above set-up:", "",
                      markdown_table(mem)]
        run_notes = notes(run)
        if run_notes:
            parts += ["", *(f"- {line}" for line in run_notes)]
    return "\n".join(parts).rstrip() + "\n"


def chart(report: Mapping[str, Any], path: str | Path) -> None:
    """Bar chart of ours / PyTorch per workload (log scale), one bar per thread count, saved as PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError as exc:
        raise ImportError(f'the chart needs matplotlib: pip install -e ".[benchmarks]" ({exc})') from None
    runs = [r for r in report["runs"] if "workloads" in r]
    names = [n for n in dict.fromkeys(n for r in runs for n in r["workloads"])
             if any("torch" in r["workloads"].get(n, {}).get("ratios", {}) for r in runs)]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 4.5))
    width = 0.8 / max(len(runs), 1)
    shown = [1.0]
    for i, run in enumerate(runs):
        values = [run["workloads"].get(n, {}).get("ratios", {}).get("torch", math.nan) for n in names]
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(names))]
        # bars grow from 1.0, down when ours is faster, up when slower
        bars = ax.bar(xs, [v - 1 for v in values], width, bottom=1.0,
                      label=f"{run['threads']} thread{'s' if run['threads'] != 1 else ''}")
        ax.bar_label(bars, labels=["" if math.isnan(v) else f"{v:.2f}" for v in values], fontsize=7,
                     padding=2)
        shown += [v for v in values if not math.isnan(v)]
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_yscale("log")
    span = max(max(shown), 1 / min(shown)) * 1.4  # symmetric about 1 in log space: 2x slower looks like 2x faster
    ax.set_ylim(1 / span, span)
    ax.set_yticks([t for t in (0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50) if 1 / span <= t <= span])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}x"))
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("ours / PyTorch, median time (below 1: ours faster)")
    ax.set_title(f"autograd_core against PyTorch {report['machine']['versions'].get('torch') or ''}".rstrip())
    if runs:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars in a job's result
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def write_json(report: Mapping[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(report, indent=1, default=_json_default) + "\n")
