"""Rearranging arrays, NumPy's way: flips, rolls, rotations, tiling, stacking, splitting,
diagonals, triangles, `select` and `linspace`.

These ops move or copy values without combining them, so every gradient moves the
cotangent back: a flip flips it back, a roll rolls it back, a tile sums its copies, a
diagonal scatters into zeros. The rules are NumPy calls (`np.flip(g, axes)`,
`np.roll(g, -shift)`) that dispatch to these same ops when `g` is a Tensor, so each op
is differentiable to any order. Shapes a rule needs are captured when the op runs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import dtypes
from ..tensor import Tensor, as_tensor, make_result, make_view
from ._util import named_errors, normalize_axes, normalize_axis
from .elementwise import astype
from .indexing import getitem, scatter_add
from .join import concatenate
from .reductions import sum as _sum

__all__: list[str] = [
    "flip", "fliplr", "flipud", "roll", "rot90", "tile", "repeat", "moveaxis", "rollaxis",
    "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "column_stack", "dstack",
    "array_split", "hsplit", "vsplit", "dsplit", "append", "diag", "diagonal", "trace",
    "tril", "triu", "select", "linspace",
]  # fmt: skip

_SCALARS = (bool, int, float, complex)
_AXIS_ERRORS = (ValueError, IndexError, np.exceptions.AxisError)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _reshape(x: Tensor, shape: tuple[int, ...], op: str) -> Tensor:
    """`x` in a new shape (a view, as in NumPy), recorded under `op`."""
    old = x.shape
    return make_view(x.data.reshape(shape), op, x, (lambda g, y, x: g.reshape(old),), lambda t: t.reshape(shape))


def _permute(x: Tensor, perm: Sequence[int], op: str) -> Tensor:
    """`x.transpose(perm)` (a view), recorded under `op`."""
    perm = tuple(perm)
    inverse = tuple(int(i) for i in np.argsort(perm))
    vjps = (lambda g, y, x: g.transpose(inverse),)
    return make_view(x.data.transpose(perm), op, x, vjps, lambda t: t.transpose(perm))


def _scatter(g: Any, shape: tuple[int, ...], index: Any) -> Any:
    """Zeros of `shape` with `g` written at `index` (distinct positions); a Tensor op for Tensor `g`."""
    if isinstance(g, Tensor):
        return scatter_add(g, shape, index)
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


def _cotangent_only(fn: Callable[[Any], Any], n: int) -> Callable[..., Any]:
    """A vjp for an op of `n` inputs that reads only `g`: the in-place checks then see it reads no input."""
    if n == 1:
        return lambda g, y, a: fn(g)
    if n == 2:
        return lambda g, y, a, b: fn(g)
    if n == 3:
        return lambda g, y, a, b, c: fn(g)
    return lambda g, y, *xs: fn(g)


def _axis_list(axes: Any, ndim: int, op: str, what: str) -> list[int]:
    items = list(axes) if isinstance(axes, (tuple, list, np.ndarray)) else [axes]
    out = [normalize_axis(a, ndim, op) for a in items]
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in `{what}` argument {axes!r}")
    return out


# ----------------------------------------------------------------- flips, rolls, rotations
def flip(m: Any, axis: Any = None) -> Tensor:
    """Reverse the order of elements along `axis` (None: every axis)."""
    x = as_tensor(m)
    if x.ndim == 0 and axis is not None and not (isinstance(axis, tuple) and not axis):
        raise ValueError(f"flip: axis {axis!r} is out of bounds for a 0-d array")
    axes = normalize_axes(axis, x.ndim, "flip")
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim)) + (Ellipsis,)
    return make_view(x.data[index], "flip", x, (lambda g, y, x: g[index],), lambda t: t[index])


def fliplr(m: Any) -> Tensor:
    """Reverse the columns (axis 1) of an array with at least 2 dimensions."""
    x = as_tensor(m)
    if x.ndim < 2:
        raise ValueError(f"fliplr: input must be >= 2-d, got shape {x.shape}")
    return flip(x, 1)


def flipud(m: Any) -> Tensor:
    """Reverse the rows (axis 0) of an array with at least 1 dimension."""
    x = as_tensor(m)
    if x.ndim < 1:
        raise ValueError(f"flipud: input must be >= 1-d, got shape {x.shape}")
    return flip(x, 0)


def roll(a: Any, shift: Any, axis: Any = None) -> Tensor:
    """Shift elements cyclically along `axis` (None: over the flattened array), as `np.roll`."""
    x = as_tensor(a)
    shift = _data(shift)
    try:
        data = np.roll(x.data, shift, axis)
    except _AXIS_ERRORS as exc:
        raise ValueError(f"roll: shift {shift!r} and axis {axis!r} do not fit shape {x.shape}: {exc}") from None
    try:  # NumPy truncates float shifts as int() does
        back = (-np.asarray(shift).astype(np.int64)).tolist()
    except (TypeError, ValueError):  # NumPy accepted it only because no axis was named: nothing moved
        back = shift
    return make_result(data, "roll", (x,), (lambda g, y, x: np.roll(g, back, axis),))


def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by 90 degrees `k` times in the plane of `axes`, from the first axis towards the second."""
    x = as_tensor(m)
    k = operator.index(k)
    axes = tuple(axes)
    try:
        data = np.rot90(x.data, k, axes)
    except _AXIS_ERRORS as exc:
        raise ValueError(f"rot90: axes {axes!r} do not fit shape {x.shape}: {exc}") from None
    vjps = (lambda g, y, x: np.rot90(g, -k, axes),)
    return make_view(data, "rot90", x, vjps, lambda t: np.rot90(t, k, axes))


