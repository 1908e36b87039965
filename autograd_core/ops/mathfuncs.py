"""NumPy's elementwise math beyond the basics: trigonometric, hyperbolic, logarithmic, rounding.

Forward values are NumPy's own (the same ufunc on `x.data`), so values, dtypes and the
warnings NumPy emits are NumPy's. The vjps are written with NumPy calls that dispatch
back to Tensor ops, so every rule is differentiable again under `create_graph`.

Where a derivative is undefined the rule gives what its formula gives, as NumPy gives
`inf` for `log(0)`: `arcsin`/`arccos` at +-1, `arccosh` at 1 and `arctanh` at +-1 have
infinite derivatives; `arctan2` at (0, 0) gives NaN; `log2`/`log10`/`reciprocal` at 0
give infinities. Kinks take the conventions of `abs` and `maximum`: `fabs` and `hypot`
have gradient 0 at 0, ties in `fmax`/`fmin` split the gradient equally, `remainder` is
differentiated between its jumps. Rounding ops (`around`, `trunc`, `fix`,
`floor_divide`, `angle`, `imag` of a real Tensor) are piecewise constant: their results
are constants that record nothing, so their gradient is zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..tensor import Tensor, Vjp, as_tensor, make_result

__all__ = [
    "tan", "arcsin", "arccos", "arctan", "arctan2",
    "sinh", "cosh", "arcsinh", "arccosh", "arctanh",
    "deg2rad", "rad2deg", "degrees", "radians",
    "exp2", "log2", "log10", "logaddexp", "logaddexp2", "hypot", "sinc",
    "reciprocal", "fabs", "fmax", "fmin", "remainder", "floor_divide",
    "nan_to_num", "around", "trunc", "fix", "angle", "real", "imag", "conjugate", "conj",
]  # fmt: skip

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_DEG = 180.0 / math.pi  # Python floats: a float32 gradient times these stays float32
_RAD = math.pi / 180.0


# ----------------------------------------------------------------- factories
def _values(x: Any) -> np.ndarray:
    """The array behind a vjp argument (a Tensor under create_graph): masks are constants."""
    return x.data if isinstance(x, Tensor) else x


def _unary(name: str, fn: np.ufunc, vjp: Vjp, doc: str) -> Callable[[Any], Tensor]:
    vjps = (vjp,)

    def op(x: Any) -> Tensor:
        x = as_tensor(x)
        return make_result(fn(x.data), name, (x,), vjps)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors; a Python scalar takes the other side's dtype (NumPy's weak scalars)."""
    if isinstance(a, Tensor):
        return a, as_tensor(b, a)
    b = as_tensor(b)
    return as_tensor(a, b), b


def _broadcast(name: str, fn: np.ufunc, a: Tensor, b: Tensor) -> np.ndarray:
    try:
        return fn(a.data, b.data)
    except ValueError:
        raise ValueError(f"{name}: operands with shapes {a.shape} and {b.shape} cannot be broadcast together") from None


def _binary(name: str, fn: np.ufunc, vjps: tuple[Vjp, Vjp], doc: str) -> Callable[[Any, Any], Tensor]:
    def op(a: Any, b: Any) -> Tensor:
        a, b = _pair(a, b)
        return make_result(_broadcast(name, fn, a, b), name, (a, b), vjps)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


