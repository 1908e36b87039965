"""`dropout`: inverted dropout (kept units scaled by 1/(1-p)), so evaluation needs no rescaling."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core.tensor import make_result

from .. import _checks, init


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability `p` and scale the rest by 1/(1-p); identity when not training.

    The mask comes from `nn`'s generator (`nn.manual_seed` makes it reproducible).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    # Checked in eval mode too: an int input must not pass evaluation and fail only in training.
    x = _checks.float_input("dropout", input)
    if not training or p == 0.0:
        return x
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    keep = init.generator().random(x.shape, dtype=dtype) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = keep.astype(x.dtype) * x.dtype.type(scale)
    return make_result(x.data * mask, "dropout", (x,), (lambda g, y, x: g * mask,))
