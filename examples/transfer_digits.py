"""Transfer learning on the 8x8 digits: reuse a CNN trained on digits 0-4 to learn 5-9 from 50 images.

    python -m examples.transfer_digits             # 5 seeds, about 10 seconds
    python -m examples.transfer_digits --quick     # 3 seeds, shorter training: what the tests run
    python -m examples.transfer_digits --shots 5 --seeds 10 --out /tmp/plots

What it teaches: the transfer-learning recipe (save a trained network, load it into a
fresh one, freeze its body, put a new head on it, train only the head), how to check
that freezing really froze, and how to measure whether it paid off, with controls.

1. Pretrain a small CNN, body Conv2d(1, 16, 3) -> ReLU -> MaxPool2d(2) -> Conv2d(16, 32, 3)
   -> ReLU -> Flatten and a Linear(512, 5) head, on the training images of digits 0-4
   only (`nn.fit`), and save its `state_dict` with `nn.save` (a safetensors file in a
   temporary directory).
2. Transfer: build a fresh model, `load_state_dict(nn.load(path))`, freeze the body
   with `model.body.requires_grad_(False)` and put a NEW Linear(512, 5) head on it for
   digits 5-9 (PyTorch's `model.fc = nn.Linear(...)` recipe). Give the optimizer only
   the head's parameters and train on 10 images per class (50 in all, drawn with the
   seed). The script asserts that the frozen parameters are bit-for-bit unchanged
   afterwards, that they never received a gradient, and that the optimizer held
   exactly the head's parameters.
3. Controls, on the same 50 images with the same optimizer, learning rate, batch size
   and epochs: the same architecture trained from scratch (every layer learns), and
   the same frozen-body recipe with a body that keeps its RANDOM initial weights
   (does the pretraining carry anything?).

Every run is scored on all test images of digits 5-9 (a held-out quarter of the
data, seen by no model and not by the pretraining), averaged over several draws of
the 50 images. The curves in the plot (examples/output/transfer_digits.png) come
from passing those test images as `validation_data` to `nn.fit`: they only record
progress, nothing is selected with them. Reference: the same CNN trained from
scratch on ALL ~670 training images of digits 5-9 scores about 98%.

The result, measured, is a lesson too: here transfer does NOT beat training from
scratch. Over 6 data splits x 5 draws, the frozen pretrained body with a new head
scores 92.4% on average, the CNN trained from scratch 93.7% (transfer ahead in only
6 of the 30 draws), a frozen random body 91.7%. The pretrained features beat random ones only by
a point, and a linear head on them does worse than 1-nearest-neighbour on the raw
pixels of the same 50 images (about 94%): 8x8 digits are nearly separable from the
pixels, so 50 images are enough to learn a good network from scratch, and features
specialised on 0-4 drop part of what tells 5-9 apart. Transfer pays off when the
features are hard to learn from the new data: larger images, a pretraining task
that is broad (many classes, much data), and few examples of the new one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn
from examples._figures import save
from nn.datasets import load_digits

# This CNN trained from scratch on ALL ~670 training images of digits 5-9 (Adam 2e-3, batch 32, 20 epochs):
# 98.7%, 97.2%, 98.1% for seeds 0-2.
REFERENCE_FULL_DATA = 0.98


class DigitsCNN(nn.Module):
    """A convolutional body (features) and a linear head (classes), kept apart so the head can be swapped."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 4 x 4
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Flatten(),  # 512 features
        )
        self.head = nn.Linear(32 * 4 * 4, num_classes)

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return self.head(self.body(x))


