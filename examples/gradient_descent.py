"""Gradient descent, the learning rate, and six optimizers on the Rosenbrock valley.

    python -m examples.gradient_descent            # full run, a few seconds
    python -m examples.gradient_descent --quick    # fewer steps (what the tests run)

What it teaches, in three parts:

1. Plain gradient descent on f(x) = x^2 + 5 and f(x) = x^2 + 2x + 1 with learning
   rates 0.01, 0.1 and 0.5. The gradient comes from autograd: x is a Tensor leaf that
   requires grad, `f(x).backward()` fills `x.grad`, `with ag.no_grad(): x -= lr * x.grad`
   changes x itself, and the gradient is dropped before the next step (backward
   accumulates). For f(x) = x^2 + bx + c one step is x <- x - lr (2x + b), so
   x_k - x* = (1 - 2 lr)^k (x_0 - x*) with x* = -b/2: the path is checked against this
   closed form. lr = 0.5 makes the factor 0, so it lands on the minimum in one step;
   any lr in (0, 1) converges and lr > 1 diverges.
2. This library's optimizers (SGD, SGD with momentum, Nesterov, RMSprop, Adam, AdamW)
   on the Rosenbrock function f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2),
   drawn over log-spaced contours, with each one's final distance to the minimum (1, 1).
   The valley is steep across and flat along, so plain SGD (whose lr the steep
   direction caps near 1e-3) crawls; momentum and Adam's per-coordinate scaling fix
   that. AdamW's decoupled weight decay pulls towards 0 every step, so it settles a
   little short of (1, 1): the decay changes the point it converges to.
3. Momentum written by hand, twice. The velocity has to survive from one step to the
   next. One of the decks' momentum snippets computes the new velocity into the loop
   variable, which only rebinds a local name: the stored velocities stay zero, and the
   update is plain SGD. Here the buggy form is run next to the correct one. The buggy
   path equals plain SGD's exactly. The correct one equals `nn.optim.SGD(momentum=0.9)`
   (PyTorch's v = m v + g, p -= lr v is the same update with the lr factored out).

It prints each number next to its reference (the closed form, the minimum (1, 1)) and
saves examples/output/gradient_descent.png.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn
from autograd_core import Tensor
from examples._figures import save

OUT = Path(__file__).resolve().parent / "output"
LEARNING_RATES = (0.01, 0.1, 0.5)

# name -> (f, b, x0): f(x) = x^2 + b x + c, started where the decks start it.
QUADRATICS: dict[str, tuple[Callable[[Tensor], Tensor], float, float]] = {
    "x^2 + 5": (lambda x: x**2 + 5, 0.0, 10.0),
    "x^2 + 2x + 1": (lambda x: x**2 + 2 * x + 1, 2.0, 3.0),
}

START = (-1.5, 2.0)
MINIMUM = np.array([1.0, 1.0])

# This library's optimizers, each with a learning rate that suits the valley.
OPTIMIZERS: dict[str, Callable[[list[Tensor]], nn.optim.Optimizer]] = {
    "SGD": lambda ps: nn.optim.SGD(ps, lr=1e-3),
    "SGD+momentum": lambda ps: nn.optim.SGD(ps, lr=1e-3, momentum=0.9),
    "Nesterov": lambda ps: nn.optim.SGD(ps, lr=1e-3, momentum=0.9, nesterov=True),
    "RMSprop": lambda ps: nn.optim.RMSprop(ps, lr=3e-3),
    "Adam": lambda ps: nn.optim.Adam(ps, lr=2e-2),
    "AdamW": lambda ps: nn.optim.AdamW(ps, lr=2e-2, weight_decay=1e-2),
}
MOMENTUM_LR, MOMENTUM = 1e-3, 0.9  # the hand-written momentum uses SGD+momentum's settings


# ----------------------------------------------------------------- 1. one variable
def descend_1d(f: Callable[[Tensor], Tensor], x0: float, lr: float, steps: int) -> np.ndarray:
    """Gradient descent with autograd's gradient; returns x_0, x_1, ..., x_steps."""
    x = Tensor(np.array(x0, dtype=np.float64), requires_grad=True)
    path = [float(x)]
    for _ in range(steps):
        f(x).backward()  # x.grad = f'(x)
        with ag.no_grad():
            x -= lr * x.grad  # changes x itself; x stays a leaf
        x.grad = None  # zero the gradient: backward accumulates into it
        path.append(float(x))
    return np.array(path)


