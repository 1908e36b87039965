"""`conv1d` and `conv2d`: im2col through a strided view, then one matrix product per block.

The batch runs in blocks of images, each block start to finish: the padded input is
viewed as windows (`numpy.lib.stride_tricks.as_strided`, no copy), one copy lays them
out as columns `(groups, C/groups * prod(K) [+ 1], images * positions)`, and one
`matmul` with the weight `(groups, out/groups, C/groups * prod(K) [+ 1])` gives the
block's output. With a bias, the extra row is ones and the weight's extra column is
the bias, so it costs no pass of its own and its gradient is the weight product's
extra row.

Blocks are sized so a block's columns (`BLOCK_BYTES`, about a core's L2 cache) stay in
cache between the copy that writes them and the products that read them. One
whole-batch product per call streams prod(K) times the input through memory three
times a step and measured 1.5x slower. The loop over blocks is the only Python loop
besides the one over kernel offsets; each pass is vectorised over a block's images and
all channels and pixels, and an image whose columns alone exceed the budget is a block
by itself. Groups (depthwise included) are the product's batch axis.

With unit stride the windows are taken over the *flattened* padded image: every row of
the columns is then one contiguous run, and col2im in the backward is one contiguous
add per kernel offset. Outputs are computed on the padded grid's full width and the
surplus columns are cropped (a few percent more arithmetic, much cheaper copies).
Other strides use the plain window view and a strided slice add per offset.

With several threads (`ag.set_num_threads`) the batch is cut into one contiguous range of
images per thread, each run through its own blocks with scratch buffers of its own on the
engine's pool (`autograd_core.parallel`), BLAS held at one thread meanwhile: OpenBLAS's
threads on a block's small products cost more than they bring (two threads made the
convolution slower than one), while whole blocks per core scale.

The whole convolution is one recorded op (`_conv_op`). Its first-order backward is one
more sweep over the blocks that yields the input, weight and bias gradients together.
Under `create_graph` it is built from `ag.sliding_windows`, `ag.fold`, `ag.pad` and
`ag.matmul` instead, so gradients of any order work.
"""
from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

import autograd_core as ag
from autograd_core import Tensor, parallel
from autograd_core.ops.windows import _tuple, offset_slices, window_geometry, window_view
from autograd_core.tensor import as_tensor, make_result

from .. import _checks
from ._conv_geometry import ConvGeometry
from ._depthwise import DepthwisePlan, depthwise_eligible

# Bytes of one block's columns: a core's L2 cache, where the block's three products run fastest.
BLOCK_BYTES = 1 << 21


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


