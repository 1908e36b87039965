"""`Dropout`: inverted dropout while training, the identity in eval mode."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor

from ..functional.dropout import dropout
from ..module import Module


class Dropout(Module):
    """Zero each element with probability `p` while training, scaling the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Any) -> Tensor:
        return dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
