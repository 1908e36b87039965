"""Depthwise `conv1d` / `conv2d` (groups == in_channels, a few filters each): small products per channel.

A depthwise filter sees one input channel, so im2col's contraction is only prod(K) long
and the general path (`conv._Plan`) spends its time copying columns. Here the work is
channel-major: a channel's images are one flat run of `pitch`-wide rows (every padded
row of every image, no stored column padding), so a kernel row's shift is a shift by
whole rows and, with unit width stride, a kernel column's shift is a flat shift of the
run. 1-d runs as a height-1 image. Everything runs in tiles (a few channels x a range
of images) sized to stay in cache.

Forward: X is kw shifted copies of the padded input (one strided copy; the few columns
a shift wraps across a row are then zeroed: they read padding) and a row of ones. One
matmul per channel, `[W | b] (m*kh, kw + 1) @ X`, puts filter r's sum over kernel row i
in row (r, i), at the input's rows; output row o adds kernel row i's products from image
row o*sh + i*dh (kh - 1 adds of whole shifted runs), and one copy crops them into y.

Backward: the output gradient goes onto the grid, zero wherever no output lands (a
stride's skipped rows included). With G its kh row shifts, `G @ [X; 1]ᵀ` is the weight
gradient and, in the ones' column, the bias gradient; `Wᵀ @ G` is the input gradient's
kw column parts, added with their shifts and cropped. For kernels wider than tall (1-d's)
the roles turn, so that there are kh - 1 adds instead of kw - 1: Gc is the gradient's kw
column shifts, `W @ Gc` its kh row parts, and Gc against the input's kh row shifts the
weight gradient. Every pass is a copy, a whole-run add or a small matmul: NumPy adds long
contiguous runs about 2.5x faster than image-shaped views. A width stride gathers every
sw-th column instead of a flat shift (and scatters back in the backward).

Threads take whole channel blocks, each with scratch of its own and BLAS held at one
thread. A channel's arithmetic does not depend on the thread that runs it, and its weight
gradient sums the image ranges in a fixed order, so any thread count gives the one-thread
results bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from autograd_core import parallel

from ._conv_geometry import ConvGeometry

# Scratch bytes per tile (the backward's, the larger). Measured on 32x64x28x28: 4 channels a tile
# (6 MB) beat 2, 3 and 6 at one and at two threads; smaller tiles pay more Python and GIL
# hand-offs per tile than they gain in cache, bigger ones spill to L3.
TILE_BYTES = 6 << 20
# Bytes of one channel's run (its rows' length): a product's few rows of it must stay in a core's
# L2 (1 MB here). On 16x32x112x112, 6 images (306 KB) ran 1.6x faster than 7.
RUN_BYTES = 1 << 18
# With more filters per channel than this, im2col's product (m rows per channel) beats ours (m*kh
# rows): measured at 32x32x28x28, 3x3, m = 1, 2, 3, 4 ran 0.5x, 0.8x, 0.95x and 1.15x its time.
MAX_MULTIPLIER = 3
# Runs from this long take the weight gradient's products one channel at a time (see `_products`).
DOT_RUN = 4096
# Tiles split the channels at least this many ways (so that threads have blocks to share).
MIN_BLOCKS = 4
# Multiply-adds a thread must get for a split to pay (about a millisecond here): every NumPy call
# of a tile hands the GIL over, and on 2x64x28x28 or 8x64x128 (1-d) two threads ran 1.3-2x slower.
WORK_PER_THREAD = 1 << 21

Scratch = dict[Any, Any]  # a chunk's buffers (by name) and each tile shape's views of them (by key)


def depthwise_eligible(x_shape: tuple[int, ...], w_shape: tuple[int, ...], groups: int) -> bool:
    """Whether `DepthwisePlan` runs this convolution: 1-d or 2-d, one input channel per group, at most
    MAX_MULTIPLIER filters each, and more than one channel (one channel is a plain convolution, which
    im2col runs as fast)."""
    c, nd = x_shape[1], len(w_shape) - 2
    return (nd in (1, 2) and c > 1 and groups == c and w_shape[1] == 1 and w_shape[0] % c == 0
            and w_shape[0] // c <= MAX_MULTIPLIER)


def _aligned(shape: tuple[int, ...], dtype: np.dtype, zero: bool) -> np.ndarray:
    """A C-contiguous array on a 64-byte boundary (so every tile's rows align alike for BLAS)."""
    nbytes = math.prod(shape) * dtype.itemsize
    raw = (np.zeros if zero else np.empty)(nbytes + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def _round_up(n: int) -> int:
    return -(-n // 16) * 16  # rows of whole 64-byte lines keep every row's start aligned


class DepthwisePlan(ConvGeometry):
    """Shapes and tiles of one depthwise convolution, with the interface of `conv._Plan`."""

    def __init__(self, x_shape: tuple[int, ...], w_shape: tuple[int, ...], groups: int,
                 pads: tuple[tuple[int, int], ...], stride: tuple[int, ...], dilation: tuple[int, ...],
                 out_size: tuple[int, ...], itemsize: int) -> None:
        super().__init__(x_shape, w_shape, groups, pads, stride, dilation, out_size)  # cg is 1: groups == c
        # The 2-d geometry everything below runs on.
        lift = (1,) * (2 - self.nd)
        self.h, self.w = lift + tuple(x_shape[2:])
        self.kh, self.kw = lift + self.kernel
        self.sh, self.sw = lift + stride
        self.dh, self.dw = lift + dilation
        (self.pt, _), (self.pl, _) = ((0, 0),) * (2 - self.nd) + tuple(pads)
        self.hp, self.wp = lift + self.padded
        self.oh, self.ow = lift + out_size
        self.m = self.og
        self.flat = self.sw == 1
        if self.flat:
            # Output column q, kernel column j reads input column q + shift[j] of the same row.
            self.pitch = max(self.w, self.ow)
            self.shifts = [j * self.dw - self.pl for j in range(self.kw)]
            before, after = max(0, -min(self.shifts)), max(0, max(self.shifts))
        else:
            self.pitch, self.shifts, before, after = self.ow, [], 0, 0
        self.image = self.hp * self.pitch
        # Tiles: `block` channels x `images` images, about TILE_BYTES of scratch rows.
        # Rows of one image per channel: X (kw + ones) and its input, G and its gradient, D and its sum.
        rows = 2 * self.kw + 3 + self.m * (self.kh + 1) + (self.m * self.kw if self.m > 1 else 0)
        per_image = rows * self.image * itemsize
        self.images = max(1, min(self.n, TILE_BYTES // per_image, RUN_BYTES // (self.image * itemsize)))
        # At least MIN_BLOCKS blocks to share between threads; the tiles never depend on the thread count.
        self.block = max(1, min(-(-self.c // MIN_BLOCKS), TILE_BYTES // (per_image * self.images)))
        run = self.images * self.image  # the longest tile's run
        self.before, self.after = before, after  # how far column shifts read before and past a run
        # The backward's orientation: row-shifted gradient copies and column-shift adds (kw - 1 of
        # them), or, for kernels wider than tall (1-d's), column-shifted copies and row-shift adds.
        self.wide = self.flat and self.kw > self.kh
        self.g_at = (self.kh - 1) * self.dh * self.pitch  # how far G's row shifts read before its run
        self.d_at = after  # D's column shifts read `after` before its run and `before` past it
        self.drow = _round_up(after + run + before)

    # -- tiles and scratch -------------------------------------------------------------------------------------

    def _sweep(self, body: Callable[[int, int, int, int, Scratch], None]) -> None:
        """`body(c0, c1, n0, n1, scratch)` over every tile: channel blocks in order, each block's image
        ranges in order; whole blocks go to the pool's threads when there is enough work.

        BLAS stays at one thread: its products here are a few rows deep, too small to split.
        """
        workers = parallel.workers_for(self.n * self.out_c * self.kk * self.image, WORK_PER_THREAD)
        blocks = [(c, min(c + self.block, self.c)) for c in range(0, self.c, self.block)]
        ranges = [(i, min(i + self.images, self.n)) for i in range(0, self.n, self.images)]

        def chunk(start: int, stop: int) -> None:
            scratch: Scratch = {}
            for c0, c1 in blocks[start:stop]:
                for n0, n1 in ranges:
                    body(c0, c1, n0, n1, scratch)

        with parallel.blas_threads(1):
            parallel.parallel_for(len(blocks), chunk, min(workers, len(blocks)))

    def _buffer(self, scratch: Scratch, name: str, shape: tuple[int, ...], dtype: np.dtype,
                zero: bool = False) -> np.ndarray:
        """A chunk's scratch buffer `name`, made on first use (zeros where the code relies on them)."""
        buf = scratch.get(name)
        if buf is None:
            buf = scratch[name] = _aligned(shape, np.dtype(dtype), zero)
        return buf

    def _grid(self, a: np.ndarray, at: int, ni: int) -> np.ndarray:
        """Rows `a` (k, at + ni * image + ...) as the grid (k, ni, padded_h, pitch) of a run starting at `at`."""
        return a[:, at : at + ni * self.image].reshape(a.shape[0], ni, self.hp, self.pitch)

    def _wrapped(self, grid: np.ndarray, shift: int) -> list[np.ndarray]:
        """The columns of `grid` where a flat shift by `shift` ran into the neighbouring row."""
        if shift > 0:
            return [grid[..., max(self.pitch - shift, 0) :]]
        return [grid[..., : min(-shift, self.pitch)]] if shift < 0 else []

    def _adds(self, parts: list[tuple[np.ndarray, int]], run: int, scratch: Scratch,
              name: str) -> tuple[list[tuple[np.ndarray, ...]], np.ndarray]:
        """The adds (a, b, out) that sum `parts` (rows a, shift s) of a[:, s : s + run] as whole runs, and
        the (rows, >= run) result. Positions whose terms would run off a row are left unset: no output
        reads them."""
        (first, lead), rest = parts[0], parts[1:]
        if not rest:
            return [], first[:, lead : lead + run]
        acc = self._buffer(scratch, name, (self.block * self.m, self.images * self.image), first.dtype)
        acc = acc[: first.shape[0]]
        span = min([run] + [a.shape[1] - s for a, s in parts])
        out = acc[:, :span]
        (second, at) = rest[0]
        ops = [(first[:, lead : lead + span], second[:, at : at + span], out)]
        return ops + [(out, a[:, s : s + span], out) for a, s in rest[1:]], acc

    def _columns(self, x4: np.ndarray, tile: tuple[int, int, int, int], scratch: Scratch,
                 ones: bool) -> np.ndarray:
        """X of a tile: (channels, kw [+ ones], run); column q of row j holds what kernel column j of
        output column q reads."""
        c0, c1, n0, n1 = tile
        home, copies, clears, operand = _views(scratch, ("x", c1 - c0, n1 - n0, ones, x4.dtype), self._column_views)
        np.copyto(home, x4[n0:n1, c0:c1].transpose(1, 0, 2, 3))
        for target, source in copies:
            np.copyto(target, source)
        for cols in clears:
            cols.fill(0)
        return operand

    def _column_views(self, scratch: Scratch, nb: int, ni: int, ones: bool, dtype: np.dtype) -> tuple:
        """X holds each channel's rows (kw shifted copies, then the ones) back to back, one full tile's
        run each: a channel's rows are then one contiguous matrix (see `_products`). The padded input
        itself sits in a buffer of its own (copies between separate buffers skip NumPy's overlap copy)."""
        kw, full, run = self.kw, self.images * self.image, ni * self.image
        xs = self._buffer(scratch, "x", (self.block, kw + 1, full), dtype)
        if ones and "ones" not in scratch:
            scratch["ones"] = xs[:, kw]
            xs[:, kw].fill(1)
        operand = xs[:nb, : kw + ones, :run]
        if not self.flat:
            xp = self._buffer(scratch, "xp", (self.block, self.images, self.hp, self.wp), dtype, zero=True)
            span = (self.ow - 1) * self.sw + 1
            copies = [(self._grid(xs[:nb, j], 0, ni), xp[:nb, :ni, :, j * self.dw : j * self.dw + span : self.sw])
                      for j in range(kw)]
            return xp[:nb, :ni, self.pt : self.pt + self.h, self.pl : self.pl + self.w], copies, [], operand
        # Row j is the padded input moved by shift[j] (whose zeros around it are never written), with
        # the columns a shift wraps across a grid row zeroed after the copy.
        at = self.before
        home = self._buffer(scratch, "xh", (self.block, at + full + self.after), dtype, zero=True)[:nb]
        # All kw shifted copies as one: row j reads the input from shift[0] + j*dw on.
        start = home[:, at + self.shifts[0] :]
        step = (home.strides[0], self.dw * home.itemsize, home.itemsize)
        copies = [(xs[:nb, :kw, :run], as_strided(start, (nb, kw, run), step, writeable=False))]
        clears = [v for j, s in enumerate(self.shifts) for v in self._wrapped(self._grid(xs[:nb, j], 0, ni), s)]
        return self._grid(home, at, ni)[:, :, self.pt : self.pt + self.h, : self.w], copies, clears, operand

    # -- forward -----------------------------------------------------------------------------------------------

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """The convolution (N, out, *O)."""
        m, kh, kw = self.m, self.kh, self.kw
        y = np.empty((self.n, self.out_c) + self.out_size, dtype=x.dtype)
        if self.n == 0:
            return y
        x4 = x.reshape(self.n, self.c, self.h, self.w)
        y4 = y.reshape(self.n, self.out_c, self.oh, self.ow)
        wm = w.reshape(self.c, m * kh, kw)  # rows (filter r, kernel row i)
        if b is not None:
            # The bias rides in the product: a column against X's ones, on kernel row 0's rows.
            bias = np.zeros((self.c, m, kh, 1), dtype=x.dtype)
            bias[:, :, 0, 0] = b.reshape(self.c, m)
            wm = np.concatenate([wm, bias.reshape(self.c, m * kh, 1)], axis=2)

        def body(c0: int, c1: int, n0: int, n1: int, scratch: Scratch) -> None:
            xs = self._columns(x4, (c0, c1, n0, n1), scratch, ones=b is not None)
            prod, adds, crop = _views(scratch, ("y", c1 - c0, n1 - n0, x.dtype), self._output_views)
            _product(wm[c0:c1], xs, prod)
            for a, b_, out in adds:
                np.add(a, b_, out=out)
            np.copyto(y4[n0:n1, c0 * m : c1 * m].transpose(1, 0, 2, 3), crop)

        self._sweep(body)
        return y

    def _output_views(self, scratch: Scratch, nb: int, ni: int, dtype: np.dtype) -> tuple:
        """The product's rows, the adds that sum kernel row i's products i*dh rows down (output row o
        sums them at image row o*sh + i*dh), and the sum's crop onto the output."""
        m, kh, run = self.m, self.kh, ni * self.image
        prod = self._buffer(scratch, "prod", (self.block * m * kh, self.images * self.image), dtype)
        rows = prod[: nb * m * kh, :run].reshape(nb * m, kh, run)
        adds, acc = self._adds([(rows[:, i], i * self.dh * self.pitch) for i in range(kh)], run, scratch, "acc")
        crop = self._grid(acc, 0, ni)[:, :, : (self.oh - 1) * self.sh + 1 : self.sh, : self.ow]
        return rows.reshape(nb, m * kh, run), adds, crop

    # -- backward ----------------------------------------------------------------------------------------------

    def backward(self, g: np.ndarray, x: np.ndarray, w: np.ndarray,
                 need: tuple[bool, bool, bool]) -> tuple[np.ndarray | None, ...]:
        """(input, weight, bias) gradients for the output gradient `g`, each only where `need` says."""
        need_x, need_w, need_b = need
        m, kh, kw, dt = self.m, self.kh, self.kw, g.dtype
        dx = np.empty(x.shape, dtype=dt) if need_x else None
        dw = np.zeros(w.shape, dtype=dt) if need_w else None
        db = np.zeros(self.out_c, dtype=dt) if need_b else None
        if self.n == 0 or not any(need):
            return dx, dw, db
        g4 = g.reshape(self.n, self.out_c, self.oh, self.ow)
        x4 = x.reshape(self.n, self.c, self.h, self.w)
        dx4 = None if dx is None else dx.reshape(self.n, self.c, self.h, self.w)
        wt = w.reshape(self.c, m, kh, kw).transpose(0, 1, 3, 2)  # Wᵀ: (filter r, kernel column j, kernel row i)
        dw4 = None if dw is None else dw.reshape(self.c, m, kh, kw)
        db2 = None if db is None else db.reshape(self.c, m)

        if self.wide:
            self._sweep(lambda *tile: self._wide_tile(g4, x4, w, tile[:4], tile[4], dx4, dw4, db2))
            return dx, dw, db

        def body(c0: int, c1: int, n0: int, n1: int, scratch: Scratch) -> None:
            gs = self._shifted_grad(g4, (c0, c1, n0, n1), scratch)  # (channels, m, kh, run)
            if need_w:
                # One product per (channel, filter): G's rows against X's, and against the ones (the bias).
                xs = self._columns(x4, (c0, c1, n0, n1), scratch, ones=need_b)
                prod = _products(gs, xs.transpose(0, 2, 1))
                _accumulate(dw4[c0:c1], prod[..., :kw], n0)
                if need_b:
                    _accumulate(db2[c0:c1], prod[:, :, 0, kw], n0)
            elif need_b:
                _accumulate(db2[c0:c1], gs[:, :, 0].sum(axis=-1), n0)
            if need_x:
                self._input_grad(gs, wt[c0:c1], dx4[n0:n1, c0:c1].transpose(1, 0, 2, 3), scratch)

        self._sweep(body)
        return dx, dw, db

    def _shifted_grad(self, g4: np.ndarray, tile: tuple[int, int, int, int], scratch: Scratch) -> np.ndarray:
        """G of a tile: (channels, m, kh, run); row i is the output gradient where kernel row i's
        products sit (image row o*sh + i*dh), zero wherever no output lands."""
        c0, c1, n0, n1 = tile
        top, copies, gs = _views(scratch, ("g", c1 - c0, n1 - n0, g4.dtype), self._grad_views)
        np.copyto(top, g4[n0:n1, c0 * self.m : c1 * self.m].transpose(1, 0, 2, 3))  # the zeros around stay
        for target, source in copies:
            np.copyto(target, source)
        return gs

    def _grad_views(self, scratch: Scratch, nb: int, ni: int, dtype: np.dtype) -> tuple:
        """G holds each (channel, filter)'s kh rows back to back, copied from the gradient on its grid
        (in a buffer of its own, with the zeros that the row shifts read before it)."""
        m, kh, at, full, run = self.m, self.kh, self.g_at, self.images * self.image, ni * self.image
        home = self._buffer(scratch, "gh", (self.block * m, at + full), dtype, zero=True)[: nb * m]
        gs = self._buffer(scratch, "g", (self.block * m, kh, full), dtype)[: nb * m]
        top = self._grid(home, at, ni)[:, :, : (self.oh - 1) * self.sh + 1 : self.sh, : self.ow]
        # All kh row shifts as one copy: row i reads the gradient from i*dh rows before it.
        step = (home.strides[0], -self.dh * self.pitch * home.itemsize, home.itemsize)
        copies = [(gs[:, :, :run], as_strided(home[:, at:], (nb * m, kh, run), step, writeable=False))]
        return top, copies, gs.reshape(nb, m, kh, full)[..., :run]

    def _input_grad(self, gs: np.ndarray, wt: np.ndarray, out: np.ndarray, scratch: Scratch) -> None:
        """A tile's dx into `out` (channels, images, H, W): D = Wᵀ @ G, whose row j is kernel column
        j's part, added where that column's input sits."""
        views = _views(scratch, ("dx", gs.shape[0], out.shape[1], gs.dtype), self._input_views)
        target, prod, clears, adds, dxp, scatter, crop = views
        if prod is None:
            _product(wt[:, 0], gs[:, 0], target)
        else:
            np.sum(_product(wt, gs, prod), axis=1, out=target)
        for cols in clears:
            cols.fill(0)
        for a, b, o in adds:
            np.add(a, b, out=o)
        if dxp is not None:
            dxp.fill(0)
            for cols, part in scatter:
                np.add(cols, part, out=cols)
        np.copyto(out, crop)

    def _input_views(self, scratch: Scratch, nb: int, ni: int, dtype: np.dtype) -> tuple:
        m, kw, at, run = self.m, self.kw, self.d_at, ni * self.image
        d = self._buffer(scratch, "d", (kw, self.block, self.drow), dtype, zero=True)[:, :nb]
        target = d[..., at : at + run].transpose(1, 0, 2)
        prod = None
        if m > 1:
            prod = self._buffer(scratch, "dm", (self.block, m, kw, self.images * self.image), dtype)[:nb, :, :, :run]
        if self.flat:
            # Columns a shift would carry into the neighbouring row feed no input; input column q
            # takes D_j at q - shift[j], a flat shift of the run.
            clears = [v for j, s in enumerate(self.shifts) for v in self._wrapped(self._grid(d[j], at, ni), s)]
            adds, acc = self._adds([(d[j], at - s) for j, s in enumerate(self.shifts)], run, scratch, "dacc")
            crop = self._grid(acc, 0, ni)[:, :, self.pt : self.pt + self.h, : self.w]
            return target, prod, clears, adds, None, [], crop
        dxp = self._buffer(scratch, "dxp", (self.block, self.images, self.hp, self.wp), dtype)[:nb, :ni]
        span = (self.ow - 1) * self.sw + 1
        scatter = [(dxp[..., j * self.dw : j * self.dw + span : self.sw], self._grid(d[j], at, ni)) for j in range(kw)]
        return target, prod, [], [], dxp, scatter, dxp[:, :, self.pt : self.pt + self.h, self.pl : self.pl + self.w]


    # -- backward, wide kernels -------------------------------------------------------------------------------

    def _wide_tile(self, g4: np.ndarray, x4: np.ndarray, w: np.ndarray, tile: tuple[int, int, int, int],
                   scratch: Scratch, dx4: np.ndarray | None, dw4: np.ndarray | None, db2: np.ndarray | None) -> None:
        """One tile's gradients with Gc (channel, (filter r, kernel column j), run): the output gradient
        on its grid moved by -shift[j] columns, i.e. where kernel column j's input sits. Then
        E = W @ Gc sums the filters and kernel columns for each kernel row i, and input row r takes
        E_i from row r - i*dh; the weight gradient pairs Gc with the input moved up i*dh rows."""
        c0, c1, n0, n1 = tile
        nb, m, kh, kw, dt = c1 - c0, self.m, self.kh, self.kw, g4.dtype
        top, copies, clears, gc, sums = _views(scratch, ("gc", nb, n1 - n0, dt), self._wide_grad_views)
        np.copyto(top, g4[n0:n1, c0 * m : c1 * m].transpose(1, 0, 2, 3))  # the zeros around stay
        for target, source in copies:
            np.copyto(target, source)
        for cols in clears:
            cols.fill(0)
        if db2 is not None:
            _accumulate(db2[c0:c1], np.sum(sums, axis=1).reshape(nb, m), n0)
        if dw4 is not None:
            home, copies, xr = _views(scratch, ("xr", nb, n1 - n0, dt), self._row_input_views)
            np.copyto(home, x4[n0:n1, c0:c1].transpose(1, 0, 2, 3))
            for target, source in copies:
                np.copyto(target, source)
            prod = _products(gc.reshape(nb, m, kw, -1), xr.transpose(0, 2, 1))  # (nb, m, kw, kh)
            _accumulate(dw4[c0:c1], prod.transpose(0, 1, 3, 2), n0)
        if dx4 is not None:
            target, adds, crop = _views(scratch, ("e", nb, n1 - n0, dt), self._wide_input_views)
            wb = w[c0 * m : c1 * m].reshape(nb, m, kh, kw).transpose(0, 2, 1, 3).reshape(nb, kh, m * kw)
            _product(wb, gc, target)
            for a, b, o in adds:
                np.add(a, b, out=o)
            np.copyto(dx4[n0:n1, c0:c1].transpose(1, 0, 2, 3), crop)

    def _wide_grad_views(self, scratch: Scratch, nb: int, ni: int, dtype: np.dtype) -> tuple:
        m, kw, full, run = self.m, self.kw, self.images * self.image, ni * self.image
        at = self.after  # Gc_j reads the gradient shift[j] before (and -shift[j] past) its position
        home = self._buffer(scratch, "gch", (self.block * m, at + full + self.before), dtype, zero=True)[: nb * m]
        gc = self._buffer(scratch, "gc", (self.block, m * kw, full), dtype)[:nb]
        top = self._grid(home, at, ni)[:, :, : (self.oh - 1) * self.sh + 1 : self.sh, : self.ow]
        step = (m * home.strides[0], home.strides[0], -self.dw * home.itemsize, home.itemsize)
        source = as_strided(home[:, at - self.shifts[0] :], (nb, m, kw, run), step, writeable=False)
        rows = gc.reshape(nb, m, kw, full)
        grids = [self._grid(rows[:, :, j].reshape(nb * m, full), 0, ni) for j in range(kw)]
        clears = [v for grid, s in zip(grids, self.shifts) for v in self._wrapped(grid, -s)]
        return top, [(rows[..., :run], source)], clears, gc[..., :run], home[:, at : at + run]

    def _row_input_views(self, scratch: Scratch, nb: int, ni: int, dtype: np.dtype) -> tuple:
        """The input on its grid, and its kh copies moved up i*dh rows (the home row itself for kh = 1)."""
        kh, full, run = self.kh, self.images * self.image, ni * self.image
        tail = (kh - 1) * self.dh * self.pitch
        home = self._buffer(scratch, "xrh", (self.block, full + tail), dtype, zero=True)[:nb]
        grid = self._grid(home, 0, ni)[:, :, self.pt : self.pt + self.h, : self.w]
        if kh == 1:
            return grid, [], home[:, None, :run]
        xr = self._buffer(scratch, "xr", (self.block, kh, full), dtype)[:nb]
        step = (home.strides[0], self.dh * self.pitch * home.itemsize, home.itemsize)
        return grid, [(xr[..., :run], as_strided(home, (nb, kh, run), step, writeable=False))], xr[..., :run]

    def _wide_input_views(self, scratch: Scratch, nb: int, ni: int, dtype: np.dtype) -> tuple:
        kh, full, run = self.kh, self.images * self.image, ni * self.image
        at = (kh - 1) * self.dh * self.pitch  # E_i is read i*dh rows before each position
        e = self._buffer(scratch, "e", (self.block, kh, at + full), dtype, zero=True)[:nb]
        adds, acc = self._adds([(e[:, i], at - i * self.dh * self.pitch) for i in range(kh)], run, scratch, "dacc")
        return e[..., at : at + run], adds, self._grid(acc, 0, ni)[:, :, self.pt : self.pt + self.h, : self.w]


def _views(scratch: Scratch, key: tuple, build: Callable[..., tuple]) -> tuple:
    """The views of a chunk's scratch for one tile shape, `build(scratch, *key[1:])` on first use: every
    full tile reuses them, so a tile costs its NumPy calls and little Python."""
    views = scratch.get(key)
    if views is None:
        views = scratch[key] = build(scratch, *key[1:])
    return views


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """a @ b into `out`; a contraction of one (a 1x1 kernel's) is an outer product, which NumPy's
    matmul takes several times longer over than a broadcast multiply."""
    if a.shape[-1] == 1:
        return np.multiply(a, b, out=out)
    return np.matmul(a, b, out=out)


def _products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b per (channel, filter) for a (channels, m, rows, run) and b (channels, run, cols).

    These products are long and thin (`run` deep, a few rows and columns), and NumPy's matmul
    keeps the GIL through any product with so small an output, which would serialise the
    threads; `np.dot` lets it go. Its calls (one per channel and filter) pay once runs are long.
    """
    if a.shape[-1] < DOT_RUN or not (a[0, 0].flags.c_contiguous and b[0].flags.f_contiguous):
        return np.matmul(a, b[:, None])
    out = np.empty(a.shape[:-1] + b.shape[-1:], dtype=a.dtype)
    for c, r in np.ndindex(*a.shape[:2]):
        np.dot(a[c, r], b[c], out=out[c, r])
    return out


def _accumulate(total: np.ndarray, part: np.ndarray, n0: int) -> None:
    """The first image range's partial sum sets `total`, later ones add to it (always in range order)."""
    if n0 == 0:
        np.copyto(total, part)
    else:
        np.add(total, part, out=total)
