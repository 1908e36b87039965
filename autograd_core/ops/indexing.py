"""Indexing (`x[index]` for every NumPy index) and `where`.

The gradient of a read is a scatter-add of `g` into zeros, itself a differentiable op
whose own gradient is the read again; repeated integer indices accumulate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, as_tensor, make_result


def _plain_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays (indices carry no gradient)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _is_basic(index: Any) -> bool:
    """True for ints, slices, None and Ellipsis only: such a read never repeats an element."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items) and not any(
        isinstance(i, bool) for i in items
    )


def scatter_add(g: Any, shape: tuple[int, ...], index: Any) -> Any:
    """Zeros of `shape` with `g` added at `index` (the transpose of `x[index]`)."""
    if isinstance(g, Tensor):
        return make_result(
            _scatter(g.data, shape, index), "scatter_add", (g,), (lambda gg, y, g: gg[index],)
        )
    return _scatter(g, shape, index)


def _scatter(g: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def getitem(x: Any, index: Any) -> Tensor:
    """`x[index]` with NumPy semantics: ints, slices, None, ..., integer arrays, boolean masks."""
    x = as_tensor(x)
    index = _plain_index(index)
    try:
        data = x.data[index]
    except IndexError as exc:
        raise IndexError(f"getitem: index {index!r} is invalid for shape {x.shape}: {exc}") from None
    return make_result(data, "getitem", (x,), (lambda g, y, x: scatter_add(g, x.shape, index),))


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """`a` where `condition` holds, else `b` (broadcast together); differentiable in `a` and `b`."""
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    if isinstance(a, Tensor) or not isinstance(b, Tensor):
        a = as_tensor(a)
        b = as_tensor(b, a)
    else:
        a = as_tensor(a, b)
    try:
        data = np.where(cond, a.data, b.data)
    except ValueError:
        raise ValueError(
            f"where: condition {cond.shape}, a {a.shape} and b {b.shape} cannot be broadcast together"
        ) from None
    return make_result(
        data,
        "where",
        (a, b),
        (lambda g, y, a, b: np.where(cond, g, 0), lambda g, y, a, b: np.where(cond, 0, g)),
    )
