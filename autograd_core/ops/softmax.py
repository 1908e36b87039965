"""Softmax, log-softmax and logsumexp, shifted by the maximum so no input overflows."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
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


# Simple NumPy passes over the whole array that each pass below makes (its work for `kernels`).
_FORWARD_PASSES, _GRAD_PASSES = 6, 4


def _split(x: np.ndarray) -> bool:
    """Whether the forward pass over x is big enough to run split (the size check first)."""
    return x.size * _FORWARD_PASSES >= kernels.SPLIT_MIN and x.dtype.kind == "f"


def _first_order(g: Any, y: np.ndarray) -> bool:
    """A plain-array gradient big enough to split (under create_graph g is a Tensor)."""
    return (
        type(g) is np.ndarray
        and g.size * _GRAD_PASSES >= kernels.SPLIT_MIN
        and g.dtype == y.dtype
        and g.shape == y.shape
    )


# Each pass below writes into `out` when given one: a block of the result when the pass
# runs split over rows (kernels.rows), each row computed exactly as in one whole pass.
def _softmax(x: np.ndarray, axes: tuple[int, ...], out: Any = None) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):  # a slice holding +inf is NaN, silently
        e = np.exp(_shifted(x, axes))
        return np.divide(e, np.sum(e, axis=axes, keepdims=True), out=out)


def _softmax_grad(g: np.ndarray, y: np.ndarray, axes: tuple[int, ...], out: Any = None) -> np.ndarray:
    return np.multiply(y, g - (g * y).sum(axis=axes, keepdims=True), out=out)


def _log_softmax(x: np.ndarray, axes: tuple[int, ...], out: Any = None) -> np.ndarray:
    z = _shifted(x, axes)
    with np.errstate(all="ignore"):  # empty, all -inf or +inf slices: log(0), -inf - -inf, exp(inf)
        return np.subtract(z, np.log(np.sum(np.exp(z), axis=axes, keepdims=True)), out=out)


def _log_softmax_grad(g: np.ndarray, y: np.ndarray, axes: tuple[int, ...], out: Any = None) -> np.ndarray:
    return np.subtract(g, np.exp(y) * g.sum(axis=axes, keepdims=True), out=out)


def _rowwise(fn: Any, x: np.ndarray, axes: tuple[int, ...], passes: int, *more: np.ndarray) -> np.ndarray:
    """fn(x, *more, axes, out) split over the rows that `axes` leave whole."""
    return kernels.rows(lambda o, *a: fn(*a, axes, o), np.empty_like(x), x, *more, reduced=axes, passes=passes)


def softmax(x: Any, axis: Any = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "softmax")
    data = _rowwise(_softmax, x.data, axes, _FORWARD_PASSES) if _split(x.data) else _softmax(x.data, axes)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        if _first_order(g, y):
            return _rowwise(_softmax_grad, g, axes, _GRAD_PASSES, y)
        return y * (g - (g * y).sum(axis=axes, keepdims=True))

    def jvp(ts: list[Any], y: Any, x: Any) -> Any:  # the Jacobian is symmetric
        return vjp(ts[0], y, x)

    return make_result(data, "softmax", (x,), (vjp,), jvp)


def log_softmax(x: Any, axis: Any = -1) -> Tensor:
    """x - logsumexp(x) along `axis`, finite for any finite input."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "log_softmax")
    data = _rowwise(_log_softmax, x.data, axes, _FORWARD_PASSES) if _split(x.data) else _log_softmax(x.data, axes)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        if _first_order(g, y):
            return _rowwise(_log_softmax_grad, g, axes, _GRAD_PASSES, y)
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
