"""XOR with a 2-4-1 sigmoid network, twice: backprop written by hand, then autograd.

    python -m examples.xor

The classic teaching example. Both versions start from the same weights. The
hand-written backward pass is checked against autograd's gradients once, then
autograd trains the network with the decks' own update rule, `param -= lr * grad`,
written under `ag.no_grad()` so that it changes the parameter itself. It prints the loss
as it falls and the final predictions, and saves the loss curve and the learned
decision surface as `examples/output/xor.png`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def init_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(0, 1, (2, 4)),
        "b1": np.zeros(4),
        "W2": rng.normal(0, 1, (4, 1)),
        "b2": np.zeros(1),
    }


def sigmoid(z):  # noqa: ANN001, ANN201 - the same function serves arrays and Tensors
    return 1 / (1 + np.exp(-z))


def manual_gradients(w: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """Forward and backward by hand: the chain rule, layer by layer."""
    h = sigmoid(X @ w["W1"] + w["b1"])
    out = sigmoid(h @ w["W2"] + w["b2"])
    loss = np.mean((out - Y) ** 2)
    d_out = 2 * (out - Y) / len(X)  # dL/d(out)
    d_z2 = d_out * out * (1 - out)  # through the output sigmoid
    d_h = d_z2 @ w["W2"].T
    d_z1 = d_h * h * (1 - h)  # through the hidden sigmoid
    grads = {"W2": h.T @ d_z2, "b2": d_z2.sum(0), "W1": X.T @ d_z1, "b1": d_z1.sum(0)}
    return float(loss), grads


def autograd_loss(params: dict[str, Tensor]) -> Tensor:
    """The same network written once, forward only; autograd derives the backward pass."""
    h = sigmoid(X @ params["W1"] + params["b1"])
    out = sigmoid(h @ params["W2"] + params["b2"])
    return ((out - Y) ** 2).mean()


def main(steps: int = 5000, lr: float = 2.0, out: Path | None = None) -> float:
    weights = init_weights()
    params = {k: Tensor(v, requires_grad=True) for k, v in weights.items()}

    # 1. Hand-written backprop and autograd agree.
    manual_loss, manual = manual_gradients(weights)
    autograd_loss(params).backward()
    worst = max(float(np.max(np.abs(params[k].grad - manual[k]))) for k in manual)
    print(f"hand-written vs autograd gradients: max difference {worst:.2e}")

    # 2. Train with autograd and plain gradient descent.
    losses = []
    for step in range(steps + 1):
        for p in params.values():
            p.grad = None
        loss = autograd_loss(params)
        loss.backward()
        with ag.no_grad():  # the update changes each parameter in place, recording nothing
            for p in params.values():
                p -= lr * p.grad
        losses.append(loss.item())
        if step % 1000 == 0:
            print(f"step {step:5d}  loss {loss.item():.6f}")

    with ag.no_grad():
        h = sigmoid(X @ params["W1"] + params["b1"])
        pred = sigmoid(h @ params["W2"] + params["b2"]).data
    for x, p, y in zip(X, pred[:, 0], Y[:, 0]):
        print(f"  {x.astype(int)} -> {p:.3f}  (target {int(y)})")
    accuracy = float(np.mean((pred > 0.5) == (Y > 0.5)))
    print(f"accuracy {accuracy:.0%}, final loss {loss.item():.6f}")
    if out is not None:
        _plot(losses, params, out / "xor.png")
    return loss.item()


def _plot(losses: list[float], params: dict[str, Tensor], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from examples._figures import save, small_fonts

    path.parent.mkdir(parents=True, exist_ok=True)
    grid = np.linspace(-0.25, 1.25, 121)
    points = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    with ag.no_grad():
        h = sigmoid(points @ params["W1"] + params["b1"])
        surface = sigmoid(h @ params["W2"] + params["b2"]).data.reshape(len(grid), len(grid))
    fig, (ax_loss, ax_map) = plt.subplots(1, 2, figsize=(8, 3.5))
    ax_loss.semilogy(losses)
    ax_loss.set(xlabel="step", ylabel="MSE", title="Training loss")
    image = ax_map.imshow(surface, origin="lower", extent=(-0.25, 1.25, -0.25, 1.25), cmap="coolwarm", vmin=0, vmax=1)
    ax_map.scatter(X[:, 0], X[:, 1], c=Y[:, 0], cmap="coolwarm", edgecolors="black", s=60, vmin=0, vmax=1)
    ax_map.set(xlabel="x1", ylabel="x2", title="Learned output over the plane")
    fig.colorbar(image, ax=ax_map).ax.tick_params(labelsize=7)
    small_fonts(ax_loss, ax_map)
    save(fig, path)
    print(f"saved {path}")


if __name__ == "__main__":
    main(out=Path(__file__).resolve().parent / "output")