# ----------------------------------------------------------------- tiling and repeating
def tile(A: Any, reps: Any) -> Tensor:
    """Repeat the whole array `reps` times along each axis; the gradient sums the copies."""
    x = as_tensor(A)
    try:
        tup = tuple(reps)
    except TypeError:
        tup = (reps,)
    try:
        tup = tuple(operator.index(r) for r in tup)
    except TypeError:
        raise TypeError(f"tile: reps must be an int or a tuple of ints, got {reps!r}") from None
    try:
        data = np.tile(x.data, tup)
    except ValueError as exc:
        raise ValueError(f"tile: reps {tup} for shape {x.shape}: {exc}") from None
    nd = max(x.ndim, len(tup))
    shape = (1,) * (nd - x.ndim) + x.shape
    full = (1,) * (nd - len(tup)) + tup
    grouped = tuple(n for pair in zip(full, shape) for n in (max(pair[0], 0), pair[1]))  # (r0, s0, r1, s1, ...)
    copies = tuple(range(0, 2 * nd, 2))
    old = x.shape
    return make_result(data, "tile", (x,), (lambda g, y, x: g.reshape(grouped).sum(axis=copies).reshape(old),))


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """Repeat each element `repeats` times (an int, or one count per element) along `axis`."""
    x = as_tensor(a)
    counts = np.asarray(_data(repeats))
    if counts.dtype.kind not in "biuf":
        raise TypeError(f"repeat: repeats must be integers, got {repeats!r}")
    counts = counts.astype(np.intp)  # NumPy truncates float counts
    try:
        data = np.repeat(x.data, counts, axis)
    except _AXIS_ERRORS as exc:
        raise ValueError(f"repeat: repeats {repeats!r} do not fit axis {axis!r} of shape {x.shape}: {exc}") from None
    old = x.shape
    if axis is None or x.ndim == 0:
        ax, source = 0, (x.size,)
    else:
        ax, source = normalize_axis(axis, x.ndim, "repeat"), x.shape
    if counts.size == 1:  # every element the same number of times: a reshape and a sum
        grouped = source[: ax + 1] + (max(int(counts.reshape(-1)[0]), 0),) + source[ax + 1 :]
        vjp = lambda g, y, x: g.reshape(grouped).sum(axis=ax + 1).reshape(old)
    else:
        index = (slice(None),) * ax + (np.repeat(np.arange(source[ax]), counts),)
        vjp = lambda g, y, x: scatter_add(g, source, index).reshape(old)
    return make_result(data, "repeat", (x,), (vjp,))


# ----------------------------------------------------------------- axis moves
def moveaxis(a: Any, source: Any, destination: Any) -> Tensor:
    """Move axes `source` to positions `destination`; the others keep their order."""
    x = as_tensor(a)
    src = _axis_list(source, x.ndim, "moveaxis", "source")
    dst = _axis_list(destination, x.ndim, "moveaxis", "destination")
    if len(src) != len(dst):
        raise ValueError(
            f"moveaxis: `source` {source!r} and `destination` {destination!r} must have the same number of elements"
        )
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _permute(x, order, "moveaxis")


