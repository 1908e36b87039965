"""Run by tests/test_distributed.py as `mpiexec -n 2 python tests/mpi/ddp_equivalence.py`.

Two processes each seeing half of every global batch must train exactly as one process seeing
the whole batch (float64, mean-reduced losses). The single-process reference runs on every rank.
"""

import copy

import numpy as np

import autograd_core as ag
import nn
from nn import distributed as dist
from nn.parallel import DistributedDataParallel as DDP

ag.set_default_dtype(np.float64)
dist.init_process_group(backend="mpi")
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2
TOL = 1e-10


def same_on_all_ranks(a: np.ndarray) -> bool:
    hi, lo = dist.all_reduce(np.array(a), op="max"), dist.all_reduce(np.array(a), op="min")
    return np.array_equal(hi, lo)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.ReLU(),
        nn.Flatten(), nn.Linear(4 * 2 * 2, 3),
    )


def check_training(build, x: np.ndarray, y: np.ndarray, loss_fn, name: str) -> None:
    nn.manual_seed(100 + rank)  # different initial parameters on each rank: DDP must copy rank 0's
    model = build()
    ddp = DDP(model, bucket_cap_mb=0.001)  # ~1 KB buckets: several in flight per backward
    assert len(ddp._buckets) > 1, name
    for p in model.parameters():
        assert same_on_all_ranks(p.data), f"{name}: parameters differ after construction"
    reference = copy.deepcopy(model)
    opt = nn.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    ref_opt = nn.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    half = len(x) // world
    for step in range(20):
        idx = np.random.default_rng(step).permutation(len(x))  # a new global batch order each step
        xs, ys = x[idx], y[idx]
        mine = slice(rank * half, (rank + 1) * half)
        opt.zero_grad()
        loss_fn(ddp(ag.Tensor(xs[mine])), ys[mine]).backward()
        opt.step()
        ref_opt.zero_grad()
        loss_fn(reference(ag.Tensor(xs)), ys).backward()
        ref_opt.step()
    for (n, p), q in zip(model.named_parameters(), reference.parameters()):
        err = np.max(np.abs(p.data - q.data))
        assert err < TOL, f"{name}: {n} differs from single-process training by {err}"
        assert same_on_all_ranks(p.data), f"{name}: {n} differs across ranks"


rng = np.random.default_rng(0)
mse = nn.MSELoss()
ce = nn.CrossEntropyLoss()
x_mlp, y_mlp = rng.normal(size=(16, 5)), rng.normal(size=(16, 3))
check_training(mlp, x_mlp, y_mlp, lambda out, t: mse(out, ag.Tensor(t)), "MLP")
x_cnn, y_cnn = rng.normal(size=(8, 1, 8, 8)), rng.integers(0, 3, size=8)
check_training(cnn, x_cnn, y_cnn, lambda out, t: ce(out, ag.Tensor(t)), "CNN")

# no_sync: two local micro-batches per rank, then one all-reduce, equals one large batch.
nn.manual_seed(7)
model = mlp()
ddp = DDP(model, bucket_cap_mb=0.001)
reference = copy.deepcopy(model)
mine = x_mlp[rank * 8 : (rank + 1) * 8], y_mlp[rank * 8 : (rank + 1) * 8]
with ddp.no_sync():
    (mse(ddp(ag.Tensor(mine[0][:4])), ag.Tensor(mine[1][:4])) / 2).backward()
for p in model.parameters():  # nothing communicated yet: gradients differ across ranks
    assert not same_on_all_ranks(p.grad)
(mse(ddp(ag.Tensor(mine[0][4:])), ag.Tensor(mine[1][4:])) / 2).backward()
mse(reference(ag.Tensor(x_mlp)), ag.Tensor(y_mlp)).backward()
for p, q in zip(model.parameters(), reference.parameters()):
    assert np.max(np.abs(p.grad - q.grad)) < TOL, "no_sync accumulation differs from the large batch"

# A second synchronised backward adds to the accumulated .grad, as a local backward would.
mse(ddp(ag.Tensor(mine[0])), ag.Tensor(mine[1])).backward()
mse(reference(ag.Tensor(x_mlp)), ag.Tensor(y_mlp)).backward()
for p, q in zip(model.parameters(), reference.parameters()):
    assert np.max(np.abs(p.grad - q.grad)) < TOL, "accumulation over two synchronised backwards is wrong"


# Unused parameters: a branch only rank 1 takes, and one no rank takes. No deadlock; the
# used-somewhere branch gets the average (rank 0 counted as zero), the never-used one stays None.
class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)
        self.never = nn.Linear(3, 2)

    def forward(self, x, use_b: bool):
        out = self.a(x)
        return out + self.b(x) if use_b else out


nn.manual_seed(3)
branchy = Branchy()
ddp = DDP(branchy, bucket_cap_mb=0.0001)
xb = ag.Tensor(np.ones((4, 3)))
for _ in range(2):  # twice: the step after an unused-parameter step is clean too
    branchy.zero_grad()
    ddp(xb, use_b=rank == 1).sum().backward()
    assert np.allclose(branchy.a.weight.grad, np.full((2, 3), 4.0))
    assert np.allclose(branchy.b.weight.grad, np.full((2, 3), 2.0))  # (4 + 0) / 2
    assert branchy.never.weight.grad is None

# state_dict keys as PyTorch's DDP
assert list(ddp.state_dict())[0] == "module.a.weight" and ddp.module is branchy
ddp.load_state_dict(ddp.state_dict())

dist.destroy_process_group()
print(f"ddp ok rank {rank}", flush=True)
