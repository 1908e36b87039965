"""`nn` workloads: one training step of an MLP (issue 3's `mlp_step`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.common import sgd_training_step

BATCH, SIZES = 128, (784, 512, 256, 10)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, SIZES[0])).astype(np.float32), rng.integers(0, SIZES[-1], BATCH)


def mlp_step_ours() -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, y = _data()
    model = nn.Sequential(
        nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(),
        nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
        nn.Linear(SIZES[2], SIZES[3]),
    )
    return sgd_training_step(nn.optim, nn.CrossEntropyLoss, model, ag.Tensor(x), y)


def mlp_step_torch() -> Callable[[], None]:
    import torch

    x, y = _data()
    layers = [torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(), torch.nn.Linear(SIZES[1], SIZES[2]),
              torch.nn.ReLU(), torch.nn.Linear(SIZES[2], SIZES[3])]
    model = torch.nn.Sequential(*layers)
    return sgd_training_step(torch.optim, torch.nn.CrossEntropyLoss, model, torch.from_numpy(x), torch.from_numpy(y))
