"""Run by tests/test_distributed.py as `mpiexec -n 2 python tests/mpi/collectives.py`."""

import numpy as np

import autograd_core as ag
from nn import distributed as dist

dist.init_process_group(backend="mpi")
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2 and dist.is_initialized()

# sum / mean / max / min on arrays, in place, returning the same object
for op, expected in [("sum", [1.0, 5.0]), ("mean", [0.5, 2.5]), ("max", [1.0, 3.0]), ("min", [0.0, 2.0])]:
    a = np.array([float(rank), 2.0 + rank])
    out = dist.all_reduce(a, op=op)
    assert out is a and np.array_equal(a, expected), (op, a)

# integers, and a non-contiguous view (reduced through a contiguous copy, written back)
i = np.full(3, rank + 1, dtype=np.int64)
dist.all_reduce(i)
assert i.dtype == np.int64 and np.array_equal(i, [3, 3, 3])
base = np.arange(12.0).reshape(3, 4) * (rank + 1)
view = base[:, ::2]
assert dist.all_reduce(view) is view
assert np.array_equal(base[:, ::2], np.arange(12.0).reshape(3, 4)[:, ::2] * 3)
assert np.array_equal(base[:, 1::2], np.arange(12.0).reshape(3, 4)[:, 1::2] * (rank + 1))  # untouched

# Tensors: their .data changes in place
t = ag.Tensor(np.full((2, 2), rank + 1.0))
data = t.data
assert dist.all_reduce(t, op="mean") is t and t.data is data and np.array_equal(t.data, np.full((2, 2), 1.5))

# broadcast
b = np.full(4, float(rank))
assert dist.broadcast(b, src=1) is b and np.array_equal(b, np.ones(4))
tb = ag.Tensor(np.arange(3.0) + 10 * rank)
dist.broadcast(tb, src=0)
assert np.array_equal(tb.data, np.arange(3.0))

# non-blocking all_reduce: a work handle with .wait()
x = np.full(1000, rank + 1.0)
work = dist.all_reduce(x, op="sum", async_op=True)
assert work.wait() is x and np.array_equal(x, np.full(1000, 3.0)) and work.is_completed()
w = dist.all_reduce(ag.Tensor(np.array([rank * 2.0])), op="mean", async_op=True)
assert np.array_equal(w.wait().data, [1.0])

dist.barrier()
dist.destroy_process_group()
assert not dist.is_initialized() and dist.get_world_size() == 1
print(f"collectives ok rank {rank}", flush=True)
