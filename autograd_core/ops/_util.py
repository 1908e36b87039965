"""Helpers shared by the op families: axis normalisation and reduced-gradient expansion."""

from __future__ import annotations

from typing import Any

import numpy as np


def normalize_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """`axis` (None, int or tuple, negatives allowed) as a sorted tuple of positive axes."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        try:
            a = int(a)  # also accepts NumPy integers, rejects floats below
        except TypeError:
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}") from None
        if isinstance(items[0], float):
            raise TypeError(f"{op}: axis must be an int, got {axis!r}")
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{op}: axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out)) if ndim else ()


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` with the reduced `axes` kept as size 1 (the keepdims=True shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def expand_reduced(g: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Broadcast the gradient of a reduction back over the reduced `axes` of `shape`."""
    return np.broadcast_to(g.reshape(kept_shape(shape, axes)), shape)


def keep(g: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Reshape a reduced value to its keepdims form, so it broadcasts against the input."""
    return g.reshape(kept_shape(shape, axes))
