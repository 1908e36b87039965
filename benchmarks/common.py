"""What the workloads share: one SGD training step, written once for both engines.

`nn` follows `torch.nn`, so the same code drives a model from either library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def sgd_training_step(optim: Any, loss_cls: Any, model: Any, inputs: Any, targets: Any) -> Callable[[], None]:
    """A closure running one step: zero_grad, forward, cross-entropy, backward, SGD(lr=0.01)."""
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    loss_fn = loss_cls()

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()

    return step
