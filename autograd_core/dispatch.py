"""NumPy's override protocols: `np.exp(t)`, `np.sum(t, axis=1)`, `arr + t` return Tensors.

Two tables map NumPy callables to Tensor ops. Anything not in them raises a
`TypeError` that names the function, rather than silently dropping the gradient.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import creation, inplace, ops
from .tensor import Tensor


def _ufunc_table() -> dict[np.ufunc, Callable[..., Any]]:
    return {
        np.add: ops.add,
        np.subtract: ops.subtract,
        np.multiply: ops.multiply,
        np.divide: ops.divide,
        np.power: ops.power,
        np.maximum: ops.maximum,
        np.minimum: ops.minimum,
        np.matmul: ops.matmul,
        np.negative: ops.negative,
        np.positive: lambda x: x,
        np.exp: ops.exp,
        np.expm1: ops.expm1,
        np.log: ops.log,
        np.log1p: ops.log1p,
        np.sqrt: ops.sqrt,
        np.square: ops.square,
        np.absolute: ops.abs,
        np.sin: ops.sin,
        np.cos: ops.cos,
        np.tanh: ops.tanh,
        np.equal: ops.equal,
        np.not_equal: ops.not_equal,
        np.less: ops.less,
        np.less_equal: ops.less_equal,
        np.greater: ops.greater,
        np.greater_equal: ops.greater_equal,
        np.logical_and: ops.logical_and,
        np.logical_or: ops.logical_or,
        np.logical_xor: ops.logical_xor,
        np.logical_not: ops.logical_not,
        np.bitwise_and: ops.bitwise_and,
        np.bitwise_or: ops.bitwise_or,
        np.bitwise_xor: ops.bitwise_xor,
        np.invert: ops.invert,
        np.sign: ops.sign,
        np.floor: ops.floor,
        np.ceil: ops.ceil,
        np.rint: ops.round,
        np.isnan: ops.isnan,
        np.isinf: ops.isinf,
        np.isfinite: ops.isfinite,
    }


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _values_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Functions whose answer is not a differentiable array: run them on the values."""

    def run(*args: Any, **kwargs: Any) -> Any:
        args = tuple([_data(a) for a in arg] if isinstance(arg, (list, tuple)) else _data(arg) for arg in args)
        return fn(*args, **{k: _data(v) for k, v in kwargs.items()})

    return run


def _where(condition: Any, *values: Any) -> Any:
    if not values:
        return np.nonzero(_data(condition))
    return ops.where(condition, *values)


def _clip(a: Any, a_min: Any = None, a_max: Any = None, **kwargs: Any) -> Tensor:
    lo = kwargs.pop("min", a_min)
    hi = kwargs.pop("max", a_max)
    if kwargs:
        raise TypeError(f"numpy.clip on a Tensor does not take {sorted(kwargs)}")
    return ops.clip(a, lo, hi)


def _transpose(a: Any, axes: Any = None) -> Tensor:
    return ops.transpose(a, axes)


def _ravel(a: Any, order: str = "C") -> Tensor:
    if order not in ("C", "A", "K"):
        raise TypeError(f"numpy.ravel on a Tensor supports order='C' only, got order={order!r}")
    return ops.ravel(a)


def _like(fn: Callable[..., Any]) -> Callable[..., Tensor]:
    """`np.zeros_like(t)` and friends: a new Tensor of `t`'s dtype (NumPy's order/subok are accepted)."""

    def run(a: Any, *args: Any, order: str = "K", subok: bool = True, **kwargs: Any) -> Tensor:
        return fn(a, *args, **kwargs)

    return run


