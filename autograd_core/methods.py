"""Tensor's NumPy-named methods (`x.sum(axis=0)`, `x.reshape(2, 3)`, `x.softmax()` ...).

Each is the op of the same name in `autograd_core.ops`, called on the tensor; they are
installed on `Tensor` by `install` once the ops exist (the op modules import `Tensor`).
The NumPy-coverage families add theirs the same way (`TENSOR_METHODS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import ops
from .tensor import Tensor


def astype(self: Tensor, dtype: Any) -> Tensor:
    return ops.astype(self, dtype)


def sum(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    return ops.sum(self, axis, keepdims)


def mean(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    return ops.mean(self, axis, keepdims)


def var(self: Tensor, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    return ops.var(self, axis, ddof=ddof, keepdims=keepdims)


def std(self: Tensor, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    return ops.std(self, axis, ddof=ddof, keepdims=keepdims)


def max(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    return ops.max(self, axis, keepdims)


def min(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    return ops.min(self, axis, keepdims)


def prod(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    return ops.prod(self, axis, keepdims)


def argmax(self: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return ops.argmax(self, axis, keepdims)


def argmin(self: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return ops.argmin(self, axis, keepdims)


def exp(self: Tensor) -> Tensor:
    return ops.exp(self)


def log(self: Tensor) -> Tensor:
    return ops.log(self)


def sqrt(self: Tensor) -> Tensor:
    return ops.sqrt(self)


def abs(self: Tensor) -> Tensor:
    return ops.abs(self)


def sin(self: Tensor) -> Tensor:
    return ops.sin(self)


def cos(self: Tensor) -> Tensor:
    return ops.cos(self)


def tanh(self: Tensor) -> Tensor:
    return ops.tanh(self)


def sigmoid(self: Tensor) -> Tensor:
    return ops.sigmoid(self)


def relu(self: Tensor) -> Tensor:
    return ops.relu(self)


def clip(self: Tensor, lo: Any = None, hi: Any = None) -> Tensor:
    return ops.clip(self, lo, hi)


def reshape(self: Tensor, *shape: Any) -> Tensor:
    return ops.reshape(self, *shape)


def transpose(self: Tensor, *axes: Any) -> Tensor:
    return ops.transpose(self, *axes)


def swapaxes(self: Tensor, axis1: int, axis2: int) -> Tensor:
    return ops.swapaxes(self, axis1, axis2)


def flatten(self: Tensor) -> Tensor:
    return ops.flatten(self)


def ravel(self: Tensor) -> Tensor:
    return ops.ravel(self)


def dot(self: Tensor, other: Any) -> Tensor:
    return ops.dot(self, other)


def squeeze(self: Tensor, axis: Any = None) -> Tensor:
    return ops.squeeze(self, axis)


def expand_dims(self: Tensor, axis: Any) -> Tensor:
    return ops.expand_dims(self, axis)


def broadcast_to(self: Tensor, shape: Sequence[int]) -> Tensor:
    return ops.broadcast_to(self, shape)


def softmax(self: Tensor, axis: Any = -1) -> Tensor:
    return ops.softmax(self, axis)


def log_softmax(self: Tensor, axis: Any = -1) -> Tensor:
    return ops.log_softmax(self, axis)


def logsumexp(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    return ops.logsumexp(self, axis, keepdims)


def install() -> None:
    """Attach the methods above to `Tensor`."""
    for name in _METHODS:
        setattr(Tensor, name, globals()[name])


_METHODS = (
    "astype",
    "sum",
    "mean",
    "var",
    "std",
    "max",
    "min",
    "prod",
    "argmax",
    "argmin",
    "exp",
    "log",
    "sqrt",
    "abs",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "clip",
    "reshape",
    "transpose",
    "swapaxes",
    "flatten",
    "ravel",
    "dot",
    "squeeze",
    "expand_dims",
    "broadcast_to",
    "softmax",
    "log_softmax",
    "logsumexp",
)
