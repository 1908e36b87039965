"""`nn` workloads: one SGD training step of an MLP (issue 3's `mlp_step`).

MLP 784-512-256-10 with ReLU, batch 128, float32: forward, cross-entropy (mean over the
batch), backward, SGD update with lr 0.01. `tiny=True`: 8-6-4-3, batch 2.

This engine and PyTorch use their `nn` modules; MyGrad and HIPS autograd write the same
network the way their docs do, as (W, b) pairs with `x @ W + b`, initialised like
`Linear` (uniform in +-1/sqrt(fan_in)). `mlp_step_blas` is the BLAS floor: the step's
eight matrix products alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import sgd_training_step

BATCH, SIZES = 128, (784, 512, 256, 10)
TINY_BATCH, TINY_SIZES = 2, (8, 6, 4, 3)
LR = 0.01


def _config(tiny: bool) -> tuple[int, tuple[int, ...]]:
    return (TINY_BATCH, TINY_SIZES) if tiny else (BATCH, SIZES)


def _data(tiny: bool = False) -> tuple[np.ndarray, np.ndarray]:
    batch, sizes = _config(tiny)
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, sizes[0])).astype(np.float32), rng.integers(0, sizes[-1], batch)


def _params(sizes: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) per layer, W of shape (in, out), drawn as `Linear` draws its weights."""
    rng = np.random.default_rng(1)
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(n_in)
        out.append((rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32),
                    rng.uniform(-bound, bound, n_out).astype(np.float32)))
    return out


def _sequential(nn: Any, sizes: tuple[int, ...]) -> Any:
    """Linear-ReLU-...-Linear in `nn` or `torch.nn` (same API)."""
    layers: list[Any] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def mlp_step_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, y = _data(tiny)
    return sgd_training_step(nn.optim, nn.CrossEntropyLoss, _sequential(nn, _config(tiny)[1]), ag.Tensor(x), y)


def mlp_step_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    x, y = _data(tiny)
    model = _sequential(torch.nn, _config(tiny)[1])
    return sgd_training_step(torch.optim, torch.nn.CrossEntropyLoss, model, torch.from_numpy(x), torch.from_numpy(y))


def mlp_step_mygrad(tiny: bool = False) -> Callable[[], None]:
    import mygrad as mg
    from mygrad.nnet import relu, softmax_crossentropy

    x, y = _data(tiny)
    params = [(mg.tensor(w), mg.tensor(b)) for w, b in _params(_config(tiny)[1])]
    flat = [p for pair in params for p in pair]

    def step() -> None:  # MyGrad clears a tensor's grad when the tensor enters a new graph
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = relu(h)
        softmax_crossentropy(h, y).backward()
        for p in flat:
            p.data -= LR * p.grad

    return step


def mlp_step_hips(tiny: bool = False) -> Callable[[], None]:
    import autograd.numpy as anp
    from autograd import grad
    from autograd.scipy.special import logsumexp

    x, y = _data(tiny)
    n_classes = _config(tiny)[1][-1]
    targets = np.eye(n_classes, dtype=np.float32)[y]  # one-hot, as autograd's neural_net example

    def loss(params: list) -> Any:
        h = x
        for i, (w, b) in enumerate(params):
            h = anp.dot(h, w) + b
            if i < len(params) - 1:
                h = anp.maximum(h, 0.0)
        log_probs = h - logsumexp(h, axis=1, keepdims=True)
        return -anp.sum(log_probs * targets) / len(x)

    gradient = grad(loss)
    state = [_params(_config(tiny)[1])]

    def step() -> None:
        grads = gradient(state[0])
        state[0] = [(w - LR * dw, b - LR * db) for (w, b), (dw, db) in zip(state[0], grads)]

    return step


def mlp_step_blas(tiny: bool = False) -> Callable[[], None]:
    """The step's matrix products: 3 forward, 5 backward (no gradient for the input), float32."""
    batch, sizes = _config(tiny)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    ws = [w for w, _ in _params(sizes)]
    hs = [x] + [np.empty((batch, n), np.float32) for n in sizes[1:]]  # activations
    gs = [np.empty((batch, n), np.float32) for n in sizes[1:]]  # gradients at each layer's output
    dws = [np.empty_like(w) for w in ws]
    gs[-1][:] = rng.standard_normal(gs[-1].shape)

    def step() -> None:
        for i, w in enumerate(ws):
            np.matmul(hs[i], w, out=hs[i + 1])
        for i in reversed(range(len(ws))):
            np.matmul(hs[i].T, gs[i], out=dws[i])
            if i:
                np.matmul(gs[i], ws[i].T, out=gs[i - 1])

    return step
