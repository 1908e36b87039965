"""Softmax, log-softmax and logsumexp, shifted by the maximum so no input overflows."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, as_tensor, make_result
from ._util import expand_reduced, keep, normalize_axes


def _shifted(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    m = np.max(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # an all -inf slice stays -inf rather than NaN
    return x - m


def softmax(x: Any, axis: Any = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "softmax")
    e = np.exp(_shifted(x.data, axes))
    data = e / np.sum(e, axis=axes, keepdims=True)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        return y * (g - (g * y).sum(axis=axes, keepdims=True))

    return make_result(data, "softmax", (x,), (vjp,))


def log_softmax(x: Any, axis: Any = -1) -> Tensor:
    """x - logsumexp(x) along `axis`, finite for any finite input."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "log_softmax")
    z = _shifted(x.data, axes)
    data = z - np.log(np.sum(np.exp(z), axis=axes, keepdims=True))

    def vjp(g: Any, y: Any, x: Any) -> Any:
        return g - np.exp(y) * g.sum(axis=axes, keepdims=True)

    return make_result(data, "log_softmax", (x,), (vjp,))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis`, finite for any finite input."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    m = np.max(x.data, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # log(0) = -inf for an all -inf slice, as NumPy/SciPy
        data = np.log(np.sum(np.exp(x.data - m), axis=axes, keepdims=True)) + m
    if not keepdims:
        data = data.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def vjp(g: Any, y: Any, x: Any) -> Any:
        return expand_reduced(g, x.shape, axes) * np.exp(x - keep(y, x.shape, axes))

    return make_result(data, "logsumexp", (x,), (vjp,))
