"""Backpropagation written out by hand, checked against autograd on the same weights.

    python -m examples.backprop_by_hand            # about 10 s
    python -m examples.backprop_by_hand --quick    # a few training steps, for the tests

What it teaches: backprop is the chain rule applied layer by layer from the loss back
to the weights, and an autograd engine applies exactly that rule for you. Three
networks from the two slide decks, each trained by gradient descent:

- the two-layer sigmoid network on XOR (deck 1: sigmoid hidden and output layer),
  once with binary cross-entropy and once with mean squared error. The two losses
  differ only in the first step of the backward pass: with BCE the sigmoid's
  derivative cancels, so dL/dz2 = (a2 - y) / m, the "delta2 = y_pred - y" of the
  slides; with MSE it does not, so dL/dz2 = 2 (a2 - y) a2 (1 - a2) / m. Using the
  BCE delta while training on MSE (as deck 1 does) descends a different loss;
- the three-layer ReLU network of deck 2 (3 -> 4 -> 4 -> 1, linear output) with MSE.

The forward passes and losses below are plain NumPy (`np.dot`, `np.exp`,
`np.maximum`, `np.log`, `np.mean`). Called on NumPy arrays they give the values the
hand-written backward pass needs; called unchanged on `Tensor` weights they build the
graph autograd differentiates. At every training step both gradients are computed
for the same weights and compared: in float64 they agree to rounding (the script
prints the largest difference next to the 1e-12 it must stay under).

It saves a figure (training losses, and the per-step difference between hand-written
and autograd gradients) as `backprop_by_hand.png`, the DOT text of the XOR network's
graph as `backprop_by_hand_graph.dot`, and, when the Graphviz `dot` binary is
installed, the drawing itself as `backprop_by_hand_graph.svg`.

A detail the comparison relies on: `np.maximum(z, 0)` on a Tensor gives half the
gradient to each side where z == 0 exactly; the hand-written ReLU derivative uses
(z > 0). With random float weights no pre-activation is exactly 0.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from examples._figures import save, small_fonts

DEFAULT_OUT = Path(__file__).resolve().parent / "output"
TOLERANCE = 1e-12  # the agreement the check must reach in float64

Params = dict[str, np.ndarray]


# ----------------------------------------------------------------- NumPy functions (arrays or Tensors)
# Every function here is written once and serves both worlds: NumPy calls on Tensors dispatch to Tensor ops.
def sigmoid(z):  # noqa: ANN001, ANN201
    return 1 / (1 + np.exp(-z))


def relu(z):  # noqa: ANN001, ANN201
    return np.maximum(z, 0)


def mse(y, p):  # noqa: ANN001, ANN201
    """Mean squared error over every element."""
    return np.mean((p - y) ** 2)


def bce(y, p):  # noqa: ANN001, ANN201
    """Binary cross-entropy for probabilities p, averaged over every element."""
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def sigmoid_forward(p, x):  # noqa: ANN001, ANN201
    """Deck 1's network: a1 = sigmoid(x W1 + b1), a2 = sigmoid(a1 W2 + b2). Returns a2 and the activations."""
    a1 = sigmoid(np.dot(x, p["W1"]) + p["b1"])
    a2 = sigmoid(np.dot(a1, p["W2"]) + p["b2"])
    return a2, {"a1": a1, "a2": a2}


def relu_forward(p, x):  # noqa: ANN001, ANN201
    """Deck 2's forward pass: two ReLU layers, then a linear output layer."""
    z1 = np.dot(x, p["W1"]) + p["b1"]
    h1 = relu(z1)
    z2 = np.dot(h1, p["W2"]) + p["b2"]
    h2 = relu(z2)
    out = np.dot(h2, p["W3"]) + p["b3"]
    return out, {"z1": z1, "h1": h1, "z2": z2, "h2": h2}


# ----------------------------------------------------------------- the chain rule, by hand
def sigmoid_backward(p: Params, x: np.ndarray, y: np.ndarray, cache: dict, loss: str) -> Params:
    """dL/dW for the sigmoid network: the chain rule from the loss back to W1.

    With n = y.size (the losses average over every element):
      BCE: dL/da2 = (a2 - y) / (a2 (1 - a2) n) and da2/dz2 = a2 (1 - a2), so dL/dz2 = (a2 - y) / n
      MSE: dL/da2 = 2 (a2 - y) / n,                                      so dL/dz2 = 2 (a2 - y) a2 (1 - a2) / n
    then, for z2 = a1 W2 + b2 and a1 = sigmoid(z1), z1 = x W1 + b1:
      dL/dW2 = a1^T dL/dz2,  dL/db2 = sum over the batch of dL/dz2,  dL/da1 = dL/dz2 W2^T,
      dL/dz1 = dL/da1 * a1 (1 - a1),  dL/dW1 = x^T dL/dz1,  dL/db1 = sum over the batch of dL/dz1.
    """
    a1, a2, n = cache["a1"], cache["a2"], y.size
    if loss == "bce":
        d_z2 = (a2 - y) / n
    else:
        d_z2 = 2 * (a2 - y) / n * a2 * (1 - a2)
    d_a1 = np.dot(d_z2, p["W2"].T)
    d_z1 = d_a1 * a1 * (1 - a1)
    return {
        "W1": np.dot(x.T, d_z1),
        "b1": d_z1.sum(axis=0, keepdims=True),
        "W2": np.dot(a1.T, d_z2),
        "b2": d_z2.sum(axis=0, keepdims=True),
    }


