"""Indexing (`x[index]` for every NumPy index) and `where`.

The gradient of a read is a scatter-add of `g` into zeros, itself a differentiable op
whose own gradient is the read again; repeated integer indices accumulate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import ELEMENTWISE, Tensor, as_tensor, make_result, make_view


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
    shape = x.shape
    vjps = (lambda g, y, x: scatter_add(g, shape, index),)
    jvp = lambda ts, y, x: ts[0][index]
    if _is_basic(index):  # NumPy returns a view: writes through it reach x
        return make_view(data, "getitem", x, vjps, lambda t: t[index], jvp)
    return make_result(data, "getitem", (x,), vjps, jvp)


def _last_writers(shape: tuple[int, ...], index: Any, target: tuple[int, ...]) -> np.ndarray | None:
    """Which elements of a (broadcast) value an index assignment keeps: with repeated
    indices NumPy's last write wins, so only that element gets the gradient. None: all."""
    if _is_basic(index):
        return None
    ids = np.arange(int(np.prod(target, dtype=np.int64))).reshape(target)
    owner = np.full(shape, -1, dtype=np.int64)
    owner[index] = ids
    kept = owner[index] == ids
    return None if kept.all() else kept


def _zero_at(g: Any, index: Any) -> Any:
    if isinstance(g, Tensor):
        return index_put(g, index, 0.0)
    out = np.array(g, copy=True)
    out[index] = 0
    return out


def index_put(x: Any, index: Any, value: Any, out: np.ndarray | None = None) -> Tensor:
    """`x` with `x[index] = value` applied (NumPy's setitem semantics), as a new value.

    Differentiable in both: `x`'s gradient is zero where the write landed, and `value`
    gets the gradient of the elements it kept (the last write wins for repeated indices).
    With `out` (an array of `x`'s shape holding `x`'s values) the write goes there instead
    of into a copy: the in-place path uses it.
    """
    x = as_tensor(x)
    raw = value if type(value) in (bool, int, float, complex) else None  # NumPy's own scalar rules
    value = as_tensor(value, x)
    index = _plain_index(index)
    data = np.array(x.data, copy=True) if out is None else out
    try:
        data[index] = value.data if raw is None else raw
    except IndexError as exc:
        raise IndexError(f"index_put: index {index!r} is invalid for shape {x.shape}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"index_put: cannot assign a value of shape {value.shape} to the selection: {exc}") from None
    shape, vshape = x.shape, value.shape

    def to_value(g: Any, y: Any, x: Any, v: Any) -> Any:
        picked = g[index]
        kept = _last_writers(shape, index, picked.shape)
        if kept is not None:
            picked = picked * kept
        if picked.ndim < len(vshape):  # NumPy drops a value's leading size-1 axes
            picked = picked.reshape((1,) * (len(vshape) - picked.ndim) + picked.shape)
        return picked

    return make_result(data, "setitem", (x, value), (lambda g, y, x, v: _zero_at(g, index), to_value))


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
        ELEMENTWISE,
    )
