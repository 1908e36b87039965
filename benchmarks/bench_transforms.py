"""Function-transform workloads: `ag.func.hessian` and forward-mode `ag.func.jvp` (issue 15).

- `hessian_100`: the Hessian of a 100-parameter scalar function, the mean squared error
  of a tiny 8 -> 10 -> 1 tanh network (80 + 10 + 10 parameters in one vector) on 256
  examples, in float64; `ag.func.hessian` against `torch.func.hessian`.
- `jvp_mlp`: `ag.func.jvp` of the MNIST-1D MLP (40 -> 100 -> 100 -> 10, ReLU) on a batch
  of 512 random inputs, against `torch.func.jvp`; `jvp_mlp_forward` is the plain forward
  pass of the same model in both engines, so the jvp / forward ratio of this engine is
  the first's time over the second's.

`tiny=True`: a 2 -> 3 -> 1 network on 4 examples (12 parameters); an MLP 4-5-5-3 on a
batch of 2. HIPS autograd runs all three: `autograd.hessian`, `autograd.make_jvp` (its
forward mode: a reverse pass through a reverse pass) and the plain forward, on the same
network written with `autograd.numpy` (weights (in, out), `x @ W + b`). MyGrad has no
higher-order or forward-mode derivatives.

    python -m benchmarks.run hessian_100 jvp_mlp jvp_mlp_forward
    OMP_NUM_THREADS=1 python -m benchmarks.bench_transforms   # this engine's jvp / forward ratio
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

N_IN, N_HIDDEN, N_EXAMPLES = 8, 10, 256  # 10*8 + 10 + 10 = 100 parameters
BATCH, SIZES = 512, (40, 100, 100, 10)
TINY_HESSIAN, TINY_BATCH, TINY_SIZES = (2, 3, 4), 2, (4, 5, 5, 3)  # (inputs, hidden, examples)


def _hessian_data(tiny: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_in, n_hidden, n_examples = TINY_HESSIAN if tiny else (N_IN, N_HIDDEN, N_EXAMPLES)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_examples, n_in))
    y = rng.standard_normal(n_examples)
    w = 0.3 * rng.standard_normal(n_hidden * n_in + 2 * n_hidden)
    return x, y, w


def _tiny_net_loss(x: Any, y: Any, tanh: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The loss as a function of one flat parameter vector (written once for all engines)."""
    n_in = x.shape[1]

    def loss(w: Any) -> Any:
        n_hidden = w.shape[0] // (n_in + 2)
        n_w = n_hidden * n_in
        w1, b1, w2 = w[:n_w].reshape(n_hidden, n_in), w[n_w:n_w + n_hidden], w[n_w + n_hidden:]
        r = tanh(x @ w1.T + b1) @ w2 - y
        return (r * r).mean()

    return loss


def hessian_100_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag

    x, y, w = _hessian_data(tiny)
    hessian = ag.func.hessian(_tiny_net_loss(ag.Tensor(x), ag.Tensor(y), ag.tanh))
    params = ag.Tensor(w)

    def step() -> None:
        hessian(params)

    return step


def hessian_100_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    x, y, w = _hessian_data(tiny)
    hessian = torch.func.hessian(_tiny_net_loss(torch.from_numpy(x), torch.from_numpy(y), torch.tanh))
    params = torch.from_numpy(w)

    def step() -> None:
        hessian(params)

    return step


def hessian_100_hips(tiny: bool = False) -> Callable[[], None]:
    import autograd.numpy as anp
    from autograd import hessian

    x, y, w = _hessian_data(tiny)
    hess = hessian(_tiny_net_loss(x, y, anp.tanh))

    def step() -> None:
        hess(w)

    return step


def _mlp_data(tiny: bool = False) -> tuple[np.ndarray, np.ndarray]:
    batch, sizes = (TINY_BATCH, TINY_SIZES) if tiny else (BATCH, SIZES)
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, sizes[0])).astype(np.float32),
            rng.standard_normal((batch, sizes[0])).astype(np.float32))


def _mlp(nn: Any, tiny: bool = False) -> Any:
    sizes = TINY_SIZES if tiny else SIZES
    return nn.Sequential(
        nn.Linear(sizes[0], sizes[1]), nn.ReLU(),
        nn.Linear(sizes[1], sizes[2]), nn.ReLU(),
        nn.Linear(sizes[2], sizes[3]),
    )


def _hips_mlp(tiny: bool) -> Callable[[Any], Any]:
    """The MLP as a function of its input in `autograd.numpy`, weights drawn as `Linear` draws them."""
    import autograd.numpy as anp

    sizes = TINY_SIZES if tiny else SIZES
    rng = np.random.default_rng(1)
    params = [(rng.uniform(-n**-0.5, n**-0.5, (n, m)).astype(np.float32),
               rng.uniform(-n**-0.5, n**-0.5, m).astype(np.float32)) for n, m in zip(sizes[:-1], sizes[1:])]

    def forward(x: Any) -> Any:
        for i, (w, b) in enumerate(params):
            x = anp.dot(x, w) + b
            if i < len(params) - 1:
                x = anp.maximum(x, 0.0)
        return x

    return forward


def jvp_mlp_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, v = _mlp_data(tiny)
    model, primal, tangent = _mlp(nn, tiny), ag.Tensor(x), ag.Tensor(v)

    def step() -> None:
        ag.func.jvp(model, (primal,), (tangent,))

    return step


def jvp_mlp_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    x, v = _mlp_data(tiny)
    model, primal, tangent = _mlp(torch.nn, tiny), torch.from_numpy(x), torch.from_numpy(v)

    def step() -> None:
        torch.func.jvp(model, (primal,), (tangent,))

    return step


def jvp_mlp_hips(tiny: bool = False) -> Callable[[], None]:
    from autograd import make_jvp

    x, v = _mlp_data(tiny)
    jvp = make_jvp(_hips_mlp(tiny))

    def step() -> None:
        jvp(x)(v)

    return step


def jvp_mlp_forward_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, _ = _mlp_data(tiny)
    model, primal = _mlp(nn, tiny), ag.Tensor(x)

    def step() -> None:
        model(primal)

    return step


def jvp_mlp_forward_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    x, _ = _mlp_data(tiny)
    model, primal = _mlp(torch.nn, tiny), torch.from_numpy(x)

    def step() -> None:
        model(primal)

    return step


def jvp_mlp_forward_hips(tiny: bool = False) -> Callable[[], None]:
    x, _ = _mlp_data(tiny)
    forward = _hips_mlp(tiny)

    def step() -> None:
        forward(x)

    return step


def main() -> None:
    """This engine's jvp / forward ratio (pin threads from the shell: OMP_NUM_THREADS=1 ...)."""
    from benchmarks.run import time_steps

    jvp, forward = time_steps([jvp_mlp_ours(), jvp_mlp_forward_ours()], repeat=25)
    print(f"jvp_mlp: jvp {jvp * 1e3:.3f} ms, forward {forward * 1e3:.3f} ms, jvp / forward {jvp / forward:.2f}x")


if __name__ == "__main__":
    main()
