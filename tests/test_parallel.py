"""autograd_core.parallel: the thread pool under the engine's own parallel passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import parallel


@pytest.fixture
def two_threads():
    previous = ag.get_num_threads()
    ag.set_num_threads(2)
    yield
    ag.set_num_threads(previous)


@pytest.mark.parametrize("n, parts", [(10, 3), (2, 5), (7, 7), (1, 2), (100, 1)])
def test_chunks_cover_the_range_in_order(n: int, parts: int) -> None:
    ranges = parallel.chunks(n, parts)
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a < b for a, b in ranges) and all(b == c for (_, b), (c, _) in zip(ranges, ranges[1:]))
    sizes = [b - a for a, b in ranges]
    assert len(ranges) == min(parts, n) and max(sizes) - min(sizes) <= 1


def test_parallel_for_runs_every_range_on_distinct_threads(two_threads: None) -> None:
    out = np.zeros(1000)
    where: dict[int, int] = {}

    def body(a: int, b: int) -> None:
        out[a:b] = np.arange(a, b)
        where[a] = threading.get_ident()

    parallel.parallel_for(1000, body, 2)
    np.testing.assert_array_equal(out, np.arange(1000))
    assert len(set(where.values())) == 2 and where[0] == threading.get_ident()  # the caller runs the first


def test_an_exception_in_any_range_is_raised_after_all_finish(two_threads: None) -> None:
    done = []

    def body(a: int, b: int) -> None:
        if a > 0:
            raise ValueError(f"bad range {a}")
        done.append(a)

    with pytest.raises(ValueError, match="bad range"):
        parallel.parallel_for(10, body, 2)
    assert done == [0]


def test_one_thread_and_nested_calls_run_serially(two_threads: None) -> None:
    assert parallel.workers_for(10**9) == 2
    assert parallel.workers_for(100) == 1  # too small to pay for the hand-off
    inner = []

    def body(a: int, b: int) -> None:
        inner.append(parallel.workers_for(10**9))  # inside a chunk: no nested splitting

    parallel.parallel_for(4, body, 2)
    assert inner == [1, 1]
    ag.set_num_threads(1)
    assert parallel.workers_for(10**9) == 1


def test_blas_threads_holds_and_restores() -> None:
    libs = ag.threads.blas_controllers()
    if not libs:
        pytest.skip("no BLAS library found by threadpoolctl")
    before = [lib.num_threads for lib in libs]
    with parallel.blas_threads(1):
        assert all(lib.num_threads == 1 for lib in libs)
    assert [lib.num_threads for lib in libs] == before


def test_default_thread_count_follows_the_environment() -> None:
    code = "import autograd_core as ag; print(ag.get_num_threads())"
    cases = (({"AUTOGRAD_NUM_THREADS": "3", "OMP_NUM_THREADS": "5"}, "3"), ({"OMP_NUM_THREADS": "5"}, "5"))
    for env, expected in cases:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"PATH": "", "PYTHONPATH": ":".join(sys.path), **env})
        assert out.stdout.strip() == expected


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_builds_its_own_pool(two_threads: None) -> None:
    """The child of a fork has none of the parent's pool threads: work handed to the pool there
    must still run (a stale executor would wait forever)."""
    parallel.parallel_for(4, lambda a, b: None, 2)  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the pool ran the other range
        ran = []
        try:
            parallel.parallel_for(4, lambda a, b: ran.append(a), 2)
        finally:
            os._exit(0 if sorted(ran) == [0, 2] else 1)
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            pytest.fail("the forked child hung handing work to the pool")
        time.sleep(0.05)
    assert os.WEXITSTATUS(status) == 0


def test_overlapping_blas_holds_restore_the_count_in_force_before_the_first() -> None:
    libs = ag.threads.blas_controllers()
    if not libs:
        pytest.skip("no BLAS library found by threadpoolctl")
    before = [lib.num_threads for lib in libs]
    outer, inner = parallel.blas_threads(1), parallel.blas_threads(1)
    outer.__enter__()
    inner.__enter__()  # e.g. a second Python thread's convolution
    outer.__exit__(None, None, None)  # the first ends before the second
    assert all(lib.num_threads == 1 for lib in libs)  # the second still runs with one
    inner.__exit__(None, None, None)
    assert [lib.num_threads for lib in libs] == before


def test_autograd_num_threads_reaches_blas_at_import() -> None:
    code = ("import json, autograd_core as ag, threadpoolctl; "
            "print(ag.get_num_threads(), json.dumps([p['num_threads'] for p in threadpoolctl.threadpool_info() "
            "if p['user_api'] == 'blas']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "", "PYTHONPATH": ":".join(sys.path), "AUTOGRAD_NUM_THREADS": "1"})
    count, blas = out.stdout.split(" ", 1)
    assert count == "1" and json.loads(blas) and set(json.loads(blas)) == {1}