def relu_backward(p: Params, x: np.ndarray, y: np.ndarray, cache: dict, out: np.ndarray) -> Params:
    """dL/dW for the ReLU network with L = mean((out - y)^2): the same rule, three layers deep.

      dL/dout = 2 (out - y) / n
      dL/dW3 = h2^T dL/dout,   dL/dh2 = dL/dout W3^T,   dL/dz2 = dL/dh2 * [z2 > 0]
      dL/dW2 = h1^T dL/dz2,    dL/dh1 = dL/dz2 W2^T,    dL/dz1 = dL/dh1 * [z1 > 0]
      dL/dW1 = x^T dL/dz1;     each bias gets its layer's dL/dz summed over the batch.
    """
    d_out = 2 * (out - y) / y.size
    d_h2 = np.dot(d_out, p["W3"].T)
    d_z2 = d_h2 * (cache["z2"] > 0)
    d_h1 = np.dot(d_z2, p["W2"].T)
    d_z1 = d_h1 * (cache["z1"] > 0)
    return {
        "W1": np.dot(x.T, d_z1),
        "b1": d_z1.sum(axis=0, keepdims=True),
        "W2": np.dot(cache["h1"].T, d_z2),
        "b2": d_z2.sum(axis=0, keepdims=True),
        "W3": np.dot(cache["h2"].T, d_out),
        "b3": d_out.sum(axis=0, keepdims=True),
    }


# ----------------------------------------------------------------- the three problems
class Problem:
    """A network, its data and loss, with both ways of getting dL/dW."""

    def __init__(self, label: str, params: Params, x: np.ndarray, y: np.ndarray, loss: Callable,
                 forward: Callable, hand: Callable, lr: float) -> None:
        self.label, self.params, self.x, self.y = label, params, x, y
        self.loss, self.forward, self.hand, self.lr = loss, forward, hand, lr

    def hand_gradients(self) -> tuple[float, Params]:
        out, cache = self.forward(self.params, self.x)  # plain arrays: the values the chain rule needs
        return float(self.loss(self.y, out)), self.hand(self.params, self.x, self.y, cache, out)

    def autograd_loss(self) -> tuple[Tensor, dict[str, Tensor]]:
        leaves = {k: Tensor(v, requires_grad=True) for k, v in self.params.items()}
        for name, leaf in leaves.items():
            leaf.name = name
        out, _ = self.forward(leaves, self.x)  # the very same function, now on Tensors
        return self.loss(self.y, out), leaves

    def autograd_gradients(self) -> tuple[float, Params]:
        loss, leaves = self.autograd_loss()
        loss.backward()
        return loss.item(), {k: t.grad for k, t in leaves.items()}


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return x, np.array([[0], [1], [1], [0]], dtype=np.float64)


def sigmoid_params(seed: int, hidden: int = 4) -> Params:
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0, 1, (2, hidden)), "b1": np.zeros((1, hidden)),
            "W2": rng.normal(0, 1, (hidden, 1)), "b2": np.zeros((1, 1))}


