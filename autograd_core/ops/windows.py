"""Sliding windows (im2col as a strided view) and their adjoint, `fold` (col2im).

`sliding_windows(x, kernel, stride, dilation)` turns the last `len(kernel)` axes of `x`
into kernel axes followed by output axes: `(..., *S) -> (..., *K, *O)`, a read-only
view with no copy (`numpy.lib.stride_tricks.as_strided`). Convolution and pooling are
then a reshape (the one im2col copy) plus a matrix product or a reduction.

`fold` is the transpose: it adds every window back onto an array of the input's
shape, one slice add per kernel offset (never a loop over batch, channel or pixel).
The two are linear and adjoint, so each is the other's gradient, and gradients of
any order come out right.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..tensor import Tensor, as_tensor, make_result


def _tuple(value: Any, n: int, what: str, op: str) -> tuple[int, ...]:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        raise ValueError(f"{op}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in items)


def window_geometry(
    shape: Sequence[int], kernel: Any, stride: Any = 1, dilation: Any = 1, op: str = "sliding_windows"
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(kernel, stride, dilation, output sizes) for windows over the trailing axes of `shape`."""
    k = _tuple(kernel, len(kernel) if isinstance(kernel, (tuple, list)) else 1, "kernel", op)
    n = len(k)
    s, d = _tuple(stride, n, "stride", op), _tuple(dilation, n, "dilation", op)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{op}: kernel {k}, stride {s} and dilation {d} must all be positive")
    if len(shape) < n:
        raise ValueError(f"{op}: an input of shape {tuple(shape)} has fewer than {n} axes for kernel {k}")
    spatial = tuple(shape[len(shape) - n :])
    out = tuple((size - di * (ki - 1) - 1) // si + 1 for size, ki, si, di in zip(spatial, k, s, d))
    if min(out) < 1:
        raise ValueError(
            f"{op}: kernel {k} with dilation {d} does not fit the spatial size {spatial} of an input of "
            f"shape {tuple(shape)}; pad the input or use a smaller kernel"
        )
    return k, s, d, out


def window_view(a: np.ndarray, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
                out: Sequence[int]) -> np.ndarray:
    """The read-only strided view `(..., *K, *O)` of `a`'s trailing axes (no copy)."""
    n = len(kernel)
    lead, tail = a.strides[: a.ndim - n], a.strides[a.ndim - n :]
    strides = lead + tuple(t * d for t, d in zip(tail, dilation)) + tuple(t * s for t, s in zip(tail, stride))
    shape = a.shape[: a.ndim - n] + tuple(kernel) + tuple(out)
    return as_strided(a, shape=shape, strides=strides, writeable=False)


def offset_slices(kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
                  out: Sequence[int]) -> list[tuple[tuple[int, ...], tuple[slice, ...]]]:
    """For each kernel offset, the slices of the input that it reads across all windows."""
    return [
        (offset, tuple(slice(i * d, i * d + s * (o - 1) + 1, s) for i, s, d, o in zip(offset, stride, dilation, out)))
        for offset in itertools.product(*(range(k) for k in kernel))
    ]


def fold_array(cols: np.ndarray, shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
               dilation: Sequence[int]) -> np.ndarray:
    """col2im on arrays: sum windows `(..., *K, *O)` back onto zeros of `shape`, one slice add per offset."""
    n = len(kernel)
    out_sizes = cols.shape[cols.ndim - n :]
    result = np.zeros(tuple(shape), dtype=cols.dtype)
    lead = (slice(None),) * (cols.ndim - 2 * n)
    for offset, where in offset_slices(kernel, stride, dilation, out_sizes):
        result[lead + where] += cols[lead + offset]
    return result


def sliding_windows(x: Any, kernel: Any, stride: Any = 1, dilation: Any = 1) -> Tensor:
    """Windows over the last `len(kernel)` axes: `(..., *S) -> (..., *K, *O)`, a strided view.

    `O_i = (S_i - dilation_i * (K_i - 1) - 1) // stride_i + 1`. Pad first for padded
    windows. The gradient is `fold` (col2im).
    """
    x = as_tensor(x)
    k, s, d, out = window_geometry(x.shape, kernel, stride, dilation)
    data = window_view(x.data, k, s, d, out)
    return make_result(data, "sliding_windows", (x,), (lambda g, y, x: fold(g, x.shape, k, s, d),))


def fold(cols: Any, shape: Sequence[int], kernel: Any, stride: Any = 1, dilation: Any = 1) -> Any:
    """col2im: add windows `(..., *K, *O)` back onto zeros of `shape`; the adjoint of `sliding_windows`.

    Works on arrays (plain NumPy, the first-order backward path) and on Tensors (a
    recorded op whose gradient is `sliding_windows`, for higher order).
    """
    shape = tuple(int(n) for n in shape)
    k, s, d, out = window_geometry(shape, kernel, stride, dilation, op="fold")
    expected = shape[: len(shape) - len(k)] + k + out
    if tuple(cols.shape) != expected:
        raise ValueError(f"fold: windows of shape {tuple(cols.shape)} do not match {expected} for output {shape}")
    if isinstance(cols, Tensor):
        return make_result(
            fold_array(cols.data, shape, k, s, d), "fold", (cols,), (lambda g, y, c: sliding_windows(g, k, s, d),)
        )
    return fold_array(np.asarray(cols), shape, k, s, d)
