"""Datasets that need no download: each `load_*()` returns `(x_train, y_train), (x_test, y_test)`.

- `load_digits()`: scikit-learn's bundled 8x8 handwritten digits (the `examples` extra).
- `load_mnist1d()`: MNIST-1D generated on this machine by the `mnist1d` package.
- `load_sentiment()`: short English sentences labelled positive/negative, shipped here.

Inputs are float32 (images scaled to [0, 1]), labels int64; splits are deterministic.
"""

from __future__ import annotations

import numpy as np

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _need(package: str, extra: str = "examples") -> None:
    raise ImportError(f"this dataset needs the {package} package: pip install \"autograd-core[{extra}]\"")


def load_digits(test_fraction: float = 0.25, seed: int = 0, flatten: bool = False) -> Split:
    """The 1,797 8x8 digits as (N, 1, 8, 8) float32 in [0, 1] (or (N, 64) with `flatten`).

    A seeded permutation puts `test_fraction` of the images in the test split.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_digits: test_fraction must be in (0, 1), got {test_fraction}")
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        _need("scikit-learn")
    bunch = sklearn_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]
    if flatten:
        x = x.reshape(len(x), -1)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


def load_mnist1d(seed: int = 42) -> Split:
    """MNIST-1D with the `mnist1d` package's default arguments: 4,000 train / 1,000 test, length 40.

    `seed` is the generator's seed (the package's default, 42, gives the published dataset).
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        _need("mnist1d")
    args = get_dataset_args()
    args.seed = seed
    data = make_dataset(args)
    return (
        (data["x"].astype(np.float32), data["y"].astype(np.int64)),
        (data["x_test"].astype(np.float32), data["y_test"].astype(np.int64)),
    )
