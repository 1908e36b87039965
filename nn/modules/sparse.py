"""`Embedding`: a trainable lookup table from integer ids to vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from .. import _checks, init
from ..functional.sparse import embedding
from ..module import Module, Parameter


class Embedding(Module):
    """`weight[ids]` with weight (num_embeddings, embedding_dim) ~ N(0, 1), as PyTorch.

    The `padding_idx` row starts at zero and receives no gradient.
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype: Any = None
    ) -> None:
        super().__init__()
        num_embeddings = _checks.size("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = _checks.size("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            padding_idx = _checks.size("Embedding", "padding_idx", padding_idx, minimum=-num_embeddings)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})"
                )
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        dtype = np.dtype(dtype or ag.get_default_dtype())
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Any) -> Tensor:
        return embedding(_checks.index_input(type(self).__name__, input), self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
