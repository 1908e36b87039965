"""Unary elementwise ops: one line of forward and one line of derivative each.

A rule receives the upstream gradient `g`, the output `y` and the input `x`, so
derivatives reuse the forward value where that is cheaper (`exp`, `tanh`, `sigmoid`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import dtypes, kernels
from ..kernels import Kernel
from ..tensor import ELEMENTWISE, Tensor, Vjp, as_tensor, make_result


def _unary(
    name: str,
    fn: Callable[[np.ndarray], np.ndarray],
    vjp: Vjp,
    doc: str,
    into: Kernel | None = None,
    vjp_into: tuple[Kernel, int] | None = None,
) -> Callable[[Any], Tensor]:
    """An elementwise op. For float arrays big enough to split (see `kernels`), the forward
    runs as `into(out, x)` and the gradient as `vjp_into[0](out, g, y, x)` (making
    `vjp_into[1]` passes) over blocks on several threads; both write exactly the values
    `fn` and `vjp` return. `into` defaults to the ufunc `fn` writing to `out`."""
    vjps = (vjp,)
    if into is None:
        into = _ufunc_into(fn)
    split_vjps = vjps if vjp_into is None else (_split_vjp(vjp, *vjp_into),)
    # Below this size neither pass can split (the gradient may make several passes).
    small = kernels.SPLIT_MIN // (1 if vjp_into is None else max(1, vjp_into[1]))

    def op(x: Any) -> Tensor:
        if type(x) is not Tensor:  # inline: saves the call that pays for the size check below
            x = as_tensor(x)
        d = x.data
        if d.size < small or d.dtype.kind != "f":  # the size check first: small arrays pay one compare
            return make_result(fn(d), name, (x,), vjps, ELEMENTWISE)
        return make_result(kernels.pointwise(into, np.empty_like(d), d), name, (x,), split_vjps, ELEMENTWISE)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _ufunc_into(fn: Any) -> Kernel:
    def into(out: np.ndarray, x: np.ndarray) -> None:
        fn(x, out=out)

    return into


def _split_vjp(vjp: Vjp, into: Kernel, passes: int) -> Vjp:
    def split(g: Any, y: Any, x: Any) -> Any:
        if type(g) is not np.ndarray or g.dtype != y.dtype:  # under create_graph g is a Tensor
            return vjp(g, y, x)
        return kernels.pointwise(into, np.empty_like(g), g, y, x, work=g.size * passes)

    return split


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-log(1 + exp(-x))) never overflows and keeps relative precision for x << 0.
    with np.errstate(invalid="ignore"):  # NaN in gives NaN out, silently, like np.exp
        return np.exp(-np.logaddexp(0, -x))


# The split forms of the hot rules: the same operations as the rules above them, in the
# same order, writing into the block they are given.
def _sigmoid_into(out: np.ndarray, x: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        np.negative(x, out=out)
        np.logaddexp(0, out, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)


def _relu_into(out: np.ndarray, x: np.ndarray) -> None:
    np.maximum(x, 0, out=out)


def _relu_grad_into(out: np.ndarray, g: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
    np.multiply(g, x > 0, out=out)


def _exp_grad_into(out: np.ndarray, g: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
    np.multiply(g, y, out=out)


def _tanh_grad_into(out: np.ndarray, g: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
    t = y * y
    np.subtract(1, t, out=t)
    np.multiply(g, t, out=out)


def _sigmoid_grad_into(out: np.ndarray, g: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
    np.multiply(g, y, out=out)
    np.multiply(out, 1 - y, out=out)


exp = _unary("exp", np.exp, lambda g, y, x: g * y, "e**x.", vjp_into=(_exp_grad_into, 1))
log = _unary("log", np.log, lambda g, y, x: g / x, "Natural logarithm.")
log1p = _unary("log1p", np.log1p, lambda g, y, x: g / (x + 1), "log(1 + x), accurate for small x.")
expm1 = _unary("expm1", np.expm1, lambda g, y, x: g * (y + 1), "exp(x) - 1, accurate for small x.")
sqrt = _unary("sqrt", np.sqrt, lambda g, y, x: g / (y * 2), "Square root.")
square = _unary("square", np.square, lambda g, y, x: g * x * 2, "x**2.")
abs = _unary("abs", np.abs, lambda g, y, x: g * np.sign(x), "|x|; the gradient at 0 is 0.")
sin = _unary("sin", np.sin, lambda g, y, x: g * np.cos(x), "Sine.")
cos = _unary("cos", np.cos, lambda g, y, x: -g * np.sin(x), "Cosine.")
tanh = _unary("tanh", np.tanh, lambda g, y, x: g * (1 - y * y), "Hyperbolic tangent.", vjp_into=(_tanh_grad_into, 3))
sigmoid = _unary(
    "sigmoid", _sigmoid, lambda g, y, x: g * y * (1 - y), "1 / (1 + e**-x), overflow-free.",
    into=_sigmoid_into, vjp_into=(_sigmoid_grad_into, 3),
)
relu = _unary(
    "relu", lambda x: np.maximum(x, 0), lambda g, y, x: g * (x > 0), "max(x, 0); the gradient at 0 is 0.",
    into=_relu_into, vjp_into=(_relu_grad_into, 2),
)


def clip(x: Any, lo: Any = None, hi: Any = None) -> Tensor:
    """Limit values to [lo, hi] (either may be None); the gradient passes where lo <= x <= hi.

    The bounds are constants: no gradient flows to them.
    """
    x = as_tensor(x)
    lo = lo.data if isinstance(lo, Tensor) else lo
    hi = hi.data if isinstance(hi, Tensor) else hi
    if lo is None and hi is None:
        raise ValueError("clip: at least one of lo and hi must be given")
    data = np.clip(x.data, lo, hi)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        if lo is None:
            return g * (x <= hi)
        if hi is None:
            return g * (x >= lo)
        return g * ((x >= lo) & (x <= hi))

    return make_result(data.astype(x.data.dtype, copy=False), "clip", (x,), (vjp,), ELEMENTWISE)


def astype(x: Any, dtype: Any) -> Tensor:
    """Cast to `dtype`; differentiable between float types (the gradient is cast back)."""
    x = as_tensor(x)
    dtype = np.dtype(dtype)
    if dtype == x.data.dtype:
        return x
    data = x.data.astype(dtype)
    if not dtypes.is_differentiable_dtype(dtype):
        return Tensor(data)  # a cast to int or bool has no gradient
    source = x.data.dtype
    return make_result(data, "astype", (x,), (lambda g, y, x: g.astype(source),), lambda ts, y, x: ts[0].astype(dtype))


def _constant(name: str, fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Any], Tensor]:
    """Piecewise-constant ops: their derivative is zero almost everywhere, so no graph."""

    def op(x: Any) -> Tensor:
        return Tensor(fn(as_tensor(x).data))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"`np.{name}`; not differentiable (piecewise constant), the result is a constant."
    return op


sign = _constant("sign", np.sign)
floor = _constant("floor", np.floor)
ceil = _constant("ceil", np.ceil)
round = _constant("round", np.round)
isnan = _constant("isnan", np.isnan)
isinf = _constant("isinf", np.isinf)
isfinite = _constant("isfinite", np.isfinite)
