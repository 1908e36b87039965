"""`scalar_mlp`: micrograd's own demo as scalar code, one scalar per graph node, in every engine.

The demo (micrograd's README and `demo.ipynb`): `MLP(2, [16, 16, 1])` on 100 two-moons
points (labels -1/+1), the SVM max-margin loss `(1 + -yi*scorei).relu()` averaged over
the points, plus L2 regularisation `1e-4 * sum(p*p)`. One step: forward over the whole
batch, loss, zero grads, backward, SGD update with lr 0.01 (the demo decays lr from 1.0;
the time of a step does not depend on it).

Each engine runs the same scalar code: micrograd with `Value`; this engine, PyTorch and
MyGrad with 0-d float64 tensors in a Neuron/Layer/MLP shaped as micrograd's; HIPS
autograd functionally, its parameters a nested list of Python floats. Every engine draws
its initial weights with `random.uniform(-1, 1)` after `random.seed(SEED)`, in
micrograd's order, so all start from the same weights and compute the same losses (float64
throughout, as micrograd's Python floats). A step returns its loss as a float (the
harness ignores it; the tests compare it across engines).

Data: scikit-learn's `make_moons(n_samples=100, noise=0.1, random_state=SEED)` where
scikit-learn is installed, else `_moons`, the same two interleaved half circles with
Gaussian noise drawn by NumPy. `tiny=True`: 8 points, `MLP(2, [4, 4, 1])`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

SEED, LR, ALPHA = 1337, 0.01, 1e-4
N_POINTS, SIZES = 100, (2, 16, 16, 1)
TINY_POINTS, TINY_SIZES = 8, (2, 4, 4, 1)


def _moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's make_moons without scikit-learn: two interleaved half circles plus noise."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    x = np.concatenate([np.stack([np.cos(outer), np.sin(outer)], 1),
                        np.stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5], 1)])
    y = np.concatenate([np.zeros(n_out, dtype=int), np.ones(n_in, dtype=int)])
    return x + rng.normal(scale=noise, size=x.shape), y


def moons(tiny: bool = False) -> tuple[list[list[float]], list[float]]:
    """The demo's data as Python floats: points and labels in {-1, +1}."""
    n = TINY_POINTS if tiny else N_POINTS
    try:
        from sklearn.datasets import make_moons
    except ImportError:
        x, y = _moons(n, 0.1, SEED)
    else:
        x, y = make_moons(n_samples=n, noise=0.1, random_state=SEED)
    return x.tolist(), [float(2 * v - 1) for v in y]


class Neuron:
    """micrograd's Neuron over any scalar type: `make` builds a parameter, `relu` its activation."""

    def __init__(self, nin: int, make: Callable[[float], Any], relu: Callable[[Any], Any], nonlin: bool = True) -> None:
        self.w = [make(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = make(0.0)
        self.relu, self.nonlin = relu, nonlin

    def __call__(self, x: Sequence[Any]) -> Any:
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return self.relu(act) if self.nonlin else act

    def parameters(self) -> list[Any]:
        return self.w + [self.b]


class Layer:
    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Sequence[Any]) -> Any:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Any]:
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    def __init__(self, nin: int, nouts: Sequence[int], make: Callable[[float], Any],
                 relu: Callable[[Any], Any]) -> None:
        sz = [nin, *nouts]
        self.layers = [Layer(sz[i], sz[i + 1], make=make, relu=relu, nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]

    def __call__(self, x: Sequence[Any]) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for p in layer.parameters()]


def _loss(model: Callable[[Sequence[Any]], Any], params: list[Any], inputs: list[list[Any]], ys: list[float],
          relu: Callable[[Any], Any]) -> Any:
    """The demo's loss: mean SVM max-margin loss plus 1e-4 * sum(p*p), written once for all engines."""
    scores = list(map(model, inputs))
    losses = [relu(1 + -yi * scorei) for yi, scorei in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in params)
    return data_loss + reg_loss


def _sizes(tiny: bool) -> tuple[int, list[int]]:
    sizes = TINY_SIZES if tiny else SIZES
    return sizes[0], list(sizes[1:])