def relu_problem(seed: int, batch: int = 32) -> tuple[Params, np.ndarray, np.ndarray]:
    """Deck 2's 3 -> 4 -> 4 -> 1 ReLU network, fitting a smooth function of three inputs."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch, 3))
    y = np.sin(2 * x[:, :1]) + x[:, 1:2] * x[:, 2:3]
    params = {"W1": rng.normal(0, 1, (3, 4)), "b1": np.full((1, 4), 0.1),
              "W2": rng.normal(0, 0.7, (4, 4)), "b2": np.full((1, 4), 0.1),
              "W3": rng.normal(0, 0.7, (4, 1)), "b3": np.zeros((1, 1))}
    return params, x, y


def make_problems(seed: int) -> list[Problem]:
    x, y = xor_data()
    relu_params, rx, ry = relu_problem(seed)
    return [
        Problem("sigmoid 2-4-1 on XOR, BCE", sigmoid_params(seed), x, y, bce, sigmoid_forward,
                lambda p, x, y, c, out: sigmoid_backward(p, x, y, c, "bce"), lr=1.0),
        Problem("sigmoid 2-4-1 on XOR, MSE", sigmoid_params(seed), x, y, mse, sigmoid_forward,
                lambda p, x, y, c, out: sigmoid_backward(p, x, y, c, "mse"), lr=4.0),
        Problem("ReLU 3-4-4-1, MSE", relu_params, rx, ry, mse, relu_forward, relu_backward, lr=0.05),
    ]


def max_difference(a: Params, b: Params) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def train(problem: Problem, steps: int) -> dict[str, list[float]]:
    """Gradient descent; at every step both gradients are taken at the same weights and compared."""
    history: dict[str, list[float]] = {"loss": [], "difference": []}
    for _ in range(steps + 1):
        loss, hand = problem.hand_gradients()
        auto_loss, auto = problem.autograd_gradients()
        history["loss"].append(loss)
        history["difference"].append(max(max_difference(hand, auto), abs(loss - auto_loss)))
        for k in problem.params:  # descend with the hand-written gradient (autograd's is the same)
            problem.params[k] = problem.params[k] - problem.lr * hand[k]
    return history


def write_graph(problem: Problem, out: Path) -> list[Path]:
    """The XOR network's loss graph, leaves annotated with their gradients: DOT text always, SVG with Graphviz."""
    loss, leaves = problem.autograd_loss()
    loss.name = "loss"
    loss.backward(retain_graph=True)
    dot_path = out / "backprop_by_hand_graph.dot"
    dot_path.write_text(ag.to_dot(loss, params=leaves, show_grad=True) + "\n")
    written = [dot_path]
    if shutil.which("dot"):
        ag.draw_graph(loss, params=leaves, show_grad=True).render(out / "backprop_by_hand_graph", format="svg",
                                                                   cleanup=True)
        written.append(out / "backprop_by_hand_graph.svg")
    return written


def save_plot(histories: dict[str, dict[str, list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_diff) = plt.subplots(1, 2, figsize=(8, 3.5))
    floor = 1e-19  # exact agreement (a difference of 0) is drawn on this line
    for label, h in histories.items():
        ax_loss.plot(h["loss"], label=label, lw=1.2)
        ax_diff.plot(np.maximum(h["difference"], floor), lw=0.8, label=label)
    ax_diff.axhline(TOLERANCE, color="k", ls=":", lw=1)
    ax_diff.text(0, TOLERANCE * 2, "1e-12 (the bar)", fontsize=7)
    ax_diff.text(0, floor * 2.5, "exactly 0 drawn at 1e-19", fontsize=7)
    ax_loss.set(xlabel="step", ylabel="loss", yscale="log", title="Training with hand-written gradients")
    ax_diff.set(xlabel="step", ylabel="max |hand - autograd|", yscale="log", ylim=(5e-20, 1e-10),
                title="Hand-written vs autograd, every step")
    ax_loss.legend(fontsize=7)
    small_fonts(ax_loss, ax_diff)
    save(fig, path)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="Backprop by hand vs autograd, on the decks' networks.")
    parser.add_argument("--quick", action="store_true", help="a few steps (what the tests run)")
    parser.add_argument("--steps", type=int, default=None, help="training steps per network (default 3000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the figure and graph go")
    args = parser.parse_args(argv)
    steps = args.steps if args.steps is not None else (30 if args.quick else 3000)
    args.out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    problems = make_problems(args.seed)
    results: dict[str, float] = {}
    print("Gradients at the initial weights, per parameter (max |hand - autograd|):")
    for problem in problems:
        _, hand = problem.hand_gradients()
        _, auto = problem.autograd_gradients()
        cells = "  ".join(f"{k} {np.max(np.abs(hand[k] - auto[k])):.1e}" for k in hand)
        print(f"  {problem.label:28s} {cells}")

    graph_files = write_graph(problems[0], args.out)

    histories: dict[str, dict[str, list[float]]] = {}
    for problem, key in zip(problems, ("sigmoid_bce", "sigmoid_mse", "relu_mse")):
        h = histories[problem.label] = train(problem, steps)
        results[f"{key}_max_diff"] = float(max(h["difference"]))
        results[f"{key}_initial_loss"] = h["loss"][0]
        results[f"{key}_final_loss"] = h["loss"][-1]
        print(f"{problem.label:28s} loss {h['loss'][0]:.4f} -> {h['loss'][-1]:.6f} in {steps} steps; "
              f"max |hand - autograd| over all steps {results[f'{key}_max_diff']:.1e}")

    x, _ = xor_data()
    for problem in problems[:2]:
        pred = problem.forward(problem.params, x)[0][:, 0]
        print(f"  {problem.label}: XOR predictions {np.array2string(pred, precision=3)} (targets [0 1 1 0])")

    results["max_abs_diff"] = max(v for k, v in results.items() if k.endswith("_max_diff"))
    plot = args.out / "backprop_by_hand.png"
    save_plot(histories, plot)
    print(f"hand-written vs autograd gradients: max difference {results['max_abs_diff']:.1e} "
          f"(reference: under {TOLERANCE:.0e} in float64)")
    print(f"saved {plot} and {', '.join(str(p) for p in graph_files)} ({time.perf_counter() - t0:.1f}s)")
    return results


if __name__ == "__main__":
    main()
