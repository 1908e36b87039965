"""Cumulative ops, sorting and gathering, and array products, with NumPy's signatures.

- `cumsum`, `cumprod`, `diff`: scans along one axis (`axis=None` flattens). The gradient of
  `cumprod` is exact when the input holds zeros: it never divides by an input that is 0.
- `sort`, `partition`, `take_along_axis`, `take`: gathers. `sort` and `partition` route
  the gradient back through the permutation that `np.argsort(kind="stable")` /
  `np.argpartition` give (tied values: the stable order, as `torch.sort(stable=True)`);
  gathers with repeated indices accumulate.
- `outer`, `inner`, `tensordot`, `kron`, `cross`: composed from `multiply`, `reshape`,
  `transpose`, `matmul` and `stack`, so every order of derivative comes for free.
- `np.einsum` on Tensors takes both the subscripts string and the sublist (interleaved)
  format; the latter is spelled out as a string for `ops.einsum`.

Operands that are not Tensors are converted as NumPy converts them (`np.asarray`), so
`ag.NAME(...)` and `np.NAME(...)` give the same dtype.
"""

from __future__ import annotations

import operator
import string
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import dtypes
from ..tensor import Tensor, as_tensor, make_result
from ._util import named_errors, normalize_axis
from .arithmetic import multiply, negative, not_equal, subtract
from .elementwise import astype
from .indexing import scatter_add
from .join import concatenate, stack
from .linalg import einsum as _einsum_op
from .linalg import matmul
from .shape import broadcast_to, reshape, transpose

__all__ = [
    "cumsum",
    "cumprod",
    "diff",
    "sort",
    "partition",
    "take_along_axis",
    "take",
    "outer",
    "inner",
    "tensordot",
    "kron",
    "cross",
]

_NO_VALUE: Any = getattr(np, "_NoValue", None)  # np.diff's "not given" marker


# ------------------------------------------------------------------ helpers
def _operand(x: Any) -> Tensor:
    """A Tensor as is; anything else converted the way NumPy converts it (`np.asarray`)."""
    return x if isinstance(x, Tensor) else as_tensor(np.asarray(x))


def _no_out(out: Any, op: str) -> None:
    if out is not None:
        raise TypeError(f"{op}: out= is not supported on Tensors (a result is always a new Tensor)")


def _scan_axis(x: Tensor, axis: Any, op: str) -> tuple[Tensor, int]:
    """`x` and the axis to scan: `axis=None` (and any axis of a 0-d input, as NumPy) flattens."""
    if axis is None or x.ndim == 0:
        if x.ndim == 0 and axis is not None:
            normalize_axis(axis, 1, op)
        return reshape(x, -1), 0
    return x, normalize_axis(axis, x.ndim, op)


def _rev(axis: int) -> tuple[slice, ...]:
    return (slice(None),) * axis + (slice(None, None, -1),)


def _reverse_cumsum(g: Any, axis: int) -> Any:
    """`out[i] = sum(g[i:])` along `axis`: the transpose of `cumsum`."""
    rev = _rev(axis)
    scan = cumsum if isinstance(g, Tensor) else np.cumsum
    return scan(g[rev], axis=axis)[rev]


