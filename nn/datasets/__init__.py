"""Datasets that need no download: each `load_*()` returns `(x_train, y_train), (x_test, y_test)`.

- `load_digits()`: scikit-learn's bundled 8x8 handwritten digits (the `examples` extra).
- `load_mnist1d()`: MNIST-1D generated on this machine by the `mnist1d` package.
- `load_sentiment()`: short English sentences labelled positive/negative, shipped here.

Inputs are float32 (images scaled to [0, 1]) or, for `load_sentiment`, Python strings; labels
are int64; splits are deterministic.
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


def load_sentiment(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Short English sentences (object arrays of str) with int64 labels, 1 positive and 0 negative.

    1,320 sentences of 3 to 20 words written for this project and shipped with it
    (`nn/datasets/sentiment.tsv`), 660 of each class, on everyday topics, with negations
    on both sides ("not bad at all", "I did not enjoy it"). The split is stratified: a
    seeded permutation of each class puts `test_fraction` of it (rounded) in the test
    split, so both splits stay balanced; each split is then shuffled (same seed) so the
    classes are interleaved.
    """
    from .sentiment import read_sentences

    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float, np.number)):
        raise ValueError(f"load_sentiment: test_fraction must be a number in (0, 1), got {test_fraction!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_sentiment: test_fraction must be a number in (0, 1), got {test_fraction!r}")
    sentences, labels = read_sentences()
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(len(members) * test_fraction))
        if n_test == 0 or n_test == len(members):
            raise ValueError(
                f"load_sentiment: test_fraction={test_fraction} of {len(members)} sentences per class "
                f"leaves an empty split"
            )
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    return (sentences[train], labels[train]), (sentences[test], labels[test])
