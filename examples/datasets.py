"""Datasets the examples generate or find locally; nothing is downloaded."""

from __future__ import annotations

import numpy as np


def mnist1d(seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-1D with the `mnist1d` package's default arguments: 4,000 train / 1,000 test, length 40.

    Returns `(x_train, y_train, x_test, y_test)` with float32 inputs and int64 labels.
    `seed` is the generator's seed (the package's default is 42, the published dataset).
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise ImportError("MNIST-1D needs the mnist1d package: pip install -e '.[examples]'") from None
    args = get_dataset_args()
    args.seed = seed
    data = make_dataset(args)
    return (
        data["x"].astype(np.float32),
        data["y"].astype(np.int64),
        data["x_test"].astype(np.float32),
        data["y_test"].astype(np.int64),
    )


def digits(test_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 handwritten digits as (N, 1, 8, 8) float32 in [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]
