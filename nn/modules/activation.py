"""Activation layers: thin `Module` wrappers over `nn.functional` with PyTorch's arguments."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor

from .. import _checks
from ..functional import activation as F
from ..module import Module


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> Tensor:
        return F.relu(_checks.layer_input(self, input))


class LeakyReLU(Module):
    """x for x > 0, else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = _checks.number("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = inplace

    def forward(self, input: Any) -> Tensor:
        return F.leaky_relu(_checks.layer_input(self, input), self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _checks.number("ELU", "alpha", alpha)
        self.inplace = inplace

    def forward(self, input: Any) -> Tensor:
        return F.elu(_checks.layer_input(self, input), self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """x * Phi(x), exact (`approximate='none'`) or with PyTorch's tanh formula (`'tanh'`)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Any) -> Tensor:
        return F.gelu(_checks.layer_input(self, input), self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> Tensor:
        return F.silu(_checks.layer_input(self, input))


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, input: Any) -> Tensor:
        return F.tanh(_checks.layer_input(self, input))


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, input: Any) -> Tensor:
        return F.sigmoid(_checks.layer_input(self, input))


class Softmax(Module):
    """Softmax along `dim`, which must be given (PyTorch's implicit choice is deprecated)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        if dim is None:
            raise TypeError("Softmax: pass dim= explicitly (the axis that sums to one), e.g. nn.Softmax(dim=1)")
        self.dim = dim

    def forward(self, input: Any) -> Tensor:
        return F.softmax(_checks.layer_input(self, input), self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along `dim`, which must be given."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        if dim is None:
            raise TypeError("LogSoftmax: pass dim= explicitly, e.g. nn.LogSoftmax(dim=1)")
        self.dim = dim

    def forward(self, input: Any) -> Tensor:
        return F.log_softmax(_checks.layer_input(self, input), self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