def rollaxis(a: Any, axis: int, start: int = 0) -> Tensor:
    """Roll `axis` backwards until it lies before position `start` (NumPy's older `moveaxis`)."""
    x = as_tensor(a)
    n = x.ndim
    ax = normalize_axis(axis, n, "rollaxis")
    start = operator.index(start)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise ValueError(f"rollaxis: 'start' arg requires {-n} <= start < {n + 1}, but {start} was passed in")
    if ax < start:
        start -= 1
    order = list(range(n))
    order.remove(ax)
    order.insert(start, ax)
    return _permute(x, order, "rollaxis")


# ----------------------------------------------------------------- atleast_Nd and stacking
def _promote(x: Tensor, n: int, op: str) -> Tensor:
    """`x` with at least `n` axes as `np.atleast_Nd` adds them (`n=0`: column_stack's columns)."""
    s = x.shape
    if len(s) >= max(n, 2 if n == 0 else 1):
        return x
    if n == 0:
        shape = (*s, 1) if s else (1, 1)
    elif n == 1 or not s:
        shape = (1,) * n
    else:
        shape = (1, *s) if n == 2 else (1, *s, 1) if len(s) == 1 else (*s, 1)
    return _reshape(x, shape, op)


def _atleast(arys: tuple[Any, ...], n: int, op: str) -> Tensor | tuple[Tensor, ...]:
    out = tuple(_promote(as_tensor(a), n, op) for a in arys)
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys: Any) -> Tensor | tuple[Tensor, ...]:
    """Each input with at least 1 dimension (a tuple when given several)."""
    return _atleast(arys, 1, "atleast_1d")


def atleast_2d(*arys: Any) -> Tensor | tuple[Tensor, ...]:
    """Each input with at least 2 dimensions: `(n,)` becomes `(1, n)`."""
    return _atleast(arys, 2, "atleast_2d")


def atleast_3d(*arys: Any) -> Tensor | tuple[Tensor, ...]:
    """Each input with at least 3 dimensions: `(n,)` becomes `(1, n, 1)`, `(m, n)` becomes `(m, n, 1)`."""
    return _atleast(arys, 3, "atleast_3d")


def _sequence(tup: Any, op: str) -> list[Tensor]:
    """The arrays of a stacking call as Tensors (Python scalars take the first Tensor's dtype)."""
    if not hasattr(tup, "__getitem__") or isinstance(tup, (str, bytes, dict)):
        raise TypeError(f'{op}: arrays to stack must be passed as a "sequence" type such as list or tuple')
    items = list(tup)
    if not items:
        raise ValueError(f"{op}: need at least one array to concatenate")
    first = next((t for t in items if isinstance(t, Tensor)), None)
    return [as_tensor(t, first) for t in items]


def _join(xs: list[Tensor], axis: int, op: str, dtype: Any = None, casting: str = "same_kind") -> Tensor:
    if dtype is not None:
        dtype = np.dtype(dtype)
        for x in xs:
            if not np.can_cast(x.dtype, dtype, casting):
                raise TypeError(f"{op}: cannot cast array data from {x.dtype} to {dtype} according to {casting!r}")
        xs = [astype(x, dtype) for x in xs]
    try:
        return concatenate(xs, axis)
    except ValueError:
        shapes = ", ".join(str(x.shape) for x in xs)
        raise ValueError(f"{op}: cannot join shapes {shapes} along axis {axis}") from None


def hstack(tup: Sequence[Any], *, dtype: Any = None, casting: str = "same_kind") -> Tensor:
    """Join along axis 1 (axis 0 for 1-d arrays)."""
    xs = [_promote(x, 1, "hstack") for x in _sequence(tup, "hstack")]
    return _join(xs, 0 if xs[0].ndim == 1 else 1, "hstack", dtype, casting)