def few_shot(x: np.ndarray, y: np.ndarray, shots: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`shots` random images of every class in `y`, in shuffled order."""
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in np.unique(y)])
    idx = rng.permutation(idx)
    return x[idx], y[idx]


def nearest_neighbour_accuracy(data: tuple[np.ndarray, ...]) -> float:
    """1-nearest-neighbour on the raw pixels of the same few images: how much there is left to learn."""
    from sklearn.neighbors import KNeighborsClassifier

    x_few, y_few, x_test, y_test = data
    knn = KNeighborsClassifier(n_neighbors=1).fit(x_few.reshape(len(x_few), -1), y_few)
    return float(knn.score(x_test.reshape(len(x_test), -1), y_test))


def count(params: list[nn.Parameter]) -> int:
    return int(sum(p.size for p in params))


def pretrain(x: np.ndarray, y: np.ndarray, epochs: int, seed: int, verbose: int) -> DigitsCNN:
    nn.manual_seed(seed)
    model = DigitsCNN(num_classes=5)
    optimizer = nn.optim.Adam(model.parameters(), lr=2e-3)
    nn.fit(model, nn.CrossEntropyLoss(), optimizer, x, y, epochs=epochs, batch_size=32, seed=seed, verbose=verbose)
    return model


def frozen_body_new_head(model: DigitsCNN, data: tuple[np.ndarray, ...], args: argparse.Namespace, seed: int) -> dict:
    """Freeze `model.body`, give it a new head for digits 5-9, train the head; check that only the head moved."""
    x_few, y_few, x_test, y_test = data
    model.body.requires_grad_(False)  # freeze the features
    nn.manual_seed(seed)
    model.head = nn.Linear(32 * 4 * 4, 5)  # a new, trainable head for digits 5-9
    optimizer = nn.optim.Adam(model.head.parameters(), lr=args.lr)

    # The optimizer holds exactly the head's parameters, and only they are trainable.
    given = [p for group in optimizer.param_groups for p in group["params"]]
    assert {id(p) for p in given} == {id(p) for p in model.head.parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in model.head.parameters()}
    frozen_before = {k: np.array(v.data, copy=True) for k, v in model.body.named_parameters()}

    history = nn.fit(model, nn.CrossEntropyLoss(), optimizer, x_few, y_few, epochs=args.finetune_epochs,
                     batch_size=args.batch_size, validation_data=(x_test, y_test), metrics=["accuracy"],
                     seed=seed, verbose=0)

    body_unchanged = all(np.array_equal(frozen_before[k], v.data) for k, v in model.body.named_parameters())
    no_body_grads = all(p.grad is None for p in model.body.parameters())
    assert body_unchanged and no_body_grads, "fine-tuning changed the frozen body"
    return {
        "curve": history.history["val_accuracy"],
        "accuracy": nn.evaluate(model, nn.CrossEntropyLoss(), x_test, y_test, metrics=["accuracy"])["accuracy"],
        "body_unchanged": body_unchanged and no_body_grads,
        "trainable": count(trainable),
        "frozen": count(list(model.body.parameters())),
    }


def transfer(checkpoint: Path, data: tuple[np.ndarray, ...], args: argparse.Namespace, seed: int) -> dict:
    """The recipe: a fresh model, the pretrained weights loaded into it, body frozen, new head trained."""
    model = DigitsCNN(num_classes=5)
    model.load_state_dict(nn.load(checkpoint))  # the whole pretrained network, head for 0-4 included
    return frozen_body_new_head(model, data, args, seed)


def random_body(data: tuple[np.ndarray, ...], args: argparse.Namespace, seed: int) -> dict:
    """The control: the same, but the frozen body keeps its random initial weights."""
    nn.manual_seed(10_000 + seed)
    return frozen_body_new_head(DigitsCNN(num_classes=5), data, args, seed)


def from_scratch(data: tuple[np.ndarray, ...], args: argparse.Namespace, seed: int) -> dict:
    x_few, y_few, x_test, y_test = data
    nn.manual_seed(seed)
    model = DigitsCNN(num_classes=5)
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    history = nn.fit(model, nn.CrossEntropyLoss(), optimizer, x_few, y_few, epochs=args.finetune_epochs,
                     batch_size=args.batch_size, validation_data=(x_test, y_test), metrics=["accuracy"],
                     seed=seed, verbose=0)
    return {
        "curve": history.history["val_accuracy"],
        "accuracy": nn.evaluate(model, nn.CrossEntropyLoss(), x_test, y_test, metrics=["accuracy"])["accuracy"],
    }


RUNS = {  # key: (label in the plot, color)
    "transfer": ("pretrained body (frozen), new head", "C0"),
    "scratch": ("whole CNN from scratch", "C1"),
    "random_body": ("random body (frozen), new head", "C7"),
}


def save_plot(results: dict[str, list[dict]], shots: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_curve, ax_bar) = plt.subplots(1, 2, figsize=(8, 3.5), gridspec_kw={"width_ratios": [3, 2]})
    means = []
    for key, (label, color) in RUNS.items():
        curves = np.array([r["curve"] for r in results[key]])
        epochs = np.arange(1, curves.shape[1] + 1)
        for c in curves:
            ax_curve.plot(epochs, c, color=color, alpha=0.15, linewidth=0.8)
        ax_curve.plot(epochs, curves.mean(axis=0), color=color, label=label)
        means.append(float(np.mean([r["accuracy"] for r in results[key]])))
    ax_curve.axhline(REFERENCE_FULL_DATA, linestyle=":", color="gray", label="from scratch on all ~670 images")
    ax_curve.set(xlabel="epoch", ylabel="test accuracy, digits 5-9", ylim=(0, 1.02),
                 title=f"{shots} training images per class, {len(results['transfer'])} seeds")
    ax_curve.legend(loc="lower right", fontsize=7)

    bars = ax_bar.bar(range(len(RUNS)), means, color=[color for _, color in RUNS.values()])
    for i, key in enumerate(RUNS):
        ax_bar.scatter([i] * len(results[key]), [r["accuracy"] for r in results[key]], color="k", s=8, zorder=3)
    ax_bar.bar_label(bars, labels=[f"{m:.1%}" for m in means], label_type="center", color="white", fontsize=9)
    ax_bar.set_xticks(range(len(RUNS)), ["transfer", "scratch", "random\nbody"])
    ax_bar.set(ylim=(0.5, 1.02), ylabel="final test accuracy", title="mean (dots: seeds)")
    save(fig, path)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="Transfer a CNN from digits 0-4 to digits 5-9 with 50 images.")
    parser.add_argument("--quick", action="store_true", help="a few seconds: shorter training, 3 seeds")
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="default 10 (3 with --quick)")
    parser.add_argument("--finetune-epochs", type=int, default=None, help="default 40 (20 with --quick)")
    parser.add_argument("--seeds", type=int, default=None, help="few-shot draws to average, default 5 (3 with --quick)")
    parser.add_argument("--shots", type=int, default=10, help="training images per new class (default 10)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate for every new-task run")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="data split and pretraining; draw i uses seed + i")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output", help="where the PNG goes")
    args = parser.parse_args(argv)
    pretrain_epochs = args.pretrain_epochs if args.pretrain_epochs is not None else (3 if args.quick else 10)
    args.finetune_epochs = args.finetune_epochs if args.finetune_epochs is not None else (20 if args.quick else 40)
    seeds = args.seeds if args.seeds is not None else (3 if args.quick else 5)

    (x_train, y_train), (x_test, y_test) = load_digits(test_fraction=0.25, seed=args.seed)
    old_train, old_test = y_train < 5, y_test < 5
    x_new_train, y_new_train = x_train[~old_train], y_train[~old_train] - 5  # digits 5-9 become classes 0-4
    x_new_test, y_new_test = x_test[~old_test], y_test[~old_test] - 5

    start = time.perf_counter()
    print(f"1. pretraining on the {old_train.sum()} training images of digits 0-4 ({pretrain_epochs} epochs)")
    pretrained = pretrain(x_train[old_train], y_train[old_train], pretrain_epochs, args.seed, 0 if args.quick else 1)
    old = nn.evaluate(pretrained, nn.CrossEntropyLoss(), x_test[old_test], y_test[old_test], metrics=["accuracy"])
    print(f"   test accuracy on digits 0-4: {old['accuracy']:.1%}")

    results: dict[str, list[dict]] = {key: [] for key in RUNS}
    pixels_1nn: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "digits_0to4.safetensors"
        nn.save(pretrained.state_dict(), checkpoint)
        print(f"   saved with nn.save: {checkpoint.name}, {checkpoint.stat().st_size / 1024:.0f} KB, "
              f"keys {list(pretrained.state_dict())}")
        print(f"2-3. {seeds} draws of {args.shots} training images per digit 5-9 "
              f"({args.finetune_epochs} epochs, Adam lr {args.lr}, batch {args.batch_size} for every run)")
        for i in range(seeds):
            seed = args.seed + i
            x_few, y_few = few_shot(x_new_train, y_new_train, args.shots, np.random.default_rng(seed))
            data = (x_few, y_few, x_new_test, y_new_test)
            results["transfer"].append(transfer(checkpoint, data, args, seed))
            results["scratch"].append(from_scratch(data, args, seed))
            results["random_body"].append(random_body(data, args, seed))
            pixels_1nn.append(nearest_neighbour_accuracy(data))
            print(f"   seed {seed}: " + ", ".join(f"{k} {v[-1]['accuracy']:.1%}" for k, v in results.items()))

    frozen_ok = all(r["body_unchanged"] for key in ("transfer", "random_body") for r in results[key])
    t = results["transfer"][0]
    print(f"   frozen bodies unchanged and without gradients in every run: {frozen_ok}; optimizer given only the head "
          f"({t['trainable']} trained parameters, {t['frozen']} frozen)")
    acc = {key: [r["accuracy"] for r in runs] for key, runs in results.items()}
    mean = {key: float(np.mean(v)) for key, v in acc.items()}
    margins = np.array(acc["transfer"]) - np.array(acc["scratch"])
    print(f"test accuracy on the {len(y_new_test)} test images of digits 5-9, mean of {seeds} draws of "
          f"{len(y_few)} training images: transfer {mean['transfer']:.1%}, from scratch {mean['scratch']:.1%} "
          f"(transfer ahead in {int(np.sum(margins > 0))}/{seeds}), random frozen body {mean['random_body']:.1%}, "
          f"1-nearest-neighbour on raw pixels {np.mean(pixels_1nn):.1%}; "
          f"reference: ~{REFERENCE_FULL_DATA:.0%} from scratch on all {len(y_new_train)} training images "
          f"[{time.perf_counter() - start:.1f}s]")

    args.out.mkdir(parents=True, exist_ok=True)
    plot = args.out / "transfer_digits.png"
    save_plot(results, args.shots, plot)
    print(f"saved {plot}")
    return {
        "transfer_accuracy": mean["transfer"],
        "scratch_accuracy": mean["scratch"],
        "random_body_accuracy": mean["random_body"],
        "pixels_1nn_accuracy": float(np.mean(pixels_1nn)),
        "margin": float(np.mean(margins)),
        "transfer_wins": float(np.sum(margins > 0)),
        "pretrain_accuracy_0to4": old["accuracy"],
        "body_unchanged": float(frozen_ok),
        "seeds": float(seeds),
    }


if __name__ == "__main__":
    main()
