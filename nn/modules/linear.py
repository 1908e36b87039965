"""Dense layers: `Linear`, and the shape helpers `Identity` and `Flatten`."""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from .. import _checks, init
from ..functional.linear import linear
from ..module import Module, Parameter


class Linear(Module):
    """`y = x @ weight.T + bias`; weight (out_features, in_features), PyTorch's default init.

    Weight and bias start as U(-1/sqrt(in_features), 1/sqrt(in_features)) (PyTorch's
    `kaiming_uniform_(a=sqrt(5))` and its bias rule), in the default float dtype.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        in_features = _checks.size("Linear", "in_features", in_features)
        out_features = _checks.size("Linear", "out_features", out_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.dtype(dtype or ag.get_default_dtype())
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((out_features,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias from PyTorch's defaults (U(+-1/sqrt(fan_in)) for both)."""
        init.default_affine_(self.weight, self.bias)

    def forward(self, input: Any) -> Tensor:
        return linear(_checks.layer_input(self, input), self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder that keeps a model's structure)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Flatten(Module):
    """Merge axes `start_dim` .. `end_dim` into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Any) -> Tensor:
        x = input if isinstance(input, Tensor) else Tensor(input)
        nd = max(x.ndim, 1)
        start, end = self.start_dim % nd, self.end_dim % nd
        if not (-nd <= self.start_dim < nd and -nd <= self.end_dim < nd) or start > end:
            raise ValueError(
                f"Flatten: start_dim={self.start_dim}, end_dim={self.end_dim} do not fit an input of shape {x.shape}"
            )
        if x.ndim == 0:
            return x.reshape(1)
        shape = x.shape[:start] + (int(np.prod(x.shape[start : end + 1])),) + x.shape[end + 1 :]
        return x.reshape(shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
