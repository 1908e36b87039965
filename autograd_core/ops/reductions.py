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
    return make_result(
        data, "sum", (x,), (lambda g, y, x: expand_reduced(g, x.shape, axes),),
        lambda ts, y, x: ts[0].sum(axis=axes, keepdims=keepdims),
    )


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over `axis`."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    n = _count(x.shape, axes)
    data = np.mean(x.data, axis=axes, keepdims=keepdims)
    return make_result(
        data, "mean", (x,), (lambda g, y, x: expand_reduced(g / n, x.shape, axes),),
        lambda ts, y, x: ts[0].mean(axis=axes, keepdims=keepdims),
    )


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
    """Standard deviation over `axis`; where it is 0 the gradient is 0 (a subgradient), as in PyTorch."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "std")
    n = _count(x.shape, axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        data = np.std(x.data, axis=axes, ddof=ddof, keepdims=keepdims)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        centred = x - x.mean(axis=axes, keepdims=True)  # all 0 in a slice whose std is 0
        safe = np.where(y == 0, 1, y)  # so 0/0 there becomes 0, with no warning
        return keep(g / (safe * (n - ddof)), x.shape, axes) * centred

    return make_result(data, "std", (x,), (vjp,))


def _extreme(name: str, fn: Any) -> Any:
    def op(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
        x = as_tensor(x)
        axes = normalize_axes(axis, x.ndim, name)
        if any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{name}: zero-size array {x.shape} has no {name}imum along axis {axis!r}")
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


def _others_product(x: Any, axes: tuple[int, ...]) -> Any:
    """Each element's product of the *other* elements of its reduced slice, exact with zeros.

    Built from differentiable ops (a table whose row i is the slice with x_i set to 1),
    so the second derivative is right too. It costs n**2 per slice of n elements, so
    `prod` uses it only when the input holds zeros.
    """
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    perm = rest + axes
    n = _count(x.shape, axes)
    rows = x.transpose(perm).reshape(tuple(x.shape[i] for i in rest) + (n,))
    table = np.where(np.eye(n, dtype=bool), 1, np.expand_dims(rows, -2))
    others = table.prod(axis=-1)
    return others.reshape(tuple(x.shape[i] for i in perm)).transpose(tuple(int(i) for i in np.argsort(perm)))


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Product over `axis`; first and second derivatives are exact when inputs contain zeros."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "prod")
    data = np.prod(x.data, axis=axes, keepdims=keepdims)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        gk = keep(g, x.shape, axes)
        # y / x is exact enough for first order, but differentiating it again cancels
        # y/x**2 terms (wrong for tiny x) and divides by zero, so then build the table.
        if isinstance(x, Tensor) or np.asarray(x == 0).any():
            return gk * _others_product(x, axes)
        return gk * keep(y, x.shape, axes) / x

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
