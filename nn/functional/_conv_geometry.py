"""What every convolution plan knows: shapes, groups, padding and the padded interior.

`conv._Plan` (im2col) and `_depthwise.DepthwisePlan` both start from it, and `conv._conv_op`
and the `create_graph` vjps read only these attributes, whichever plan runs.
"""

from __future__ import annotations

import math


class ConvGeometry:
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
