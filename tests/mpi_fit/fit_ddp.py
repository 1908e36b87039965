"""Run by tests/test_ddp_data.py as `mpiexec -n 2 python tests/mpi_fit/fit_ddp.py OUT_DIR`.

Each rank sends its own stdout/stderr to OUT_DIR/rank{r}.log (so the test can tell which
rank printed), trains a tiny MLP with `nn.fit` under DDP for 2 epochs and writes
OUT_DIR/rank{r}.json: the History, and (computed with the trained weights on one
process, no process group involved) `nn.evaluate` on the validation set.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from nn.parallel import DistributedDataParallel  # noqa: I001

    import nn
    from nn import distributed as dist

    out = Path(sys.argv[1])
    dist.init_process_group(backend="mpi")
    rank = dist.get_rank()
    log = os.open(out / f"rank{rank}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(53, 6)).astype(np.float32)  # odd sizes: uneven shards, padding
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    x_val = rng.normal(size=(37, 6)).astype(np.float32)
    y_val = (x_val[:, 0] + x_val[:, 1] > 0).astype(np.int64)

    nn.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    model = DistributedDataParallel(net)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    sampler = nn.data.DistributedSampler(nn.data.TensorDataset(x, y), seed=3)
    hist = nn.fit(model, loss_fn, opt, x, y, epochs=2, batch_size=8, validation_data=(x_val, y_val),
                  metrics=["accuracy"], sampler=sampler, verbose=1)
    sys.stdout.flush()
    sys.stderr.flush()
    weights = [p.data for p in net.parameters()]
    single = nn.training._run_eval(net, loss_fn, x_val, y_val, 8, nn.training._resolve_metrics(["accuracy"], loss_fn))
    result = {
        "history": hist.history,
        "single_process_val": single,
        "epoch_seen": sampler.epoch,
        "weights_sum": float(sum(float(np.sum(w)) for w in weights)),
    }
    (out / f"rank{rank}.json").write_text(json.dumps(result))
    dist.barrier()


if __name__ == "__main__":
    main()
