"""`conv1d` and `conv2d`: im2col through a strided view, then one batched matrix product.

The padded input is viewed as windows (`numpy.lib.stride_tricks.as_strided`, no copy);
one reshape copies them into columns `(N, G, C/G * prod(K), P)` and one `matmul` with
the weight `(G, out/G, C/G * prod(K))` gives `(N, G, out/G, P)`, already in PyTorch's
channel-first layout. Groups (depthwise included) ride along as a batch axis of the
product, so no Python loop runs over groups, batch or pixels; loops run over kernel
offsets only.

With unit stride the windows are taken over the *flattened* padded image: every row of
the columns is then one contiguous run, and col2im in the backward is one contiguous
add per kernel offset. Outputs are computed on the padded grid's full width and the
surplus columns are cropped (a few percent more arithmetic, much cheaper copies).
Other strides use the plain window view and a strided slice add per offset.

The whole convolution is one recorded op (`_conv_op`). Its first-order backward is
NumPy; under `create_graph` it is built from `ag.sliding_windows`, `ag.fold`, `ag.pad`
and `ag.matmul`, so gradients of any order work.
"""
from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.ops.windows import _tuple, offset_slices, window_geometry, window_view
from autograd_core.tensor import as_tensor, make_result


def conv_padding(padding: Any, kernel: tuple[int, ...], dilation: tuple[int, ...], stride: tuple[int, ...],
                 op: str) -> tuple[tuple[int, int], ...]:
    """(before, after) padding per spatial axis from an int, a tuple, 'same' or 'valid' (PyTorch's rules)."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            # PyTorch puts the odd extra element of the total padding on the right.
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{op}: padding must be an int, a tuple of ints, 'same' or 'valid', got {padding!r}")
    pads = _tuple(padding, n, "padding", op)
    if min(pads) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return tuple((p, p) for p in pads)


class _Plan:
    """Shapes and the im2col layout of one convolution (plain NumPy; built once per call)."""

    def __init__(self, x_shape: tuple[int, ...], w_shape: tuple[int, ...], groups: int,
                 pads: tuple[tuple[int, int], ...], stride: tuple[int, ...], dilation: tuple[int, ...],
                 out_size: tuple[int, ...]) -> None:
        self.n, self.c = x_shape[:2]
        self.out_c, self.kernel = w_shape[0], tuple(w_shape[2:])
        self.groups, self.stride, self.dilation, self.out_size = groups, stride, dilation, out_size
        self.nd = len(self.kernel)
        self.cg, self.og, self.kk = self.c // groups, self.out_c // groups, math.prod(self.kernel)
        self.pads = pads
        self.padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads))
        self.interior = (slice(None), slice(None)) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x_shape[2:], pads))
        # Unit stride: windows over the *flattened* padded image. Output j (a position on the
        # padded grid) reads flat[j + offset], so every im2col row is one contiguous run and
        # col2im is one contiguous add per offset; the surplus grid columns are cropped away.
        self.flat = all(s == 1 for s in stride)
        self.steps = tuple(math.prod(self.padded[i + 1 :]) for i in range(self.nd))
        if self.flat:
            self.offsets = [sum(k * d * st for k, d, st in zip(ks, dilation, self.steps))
                            for ks in itertools.product(*(range(k) for k in self.kernel))]
            self.positions = out_size[0] * self.steps[0]
            self.tail = sum((k - 1) * d * st for k, d, st in zip(self.kernel, dilation, self.steps)) - (
                (self.kernel[0] - 1) * dilation[0] * self.steps[0])
            self.grid = (out_size[0],) + self.padded[1:]
        else:
            self.positions, self.tail, self.grid = math.prod(out_size), 0, out_size
        self.crop = (slice(None), slice(None)) + tuple(slice(0, o) for o in out_size)

    def pad_input(self, x: np.ndarray) -> np.ndarray:
        """The zero-padded input: flat (N, C, prod(padded) + tail) on the flat path, else (N, C, *padded)."""
        size = math.prod(self.padded)
        buf = np.zeros((self.n, self.c, size + self.tail), dtype=x.dtype)
        buf[:, :, :size].reshape((self.n, self.c) + self.padded)[self.interior] = x
        return buf if self.flat else buf.reshape((self.n, self.c) + self.padded)

    def columns(self, xp: np.ndarray) -> np.ndarray:
        """im2col, the one copy of the forward: (N, G, Cg * prod(K), positions)."""
        if self.flat:
            item = xp.itemsize
            strides = xp.strides[:2] + tuple(d * st * item for d, st in zip(self.dilation, self.steps)) + (item,)
            view = as_strided(xp, (self.n, self.c) + self.kernel + (self.positions,), strides, writeable=False)
        else:
            view = window_view(xp, self.kernel, self.stride, self.dilation, self.out_size)
        return view.reshape(self.n, self.groups, self.cg * self.kk, self.positions)

    def output(self, full: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        """(N, G, Og, positions) product -> (N, out, *O), cropped and with the bias added."""
        full = full.reshape((self.n, self.out_c) + self.grid)
        if self.flat and self.grid != self.out_size:
            full = full[self.crop]
        if bias is None:
            return np.ascontiguousarray(full)
        return np.add(full, bias.reshape((self.out_c,) + (1,) * self.nd))

    def grid_grad(self, g: np.ndarray) -> np.ndarray:
        """The output gradient on the product's layout (N, G, Og, positions), zeros off the crop."""
        if self.flat and self.grid != self.out_size:
            full = np.zeros((self.n, self.out_c) + self.grid, dtype=g.dtype)
            full[self.crop] = g
            g = full
        return g.reshape(self.n, self.groups, self.og, self.positions)

    def input_grad(self, w: np.ndarray, gm: np.ndarray) -> np.ndarray:
        """W^T @ g with kernel-major rows, then col2im: one slice add per kernel offset.

        The product runs one kernel row (first kernel axis) at a time, so the columns
        gradient never exists whole: it would be prod(K) times the input's size.
        """
        rows, per_row = self.kernel[0], self.kk // self.kernel[0]
        wk = w.reshape(self.groups, self.og, self.cg, self.kk).transpose(0, 3, 2, 1)
        wk = wk.reshape(self.groups, rows, per_row * self.cg, self.og)
        size = math.prod(self.padded)
        res = np.zeros((self.n, self.groups, self.cg, size + self.tail), dtype=gm.dtype)
        grid = res[..., :size].reshape((self.n, self.groups, self.cg) + self.padded)
        slices = offset_slices(self.kernel, self.stride, self.dilation, self.out_size)
        lead = (slice(None),) * 3
        for r in range(rows):
            dcols = np.matmul(wk[:, r], gm).reshape(self.n, self.groups, per_row, self.cg, self.positions)
            for j in range(per_row):
                i = r * per_row + j
                if self.flat:
                    res[..., self.offsets[i] : self.offsets[i] + self.positions] += dcols[:, :, j]
                else:
                    grid[lead + slices[i][1]] += dcols[:, :, j].reshape(dcols.shape[:2] + (self.cg,) + self.out_size)
        return grid.reshape((self.n, self.c) + self.padded)[self.interior]


