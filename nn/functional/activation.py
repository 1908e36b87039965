"""Activation functions with PyTorch's names and arguments.

Each is either built from autograd_core ops (so every order of derivative comes free)
or is a small op of its own whose vjp is written with NumPy operators, so it serves
both the plain-array path and `create_graph=True`. Nothing here overflows for large
inputs: exponentials only ever see non-positive arguments.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.tensor import as_tensor, make_result

from .. import _checks
from ._erf import erfc

_INV_SQRT2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _float_tensor(x: Any, where: str) -> Tensor:
    return _checks.float_input(where, x)


def relu(input: Any, inplace: bool = False) -> Tensor:
    """max(x, 0); the gradient at 0 is 0, as PyTorch. (`inplace` is accepted and ignored.)"""
    return ag.relu(_float_tensor(input, "relu"))


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    x = _float_tensor(input, "leaky_relu")
    slope = float(negative_slope)
    data = np.where(x.data > 0, x.data, x.data * slope)
    return make_result(data, "leaky_relu", (x,), (lambda g, y, x: np.where(x > 0, g, g * slope),))


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha * (exp(x) - 1)."""
    x = _float_tensor(input, "elu")
    alpha = float(alpha)
    data = np.where(x.data > 0, x.data, alpha * np.expm1(np.minimum(x.data, 0)))
    # For x <= 0 the derivative alpha * exp(x) equals y + alpha: reuse the output.
    return make_result(data, "elu", (x,), (lambda g, y, x: np.where(x > 0, g, g * (y + alpha)),))


def _normal_pdf(x: Any) -> Any:
    # Clipping keeps x*x finite in float32; the density is exactly 0 beyond |x| = 40 anyway.
    xc = np.clip(x, -40.0, 40.0)
    return np.exp(xc * xc * -0.5) * _INV_SQRT_2PI


def _gelu_vjp(g: Any, y: Any, x: Any) -> Any:
    return g * (erfc(x * -_INV_SQRT2) * 0.5 + x * _normal_pdf(x))


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """x * Phi(x) (`approximate='none'`, exact, via erf) or PyTorch's tanh approximation (`'tanh'`)."""
    x = _float_tensor(input, "gelu")
    if approximate == "none":
        # Phi(x) = erfc(-x / sqrt 2) / 2 keeps full relative precision in the negative tail.
        data = x.data * 0.5 * erfc(x.data * -_INV_SQRT2)
        return make_result(data.astype(x.dtype, copy=False), "gelu", (x,), (_gelu_vjp,))
    if approximate == "tanh":
        xc = ag.clip(x, -30.0, 30.0)  # tanh is exactly +-1 beyond; keeps xc**3 finite
        inner = (xc + xc * xc * xc * 0.044715) * _SQRT_2_OVER_PI
        return x * 0.5 * (ag.tanh(inner) + 1.0)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Any, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    x = _float_tensor(input, "silu")
    return x * ag.sigmoid(x)


def tanh(input: Any) -> Tensor:
    """Hyperbolic tangent."""
    return ag.tanh(_float_tensor(input, "tanh"))


def sigmoid(input: Any) -> Tensor:
    """1 / (1 + exp(-x)), overflow-free."""
    return ag.sigmoid(_float_tensor(input, "sigmoid"))


def softplus_op(z: Any) -> Tensor:
    """log(1 + exp(z)) for any z without overflow; its derivative sigmoid(z) is 1 - exp(-y)."""
    z = as_tensor(z)
    return make_result(np.logaddexp(0, z.data), "softplus", (z,), (lambda g, y, z: -g * np.expm1(-y),))


def _require_dim(dim: Any, where: str) -> int:
    if dim is None:
        raise TypeError(f"{where}: pass dim= explicitly (the axis that sums to one), e.g. dim=-1 or dim=1")
    return dim


def softmax(input: Any, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (required)."""
    return ag.softmax(_float_tensor(input, "softmax"), axis=_require_dim(dim, "softmax"))


def log_softmax(input: Any, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along `dim` (required), finite for any finite input."""
    return ag.log_softmax(_float_tensor(input, "log_softmax"), axis=_require_dim(dim, "log_softmax"))