def vstack(tup: Sequence[Any], *, dtype: Any = None, casting: str = "same_kind") -> Tensor:
    """Join along axis 0 after making each array at least 2-d (`(n,)` rows become `(1, n)`)."""
    xs = [_promote(x, 2, "vstack") for x in _sequence(tup, "vstack")]
    return _join(xs, 0, "vstack", dtype, casting)


def dstack(tup: Sequence[Any]) -> Tensor:
    """Join along axis 2 after making each array at least 3-d."""
    xs = [_promote(x, 3, "dstack") for x in _sequence(tup, "dstack")]
    return _join(xs, 2, "dstack")


def column_stack(tup: Sequence[Any]) -> Tensor:
    """Join 1-d arrays as columns (and 2-d arrays as they are) along axis 1."""
    xs = [_promote(x, 0, "column_stack") for x in _sequence(tup, "column_stack")]
    return _join(xs, 1, "column_stack")


# ----------------------------------------------------------------- splitting
def _edges(sections: Any, n: int, shape: tuple[int, ...], ax: int, op: str, equal: bool) -> list[int]:
    """Piece boundaries along an axis of length `n`: from a count of sections or from split indices."""
    sections = _data(sections)
    if isinstance(sections, np.ndarray) and sections.ndim == 0:
        sections = sections.item()
    if isinstance(sections, (Sequence, np.ndarray)):
        try:
            return [0] + [operator.index(c) for c in sections] + [n]
        except TypeError:
            raise TypeError(f"{op}: split indices must be ints, got {sections!r}") from None
    try:
        count = int(sections) if isinstance(sections, float) else operator.index(sections)
    except TypeError:
        raise TypeError(f"{op}: indices_or_sections must be an int or a list of ints, got {sections!r}") from None
    if count <= 0:
        raise ValueError(f"{op}: number of sections must be larger than 0, got {count}")
    if equal and n % sections:
        raise ValueError(
            f"{op}: array split does not result in an equal division: axis {ax} of shape {shape} into {count} sections"
        )
    each, extra = divmod(n, count)
    return [i * each + min(i, extra) for i in range(count + 1)]


def _split(ary: Any, sections: Any, axis: Any, op: str, equal: bool) -> list[Tensor]:
    x = as_tensor(ary)
    if x.ndim == 0:
        raise ValueError(f"{op}: cannot split a 0-d array (shape ())")
    ax = normalize_axis(axis, x.ndim, op)
    edges = _edges(sections, x.shape[ax], x.shape, ax, op, equal)
    lead = (slice(None),) * ax
    return [getitem(x, lead + (slice(lo, hi),)) for lo, hi in zip(edges[:-1], edges[1:])]


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split into `indices_or_sections` pieces (sizes differing by at most one) or at the given indices."""
    return _split(ary, indices_or_sections, axis, "array_split", equal=False)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Tensor]:
    """`split` along axis 1 (axis 0 for 1-d arrays); sections must divide evenly."""
    x = as_tensor(ary)
    if x.ndim == 0:
        raise ValueError("hsplit: only works on arrays of 1 or more dimensions, got shape ()")
    return _split(x, indices_or_sections, 1 if x.ndim > 1 else 0, "hsplit", equal=True)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Tensor]:
    """`split` along axis 0 of an array with at least 2 dimensions."""
    x = as_tensor(ary)
    if x.ndim < 2:
        raise ValueError(f"vsplit: only works on arrays of 2 or more dimensions, got shape {x.shape}")
    return _split(x, indices_or_sections, 0, "vsplit", equal=True)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Tensor]:
    """`split` along axis 2 of an array with at least 3 dimensions."""
    x = as_tensor(ary)
    if x.ndim < 3:
        raise ValueError(f"dsplit: only works on arrays of 3 or more dimensions, got shape {x.shape}")
    return _split(x, indices_or_sections, 2, "dsplit", equal=True)


def append(arr: Any, values: Any, axis: int | None = None) -> Tensor:
    """`values` joined after `arr` along `axis`; with axis None both are flattened first."""
    x = as_tensor(arr, values if isinstance(values, Tensor) else None)
    v = as_tensor(values, x)
    if axis is None:
        x = x if x.ndim == 1 else _reshape(x, (x.size,), "append")
        v = v if v.ndim == 1 else _reshape(v, (v.size,), "append")
        axis = 0
    return _join([x, v], axis, "append")


# ----------------------------------------------------------------- diagonals and triangles
def _diagonal(x: Tensor, offset: Any, axis1: Any, axis2: Any, op: str) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"{op}: needs an array of at least two dimensions, got shape {x.shape}")
    offset = operator.index(offset)
    a1, a2 = normalize_axis(axis1, x.ndim, op), normalize_axis(axis2, x.ndim, op)
    if a1 == a2:
        raise ValueError(f"{op}: axis1 and axis2 cannot be the same (both {a1}) for shape {x.shape}")
    data = np.diagonal(x.data, offset, a1, a2).copy()
    # The rule reads the diagonal with axis1, axis2 moved last, where an index (..., i, j) puts it last too.
    perm = [i for i in range(x.ndim) if i not in (a1, a2)] + [a1, a2]
    moved = tuple(x.shape[i] for i in perm)
    steps = np.arange(data.shape[-1])
    index = (Ellipsis, steps + max(-offset, 0), steps + max(offset, 0))
    back = tuple(int(i) for i in np.argsort(perm))
    return make_result(data, op, (x,), (lambda g, y, x: _scatter(g, moved, index).transpose(back),))


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal `a[..., i, i + offset]` of the `axis1`, `axis2` planes, as the last axis."""
    return _diagonal(as_tensor(a), offset, axis1, axis2, "diagonal")


