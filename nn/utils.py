"""Gradient clipping: `clip_grad_norm_` and `clip_grad_value_` (PyTorch's semantics)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def _with_grads(parameters: Any | Iterable[Any]) -> list[Any]:
    params = [parameters] if hasattr(parameters, "data") else list(parameters)
    return [p for p in params if getattr(p, "grad", None) is not None]


def clip_grad_norm_(
    parameters: Any | Iterable[Any],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients together so their joint `norm_type` norm is at most `max_norm`.

    The norm is taken over every gradient as if concatenated into one vector
    (`norm_type=inf` for the largest magnitude). Gradients are multiplied by
    `min(1, max_norm / (total + 1e-6))`, keeping their dtype. Returns the total norm
    before clipping, as a Python float.
    """
    params = _with_grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not params:
        return 0.0
    # Per-parameter norms in float64: a float32 sum of squares overflows far sooner.
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(p.grad), initial=0.0)) for p in params)
    else:
        norms = np.array([np.linalg.norm(np.ravel(p.grad).astype(np.float64), ord=norm_type) for p in params])
        total = float(np.linalg.norm(norms, ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
            f"set error_if_nonfinite=False to clip anyway"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in params:
            p.grad = p.grad * p.grad.dtype.type(coef)
    return total


def clip_grad_value_(parameters: Any | Iterable[Any], clip_value: float) -> None:
    """Clip every gradient element into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for p in _with_grads(parameters):
        p.grad = np.clip(p.grad, -clip_value, clip_value).astype(p.grad.dtype, copy=False)
