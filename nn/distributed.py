"""Collectives across processes started by `mpiexec -n N python train.py`, on mpi4py.

PyTorch-shaped (`torch.distributed`): `init_process_group(backend="mpi")`, `get_rank()`,
`get_world_size()`, `all_reduce`, `broadcast`, `barrier`, `destroy_process_group()`.

Arrays travel through MPI's buffer interface (`Allreduce`/`Bcast`, upper case): no pickling.
The collectives work in place on an ndarray or on a Tensor's `.data` and return the same object.
Without `init_process_group` (or under plain `python`) everything acts as a single process of a
world of size 1: the collectives return their input unchanged.

mpi4py is imported only by `init_process_group`, so `import nn` never needs it.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import numpy as np

from autograd_core import Tensor

__all__ = [
    "ReduceOp",
    "Work",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
]

_INSTALL_HINT = 'pip install "autograd-core[distributed]"'
_BACKENDS = ("mpi",)
_OPS = ("sum", "mean", "max", "min")

_comm: Any = None  # the process group: a Dup of COMM_WORLD while initialized
_previous_excepthook: Any = None


class ReduceOp:
    """Names accepted by `all_reduce(op=...)` (strings work as well)."""

    SUM = "sum"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(f"nn.distributed needs mpi4py and an MPI library: {_INSTALL_HINT}") from exc
    return MPI


def is_available() -> bool:
    """Whether mpi4py can be imported (this does not initialise anything)."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def _abort_on_error(exc_type: Any, exc: BaseException, tb: Any) -> None:
    # An uncaught error on one rank would otherwise leave the others blocked in a collective
    # (or in MPI_Finalize) forever: print it, then take the whole job down.
    if _previous_excepthook is not None:
        _previous_excepthook(exc_type, exc, tb)
    else:
        traceback.print_exception(exc_type, exc, tb)
    if _comm is not None and _comm.Get_size() > 1:
        sys.stderr.flush()
        sys.stdout.flush()
        _mpi().COMM_WORLD.Abort(1)


def init_process_group(backend: str = "mpi", **kwargs: Any) -> None:
    """Join the process group of this `mpiexec` job. Calling it again does nothing.

    Only `backend="mpi"` exists (mpi4py). It also installs an excepthook that aborts the
    whole job when one rank raises, so the others do not hang in a collective.
    """
    global _comm, _previous_excepthook
    if backend not in _BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; available: {', '.join(_BACKENDS)}")
    if kwargs:
        raise TypeError(f"init_process_group: unexpected arguments {sorted(kwargs)} (the mpi backend takes none)")
    if _comm is not None:
        return
    MPI = _mpi()
    _comm = MPI.COMM_WORLD.Dup()  # a private communicator: user code on COMM_WORLD cannot interleave with ours
    if sys.excepthook is not _abort_on_error:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_error


def is_initialized() -> bool:
    return _comm is not None


def destroy_process_group() -> None:
    """Leave the process group (collectives become single-process no-ops again)."""
    global _comm, _previous_excepthook
    if _comm is None:
        return
    comm, _comm = _comm, None
    comm.Free()
    if sys.excepthook is _abort_on_error:
        sys.excepthook = _previous_excepthook or sys.__excepthook__
    _previous_excepthook = None


def get_rank() -> int:
    """This process's index, 0 ... world_size - 1 (0 when not initialized)."""
    return 0 if _comm is None else _comm.Get_rank()


def get_world_size() -> int:
    """How many processes take part (1 when not initialized)."""
    return 1 if _comm is None else _comm.Get_size()


def barrier() -> None:
    """Wait until every process got here."""
    if _comm is not None:
        _comm.Barrier()


def _group() -> Any:
    return _comm


# ----------------------------------------------------------------- buffers
def _array_of(x: Any, where: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"{where}: expected a NumPy array or a Tensor (changed in place), got {type(x).__name__}")


def _buffer(arr: np.ndarray, where: str) -> np.ndarray:
    """A C-contiguous array MPI can read and write: `arr` itself, or a copy written back later."""
    if not arr.flags.writeable:
        raise ValueError(f"{where}: the array is read-only; the collective writes its result in place")
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def _finish(x: Any, arr: np.ndarray, buf: np.ndarray, divide_by: int) -> Any:
    if divide_by > 1:
        buf /= divide_by
    if buf is not arr:
        arr[...] = buf
    if isinstance(x, Tensor):
        x.mark_modified()  # saved-for-backward checks see that the values changed
    return x


class Work:
    """What an `async_op=True` collective returns: `.wait()` finishes it and returns the result."""

    def __init__(self, request: Any, finish: Any) -> None:
        self._request = request
        self._finish = finish
        self._result: Any = None
        self._done = False

    def is_completed(self) -> bool:
        if self._done:
            return True
        return self._request is None or bool(self._request.Test())

    def wait(self) -> Any:
        if not self._done:
            if self._request is not None:
                self._request.Wait()
            self._result = self._finish()
            self._done = True
        return self._result


def _mpi_op(op: str, where: str) -> Any:
    if not isinstance(op, str) or op.lower() not in _OPS:
        raise ValueError(f"{where}: op must be one of {', '.join(map(repr, _OPS))}, got {op!r}")
    MPI = _mpi()
    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op.lower()]


def all_reduce(x: Any, op: str = "sum", async_op: bool = False) -> Any:
    """Combine `x` across all processes, in place; returns `x` (or a `Work` with `async_op=True`).

    `op` is "sum", "mean", "max" or "min". `x` is an ndarray or a Tensor (its `.data` changes).
    """
    where = "all_reduce"
    arr = _array_of(x, where)
    if not isinstance(op, str) or op.lower() not in _OPS:
        raise ValueError(f"{where}: op must be one of {', '.join(map(repr, _OPS))}, got {op!r}")
    mean = op.lower() == "mean"
    if mean and arr.dtype.kind not in "fc":
        raise TypeError(f"{where}: op='mean' needs a floating-point array, got {arr.dtype}")
    comm = _comm
    if comm is None or comm.Get_size() == 1:
        return Work(None, lambda: x) if async_op else x
    buf = _buffer(arr, where)
    mpi_op = _mpi_op(op, where)
    n = comm.Get_size() if mean else 1
    if async_op:
        request = comm.Iallreduce(_mpi().IN_PLACE, buf, mpi_op)
        return Work(request, lambda: _finish(x, arr, buf, n))
    comm.Allreduce(_mpi().IN_PLACE, buf, mpi_op)
    return _finish(x, arr, buf, n)


def broadcast(x: Any, src: int = 0, async_op: bool = False) -> Any:
    """Overwrite `x` on every process with rank `src`'s values, in place; returns `x` (or a `Work`)."""
    where = "broadcast"
    arr = _array_of(x, where)
    world = get_world_size()
    if not isinstance(src, (int, np.integer)) or not 0 <= src < world:
        raise ValueError(f"{where}: src must be a rank in 0 ... {world - 1}, got {src!r}")
    comm = _comm
    if comm is None or world == 1:
        return Work(None, lambda: x) if async_op else x
    buf = _buffer(arr, where)
    if async_op:
        request = comm.Ibcast(buf, root=int(src))
        return Work(request, lambda: _finish(x, arr, buf, 1))
    comm.Bcast(buf, root=int(src))
    return _finish(x, arr, buf, 1)
