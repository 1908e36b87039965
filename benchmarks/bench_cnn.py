"""CNN workloads (issue 4): one training step of a small CNN (`cnn_step`) and convolution micro-benchmarks.

Each factory builds its model and data and returns a zero-argument callable that runs
one step. float32 throughout.

- `cnn_step`: batch 32 of 1x28x28; conv(1->16, 3x3, pad 1), ReLU, max-pool 2;
  conv(16->32, 3x3, pad 1), ReLU, max-pool 2; flatten; linear(1568->10);
  cross-entropy; backward; SGD step (lr 0.01). `tiny=True`: batch 2 of 1x8x8, 2 and 4
  channels, 3 classes.
- `conv2d`: input (32, 16, 28, 28), 32 filters 3x3, pad 1, bias, forward + backward with
  a ones seed. `tiny=True`: input (2, 2, 6, 6), 3 filters.
- `depthwise_conv2d`: input (32, 64, 28, 28), weight (64, 1, 3, 3), pad 1, groups=64, bias,
  forward + backward with a ones seed. `tiny=True`: input (2, 4, 6, 6), groups=4. No BLAS
  floor: a depthwise convolution does 9 multiply-adds per output and is bound by memory
  traffic, not by matrix products.

MyGrad runs `cnn_step` and `conv2d` with `nnet.conv_nd` and `nnet.max_pool` (it has no
grouped convolution, so no `depthwise_conv2d`). HIPS autograd runs them as its
`examples/convnet.py` does: `autograd.scipy.signal.convolve` (a true convolution, kernel
flipped: the same work) after `np.pad`, max-pool by reshape. The `*_blas` factories are
the BLAS floors: the convolutions' products as im2col-shaped matmuls, plus the linear layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import sgd_training_step

BATCH, CLASSES = 32, 10
CONV_INPUT, CONV_FILTERS = (32, 16, 28, 28), 32
DEPTHWISE_INPUT = (32, 64, 28, 28)
LR = 0.01
# cnn_step: batch, image side, conv1 and conv2 channels, classes
CNN_FULL, CNN_TINY = (BATCH, 28, 16, 32, CLASSES), (2, 8, 2, 4, 3)
TINY_CONV_INPUT, TINY_CONV_FILTERS, TINY_DEPTHWISE_INPUT = (2, 2, 6, 6), 3, (2, 4, 6, 6)


def _images(tiny: bool = False) -> tuple[np.ndarray, np.ndarray]:
    batch, side, _, _, classes = CNN_TINY if tiny else CNN_FULL
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, 1, side, side)).astype(np.float32), rng.integers(0, classes, batch)


def _conv_data(tiny: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    shape, filters = (TINY_CONV_INPUT, TINY_CONV_FILTERS) if tiny else (CONV_INPUT, CONV_FILTERS)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((filters, shape[1], 3, 3)) * 0.1).astype(np.float32)
    return x, w, np.zeros(filters, dtype=np.float32)


def _depthwise_data(tiny: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    shape = TINY_DEPTHWISE_INPUT if tiny else DEPTHWISE_INPUT
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((shape[1], 1, 3, 3)) * 0.1).astype(np.float32)
    return x, w, np.zeros(shape[1], dtype=np.float32)


def _uniform(rng: np.random.Generator, fan_in: int, shape: tuple[int, ...]) -> np.ndarray:
    """PyTorch's default Conv2d/Linear init: uniform in +-1/sqrt(fan_in)."""
    return rng.uniform(-fan_in**-0.5, fan_in**-0.5, shape).astype(np.float32)


