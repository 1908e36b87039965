"""The benchmark harness (`python -m benchmarks`): skips, errors, JSON layout, ratios, tables, chart.

Timings are never asserted on (the machine is shared): only the structure of the results
and that the reported ratios follow from the reported medians.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from benchmarks import __main__ as cli
from benchmarks import profiling, report
from benchmarks.run import time_steps
from benchmarks.suite import Settings, run_step_workload, run_suite, time_interleaved
from benchmarks.workloads import Workload

ROOT = Path(__file__).resolve().parent.parent
MODULE = "fake_bench_for_suite"
FAKE = '''
import numpy as np

UNITS = 4


def _matmul(n):
    a = np.ones((n, n))
    return lambda: a @ a


def work_ours(tiny=False):
    return _matmul(4 if tiny else 16)


def work_torch(tiny=False):  # any callable stands in for an engine
    return _matmul(4 if tiny else 16)


def work_mygrad(tiny=False):
    raise ImportError("mygrad is not installed here")


# no work_hips: the engine does not run this workload (n/a)


def work_micrograd(tiny=False):
    def step():
        raise ValueError("boom")
    return step


def work_blas(tiny=False):
    return _matmul(4 if tiny else 16)


def old_ours():  # a factory written before the tiny parameter
    return _matmul(4)


def broken_ours(tiny=False):
    raise RuntimeError("cannot build")


def fake_job(engine, threads, tiny=False):
    if engine == "mygrad":
        raise ImportError("no mygrad for the job")
    if engine == "hips":
        raise NotImplementedError
    return {"seconds": {"ours": 1.0, "torch": 2.0}.get(engine, 4.0), "threads": threads, "tiny": tiny}
'''

REGISTRY = {
    "work": Workload("work", MODULE, "work", units="UNITS", unit="op", description="a fake matmul"),
    "old": Workload("old", MODULE, "old"),
    "broken": Workload("broken", MODULE, "broken"),
    "job": Workload("job", MODULE, "fake", kind="job"),
    "missing": Workload("missing", "no_such_benchmark_module", "x"),
}
QUICK = dict(repeat=3, tiny=True, memory_steps=0, profile=False, budget=0.001)


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fake_bench")
    (path / f"{MODULE}.py").write_text(textwrap.dedent(FAKE))
    return path


@pytest.fixture(scope="module")
def suite_run(fake_dir: Path) -> tuple[dict[str, Any], list[str]]:
    sys.path.insert(0, str(fake_dir))
    lines: list[str] = []
    try:
        result = run_suite(list(REGISTRY), Settings(**QUICK), REGISTRY, log=lines.append)
    finally:
        sys.path.remove(str(fake_dir))
    return result, lines


def test_engine_statuses_and_skip_lines(suite_run: tuple[dict[str, Any], list[str]]) -> None:
    result, lines = suite_run
    engines = result["workloads"]["work"]["engines"]
    assert [engines[e]["status"] for e in ("ours", "torch", "mygrad", "hips", "micrograd")] == \
        ["ok", "ok", "skipped", "n/a", "error"]
    assert engines["mygrad"]["reason"] == "ImportError: mygrad is not installed here"
    assert engines["micrograd"]["reason"] == "ValueError: boom"
    assert "  work: mygrad skipped (ImportError: mygrad is not installed here)" in lines
    assert any("micrograd ERROR" in line and "boom" in line for line in lines)
    work = result["workloads"]["work"]
    assert work["status"] == "error" and "micrograd: ValueError: boom" in work["reason"]
    assert work["floor"]["status"] == "ok"


def test_timing_fields_and_ratios_follow_the_medians(suite_run: tuple[dict[str, Any], list[str]]) -> None:
    work = suite_run[0]["workloads"]["work"]
    assert work["units"] == 4 and work["unit"] == "op"
    for name in ("ours", "torch"):
        e = work["engines"][name]
        assert e["rounds"] == len(e["samples_s"]) == 3 and e["calls_per_round"] >= 1 and e["tiny"] is True
        assert e["min_s"] <= e["p25_s"] <= e["median_s"] <= e["p75_s"] <= e["max_s"]
        assert e["first_call_s"] > 0 and e["calibration_s"] > 0
        assert e["per_unit_s"] == pytest.approx(e["median_s"] / 4)
    ours = work["engines"]["ours"]["median_s"]
    assert set(work["ratios"]) == {"torch", "blas"}
    assert work["ratios"]["torch"] == pytest.approx(ours / work["engines"]["torch"]["median_s"])
    assert work["ratios"]["blas"] == pytest.approx(ours / work["floor"]["median_s"])
    low, high = work["ratio_spread"]["torch"]
    assert low <= high


def test_workload_level_failures_and_old_factories(suite_run: tuple[dict[str, Any], list[str]]) -> None:
    workloads = suite_run[0]["workloads"]
    assert workloads["broken"]["status"] == "error"
    assert workloads["broken"]["engines"]["ours"]["reason"] == "RuntimeError: cannot build"
    assert workloads["missing"]["status"] == "skipped" and "no_such_benchmark_module" in workloads["missing"]["reason"]
    old = workloads["old"]["engines"]["ours"]
    assert old["status"] == "ok" and old["tiny"] is False  # no tiny parameter: called without it, at full size
    assert workloads["old"]["engines"]["torch"]["status"] == "n/a"


def test_job_workload(suite_run: tuple[dict[str, Any], list[str]]) -> None:
    job = suite_run[0]["workloads"]["job"]
    assert job["kind"] == "job" and job["status"] == "ok"
    assert [job["engines"][e]["status"] for e in ("ours", "torch", "mygrad", "hips", "micrograd")] == \
        ["ok", "ok", "skipped", "n/a", "ok"]
    assert job["engines"]["ours"]["result"] == {"seconds": 1.0, "threads": 1, "tiny": True}
    assert job["ratios"] == {"torch": 0.5, "micrograd": 0.25}


def _report(suite_run: tuple[dict[str, Any], list[str]], threads: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    args = cli.parse_args(["--threads", *map(str, threads), "--memory-steps", "0"])
    runs = [{**suite_run[0], "threads": n} for n in threads]
    return json.loads(json.dumps(cli.build_report(args, ["--threads", "1", "2"], runs)))


def test_report_json_and_errors(suite_run: tuple[dict[str, Any], list[str]]) -> None:
    rep = _report(suite_run)
    assert rep["command"] == "python -m benchmarks --threads 1 2"
    assert {"cpu", "cores_available", "platform", "versions"} <= set(rep["machine"])
    assert rep["machine"]["versions"]["numpy"]
    assert [r["threads"] for r in rep["runs"]] == [1, 2]
    assert "threads=1 work: micrograd: ValueError: boom" in rep["errors"]
    assert any(e.startswith("threads=2 broken:") for e in rep["errors"])
    assert not any("missing" in e or " job:" in e for e in rep["errors"])  # skips are not failures


def test_markdown_and_console_tables(suite_run: tuple[dict[str, Any], list[str]]) -> None:
    rep = _report(suite_run)
    md = report.markdown(rep)
    work = rep["runs"][0]["workloads"]["work"]
    row = next(line for line in md.splitlines() if line.startswith("| `work` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "op" and cells[2] == report.format_seconds(work["engines"]["ours"]["per_unit_s"])
    assert cells[3].endswith(f"({work['ratios']['torch']:.2f}x)")
    assert cells[4:7] == ["skipped", "n/a", "error"]
    assert "#### 1 thread " in md and "#### 2 threads " in md
    assert "Reproduce: `python -m benchmarks --threads 1 2`" in md
    assert "- work: micrograd error (ValueError: boom)" in md
    text = report.console(rep)
    assert "threads=2" in text and "ours IQR" in text and "mygrad skipped" in text


def test_peak_memory_probe(fake_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(fake_dir))
    monkeypatch.setenv("PYTHONPATH", str(fake_dir))  # the probe is a fresh process
    settings = Settings(**{**QUICK, "memory_steps": 2, "engines": ("ours",)})
    import importlib

    result = run_step_workload(REGISTRY["work"], importlib.import_module(MODULE), settings, log=lambda _: None)
    ours = result["engines"]["ours"]
    assert ours["status"] == "ok" and isinstance(ours["peak_memory_bytes"], int) and ours["peak_memory_bytes"] >= 0
    assert "peak_memory_bytes" not in result["floor"]


def test_chart_is_written(suite_run: tuple[dict[str, Any], list[str]], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "chart.png"
    report.chart(_report(suite_run), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_perf_sample_classes() -> None:
    site = "/usr/lib/python3.11/site-packages"
    lines = [
        f"10  7f01 sgemm_kernel_SKYLAKEX ({site}/numpy.libs/libscipy_openblas64_-32a4b2a6.so)",
        f"10  7f02 FLOAT_add ({site}/numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so)",
        "10  7f03 _PyEval_EvalFrameDefault (/usr/lib/libpython3.11.so.1.0)",
        "10  7f04 __memmove_avx_unaligned (/usr/lib/x86_64-linux-gnu/libc.so.6)",
        "10  ffff clear_page_erms ([kernel.kallsyms])",
        "10  7f05 expf (/usr/lib/x86_64-linux-gnu/libm.so.6)",
        "10  7f06 [unknown] (/tmp/some.so)",
        f"11  7f07 blas_thread_server ({site}/numpy.libs/libscipy_openblas64_-32a4b2a6.so)",  # a spinning worker
        "not a sample line",
    ]
    out = profiling.classify_samples(lines, main_tid=10)
    assert out["samples"] == 7 and out["other_thread_samples"] == 1
    assert out["shares"]["kernels"] == pytest.approx(3 / 7)
    assert [out["shares"][c] for c in ("python", "libc", "os", "other")] == [pytest.approx(1 / 7)] * 4
    assert {s["category"] for s in out["top_symbols"]} == {"kernels", "python", "libc", "os", "other"}


def test_cprofile_tables() -> None:
    np = pytest.importorskip("numpy")
    a = np.ones((64, 64))
    out = profiling.cprofile_steps(lambda: (a @ a).sum(), median_s=1e-4, tiny=True)
    assert out["steps"] == 1 and 0 <= out["visible_kernel_share"] <= 1
    assert any(f["numpy"] for f in out["top_c"])  # ndarray.sum is visible to cProfile; `@` is not


def test_interleaved_timing_and_compat_wrapper() -> None:
    calls = {"a": 0, "b": 0}

    def count(name: str) -> Any:
        return lambda: calls.__setitem__(name, calls[name] + 1)

    timed, errors = time_interleaved({"a": count("a"), "b": count("b")}, repeat=4, budget=0.0001)
    assert not errors and timed["a"]["rounds"] == timed["b"]["rounds"] == 4
    assert calls["a"] >= 2 + 4 * timed["a"]["calls_per_round"]  # first call, calibration, then the rounds
    medians = time_steps([count("a"), count("b")], repeat=2, budget=0.0001)
    assert len(medians) == 2 and all(m > 0 for m in medians)
    with pytest.raises(RuntimeError, match="step 0: ZeroDivisionError"):
        time_steps([lambda: 1 / 0], repeat=2)


def test_unknown_workload_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["no_such_workload"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown workload(s) no_such_workload" in err and "mlp_step" in err


def test_end_to_end_tiny(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "op_overhead", "--tiny", "--threads", "1", "--engines", "ours", "torch",
         "--memory-steps", "1", "--json", str(out), "--markdown", str(tmp_path / "bench.md")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rep = json.loads(out.read_text())
    assert rep["settings"]["tiny"] is True and rep["settings"]["engines"] == ["ours", "torch"]
    run = rep["runs"][0]
    assert run["threads"] == 1 and any(b["user_api"] == "blas" for b in run["blas"])
    assert all(b["num_threads"] == 1 for b in run["blas"] if b["user_api"] == "blas")
    w = run["workloads"]["op_overhead"]
    ours = w["engines"]["ours"]
    assert w["status"] == "ok" and ours["status"] == "ok" and ours["peak_memory_bytes"] >= 0
    if w["engines"]["torch"]["status"] == "ok":
        assert w["ratios"]["torch"] == pytest.approx(ours["median_s"] / w["engines"]["torch"]["median_s"])
    else:
        assert w["engines"]["torch"]["status"] == "skipped" and "torch" in w["engines"]["torch"]["reason"]
    share = w["profile"]["kernel_share"]
    assert share is None or 0 <= share <= 1
    assert w["profile"]["cprofile"]["top_python"]
    assert "| `op_overhead` | op |" in (tmp_path / "bench.md").read_text()
    assert not math.isnan(ours["per_unit_s"])
