"""CNN workloads (issue 4): one training step of a small CNN (`cnn_step`) and a conv2d micro-benchmark.

Each factory builds its model and data and returns a zero-argument callable that runs
one step; `benchmarks.run` times them next to PyTorch's.

- `cnn_step`: batch 32 of 1x28x28; conv(1->16, 3x3, pad 1), ReLU, max-pool 2;
  conv(16->32, 3x3, pad 1), ReLU, max-pool 2; flatten; linear(1568->10);
  cross-entropy; backward; SGD step. float32.
- `conv2d`: input (32, 16, 28, 28), 32 filters 3x3, pad 1, forward + backward. float32.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.common import sgd_training_step

BATCH, CLASSES = 32, 10
CONV_INPUT, CONV_FILTERS = (32, 16, 28, 28), 32


def _images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32), rng.integers(0, CLASSES, BATCH)


def _conv_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(CONV_INPUT).astype(np.float32)
    w = (rng.standard_normal((CONV_FILTERS, CONV_INPUT[1], 3, 3)) * 0.1).astype(np.float32)
    return x, w, np.zeros(CONV_FILTERS, dtype=np.float32)


def cnn_step_ours() -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, y = _images()
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, CLASSES),
    )
    return sgd_training_step(nn.optim, nn.CrossEntropyLoss, model, ag.Tensor(x), y)


def cnn_step_torch() -> Callable[[], None]:
    import torch

    x, y = _images()
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, CLASSES),
    )
    return sgd_training_step(torch.optim, torch.nn.CrossEntropyLoss, model, torch.from_numpy(x), torch.from_numpy(y))


def conv2d_ours() -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, w, b = (ag.Tensor(a, requires_grad=True) for a in _conv_data())
    seed = np.ones((CONV_INPUT[0], CONV_FILTERS) + CONV_INPUT[2:], dtype=np.float32)

    def step() -> None:
        x.grad = w.grad = b.grad = None
        nn.functional.conv2d(x, w, b, padding=1).backward(seed)

    return step


def conv2d_torch() -> Callable[[], None]:
    import torch

    x, w, b = (torch.tensor(a, requires_grad=True) for a in _conv_data())
    seed = torch.ones((CONV_INPUT[0], CONV_FILTERS) + CONV_INPUT[2:])

    def step() -> None:
        x.grad = w.grad = b.grad = None
        torch.nn.functional.conv2d(x, w, b, padding=1).backward(seed)

    return step
