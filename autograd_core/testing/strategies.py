"""Hypothesis strategies: shapes, broadcast-compatible shapes, arrays, Tensors, axes, indices.

Defaults are small (at most 4 axes of at most 5 elements, values in [-3, 3]) because
property tests of gradients run finite differences, whose cost grows with the size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..tensor import Tensor

Shape = tuple[int, ...]


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5) -> st.SearchStrategy[Shape]:
    """Array shapes, including `()` (0-d) when `min_dims` is 0.

    >>> from autograd_core.testing import shapes
    >>> shapes(min_dims=1, max_dims=2).example()  # doctest: +SKIP
    (3, 1)
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of `num_shapes` shapes that broadcast together under NumPy's rules.

    The shapes differ in length (0-d included) and use size-1 axes that stretch,
    which is exactly where a gradient must be summed back to its input's shape.

    >>> from autograd_core.testing import broadcastable_shapes
    >>> broadcastable_shapes(2).example()  # doctest: +SKIP
    ((4, 1, 3), (2, 1))
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda b: tuple(b.input_shapes))


def _elements(dtype: np.dtype, min_value: float, max_value: float) -> st.SearchStrategy[Any]:
    if dtype.kind == "f":
        return st.floats(
            min_value, max_value, allow_nan=False, allow_infinity=False, allow_subnormal=False,
            width=min(8 * dtype.itemsize, 64),
        )
    if dtype.kind in "iu":
        return st.integers(int(np.ceil(min_value)), int(np.floor(max_value)))
    if dtype.kind == "b":
        return st.booleans()
    raise ValueError(f"arrays: unsupported dtype {dtype}")


def arrays(
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    dtype: Any = np.float64,
    min_value: float = -3,
    max_value: float = 3,
    *,
    min_dims: int = 0,
    max_dims: int = 4,
    min_side: int = 1,
    max_side: int = 5,
    elements: st.SearchStrategy[Any] | None = None,
    unique: bool = False,
) -> st.SearchStrategy[np.ndarray]:
    """NumPy arrays of `dtype` with finite values in [`min_value`, `max_value`].

    `shape` is a fixed shape, a strategy for one, or None to draw one with
    `shapes(min_dims, max_dims, min_side, max_side)`. `elements` replaces the value
    strategy; `unique=True` makes all values distinct.

    >>> import numpy as np
    >>> from autograd_core.testing import arrays
    >>> arrays((2, 3), dtype=np.float32, min_value=0.5).example()  # doctest: +SKIP
    array([[0.5, 1. , 2.75], [3. , 0.5, 1.5 ]], dtype=float32)
    """
    dtype = np.dtype(dtype)
    if shape is None:
        shape = shapes(min_dims, max_dims, min_side, max_side)
    values = elements if elements is not None else _elements(dtype, min_value, max_value)
    return hnp.arrays(dtype, shape, elements=values, unique=unique)


def tensors(
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    dtype: Any = np.float64,
    requires_grad: bool = True,
    **kwargs: Any,
) -> st.SearchStrategy[Tensor]:
    """Tensors around `arrays(shape, dtype, **kwargs)`; float64 leaves requiring grad by default.

    >>> import autograd_core as ag
    >>> from hypothesis import given
    >>> from autograd_core.testing import tensors
    >>> @given(tensors(min_value=0.1))
    ... def test_log(x):
    ...     assert ag.gradcheck(ag.log, [x])
    """
    dtype = np.dtype(dtype)
    if requires_grad and dtype.kind != "f":
        raise ValueError(f"tensors: only floating dtypes can require grad, got {dtype}; pass requires_grad=False")
    return arrays(shape, dtype, **kwargs).map(lambda a: Tensor(a, requires_grad=requires_grad))


def axes(ndim: int, allow_none: bool = True, allow_tuple: bool = True) -> st.SearchStrategy[Any]:
    """Valid `axis` arguments for an array of `ndim` dimensions.

    Single ints (negative ones included), tuples of distinct axes in any order and
    mixed signs (the empty tuple included), and None.

    >>> from autograd_core.testing import axes
    >>> axes(3).example()  # doctest: +SKIP
    (-1, 0)
    """
    options: list[st.SearchStrategy[Any]] = []
    if allow_none:
        options.append(st.none())
    if ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
    if allow_tuple:
        options.append(hnp.valid_tuple_axes(ndim))
    if not options:
        raise ValueError(f"axes: no valid axis for ndim={ndim} with allow_none=False and allow_tuple=False")
    return st.one_of(options)


@st.composite
def _repeated_integer_index(draw: st.DrawFn, shape: Shape) -> tuple[Any, ...]:
    """An integer array along one axis that always repeats an entry (negative ones allowed)."""
    axis = draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5))
    picks.append(picks[0])  # the repeat: its gradient must accumulate
    index = np.array(draw(st.permutations(picks)), dtype=np.intp)
    if index.size % 2 == 0 and draw(st.booleans()):
        index = index.reshape(2, -1)  # an index array of two dimensions
    lead = [draw(st.sampled_from([slice(None), slice(None, None, -1), 0])) for _ in range(axis)]
    return (*lead, index)


@st.composite
def _boolean_index(draw: st.DrawFn, shape: Shape) -> tuple[Any, ...]:
    """A boolean mask over a run of consecutive axes, after full slices of the leading ones."""
    start = draw(st.integers(0, len(shape) - 1))
    stop = draw(st.integers(start + 1, len(shape)))
    mask = draw(hnp.arrays(np.bool_, shape[start:stop]))
    return (slice(None),) * start + (mask,)


def indices(
    shape: Shape, allow_basic: bool = True, allow_integer: bool = True, allow_boolean: bool = True
) -> st.SearchStrategy[Any]:
    """NumPy indices valid for an array of `shape`, for `x[index]` tests.

    Basic indices (ints, slices with any step, `None`, `...`); integer arrays along one
    axis that always contain a repeated entry, possibly after ints and slices; integer
    arrays for every axis; boolean masks over consecutive axes. 0-d shapes get basic
    indices only.

    >>> from autograd_core.testing import indices
    >>> indices((3, 4)).example()  # doctest: +SKIP
    (slice(None, None, None), array([ 2, -1,  2]))
    """
    shape = tuple(shape)
    options: list[st.SearchStrategy[Any]] = []
    if allow_basic:
        options.append(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    if shape and min(shape) > 0:
        if allow_integer:
            options.append(_repeated_integer_index(shape))
            options.append(
                hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
            )
        if allow_boolean:
            options.append(_boolean_index(shape))
    if not options:
        raise ValueError(f"indices: no index kind allowed for shape {shape}")
    return st.one_of(options)