def _function_table() -> dict[Callable[..., Any], Callable[..., Any]]:
    return {
        np.sum: ops.sum,
        np.mean: ops.mean,
        np.var: ops.var,
        np.std: ops.std,
        np.max: ops.max,
        np.amax: ops.max,
        np.min: ops.min,
        np.amin: ops.min,
        np.prod: ops.prod,
        np.argmax: ops.argmax,
        np.argmin: ops.argmin,
        np.reshape: ops.reshape,
        np.transpose: _transpose,
        np.swapaxes: ops.swapaxes,
        np.ravel: _ravel,
        np.squeeze: ops.squeeze,
        np.expand_dims: ops.expand_dims,
        np.broadcast_to: ops.broadcast_to,
        np.where: _where,
        np.clip: _clip,
        np.concatenate: ops.concatenate,
        np.stack: ops.stack,
        np.split: ops.split,
        np.pad: ops.pad,
        np.einsum: ops.einsum,
        np.dot: ops.dot,
        np.matmul: ops.matmul,
        np.zeros_like: _like(creation.zeros_like),
        np.ones_like: _like(creation.ones_like),
        np.full_like: _like(creation.full_like),
        np.empty_like: _like(creation.empty_like),
        np.shape: _values_only(np.shape),
        np.ndim: _values_only(np.ndim),
        np.size: _values_only(np.size),
        np.allclose: _values_only(np.allclose),
        np.isclose: _values_only(np.isclose),
        np.array_equal: _values_only(np.array_equal),
        np.nonzero: _values_only(np.nonzero),
        np.count_nonzero: _values_only(np.count_nonzero),
        np.argsort: _values_only(np.argsort),
        np.any: _values_only(np.any),
        np.all: _values_only(np.all),
        np.result_type: _values_only(np.result_type),
    }


@functools.cache
def tables() -> tuple[dict[np.ufunc, Callable[..., Any]], dict[Callable[..., Any], Callable[..., Any]]]:
    """(ufunc rules, function rules), built on first use so import order never matters."""
    ufuncs, functions = _ufunc_table(), _function_table()
    for module in ops._EXTENSIONS:
        for func, rule in module.NUMPY_RULES.items():
            (ufuncs if isinstance(func, np.ufunc) else functions)[func] = rule
    return ufuncs, functions


def _qualname(func: Any) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    return f"{module}.{func.__name__}"


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    name = f"numpy.{ufunc.__name__}"
    if method != "__call__":
        raise TypeError(f"{name}.{method} has no Tensor rule in autograd_core; apply it to t.data (no gradient)")
    out = kwargs.pop("out", None)
    if kwargs:
        raise TypeError(f"{name} on Tensors does not support the keyword arguments {sorted(kwargs)}")
    fn = tables()[0].get(ufunc)
    if fn is None:
        raise TypeError(
            f"{name} has no Tensor rule in autograd_core; apply it to t.data (no gradient) "
            f"or write it with supported ops"
        )
    if out is None:
        return fn(*inputs)
    return _into(name, ufunc, fn, inputs, out)


def _into(name: str, ufunc: np.ufunc, fn: Callable[..., Any], inputs: tuple[Any, ...], out: Any) -> Any:
    """`out=`: into a Tensor it is an in-place write (recorded as such); into an ndarray,
    only values, so an input that requires grad is refused rather than losing its gradient."""
    if isinstance(out, tuple):
        if len(out) != 1:
            raise TypeError(f"{name} on Tensors supports one output array, got {len(out)}")
        out = out[0]
    if isinstance(out, Tensor):
        return inplace.assign(out, fn(*inputs))
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad:
            raise TypeError(
                f"{name}(..., out=ndarray): an input Tensor requires grad (shape {x.shape}) and writing it into "
                f"an ndarray would lose the gradient silently; pass x.detach() (or x.data) to keep only the "
                f"values, or write into a Tensor (out=ag.zeros(...))"
            )
    return ufunc(*[_data(x) for x in inputs], out=out)


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    fn = tables()[1].get(func)
    if fn is None:
        raise TypeError(
            f"{_qualname(func)} has no Tensor rule in autograd_core; apply it to t.data "
            f"(no gradient) or write it with supported ops"
        )
    return fn(*args, **kwargs)