def _cnn_params(tiny: bool) -> dict[str, np.ndarray]:
    """The CNN's parameters for the peers: conv weights (out, in, 3, 3), linear weight (in, out)."""
    _, side, c1, c2, classes = CNN_TINY if tiny else CNN_FULL
    rng = np.random.default_rng(1)
    flat = c2 * (side // 4) ** 2
    return {"w1": _uniform(rng, 9, (c1, 1, 3, 3)), "b1": _uniform(rng, 9, (c1,)),
            "w2": _uniform(rng, 9 * c1, (c2, c1, 3, 3)), "b2": _uniform(rng, 9 * c1, (c2,)),
            "w3": _uniform(rng, flat, (flat, classes)), "b3": _uniform(rng, flat, (classes,))}


def _cnn_module(nn: Any, tiny: bool) -> Any:
    """The CNN in `nn` or `torch.nn` (same API)."""
    _, side, c1, c2, classes = CNN_TINY if tiny else CNN_FULL
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * (side // 4) ** 2, classes),
    )


def cnn_step_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, y = _images(tiny)
    return sgd_training_step(nn.optim, nn.CrossEntropyLoss, _cnn_module(nn, tiny), ag.Tensor(x), y)


def cnn_step_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    x, y = _images(tiny)
    model = _cnn_module(torch.nn, tiny)
    return sgd_training_step(torch.optim, torch.nn.CrossEntropyLoss, model, torch.from_numpy(x), torch.from_numpy(y))


def cnn_step_mygrad(tiny: bool = False) -> Callable[[], None]:
    import mygrad as mg
    from mygrad.nnet import conv_nd, max_pool, relu, softmax_crossentropy

    x, y = _images(tiny)
    p = {k: mg.tensor(v[:, None, None] if k in ("b1", "b2") else v) for k, v in _cnn_params(tiny).items()}

    def step() -> None:  # MyGrad clears a tensor's grad when the tensor enters a new graph
        h = max_pool(relu(conv_nd(x, p["w1"], stride=1, padding=1) + p["b1"]), (2, 2), 2)
        h = max_pool(relu(conv_nd(h, p["w2"], stride=1, padding=1) + p["b2"]), (2, 2), 2)
        softmax_crossentropy(h.reshape(len(x), -1) @ p["w3"] + p["b3"], y).backward()
        for t in p.values():
            t.data -= LR * t.grad

    return step


def _hips_conv(anp: Any, convolve: Callable, x: Any, w: Any, b: Any) -> Any:
    """3x3 convolution with padding 1 as autograd's convnet example: w is (in, out, 3, 3)."""
    padded = anp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="constant")
    return convolve(padded, w, axes=([2, 3], [2, 3]), dot_axes=([1], [0]), mode="valid") + b[:, None, None]