def _along_axis_index(shape: tuple[int, ...], indices: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """The fancy index that `np.take_along_axis(arr, indices, axis)` reads with."""
    nd = len(shape)
    return tuple(
        indices if d == axis else np.arange(n).reshape((1,) * d + (-1,) + (1,) * (nd - d - 1))
        for d, n in enumerate(shape)
    )


def _gather(x: Tensor, index: Any, op: str) -> Tensor:
    """`x[index]` recorded as `op`; the gradient scatters back (repeated entries accumulate)."""
    shape = x.shape
    return make_result(x.data[index], op, (x,), (lambda g, y, x: scatter_add(g, shape, index),))


def _permute(x: Tensor, perm: np.ndarray, axis: int, op: str) -> Tensor:
    """`x` reordered along `axis` by the permutation `perm`; the gradient is the inverse reordering."""
    inverse = np.empty_like(perm)
    np.put_along_axis(inverse, perm, np.arange(perm.shape[axis]).reshape((-1,) + (1,) * (x.ndim - axis - 1)), axis)
    forward, back = _along_axis_index(x.shape, perm, axis), _along_axis_index(x.shape, inverse, axis)
    return make_result(x.data[forward], op, (x,), (lambda g, y, x: g[back],))


def _int_indices(indices: Any) -> np.ndarray:
    return np.asarray(indices.data if isinstance(indices, Tensor) else indices)


# ------------------------------------------------------------------ scans
def cumsum(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Tensor:
    """Cumulative sum along `axis` (None: over the flattened array), as `np.cumsum`."""
    _no_out(out, "cumsum")
    x, ax = _scan_axis(_operand(a), axis, "cumsum")
    data = np.cumsum(x.data, axis=ax, dtype=dtype)
    if not dtypes.is_differentiable_dtype(data.dtype):
        return Tensor(data)
    return make_result(data, "cumsum", (x,), (lambda g, y, x: _reverse_cumsum(g, ax),))


def _cumprod_vjp(axis: int, n: int) -> Callable[..., Any]:
    def vjp(g: Any, y: Any, x: Any) -> Any:
        if not isinstance(x, Tensor) and not (x == 0).any():
            return _reverse_cumsum(g * y, axis) / x  # d y_j / d x_i = y_j / x_i for j >= i
        # Exact with zeros, and differentiable again: row i of the table is x with x_i
        # set to 1, so its running product at j >= i is the product of x_k, k <= j, k != i.
        xm, gm = np.swapaxes(x, axis, -1), np.swapaxes(g, axis, -1)
        table = np.where(np.eye(n, dtype=bool), 1, np.expand_dims(xm, -2))
        scan = cumprod if isinstance(table, Tensor) else np.cumprod
        partial = np.where(np.tri(n, dtype=bool).T, scan(table, axis=-1), 0)  # zero where j < i
        return np.swapaxes((partial * np.expand_dims(gm, -2)).sum(axis=-1), axis, -1)

    return vjp


def cumprod(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Tensor:
    """Cumulative product along `axis` (None: flattened); gradients exact with zeros in the input."""
    _no_out(out, "cumprod")
    x, ax = _scan_axis(_operand(a), axis, "cumprod")
    data = np.cumprod(x.data, axis=ax, dtype=dtype)
    if not dtypes.is_differentiable_dtype(data.dtype):
        return Tensor(data)
    return make_result(data, "cumprod", (x,), (_cumprod_vjp(ax, x.shape[ax]),))


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = _NO_VALUE, append: Any = _NO_VALUE) -> Tensor:
    """`n`-th discrete difference along `axis`, with optional `prepend`/`append` values, as `np.diff`."""
    n = operator.index(n)
    x = _operand(a)
    if n == 0:
        return x
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n!r}")
    if x.ndim == 0:
        raise ValueError("diff: requires input that is at least one dimensional")
    ax = normalize_axis(axis, x.ndim, "diff")
    pieces = [x]
    for value, at in ((prepend, 0), (append, 1)):
        if value is _NO_VALUE:
            continue
        extra = _operand(value)
        if extra.ndim == 0:
            extra = broadcast_to(extra, x.shape[:ax] + (1,) + x.shape[ax + 1 :])
        pieces.insert(len(pieces) * at, extra)
    if len(pieces) > 1:
        x = concatenate(pieces, axis=ax)
    lead = (slice(None),) * ax
    step = not_equal if x.dtype == np.bool_ else subtract
    for _ in range(n):
        x = step(x[lead + (slice(1, None),)], x[lead + (slice(None, -1),)])
    return x


# ------------------------------------------------------------------ sorting and gathering
def sort(
    a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, *, stable: bool | None = None
) -> Tensor:
    """Sorted copy along `axis` (None: flattened). Ties keep their order, so the gradient is stable."""
    if order is not None:
        raise ValueError("sort: cannot specify order when the array has no fields")
    np.argsort(np.zeros(1), kind=kind, stable=stable)  # NumPy's own check of kind/stable
    x, ax = _sortable(_operand(a), axis, "sort")
    return _permute(x, np.argsort(x.data, axis=ax, kind="stable"), ax, "sort")


def _sortable(x: Tensor, axis: Any, op: str) -> tuple[Tensor, int]:
    if axis is None:
        return reshape(x, -1), 0
    return x, normalize_axis(axis, x.ndim, op)


def partition(a: Any, kth: int | Sequence[int], axis: int | None = -1, kind: str = "introselect",
              order: Any = None) -> Tensor:
    """`np.partition`: the `kth` elements in sorted place, smaller before, larger after.

    The gradient follows the permutation `np.argpartition` gives, whose values equal `np.partition`'s.
    """
    if order is not None:
        raise ValueError("partition: cannot specify order when the array has no fields")
    x, ax = _sortable(_operand(a), axis, "partition")
    kth = kth.data if isinstance(kth, Tensor) else kth
    return _permute(x, np.argpartition(x.data, kth, axis=ax, kind=kind), ax, "partition")


def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Tensor:
    """`np.take_along_axis`: pick values by `indices` along `axis`; repeated picks accumulate gradient."""
    x = _operand(arr)
    ind = _int_indices(indices)
    if ind.dtype.kind not in "iu":
        raise IndexError(f"take_along_axis: `indices` must be an integer array, got dtype {ind.dtype}")
    if axis is None:
        if ind.ndim != 1:
            raise ValueError(f"take_along_axis: when axis=None, `indices` must have one dimension, got {ind.shape}")
        x, ax = reshape(x, -1), 0
    else:
        ax = normalize_axis(axis, x.ndim, "take_along_axis")
    if ind.ndim != x.ndim:
        raise ValueError(
            f"take_along_axis: `indices` {ind.shape} and `arr` {x.shape} must have the same number of dimensions"
        )
    return _gather(x, _along_axis_index(x.shape, ind, ax), "take_along_axis")


def take(a: Any, indices: Any, axis: int | None = None, out: Any = None, mode: str = "raise") -> Tensor:
    """`np.take`: elements at `indices` along `axis` (None: of the flattened array); `mode` raise/wrap/clip."""
    _no_out(out, "take")
    x = _operand(a)
    ind = _int_indices(indices)
    if ind.dtype.kind not in "iu":
        ind = ind.astype(np.intp)  # NumPy truncates float and bool indices too
    x, ax = (reshape(x, -1), 0) if axis is None else (x, normalize_axis(axis, x.ndim, "take"))
    size = x.shape[ax]
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if size == 0 and ind.size:
        raise IndexError(f"take: cannot do a non-empty take from an empty axis (shape {x.shape}, axis {ax})")
    if mode == "wrap":
        ind = ind % size
    elif mode == "clip":
        ind = np.clip(ind, 0, size - 1)
    elif ind.size and (ind.min() < -size or ind.max() >= size):
        bad = ind.min() if ind.min() < -size else ind.max()
        raise IndexError(f"take: index {bad} is out of bounds for axis {ax} with size {size}")
    return _gather(x, (slice(None),) * ax + (ind,), "take")


# ------------------------------------------------------------------ products
def outer(a: Any, b: Any, out: Any = None) -> Tensor:
    """`np.outer`: `ravel(a)[:, None] * ravel(b)[None, :]`."""
    _no_out(out, "outer")
    return multiply(reshape(_operand(a), (-1, 1)), reshape(_operand(b), (1, -1)))


def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2) -> Tensor:
    """`np.tensordot`: sum over `axes` (an int N: a's last N with b's first N; or two sequences)."""
    a, b = _operand(a), _operand(b)
    if isinstance(axes, (Sequence, np.ndarray)) and not isinstance(axes, str):
        if len(axes) != 2:
            raise ValueError(f"tensordot: axes must be an int or a pair of sequences, got {axes!r}")
        axes_a, axes_b = ([ax] if np.ndim(ax) == 0 else list(ax) for ax in axes)
    else:
        count = operator.index(axes)
        if count < 0 or count > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={count} does not fit shapes {a.shape} and {b.shape}")
        axes_a, axes_b = list(range(a.ndim - count, a.ndim)), list(range(count))
    axes_a = [normalize_axis(ax, a.ndim, "tensordot") for ax in axes_a]
    axes_b = [normalize_axis(ax, b.ndim, "tensordot") for ax in axes_b]
    if len(set(axes_a)) != len(axes_a) or len(set(axes_b)) != len(axes_b):
        raise ValueError(f"tensordot: duplicate axes are not allowed, got {axes!r}")
    if [a.shape[i] for i in axes_a] != [b.shape[i] for i in axes_b]:
        raise ValueError(f"tensordot: shape-mismatch for sum: shapes {a.shape} and {b.shape} over axes {axes!r}")
    keep_a = [i for i in range(a.ndim) if i not in axes_a]
    keep_b = [i for i in range(b.ndim) if i not in axes_b]
    inner_size = int(np.prod([a.shape[i] for i in axes_a]))
    at = reshape(transpose(a, keep_a + axes_a), (int(np.prod([a.shape[i] for i in keep_a])), inner_size))
    bt = reshape(transpose(b, axes_b + keep_b), (inner_size, int(np.prod([b.shape[i] for i in keep_b]))))
    return reshape(matmul(at, bt), tuple(a.shape[i] for i in keep_a) + tuple(b.shape[i] for i in keep_b))


