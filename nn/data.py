"""Datasets and batching: `TensorDataset`, `Subset`, `random_split`, `DataLoader`, `DistributedSampler`.

Batches are tuples of `Tensor`s stacked along a new first axis. When the dataset
can fetch many samples at once (`TensorDataset`, or a `Subset` of one), a batch is
one fancy-indexing operation per array, with no per-sample Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from autograd_core import Tensor

from . import _checks


class Dataset:
    """Map-style dataset: `__getitem__(i)` and `__len__`."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are rows of the given arrays (Tensors or array-likes, equal first dimension)."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one array")
        for t in tensors:
            _checks.reject_sparse("TensorDataset", t)
        arrays = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        lengths = [a.shape[0] if a.ndim else None for a in arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [a.shape for a in arrays]
            raise ValueError(f"TensorDataset: all arrays need the same first dimension, got shapes {shapes}")
        self.arrays: tuple[np.ndarray, ...] = tuple(arrays)

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(Tensor(a) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor(a[index]) for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """All samples at `indices` at once, stacked."""
        return tuple(Tensor(a[indices]) for a in self.arrays)


class Subset(Dataset):
    """The samples of `dataset` at `indices`."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> Any:
        return _fetch(self.dataset, self.indices[indices])


def _stack(samples: list[Any]) -> Any:
    """Collate samples: tuples stack field by field; arrays, Tensors and numbers stack along axis 0."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(_stack([s[i] for s in samples]) for i in range(len(first)))
    _checks.reject_sparse("DataLoader (collating a batch)", first)
    return Tensor(np.stack([s.data if isinstance(s, Tensor) else np.asarray(s) for s in samples]))


def _fetch(dataset: Dataset, indices: np.ndarray) -> Any:
    if hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    return _stack([dataset[int(i)] for i in indices])


def _rng(seed: int | None, generator: np.random.Generator | None) -> np.random.Generator:
    if generator is not None and seed is not None:
        raise ValueError("give either seed or generator, not both")
    return generator if generator is not None else np.random.default_rng(seed)


class DistributedSampler:
    """The share of `dataset`'s indices that one of `num_replicas` processes reads, as PyTorch's.

    `num_replicas` and `rank` default to `nn.distributed.get_world_size()` and
    `get_rank()` (1 and 0 without a process group). Without `drop_last`, the index list
    is padded by repeating indices from its start so that every rank gets
    `ceil(N / num_replicas)`; with `drop_last` its tail is dropped so that every rank
    gets `floor(N / num_replicas)`. With `shuffle=True` the list is a permutation drawn
    from `np.random.default_rng(seed + epoch)`, the same on every rank, and
    `set_epoch(epoch)` (call it before each epoch) gives a new one. Rank `r` takes
    `indices[r::num_replicas]`. Use it as `DataLoader(dataset, batch_size, sampler=sampler)`.
    (The shuffled orders differ from PyTorch's, which draws with `torch.randperm`; the
    unshuffled ones are equal.)
    """

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from . import distributed

            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if int(num_replicas) != num_replicas or num_replicas <= 0:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas}")
        if int(rank) != rank or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, expected 0 <= rank < {num_replicas}")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Shuffle with `seed + epoch` from now on: call before each epoch, on every rank."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch."""
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:
            pad = self.total_size - n  # repeat from the start, more than once if the dataset is tiny
            order = np.concatenate([order, np.resize(order, pad)]) if n else order
        return order[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class DataLoader:
    """Iterate over `dataset` in batches.

    `shuffle=True` draws a new permutation each epoch from `generator` (a
    `np.random.Generator`) or from a generator seeded with `seed`, so a seeded
    loader gives the same sequence of epochs every run. `drop_last` drops a final
    short batch. `sampler` (a `DistributedSampler`, or any iterable of indices with
    `__len__`) gives the order instead; it excludes `shuffle=True`, as in PyTorch.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
        sampler: Any = None,
    ) -> None:
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if int(batch_size) != batch_size or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size}")
        _checks.reject_sparse("DataLoader", dataset)  # wrap the dense array in a TensorDataset instead
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = _rng(seed, generator)
        self.sampler = sampler

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        if self.sampler is not None:
            order = self.sampler.indices() if hasattr(self.sampler, "indices") else list(self.sampler)
            order = np.asarray(order, dtype=np.int64)
        else:
            n = len(self.dataset)
            order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            yield _fetch(self.dataset, order[b * self.batch_size : (b + 1) * self.batch_size])


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    seed: int | None = None,
    generator: np.random.Generator | None = None,
) -> list[Subset]:
    """Split into non-overlapping random `Subset`s of the given lengths (or fractions summing to 1).

    Fractions are floored and the remainder is handed out one by one from the first
    subset on, as PyTorch does.
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths {lengths} must be non-negative integers summing to the dataset length {n} "
            f"(or fractions summing to 1)"
        )
    order = _rng(seed, generator).permutation(n)
    bounds = np.cumsum([0] + [int(x) for x in lengths])
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
