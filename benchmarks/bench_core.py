"""Core-engine workloads: per-op overhead of small elementwise chains (`op_overhead`).

A step is a 200-op elementwise chain on an 8x8 float32 tensor, summed, then backward;
`tiny=True` runs a 20-op chain on 2x2. Every engine runs the same ops: add, mul, tanh,
exp and a fused sigmoid (HIPS autograd's `expit`, MyGrad's `nnet.sigmoid`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

CHAIN_LENGTH = 200
TINY_CHAIN_LENGTH, SHAPE, TINY_SHAPE = 20, (8, 8), (2, 2)


def _chain(x: Any, tanh: Callable, exp: Callable, sigmoid: Callable, length: int = CHAIN_LENGTH) -> Any:
    """`length` elementwise ops mixing add, mul, tanh, exp and sigmoid; values stay bounded."""
    for _ in range(length // 5):
        x = x + 0.5
        x = x * 0.9
        x = tanh(x)
        x = exp(x) * 0.3  # counts as two ops: exp and mul
        x = sigmoid(x)
    return x


def _input(tiny: bool) -> tuple[np.ndarray, int]:
    x = np.random.default_rng(0).standard_normal(TINY_SHAPE if tiny else SHAPE).astype(np.float32)
    return x, TINY_CHAIN_LENGTH if tiny else CHAIN_LENGTH


def op_overhead_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag

    data, length = _input(tiny)
    x = ag.Tensor(data, requires_grad=True)

    def step() -> None:
        x.grad = None
        _chain(x, ag.tanh, ag.exp, ag.sigmoid, length).sum().backward()

    return step


def op_overhead_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    data, length = _input(tiny)
    x = torch.tensor(data, requires_grad=True)

    def step() -> None:
        x.grad = None
        _chain(x, torch.tanh, torch.exp, torch.sigmoid, length).sum().backward()

    return step


def op_overhead_mygrad(tiny: bool = False) -> Callable[[], None]:
    import mygrad as mg
    from mygrad.nnet import sigmoid

    data, length = _input(tiny)
    x = mg.tensor(data)

    def step() -> None:  # MyGrad clears x.grad itself when x enters a new graph
        _chain(x, mg.tanh, mg.exp, sigmoid, length).sum().backward()

    return step


def op_overhead_hips(tiny: bool = False) -> Callable[[], None]:
    import autograd.numpy as anp
    from autograd import grad
    from autograd.scipy.special import expit

    data, length = _input(tiny)
    gradient = grad(lambda x: anp.sum(_chain(x, anp.tanh, anp.exp, expit, length)))

    def step() -> None:
        gradient(data)

    return step


OPS_PER_STEP = CHAIN_LENGTH + CHAIN_LENGTH // 5 + 1  # the chain, the extra mul per block, the sum
