"""Gradients of composite functions equal PyTorch's to 1e-10 in float64 (skipped without torch).

Each function is written twice, once with `autograd_core` and once with `torch`, on the
same random inputs. Max reductions use `torch.amax`, which shares ties equally as ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autograd_core as ag

torch = pytest.importorskip("torch")

SHAPES: dict[str, list[tuple[int, ...]]] = {
    "mlp": [(5, 4), (4, 6), (6,), (6, 3)],
    "attention": [(4, 3), (4, 3), (4, 3)],
    "broadcast": [(3, 1, 4), (2, 1), (4,)],
    "einsum": [(2, 3, 4), (4,), (3, 3)],
}
TARGETS = np.array([0, 2, 1, 1, 0])
MASK = np.tril(np.ones((4, 4), dtype=bool))
ROWS, COLS = np.array([0, 2, 2]), np.array([1, 1, 3])


def mlp(x: Any, w: Any, b: Any, v: Any, lib: Any) -> Any:
    logits = lib.tanh(x @ w + b) @ v
    if lib is ag:
        logp, top = logits.log_softmax(axis=1), logits.max(axis=1)
    else:
        logp, top = torch.log_softmax(logits, dim=1), torch.amax(logits, dim=1)
    return -logp[np.arange(5), TARGETS].mean() + 0.1 * (top**2).sum()


def attention(q: Any, k: Any, v: Any, lib: Any) -> Any:
    scores = q @ k.T / np.sqrt(3.0)
    if lib is ag:
        weights = ag.where(MASK, scores, -1e9).softmax(axis=-1)
        out = weights @ v
        return ag.logsumexp(out, axis=0).sum() + out[::2, 1:].std() + out.var(axis=(0, 1), ddof=1)
    weights = torch.softmax(torch.where(torch.from_numpy(MASK), scores, torch.tensor(-1e9, dtype=q.dtype)), dim=-1)
    out = weights @ v
    return torch.logsumexp(out, dim=0).sum() + out[::2, 1:].std(correction=0) + out.var(dim=(0, 1), correction=1)


def broadcast(a: Any, b: Any, c: Any, lib: Any) -> Any:
    mixed = a * b + lib.sigmoid(a) - b**2 / (1 + c * c)  # (3, 2, 4)
    picked = mixed[ROWS, :, COLS]  # repeated rows: the gradient accumulates
    if lib is ag:
        top = ag.maximum(mixed, 0.1).mean(axis=(0, -1), keepdims=True)
        return (picked * top[0, :, 0]).sum() + mixed.prod(axis=-1).sum() + ag.abs(mixed).min()
    top = torch.maximum(mixed, torch.tensor(0.1, dtype=a.dtype)).mean(dim=(0, -1), keepdim=True)
    return (picked * top[0, :, 0]).sum() + mixed.prod(dim=-1).sum() + torch.abs(mixed).amin()


def einsum(a: Any, w: Any, m: Any, lib: Any) -> Any:
    y = a @ w  # (2, 3): batched matrix @ vector
    z = lib.einsum("bi,bj->ij", y, y) @ m
    decay = lib.exp(-z * z).sum(axis=0) if lib is ag else torch.exp(-z * z).sum(dim=0)
    return (decay * lib.einsum("ii->i", m)).sum() + (w @ w) * lib.tanh(z).sum() + lib.einsum("ij,ij", z, m)


FUNCTIONS: dict[str, Callable[..., Any]] = {"mlp": mlp, "attention": attention, "broadcast": broadcast,
                                            "einsum": einsum}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_match_pytorch(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s) for s in SHAPES[name]]
    ours = [ag.Tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out, ref = FUNCTIONS[name](*ours, lib=ag), FUNCTIONS[name](*theirs, lib=torch)
    out.backward()
    ref.backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    for t, r in zip(ours, theirs):
        assert t.grad.dtype == np.float64
        np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_second_order_matches_pytorch() -> None:
    rng = np.random.default_rng(5)
    x_np, w_np = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    x, w = ag.Tensor(x_np, requires_grad=True), ag.Tensor(w_np, requires_grad=True)
    (gx,) = ag.grad(ag.tanh(x @ w).logsumexp(), x, create_graph=True)
    ((gx**2).sum()).backward()
    tx = torch.tensor(x_np, requires_grad=True)
    tw = torch.tensor(w_np, requires_grad=True)
    (tgx,) = torch.autograd.grad(torch.logsumexp(torch.tanh(tx @ tw), dim=(0, 1)), tx, create_graph=True)
    (tgx**2).sum().backward()
    np.testing.assert_allclose(gx.data, tgx.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
