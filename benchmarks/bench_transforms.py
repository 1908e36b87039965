"""Function-transform workloads: `ag.func.hessian` and forward-mode `ag.func.jvp` (issue 15).

- `hessian_100`: the Hessian of a 100-parameter scalar function, the mean squared error
  of a tiny 8 -> 10 -> 1 tanh network (80 + 10 + 10 parameters in one vector) on 256
  examples, in float64; `ag.func.hessian` against `torch.func.hessian`.
- `jvp_mlp`: `ag.func.jvp` of the MNIST-1D MLP (40 -> 100 -> 100 -> 10, ReLU) on a batch
  of 512 random inputs, against `torch.func.jvp`; `jvp_mlp_forward` is the plain forward
  pass of the same model in both engines, so the jvp / forward ratio of this engine is
  the first's time over the second's.

    python -m benchmarks.run hessian_100 jvp_mlp jvp_mlp_forward
    OMP_NUM_THREADS=1 python -m benchmarks.bench_transforms   # this engine's jvp / forward ratio
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

N_IN, N_HIDDEN, N_EXAMPLES = 8, 10, 256  # 10*8 + 10 + 10 = 100 parameters
BATCH, SIZES = 512, (40, 100, 100, 10)


def _hessian_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_EXAMPLES, N_IN))
    y = rng.standard_normal(N_EXAMPLES)
    w = 0.3 * rng.standard_normal(N_HIDDEN * N_IN + 2 * N_HIDDEN)
    return x, y, w


def _tiny_net_loss(x: Any, y: Any, tanh: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The loss as a function of one flat parameter vector (written once for both engines)."""
    n_w = N_HIDDEN * N_IN

    def loss(w: Any) -> Any:
        w1, b1, w2 = w[:n_w].reshape(N_HIDDEN, N_IN), w[n_w:n_w + N_HIDDEN], w[n_w + N_HIDDEN:]
        r = tanh(x @ w1.T + b1) @ w2 - y
        return (r * r).mean()

    return loss


def hessian_100_ours() -> Callable[[], None]:
    import autograd_core as ag

    x, y, w = _hessian_data()
    hessian = ag.func.hessian(_tiny_net_loss(ag.Tensor(x), ag.Tensor(y), ag.tanh))
    params = ag.Tensor(w)

    def step() -> None:
        hessian(params)

    return step


def hessian_100_torch() -> Callable[[], None]:
    import torch

    x, y, w = _hessian_data()
    hessian = torch.func.hessian(_tiny_net_loss(torch.from_numpy(x), torch.from_numpy(y), torch.tanh))
    params = torch.from_numpy(w)

    def step() -> None:
        hessian(params)

    return step


def _mlp_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, SIZES[0])).astype(np.float32), rng.standard_normal((BATCH, SIZES[0])).astype(
        np.float32
    )


def _mlp(nn: Any) -> Any:
    return nn.Sequential(
        nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(),
        nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
        nn.Linear(SIZES[2], SIZES[3]),
    )


def jvp_mlp_ours() -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, v = _mlp_data()
    model, primal, tangent = _mlp(nn), ag.Tensor(x), ag.Tensor(v)

    def step() -> None:
        ag.func.jvp(model, (primal,), (tangent,))

    return step


def jvp_mlp_torch() -> Callable[[], None]:
    import torch

    x, v = _mlp_data()
    model, primal, tangent = _mlp(torch.nn), torch.from_numpy(x), torch.from_numpy(v)

    def step() -> None:
        torch.func.jvp(model, (primal,), (tangent,))

    return step


def jvp_mlp_forward_ours() -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, _ = _mlp_data()
    model, primal = _mlp(nn), ag.Tensor(x)

    def step() -> None:
        model(primal)

    return step


def jvp_mlp_forward_torch() -> Callable[[], None]:
    import torch

    x, _ = _mlp_data()
    model, primal = _mlp(torch.nn), torch.from_numpy(x)

    def step() -> None:
        model(primal)

    return step


def main() -> None:
    """This engine's jvp / forward ratio (pin threads from the shell: OMP_NUM_THREADS=1 ...)."""
    from benchmarks.run import time_steps

    jvp, forward = time_steps([jvp_mlp_ours(), jvp_mlp_forward_ours()], repeat=25)
    print(f"jvp_mlp: jvp {jvp * 1e3:.3f} ms, forward {forward * 1e3:.3f} ms, jvp / forward {jvp / forward:.2f}x")


if __name__ == "__main__":
    main()