# ----------------------------------------------------------------- trigonometric and hyperbolic
tan = _unary("tan", np.tan, lambda g, y, x: g * (1 + y * y), "Tangent; d/dx = 1 + tan(x)**2.")
arcsin = _unary(
    "arcsin", np.arcsin, lambda g, y, x: g / np.sqrt((1 - x) * (1 + x)),
    "Inverse sine on [-1, 1]; the derivative 1/sqrt(1 - x**2) is infinite at +-1.",
)
arccos = _unary(
    "arccos", np.arccos, lambda g, y, x: -g / np.sqrt((1 - x) * (1 + x)),
    "Inverse cosine on [-1, 1]; the derivative -1/sqrt(1 - x**2) is infinite at +-1.",
)
arctan = _unary("arctan", np.arctan, lambda g, y, x: g / (1 + x * x), "Inverse tangent.")
sinh = _unary("sinh", np.sinh, lambda g, y, x: g * np.cosh(x), "Hyperbolic sine.")
cosh = _unary("cosh", np.cosh, lambda g, y, x: g * np.sinh(x), "Hyperbolic cosine.")
arcsinh = _unary(
    "arcsinh", np.arcsinh, lambda g, y, x: g / np.hypot(x, 1),
    "Inverse hyperbolic sine; d/dx = 1/hypot(x, 1), without overflow for large |x|.",
)
arccosh = _unary(
    "arccosh", np.arccosh, lambda g, y, x: g / (np.sqrt(x - 1) * np.sqrt(x + 1)),
    "Inverse hyperbolic cosine on [1, inf); the derivative 1/sqrt(x**2 - 1) is infinite at 1.",
)
arctanh = _unary(
    "arctanh", np.arctanh, lambda g, y, x: g / ((1 - x) * (1 + x)),
    "Inverse hyperbolic tangent on (-1, 1); the derivative 1/(1 - x**2) is infinite at +-1.",
)
deg2rad = _unary("deg2rad", np.deg2rad, lambda g, y, x: g * _RAD, "Degrees to radians.")
radians = _unary("radians", np.radians, lambda g, y, x: g * _RAD, "Degrees to radians (`np.radians`).")
rad2deg = _unary("rad2deg", np.rad2deg, lambda g, y, x: g * _DEG, "Radians to degrees.")
degrees = _unary("degrees", np.degrees, lambda g, y, x: g * _DEG, "Radians to degrees (`np.degrees`).")


def _arctan2_denominator(a: Any, b: Any) -> Any:
    return a * a + b * b


arctan2 = _binary(
    "arctan2",
    np.arctan2,
    (
        lambda g, y, a, b: g * b / _arctan2_denominator(a, b),
        lambda g, y, a, b: -g * a / _arctan2_denominator(a, b),
    ),
    "Angle of the point (b, a) with broadcasting: d/da = b/(a**2+b**2), d/db = -a/(a**2+b**2); NaN at (0, 0).",
)


# ----------------------------------------------------------------- exponentials and logarithms
exp2 = _unary("exp2", np.exp2, lambda g, y, x: g * y * _LN2, "2**x.")
log2 = _unary("log2", np.log2, lambda g, y, x: g / (x * _LN2), "Base-2 logarithm; the derivative is infinite at 0.")
log10 = _unary(
    "log10", np.log10, lambda g, y, x: g / (x * _LN10), "Base-10 logarithm; the derivative is infinite at 0."
)
# The weight of each side is a sigmoid of the difference, exp(-logaddexp(0, b - a)) = exp(a - out):
# exact for ties at any magnitude (where `out` rounds to `a`) and never overflowing.
logaddexp = _binary(
    "logaddexp",
    np.logaddexp,
    (
        lambda g, y, a, b: g * np.exp(-np.logaddexp(0, b - a)),
        lambda g, y, a, b: g * np.exp(-np.logaddexp(0, a - b)),
    ),
    "log(exp(a) + exp(b)) without overflow; the gradients are the softmax weights exp(a - out), exp(b - out).",
)
logaddexp2 = _binary(
    "logaddexp2",
    np.logaddexp2,
    (
        lambda g, y, a, b: g * np.exp2(-np.logaddexp2(0, b - a)),
        lambda g, y, a, b: g * np.exp2(-np.logaddexp2(0, a - b)),
    ),
    "log2(2**a + 2**b) without overflow; the gradients are the weights 2**(a - out), 2**(b - out).",
)


def _nonzero(y: Any) -> Any:
    """`y` with zeros replaced by 1, for divisions whose numerator is 0 where `y` is."""
    return np.where(_values(y) == 0, 1, y)


hypot = _binary(
    "hypot",
    np.hypot,
    (lambda g, y, a, b: g * a / _nonzero(y), lambda g, y, a, b: g * b / _nonzero(y)),
    "sqrt(a**2 + b**2) without overflow; d/da = a/out, and 0 at the origin (as `abs` at 0).",
)
reciprocal = _unary("reciprocal", np.reciprocal, lambda g, y, x: -g * y * y, "1/x; infinite derivative at 0.")
fabs = _unary("fabs", np.fabs, lambda g, y, x: g * np.sign(x), "|x| for real input; the gradient at 0 is 0.")


