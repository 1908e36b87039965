"""Batch normalisation: what it does to a hidden layer, and what it does for training.

    python -m examples.batchnorm            # about ten seconds
    python -m examples.batchnorm --quick    # 4 epochs: what the tests run

What it teaches, on the 8x8 digits (`nn.datasets.load_digits(flatten=True)`: 1,348
training and 449 test images of 64 pixels) and an 8-layer sigmoid MLP (width 64,
PyTorch's default initialisation), built twice: plain, and with `nn.BatchNorm1d`
between every hidden `Linear` and its sigmoid.

1. What the normalisation does. Take a hidden layer's pre-activations (the output of
   the 3rd Linear, the input of the 3rd BatchNorm1d). Each of the 64 features has its
   own mean and spread. In train mode, BatchNorm subtracts each feature's batch mean
   and divides by its batch standard deviation, so every feature of its output has
   mean 0 and std 1 over the batch. (The learnable scale `weight` and shift `bias`
   start at 1 and 0, so at initialisation the output is exactly that.)
2. Train mode vs eval mode. In train mode the layer also updates running averages of
   the means and variances (`running_mean`, `running_var`, momentum 0.1). In eval mode
   it normalises with those running statistics instead of the batch's:
   - A fresh layer (running mean 0, variance 1) changes nothing in eval mode. That is
     why a model must see training batches before its eval-mode outputs mean anything.
   - The running statistics are moving averages that start at mean 0, variance 1 and
     keep 0.9 of their old value per batch, so they need dozens of batches to forget
     that start. After 100 train-mode batches (no weight updates), eval mode
     normalises unseen test images to mean ~0 and std ~1 per feature: close, but not
     exact, because they are estimates from other images.
   - In train mode a sample's output depends on the other samples in its batch; in
     eval mode it does not. So predictions are made in eval mode (`model.eval()`).
3. What it does for training. Both networks are trained with the same SGD (momentum
   0.9, lr 0.05, batch 64), the same initial weights and the same batch order. Without
   BatchNorm, each sigmoid layer shrinks the spread of the signal about 8x (small
   weights, sigmoid' <= 0.25). By the 8th layer, every image gives nearly the same
   activations, and the gradient reaching the first layers is tiny (see
   `examples.vanishing_gradients`). The loss stays at ln 10 = 2.303, the loss of
   guessing the class frequencies. With BatchNorm, every layer's input is
   renormalised, and the same network learns within an epoch or two.

It prints the per-feature statistics, both networks' losses and accuracies next to
chance (10%, loss ln 10), and saves `examples/output/batchnorm.png`. The left panel
is each feature's mean and std before BatchNorm, after it in train mode, and after it
in eval mode on test images. The right panel is the loss curves.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn
from examples._figures import save

DEFAULT_OUT = Path(__file__).resolve().parent / "output"
CHANCE_LOSS = math.log(10)


def build(batchnorm: bool, depth: int = 8, width: int = 64, inputs: int = 64, classes: int = 10) -> nn.Sequential:
    """`depth` Linear layers with sigmoids between them; BatchNorm1d before each sigmoid if asked."""
    sizes = [inputs] + [width] * (depth - 1) + [classes]
    layers: list[nn.Module] = []
    for i in range(depth):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < depth - 1:
            if batchnorm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def forward_watching(model: nn.Sequential, x: np.ndarray, bn: nn.BatchNorm1d) -> tuple[np.ndarray, ...]:
    """(model output, input of `bn`, output of `bn`) as arrays, without recording a graph."""
    h = ag.Tensor(x)
    seen: dict[str, np.ndarray] = {}
    with ag.no_grad():
        for layer in model:
            if layer is bn:
                seen["in"] = h.numpy()
            h = layer(h)
            if layer is bn:
                seen["out"] = h.numpy()
    return h.numpy(), seen["in"], seen["out"]


def feature_stats(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and (population) standard deviation over the batch axis."""
    return z.mean(axis=0), z.std(axis=0)


