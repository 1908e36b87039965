"""Pooling with PyTorch's names and arguments: max, average and adaptive average, 1-d and 2-d.

All of them read windows through `numpy.lib.stride_tricks` views and loop over kernel
offsets only (never over batch, channel or pixel).

- Max pooling is one recorded op. Its gradient goes to the element that PyTorch picks:
  the first maximum of each window in scan order (a NaN wins, the last NaN if several).
  The first-order backward is a slice add per kernel offset; under `create_graph` it is
  built from `ag.fold` and a constant one-hot mask, so it is differentiable again.
- Average pooling is composed from `ag.pad`, `ag.sliding_windows` and `sum`, so every
  order of gradient comes for free.
- Adaptive average pooling is two products with averaging matrices (PyTorch's windows
  `floor(i*L/out) .. ceil((i+1)*L/out)`).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor, kernels
from autograd_core.ops.windows import _tuple, offset_slices, window_view
from autograd_core.tensor import make_result

from .. import _checks


def _batched(input: Any, nd: int, op: str) -> tuple[Tensor, bool]:
    x = _checks.float_input(op, input)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input, got shape {x.shape}")
    return (x.reshape((1,) + x.shape), True) if x.ndim == nd + 1 else (x, False)


class _Windows:
    """Geometry of a pooling call: kernel, stride, dilation, padding (plus ceil_mode's extra) and output size."""

    def __init__(self, shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                 ceil_mode: bool, nd: int, op: str) -> None:
        self.kernel = _tuple(kernel_size, nd, "kernel_size", op)
        self.stride = self.kernel if stride is None or stride == [] else _tuple(stride, nd, "stride", op)
        self.pad = _tuple(padding, nd, "padding", op)
        self.dilation = _tuple(dilation, nd, "dilation", op)
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.dilation) < 1 or min(self.pad) < 0:
            raise ValueError(
                f"{op}: kernel_size {self.kernel}, stride {self.stride} and dilation {self.dilation} must be "
                f"positive and padding {self.pad} non-negative"
            )
        span = [(k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation)]
        if any(p > s // 2 for p, s in zip(self.pad, span)):
            raise ValueError(
                f"{op}: padding {self.pad} should be at most half of the effective kernel size {tuple(span)}"
            )
        spatial = shape[2:]
        out = []
        for size, p, s, sp in zip(spatial, self.pad, self.stride, span):
            room = size + 2 * p - sp
            o = (-(-room // s) if ceil_mode else room // s) + 1
            if ceil_mode and (o - 1) * s >= size + p:  # the last window must start inside input or left padding
                o -= 1
            out.append(o)
        if min(out) < 1:
            raise ValueError(
                f"{op}: kernel {self.kernel} (dilation {self.dilation}, padding {self.pad}) does not fit an input "
                f"of shape {shape}"
            )
        self.out = tuple(out)
        # Right padding: the requested padding plus whatever ceil_mode's last windows reach past it.
        self.widths = tuple(
            (p, max(p, (o - 1) * s + sp - size - p))
            for size, p, s, sp, o in zip(spatial, self.pad, self.stride, span, out)
        )
        self.spatial = tuple(spatial)
        self.padded = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, self.widths))
        self.interior = (slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, (lo, _) in zip(spatial, self.widths)
        )
        self.padded_any = any(lo or hi for lo, hi in self.widths)


# ------------------------------------------------------------------ max pooling
# Simple NumPy passes per kernel offset over the output that the forward and the gradient make
# (their work for `autograd_core.kernels`).
_CHOOSE_PASSES, _SCATTER_PASSES = 4, 2


def _pad_with(data: np.ndarray, w: _Windows, fill: Any) -> np.ndarray:
    if not w.padded_any:
        return data
    buf = np.full(data.shape[:2] + w.padded, fill, dtype=data.dtype)
    buf[w.interior] = data
    return buf


def _choose(view: np.ndarray, offsets: list[tuple[int, ...]], x: np.ndarray, best: np.ndarray,
            choice: np.ndarray) -> None:
    """Write the max of each window and the index of the offset PyTorch selects into `best` and
    `choice`, one pass per kernel offset. `x` is the input under `view`, checked for NaN."""
    lead = (slice(None), slice(None))
    np.copyto(best, view[lead + offsets[0]])
    for offset in offsets[1:]:
        np.maximum(best, view[lead + offset], out=best)  # NaN propagates, as in PyTorch
    # The first offset that reaches the maximum (bool masks as int8, no `where` on the hot path).
    choice[...] = 0
    found = view[lead + offsets[0]] == best
    for i, offset in enumerate(offsets[1:], start=1):
        hit = view[lead + offset] == best
        hit &= ~found
        choice += hit.view(np.int8) * np.asarray(i, choice.dtype)
        found |= hit
    if np.isnan(x).any():  # PyTorch's rule `val > max || isnan(val)` selects the last NaN of a window
        for i, offset in enumerate(offsets):
            np.copyto(choice, i, where=np.isnan(view[lead + offset]))


def _max_pool_op(x: Tensor, w: _Windows) -> Tensor:
    view = window_view(_pad_with(x.data, w, -np.inf), w.kernel, w.stride, w.dilation, w.out)
    offsets = list(itertools.product(*(range(k) for k in w.kernel)))
    best = np.empty(x.shape[:2] + w.out, dtype=x.dtype)
    choice = np.empty(best.shape, dtype=np.int8 if len(offsets) < 128 else np.int32)
    # Samples are independent: big batches run split over threads, each block as the whole would.
    kernels.split(lambda b, c, v, xs: _choose(v, offsets, xs, b, c), best, choice, view, x.data, axis=0,
                  work=best.size * len(offsets) * _CHOOSE_PASSES)
    padded_shape = x.shape[:2] + w.padded
    # Windows that never share an element can write their gradient instead of adding it.
    disjoint = all(s >= (k - 1) * d + 1 for k, s, d in zip(w.kernel, w.stride, w.dilation))
    slices = offset_slices(w.kernel, w.stride, w.dilation, w.out)

    def scatter_into(res: np.ndarray, g: np.ndarray, choice: np.ndarray) -> None:
        lead = (slice(None), slice(None))
        for i, (_, where) in enumerate(slices):
            if disjoint:
                np.multiply(g, choice == i, out=res[lead + where])
            else:
                res[lead + where] += g * (choice == i)

    def scatter(g: Any) -> Any:
        """The gradient: each output's g goes to its window's chosen element."""
        if isinstance(g, Tensor):  # differentiable: a constant one-hot mask, then col2im
            onehot = choice.reshape(choice.shape[:2] + (1,) * len(w.kernel) + w.out) == np.arange(
                len(offsets)
            ).reshape(w.kernel + (1,) * len(w.out))
            spread = g.reshape(g.shape[:2] + (1,) * len(w.kernel) + w.out) * onehot.astype(g.dtype)
            return ag.fold(spread, padded_shape, w.kernel, w.stride, w.dilation)[w.interior]
        res = np.zeros(padded_shape, dtype=g.dtype)
        kernels.split(scatter_into, res, g, choice, axis=0, work=g.size * len(offsets) * _SCATTER_PASSES)
        return res[w.interior]

    return make_result(best, "max_pool", (x,), (lambda g, y, x: scatter(g),))


def _max_pool(input: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
              nd: int, op: str) -> Tensor:
    x, unbatched = _batched(input, nd, op)
    out = _max_pool_op(x, _Windows(x.shape, kernel_size, stride, padding, dilation, ceil_mode, nd, op))
    return out.reshape(out.shape[1:]) if unbatched else out


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    """Max over sliding windows of `(N, C, L)`; the gradient goes to the first maximum of each window."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, 1, "max_pool1d")


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    """Max over sliding windows of `(N, C, H, W)`; the gradient goes to the first maximum of each window."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, 2, "max_pool2d")


# ------------------------------------------------------------------ average pooling
def _avg_pool(input: Any, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool, count_include_pad: bool,
              divisor_override: Any, nd: int, op: str) -> Tensor:
    x, unbatched = _batched(input, nd, op)
    w = _Windows(x.shape, kernel_size, stride, padding, 1, ceil_mode, nd, op)
    xp = ag.pad(x, ((0, 0), (0, 0)) + w.widths) if w.padded_any else x
    kernel_axes = tuple(range(2, 2 + nd))
    total = ag.sliding_windows(xp, w.kernel, w.stride).sum(axis=kernel_axes)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, int) or divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}")
        out = total / np.asarray(divisor_override, dtype=x.dtype)
    else:
        # Which padded positions count: the input (and the requested padding if
        # count_include_pad), never the extra cells that ceil_mode adds.
        mask = np.zeros(w.padded, dtype=x.dtype)
        counted = w.interior[2:] if not count_include_pad else tuple(
            slice(0, n + 2 * p) for n, p in zip(w.spatial, w.pad)
        )
        mask[counted] = 1
        count = window_view(mask, w.kernel, w.stride, (1,) * nd, w.out).sum(axis=tuple(range(nd)))
        out = total / count
    return out.reshape(out.shape[1:]) if unbatched else out


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of `(N, C, L)`; padding counts in the mean unless `count_include_pad=False`."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of `(N, C, H, W)`; padding counts in the mean unless `count_include_pad=False`."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                     "avg_pool2d")