def closed_form_1d(b: float, x0: float, lr: float, steps: int) -> np.ndarray:
    """x_k = x* + (1 - 2 lr)^k (x0 - x*) for f(x) = x^2 + b x + c, x* = -b/2."""
    x_star = -b / 2
    return x_star + (1 - 2 * lr) ** np.arange(steps + 1) * (x0 - x_star)


# ----------------------------------------------------------------- 2. optimizers
def rosenbrock(p: Tensor | np.ndarray) -> Tensor | np.ndarray:
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def run_optimizer(make: Callable[[list[Tensor]], nn.optim.Optimizer], steps: int) -> np.ndarray:
    """Minimize Rosenbrock from START with one of `nn.optim`'s optimizers; returns the (steps + 1, 2) path."""
    p = Tensor(np.array(START), requires_grad=True)
    optimizer = make([p])
    path = [p.data.copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        rosenbrock(p).backward()
        optimizer.step()
        path.append(p.data.copy())
    return np.array(path)


# ----------------------------------------------------------------- 3. momentum by hand
def momentum_step(params: list[Tensor], velocities: list[np.ndarray], lr: float, beta: float) -> None:
    """v <- beta v + lr g, stored back into `velocities`, then p <- p - v."""
    for i, p in enumerate(params):
        velocities[i] = beta * velocities[i] + lr * p.grad  # the list holds the new velocity
        with ag.no_grad():
            p -= velocities[i]


def momentum_step_lost_velocity(params: list[Tensor], velocities: list[np.ndarray], lr: float, beta: float) -> None:
    """The decks' bug, kept for the comparison: the new velocity only rebinds the loop variable."""
    for p, velocity in zip(params, velocities):
        velocity = beta * velocity + lr * p.grad  # a new local array; velocities[i] is still zeros
        with ag.no_grad():
            p -= velocity  # so this is p -= lr * g: plain SGD


def run_by_hand(step: Callable[..., None], steps: int, lr: float = MOMENTUM_LR, beta: float = MOMENTUM) -> np.ndarray:
    p = Tensor(np.array(START), requires_grad=True)
    velocities = [np.zeros_like(p.data)]
    path = [p.data.copy()]
    for _ in range(steps):
        rosenbrock(p).backward()
        step([p], velocities, lr, beta)
        p.grad = None
        path.append(p.data.copy())
    return np.array(path)


# ----------------------------------------------------------------- the figure
def save_figure(quad_paths: dict, opt_paths: dict[str, np.ndarray], bug_path: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(9, 3.5))
    colors = {lr: c for lr, c in zip(LEARNING_RATES, ("tab:blue", "tab:orange", "tab:green"))}
    for ax, (name, (f, _, _)) in zip(axes[:2], QUADRATICS.items()):
        for lr, xs in quad_paths[name].items():
            ax.plot(f(xs), "o-", ms=2.5, lw=1, color=colors[lr], label=f"lr={lr}")
        ax.set(title=f"f(x) = ${name.replace(' ', '')}$", xlabel="step", ylabel="f(x_k)")
        ax.legend(fontsize=7)

    ax = axes[2]
    gx, gy = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-1, 3, 200))
    z = rosenbrock(np.stack([gx, gy]))
    ax.contour(gx, gy, z, levels=np.logspace(-1, 3.5, 14), colors="0.6", linewidths=0.5)
    for name, pts in opt_paths.items():
        ax.plot(pts[:, 0], pts[:, 1], lw=1, label=f"{name} ({np.linalg.norm(pts[-1] - MINIMUM):.1e})")
    ax.plot(bug_path[:, 0], bug_path[:, 1], "k:", lw=1.5, label="decks' momentum (= SGD)")
    ax.plot(*START, "ks", ms=4)
    ax.plot(*MINIMUM, "r*", ms=9)
    ax.set(title=f"Rosenbrock, {len(bug_path) - 1} steps", xlabel="x", ylabel="y", xlim=(-2, 2), ylim=(-1, 3))
    ax.legend(fontsize=5.5, loc="upper right", title="distance to (1, 1)", title_fontsize=6, framealpha=0.9)
    save(fig, path)


