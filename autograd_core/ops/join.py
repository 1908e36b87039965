"""Joining and splitting: `concatenate`, `stack`, `split`, `pad`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..tensor import Tensor, as_tensor, make_result
from ._util import normalize_axis
from .indexing import getitem


def _tensors(seq: Sequence[Any], op: str) -> tuple[Tensor, ...]:
    if isinstance(seq, (Tensor, np.ndarray)) or not isinstance(seq, Iterable):
        raise TypeError(f"{op}: expected a sequence of arrays, got {type(seq).__name__}")
    items = list(seq)
    if not items:
        raise ValueError(f"{op}: need at least one array")
    first = next((t for t in items if isinstance(t, Tensor)), None)
    return tuple(as_tensor(t, first) for t in items)


def _take(axis: int, key: Any) -> Any:
    """A vjp reading `key` (a slice or int) along `axis` of the gradient."""
    index = (slice(None),) * axis + (key,)
    return lambda g, y, *xs: g[index]


def _joined_jvp(join: Any, xs: tuple[Tensor, ...], axis: int) -> Any:
    """A join is linear: join the tangents (zeros where an input has none)."""

    def jvp(ts: list[Any], y: Any, *parents: Any) -> Any:
        return join([np.zeros_like(x.data) if t is None else t for x, t in zip(xs, ts)], axis=axis)

    return jvp


def concatenate(seq: Sequence[Any], axis: int = 0) -> Tensor:
    """Join arrays along an existing axis."""
    xs = _tensors(seq, "concatenate")
    try:
        data = np.concatenate([x.data for x in xs], axis=axis)
    except (ValueError, np.exceptions.AxisError):
        shapes = ", ".join(str(x.shape) for x in xs)
        raise ValueError(f"concatenate: cannot join shapes {shapes} along axis {axis}") from None
    ax = normalize_axis(axis, xs[0].ndim, "concatenate")
    bounds = np.cumsum([0] + [x.shape[ax] for x in xs])
    vjps = tuple(_take(ax, slice(int(lo), int(hi))) for lo, hi in zip(bounds[:-1], bounds[1:]))
    return make_result(data, "concatenate", xs, vjps, _joined_jvp(concatenate, xs, axis))


def stack(seq: Sequence[Any], axis: int = 0) -> Tensor:
    """Join arrays of one shape along a new axis."""
    xs = _tensors(seq, "stack")
    try:
        data = np.stack([x.data for x in xs], axis=axis)
    except (ValueError, np.exceptions.AxisError):
        shapes = ", ".join(str(x.shape) for x in xs)
        raise ValueError(f"stack: cannot stack shapes {shapes} along axis {axis}") from None
    ax = normalize_axis(axis, data.ndim, "stack")
    return make_result(data, "stack", xs, tuple(_take(ax, i) for i in range(len(xs))), _joined_jvp(stack, xs, axis))


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split into pieces along `axis`, as `np.split`; each piece is a differentiable slice."""
    x = as_tensor(x)
    ax = normalize_axis(axis, x.ndim, "split")
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or n % sections:
            raise ValueError(f"split: axis {ax} of shape {x.shape} does not divide into {sections} equal parts")
        step = n // sections
        cuts = [step * i for i in range(1, sections)]
    else:
        cuts = [int(c) for c in indices_or_sections]
    edges = [0] + cuts + [n]
    lead = (slice(None),) * ax
    return [getitem(x, lead + (slice(lo, hi),)) for lo, hi in zip(edges[:-1], edges[1:])]


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Tensor:
    """Pad like `np.pad`. Modes: constant (with `constant_values`), edge, reflect, symmetric, wrap."""
    x = as_tensor(x)
    try:
        raw = np.asarray(pad_width, dtype=np.int64)
        widths = np.broadcast_to(raw, (x.ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an array of shape {x.shape}") from None
    if (raw < 0).any():
        raise ValueError(f"pad: pad_width {pad_width!r} has negative entries")
    if x.ndim == 0:  # nothing to pad (np.pad itself fails on the empty width table)
        return getitem(x, ...)
    if mode == "constant":
        data = np.pad(x.data, widths, mode="constant", constant_values=constant_values)
        inner = tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(widths, x.shape))
        return make_result(
            data, "pad", (x,), (lambda g, y, x: g[inner],), lambda ts, y, x: pad(ts[0], widths, mode="constant")
        )
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise ValueError(f"pad: mode {mode!r} is not supported; use constant, edge, reflect, symmetric or wrap")
    # Each output element copies one input element: pad the element numbers, then gather.
    try:
        source = np.pad(np.arange(x.size).reshape(x.shape), widths, mode=mode)
    except ValueError as exc:
        raise ValueError(f"pad: mode {mode!r} with pad_width {pad_width!r} on shape {x.shape}: {exc}") from None
    return getitem(x.reshape(-1), source)
