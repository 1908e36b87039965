"""The engine's own parallel passes: a small thread pool over independent chunks of work.

NumPy releases the GIL inside its ufuncs, copies and matrix products, so Python threads
that each run NumPy calls on their own slice of an array run on separate cores. Work is
split only where it pays: handing a chunk to a thread and waiting for it costs tens of
microseconds, so a pass is split when it touches at least `MIN_ELEMENTS_PER_THREAD`
elements per thread (measured on the benchmarks; below that one thread is faster).

The thread count is `ag.get_num_threads()` (set with `ag.set_num_threads`). With one
thread, or inside a chunk already running on the pool, everything runs serially in the
caller, with no pool and no locks touched, so the one-thread path costs one comparison.

While chunks that call BLAS run concurrently, BLAS itself is held at one thread
(`blas_threads(1)`), so the cores are not oversubscribed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from . import threads as _threads

# Elements one thread must get for a split to pay for the hand-off (about 50 µs of wake-up
# and wait against ~1 ns per element of a simple pass).
MIN_ELEMENTS_PER_THREAD = 1 << 16

_pool: list[Any] = [None, 0]  # the executor and its size
_pool_lock = threading.Lock()
_local = threading.local()  # .inside: this thread is running a chunk


def _forget_pool_after_fork() -> None:
    # A forked child has none of the parent's pool threads, but the executor would still count
    # them as running and never start new ones: the child builds its own pool when it needs one.
    global _pool_lock
    _pool[0], _pool[1] = None, 0
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def workers_for(elements: int, per_thread: int | None = None) -> int:
    """Threads worth using for a pass over `elements` elements (at least `per_thread` each,
    default `MIN_ELEMENTS_PER_THREAD`): 1 when small, single-threaded, or already on the pool."""
    n = _threads.get_num_threads()
    if n == 1 or getattr(_local, "inside", False):
        return 1
    return max(1, min(n, elements // (per_thread or MIN_ELEMENTS_PER_THREAD)))


def _executor(size: int) -> ThreadPoolExecutor:
    with _pool_lock:
        if _pool[1] < size:
            if _pool[0] is not None:
                _pool[0].shutdown(wait=False)
            _pool[0], _pool[1] = ThreadPoolExecutor(size, thread_name_prefix="autograd_core"), size
        return _pool[0]


def _run_inside(body: Callable[[int, int], None], start: int, stop: int) -> None:
    _local.inside = True
    try:
        body(start, stop)
    finally:
        _local.inside = False


def chunks(n: int, parts: int) -> list[tuple[int, int]]:
    """[start, stop) ranges splitting range(n) into `parts` near-equal contiguous pieces."""
    parts = max(1, min(parts, n))
    q, r = divmod(n, parts)
    bounds = [i * q + min(i, r) for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def parallel_for(n: int, body: Callable[[int, int], None], workers: int) -> None:
    """Run `body(start, stop)` over contiguous ranges covering range(n), on `workers` threads.

    The caller's thread runs the first range; the others go to the pool. Every range runs
    to completion before this returns, and the first exception raised by any of them is
    raised here. With `workers <= 1` it is exactly `body(0, n)`.
    """
    if workers <= 1 or n <= 1:
        body(0, n)
        return
    ranges = chunks(n, workers)
    pool = _executor(len(ranges) - 1)
    futures = [pool.submit(_run_inside, body, a, b) for a, b in ranges[1:]]
    error: BaseException | None = None
    try:
        _run_inside(body, *ranges[0])
    except BaseException as exc:  # noqa: BLE001 - re-raised after the other chunks finish
        error = exc
    for f in futures:
        try:
            f.result()
        except BaseException as exc:  # noqa: BLE001
            error = error or exc
    if error is not None:
        raise error


_blas_hold = {"depth": 0, "saved": None}  # nested or concurrent holds: the first saves, the last restores
_blas_lock = threading.Lock()


@contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Hold BLAS at `n` threads inside the block (a ctypes call each way, under a µs).

    Holds may overlap (several Python threads running convolutions at once): the count in
    force before the first is saved, and restored when the last one ends.
    """
    libs = _threads.blas_controllers()
    if not libs:
        yield
        return
    with _blas_lock:
        if _blas_hold["depth"] == 0:
            _blas_hold["saved"] = [lib.num_threads for lib in libs]
        _blas_hold["depth"] += 1
        for lib in libs:
            lib.set_num_threads(n)
    try:
        yield
    finally:
        with _blas_lock:
            _blas_hold["depth"] -= 1
            if _blas_hold["depth"] == 0:
                for lib, k in zip(libs, _blas_hold["saved"]):
                    lib.set_num_threads(k)
