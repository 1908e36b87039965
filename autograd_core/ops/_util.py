"""Helpers shared by the op families: axis normalisation and reduced-gradient expansion."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ..grad_mode import special, vmap_active


def normalize_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """`axis` (None, int or tuple, negatives allowed) as a sorted tuple of positive axes."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        try:
            a = operator.index(a)  # ints and NumPy integers; floats, strings and None are refused
        except TypeError:
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}") from None
        if not (a in (0, -1) if ndim == 0 else -ndim <= a < ndim):  # a 0-d array takes 0 and -1
            raise ValueError(f"{op}: axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out)) if ndim else ()


def normalize_axis(axis: Any, ndim: int, op: str) -> int:
    """One existing axis of an array with `ndim` >= 1 dimensions, as a non-negative int."""
    if ndim == 0:
        raise ValueError(f"{op}: axis {axis!r} is out of bounds for a 0-d array")
    if axis is None or isinstance(axis, (tuple, list)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    return normalize_axes(axis, ndim, op)[0]


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` with the reduced `axes` kept as size 1 (the keepdims=True shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def expand_reduced(g: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Broadcast the gradient of a reduction back over the reduced `axes` of `shape`."""
    return np.broadcast_to(g.reshape(kept_shape(shape, axes)), shape)


def keep(g: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Reshape a reduced value to its keepdims form, so it broadcasts against the input."""
    return g.reshape(kept_shape(shape, axes))


# While the faulty-op locator runs (autograd_core.locate), each public op call is appended
# here as (op function, args, kwargs, result, creation site); None otherwise.
recording: list[tuple[Any, ...]] | None = None


@functools.cache
def _vmap() -> Any:
    from .. import vmap

    return vmap


def named_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Make every TypeError/ValueError/IndexError escaping the op `fn` start with its name.

    Errors raised deep inside NumPy ("invalid literal for int()", "ufunc 'add' did not
    contain a loop") then still say which op failed; NumPy's AxisError and
    UFuncTypeError become plain ValueError/TypeError. Costs nothing unless it raises.
    """
    name = fn.__name__
    prefix = name + ":"

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        try:
            if special[0]:  # vmap, the locator: one test while neither is running
                if vmap_active[0]:
                    vmap = _vmap()
                    if vmap.has_batched(args, kwargs):
                        return vmap.dispatch(name, op, args, kwargs)
                if recording is not None:
                    return _record(fn, args, kwargs)
            return fn(*args, **kwargs)
        except (TypeError, ValueError, IndexError, OverflowError) as exc:
            message = str(exc)
            if message.startswith(prefix) and type(exc) in (TypeError, ValueError, IndexError):
                raise
            kind = (
                TypeError if isinstance(exc, TypeError)
                else IndexError if type(exc) is IndexError
                else ValueError  # also AxisError (a ValueError and an IndexError) and OverflowError
            )
            if not message.startswith(prefix):
                message = f"{name}: {message}"
            raise kind(message).with_traceback(exc.__traceback__) from None

    return op


def _record(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call `fn` and log the call for the locator, with the inputs' values as they were."""
    from ..anomaly import creation_site
    from ..tensor import Tensor

    global recording
    log = recording
    recording = None  # the op's own internal calls are part of it, not separate entries
    try:
        frozen = tuple(_freeze(a, Tensor) for a in args)
        result = fn(*args, **kwargs)
    finally:
        recording = log
    if log is not None:
        log.append((fn, frozen, kwargs, result, creation_site()))
    return result


def _freeze(a: Any, tensor: type) -> Any:
    if isinstance(a, tensor):
        return tensor(a.data.copy())
    if isinstance(a, (list, tuple)) and any(isinstance(v, tensor) for v in a):
        return type(a)(_freeze(v, tensor) for v in a)
    return a
