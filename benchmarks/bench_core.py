"""Core-engine workloads: per-op overhead of small elementwise chains."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import autograd_core as ag

CHAIN_LENGTH = 200


def _chain(x, tanh, exp, sigmoid):  # noqa: ANN001 - works for both engines
    """200 elementwise ops mixing add, mul, tanh, exp and sigmoid; values stay bounded."""
    for _ in range(CHAIN_LENGTH // 5):
        x = x + 0.5
        x = x * 0.9
        x = tanh(x)
        x = exp(x) * 0.3  # counts as two ops: exp and mul
        x = sigmoid(x)
    return x


def op_overhead_ours() -> Callable[[], None]:
    x = ag.Tensor(np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32), requires_grad=True)

    def step() -> None:
        x.grad = None
        _chain(x, ag.tanh, ag.exp, ag.sigmoid).sum().backward()

    return step


def op_overhead_torch() -> Callable[[], None]:
    import torch

    x = torch.tensor(np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32), requires_grad=True)

    def step() -> None:
        x.grad = None
        _chain(x, torch.tanh, torch.exp, torch.sigmoid).sum().backward()

    return step


OPS_PER_STEP = CHAIN_LENGTH + CHAIN_LENGTH // 5 + 1  # the chain, the extra mul per block, the sum