def normalisation_demo(x_train: np.ndarray, x_test: np.ndarray, layer: int, seed: int, warmup_batches: int) -> dict:
    """Steps 1 and 2 of the docstring, on a freshly initialised BatchNorm network."""
    nn.manual_seed(seed)
    model = build(batchnorm=True)
    norms = [m for m in model if isinstance(m, nn.BatchNorm1d)]
    bn = norms[layer - 1]
    batch = x_train[:128]

    # 1. Train mode: each feature normalised with the batch's own mean and std.
    model.train()
    _, z, z_train = forward_watching(model, batch, bn)
    for m in norms:  # that pass updated the running statistics; start them afresh for step 2
        m.reset_running_stats()

    # 2a. Eval mode with untouched running statistics (mean 0, variance 1): nothing happens.
    model.eval()
    _, z_fresh_in, z_fresh = forward_watching(model, batch, bn)
    fresh_change = float(np.max(np.abs(z_fresh - z_fresh_in)))

    # 2b. Train-mode passes over training batches (no weight updates) fill the running statistics.
    # They are moving averages that start at (0, 1) and keep 0.9 of the old value per batch, so
    # it takes dozens of batches to forget that start: after 21 (one epoch) 11% of it remains.
    model.train()
    starts = range(0, len(x_train) - 63, 64)
    for i in range(warmup_batches):
        start = starts[i % len(starts)]
        forward_watching(model, x_train[start : start + 64], bn)
    model.eval()
    _, z_test, z_eval = forward_watching(model, x_test, bn)

    # 2c. Does a sample's output depend on its batchmates?
    other = np.concatenate([x_test[:1], x_test[64:127]])
    dependence = {}
    for mode in ("train", "eval"):
        model.train(mode == "train")
        a = forward_watching(model, x_test[:64], bn)[0][0]
        b = forward_watching(model, other, bn)[0][0]
        dependence[mode] = float(np.max(np.abs(a - b)))

    stats = {name: feature_stats(v) for name, v in
             [("before", z), ("train", z_train), ("test_before", z_test), ("eval", z_eval)]}
    return {"stats": stats, "fresh_change": fresh_change, "dependence": dependence, "bn": bn}


def train(batchnorm: bool, data: tuple, epochs: int, lr: float, seed: int) -> dict:
    """Train one network with `nn.fit`; per-epoch train/test losses and the final test accuracy."""
    (x_train, y_train), (x_test, y_test) = data
    nn.manual_seed(seed)
    model = build(batchnorm)
    optimizer = nn.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    history = nn.fit(model, loss_fn, optimizer, x_train, y_train, epochs=epochs, batch_size=64,
                     validation_data=(x_test, y_test), metrics=["accuracy"], seed=seed, verbose=0)
    h = history.history
    return {"loss": h["loss"], "val_loss": h["val_loss"], "val_accuracy": h["val_accuracy"][-1]}


def save_plot(demo: dict, runs: dict[str, dict], layer: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_s, ax_l) = plt.subplots(1, 2, figsize=(9, 3.5))
    stats = demo["stats"]
    for key, label, style in [("before", "before BatchNorm (a batch)", {"marker": "o", "color": "C0"}),
                              ("eval", "after, eval mode (running stats, test set)", {"marker": "^", "color": "C2"}),
                              ("train", "after, train mode (batch stats)",
                               {"marker": "s", "s": 40, "facecolors": "none", "edgecolors": "C1"})]:
        mean, std = stats[key]
        ax_s.scatter(mean, std, **{"s": 12, "alpha": 0.8, **style}, label=label)
    ax_s.axhline(1.0, color="gray", lw=0.5)
    ax_s.axvline(0.0, color="gray", lw=0.5)
    ax_s.set(xlabel="feature mean", ylabel="feature std (log scale)", yscale="log", ylim=(0.04, 3),
             title=f"Each feature of hidden layer {layer}'s pre-activations")
    ax_s.legend(fontsize=7, loc="upper right")

    for (name, run), color in zip(runs.items(), ["C0", "C3"]):
        epochs = np.arange(1, len(run["loss"]) + 1)
        ax_l.plot(epochs, run["loss"], color=color, label=f"{name}: train")
        ax_l.plot(epochs, run["val_loss"], color=color, ls="--", label=f"{name}: test")
    ax_l.axhline(CHANCE_LOSS, color="gray", ls=":", label="ln 10 (chance)")
    ax_l.set(xlabel="epoch", ylabel="cross-entropy", ylim=(0, 2.6), title="8-layer sigmoid MLP on digits, SGD")
    ax_l.legend(fontsize=7)
    for ax in (ax_s, ax_l):
        ax.title.set_fontsize(9)
    save(fig, path)


