"""`ag.set_num_threads(n)` / `ag.get_num_threads()`, as `torch.set_num_threads`.

The engine's own passes run on one thread today; the setting governs the BLAS library
NumPy calls for matrix products (OpenBLAS, MKL, ...), through `threadpoolctl`, which it
sets once for the whole process. The default is the number of cores this process may
use.
"""

from __future__ import annotations

import os
from typing import Any

_limits: list[Any] = [None]  # the active threadpoolctl limiter (kept alive so the limit holds)
_threads: list[int | None] = [None]


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """Threads for BLAS (and, later, the engine's own parallel passes): the last
    `set_num_threads` value, else the cores available to this process."""
    return _threads[0] if _threads[0] is not None else _available_cores()


def set_num_threads(n: int) -> None:
    """Use `n` threads (n >= 1) for BLAS from now on, in this whole process."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ImportError(
            "set_num_threads needs the threadpoolctl package to reach the BLAS library: pip install threadpoolctl"
        ) from None
    _limits[0] = threadpool_limits(limits=n, user_api="blas")
    _threads[0] = n
