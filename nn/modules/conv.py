"""Convolution layers `Conv1d` and `Conv2d` with PyTorch's arguments, parameter layout and initialisation."""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.ops.windows import _tuple

from .. import _checks, init
from ..functional.conv import conv1d, conv2d, conv_padding
from ..module import Module, Parameter

# PyTorch's padding_mode names -> np.pad / ag.pad modes.
_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class _ConvNd(Module):
    """Shared by Conv1d/Conv2d: weight (out, in/groups, *kernel), bias (out,), PyTorch's default init."""

    _nd = 0
    _name = ""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype: Any = None) -> None:
        super().__init__()
        nd, name = self._nd, self._name
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
        in_channels = _checks.size(name, "in_channels", in_channels, minimum=1)
        out_channels = _checks.size(name, "out_channels", out_channels, minimum=1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels={in_channels} and out_channels={out_channels} must be divisible by "
                f"groups={groups}"
            )
        if padding_mode != "zeros" and padding_mode not in _PAD_MODES:
            raise ValueError(
                f"{name}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got {padding_mode!r}"
            )
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), groups
        self.kernel_size = _tuple(kernel_size, nd, "kernel_size", name)
        self.stride = _tuple(stride, nd, "stride", name)
        self.dilation = _tuple(dilation, nd, "dilation", name)
        _checks.sizes(name, "kernel_size", self.kernel_size, nd, minimum=1)
        _checks.sizes(name, "stride", self.stride, nd, minimum=1)
        _checks.sizes(name, "dilation", self.dilation, nd, minimum=1)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, nd, "padding", name)
        # Resolve now so a bad padding fails at construction, as in PyTorch.
        self._pads = conv_padding(self.padding, self.kernel_size, self.dilation, self.stride, name)
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype or ag.get_default_dtype())
        self.weight = Parameter(np.empty((out_channels, in_channels // groups) + self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias from PyTorch's defaults (U(+-1/sqrt(fan_in)) for both)."""
        init.default_affine_(self.weight, self.bias)

    def forward(self, input: Any) -> Tensor:
        conv = conv1d if self._nd == 1 else conv2d
        x = _checks.layer_input(self, input)
        if self.padding_mode == "zeros":
            return conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        # Other modes pad explicitly first (as PyTorch does), then convolve without padding.
        lead = ((0, 0),) * (x.ndim - self._nd)
        x = ag.pad(x, lead + self._pads, mode=_PAD_MODES[self.padding_mode])
        return conv(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            text += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(_ConvNd):
    """1-d convolution over `(N, C_in, L)`: weight `(C_out, C_in/groups, K)`, bias `(C_out,)`."""

    _nd, _name = 1, "Conv1d"


class Conv2d(_ConvNd):
    """2-d convolution over `(N, C_in, H, W)`: weight `(C_out, C_in/groups, KH, KW)`, bias `(C_out,)`."""

    _nd, _name = 2, "Conv2d"