def _conv_op(x: Tensor, w: Tensor, b: Tensor | None, plan: _Plan) -> Tensor:
    """The whole convolution as one recorded op.

    The first-order backward is plain NumPy. It rebuilds the columns from the saved input
    rather than keeping them alive between forward and backward: they are the largest
    array of the step (prod(K) times the input) and take a fraction of a matmul to redo.
    Under `create_graph` the vjps are built from `ag.pad`, `ag.sliding_windows`,
    `ag.fold` and `ag.matmul`, so they are differentiable again.
    """
    p = plan
    cols = p.columns(p.pad_input(x.data))
    data = p.output(np.matmul(w.data.reshape(p.groups, p.og, p.cg * p.kk), cols), None if b is None else b.data)
    del cols
    memo: dict[str, Any] = {}

    def grid_grad(g: np.ndarray) -> np.ndarray:
        if memo.get("g") is not g:  # shared by the input and weight rules
            memo["g"], memo["gm"] = g, p.grid_grad(g)
        return memo["gm"]

    def grad_x(g: Any, y: Any, x: Any, w: Any, *b: Any) -> Any:
        if not isinstance(g, Tensor):
            return p.input_grad(w, grid_grad(g))
        gm = g.reshape(p.n, p.groups, p.og, -1)
        dcols = ag.matmul(w.reshape(p.groups, p.og, -1).swapaxes(-1, -2), gm)
        dcols = dcols.reshape((p.n, p.c) + p.kernel + p.out_size)
        return ag.fold(dcols, (p.n, p.c) + p.padded, p.kernel, p.stride, p.dilation)[p.interior]

    def grad_w(g: Any, y: Any, x: Any, w: Any, *b: Any) -> Any:
        if not isinstance(g, Tensor):
            cols = p.columns(p.pad_input(x))
            return np.matmul(grid_grad(g), cols.swapaxes(-1, -2)).sum(axis=0).reshape(w.shape)
        xp = ag.pad(x, ((0, 0), (0, 0)) + p.pads)
        tcols = ag.sliding_windows(xp, p.kernel, p.stride, p.dilation).reshape(p.n, p.groups, p.cg * p.kk, -1)
        return ag.matmul(g.reshape(p.n, p.groups, p.og, -1), tcols.swapaxes(-1, -2)).sum(axis=0).reshape(w.shape)

    def grad_b(g: Any, y: Any, x: Any, w: Any, b: Any) -> Any:
        return g.sum(axis=(0,) + tuple(range(2, 2 + p.nd)))

    if b is None:
        return make_result(data, "conv", (x, w), (grad_x, grad_w))
    return make_result(data, "conv", (x, w, b), (grad_x, grad_w, grad_b))