# ----------------------------------------------------------------- sinc and its derivatives
def _dsinc_values(x: np.ndarray) -> np.ndarray:
    """sinc'(x) on arrays, in at least float64: a series near 0 (no cancellation, exactly 0 at 0)."""
    w = x.astype(np.promote_types(x.dtype, np.float64), copy=False)
    p = math.pi * w
    p2 = p * p
    small = np.abs(p) < 0.1
    series = math.pi * p * (-1 / 3 + p2 * (1 / 30 + p2 * (-1 / 840 + p2 / 45360)))
    ps, ws = np.where(small, 1.0, p), np.where(small, 1.0, w)
    direct = (np.cos(ps) - np.sin(ps) / ps) / ws
    return np.where(small, series, direct).astype(x.dtype, copy=False)


def _dsinc(x: Any) -> Any:
    """sinc'(x): an array for an array, a recorded op for a Tensor (whose vjp uses sinc'')."""
    if isinstance(x, Tensor):
        return make_result(_dsinc_values(x.data), "sinc_derivative", (x,), (lambda g, y, x: g * _d2sinc(x),))
    return _dsinc_values(x)


def _d2sinc(x: Any) -> Any:
    """sinc''(x) = -pi**2 sinc(x) - 2 sinc'(x)/x, with its limit -pi**2/3 at 0 (sinc''' is 0 there)."""
    zero = _values(x) == 0
    d2 = -(math.pi**2) * np.sinc(x) - 2 * _dsinc(x) / np.where(zero, 1, x)
    return np.where(zero, -(math.pi**2) / 3, d2)


def sinc(x: Any) -> Tensor:
    """Normalized sinc, sin(pi x)/(pi x) with sinc(0) = 1; the gradient at 0 is exactly 0."""
    x = as_tensor(x)
    return make_result(np.sinc(x.data), "sinc", (x,), (lambda g, y, x: g * _dsinc(x),))


# ----------------------------------------------------------------- fmax, fmin, remainder
def _fpick(name: str, fn: np.ufunc, pick: np.ufunc, doc: str) -> Callable[[Any, Any], Tensor]:
    """fmax/fmin; `pick` (np.greater/np.less) says where one side wins. NaN loses; both NaN: a."""

    def vjp_a(g: Any, y: Any, a: Any, b: Any) -> Any:
        a, b = _values(a), _values(b)
        return g * (pick(a, b) | np.isnan(b)) + g * (a == b) * 0.5

    def vjp_b(g: Any, y: Any, a: Any, b: Any) -> Any:
        a, b = _values(a), _values(b)
        return g * (pick(b, a) | (np.isnan(a) & ~np.isnan(b))) + g * (a == b) * 0.5

    return _binary(name, fn, (vjp_a, vjp_b), doc)


fmax = _fpick(
    "fmax", np.fmax, np.greater,
    "Elementwise maximum that ignores NaN (NaN only where both are); ties split the gradient equally.",
)
fmin = _fpick(
    "fmin", np.fmin, np.less,
    "Elementwise minimum that ignores NaN (NaN only where both are); ties split the gradient equally.",
)
remainder = _binary(
    "remainder",
    np.remainder,
    (lambda g, y, a, b: g, lambda g, y, a, b: -g * np.floor_divide(a, b)),
    "a - floor(a/b) * b with the sign of b (`np.remainder`, `np.mod`, `%`); d/da = 1, d/db = -floor(a/b).",
)


def floor_divide(a: Any, b: Any) -> Tensor:
    """`np.floor_divide` (`//`); piecewise constant, so the result is a constant (zero gradient)."""
    a, b = _pair(a, b)
    return Tensor(_broadcast("floor_divide", np.floor_divide, a, b))


# ----------------------------------------------------------------- cleaning and rounding
def nan_to_num(x: Any, copy: bool = True, nan: Any = 0.0, posinf: Any = None, neginf: Any = None) -> Tensor:
    """Replace NaN by `nan` and infinities by `posinf`/`neginf` (default: the dtype's extremes).

    The gradient passes where `x` is finite and is 0 where a value was replaced. `copy`
    is accepted for NumPy's signature; the result is always a new Tensor.
    """
    x = as_tensor(x)
    consts = [v.data if isinstance(v, Tensor) else v for v in (nan, posinf, neginf)]
    data = np.nan_to_num(x.data, copy=True, nan=consts[0], posinf=consts[1], neginf=consts[2])
    finite = np.isfinite(x.data)  # captured now: the rule never reads the input again
    return make_result(data, "nan_to_num", (x,), (lambda g, y, x: g * finite,))


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"{name}: out= is not supported on Tensors; the result is returned")


