"""`Dropout`: inverted dropout while training, the identity in eval mode."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor

from .. import _checks
from ..functional.dropout import dropout
from ..module import Module


class Dropout(Module):
    """Zero each element with probability `p` while training, scaling the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = _checks.number(type(self).__name__, "dropout probability", p, low=0.0, high=1.0)
        self.inplace = inplace

    def forward(self, input: Any) -> Tensor:
        return dropout(_checks.layer_input(self, input), self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
