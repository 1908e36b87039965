"""Batched linear algebra: `solve` + `slogdet` forward and backward on a (64, 32, 32) stack."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import autograd_core as ag

BATCH, N = 64, 32


def _problem() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((BATCH, N, N)) + N**0.5 * np.eye(N)  # well conditioned
    b = rng.standard_normal((BATCH, N, 4))
    return a, b


def solve_slogdet_ours() -> Callable[[], None]:
    a_np, b_np = _problem()
    a, b = ag.Tensor(a_np, requires_grad=True), ag.Tensor(b_np, requires_grad=True)

    def step() -> None:
        a.grad = b.grad = None
        x = np.linalg.solve(a, b)
        _, logdet = np.linalg.slogdet(a)
        ((x * x).sum() + logdet.sum()).backward()

    return step


def solve_slogdet_torch() -> Callable[[], None]:
    import torch

    a_np, b_np = _problem()
    a = torch.tensor(a_np, requires_grad=True)
    b = torch.tensor(b_np, requires_grad=True)

    def step() -> None:
        a.grad = b.grad = None
        x = torch.linalg.solve(a, b)
        _, logdet = torch.linalg.slogdet(a)
        ((x * x).sum() + logdet.sum()).backward()

    return step
