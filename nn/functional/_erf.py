"""The error function, vectorised in NumPy (no SciPy), as a differentiable op.

W. J. Cody's rational approximations (Math. Comp. 23, 1969; the CALERF routine of
Netlib's SPECFUN): erf(x) = x P(x^2)/Q(x^2) for |x| <= 0.46875, and
erfc(|x|) = exp(-x^2) R(|x|) beyond, where R is one rational function up to 4 and
another in 1/x^2 after. Relative error is near float64 rounding on every branch.
exp(-x^2) is split as exp(-s^2) exp(-(x - s)(x + s)) with s = x rounded down to 1/16,
which keeps that factor accurate where x^2 is large. Each branch runs only on its own
elements (boolean selection), so nothing overflows or divides by zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core.tensor import as_tensor, make_result

_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)
_INV_SQRT_PI = 5.6418958354775628695e-1
_TWO_OVER_SQRT_PI = 1.1283791670955125739
_SMALL, _MID, _BIG = 0.46875, 4.0, 26.543  # erfc(x) underflows to 0 in float64 beyond _BIG


def _erf_small(x: np.ndarray) -> np.ndarray:
    z = x * x
    num, den = _A[4] * z, z
    for i in range(3):
        num = (num + _A[i]) * z
        den = (den + _B[i]) * z
    return x * (num + _A[3]) / (den + _B[3])


def _exp_neg_square(y: np.ndarray) -> np.ndarray:
    s = np.trunc(y * 16) / 16
    return np.exp(-s * s) * np.exp(-(y - s) * (y + s))


def _erfc_mid(y: np.ndarray) -> np.ndarray:
    num, den = _C[8] * y, y
    for i in range(7):
        num = (num + _C[i]) * y
        den = (den + _D[i]) * y
    return _exp_neg_square(y) * (num + _C[7]) / (den + _D[7])


def _erfc_large(y: np.ndarray) -> np.ndarray:
    z = 1 / (y * y)
    num, den = _P[5] * z, z
    for i in range(4):
        num = (num + _P[i]) * z
        den = (den + _Q[i]) * z
    r = z * (num + _P[4]) / (den + _Q[4])
    return _exp_neg_square(y) * (_INV_SQRT_PI - r) / y


def _erfc_abs(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y >= _SMALL (y = |x|)."""
    out = np.zeros_like(y)
    mid = ~(y > _MID)  # NaN goes here and propagates through the arithmetic
    out[mid] = _erfc_mid(y[mid])
    large = ~mid & (y < _BIG)
    out[large] = _erfc_large(y[large])
    return out


def _float_array(x: np.ndarray) -> np.ndarray:
    """`x` as a float array: float dtypes kept, anything else as float64."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def erf_array(x: np.ndarray) -> np.ndarray:
    """erf on an ndarray (float32 stays float32); NaN propagates, +-inf give +-1."""
    x = _float_array(x)
    y = np.abs(x)
    out = np.empty_like(x)
    small = y <= _SMALL
    out[small] = _erf_small(x[small])
    rest = ~small
    xr = x[rest]
    out[rest] = np.copysign(1 - _erfc_abs(np.abs(xr)), xr)
    return out


def erfc_array(x: np.ndarray) -> np.ndarray:
    """1 - erf(x) without cancellation: accurate for large positive x, where erf(x) rounds to 1."""
    x = _float_array(x)
    y = np.abs(x)
    out = np.empty_like(x)
    small = y <= _SMALL
    out[small] = 1 - _erf_small(x[small])
    pos = ~small & (x > 0)
    out[pos] = _erfc_abs(x[pos])
    neg = ~small & ~(x > 0)  # includes NaN, which stays NaN through the arithmetic
    out[neg] = 2 - _erfc_abs(-x[neg])
    return out


def _derivative(x: Any) -> Any:
    """2/sqrt(pi) exp(-x^2), with x clipped so x*x stays finite in float32 (the value is 0 there anyway)."""
    xc = np.clip(x, -30.0, 30.0)
    return np.exp(-(xc * xc)) * _TWO_OVER_SQRT_PI


def erf(x: Any) -> Any:
    """erf of a Tensor (a recorded op, differentiable to any order) or of an ndarray (plain values)."""
    if not isinstance(x, Tensor):
        return erf_array(x)
    x = as_tensor(x)
    return make_result(erf_array(x.data), "erf", (x,), (lambda g, y, x: g * _derivative(x),))


def erfc(x: Any) -> Any:
    """erfc of a Tensor (differentiable) or of an ndarray."""
    if not isinstance(x, Tensor):
        return erfc_array(x)
    return make_result(erfc_array(x.data), "erfc", (x,), (lambda g, y, x: -g * _derivative(x),))
