"""Normalisation with PyTorch's names and arguments: `batch_norm`, `layer_norm`, `group_norm`.

Each is composed from differentiable `autograd_core` ops (mean, subtract, multiply,
sqrt, divide), so gradients of every order are right. The statistics are the biased
(population) variance, as in PyTorch; `batch_norm` in training mode also updates the
running estimates in place, with the unbiased variance `var * n / (n - 1)`, except while
`ag.checkpoint` recomputes a forward pass (`grad_mode.is_recomputing()`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core.grad_mode import is_recomputing
from autograd_core.tensor import as_tensor

from .. import _checks


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """((x - mean) / sqrt(var + eps), mean, biased var) over `axes`, statistics kept as size-1 axes."""
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    return centred / (var + eps).sqrt(), mean, var


def _affine(out: Tensor, weight: Any, bias: Any, shape: tuple[int, ...], op: str) -> Tensor:
    """`out * weight + bias`, each reshaped to `shape` (broadcasting against `out`)."""
    size = int(np.prod(shape))
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.size if isinstance(p, Tensor) else np.size(p)) != size:
            raise ValueError(f"{op}: {name} must have {size} elements for shape {shape}, got {np.shape(p)}")
    if weight is not None:
        out = out * as_tensor(weight).reshape(shape)
    if bias is not None:
        out = out + as_tensor(bias).reshape(shape)
    return out


def _update(buffer: Any, value: np.ndarray, momentum: float) -> None:
    """buffer = (1 - momentum) * buffer + momentum * value, in place (Tensors get a new array)."""
    if isinstance(buffer, Tensor):
        buffer.data = ((1 - momentum) * buffer.data + momentum * value).astype(buffer.dtype, copy=False)
    else:
        buffer[...] = (1 - momentum) * buffer + momentum * value


def _values(a: Any) -> np.ndarray:
    return a.data if isinstance(a, Tensor) else np.asarray(a)


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) of `(N, C, ...)` with batch statistics (training) or running ones.

    In training mode `running_mean` / `running_var` (Tensors or arrays, or None) are
    updated in place: `(1 - momentum) * old + momentum * batch`, the variance unbiased.
    """
    x = _checks.float_input("batch_norm", input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got {x.shape}")
    c = x.shape[1]
    shape = (1, c) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat is not None and _values(stat).shape != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},) for input {x.shape}, got {np.shape(stat)}")
    if training:
        count = x.size // c
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {x.shape}")
        out, mean, var = _normalize(x, axes, eps)
        if not is_recomputing():  # ag.checkpoint's recomputation: the first forward already updated them
            if running_mean is not None:
                _update(running_mean, mean.data.reshape(c), momentum)
            if running_var is not None:
                _update(running_var, var.data.reshape(c) * (count / (count - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
        mean = _values(running_mean).astype(x.dtype, copy=False).reshape(shape)
        std = np.sqrt(_values(running_var).astype(x.dtype, copy=False).reshape(shape) + np.asarray(eps, x.dtype))
        out = (x - mean) / std
    return _affine(out, weight, bias, shape, "batch_norm")


def layer_norm(input: Any, normalized_shape: int | Sequence[int], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing `normalized_shape` axes of each sample, then scale and shift."""
    x = _checks.float_input("layer_norm", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k :]) != tuple(int(n) for n in shape):
        raise ValueError(
            f"layer_norm: normalized_shape {tuple(shape)} must match the trailing axes of the input {x.shape}"
        )
    out, _, _ = _normalize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    return _affine(out, weight, bias, tuple(int(n) for n in shape), "layer_norm")


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over groups of channels (`(N, C, ...)`, C divisible by `num_groups`)."""
    x = _checks.float_input("group_norm", input)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, ...), got {x.shape}")
    n, c = x.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"group_norm: {c} channels of input {x.shape} cannot be split into {num_groups} groups")
    group_size = c // num_groups * int(np.prod(x.shape[2:]))
    grouped = x.reshape(n, num_groups, group_size)  # not -1, which is ambiguous for an empty batch
    out, _, _ = _normalize(grouped, (2,), eps)
    return _affine(out.reshape(x.shape), weight, bias, (1, c) + (1,) * (x.ndim - 2), "group_norm")