# ----------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="Gradient descent with autograd, and optimizers on Rosenbrock.")
    parser.add_argument("--quick", action="store_true", help="fewer steps (seconds; what the tests run)")
    parser.add_argument("--steps-1d", type=int, default=None, help="steps on the quadratics (default 50, quick 20)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps on Rosenbrock (default 5000)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for gradient_descent.png")
    args = parser.parse_args(argv)
    steps_1d = args.steps_1d or (20 if args.quick else 50)
    steps = args.steps or (1000 if args.quick else 5000)
    results: dict[str, float] = {}

    print(f"1. gradient descent with autograd, {steps_1d} steps; "
          f"reference: the closed form x_k = x* + (1-2lr)^k (x0-x*)")
    quad_paths: dict[str, dict[float, np.ndarray]] = {}
    worst = 0.0
    for name, (f, b, x0) in QUADRATICS.items():
        quad_paths[name] = {}
        x_star = 0.0 - b / 2  # 0.0 - 0.0 is 0.0, where -0.0 / 2 would print as -0
        for lr in LEARNING_RATES:
            xs = descend_1d(f, x0, lr, steps_1d)
            quad_paths[name][lr] = xs
            worst = max(worst, float(np.max(np.abs(xs - closed_form_1d(b, x0, lr, steps_1d)))))
            fs = f(xs)
            results[f"{name} lr={lr} f_first"] = float(fs[0])
            results[f"{name} lr={lr} f_final"] = float(fs[-1])
            results[f"{name} lr={lr} x1_error"] = abs(float(xs[1]) - x_star)
            print(f"   f(x) = {name:13s} lr={lr:<5}  x0={x0:5.1f} -> x_{steps_1d}={xs[-1]: .6f}  "
                  f"f {fs[0]:8.3f} -> {fs[-1]:.6f}  (minimum f({x_star:g}) = {float(f(np.float64(x_star))):g})")
    results["closed_form_max_diff"] = worst
    print(f"   autograd paths vs closed form: max difference {worst:.2e}")
    for name, (_, b, _) in QUADRATICS.items():
        print(f"   lr=0.5 on {name}: x_1 = {quad_paths[name][0.5][1]:g}, the minimum x* = {0.0 - b / 2:g}, in one step")

    print(f"2. optimizers on Rosenbrock from {START}, {steps} steps; reference: minimum (1, 1), "
          f"start at distance {np.linalg.norm(np.array(START) - MINIMUM):.3f}")
    results["start_distance"] = float(np.linalg.norm(np.array(START) - MINIMUM))
    opt_paths = {name: run_optimizer(make, steps) for name, make in OPTIMIZERS.items()}
    for name, pts in opt_paths.items():
        d = float(np.linalg.norm(pts[-1] - MINIMUM))
        results[f"distance {name}"] = d
        print(f"   {name:13s} ends at ({pts[-1][0]:.6f}, {pts[-1][1]:.6f}), distance to (1, 1) {d:.2e}")

    print("3. momentum by hand: the velocity kept across steps vs the decks' lost velocity")
    good = run_by_hand(momentum_step, steps)
    bug = run_by_hand(momentum_step_lost_velocity, steps)
    results["momentum_vs_nn_sgd_momentum_max_diff"] = float(np.max(np.abs(good - opt_paths["SGD+momentum"])))
    results["lost_velocity_vs_sgd_max_diff"] = float(np.max(np.abs(bug - opt_paths["SGD"])))
    results["distance momentum by hand"] = float(np.linalg.norm(good[-1] - MINIMUM))
    results["distance lost velocity"] = float(np.linalg.norm(bug[-1] - MINIMUM))
    print(f"   velocity kept:  distance {results['distance momentum by hand']:.2e}; "
          f"max difference from nn.optim.SGD(momentum=0.9) {results['momentum_vs_nn_sgd_momentum_max_diff']:.1e}")
    print(f"   velocity lost:  distance {results['distance lost velocity']:.2e}; "
          f"max difference from plain SGD {results['lost_velocity_vs_sgd_max_diff']:.1e} "
          f"(the bug turns momentum into plain SGD)")

    args.out.mkdir(parents=True, exist_ok=True)
    figure = args.out / "gradient_descent.png"
    save_figure(quad_paths, opt_paths, bug, figure)
    print(f"saved {figure}")
    return results


if __name__ == "__main__":
    main()
