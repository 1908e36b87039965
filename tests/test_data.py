"""TensorDataset, DataLoader (batching, shuffling, drop_last, fast path), Subset, random_split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_core import Tensor
from nn.data import DataLoader, Dataset, Subset, TensorDataset, random_split


def xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


def test_tensor_dataset_items_and_errors():
    x, y = xy()
    ds = TensorDataset(Tensor(x), y)
    assert len(ds) == 10
    xi, yi = ds[4]
    assert isinstance(xi, Tensor) and xi.dtype == np.float32
    np.testing.assert_array_equal(xi.data, x[4])
    assert yi.item() == 4
    with pytest.raises(ValueError, match=r"same first dimension.*\(10, 3\).*\(9,\)"):
        TensorDataset(x, y[:9])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), bs=st.integers(1, 12), drop_last=st.booleans(), shuffle=st.booleans())
def test_loader_covers_dataset_once_per_epoch(n, bs, drop_last, shuffle):
    x, y = xy(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=bs, shuffle=shuffle, drop_last=drop_last, seed=3)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // bs if drop_last else -(-n // bs))
    seen = np.concatenate([yb.data for _, yb in batches]) if batches else np.array([], np.int64)
    assert all(xb.shape[0] == bs for xb, _ in batches[:-1])
    if drop_last:
        assert all(xb.shape[0] == bs for xb, _ in batches)
        assert len(set(seen.tolist())) == len(seen) == (n // bs) * bs
    else:
        assert sorted(seen.tolist()) == list(range(n))
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(len(seen)))
    for xb, yb in batches:  # rows stay paired with their labels
        np.testing.assert_array_equal(xb.data, x[yb.data])
        assert xb.dtype == np.float32 and yb.dtype == np.int64


def test_shuffle_is_seeded_and_differs_between_epochs():
    x, y = xy(50)

    def epochs(loader, k=2):
        return [np.concatenate([yb.data for _, yb in loader]) for _ in range(k)]

    a = epochs(DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=7))
    b = epochs(DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=7))
    c = epochs(DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], c[0])
    gen = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(epochs(gen, 1)[0], a[0])


class ListDataset(Dataset):
    """A generic map-style dataset (no get_batch): the loader stacks samples one by one."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i


def test_generic_dataset_is_collated():
    batches = list(DataLoader(ListDataset(5), batch_size=2))
    xb, yb = batches[-1]
    assert isinstance(xb, Tensor) and xb.shape == (1, 2) and xb.dtype == np.float32
    np.testing.assert_array_equal(batches[0][1].data, [0, 1])


def test_tensor_dataset_fast_path_does_not_index_per_sample():
    class Counting(TensorDataset):
        def __getitem__(self, index):
            raise AssertionError("per-sample __getitem__ used")

    x, y = xy(20)
    assert sum(xb.shape[0] for xb, _ in DataLoader(Counting(x, y), batch_size=6, shuffle=True, seed=0)) == 20
    sub = Subset(Counting(x, y), [3, 5, 7])
    ((xb, yb),) = DataLoader(sub, batch_size=3)
    np.testing.assert_array_equal(yb.data, [3, 5, 7])


def test_random_split():
    x, y = xy(10)
    a, b = random_split(TensorDataset(x, y), [7, 3], seed=0)
    assert len(a) == 7 and len(b) == 3
    ids = sorted(a.indices.tolist() + b.indices.tolist())
    assert ids == list(range(10))
    a2, _ = random_split(TensorDataset(x, y), [7, 3], seed=0)
    np.testing.assert_array_equal(a.indices, a2.indices)
    assert a[0][1].item() == a.indices[0]
    f1, f2, f3 = random_split(TensorDataset(x, y), [0.5, 0.3, 0.2], seed=1)
    assert (len(f1), len(f2), len(f3)) == (5, 3, 2)
    with pytest.raises(ValueError, match="summing to the dataset length 10"):
        random_split(TensorDataset(x, y), [5, 4])


def test_loader_errors():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(*xy()), batch_size=0)
    with pytest.raises(ValueError, match="seed or generator"):
        DataLoader(TensorDataset(*xy()), seed=1, generator=np.random.default_rng(1))
