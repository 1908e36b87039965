"""`ag.set_num_threads(n)` / `ag.get_num_threads()`, as `torch.set_num_threads`.

One setting governs both the engine's own parallel passes (`autograd_core.parallel`)
and the BLAS library NumPy calls for matrix products (OpenBLAS, MKL, ...), which it
reaches through `threadpoolctl`. The default is `AUTOGRAD_NUM_THREADS`, else
`OMP_NUM_THREADS`, else the number of cores this process may use. `AUTOGRAD_NUM_THREADS`,
when set, is applied to BLAS too as autograd_core is imported (`OMP_NUM_THREADS` already
is, by OpenBLAS and MKL themselves).
"""

from __future__ import annotations

import os
from typing import Any

_threads: list[int | None] = [None]
_blas: list[Any] = []  # threadpoolctl's controllers of the loaded BLAS libraries, found once


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _from_environment() -> int | None:
    for var in ("AUTOGRAD_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def get_num_threads() -> int:
    """Threads for the engine's parallel passes and BLAS: the last `set_num_threads` value,
    else `AUTOGRAD_NUM_THREADS` / `OMP_NUM_THREADS`, else the cores available to this process."""
    n = _threads[0]
    if n is None:
        n = _threads[0] = _from_environment() or _available_cores()
    return n


def blas_controllers() -> list[Any]:
    """threadpoolctl's handles on the BLAS libraries loaded in this process ([] without threadpoolctl)."""
    if not _blas:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return []
        import numpy  # noqa: F401 - BLAS must be loaded before it can be found

        _blas.extend(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _blas


def set_num_threads(n: int) -> None:
    """Use `n` threads (n >= 1) from now on, in this whole process: for the engine's own
    parallel passes and for BLAS."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        raise ImportError(
            "set_num_threads needs the threadpoolctl package to reach the BLAS library: pip install threadpoolctl"
        ) from None
    for lib in blas_controllers():
        lib.set_num_threads(n)
    _threads[0] = n


def apply_environment() -> None:
    """At import: an `AUTOGRAD_NUM_THREADS` setting governs BLAS as well as the engine's passes."""
    value = os.environ.get("AUTOGRAD_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        try:
            set_num_threads(int(value))
        except ImportError:  # no threadpoolctl: the engine's own passes still follow the setting
            pass
