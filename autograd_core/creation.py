"""Creation functions with NumPy's names and arguments, plus `requires_grad`.

Float results take the default float dtype (`ag.get_default_dtype()`, float32 unless
changed) when no `dtype` is given, exactly as Python floats do; integer arguments to
`arange` and integer fill values to `full` give integers, as in NumPy. The `*_like`
functions keep the prototype's dtype. `ag.linspace` lives with the array ops, since it is
differentiable in its endpoints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from .tensor import Tensor


def _float(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else np.dtype(dtype)


def _make(data: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(data, requires_grad=requires_grad)


def zeros(shape: Any, dtype: Any = None, *, requires_grad: bool = False) -> Tensor:
    """A Tensor of zeros (`np.zeros`); the buffer to write results into with `out[i] = ...`."""
    return _make(np.zeros(shape, dtype=_float(dtype)), requires_grad)


def ones(shape: Any, dtype: Any = None, *, requires_grad: bool = False) -> Tensor:
    """A Tensor of ones (`np.ones`)."""
    return _make(np.ones(shape, dtype=_float(dtype)), requires_grad)


def empty(shape: Any, dtype: Any = None, *, requires_grad: bool = False) -> Tensor:
    """An uninitialised Tensor (`np.empty`): write every element before reading it."""
    return _make(np.empty(shape, dtype=_float(dtype)), requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, *, requires_grad: bool = False) -> Tensor:
    """A Tensor filled with `fill_value` (`np.full`); ints and bools keep their dtype."""
    if dtype is None:
        value = fill_value.data if isinstance(fill_value, Tensor) else fill_value
        kind = np.asarray(value).dtype.kind
        dtype = np.asarray(value).dtype if kind in "biuc" or isinstance(value, np.ndarray) else _float(None)
    return _make(np.full(shape, fill_value.data if isinstance(fill_value, Tensor) else fill_value, dtype=dtype),
                 requires_grad)


def _like_dtype(prototype: Any, dtype: Any) -> Any:
    if dtype is not None:
        return dtype
    return prototype.dtype if isinstance(prototype, (Tensor, np.ndarray)) else np.asarray(prototype).dtype


def _shape_of(prototype: Any, shape: Any) -> Any:
    if shape is not None:
        return shape
    return prototype.shape if isinstance(prototype, (Tensor, np.ndarray)) else np.shape(prototype)


def zeros_like(prototype: Any, dtype: Any = None, shape: Any = None, *, requires_grad: bool = False) -> Tensor:
    """Zeros with `prototype`'s shape and dtype (`np.zeros_like`)."""
    return _make(np.zeros(_shape_of(prototype, shape), dtype=_like_dtype(prototype, dtype)), requires_grad)


def ones_like(prototype: Any, dtype: Any = None, shape: Any = None, *, requires_grad: bool = False) -> Tensor:
    """Ones with `prototype`'s shape and dtype (`np.ones_like`)."""
    return _make(np.ones(_shape_of(prototype, shape), dtype=_like_dtype(prototype, dtype)), requires_grad)


def empty_like(prototype: Any, dtype: Any = None, shape: Any = None, *, requires_grad: bool = False) -> Tensor:
    """Uninitialised, with `prototype`'s shape and dtype (`np.empty_like`)."""
    return _make(np.empty(_shape_of(prototype, shape), dtype=_like_dtype(prototype, dtype)), requires_grad)


def full_like(
    prototype: Any, fill_value: Any, dtype: Any = None, shape: Any = None, *, requires_grad: bool = False
) -> Tensor:
    """`fill_value` with `prototype`'s shape and dtype (`np.full_like`)."""
    value = fill_value.data if isinstance(fill_value, Tensor) else fill_value
    return _make(np.full(_shape_of(prototype, shape), value, dtype=_like_dtype(prototype, dtype)), requires_grad)


def arange(*args: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`np.arange([start,] stop[, step])`: integers for integer arguments, else the default float dtype."""
    values = [a.item() if isinstance(a, Tensor) else a for a in args]
    data = np.arange(*values, dtype=dtype)
    if dtype is None and data.dtype.kind == "f":
        data = data.astype(dtypes.get_default_dtype())
    return _make(data, requires_grad)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None, *, requires_grad: bool = False) -> Tensor:
    """An identity-like matrix with ones on diagonal `k` (`np.eye`)."""
    return _make(np.eye(N, M, k, dtype=_float(dtype)), requires_grad)


def identity(n: int, dtype: Any = None, *, requires_grad: bool = False) -> Tensor:
    """The `n` x `n` identity (`np.identity`)."""
    return eye(n, dtype=dtype, requires_grad=requires_grad)