def images_per_block(column_bytes: int, n: int) -> int:
    """How many of the `n` images share a block, given one image's bytes of columns."""
    return max(1, min(n, BLOCK_BYTES // max(1, column_bytes)))


class _Plan(ConvGeometry):
    """Shapes, im2col layout and batch blocks of one convolution (plain NumPy; built once per call)."""

    def __init__(self, x_shape: tuple[int, ...], w_shape: tuple[int, ...], groups: int,
                 pads: tuple[tuple[int, int], ...], stride: tuple[int, ...], dilation: tuple[int, ...],
                 out_size: tuple[int, ...], itemsize: int) -> None:
        super().__init__(x_shape, w_shape, groups, pads, stride, dilation, out_size)
        self.size = math.prod(self.padded)
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
        self.cropped = self.grid != out_size
        self.crop = (slice(None), slice(None)) + tuple(slice(0, o) for o in out_size)
        self.block = images_per_block(self.c * self.kk * self.positions * itemsize, self.n)

    def blocks(self, start: int = 0, stop: int | None = None) -> list[tuple[int, int]]:
        """[start, stop) image ranges, one per block, covering images [start, stop)."""
        stop = self.n if stop is None else stop
        return [(i, min(i + self.block, stop)) for i in range(start, stop, self.block)]

    def workers(self) -> int:
        """Threads worth using: by the elements of the columns (the work scales with them)."""
        return parallel.workers_for(self.n * self.c * self.kk * self.positions)

    def columns(self, xp: np.ndarray, out: np.ndarray) -> None:
        """im2col of a block `xp` (images, C, padded...) into `out` (groups, C/groups, *K, images, positions)."""
        nb = xp.shape[0]
        if self.flat:
            item = xp.itemsize
            strides = xp.strides[:2] + tuple(d * st * item for d, st in zip(self.dilation, self.steps)) + (item,)
            view = as_strided(xp, (nb, self.c) + self.kernel + (self.positions,), strides, writeable=False)
        else:
            view = window_view(xp, self.kernel, self.stride, self.dilation, self.out_size)
            view = view.reshape(view.shape[: 2 + self.nd] + (self.positions,))
        np.copyto(out, np.moveaxis(view.reshape((nb, self.groups, self.cg) + view.shape[2:]), 0, -2))

    def _padded_input(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """Zeros for one block of padded images: (flat (block, C, prod(padded) + tail), grid (block, C, *padded))."""
        buf = np.zeros((self.block, self.c, self.size + self.tail), dtype=dtype)
        grid = buf[..., : self.size].reshape((self.block, self.c) + self.padded)
        return (buf if self.flat else grid), grid

    def _block_columns(self, xp: tuple[np.ndarray, np.ndarray], x: np.ndarray, buf: np.ndarray,
                       rows: int) -> np.ndarray:
        """The columns of images `x` as (groups, rows, images * positions).

        Rows past im2col's (at most one) are ones: the bias's row of the product.
        """
        nb, kk = x.shape[0], self.cg * self.kk
        xp[1][:nb][self.interior] = x  # the padding was zeroed once and is never written
        cols = _dense(buf, (self.groups, rows, nb, self.positions))
        self.columns(xp[0][:nb], cols[:, :kk].reshape((self.groups, self.cg) + self.kernel + (nb, self.positions)))
        if rows > kk:
            cols[:, kk:] = 1
        return cols.reshape(self.groups, rows, -1)

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """The convolution (N, out, *O), one batch block at a time; the bias rides in the product as a row of ones.

        With several threads each takes a contiguous range of images with scratch buffers
        of its own (equal to the one-thread result up to rounding: BLAS's accumulation order
        depends on a product's width, and a thread's blocks may hold fewer images).
        """
        y = np.empty((self.n, self.out_c) + self.out_size, dtype=x.dtype)
        wm = w.reshape(self.groups, self.og, self.cg * self.kk)
        if b is not None:
            wm = np.concatenate([wm, b.reshape(self.groups, self.og, 1)], axis=2)
        rows = wm.shape[2]

        def images(start: int, stop: int) -> None:
            xp = self._padded_input(x.dtype)
            cols = np.empty(self.groups * rows * self.block * self.positions, dtype=x.dtype)
            prod = np.empty(self.out_c * self.block * self.positions, dtype=x.dtype)
            for n0, n1 in self.blocks(start, stop):
                nb = n1 - n0
                p = _dense(prod, (self.groups, self.og, nb * self.positions))
                np.matmul(wm, self._block_columns(xp, x[n0:n1], cols, rows), out=p)
                np.copyto(y[n0:n1], p.reshape((self.out_c, nb) + self.grid).swapaxes(0, 1)[self.crop])

        self._run(images)
        return y

    def _run(self, images: Any) -> list[int]:
        """Run `images(start, stop)` over the batch: whole on one thread, else in contiguous ranges on
        the pool with BLAS held at one thread (its threads on a block's small products cost more than
        they bring). Returns the ranges' starts, in order."""
        workers = min(self.workers(), self.n)
        if workers <= 1:
            images(0, self.n)
            return [0]
        # Blocks no larger than a thread's share, so that a small batch still splits.
        self.block = min(self.block, -(-self.n // workers))
        starts = [a for a, _ in parallel.chunks(self.n, workers)]
        with parallel.blas_threads(1):
            parallel.parallel_for(self.n, images, workers)
        return starts

    def backward(self, g: np.ndarray, x: np.ndarray, w: np.ndarray,
                 need: tuple[bool, bool, bool]) -> tuple[np.ndarray | None, ...]:
        """(input, weight, bias) gradients for the output gradient `g`, each only where `need` says.

        The weight and bias gradients are one product: the columns carry the row of ones,
        so the bias gradient is the weight gradient's extra row. With several threads each
        range of images sums its own partial weight gradient and the partials are added in
        range order (equal to the one-thread sum up to rounding).
        """
        need_x, need_w, need_b = need
        dt, kk = g.dtype, self.cg * self.kk
        rows = kk + need_b
        partials: dict[int, np.ndarray] = {}
        dx = np.empty(x.shape, dtype=dt) if need_x else None
        wt = _Fold.weight_rows(self, w) if need_x else None

        def images(start: int, stop: int) -> None:
            g_buf = np.empty(self.out_c * self.block * self.positions, dtype=dt) if need_w or need_b else None
            if need_w:
                xp = self._padded_input(dt)
                cols = np.empty(self.groups * rows * self.block * self.positions, dtype=dt)
                acc = np.zeros((self.groups, rows, self.og), dtype=dt)
            elif need_b:
                acc = np.zeros(self.out_c, dtype=dt)
            if need_x:
                fold = _Fold(self, wt, dt)
            for n0, n1 in self.blocks(start, stop):
                if g_buf is not None:
                    gm = self.on_grid(g[n0:n1], g_buf, self.positions).reshape(self.groups, self.og, -1)
                    if need_w:
                        acc += np.matmul(self._block_columns(xp, x[n0:n1], cols, rows), gm.swapaxes(-1, -2))
                    else:
                        acc += gm.reshape(self.out_c, -1).sum(axis=1)
                if need_x:
                    fold(g[n0:n1], dx[n0:n1])
            if g_buf is not None:
                partials[start] = acc

        starts = self._run(images)
        dw = db = None
        if need_w or need_b:
            total = partials[starts[0]]
            for s in starts[1:]:
                total += partials[s]
            if need_w:
                dw = total[:, :kk].swapaxes(-1, -2).reshape((self.out_c, self.cg) + self.kernel)
                if need_b:
                    db = total[:, kk].reshape(self.out_c)
            else:
                db = total
        return dx, dw, db

    def on_grid(self, g: np.ndarray, buf: np.ndarray, pitch: int) -> np.ndarray:
        """A block of output gradient on the products' layout (out, images, pitch), zero off the crop.

        `pitch` is `positions` for the columns' layout, or longer for the padded image's.
        """
        nb = g.shape[0]
        out = _dense(buf, (self.out_c, nb, pitch))
        if self.cropped or pitch > self.positions:
            out.fill(0)
        grid = out[..., : self.positions].reshape((self.out_c, nb) + self.grid)
        grid[(slice(None), slice(None)) + self.crop[2:]] = g.swapaxes(0, 1)
        return out


class _Fold:
    """The input gradient of one block: W^T @ g, then col2im, one add per kernel offset.

    On the flat path the product's columns are laid out with the padded image's own
    pitch, so each kernel offset's add is a single contiguous run over the whole block
    (NumPy's strided adds cost several times more per element). Zeros off the crop make
    the surplus columns exact zeros, and adding them anywhere is harmless.
    """

    @staticmethod
    def weight_rows(p: _Plan, w: np.ndarray) -> np.ndarray:
        """W^T with rows ordered (offset, channel), so each offset's block of the product is contiguous."""
        return w.reshape(p.groups, p.og, p.cg, p.kk).transpose(0, 3, 2, 1).reshape(p.groups, p.kk * p.cg, p.og)

    def __init__(self, p: _Plan, wt: np.ndarray, dtype: np.dtype) -> None:
        self.p, self.wt = p, wt
        self.image = p.size + p.tail  # one padded image's elements
        self.pitch = self.image if p.flat else p.positions
        self.spill = max(p.offsets) if p.flat else 0  # how far the last offset's add runs past the block
        self.g_buf = np.empty(p.out_c * p.block * self.pitch, dtype=dtype)
        self.d_buf = np.empty(p.c * p.kk * p.block * self.pitch, dtype=dtype)
        self.x_buf = np.empty(p.c * p.block * self.image + self.spill, dtype=dtype)
        self.slices = None if p.flat else offset_slices(p.kernel, p.stride, p.dilation, p.out_size)

    def __call__(self, g: np.ndarray, dx: np.ndarray) -> None:
        p, nb = self.p, g.shape[0]
        gm = p.on_grid(g, self.g_buf, self.pitch).reshape(p.groups, p.og, -1)
        d = _dense(self.d_buf, (p.groups, p.kk * p.cg, nb * self.pitch))
        if p.og == 1:  # an outer product (depthwise): NumPy's matmul is ~6x slower at a contraction of one
            np.multiply(self.wt, gm, out=d)
        else:
            np.matmul(self.wt, gm, out=d)
        d = d.reshape(p.groups, p.kk, p.cg * nb * self.pitch)
        dxp = self.x_buf[: p.c * nb * self.image + self.spill]
        dxp.fill(0)
        if p.flat:
            run = p.cg * nb * self.image
            for i, off in enumerate(p.offsets):
                target = dxp[off : off + p.groups * run].reshape(p.groups, run)
                np.add(target, d[:, i], out=target)
        else:
            grid = dxp.reshape((p.groups, p.cg, nb) + p.padded)
            src = d.reshape((p.groups, p.kk, p.cg, nb) + p.out_size)
            for i, (_, where) in enumerate(self.slices):
                target = grid[(slice(None),) * 3 + where]
                np.add(target, src[:, i], out=target)
        grid = dxp[: p.c * nb * self.image].reshape(p.c, nb, self.image)[..., : p.size]
        np.copyto(dx, grid.reshape((p.c, nb) + p.padded)[p.interior].swapaxes(0, 1))


def _dense(buf: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The first prod(shape) elements of a flat scratch buffer, as a C-contiguous array of `shape`."""
    return buf[: math.prod(shape)].reshape(shape)


def _conv_op(x: Tensor, w: Tensor, b: Tensor | None, plan: _Plan) -> Tensor:
    """The whole convolution as one recorded op.

    The first-order backward is plain NumPy: one sweep over the batch blocks (run by
    whichever rule the engine calls first) yields every gradient that is needed, and it
    rebuilds each block's columns from the saved input rather than keeping them alive
    between forward and backward: they are prod(K) times the input, and a block takes a
    fraction of its product to redo. Under `create_graph` the vjps are built from
    `ag.pad`, `ag.sliding_windows`, `ag.fold` and `ag.matmul`, so they are
    differentiable again.
    """
    p = plan
    data = p.forward(x.data, w.data, None if b is None else b.data)
    memo: dict[str, Any] = {}

    def sweep(g: np.ndarray, x_data: np.ndarray, w_data: np.ndarray, which: str) -> np.ndarray:
        if memo.get("g") is not g:
            need = (x.requires_grad, w.requires_grad, b is not None and b.requires_grad)
            memo.clear()
            memo.update(zip(("x", "w", "b"), p.backward(g, x_data, w_data, need)), g=g)
        out = memo.pop(which)
        if all(memo.get(k) is None for k in "xwb"):
            memo.clear()  # every gradient handed out (or never needed): let go of g
        return out

    def grad_x(g: Any, y: Any, x_data: Any, w_data: Any, *b: Any) -> Any:
        if isinstance(g, Tensor):
            return _im2col_grad_x(g, w_data, p)
        return sweep(g, x_data, w_data, "x")

    def grad_w(g: Any, y: Any, x_data: Any, w_data: Any, *b: Any) -> Any:
        if isinstance(g, Tensor):
            return _im2col_grad_w(g, x_data, w_data, p)
        return sweep(g, x_data, w_data, "w")

    def grad_b(g: Any, y: Any, x_data: Any, w_data: Any, b: Any) -> Any:
        if isinstance(g, Tensor):
            return g.sum(axis=(0,) + tuple(range(2, 2 + p.nd)))
        return sweep(g, x_data, w_data, "b")

    if b is None:
        return make_result(data, "conv", (x, w), (grad_x, grad_w))
    return make_result(data, "conv", (x, w, b), (grad_x, grad_w, grad_b))


def _im2col_grad_x(g: Tensor, w: Tensor, p: _Plan) -> Tensor:
    """The input gradient as differentiable ops (for `create_graph`): W^T @ g, then fold (col2im)."""
    gm = g.reshape(p.n, p.groups, p.og, -1)
    dcols = ag.matmul(w.reshape(p.groups, p.og, -1).swapaxes(-1, -2), gm)
    dcols = dcols.reshape((p.n, p.c) + p.kernel + p.out_size)
    return ag.fold(dcols, (p.n, p.c) + p.padded, p.kernel, p.stride, p.dilation)[p.interior]


def _im2col_grad_w(g: Tensor, x: Tensor, w: Tensor, p: _Plan) -> Tensor:
    """The weight gradient as differentiable ops (for `create_graph`): g @ im2col(x)^T summed over the batch."""
    xp = ag.pad(x, ((0, 0), (0, 0)) + p.pads)
    tcols = ag.sliding_windows(xp, p.kernel, p.stride, p.dilation).reshape(p.n, p.groups, p.cg * p.kk, -1)
    return ag.matmul(g.reshape(p.n, p.groups, p.og, -1), tcols.swapaxes(-1, -2)).sum(axis=0).reshape(w.shape)


def _conv(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: int,
          nd: int, op: str) -> Tensor:
    w = as_tensor(weight)
    x = _checks.float_input(op, input, w.dtype)
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
    kind = DepthwisePlan if depthwise_eligible(x.shape, w.shape, groups) else _Plan
    plan = kind(x.shape, w.shape, groups, pads, stride_t, dilation_t, out_size, x.dtype.itemsize)
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
