"""Normalisation layers: `BatchNorm1d/2d`, `LayerNorm`, `GroupNorm`, with PyTorch's parameters and buffers.

BatchNorm keeps `running_mean`, `running_var` and `num_batches_tracked` as buffers (in
`state_dict`, not in `parameters()`), under PyTorch's names, so state dicts move both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.grad_mode import is_recomputing

from .. import _checks
from ..functional.normalization import batch_norm, group_norm, layer_norm
from ..module import Module, Parameter


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype or ag.get_default_dtype())


class _BatchNorm(Module):
    _ndims: tuple[int, ...] = ()
    _name = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        num_features = _checks.size(name, "num_features", num_features, minimum=1)
        eps = _checks.number(name, "eps", eps, low=0.0)
        if momentum is not None:
            momentum = _checks.number(name, "momentum", momentum, low=0.0, high=1.0)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = _dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            self.bias = Parameter(np.zeros(num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean.data = np.zeros_like(self.running_mean.data)
            self.running_var.data = np.ones_like(self.running_var.data)
            self.num_batches_tracked.data = np.zeros((), dtype=np.int64)

    def reset_parameters(self) -> None:
        """Running statistics reset; weight 1 and bias 0."""
        self.reset_running_stats()
        if self.affine:
            self.weight.data = np.ones_like(self.weight.data)
            self.bias.data = np.zeros_like(self.bias.data)

    def forward(self, input: Any) -> Tensor:
        x = _checks.layer_input(self, input)
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self._name}: expected a {' or '.join(f'{n}-d' for n in self._ndims)} input with "
                f"{self.num_features} channels on axis 1, got shape {x.shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and not is_recomputing():  # counted once under ag.checkpoint
            self.num_batches_tracked.data = self.num_batches_tracked.data + 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        # Batch statistics in training, and always when no running statistics are kept.
        use_batch = self.training or self.running_mean is None
        return batch_norm(
            x,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            self.weight, self.bias, use_batch, factor, self.eps,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over `(N, C)` or `(N, C, L)`, per channel C."""

    _ndims, _name = (2, 3), "BatchNorm1d"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over `(N, C, H, W)`, per channel C."""

    _ndims, _name = (4,), "BatchNorm2d"


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape` axes; weight 1 and bias 0 of that shape."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        self.normalized_shape = tuple(_checks.size("LayerNorm", "normalized_shape", n) for n in shape)
        eps = _checks.number("LayerNorm", "eps", eps, low=0.0)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dt = _dtype(dtype)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Any) -> Tensor:
        return layer_norm(_checks.layer_input(self, input), self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalise each sample over `num_groups` groups of channels; per-channel weight 1 and bias 0."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        num_groups = _checks.size("GroupNorm", "num_groups", num_groups, minimum=1)
        num_channels = _checks.size("GroupNorm", "num_channels", num_channels)
        eps = _checks.number("GroupNorm", "eps", eps, low=0.0)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dt = _dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=dt))
            self.bias = Parameter(np.zeros(num_channels, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Any) -> Tensor:
        return group_norm(_checks.layer_input(self, input), self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
