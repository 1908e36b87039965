"""Parallel NumPy kernels: the engine's passes that are not BLAS, split over `parallel`'s thread pool.

One mechanism serves every op: cut the arrays into blocks along an axis that no reduction
runs over, and run the same NumPy code on each block (`split`). Each element of the
result is then computed by the same operations in the same order as in one pass over the
whole array, so the parallel path gives the same bits as the serial one. Elementwise
passes cut the flattened arrays (`pointwise`); row-wise passes such as softmax cut an axis
their reductions leave alone (`free_axis`); stacks of small matrix products cut their
batch axis, with BLAS held at one thread meanwhile (`matmul`).

A pass is split only when it is big enough to pay for the hand-off: waking a pool thread
and waiting for it costs about 30-60 µs here, against about 0.4 ns per float32 element
of a simple pass. Callers measure work in element-passes (elements times the number of
simple NumPy passes a kernel makes) and check `work < SPLIT_MIN` first, with a plain
integer comparison, so small arrays never reach the pool or this module's bookkeeping.

NumPy's floating-point error state (`np.errstate`) belongs to the thread that set it, so
each block runs under the caller's state: warnings and `np.seterr(all="raise")` behave as
in a serial pass.

Nothing is split while BLAS's own idle threads may be busy-waiting (`blas_spins`: OpenBLAS
on pthreads spins ~0.1 s after each multi-threaded call unless OPENBLAS_THREAD_TIMEOUT is
set low before it loads): a pool thread then gets no core of its own, and a split is slower.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .parallel import blas_threads, parallel_for, workers_for
from .threads import blas_controllers

# Element-passes each thread must get (about 150 µs of float32 work). Measured inside the
# workloads on 2 cores: a softmax pass over 262k scores (2M element-passes) runs 1.3-1.5x
# faster split in two, while a 0.8M element-pass ReLU gradient or a stack of attention
# products (~0.8M) gains nothing over the hand-off and the pool thread's cold start.
PER_THREAD = 1 << 19
SPLIT_MIN = 2 * PER_THREAD

# A flat block starts at a multiple of this many elements: whole cache lines, and the same
# SIMD alignment for every block.
_ALIGN = 64

# OpenBLAS runs a product with m*n*k at or below 4 * 65536 on one thread whatever its own
# setting, so a stack of such products keeps one core busy unless the stack is split.
SMALL_PRODUCT = 1 << 18
# A multiply-add in a small float32 GEMM costs about 1/10 of an element-pass.
_MACS_PER_PASS = 10

Kernel = Callable[..., Any]


def workers(work: int) -> int:
    """Threads worth using for `work` element-passes: 1 below SPLIT_MIN, single-threaded, or
    while BLAS's idle threads may be spinning (`blas_spins`)."""
    if work < SPLIT_MIN:
        return 1
    n = workers_for(work, PER_THREAD)
    return 1 if n > 1 and blas_spins() else n


# OpenBLAS on pthreads keeps its idle worker threads busy-waiting for 2**timeout cycles after
# each multi-threaded call: 2**28 by default (~0.1 s), set by OPENBLAS_THREAD_TIMEOUT (4-30)
# when the library loads. Meanwhile a pool thread gets no core of its own: measured on 2
# cores, a 6.5 ms pass split in two ran no faster right after a BLAS call (1.35x otherwise),
# and training steps ran 4-7% slower split. Spins below 2**16 cycles (~25 µs) do not matter.
_QUIET_SPIN_LOG2 = 16
_spin_log2: list[int] = []


def blas_spins() -> bool:
    """Whether a loaded BLAS runs several threads whose idle spinning would take the cores
    a split needs (OpenBLAS on pthreads with its default spin; other BLAS are trusted)."""
    if not _spin_log2:
        value = os.environ.get("OPENBLAS_THREAD_TIMEOUT", os.environ.get("GOTO_THREAD_TIMEOUT", "")).strip()
        _spin_log2.append(min(max(int(value), 4), 30) if value.isdigit() and int(value) > 0 else 28)
    if _spin_log2[0] <= _QUIET_SPIN_LOG2:
        return False
    return any(
        lib.internal_api == "openblas" and getattr(lib, "threading_layer", "") == "pthreads" and lib.num_threads > 1
        for lib in blas_controllers()
    )


def free_axis(shape: tuple[int, ...], reduced: tuple[int, ...]) -> int | None:
    """The first axis of `shape` that is not in `reduced` (non-negative axes) and has length >= 2."""
    for axis, n in enumerate(shape):
        if n >= 2 and axis not in reduced:
            return axis
    return None