def _conv(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: int,
          nd: int, op: str) -> Tensor:
    x, w = as_tensor(input), as_tensor(weight)
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: weight must be {nd + 2}-d (out_channels, in_channels/groups, *kernel), got {w.shape}")
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x.reshape((1,) + x.shape)
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input, got shape {x.shape}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    c = x.shape[1]
    out_c, c_per_group, kernel = w.shape[0], w.shape[1], tuple(w.shape[2:])
    if c != c_per_group * groups or out_c % groups:
        raise ValueError(
            f"{op}: input {x.shape} has {c} channels and weight {w.shape} expects in_channels/groups="
            f"{c_per_group} with groups={groups} (out_channels={out_c} must be divisible by groups)"
        )
    if x.dtype != w.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and weight dtype {w.dtype} differ; cast one with astype")
    b = None
    if bias is not None:
        b = as_tensor(bias)
        if b.dtype != w.dtype:
            raise TypeError(f"{op}: bias dtype {b.dtype} and weight dtype {w.dtype} differ")
        if b.shape != (out_c,):
            raise ValueError(f"{op}: bias must have shape ({out_c},) to match weight {w.shape}, got {b.shape}")
    stride_t, dilation_t = _tuple(stride, nd, "stride", op), _tuple(dilation, nd, "dilation", op)
    pads = conv_padding(padding, kernel, dilation_t, stride_t, op)
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
    try:
        _, _, _, out_size = window_geometry((0, 0) + padded, kernel, stride_t, dilation_t, op)
    except ValueError as exc:
        raise ValueError(f"{op}: input {x.shape} padded by {pads} and weight {w.shape}: {exc}") from None
    plan = _Plan(x.shape, w.shape, groups, pads, stride_t, dilation_t, out_size)
    out = _conv_op(x, w, b, plan)
    return out.reshape(out.shape[1:]) if unbatched else out


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Tensor:
    """1-d convolution (cross-correlation) of `(N, C, L)` with weight `(out, C/groups, K)`, as PyTorch."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Tensor:
    """2-d convolution (cross-correlation) of `(N, C, H, W)` with weight `(out, C/groups, KH, KW)`, as PyTorch."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")
