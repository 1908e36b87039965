"""Convolution and max-pooling written with loops, differentiated, and checked against the library.

    python -m examples.conv_from_scratch            # about 15 s
    python -m examples.conv_from_scratch --quick    # small sizes, for the tests

What it teaches:

1. A convolution layer is a loop over output positions: out[b, f, i, j] is the sum of
   the input patch under filter f times that filter. Max-pooling is the same loop with
   a max instead of a weighted sum. Written that way with NumPy calls on Tensors, and
   with the results stored by index assignment into `ag.zeros(...)` (not `np.zeros`,
   which cannot hold a gradient), autograd differentiates the loops as they are.
2. Padding has to be applied, not only counted in the output size: the input is padded
   with `np.pad` (zeros for convolution, -inf for max-pooling, so that a padded cell
   never wins a window), which dispatches to a differentiable Tensor op. Stride moves
   each window by `stride` cells.
3. The loop versions equal `nn.functional.conv2d` and `nn.functional.max_pool2d`, with
   padding and stride, in their outputs and in the gradients for the input, the weight
   and the bias (float64, differences at rounding level). Max-pooling sends a window's
   gradient to its maximum; the library picks the first maximum on ties, `np.max`
   shares it among tied cells; random inputs have no ties.
4. Why the library vectorises: every loop iteration records a handful of graph nodes,
   so forward and backward cost grows with the number of output positions times the
   Python overhead per node. `nn.functional.conv2d` does the same arithmetic as a few
   large matrix products. The script times both (forward + backward) for a few sizes,
   prints the table and plots it as `conv_from_scratch.png`. On a machine busy with
   other work, BLAS threads waiting for cores can make the library's times jump;
   `OPENBLAS_NUM_THREADS=1` (or `OMP_NUM_THREADS=1`) gives steadier numbers.
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn.functional as F
from autograd_core import Tensor
from examples._figures import save, small_fonts

DEFAULT_OUT = Path(__file__).resolve().parent / "output"
TOLERANCE = 1e-12  # what "equal" means here, in float64


# ----------------------------------------------------------------- the loop versions
def conv2d_loops(x, w, b=None, stride: int = 1, padding: int = 0):  # noqa: ANN001, ANN201
    """Cross-correlation of x (N, C, H, W) with w (F, C, kh, kw), as nn.functional.conv2d computes it."""
    n, _, h, wd = x.shape
    n_f, _, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))  # zeros around each image
    h_out = (h + 2 * padding - kh) // stride + 1
    w_out = (wd + 2 * padding - kw) // stride + 1
    out = ag.zeros((n, n_f, h_out, w_out), dtype=x.dtype)
    for i_img in range(n):
        for f in range(n_f):
            for i in range(h_out):
                for j in range(w_out):
                    top, left = i * stride, j * stride
                    patch = x[i_img, :, top : top + kh, left : left + kw]
                    out[i_img, f, i, j] = np.sum(patch * w[f])
    if b is not None:
        out = out + b.reshape(1, n_f, 1, 1)
    return out


def max_pool2d_loops(x, size: int = 2, stride: int | None = None, padding: int = 0):  # noqa: ANN001, ANN201
    """Max over size x size windows moved by `stride` (default: size), as nn.functional.max_pool2d."""
    stride = size if stride is None else stride
    n, d, h, wd = x.shape
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=-np.inf)
    h_out = (h + 2 * padding - size) // stride + 1
    w_out = (wd + 2 * padding - size) // stride + 1
    out = ag.zeros((n, d, h_out, w_out), dtype=x.dtype)
    for i_img in range(n):
        for c in range(d):
            for i in range(h_out):
                for j in range(w_out):
                    top, left = i * stride, j * stride
                    out[i_img, c, i, j] = np.max(x[i_img, c, top : top + size, left : left + size])
    return out


# ----------------------------------------------------------------- the checks
def _leaves(*arrays: np.ndarray) -> list[Tensor]:
    return [Tensor(a.copy(), requires_grad=True) for a in arrays]


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)))


def check_conv(rng: np.random.Generator, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: int,
               padding: int) -> dict[str, float]:
    """Outputs and input/weight/bias gradients of the loop conv vs nn.functional.conv2d."""
    xs, ws, bs = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    x1, w1, b1 = _leaves(xs, ws, bs)
    x2, w2, b2 = _leaves(xs, ws, bs)
    ours = conv2d_loops(x1, w1, b1, stride=stride, padding=padding)
    theirs = F.conv2d(x2, w2, b2, stride=stride, padding=padding)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    g = rng.standard_normal(ours.shape)  # a random upstream gradient checks the whole vector-Jacobian product
    ours.backward(g)
    theirs.backward(g)
    return {"output": _diff(ours.data, theirs.data), "grad_input": _diff(x1.grad, x2.grad),
            "grad_weight": _diff(w1.grad, w2.grad), "grad_bias": _diff(b1.grad, b2.grad)}


def check_pool(rng: np.random.Generator, x_shape: tuple[int, ...], size: int, stride: int,
               padding: int) -> dict[str, float]:
    """Outputs and input gradients of the loop max-pool vs nn.functional.max_pool2d."""
    xs = rng.standard_normal(x_shape)
    (x1,), (x2,) = _leaves(xs), _leaves(xs)
    ours = max_pool2d_loops(x1, size, stride=stride, padding=padding)
    theirs = F.max_pool2d(x2, size, stride=stride, padding=padding)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    g = rng.standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(g)
    return {"output": _diff(ours.data, theirs.data), "grad_input": _diff(x1.grad, x2.grad)}


# ----------------------------------------------------------------- the timing
def _forward_backward(conv, x: np.ndarray, w: np.ndarray) -> float:  # noqa: ANN001
    xt, wt = _leaves(x, w)
    start = time.perf_counter()
    y = conv(xt, wt, None, stride=1, padding=1)
    y.sum().backward()
    return time.perf_counter() - start


def _best_library_time(x: np.ndarray, w: np.ndarray, min_runs: int = 5, budget_s: float = 0.25) -> float:
    """The fastest of several runs (at least `min_runs`, until `budget_s` is spent): robust to a busy machine."""
    times: list[float] = []
    while len(times) < min_runs or (sum(times) < budget_s and len(times) < 200):
        times.append(_forward_backward(F.conv2d, x, w))
    return min(times)


def time_sizes(rng: np.random.Generator, sizes: list[int], batch: int, channels: int,
               filters: int) -> list[dict[str, float]]:
    """Forward + backward of a 3x3, padding 1 conv: loops (one run) vs nn.functional.conv2d (best of many)."""
    rows = []
    for size in sizes:
        x = rng.standard_normal((batch, channels, size, size))
        w = rng.standard_normal((filters, channels, 3, 3))
        gc.collect()  # start each measurement without the previous one's garbage
        loop = _forward_backward(conv2d_loops, x, w)  # one run is plenty: seconds, not microseconds
        gc.collect()
        library = _best_library_time(x, w)
        positions = batch * filters * size * size
        rows.append({"size": size, "positions": positions, "loop_s": loop, "library_s": library,
                     "speedup": loop / library})
        print(f"  {str((batch, channels, size, size)):>16s} {str((filters, channels, 3, 3)):>14s} {positions:>10,d} "
              f"{loop * 1e3:>12.1f} {library * 1e3:>12.2f} {loop / library:>9.0f}x")
    return rows


def save_plot(rows: list[dict[str, float]], shape_note: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(8, 3.5))
    positions = [r["positions"] for r in rows]
    ax_t.loglog(positions, [r["loop_s"] * 1e3 for r in rows], "o-", label="loops on ag.zeros")
    ax_t.loglog(positions, [r["library_s"] * 1e3 for r in rows], "s-", label="nn.functional.conv2d")
    ax_t.set(xlabel="output positions (N x F x H_out x W_out)", ylabel="forward + backward (ms)",
             title="Time for one forward + backward")
    ax_t.minorticks_off()
    ax_t.set_xticks(positions, [f"{p:,}" for p in positions])
    ax_t.legend(fontsize=7)
    labels = [f"{int(r['size'])}x{int(r['size'])}" for r in rows]
    bars = ax_s.bar(labels, [r["speedup"] for r in rows], color="#0072B2")
    ax_s.bar_label(bars, labels=[f"{r['speedup']:.0f}x" for r in rows], fontsize=7)
    ax_s.set(xlabel=f"image size ({shape_note})", ylabel="speedup of the library", title="Why the library vectorises")
    small_fonts(ax_t, ax_s)
    save(fig, path)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="Loop-style conv2d and max-pool, differentiated and timed.")
    parser.add_argument("--quick", action="store_true", help="small timing sizes (what the tests run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the figure goes")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()

    # Odd, non-square images and several stride/padding pairs, so every edge case of the index arithmetic runs.
    results: dict[str, float] = {}
    print("Loop conv2d vs nn.functional.conv2d: max |difference| (x (2, 3, 7, 6), w (4, 3, 3, 3), with bias)")
    print(f"  {'stride':>6s} {'padding':>7s} {'output':>9s} {'d input':>9s} {'d weight':>9s} {'d bias':>9s}")
    conv_worst = dict.fromkeys(("output", "grad_input", "grad_weight", "grad_bias"), 0.0)
    for stride, padding in [(1, 0), (1, 1), (2, 1), (2, 2), (3, 1)]:
        d = check_conv(rng, (2, 3, 7, 6), (4, 3, 3, 3), stride, padding)
        conv_worst = {k: max(conv_worst[k], d[k]) for k in conv_worst}
        print(f"  {stride:>6d} {padding:>7d} " + " ".join(f"{d[k]:>9.1e}" for k in conv_worst))
    print("Loop max-pool vs nn.functional.max_pool2d: max |difference| (x (2, 3, 9, 8))")
    print(f"  {'size':>4s} {'stride':>6s} {'padding':>7s} {'output':>9s} {'d input':>9s}")
    pool_worst = {"output": 0.0, "grad_input": 0.0}
    for size, stride, padding in [(2, 2, 0), (2, 2, 1), (3, 2, 1), (3, 1, 1), (2, 1, 0)]:
        d = check_pool(rng, (2, 3, 9, 8), size, stride, padding)
        pool_worst = {k: max(pool_worst[k], d[k]) for k in pool_worst}
        print(f"  {size:>4d} {stride:>6d} {padding:>7d} " + " ".join(f"{d[k]:>9.1e}" for k in pool_worst))
    results.update({f"conv_{k}_max_diff": v for k, v in conv_worst.items()})
    results.update({f"pool_{k}_max_diff": v for k, v in pool_worst.items()})
    results["max_abs_diff"] = max(max(conv_worst.values()), max(pool_worst.values()))

    batch, channels, filters = (1, 2, 4) if args.quick else (4, 3, 8)
    sizes = [4, 8] if args.quick else [8, 16, 24, 32]
    print("\nTiming: 3x3 conv, padding 1, forward + backward (library: fastest of >= 5 runs)")
    print(f"  {'input':>16s} {'weight':>14s} {'positions':>10s} {'loops (ms)':>12s} {'library (ms)':>12s} "
          f"{'speedup':>9s}")
    rows = time_sizes(rng, sizes, batch, channels, filters)
    results["speedup_largest"] = rows[-1]["speedup"]
    results["loop_us_per_position"] = rows[-1]["loop_s"] / rows[-1]["positions"] * 1e6

    plot = args.out / "conv_from_scratch.png"
    save_plot(rows, f"N={batch}, C={channels}, F={filters}", plot)
    print(f"\nloop conv/pool vs nn.functional, outputs and gradients: max difference {results['max_abs_diff']:.1e} "
          f"(reference: under {TOLERANCE:.0e} in float64)")
    print(f"library speedup at {sizes[-1]}x{sizes[-1]}: {results['speedup_largest']:.0f}x "
          f"({results['loop_us_per_position']:.0f} us per output position for the loops)")
    print(f"saved {plot} ({time.perf_counter() - t0:.1f}s)")
    return results


if __name__ == "__main__":
    main()
