"""The default float dtype that Python floats and lists of floats become."""

from __future__ import annotations

import numpy as np

_default = np.dtype(np.float32)


def get_default_dtype() -> np.dtype:
    """The dtype Python floats take when they become Tensors (float32 unless changed)."""
    return _default


def set_default_dtype(dtype: object) -> None:
    """Set the float dtype for Python floats and new `nn` parameters (e.g. `np.float64`)."""
    global _default
    d = np.dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default = d


def is_differentiable_dtype(dtype: np.dtype) -> bool:
    """Only real floating-point tensors can carry gradients."""
    return dtype.kind == "f"
