"""Vanishing and exploding gradients, measured layer by layer in a 20-layer MLP.

    python -m examples.vanishing_gradients            # ten to twenty seconds
    python -m examples.vanishing_gradients --quick    # width 32, batch 64, 2 seeds: what the tests run

What it teaches: backpropagation multiplies the gradient by one factor per layer
(the activation's derivative times the next layer's weights), so over 20 layers
any per-layer factor away from 1 compounds into a huge or tiny number. The script
builds the same 20-layer MLP (width 64, 10 classes, standard-normal inputs,
random labels, cross-entropy) six ways. It runs one forward and one backward pass
on a batch, and reads the norm of every `nn.Linear` weight's `.grad`. Nothing is
trained: this is the gradient the first step of training would use.

- sigmoid, Xavier init: sigmoid' <= 0.25, so every layer shrinks the gradient about
  4x and layer 1 gets ~1e-12 of what layer 20 gets: the early layers cannot learn.
- tanh, Xavier init: tanh' <= 1 and is near 1 around 0; Glorot's init was designed
  for it, and the gradient reaches layer 1 at about the same size.
- ReLU, He (Kaiming) init: weights with variance 2/fan_in keep each layer's factor
  at 1 in expectation; the ratio is of order 1.
- ReLU + BatchNorm1d: every layer's pre-activations are renormalised, so the
  weights' scale stops mattering. Note that the ratio is not 1: at initialisation
  BatchNorm networks amplify gradients mildly toward the input (about 1.17x per
  layer here), a known effect (Yang et al., "A mean field theory of batch
  normalization", 2019). That is tame next to sigmoid's 0.25x.
- ReLU with N(0, 1) weights (`np.random.randn`, as in many first implementations):
  every layer multiplies the signal by c = 1 / He's std = 5.7. A ReLU network is
  positively homogeneous, so scaling all weights by c multiplies every layer's
  gradient by c^19 alike (~1e14). The first/last ratio hides this; the level of the
  whole curve shows it: these gradients explode.
- ReLU with N(0, 0.01^2) weights (the other classic): the biases now dominate the
  forward signal, so it stays alive, but the backward signal shrinks by
  0.01 / He's std = 0.057 per layer: the gradients vanish, even faster than sigmoid's.

It prints a table (first layer, last layer, first/last ratio, the geometric-mean
factor per layer) next to what theory predicts. It plots gradient norm against
layer index on a log scale, one line per setting, next to the forward signal's
size (RMS of each layer's pre-activations). The figure goes to
`examples/output/vanishing_gradients.png`. The model is float64 so that the
tiniest gradients (~1e-26) do not underflow.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn
from examples._figures import save

DEFAULT_OUT = Path(__file__).resolve().parent / "output"
DEPTH = 20  # Linear layers
CLASSES = 10
SIGMOID_DERIVATIVE_MAX = 0.25


def _xavier(weight: nn.Parameter) -> None:
    nn.init.xavier_normal_(weight)


def _he(weight: nn.Parameter) -> None:
    nn.init.kaiming_normal_(weight, nonlinearity="relu")


def _normal(std: float) -> Callable[[nn.Parameter], None]:
    def init(weight: nn.Parameter) -> None:
        nn.init.normal_(weight, 0.0, std)

    return init


# key: (label, activation, weight init, BatchNorm after each hidden Linear)
SETTINGS: dict[str, tuple[str, type[nn.Module], Callable[[nn.Parameter], None], bool]] = {
    "sigmoid": ("sigmoid, Xavier init", nn.Sigmoid, _xavier, False),
    "tanh": ("tanh, Xavier init", nn.Tanh, _xavier, False),
    "relu_he": ("ReLU, He init", nn.ReLU, _he, False),
    "relu_bn": ("ReLU + BatchNorm, He init", nn.ReLU, _he, True),
    "relu_std1": ("ReLU, N(0, 1) weights", nn.ReLU, _normal(1.0), False),
    "relu_std001": ("ReLU, N(0, 0.01²) weights", nn.ReLU, _normal(0.01), False),
}


def build(key: str, width: int) -> nn.Sequential:
    """DEPTH Linear layers (width -> width ... -> CLASSES), the setting's activation between them."""
    _, activation, init, batchnorm = SETTINGS[key]
    sizes = [width] * DEPTH + [CLASSES]
    layers: list[nn.Module] = []
    for i in range(DEPTH):
        linear = nn.Linear(sizes[i], sizes[i + 1], dtype=np.float64)
        init(linear.weight)  # biases keep nn.Linear's default (PyTorch's) initialisation
        layers.append(linear)
        if i < DEPTH - 1:
            if batchnorm:
                layers.append(nn.BatchNorm1d(width, dtype=np.float64))
            layers.append(activation())
    return nn.Sequential(*layers)


