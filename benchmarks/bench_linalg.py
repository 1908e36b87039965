"""Batched linear algebra: `solve` + `slogdet` forward and backward on a (64, 32, 32) stack, float64.

The loss is `sum(solve(a, b)**2) + sum(logdet(a))`, with gradients for `a` and `b`.
`tiny=True`: a (2, 3, 3) stack. HIPS autograd runs the same through `autograd.numpy.linalg`
(`grad` over both arguments); MyGrad has no `solve` or `slogdet`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

BATCH, N = 64, 32
TINY_BATCH, TINY_N = 2, 3


def _problem(tiny: bool = False) -> tuple[np.ndarray, np.ndarray]:
    batch, n = (TINY_BATCH, TINY_N) if tiny else (BATCH, N)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((batch, n, n)) + n**0.5 * np.eye(n)  # well conditioned
    b = rng.standard_normal((batch, n, 4))
    return a, b


def solve_slogdet_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag

    a_np, b_np = _problem(tiny)
    a, b = ag.Tensor(a_np, requires_grad=True), ag.Tensor(b_np, requires_grad=True)

    def step() -> None:
        a.grad = b.grad = None
        x = np.linalg.solve(a, b)
        _, logdet = np.linalg.slogdet(a)
        ((x * x).sum() + logdet.sum()).backward()

    return step


def solve_slogdet_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    a_np, b_np = _problem(tiny)
    a = torch.tensor(a_np, requires_grad=True)
    b = torch.tensor(b_np, requires_grad=True)

    def step() -> None:
        a.grad = b.grad = None
        x = torch.linalg.solve(a, b)
        _, logdet = torch.linalg.slogdet(a)
        ((x * x).sum() + logdet.sum()).backward()

    return step


def solve_slogdet_hips(tiny: bool = False) -> Callable[[], None]:
    import autograd.numpy as anp
    from autograd import grad

    a, b = _problem(tiny)

    def loss(a: Any, b: Any) -> Any:
        x = anp.linalg.solve(a, b)
        _, logdet = anp.linalg.slogdet(a)
        return anp.sum(x * x) + anp.sum(logdet)

    gradient = grad(loss, (0, 1))

    def step() -> None:
        gradient(a, b)

    return step
