"""Activation functions and their derivatives, and three losses worked by hand.

    python -m examples.activations            # a few seconds
    python -m examples.activations --quick    # a coarser grid, for the tests

What it teaches:

1. The common activations (sigmoid, tanh, ReLU, LeakyReLU, ELU, GELU, SiLU), taken
   from `nn` as PyTorch names them, and their derivatives. Autograd computes every
   derivative on a whole grid at once: each activation acts elementwise, so one
   backward from the sum of all outputs gives f'(x) at every grid point. The script
   checks these against the closed forms (sigmoid' = s (1 - s), tanh' = 1 - tanh^2,
   GELU' = Phi(x) + x phi(x), ...) and prints the largest error of each. It plots
   the functions and derivatives side by side as `activations.png`. The derivative
   panel shows why deep sigmoid networks learn slowly: sigmoid' never exceeds 0.25,
   so a gradient shrinks by at least 4x through every sigmoid layer.
2. Mean squared error, binary cross-entropy and categorical cross-entropy on small
   numbers, computed by hand from their formulas and printed next to the library's
   values (`nn.functional.mse_loss`, `binary_cross_entropy`, `cross_entropy`). Their
   gradients, by hand, are next to autograd's: 2 (p - y) / n for MSE;
   (p - y) / (p (1 - p) n) for BCE; softmax(z) - onehot(y) for cross-entropy on logits z.
   `cross_entropy` takes logits (unnormalised scores), as PyTorch's does. A vector of
   probabilities p is the softmax of log p, so the slides' "-sum y log p" is
   `cross_entropy(log p, class)`.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core import Tensor
from examples._figures import save, small_fonts

DEFAULT_OUT = Path(__file__).resolve().parent / "output"
TOLERANCE = 1e-12
LEAKY_SLOPE, ELU_ALPHA = 0.1, 1.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(x / 2))  # the same function, with no overflow for large |x|


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def activations() -> dict[str, Callable]:
    """The activations as nn modules (the layers a model would use)."""
    return {
        "sigmoid": nn.Sigmoid(),
        "tanh": nn.Tanh(),
        "ReLU": nn.ReLU(),
        f"LeakyReLU({LEAKY_SLOPE})": nn.LeakyReLU(LEAKY_SLOPE),
        "ELU": nn.ELU(ELU_ALPHA),
        "GELU": nn.GELU(),
        "SiLU": nn.SiLU(),
    }


# The derivatives from calculus, written with plain NumPy (and math.erf), independent of the library.
CLOSED_FORMS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "sigmoid": ("s(x) (1 - s(x))", lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    "tanh": ("1 - tanh(x)^2", lambda x: 1 - np.tanh(x) ** 2),
    "ReLU": ("[x > 0]", lambda x: (x > 0).astype(x.dtype)),
    f"LeakyReLU({LEAKY_SLOPE})": (f"1 if x > 0 else {LEAKY_SLOPE}", lambda x: np.where(x > 0, 1.0, LEAKY_SLOPE)),
    "ELU": ("1 if x > 0 else alpha e^x", lambda x: np.where(x > 0, 1.0, ELU_ALPHA * np.exp(np.minimum(x, 0)))),
    "GELU": ("Phi(x) + x phi(x)", lambda x: _normal_cdf(x) + x * _normal_pdf(x)),
    "SiLU": ("s(x) (1 + x (1 - s(x)))", lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
}


def derivatives_on_grid(grid: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every activation's values and autograd derivative on `grid`, from a single backward pass."""
    acts = activations()
    x = Tensor(np.tile(grid, (len(acts), 1)), requires_grad=True)  # row k feeds activation k
    y = ag.stack([act(x[k]) for k, act in enumerate(acts.values())])
    y.sum().backward()  # elementwise functions: d(sum of outputs)/dx[k, i] = f_k'(x[k, i])
    values = {name: y.data[k] for k, name in enumerate(acts)}
    slopes = {name: x.grad[k] for k, name in enumerate(acts)}
    return values, slopes