def diag(v: Any, k: int = 0) -> Tensor:
    """1-d `v`: a square matrix with `v` on diagonal `k`. 2-d `v`: its diagonal `k`."""
    x = as_tensor(v)
    if x.ndim == 2:
        return _diagonal(x, k, 0, 1, "diag")
    if x.ndim != 1:
        raise ValueError(f"diag: input must be 1- or 2-d, got shape {x.shape}")
    k = operator.index(k)
    return make_result(np.diag(x.data, k), "diag", (x,), (lambda g, y, x: np.diagonal(g, k),))


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None) -> Tensor:
    """Sum of the diagonal `offset` of the `axis1`, `axis2` planes."""
    if out is not None:
        raise TypeError("trace: out= is not supported for Tensors; use the returned Tensor")
    d = _diagonal(as_tensor(a), offset, axis1, axis2, "trace")
    return _sum(d if dtype is None else astype(d, dtype), -1)


def _triangle(m: Any, k: Any, op: str, lower: bool) -> Tensor:
    x = as_tensor(m)
    if x.ndim == 0:
        raise ValueError(f"{op}: input must be at least 1-d, got shape ()")
    k = operator.index(k)
    rows, cols = x.shape[-2:] if x.ndim >= 2 else (x.shape[0], x.shape[0])
    mask = np.tri(rows, cols, k, dtype=bool) if lower else ~np.tri(rows, cols, k - 1, dtype=bool)
    data = np.where(mask, x.data, np.zeros(1, dtype=x.dtype))
    return make_result(data, op, (x,), (lambda g, y, x: np.where(mask, g, 0),))


def tril(m: Any, k: int = 0) -> Tensor:
    """Zero the elements above diagonal `k` of the last two axes (a 1-d input is read as rows)."""
    return _triangle(m, k, "tril", lower=True)


def triu(m: Any, k: int = 0) -> Tensor:
    """Zero the elements below diagonal `k` of the last two axes (a 1-d input is read as rows)."""
    return _triangle(m, k, "triu", lower=False)


# ----------------------------------------------------------------- select
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Tensor:
    """Elements of the choice whose condition is the first to hold, else `default`."""
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"select: list of cases must be same length as list of conditions ({len(choicelist)} != {len(condlist)})"
        )
    if len(condlist) == 0:
        raise ValueError("select: select with an empty condition list is not possible")
    conds = [np.asarray(_data(c)) for c in condlist]
    for i, c in enumerate(conds):
        if c.dtype != np.bool_:
            raise TypeError(f"select: invalid entry {i} in condlist: should be boolean ndarray, got {c.dtype}")
    items = [*choicelist, default]
    has_arrays = any(type(c) not in _SCALARS for c in items)
    first = next((c for c in items if isinstance(c, Tensor)), None)
    # Python scalars stay weak next to arrays (as in NumPy); on their own they take the default dtype.
    items = [c if has_arrays and type(c) in _SCALARS else as_tensor(c, first) for c in items]
    try:
        data = np.select(conds, [_data(c) for c in items[:-1]], _data(items[-1]))
    except ValueError:
        shapes = ", ".join(str(np.shape(_data(c))) for c in conds + items)
        raise ValueError(f"select: conditions and choices of shapes {shapes} cannot be broadcast together") from None
    taken = np.zeros(data.shape, dtype=bool)
    masks = []
    for cond, item in zip([*conds, np.ones((), dtype=bool)], items):
        mask = np.broadcast_to(cond, data.shape) & ~taken
        taken = taken | mask
        if isinstance(item, Tensor):
            masks.append(mask)
    parents = tuple(c for c in items if isinstance(c, Tensor))
    vjps = tuple(_cotangent_only(lambda g, mask=mask: np.where(mask, g, 0), len(parents)) for mask in masks)
    return make_result(data, "select", parents, vjps)


