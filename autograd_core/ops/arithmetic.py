"""Binary arithmetic, comparisons and logical ops, with NumPy broadcasting.

Each rule returns the gradient at the broadcast output shape; the engine sums it back
to the input's shape. Ties in `maximum`/`minimum` split the gradient equally between
the two inputs, as PyTorch does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import kernels
from ..tensor import _SCALARS, ELEMENTWISE, Tensor, Vjp, as_tensor, make_result


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, as_tensor(b, a)
    b = as_tensor(b)
    return as_tensor(a, b), b


def _shape_error(name: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(f"{name}: operands with shapes {a.shape} and {b.shape} cannot be broadcast together")


def _binary(
    name: str,
    fn: Callable[..., Any],
    vjps: tuple[Vjp | None, Vjp | None],
    split_vjps: tuple[Vjp | None, Vjp | None] | None = None,
) -> Callable[[Any, Any], Tensor]:
    """A broadcasting op. Big operands run split over threads (`kernels.ufunc`), and so do the
    gradient rules in `split_vjps` (the same values as `vjps`, for plain-array gradients)."""
    split_vjps = vjps if split_vjps is None else tuple(_first_order(r, s) for r, s in zip(vjps, split_vjps))
    small = kernels.SPLIT_MIN

    def op(a: Any, b: Any) -> Tensor:
        a, b = _pair(a, b)
        x, y = a.data, b.data
        try:
            if x.size < small and y.size < small:  # the size check first: small arrays pay two compares
                return make_result(fn(x, y), name, (a, b), vjps, ELEMENTWISE)
            data = kernels.ufunc(fn, x, y)
        except ValueError:
            raise _shape_error(name, a, b) from None
        return make_result(data, name, (a, b), split_vjps, ELEMENTWISE)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise `np.{fn.__name__}` with broadcasting; differentiable."
    return op


def _power_grad_base(g: Any, y: Any, a: Any, b: Any) -> Any:
    # b * a**(b-1); at a == 0 with b == 0 that is 0 * inf, defined as 0 (PyTorch's value:
    # d(x**0)/dx = 0 even at x = 0). Masking only that point keeps the second derivative in b.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((b == 0) & (a == 0), 0, g * b * a ** (b - 1))


def _power_grad_exponent(g: Any, y: Any, a: Any, b: Any) -> Any:
    # a**b * log(a), as PyTorch: 0 where a == 0 and b >= 0, -inf for 0 ** (b < 0), NaN for a < 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((a == 0) & (b >= 0), 0, g * y * np.log(a))


def _first_order(rule: Vjp | None, split: Vjp | None) -> Vjp | None:
    """`split` for plain-array gradients, `rule` under create_graph (where g is a Tensor)."""
    if rule is None or split is None:
        return rule

    def vjp(g: Any, y: Any, a: Any, b: Any) -> Any:
        return split(g, y, a, b) if type(g) is np.ndarray else rule(g, y, a, b)

    return vjp


_u = kernels.ufunc  # each call splits over threads when its result is big enough

add = _binary("add", np.add, (lambda g, y, a, b: g, lambda g, y, a, b: g))
subtract = _binary(
    "subtract",
    np.subtract,
    (lambda g, y, a, b: g, lambda g, y, a, b: -g),
    (None, lambda g, y, a, b: _u(np.negative, g)),
)
multiply = _binary(
    "multiply",
    np.multiply,
    (lambda g, y, a, b: g * b, lambda g, y, a, b: g * a),
    (lambda g, y, a, b: _u(np.multiply, g, b), lambda g, y, a, b: _u(np.multiply, g, a)),
)
divide = _binary(
    "divide",
    np.divide,
    (lambda g, y, a, b: g / b, lambda g, y, a, b: -g * y / b),
    (
        lambda g, y, a, b: _u(np.divide, g, b),
        lambda g, y, a, b: _u(np.divide, _u(np.multiply, _u(np.negative, g), y), b),
    ),
)
power = _binary(
    "power",
    np.power,
    (_power_grad_base, _power_grad_exponent),
)
maximum = _binary(
    "maximum",
    np.maximum,
    (
        lambda g, y, a, b: g * (a > b) + g * (a == b) * 0.5,
        lambda g, y, a, b: g * (b > a) + g * (a == b) * 0.5,
    ),
)
minimum = _binary(
    "minimum",
    np.minimum,
    (
        lambda g, y, a, b: g * (a < b) + g * (a == b) * 0.5,
        lambda g, y, a, b: g * (b < a) + g * (a == b) * 0.5,
    ),
)


def negative(x: Any) -> Tensor:
    """`-x`."""
    x = as_tensor(x)
    return make_result(np.negative(x.data), "negative", (x,), (lambda g, y, x: -g,), ELEMENTWISE)


def _not_differentiable(name: str, fn: Callable[..., Any], bitwise: bool = False) -> Callable[[Any, Any], Tensor]:
    """Comparisons, logical and bitwise ops: Tensors outside the graph on purpose.

    The bitwise ones (`& | ^`) are NumPy's: bit by bit on integers, logical on booleans,
    and a TypeError for floats.
    """

    def op(a: Any, b: Any) -> Tensor:
        # A Python scalar goes to NumPy as it is: NumPy's own weak-scalar rules then decide (a
        # logical op reads 65520 as True without first casting it to a float16 Tensor's dtype,
        # and a comparison of int8 values with 1000 is simply True).
        x = a if type(a) in _SCALARS else as_tensor(a).data
        y = b if type(b) in _SCALARS else as_tensor(b).data
        try:
            return Tensor(fn(x, y))
        except ValueError:
            raise _shape_error(name, as_tensor(x), as_tensor(y)) from None
        except TypeError:
            if not bitwise:
                raise
            raise TypeError(
                f"{name}: supported for integer and boolean Tensors only, got {np.asarray(x).dtype} and "
                f"{np.asarray(y).dtype}"
            ) from None

    op.__name__ = op.__qualname__ = name
    kind = "on integers and booleans" if bitwise else "(boolean result)"
    op.__doc__ = f"Elementwise `np.{fn.__name__}` {kind}; not differentiable."
    return op


equal = _not_differentiable("equal", np.equal)
not_equal = _not_differentiable("not_equal", np.not_equal)
less = _not_differentiable("less", np.less)
less_equal = _not_differentiable("less_equal", np.less_equal)
greater = _not_differentiable("greater", np.greater)
greater_equal = _not_differentiable("greater_equal", np.greater_equal)
logical_and = _not_differentiable("logical_and", np.logical_and)
logical_or = _not_differentiable("logical_or", np.logical_or)
logical_xor = _not_differentiable("logical_xor", np.logical_xor)


def logical_not(x: Any) -> Tensor:
    """Elementwise `np.logical_not`; not differentiable."""
    return Tensor(np.logical_not(as_tensor(x).data))


bitwise_and = _not_differentiable("bitwise_and", np.bitwise_and, bitwise=True)
bitwise_or = _not_differentiable("bitwise_or", np.bitwise_or, bitwise=True)
bitwise_xor = _not_differentiable("bitwise_xor", np.bitwise_xor, bitwise=True)


def invert(x: Any) -> Tensor:
    """`~x` as NumPy: bitwise NOT on integers, logical NOT on booleans; not differentiable."""
    x = as_tensor(x)
    if x.dtype.kind not in "biu":
        raise TypeError(f"invert: supported for integer and boolean Tensors only, got {x.dtype}")
    return Tensor(np.invert(x.data))