def _range(values: np.ndarray) -> str:
    return f"{values.min():+.3f} .. {values.max():+.3f}"


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="What BatchNorm1d does to activations and to training.")
    parser.add_argument("--quick", action="store_true", help="4 epochs (what the tests run)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 40; 4 with --quick)")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--layer", type=int, default=3, help="which hidden layer's BatchNorm to look at (1-7)")
    parser.add_argument("--warmup", type=int, default=100, help="train-mode batches that fill the running statistics")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the figure goes")
    args = parser.parse_args(argv)
    epochs = args.epochs or (4 if args.quick else 40)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    from nn.datasets import load_digits

    data = load_digits(flatten=True)
    (x_train, _), (x_test, _) = data
    results: dict[str, float] = {}

    demo = normalisation_demo(x_train, x_test, args.layer, args.seed, args.warmup)
    s = demo["stats"]
    print(f"Hidden layer {args.layer}'s pre-activations, per feature, before and after BatchNorm1d:")
    print(f"  before, batch of 128:         means {_range(s['before'][0])}, stds {_range(s['before'][1])}")
    print(f"  after, train mode (same batch): means {_range(s['train'][0])}, stds {_range(s['train'][1])}")
    print(f"  eval mode, fresh running statistics (mean 0, var 1): largest change {demo['fresh_change']:.1e}")
    print(f"  before, test set:             means {_range(s['test_before'][0])}, stds {_range(s['test_before'][1])}")
    print(f"  after, eval mode (running statistics from {args.warmup} training batches), test set: "
          f"means {_range(s['eval'][0])}, stds {_range(s['eval'][1])}")
    bn = demo["bn"]
    print(f"  running_mean vs the test set's means: largest gap "
          f"{np.max(np.abs(bn.running_mean.numpy() - s['test_before'][0])):.3f}")
    print(f"  a test image's logits change by {demo['dependence']['train']:.2e} in train mode "
          f"and {demo['dependence']['eval']:.1e} in eval mode when its 63 batchmates change")
    results.update({
        "before_mean_absmax": float(np.abs(s["before"][0]).max()),
        "before_std_min": float(s["before"][1].min()),
        "before_std_max": float(s["before"][1].max()),
        "train_mean_absmax": float(np.abs(s["train"][0]).max()),
        "train_std_maxdev": float(np.abs(s["train"][1] - 1).max()),
        "fresh_eval_change": demo["fresh_change"],
        "eval_mean_absmax": float(np.abs(s["eval"][0]).max()),
        "eval_std_maxdev": float(np.abs(s["eval"][1] - 1).max()),
        "batch_dependence_train": demo["dependence"]["train"],
        "batch_dependence_eval": demo["dependence"]["eval"],
    })

    print(f"\nTraining the 8-layer sigmoid MLP for {epochs} epochs (SGD, momentum 0.9, lr {args.lr}, batch 64):")
    runs = {}
    for name, batchnorm in [("without BatchNorm", False), ("with BatchNorm", True)]:
        run = runs[name] = train(batchnorm, data, epochs, args.lr, args.seed)
        key = "bn" if batchnorm else "plain"
        results[f"loss_first_{key}"] = run["loss"][0]
        results[f"loss_{key}"] = run["loss"][-1]
        results[f"test_loss_{key}"] = run["val_loss"][-1]
        results[f"test_accuracy_{key}"] = run["val_accuracy"]
        print(f"  {name:18s} train loss {run['loss'][0]:.3f} (epoch 1) -> {run['loss'][-1]:.3f}, "
              f"test loss {run['val_loss'][-1]:.3f}, test accuracy {run['val_accuracy']:.1%}")

    path = args.out / "batchnorm.png"
    save_plot(demo, runs, args.layer, path)
    print(f"\ntest accuracy: with BatchNorm {results['test_accuracy_bn']:.1%}, "
          f"without {results['test_accuracy_plain']:.1%} (reference: chance 10%, loss ln 10 = {CHANCE_LOSS:.3f}); "
          f"BatchNorm output in train mode: |mean| <= {results['train_mean_absmax']:.0e}, "
          f"|std - 1| <= {results['train_std_maxdev']:.0e} (reference: 0, 0)")
    print(f"saved {path} ({time.perf_counter() - t0:.1f}s)")
    return results


if __name__ == "__main__":
    main()
