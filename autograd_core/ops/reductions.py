"""Reductions over `axis` (None, int, tuple, negative) with `keepdims`, NumPy style.

`max` and `min` share the gradient equally among tied elements (the subgradient that
keeps `x.max()` and `x.sum()/n` consistent for constant inputs); PyTorch's full
reductions do the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, as_tensor, make_result
from ._util import expand_reduced, keep, normalize_axes


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over `axis`."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "sum")
    data = np.sum(x.data, axis=axes, keepdims=keepdims)
    return make_result(data, "sum", (x,), (lambda g, y, x: expand_reduced(g, x.shape, axes),))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over `axis`."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    n = _count(x.shape, axes)
    data = np.mean(x.data, axis=axes, keepdims=keepdims)
    return make_result(data, "mean", (x,), (lambda g, y, x: expand_reduced(g / n, x.shape, axes),))


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance over `axis` with `ddof` delta degrees of freedom (NumPy's default 0)."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "var")
    scale = 2 / (_count(x.shape, axes) - ddof) if _count(x.shape, axes) > ddof else np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        data = np.var(x.data, axis=axes, ddof=ddof, keepdims=keepdims)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        centred = x - x.mean(axis=axes, keepdims=True)
        return keep(g, x.shape, axes) * centred * scale

    return make_result(data, "var", (x,), (vjp,))


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Standard deviation over `axis`; the gradient is infinite where it is 0, as in PyTorch."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "std")
    n = _count(x.shape, axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        data = np.std(x.data, axis=axes, ddof=ddof, keepdims=keepdims)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        centred = x - x.mean(axis=axes, keepdims=True)
        return keep(g / (y * (n - ddof)), x.shape, axes) * centred

    return make_result(data, "std", (x,), (vjp,))


def _extreme(name: str, fn: Any) -> Any:
    def op(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
        x = as_tensor(x)
        axes = normalize_axes(axis, x.ndim, name)
        if x.size == 0:
            raise ValueError(f"{name}: zero-size array {x.shape} has no {name}imum")
        data = fn(x.data, axis=axes, keepdims=keepdims)

        def vjp(g: Any, y: Any, x: Any) -> Any:
            hit = x == keep(y, x.shape, axes)  # every tied element gets an equal share
            ties = hit.sum(axis=axes, keepdims=True).astype(g.dtype)
            return keep(g, x.shape, axes) / ties * hit

        return make_result(data, name, (x,), (vjp,))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{name.capitalize()}imum over `axis`; tied elements share the gradient equally."
    return op


max = _extreme("max", np.max)
min = _extreme("min", np.min)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Product over `axis`; the gradient is exact when inputs contain zeros."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "prod")
    data = np.prod(x.data, axis=axes, keepdims=keepdims)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        gk = keep(g, x.shape, axes)
        zero = x == 0
        if not np.asarray(zero).any():
            return gk * keep(y, x.shape, axes) / x
        # d/dx_i prod = product of the others: nonzero only where x_i is the single zero.
        nonzero = np.where(zero, 1, x)
        others = keep(nonzero.prod(axis=axes), x.shape, axes)
        zeros = zero.sum(axis=axes, keepdims=True)
        return gk * np.where(zeros == 0, others / nonzero, np.where(zero & (zeros == 1), others, 0))

    return make_result(data, "prod", (x,), (vjp,))


def _arg(name: str, fn: Any) -> Any:
    def op(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
        x = as_tensor(x)
        if axis is not None:
            normalize_axes(axis, x.ndim, name)
        return Tensor(fn(x.data, axis=axis, keepdims=keepdims))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Index of the {name[3:]}imum along `axis`; not differentiable (integer result)."
    return op


argmax = _arg("argmax", np.argmax)
argmin = _arg("argmin", np.argmin)