# ----------------------------------------------------------------- losses on worked examples
def worked_losses() -> dict[str, float]:
    """MSE, BCE and cross-entropy: the formula by hand next to nn.functional, values and gradients."""
    r: dict[str, float] = {}
    y = np.array([1.0, 0.0, 1.0])
    p_values = np.array([0.9, 0.2, 0.6])
    n = 3
    print("Worked losses: y = [1, 0, 1], p = [0.9, 0.2, 0.6]")

    # Mean squared error: ((0.9 - 1)^2 + (0.2 - 0)^2 + (0.6 - 1)^2) / 3
    hand = ((0.9 - 1) ** 2 + (0.2 - 0) ** 2 + (0.6 - 1) ** 2) / 3
    hand_grad = 2 * (p_values - y) / n
    p = Tensor(p_values, requires_grad=True)
    lib = F.mse_loss(p, y)
    lib.backward()
    r.update(mse_hand=hand, mse=lib.item(), mse_grad_diff=float(np.max(np.abs(p.grad - hand_grad))))
    print(f"  MSE  by hand (0.1^2 + 0.2^2 + 0.4^2) / 3 = {hand:.6f}   nn.functional.mse_loss = {lib.item():.6f}")
    print(f"       dL/dp by hand 2 (p - y) / 3 = {_fmt(hand_grad)}   autograd = {_fmt(p.grad)}")

    # Binary cross-entropy: -(log 0.9 + log(1 - 0.2) + log 0.6) / 3
    hand = -(math.log(0.9) + math.log(1 - 0.2) + math.log(0.6)) / 3
    hand_grad = (p_values - y) / (p_values * (1 - p_values) * n)
    p = Tensor(p_values, requires_grad=True)
    lib = F.binary_cross_entropy(p, y)
    lib.backward()
    r.update(bce_hand=hand, bce=lib.item(), bce_grad_diff=float(np.max(np.abs(p.grad - hand_grad))))
    print(f"  BCE  by hand -(ln 0.9 + ln 0.8 + ln 0.6) / 3 = {hand:.6f}   "
          f"nn.functional.binary_cross_entropy = {lib.item():.6f}")
    print(f"       dL/dp by hand (p - y) / (p (1 - p) 3) = {_fmt(hand_grad)}   autograd = {_fmt(p.grad)}")

    # Categorical cross-entropy on probabilities (deck 2): y = [1, 0, 0], p = [0.7, 0.2, 0.1]: -log 0.7
    probs = np.array([0.7, 0.2, 0.1])
    hand = -math.log(0.7)
    lib = F.cross_entropy(Tensor(np.log(probs)[None]), np.array([0]))  # logits log p: softmax gives p back
    r.update(ce_probs_hand=hand, ce_probs=lib.item())
    print("Categorical cross-entropy, one-hot y = [1, 0, 0]")
    print(f"  p = [0.7, 0.2, 0.1]: by hand -ln 0.7 = {hand:.6f}   "
          f"nn.functional.cross_entropy(log p, class 0) = {lib.item():.6f}")

    # On logits z = [2, 1, 0.1], class 0: -log softmax(z)[0] = log(e^2 + e^1 + e^0.1) - 2
    z_values = np.array([2.0, 1.0, 0.1])
    hand = math.log(math.exp(2.0) + math.exp(1.0) + math.exp(0.1)) - 2.0
    softmax = np.exp(z_values) / np.exp(z_values).sum()
    hand_grad = softmax - np.array([1.0, 0.0, 0.0])
    z = Tensor(z_values[None], requires_grad=True)
    lib = F.cross_entropy(z, np.array([0]))
    lib.backward()
    r.update(ce_hand=hand, ce=lib.item(), ce_grad_diff=float(np.max(np.abs(z.grad[0] - hand_grad))))
    print(f"  z = [2, 1, 0.1]: by hand ln(e^2 + e^1 + e^0.1) - 2 = {hand:.6f}   "
          f"nn.functional.cross_entropy = {lib.item():.6f}")
    print(f"       dL/dz by hand softmax(z) - onehot = {_fmt(hand_grad)}   autograd = {_fmt(z.grad[0])}")
    return r


def _fmt(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=4, suppress_small=True, floatmode="fixed")


def save_plot(grid: np.ndarray, values: dict[str, np.ndarray], slopes: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(8, 3.5))
    for name in values:
        ax_f.plot(grid, values[name], lw=1.2, label=name)
        ax_d.plot(grid, slopes[name], lw=1.2, label=name)
    ax_f.set(xlabel="x", ylabel="f(x)", title="Activations", ylim=(-1.5, 3))
    ax_d.set(xlabel="x", ylabel="f'(x) by autograd", title="Derivatives (one backward pass)", ylim=(-0.2, 1.2))
    ax_d.axhline(0.25, color="k", ls=":", lw=0.8)
    ax_d.text(grid[0], 0.28, "sigmoid' <= 0.25", fontsize=7)
    ax_f.legend(fontsize=7, loc="upper left")
    small_fonts(ax_f, ax_d, grid=True)
    save(fig, path)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="Activations and their derivatives; losses worked by hand.")
    parser.add_argument("--quick", action="store_true", help="a coarser grid (what the tests run)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the figure goes")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    # An even number of points on [-4, 4] never hits x = 0, where ReLU-like derivatives are a convention.
    grid = np.linspace(-4.0, 4.0, 200 if args.quick else 2000)
    values, slopes = derivatives_on_grid(grid)
    results: dict[str, float] = {}
    print(f"Derivatives by autograd on {grid.size} points in [-4, 4] vs the closed forms (max |error|):")
    for name, (formula, closed) in CLOSED_FORMS.items():
        error = float(np.max(np.abs(slopes[name] - closed(grid))))
        results[f"{name.split('(')[0].lower()}_derivative_error"] = error
        print(f"  {name:15s} f'(x) = {formula:26s} {error:.1e}")
    results["derivative_max_error"] = max(v for k, v in results.items() if k.endswith("_derivative_error"))
    results["sigmoid_derivative_peak"] = float(slopes["sigmoid"].max())
    print(f"  largest sigmoid'(x) on the grid: {results['sigmoid_derivative_peak']:.4f} (at most 0.25, at x = 0)\n")

    results.update(worked_losses())

    plot = args.out / "activations.png"
    save_plot(grid, values, slopes, plot)
    print(f"\nautograd derivatives vs closed forms: max error {results['derivative_max_error']:.1e} "
          f"(reference: under {TOLERANCE:.0e}); BCE {results['bce']:.6f} vs {results['bce_hand']:.6f} by hand")
    print(f"saved {plot} ({time.perf_counter() - t0:.1f}s)")
    return results


if __name__ == "__main__":
    main()