# ----------------------------------------------------------------- linspace
def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
    *,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """`num` evenly spaced samples from `start` to `stop`, differentiable in Tensor endpoints.

    Python numbers give the default float dtype; arrays and Tensors keep theirs; `dtype`
    overrides. With `requires_grad=True` the result is a new leaf that requires grad.
    """
    if device not in (None, "cpu"):
        raise ValueError(f"linspace: device must be 'cpu' or None, got {device!r}")
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    ends = (start, stop)
    if all(type(e) in _SCALARS for e in ends):
        dt = np.result_type(dtypes.get_default_dtype(), *ends)
        values = [np.asarray(e, dtype=dt) for e in ends]
    else:
        values = [e if type(e) in _SCALARS else as_tensor(e).data for e in ends]
    try:
        data, step = np.linspace(values[0], values[1], num, endpoint, True, dtype, axis)
    except _AXIS_ERRORS as exc:
        shapes = f"{np.shape(values[0])} and {np.shape(values[1])}"
        raise ValueError(f"linspace: endpoints of shapes {shapes} with axis {axis!r}: {exc}") from None
    if not isinstance(step, (np.generic, np.ndarray)):  # NumPy's NaN step (num < 2): a Python float
        step = np.asarray(step, dtype=data.dtype if data.dtype.kind in "fc" else np.float64)
    step = np.asarray(step)
    parents = tuple(e for e in ends if isinstance(e, Tensor))
    if requires_grad:
        y, s = Tensor(data, requires_grad=True), Tensor(step)
        return (y, s) if retstep else y
    if not parents or not dtypes.is_differentiable_dtype(data.dtype):
        y, s = Tensor(data), Tensor(step)
        return (y, s) if retstep else y
    div = num - 1 if endpoint else num
    t = np.arange(num, dtype=data.dtype) / div if div > 0 else np.zeros(num, dtype=data.dtype)
    if endpoint and num > 1:
        t[-1] = 1
    ax = normalize_axis(axis, data.ndim, "linspace")
    t = t.reshape([num if i == ax else 1 for i in range(data.ndim)])
    weights = [w for e, w in zip(ends, (1 - t, t)) if isinstance(e, Tensor)]
    vjps = tuple(_cotangent_only(lambda g, w=w: (g * w).sum(axis=ax), len(parents)) for w in weights)
    y = make_result(data, "linspace", parents, vjps)
    if not retstep:
        return y
    if div <= 0:  # NumPy's step is NaN: nothing to differentiate
        return y, Tensor(step)
    signs = [sign for e, sign in zip(ends, (-1.0, 1.0)) if isinstance(e, Tensor)]
    vjps = tuple(_cotangent_only(lambda g, c=c / div: g * c, len(parents)) for c in signs)
    return y, make_result(step, "linspace", parents, vjps)


# ----------------------------------------------------------------- dispatch tables
_OPS = {name: globals()[name] for name in __all__}

# NumPy callable (ufunc or function) -> the op that handles it on Tensors.
NUMPY_RULES: dict[Any, Callable[..., Any]] = {getattr(np, name): named_errors(fn) for name, fn in _OPS.items()}

# Tensor method name -> function(self, ...) installed on Tensor (the ones ndarray has).
TENSOR_METHODS: dict[str, Callable[..., Any]] = {
    name: named_errors(_OPS[name]) for name in ("repeat", "diagonal", "trace")
}
