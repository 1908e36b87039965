"""Shape ops: they move values around without changing them, so gradients move back."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tensor import Tensor, as_tensor, make_result, make_view
from ._util import normalize_axes, normalize_axis


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        return tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"reshape: shape must be ints, got {shape!r}") from None


def _reshaped(x: Tensor, shape: Any, op: str, copy: bool = False) -> Tensor:
    try:
        data = x.data.reshape(shape)
    except ValueError:
        raise ValueError(f"{op}: cannot reshape an array of shape {x.shape} into shape {shape}") from None
    back = x.shape
    vjps = (lambda g, y, x: g.reshape(back),)
    new_shape = data.shape
    jvp = lambda ts, y, x: ts[0].reshape(new_shape)
    if copy:
        return make_result(data.copy(), op, (x,), vjps, jvp)
    return make_view(data, op, x, vjps, lambda t: t.reshape(new_shape), jvp)


def reshape(x: Any, *shape: Any) -> Tensor:
    """Same values in a new shape (`-1` infers one dimension); `reshape(2, 3)` or `reshape((2, 3))`."""
    return _reshaped(as_tensor(x), _shape_arg(shape), "reshape")


def flatten(x: Any) -> Tensor:
    """A 1-d copy of the values, in C order (`ndarray.flatten`: writes to it leave `x` alone)."""
    return _reshaped(as_tensor(x), (-1,), "flatten", copy=True)


def ravel(x: Any) -> Tensor:
    """The values as 1-d, in C order: a view of `x` where NumPy's `ravel` gives one."""
    return _reshaped(as_tensor(x), (-1,), "ravel")


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Remove size-1 axes (all of them, or those in `axis`)."""
    x = as_tensor(x)
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        axes = normalize_axes(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: cannot squeeze axis {a} of shape {x.shape}: its size is not 1")
    return _reshaped(x, tuple(n for i, n in enumerate(x.shape) if i not in axes), "squeeze")


def expand_dims(x: Any, axis: Any) -> Tensor:
    """Insert size-1 axes at the positions in `axis` (of the result, negatives allowed)."""
    x = as_tensor(x)
    try:
        shape = np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape
    except (ValueError, np.exceptions.AxisError) as exc:
        raise ValueError(f"expand_dims: axis {axis!r} for shape {x.shape}: {exc}") from None
    return _reshaped(x, shape, "expand_dims")


def transpose(x: Any, *axes: Any) -> Tensor:
    """Permute axes (reverse them when none are given), like `ndarray.transpose`."""
    x = as_tensor(x)
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        explicit_empty = axes[0] is not None and len(axes[0]) == 0
        axes = () if axes[0] is None else tuple(axes[0])
    else:
        explicit_empty = False
    if explicit_empty and x.ndim:  # transpose(x, ()) fits 0-d arrays only; transpose(x) reverses
        raise ValueError(f"transpose: axes () are not a permutation of the {x.ndim} axes of shape {x.shape}")
    perm = tuple(normalize_axis(a, x.ndim, "transpose") for a in axes) if axes else tuple(reversed(range(x.ndim)))
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    inverse = tuple(int(i) for i in np.argsort(perm))
    return make_view(
        x.data.transpose(perm), "transpose", x, (lambda g, y, x: g.transpose(inverse),), lambda t: t.transpose(perm),
        lambda ts, y, x: ts[0].transpose(perm),
    )


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    x = as_tensor(x)
    a1, a2 = (normalize_axis(a, x.ndim, "swapaxes") for a in (axis1, axis2))
    return make_view(
        x.data.swapaxes(a1, a2), "swapaxes", x, (lambda g, y, x: g.swapaxes(a1, a2),), lambda t: t.swapaxes(a1, a2),
        lambda ts, y, x: ts[0].swapaxes(a1, a2),
    )


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """Repeat values along new or size-1 axes; the gradient sums them back."""
    x = as_tensor(x)
    try:
        shape = tuple(operator.index(n) for n in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    except TypeError:
        raise TypeError(f"broadcast_to: shape must be an int or a tuple of ints, got {shape!r}") from None
    try:
        data = np.broadcast_to(x.data, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    # The engine sums the gradient back to x's shape, so the rule is the identity.
    return make_view(
        data, "broadcast_to", x, (lambda g, y, x: g,), lambda t: np.broadcast_to(t, shape),
        lambda ts, y, x: np.broadcast_to(ts[0], shape),
    )
