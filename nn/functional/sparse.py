"""`embedding` (a differentiable table lookup) and `one_hot`."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core.ops.indexing import scatter_add
from autograd_core.tensor import as_tensor, make_result

from .. import _checks


def _indices(input: Any, n: int, where: str, what: str = "rows") -> np.ndarray:
    idx = _checks.index_input(where, input)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"{where}: index {bad} is out of range for {n} {what} (valid: 0 .. {n - 1})")
    return idx


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (num_embeddings, embedding_dim) picked by integer `input` of any shape.

    The result has shape `input.shape + (embedding_dim,)`. Repeated indices accumulate
    their gradients; the `padding_idx` row receives none, as in PyTorch.
    """
    w = as_tensor(weight)
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-d (num_embeddings, embedding_dim), got shape {w.shape}")
    idx = _indices(input, w.shape[0], "embedding")
    if padding_idx is not None:
        padding_idx = padding_idx + w.shape[0] if padding_idx < 0 else padding_idx
        keep = (idx != padding_idx)[..., None]

    def vjp(g: Any, y: Any, w: Any) -> Any:
        if padding_idx is not None:
            g = g * keep
        return scatter_add(g, w.shape, idx)

    return make_result(w.data[idx], "embedding", (w,), (vjp,))


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer class indices of any shape -> int64 one-hot of shape `shape + (num_classes,)` (no gradient).

    `num_classes=-1` uses max index + 1.
    """
    idx = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: class values must be integers, got dtype {idx.dtype}")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    _indices(idx, num_classes, "one_hot", "classes")
    return Tensor((idx[..., None] == np.arange(num_classes)).astype(np.int64))