def _blocks(kernel: Kernel, arrays: tuple[Any, ...], axis: int, length: int, parts: int, unit: int = 1) -> None:
    """Run kernel(*blocks) over `parts` blocks cut along `axis` of the first array (ndim D).

    An argument is cut where it has that axis with the full `length`: the same axis in an
    array of at least D dimensions (which shares the first array's leading axes), the
    broadcasting one (right-aligned) in an array of fewer. Scalars, None and arrays that
    broadcast along the axis pass whole. Blocks are `unit`-aligned ranges of the axis.
    """
    ndim = arrays[0].ndim
    where: list[int | None] = []
    for a in arrays:
        k = -1 if not isinstance(a, np.ndarray) else axis if a.ndim >= ndim else axis - ndim + a.ndim
        where.append(k if k >= 0 and a.shape[k] == length else None)
    err = np.geterr()

    def body(start: int, stop: int) -> None:
        lo, hi = start * unit, min(stop * unit, length)
        cut = [
            a if k is None else a[(slice(None),) * k + (slice(lo, hi),)] for a, k in zip(arrays, where)
        ]
        with np.errstate(**err):  # the caller's error state, which pool threads do not inherit
            kernel(*cut)

    parallel_for(-(-length // unit), body, parts)


def split(kernel: Kernel, out: np.ndarray, *inputs: Any, axis: int | None, work: int) -> np.ndarray:
    """kernel(out_block, *input_blocks) over blocks of `out` cut along `axis`; returns `out`.

    `kernel` writes its result into the block of `out` it receives (and may write further
    outputs among the inputs). Inputs are cut along the same axis where they span it and
    passed whole where they broadcast along it (see `_blocks`). With
    `axis=None`, small `work`, or one thread, it is exactly `kernel(out, *inputs)`.
    """
    parts = 1 if axis is None or work < SPLIT_MIN else workers(work)
    if parts == 1:
        kernel(out, *inputs)
        return out
    _blocks(kernel, (out, *inputs), axis, out.shape[axis], parts)
    return out


def rows(kernel: Kernel, out: np.ndarray, *inputs: Any, reduced: tuple[int, ...], passes: int) -> np.ndarray:
    """`split` along the first axis that the kernel's reductions over `reduced` (non-negative
    axes) leave alone, as softmax over its last axis is split over the rows."""
    return split(kernel, out, *inputs, axis=free_axis(out.shape, reduced), work=out.size * passes)


def pointwise(kernel: Kernel, out: np.ndarray, *inputs: Any, work: int | None = None) -> np.ndarray:
    """`split` for an elementwise kernel: cuts the flattened arrays where every array of
    `out`'s shape is C-contiguous, else along the first axis of `out` longer than one."""
    work = out.size if work is None else work
    parts = 1 if work < SPLIT_MIN else workers(work)
    if parts == 1:
        kernel(out, *inputs)
        return out
    same = [a for a in (out, *inputs) if isinstance(a, np.ndarray) and a.shape == out.shape]
    if all(a.flags.c_contiguous for a in same) and all(
        a.size == 1 for a in inputs if isinstance(a, np.ndarray) and a.shape != out.shape
    ):
        flat = tuple(_flat(a, out.shape) for a in (out, *inputs))
        _blocks(kernel, flat, 0, out.size, parts, _ALIGN)
        return out
    return split(kernel, out, *inputs, axis=free_axis(out.shape, ()), work=work)


def _flat(a: Any, shape: tuple[int, ...]) -> Any:
    if not isinstance(a, np.ndarray):
        return a
    return a.reshape(-1) if a.shape == shape else a.reshape(())  # a size-1 operand broadcasts as a scalar


def ufunc(fn: np.ufunc, *args: np.ndarray) -> np.ndarray:
    """`fn(*args)` for a NumPy ufunc on arrays, broadcasting, split in blocks when the result is
    big. The result dtype is the ufunc's own loop's."""
    if any(type(a) is not np.ndarray for a in args):  # a Tensor (create_graph) or a scalar
        return fn(*args)
    shape = np.broadcast_shapes(*(a.shape for a in args))
    size = math.prod(shape)
    if workers(size) == 1:
        return fn(*args)
    out = np.empty(shape, dtype=fn.resolve_dtypes(tuple(a.dtype for a in args) + (None,) * fn.nout)[-1])
    return pointwise(lambda o, *xs: fn(*xs, out=o), out, *args, work=size)


def matmul(a: Any, b: Any) -> Any:
    """`np.matmul`, with a stack of small products split over its (broadcast) batch axes.

    A stack of products that BLAS would run one by one on one thread is cut along its
    first batch axis, each block on its own thread with BLAS held at one thread; larger
    products are left to BLAS's own threading. Each product is the same BLAS call either
    way, so the bits do not change.
    """
    if (
        a.ndim + b.ndim < 5  # no stack (one operand 3-d, the other at least 2-d): the common case, checked first
        or min(a.ndim, b.ndim) < 2
        or type(a) is not np.ndarray
        or type(b) is not np.ndarray
        or a.dtype != b.dtype
        or a.dtype.kind not in "fc"
    ):
        return np.matmul(a, b)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    per = m * k * n
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        return np.matmul(a, b)  # NumPy's own error
    count = math.prod(batch)
    parts = 1 if per > SMALL_PRODUCT or k != b.shape[-2] else workers(count * per // _MACS_PER_PASS)
    if parts == 1 or batch[0] < 2:
        return np.matmul(a, b)
    out = np.empty(batch + (m, n), dtype=a.dtype)
    with blas_threads(1):
        _blocks(lambda o, x, y: np.matmul(x, y, out=o), (out, a, b), 0, batch[0], parts)
    return out


def tasks(jobs: list[Callable[[], None]], sizes: list[int]) -> None:
    """Run independent jobs (`sizes` their work in element-passes), in parallel when worth it.

    Jobs are dealt, largest first, to the least loaded of the threads; each thread runs its
    share in that order. With little work or one thread they run in the given order.
    """
    parts = workers(sum(sizes))
    if parts == 1 or len(jobs) < 2:
        for job in jobs:
            job()
        return
    parts = min(parts, len(jobs))
    shares: list[list[Callable[[], None]]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for i in sorted(range(len(jobs)), key=lambda i: -sizes[i]):
        j = loads.index(min(loads))
        shares[j].append(jobs[i])
        loads[j] += sizes[i]
    err = np.geterr()

    def body(start: int, stop: int) -> None:
        with np.errstate(**err):
            for share in shares[start:stop]:
                for job in share:
                    job()

    parallel_for(parts, body, parts)