# ------------------------------------------------------------------ adaptive average pooling
def _averaging_matrix(size: int, out: int, dtype: np.dtype) -> np.ndarray:
    """(out, size): row i averages PyTorch's window floor(i*size/out) .. ceil((i+1)*size/out)."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_avg_pool(input: Any, output_size: Any, nd: int, op: str) -> Tensor:
    x, unbatched = _batched(input, nd, op)
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    if len(sizes) != nd:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
    sizes = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(sizes))
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"{op}: output_size entries must be positive ints or None, got {output_size!r}")
    if any(n == 0 for n in x.shape[2:]):
        raise ValueError(f"{op}: input of shape {x.shape} has an empty spatial axis")
    out = x
    for axis, size in enumerate(sizes):  # one product per spatial axis (at most two)
        if size == x.shape[2 + axis]:
            continue  # identity windows
        a = _averaging_matrix(x.shape[2 + axis], int(size), x.dtype)
        moved = out.swapaxes(2 + axis, -1)
        out = ag.matmul(moved, a.T).swapaxes(2 + axis, -1)
    return out.reshape(out.shape[1:]) if unbatched else out


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    """Average of `(N, C, L)` over `output_size` nearly equal windows (PyTorch's boundaries)."""
    return _adaptive_avg_pool(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Average of `(N, C, H, W)` over an `output_size` grid of nearly equal windows (PyTorch's boundaries)."""
    return _adaptive_avg_pool(input, output_size, 2, "adaptive_avg_pool2d")