def inner(a: Any, b: Any, /) -> Tensor:
    """`np.inner`: sum over the last axes of both (a product when either is 0-d)."""
    a, b = _operand(a), _operand(b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"inner: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} (dim {a.ndim - 1}) "
            f"!= {b.shape[-1]} (dim {b.ndim - 1})"
        )
    return tensordot(a, b, ([-1], [-1]))


def kron(a: Any, b: Any) -> Tensor:
    """`np.kron`: the Kronecker product, blocks `a[i, j] * b` (shapes padded to one length)."""
    a, b = _operand(a), _operand(b)
    if a.ndim < b.ndim:
        a = reshape(a, (1,) * (b.ndim - a.ndim) + a.shape)
    if b.ndim == 0:
        return multiply(a, b)
    b_shape = (1,) * (a.ndim - b.ndim) + b.shape
    a_arr = reshape(a, tuple(d for n in a.shape for d in (n, 1)))
    b_arr = reshape(b, tuple(d for n in b_shape for d in (1, n)))
    return reshape(multiply(a_arr, b_arr), tuple(p * q for p, q in zip(a.shape, b_shape)))


def _moveaxis_last(x: Tensor, axis: int) -> Tensor:
    return transpose(x, [i for i in range(x.ndim) if i != axis] + [axis])


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Tensor:
    """`np.cross` of 3-vectors (2-vectors as NumPy 2.x: deprecated, z-component only for two of them)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _operand(a), _operand(b)
    if a.ndim < 1 or b.ndim < 1:
        raise ValueError(f"cross: at least one array has zero dimension (shapes {a.shape} and {b.shape})")
    a = _moveaxis_last(a, normalize_axis(axisa, a.ndim, "cross"))
    b = _moveaxis_last(b, normalize_axis(axisb, b.ndim, "cross"))
    na, nb = a.shape[-1], b.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(
            f"cross: incompatible dimensions for cross product (dimension must be 2 or 3), got {na} and {nb}"
        )
    if na == 2 or nb == 2:
        warnings.warn(
            "Arrays of 2-dimensional vectors are deprecated. Use arrays of 3-dimensional vectors instead. "
            "(deprecated in NumPy 2.0)",
            DeprecationWarning,
            stacklevel=3,
        )
    shape = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    dtype = np.promote_types(a.dtype, b.dtype)
    a, b = astype(a, dtype), astype(b, dtype)
    a0, a1, b0, b1 = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    c2 = subtract(multiply(a0, b1), multiply(a1, b0))
    if na == 2 and nb == 2:
        return c2
    if na == 2:
        b2 = b[..., 2]
        c0, c1 = multiply(a1, b2), negative(multiply(a0, b2))
    elif nb == 2:
        a2 = a[..., 2]
        c0, c1 = negative(multiply(a2, b1)), multiply(a2, b0)
    else:
        a2, b2 = a[..., 2], b[..., 2]
        c0 = subtract(multiply(a1, b2), multiply(a2, b1))
        c1 = subtract(multiply(a2, b0), multiply(a0, b2))
    out_axis = normalize_axis(axisc, len(shape) + 1, "cross")
    return stack([c if c.shape == shape else broadcast_to(c, shape) for c in (c0, c1, c2)], axis=out_axis)


# ------------------------------------------------------------------ np.einsum (both formats)
_SUBLIST_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # NumPy's: 0-25 -> A-Z, 26-51 -> a-z


def _sublist_subscripts(sublist: Any) -> str:
    out = ""
    for item in sublist:
        if item is Ellipsis:
            out += "..."
            continue
        try:
            k = operator.index(item)
        except TypeError:
            raise TypeError(f"einsum: a sublist holds ints and Ellipsis only, got {item!r}") from None
        if not 0 <= k < len(_SUBLIST_LETTERS):
            raise ValueError(f"einsum: subscript {k} is not within the valid range [0, 52)")
        out += _SUBLIST_LETTERS[k]
    return out


def einsum_numpy(*operands: Any, out: Any = None, optimize: Any = None, dtype: Any = None,
                 order: str = "K", casting: str = "safe") -> Tensor:
    """`np.einsum` on Tensors: `("ij,jk->ik", a, b)` or the sublist form `(a, [0, 1], b, [1, 2], [0, 2])`."""
    _no_out(out, "einsum")
    if not operands:
        raise ValueError("einsum: no operands given")
    if isinstance(operands[0], str):
        subscripts, xs = operands[0], list(operands[1:])
    else:
        xs = list(operands[0::2][: len(operands) // 2])
        terms = [_sublist_subscripts(s) for s in operands[1::2]]
        subscripts = ",".join(terms) + ("->" + _sublist_subscripts(operands[-1]) if len(operands) % 2 else "")
    if dtype is not None:
        target = np.dtype(dtype)
        xs = [_operand(x) for x in xs]
        for x in xs:
            if not np.can_cast(x.dtype, target, casting=casting):
                raise TypeError(f"einsum: cannot cast operand of dtype {x.dtype} to {target} under casting={casting!r}")
        xs = [astype(x, target) for x in xs]
    return _einsum_op(subscripts, *xs, optimize=None if optimize is False else optimize)


einsum_numpy.__name__ = einsum_numpy.__qualname__ = "einsum"  # errors name the NumPy function


# ------------------------------------------------------------------ tables
def _method_cumsum(self: Tensor, axis: int | None = None, dtype: Any = None, out: Any = None) -> Tensor:
    """`x.cumsum(axis=None, dtype=None)`, as `ndarray.cumsum`."""
    return cumsum(self, axis, dtype, out)


def _method_cumprod(self: Tensor, axis: int | None = None, dtype: Any = None, out: Any = None) -> Tensor:
    """`x.cumprod(axis=None, dtype=None)`, as `ndarray.cumprod`."""
    return cumprod(self, axis, dtype, out)


def _method_take(self: Tensor, indices: Any, axis: int | None = None, out: Any = None, mode: str = "raise") -> Tensor:
    """`x.take(indices, axis=None, mode="raise")`, as `ndarray.take`."""
    return take(self, indices, axis, out, mode)


for _fn, _name in ((_method_cumsum, "cumsum"), (_method_cumprod, "cumprod"), (_method_take, "take")):
    _fn.__name__ = _name

# NumPy callable (ufunc or function) -> the op that handles it on Tensors.
NUMPY_RULES: dict[Any, Callable[..., Any]] = {
    np.cumsum: named_errors(cumsum),
    np.cumprod: named_errors(cumprod),
    np.diff: named_errors(diff),
    np.sort: named_errors(sort),
    np.partition: named_errors(partition),
    np.take_along_axis: named_errors(take_along_axis),
    np.take: named_errors(take),
    np.outer: named_errors(outer),
    np.inner: named_errors(inner),
    np.tensordot: named_errors(tensordot),
    np.kron: named_errors(kron),
    np.cross: named_errors(cross),
    np.einsum: named_errors(einsum_numpy),
}

# Tensor method name -> function(self, ...) installed on Tensor. No `sort`/`partition`:
# `ndarray.sort` sorts in place.
TENSOR_METHODS: dict[str, Callable[..., Any]] = {
    "cumsum": named_errors(_method_cumsum),
    "cumprod": named_errors(_method_cumprod),
    "take": named_errors(_method_take),
}
