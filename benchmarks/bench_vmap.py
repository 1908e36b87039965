"""Per-sample gradients of the MNIST-1D MLP (40-100-100-10, batch 128, float64); `tiny=True`: 4-5-5-3, batch 2.

`python -m benchmarks.run per_sample_grads` times `vmap(grad(loss))` over
`functional_call` against `torch.func` doing the same; `python -m benchmarks.bench_vmap`
prints the speedup over a Python loop of per-example gradients in this engine. Neither
MyGrad nor HIPS autograd has a vmap, so only this engine and PyTorch run it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

BATCH, SIZES = 128, (40, 100, 100, 10)
TINY_BATCH, TINY_SIZES = 2, (4, 5, 5, 3)


def _data(tiny: bool = False) -> tuple[np.ndarray, np.ndarray]:
    batch, sizes = (TINY_BATCH, TINY_SIZES) if tiny else (BATCH, SIZES)
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, sizes[0])), rng.integers(0, sizes[-1], batch)


def _mlp(nn: Any, tiny: bool) -> Any:
    """The MLP in `nn` or `torch.nn` (same API)."""
    s = TINY_SIZES if tiny else SIZES
    return nn.Sequential(nn.Linear(s[0], s[1]), nn.ReLU(), nn.Linear(s[1], s[2]), nn.ReLU(), nn.Linear(s[2], s[3]))


def _ours(tiny: bool = False) -> tuple[Callable[..., object], Callable[..., object], dict, object, object]:
    import autograd_core as ag
    import nn

    previous = ag.get_default_dtype()
    ag.set_default_dtype(np.float64)
    try:
        model = _mlp(nn, tiny)
    finally:
        ag.set_default_dtype(previous)
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = _data(tiny)

    def loss(p, xi, yi):  # noqa: ANN001, ANN202
        return nn.functional.cross_entropy(ag.func.functional_call(model, p, (xi,)), yi)

    batched = ag.func.vmap(ag.func.grad(loss), in_dims=(None, 0, 0))
    return batched, ag.func.grad(loss), params, ag.Tensor(x), ag.Tensor(y)


def per_sample_grads_ours(tiny: bool = False) -> Callable[[], None]:
    batched, _, params, x, y = _ours(tiny)
    return lambda: batched(params, x, y)


def per_sample_grads_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    model = _mlp(torch.nn, tiny).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = (torch.from_numpy(a) for a in _data(tiny))

    def loss(p, xi, yi):  # noqa: ANN001, ANN202
        out = torch.func.functional_call(model, p, (xi,))
        return torch.nn.functional.cross_entropy(out, yi)

    batched = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
    return lambda: batched(params, x, y)


def main() -> None:
    batched, single, params, x, y = _ours()
    batched(params, x, y)
    times = {"vmap": [], "loop": []}
    for _ in range(7):
        t0 = time.perf_counter()
        batched(params, x, y)
        times["vmap"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(BATCH):
            single(params, x[i], y[i])
        times["loop"].append(time.perf_counter() - t0)
    v, loop = np.median(times["vmap"]), np.median(times["loop"])
    print(f"per-sample gradients, batch {BATCH}: vmap {v * 1e3:.1f} ms, loop {loop * 1e3:.1f} ms, "
          f"speedup {loop / v:.1f}x")


if __name__ == "__main__":
    main()
