"""Pooling layers: `MaxPool1d/2d`, `AvgPool1d/2d`, `AdaptiveAvgPool1d/2d` (PyTorch's arguments)."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor

from .. import _checks
from ..functional import pooling as F
from ..module import Module


def _check_window(layer: Module, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1) -> None:
    """PyTorch's rules, checked at construction: positive kernel/stride/dilation, 0 <= padding <= kernel/2."""
    name = type(layer).__name__
    n = 2 if name.endswith("2d") else 1
    k = _checks.sizes(name, "kernel_size", kernel_size, n, minimum=1)
    _checks.sizes(name, "stride", stride, n, minimum=1)
    _checks.sizes(name, "dilation", dilation, n, minimum=1)
    pad = _checks.sizes(name, "padding", padding, n)
    if any(2 * p > ki for p, ki in zip(pad, k)):
        raise ValueError(f"{name}: padding {padding!r} must be at most half of kernel_size {kernel_size!r}")


class _MaxPoolNd(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = stride if stride is not None else kernel_size
        self.dilation, self.ceil_mode = dilation, ceil_mode
        _check_window(self, kernel_size, self.stride, padding, dilation)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over windows of `(N, C, L)`; the gradient goes to each window's first maximum, as PyTorch."""

    def forward(self, input: Any) -> Tensor:
        x = _checks.layer_input(self, input)
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class MaxPool2d(_MaxPoolNd):
    """Max over windows of `(N, C, H, W)`; the gradient goes to each window's first maximum, as PyTorch."""

    def forward(self, input: Any) -> Tensor:
        x = _checks.layer_input(self, input)
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class AvgPool1d(Module):
    """Mean over windows of `(N, C, L)`; zero padding counts unless `count_include_pad=False`."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = stride if stride is not None else kernel_size
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        _check_window(self, kernel_size, self.stride, padding)

    def forward(self, input: Any) -> Tensor:
        x = _checks.layer_input(self, input)
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over windows of `(N, C, H, W)`; zero padding counts unless `count_include_pad=False`."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = stride if stride is not None else kernel_size
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override
        _check_window(self, kernel_size, self.stride, padding)

    def forward(self, input: Any) -> Tensor:
        x = _checks.layer_input(self, input)
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average `(N, C, L)` down to `output_size` windows, with PyTorch's window boundaries."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Tensor:
        x = _checks.layer_input(self, input)
        return F.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    """Average `(N, C, H, W)` down to an `output_size` grid (an int, a pair, None keeps that axis)."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Tensor:
        x = _checks.layer_input(self, input)
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