def measure(model: nn.Sequential, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One forward and backward pass: (norm of each Linear weight's grad, RMS of each Linear's output)."""
    h = ag.Tensor(x)
    rms = []
    for layer in model:
        h = layer(h)
        if isinstance(layer, nn.Linear):
            rms.append(float(np.sqrt(np.mean(h.data**2))))
    nn.CrossEntropyLoss()(h, y).backward()
    norms = [float(np.linalg.norm(m.weight.grad)) for m in model if isinstance(m, nn.Linear)]
    return np.array(norms), np.array(rms)


def run(key: str, width: int, batch: int, seeds: int) -> dict[str, np.ndarray]:
    """Geometric means over seeds of the per-layer gradient norms and forward RMS."""
    norms, rms = [], []
    for seed in range(seeds):
        nn.manual_seed(seed)
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch, width))
        y = rng.integers(0, CLASSES, batch)
        n, r = measure(build(key, width), x, y)
        norms.append(n)
        rms.append(r)
    return {"norms": np.exp(np.log(norms).mean(0)), "rms": np.exp(np.log(rms).mean(0))}


def save_plot(curves: dict[str, dict[str, np.ndarray]], width: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_g, ax_f) = plt.subplots(1, 2, figsize=(9, 3.5))
    layers = np.arange(1, DEPTH + 1)
    for key, c in curves.items():
        label = SETTINGS[key][0]
        ax_g.plot(layers, c["norms"], "o-", ms=3, label=label)
        ax_f.plot(layers, c["rms"], "o-", ms=3, label=label)
    ax_g.set(xlabel="layer (1 = input side)", ylabel="‖∂L/∂W‖ after one backward", yscale="log",
             title=f"Backward: gradient norm per layer ({DEPTH} layers × {width})")
    ax_f.set(xlabel="layer", ylabel="RMS of the layer's pre-activations", yscale="log",
             title="Forward: size of the signal")
    for ax in (ax_g, ax_f):
        ax.title.set_fontsize(9)
        ax.set_xticks([1, 5, 10, 15, 20])
        ax.grid(alpha=0.3, which="major")
    ax_f.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    save(fig, path)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="Per-layer gradient norms of a 20-layer MLP, six ways.")
    parser.add_argument("--quick", action="store_true", help="width 32, batch 64, 2 seeds (what the tests run)")
    parser.add_argument("--width", type=int, default=None, help="hidden width (default 64; 32 with --quick)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 256; 64 with --quick)")
    parser.add_argument("--seeds", type=int, default=None, help="models per setting (default 5; 2 with --quick)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the figure goes")
    args = parser.parse_args(argv)
    width = args.width or (32 if args.quick else 64)
    batch = args.batch or (64 if args.quick else 256)
    seeds = args.seeds or (2 if args.quick else 5)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    curves = {key: run(key, width, batch, seeds) for key in SETTINGS}
    he_std = np.sqrt(2.0 / width)
    predicted = {  # the factor per layer that theory expects
        "sigmoid": f"<= {SIGMOID_DERIVATIVE_MAX} (max of sigmoid')",
        "tanh": "<= 1 (max of tanh')",
        "relu_he": "1 (He init)",
        "relu_bn": "~1 (normalised)",
        "relu_std1": "1, but every layer x c^19",
        "relu_std001": f"{0.01 / he_std:.3f} (0.01 / He's std)",
    }
    results: dict[str, float] = {}
    print(f"Norm of each Linear weight's gradient after one backward pass "
          f"({DEPTH} layers, width {width}, batch {batch}, geometric mean of {seeds} seeds):")
    print(f"  {'setting':27s} {'layer 1':>9s} {'layer 20':>9s} {'first/last':>10s} {'per layer':>9s}  theory per layer")
    for key, c in curves.items():
        ratio = float(c["norms"][0] / c["norms"][-1])
        factor = ratio ** (1 / (DEPTH - 1))
        results[f"ratio_{key}"] = ratio
        results[f"factor_{key}"] = factor
        results[f"first_{key}"], results[f"last_{key}"] = float(c["norms"][0]), float(c["norms"][-1])
        print(f"  {SETTINGS[key][0]:27s} {c['norms'][0]:9.1e} {c['norms'][-1]:9.1e} {ratio:10.1e} {factor:9.3f}  "
              f"{predicted[key]}")

    # Exploding: the whole curve sits c^19 higher than He's, c = 1 / He's std.
    level = float(np.exp(np.mean(np.log(curves["relu_std1"]["norms"] / curves["relu_he"]["norms"]))))
    results["level_relu_std1_over_he"] = level
    results["theory_sigmoid_bound"] = SIGMOID_DERIVATIVE_MAX ** (DEPTH - 1)
    results["theory_relu_std1_level"] = float((1.0 / he_std) ** (DEPTH - 1))
    print(f"\nExploding: with N(0, 1) weights every layer's gradient is {level:.1e}x He's "
          f"(theory: c^19 = (1 / {he_std:.3f})^19 = {results['theory_relu_std1_level']:.1e}); "
          f"the ratio alone ({results['ratio_relu_std1']:.2f}) does not show it.")

    path = args.out / "vanishing_gradients.png"
    save_plot(curves, width, path)
    print(f"\nfirst/last gradient-norm ratio: sigmoid {results['ratio_sigmoid']:.1e} "
          f"(reference: sigmoid' <= 0.25, so at most 0.25^19 = {results['theory_sigmoid_bound']:.1e} from the "
          f"derivatives), ReLU + He {results['ratio_relu_he']:.2f} and ReLU + BatchNorm {results['ratio_relu_bn']:.1f} "
          f"(reference: order 1)")
    print(f"saved {path} ({time.perf_counter() - t0:.1f}s)")
    return results


if __name__ == "__main__":
    main()
