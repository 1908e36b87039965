"""A small CNN on scikit-learn's bundled 8x8 handwritten digits (1,797 images, nothing downloaded).

    python -m examples.digits_cnn
    python -m examples.digits_cnn --epochs 5 --seed 1

Conv(1->16, 3x3) + BatchNorm + ReLU, Conv(16->32, 3x3) + BatchNorm + ReLU, 2x2 max-pool,
dropout, Linear(512->10); Adam (lr 2e-3), batch 32, 15 epochs. Trains in about ten
seconds on one CPU core and prints the test accuracy on a held-out quarter of the images
next to the reference, 99%: the same network and schedule trained in PyTorch on the same
splits scores 98.4-99.6% (mean 99.0% over seeds 0-2; one test image is 0.22%), and
logistic regression on the raw pixels about 96%.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import autograd_core as ag
import nn
from nn.datasets import load_digits

REFERENCE = 0.99  # PyTorch, same network and splits, mean of seeds 0-2


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(32 * 4 * 4, 10),
    )


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()  # BatchNorm uses its running statistics, Dropout is off
    with ag.no_grad():
        pred = model(ag.Tensor(x)).data.argmax(axis=1)
    model.train()
    return float(np.mean(pred == y))


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description="Train a small CNN on the 8x8 digits.")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = load_digits(seed=args.seed)
    nn.manual_seed(args.seed)
    model = make_model()
    optimizer = nn.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        total = 0.0
        for i in range(0, len(order), 32):
            batch = order[i : i + 32]
            loss = loss_fn(model(ag.Tensor(x_train[batch])), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        if epoch % 5 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:2d}  train loss {total / len(order):.4f}  "
                  f"test accuracy {accuracy(model, x_test, y_test):.1%}")
    acc = accuracy(model, x_test, y_test)
    print(f"test accuracy {acc:.1%} (reference ~{REFERENCE:.0%}) on {len(y_test)} held-out digits, "
          f"trained in {time.perf_counter() - start:.1f}s")
    return acc


if __name__ == "__main__":
    main()
