"""Softmax, log-softmax and logsumexp, shifted by the maximum so no input overflows."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, as_tensor, make_result
from ._util import expand_reduced, keep, kept_shape, normalize_axes


def _shift(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The per-slice maximum (0 where it is not finite, or the slice is empty), kept dims."""
    if x.size == 0:  # np.max has no identity; an empty slice needs no shift
        return np.zeros(kept_shape(x.shape, axes), dtype=x.dtype)
    m = np.max(x, axis=axes, keepdims=True)
    return np.where(np.isfinite(m), m, 0)  # an all -inf slice stays -inf rather than NaN


def _shifted(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # inf - inf in a slice holding +inf is NaN, silently
        return x - _shift(x, axes)


def softmax(x: Any, axis: Any = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "softmax")
    with np.errstate(over="ignore", invalid="ignore"):  # a slice holding +inf is NaN, silently
        e = np.exp(_shifted(x.data, axes))
        data = e / np.sum(e, axis=axes, keepdims=True)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        return y * (g - (g * y).sum(axis=axes, keepdims=True))

    def jvp(ts: list[Any], y: Any, x: Any) -> Any:  # the Jacobian is symmetric
        return vjp(ts[0], y, x)

    return make_result(data, "softmax", (x,), (vjp,), jvp)


def log_softmax(x: Any, axis: Any = -1) -> Tensor:
    """x - logsumexp(x) along `axis`, finite for any finite input."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "log_softmax")
    z = _shifted(x.data, axes)
    with np.errstate(all="ignore"):  # empty, all -inf or +inf slices: log(0), -inf - -inf, exp(inf)
        data = z - np.log(np.sum(np.exp(z), axis=axes, keepdims=True))

    def vjp(g: Any, y: Any, x: Any) -> Any:
        return g - np.exp(y) * g.sum(axis=axes, keepdims=True)

    def jvp(ts: list[Any], y: Any, x: Any) -> Any:
        t = ts[0]
        return t - (np.exp(y) * t).sum(axis=axes, keepdims=True)

    return make_result(data, "log_softmax", (x,), (vjp,), jvp)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis`, finite for any finite input."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    m = _shift(x.data, axes)
    with np.errstate(all="ignore"):  # log(0) = -inf for an all -inf slice (as SciPy); +inf slices are inf/NaN
        data = np.log(np.sum(np.exp(x.data - m), axis=axes, keepdims=True)) + m
    if not keepdims:
        data = data.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def vjp(g: Any, y: Any, x: Any) -> Any:
        return expand_reduced(g, x.shape, axes) * np.exp(x - keep(y, x.shape, axes))

    def jvp(ts: list[Any], y: Any, x: Any) -> Any:
        return (ts[0] * np.exp(x - keep(y, x.shape, axes))).sum(axis=axes, keepdims=keepdims)

    return make_result(data, "logsumexp", (x,), (vjp,), jvp)