def around(x: Any, decimals: int = 0) -> Tensor:
    """Round to `decimals` places, halves to even (`np.round`/`np.around`); a constant (zero gradient)."""
    return Tensor(np.round(as_tensor(x).data, decimals))


def trunc(x: Any) -> Tensor:
    """Round toward zero (`np.trunc`); a constant (zero gradient)."""
    return Tensor(np.trunc(as_tensor(x).data))


def fix(x: Any) -> Tensor:
    """Round toward zero (`np.fix`); a constant (zero gradient)."""
    return Tensor(np.fix(as_tensor(x).data))


def angle(x: Any, deg: bool = False) -> Tensor:
    """Complex argument (`np.angle`): on real input 0 for x >= +0 and pi for x < 0 (and -0.0); a constant."""
    return Tensor(np.angle(as_tensor(x).data, deg=deg))


# ----------------------------------------------------------------- real and complex parts
def real(x: Any) -> Tensor:
    """Real part: a real Tensor itself (as NumPy returns the array itself), the real part of a complex one."""
    x = as_tensor(x)
    return Tensor(x.data.real) if x.data.dtype.kind == "c" else x


def imag(x: Any) -> Tensor:
    """Imaginary part: zeros for a real Tensor, a constant (zero gradient)."""
    data = as_tensor(x).data
    return Tensor(data.imag if data.dtype.kind == "c" else np.zeros_like(data))


def conjugate(x: Any) -> Tensor:
    """Complex conjugate; a differentiable copy (identity gradient) for a real Tensor."""
    x = as_tensor(x)
    data = np.conjugate(x.data)
    if x.data.dtype.kind == "c":  # complex Tensors never require grad
        return Tensor(data)
    return make_result(data, "conjugate", (x,), (lambda g, y, x: g,))


def conj(x: Any) -> Tensor:
    """Complex conjugate (`np.conj`, the same as `conjugate`)."""
    return conjugate(x)


# ----------------------------------------------------------------- NumPy signatures and methods
def _np_around(a: Any, decimals: int = 0, out: Any = None) -> Tensor:
    _no_out("around", out)
    return around(a, decimals)


def _np_fix(x: Any, out: Any = None) -> Tensor:
    _no_out("fix", out)
    return fix(x)


def _round_method(self: Tensor, decimals: int = 0) -> Tensor:
    """Round to `decimals` places, as `ndarray.round`; a constant (zero gradient)."""
    return around(self, decimals)


def _conj_method(self: Tensor) -> Tensor:
    """Complex conjugate, as `ndarray.conj`; the identity for a real Tensor."""
    return conjugate(self)


# NumPy callable (ufunc or function) -> the op that handles it on Tensors.
# np.mod is np.remainder, np.conj is np.conjugate, np.true_divide is np.divide, np.asin is np.arcsin ...
NUMPY_RULES: dict[Any, Callable[..., Any]] = {
    np.tan: tan,
    np.arcsin: arcsin,
    np.arccos: arccos,
    np.arctan: arctan,
    np.arctan2: arctan2,
    np.sinh: sinh,
    np.cosh: cosh,
    np.arcsinh: arcsinh,
    np.arccosh: arccosh,
    np.arctanh: arctanh,
    np.deg2rad: deg2rad,
    np.radians: radians,
    np.rad2deg: rad2deg,
    np.degrees: degrees,
    np.exp2: exp2,
    np.log2: log2,
    np.log10: log10,
    np.logaddexp: logaddexp,
    np.logaddexp2: logaddexp2,
    np.hypot: hypot,
    np.reciprocal: reciprocal,
    np.fabs: fabs,
    np.fmax: fmax,
    np.fmin: fmin,
    np.remainder: remainder,
    np.floor_divide: floor_divide,
    np.trunc: trunc,
    np.conjugate: conjugate,
    np.sinc: sinc,
    np.nan_to_num: nan_to_num,
    np.round: _np_around,
    np.around: _np_around,
    np.fix: _np_fix,
    np.angle: angle,
    np.real: real,
    np.imag: imag,
}

# Tensor method name -> function(self, ...) installed on Tensor (as ndarray has them).
TENSOR_METHODS: dict[str, Any] = {
    "round": _round_method,
    "conj": _conj_method,
    "conjugate": _conj_method,
    "real": property(real, doc="Real part; the Tensor itself when it is real."),
    "imag": property(imag, doc="Imaginary part; constant zeros when the Tensor is real."),
}