def _hips_pool(anp: Any, x: Any) -> Any:
    """2x2 max-pool by reshape, as autograd's convnet example."""
    n, c, h, w = x.shape
    return anp.max(anp.max(x.reshape(n, c, h // 2, 2, w // 2, 2), axis=3), axis=4)


def cnn_step_hips(tiny: bool = False) -> Callable[[], None]:
    import autograd.numpy as anp
    from autograd import grad
    from autograd.scipy.signal import convolve
    from autograd.scipy.special import logsumexp

    x, y = _images(tiny)
    targets = np.eye(_cnn_params(tiny)["b3"].size, dtype=np.float32)[y]
    params = {k: v.transpose(1, 0, 2, 3).copy() if k in ("w1", "w2") else v for k, v in _cnn_params(tiny).items()}

    def loss(p: dict) -> Any:
        h = _hips_pool(anp, anp.maximum(_hips_conv(anp, convolve, x, p["w1"], p["b1"]), 0.0))
        h = _hips_pool(anp, anp.maximum(_hips_conv(anp, convolve, h, p["w2"], p["b2"]), 0.0))
        logits = anp.dot(h.reshape(len(x), -1), p["w3"]) + p["b3"]
        return -anp.sum((logits - logsumexp(logits, axis=1, keepdims=True)) * targets) / len(x)

    gradient = grad(loss)
    state = [params]

    def step() -> None:
        grads = gradient(state[0])
        state[0] = {k: v - LR * grads[k] for k, v in state[0].items()}

    return step


def _im2col_products(rows: int, k: int, n: int, input_grad: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(a, b, out) for a convolution as im2col matmuls: cols (rows, k) @ w (k, n); dw; dcols if `input_grad`."""
    rng = np.random.default_rng(0)
    cols = rng.standard_normal((rows, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    g = rng.standard_normal((rows, n)).astype(np.float32)
    products = [(cols, w, np.empty((rows, n), np.float32)), (cols.T, g, np.empty((k, n), np.float32))]
    if input_grad:
        products.append((g, w.T, np.empty((rows, k), np.float32)))
    return products


def _run_products(products: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Callable[[], None]:
    def step() -> None:
        for a, b, out in products:
            np.matmul(a, b, out=out)

    return step


def cnn_step_blas(tiny: bool = False) -> Callable[[], None]:
    """conv1 forward + weight grad, conv2 forward + weight and input grads, linear forward + both grads."""
    batch, side, c1, c2, classes = CNN_TINY if tiny else CNN_FULL
    flat = c2 * (side // 4) ** 2
    products = _im2col_products(batch * side * side, 9, c1, input_grad=False)
    products += _im2col_products(batch * (side // 2) ** 2, 9 * c1, c2, input_grad=True)
    products += _im2col_products(batch, flat, classes, input_grad=True)
    return _run_products(products)


def conv2d_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, w, b = (ag.Tensor(a, requires_grad=True) for a in _conv_data(tiny))
    seed = np.ones((x.shape[0], w.shape[0]) + x.shape[2:], dtype=np.float32)

    def step() -> None:
        x.grad = w.grad = b.grad = None
        nn.functional.conv2d(x, w, b, padding=1).backward(seed)

    return step


def conv2d_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    x, w, b = (torch.tensor(a, requires_grad=True) for a in _conv_data(tiny))
    seed = torch.ones((x.shape[0], w.shape[0]) + x.shape[2:])

    def step() -> None:
        x.grad = w.grad = b.grad = None
        torch.nn.functional.conv2d(x, w, b, padding=1).backward(seed)

    return step


def conv2d_mygrad(tiny: bool = False) -> Callable[[], None]:
    import mygrad as mg
    from mygrad.nnet import conv_nd

    x_np, w_np, b_np = _conv_data(tiny)
    x, w, b = mg.tensor(x_np), mg.tensor(w_np), mg.tensor(b_np[:, None, None])
    seed = np.ones((x.shape[0], w.shape[0]) + x.shape[2:], dtype=np.float32)

    def step() -> None:  # MyGrad clears the grads when x, w, b enter a new graph
        (conv_nd(x, w, stride=1, padding=1) + b).backward(seed)

    return step


def conv2d_hips(tiny: bool = False) -> Callable[[], None]:
    import autograd.numpy as anp
    from autograd import make_vjp
    from autograd.scipy.signal import convolve

    x, w, b = _conv_data(tiny)
    seed = np.ones((x.shape[0], w.shape[0]) + x.shape[2:], dtype=np.float32)
    args = (x, w.transpose(1, 0, 2, 3).copy(), b)
    forward = make_vjp(lambda a: _hips_conv(anp, convolve, *a))

    def step() -> None:
        vjp, _ = forward(args)
        vjp(seed)

    return step


def conv2d_blas(tiny: bool = False) -> Callable[[], None]:
    """The convolution as im2col matmuls: forward, weight grad, input (column) grad."""
    (n, c, h, w), filters = (TINY_CONV_INPUT, TINY_CONV_FILTERS) if tiny else (CONV_INPUT, CONV_FILTERS)
    return _run_products(_im2col_products(n * h * w, 9 * c, filters, input_grad=True))


def depthwise_conv2d_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag
    import nn

    x, w, b = (ag.Tensor(a, requires_grad=True) for a in _depthwise_data(tiny))
    seed = np.ones(x.shape, dtype=np.float32)

    def step() -> None:
        x.grad = w.grad = b.grad = None
        nn.functional.conv2d(x, w, b, padding=1, groups=x.shape[1]).backward(seed)

    return step


def depthwise_conv2d_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    x, w, b = (torch.tensor(a, requires_grad=True) for a in _depthwise_data(tiny))
    seed = torch.ones(x.shape)

    def step() -> None:
        x.grad = w.grad = b.grad = None
        torch.nn.functional.conv2d(x, w, b, padding=1, groups=x.shape[1]).backward(seed)

    return step