def scalar_mlp_micrograd(tiny: bool = False) -> Callable[[], float]:
    from micrograd.engine import Value
    from micrograd.nn import MLP as MicroMLP

    xs, ys = moons(tiny)
    random.seed(SEED)
    model = MicroMLP(*_sizes(tiny))

    def step() -> float:
        inputs = [list(map(Value, row)) for row in xs]
        total = _loss(model, model.parameters(), inputs, ys, Value.relu)
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= LR * p.grad
        return total.data

    return step


def _tensor_step(scalar: Callable[..., Any], relu: Callable[[Any], Any], no_grad: Callable[[], Any],
                 tiny: bool) -> Callable[[], float]:
    """The step for engines with PyTorch's 0-d tensor API (this one and PyTorch): `scalar(v, requires_grad)`
    makes a 0-d float64 tensor."""
    xs, ys = moons(tiny)
    random.seed(SEED)
    model = MLP(*_sizes(tiny), make=lambda v: scalar(v, True), relu=relu)
    params = model.parameters()

    def step() -> float:
        inputs = [list(map(scalar, row)) for row in xs]
        total = _loss(model, params, inputs, ys, relu)
        for p in params:
            p.grad = None
        total.backward()
        with no_grad():
            for p in params:
                p -= LR * p.grad
        return total.item()

    return step


def scalar_mlp_ours(tiny: bool = False) -> Callable[[], float]:
    import autograd_core as ag

    def scalar(v: float, requires_grad: bool = False) -> Any:
        return ag.Tensor(v, requires_grad=requires_grad, dtype=np.float64)

    return _tensor_step(scalar, ag.relu, ag.no_grad, tiny)


def scalar_mlp_torch(tiny: bool = False) -> Callable[[], float]:
    import torch

    def scalar(v: float, requires_grad: bool = False) -> Any:
        return torch.tensor(v, dtype=torch.float64, requires_grad=requires_grad)

    return _tensor_step(scalar, torch.relu, torch.no_grad, tiny)


def scalar_mlp_mygrad(tiny: bool = False) -> Callable[[], float]:
    import mygrad as mg
    from mygrad.nnet import relu

    xs, ys = moons(tiny)
    random.seed(SEED)
    model = MLP(*_sizes(tiny), make=mg.tensor, relu=relu)
    params = model.parameters()

    def step() -> float:  # MyGrad clears a tensor's grad when the tensor enters a new graph
        inputs = [[mg.tensor(v, constant=True) for v in row] for row in xs]
        total = _loss(model, params, inputs, ys, relu)
        total.backward()
        for p in params:
            p.data -= LR * p.grad
        return total.item()

    return step


def scalar_mlp_hips(tiny: bool = False) -> Callable[[], float]:
    import autograd.numpy as anp
    from autograd import value_and_grad

    def relu(v: Any) -> Any:
        return anp.maximum(v, 0.0)

    def forward(params: list, x: list[float]) -> Any:
        """params[layer][neuron] = [w_1 .. w_nin, b]: a neuron is micrograd's, on floats."""
        for i, layer in enumerate(params):
            out = [sum((wi * xi for wi, xi in zip(n[:-1], x)), n[-1]) for n in layer]
            x = out if i == len(params) - 1 else [relu(a) for a in out]
        return x[0]

    def objective(params: list) -> Any:
        flat = [p for layer in params for n in layer for p in n]
        return _loss(lambda x: forward(params, x), flat, xs, ys, relu)

    xs, ys = moons(tiny)
    random.seed(SEED)
    nin, nouts = _sizes(tiny)
    sizes = [nin, *nouts]
    params = [[[random.uniform(-1, 1) for _ in range(sizes[i])] + [0.0] for _ in range(sizes[i + 1])]
              for i in range(len(nouts))]
    loss_and_grad = value_and_grad(objective)
    state = [params]

    def step() -> float:
        total, grads = loss_and_grad(state[0])
        state[0] = [[[p - LR * g for p, g in zip(n, gn)] for n, gn in zip(layer, gl)]
                    for layer, gl in zip(state[0], grads)]
        return float(total)

    return step
