"""The mathfuncs family: NumPy's values through `ag.NAME` and `np.NAME(t)`, gradients to second order.

A row of `CASES` names a differentiable op of `autograd_core.ops.mathfuncs`, the NumPy
function that is both its reference (on arrays) and its dispatch entry (on Tensors),
how to call it and the domain its inputs are moved into (away from singularities,
kinks and jumps). Piecewise-constant ops are listed in `ZERO_GRADIENT` and checked to
record nothing. `test_every_op_and_rule_is_covered` fails when an op or a NumPy rule of
the module has no row.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core.ops import mathfuncs
from autograd_core.testing import arrays, broadcastable_shapes, distinct, positive, shapes

F32 = np.float32
Domain = Callable[[list[np.ndarray]], list[np.ndarray]]


# ----------------------------------------------------------------- input domains
def _identity(xs: list[np.ndarray]) -> list[np.ndarray]:
    return xs


def scaled(factor: float, shift: float = 0.0) -> Domain:
    """Values in [-3, 3] mapped into shift + factor * [-3, 3] (inside an open domain)."""
    return lambda xs: [shift + factor * x for x in xs]




def above_one(xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.abs(x) + 1.2 for x in xs]


def away_from_zero(gap: float = 0.3, which: int | None = None) -> Domain:
    def move(x: np.ndarray) -> np.ndarray:
        return np.where(np.abs(x) < gap, np.where(x < 0, -gap, gap), x)

    return lambda xs: [move(x) if which in (None, i) else x for i, x in enumerate(xs)]




def between_jumps(xs: list[np.ndarray]) -> list[np.ndarray]:
    """For remainder(a, b): b away from 0, a/b at least 0.1 from an integer (remainder jumps there)."""
    a, b = xs[0], away_from_zero(0.3)([xs[1]])[0]
    q = a / b
    a = b * (np.floor(q) + np.clip(q - np.floor(q), 0.1, 0.9))
    return [a, b]


def with_zeros(xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.where(np.abs(x) < 0.7, 0.0, x) for x in xs]


def non_finite(xs: list[np.ndarray]) -> list[np.ndarray]:
    """Some NaN and infinities among finite values (finite differences see them as constants)."""
    return [np.where(x > 2, np.inf, np.where(x < -2, -np.inf, np.where(np.abs(x) < 0.3, np.nan, x))) for x in xs]


# ----------------------------------------------------------------- the table
@dataclass(frozen=True)
class Case:
    name: str  # the op in mathfuncs.__all__
    func: Any  # the NumPy callable: the reference on arrays, the dispatch entry on Tensors
    arity: int = 1
    domain: Domain = _identity
    call: Callable[..., Any] = lambda f, *xs: f(*xs)  # how to apply `func` or `ag.NAME`
    label: str = ""

    @property
    def id(self) -> str:
        return self.name + (f"-{self.label}" if self.label else "")

    def ag_fn(self, *ts: Any) -> Any:
        return self.call(getattr(ag, self.name), *ts)

    def np_fn(self, *xs: Any) -> Any:
        return self.call(self.func, *xs)


def _binary(name: str, func: Any, domain: Domain = _identity) -> Case:
    return Case(name, func, 2, domain)


CASES = [
    Case("tan", np.tan, domain=scaled(0.45)),
    Case("arcsin", np.arcsin, domain=scaled(0.3)),
    Case("arccos", np.arccos, domain=scaled(0.3)),
    Case("arctan", np.arctan),
    _binary("arctan2", np.arctan2, away_from_zero(0.3, which=0)),
    Case("arctan2", np.arctan2, 2, lambda xs: [xs[0], np.abs(xs[1]) + 0.3], label="right-half-plane"),
    Case("sinh", np.sinh),
    Case("cosh", np.cosh),
    Case("arcsinh", np.arcsinh),
    Case("arccosh", np.arccosh, domain=above_one),
    Case("arctanh", np.arctanh, domain=scaled(0.3)),
    Case("deg2rad", np.deg2rad),
    Case("radians", np.radians),
    Case("rad2deg", np.rad2deg),
    Case("degrees", np.degrees),
    Case("exp2", np.exp2),
    Case("log2", np.log2, domain=positive),
    Case("log10", np.log10, domain=positive),
    _binary("logaddexp", np.logaddexp),
    _binary("logaddexp2", np.logaddexp2),
    _binary("hypot", np.hypot, away_from_zero(0.3, which=0)),
    Case("sinc", np.sinc),
    Case("sinc", np.sinc, domain=with_zeros, label="at-zero"),
    Case("reciprocal", np.reciprocal, domain=away_from_zero(0.3)),
    Case("fabs", np.fabs, domain=away_from_zero(0.05)),
    _binary("fmax", np.fmax, distinct),
    _binary("fmin", np.fmin, distinct),
    _binary("remainder", np.remainder, between_jumps),
    Case("remainder", np.mod, 2, between_jumps, label="mod"),
    Case("remainder", np.remainder, call=lambda f, x: f(x, -0.7), domain=lambda xs: between_jumps([xs[0], -0.7])[:1],
         label="scalar-divisor"),
    Case("nan_to_num", np.nan_to_num),
    Case("nan_to_num", np.nan_to_num, domain=non_finite, label="non-finite"),
    Case("nan_to_num", np.nan_to_num, call=lambda f, x: f(x, nan=1.5, posinf=9.0, neginf=-9.0),
         domain=non_finite, label="keywords"),
    Case("real", np.real),
    Case("conjugate", np.conjugate),
    Case("conj", np.conj),
]

# Piecewise constant: the results are constants (zero gradient), as `floor` and `sign` are.
ZERO_GRADIENT = [
    Case("around", np.round),
    Case("around", np.around, call=lambda f, x: f(x, decimals=1), label="decimals"),
    Case("around", np.round, call=lambda f, x: f(x, -1), label="negative-decimals"),
    Case("trunc", np.trunc),
    Case("fix", np.fix),
    _binary("floor_divide", np.floor_divide, away_from_zero(0.3, which=1)),
    Case("angle", np.angle),
    Case("angle", np.angle, call=lambda f, x: f(x, deg=True), label="deg"),
    Case("imag", np.imag),
]


def test_every_op_and_rule_is_covered() -> None:
    differentiable = {c.name for c in CASES}
    constant = {c.name for c in ZERO_GRADIENT}
    assert not differentiable & constant
    assert differentiable | constant == set(mathfuncs.__all__), "ops with no row (or rows for no op)"
    assert set(mathfuncs.NUMPY_RULES) <= {c.func for c in CASES + ZERO_GRADIENT}, "NumPy rules with no row"


# ----------------------------------------------------------------- drawing inputs
def examples(n: int) -> settings:
    """`n` examples under the "ci" profile; a quarter of the profile's count under "long"."""
    return settings(max_examples=max(n, settings.default.max_examples // 4))


@st.composite
def inputs(draw: st.DrawFn, case: Case, side: int, dtype: Any = np.float64) -> list[np.ndarray]:
    if case.arity == 1:
        xs = [draw(arrays(draw(shapes(0, 3, 1, side))))]
    else:
        xs = [draw(arrays(s)) for s in draw(broadcastable_shapes(2, 0, 3, 1, side))]
    return [x.astype(dtype) for x in case.domain(xs)]


def leaves(xs: list[np.ndarray]) -> list[ag.Tensor]:
    return [ag.Tensor(x, requires_grad=True) for x in xs]


def assert_same(got: Any, want: Any) -> None:
    """Exactly NumPy's value, shape and dtype (the ops call the same NumPy function)."""
    want = np.asarray(want)
    assert isinstance(got, ag.Tensor), type(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    np.testing.assert_array_equal(got.data, want)


# ----------------------------------------------------------------- differentiable ops
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(25)
@given(data=st.data())
def test_forward_and_gradcheck(case: Case, data: st.DataObject) -> None:
    xs = data.draw(inputs(case, side=4), label="inputs")
    ts = leaves(xs)
    want = case.np_fn(*xs)
    out = case.ag_fn(*ts)
    assert_same(out, want)
    assert_same(case.np_fn(*ts), want)  # np.NAME(tensor) dispatches
    assert out.requires_grad
    assert ag.gradcheck(case.ag_fn, ts)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(10)
@given(data=st.data())
def test_gradgradcheck(case: Case, data: st.DataObject) -> None:
    ts = leaves(data.draw(inputs(case, side=3), label="inputs"))
    assert ag.gradgradcheck(case.np_fn, ts)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(5)
@given(data=st.data())
def test_float32_stays_float32(case: Case, data: st.DataObject) -> None:
    xs = data.draw(inputs(case, side=3, dtype=F32), label="inputs")
    ts = leaves(xs)
    out = case.np_fn(*ts)
    assert_same(out, case.np_fn(*xs))
    assert out.dtype == F32
    out.backward(np.ones(out.shape, dtype=F32))  # not out.sum(): float32 maxima from nan_to_num overflow
    for t in ts:
        assert t.grad is not None and t.grad.dtype == F32 and t.grad.shape == t.shape


# ----------------------------------------------------------------- zero-gradient ops
@pytest.mark.parametrize("case", ZERO_GRADIENT, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", [np.float64, F32])
@examples(6)
@given(data=st.data())
def test_zero_gradient_ops_match_numpy_and_record_nothing(case: Case, dtype: Any, data: st.DataObject) -> None:
    xs = data.draw(inputs(case, side=4, dtype=dtype), label="inputs")
    ts = leaves(xs)
    want = case.np_fn(*xs)
    for out in (case.ag_fn(*ts), case.np_fn(*ts)):
        assert_same(out, want)
        assert not out.requires_grad and out.is_leaf
    # Zero gradient: d/dx sum(op(x) * x) equals d/dx sum(c * x) for the constant c = op(x) ...
    (grad,) = ag.grad((case.ag_fn(*ts) * ts[0]).sum(), ts[:1])
    (const,) = ag.grad((ag.Tensor(want) * ts[0]).sum(), ts[:1])
    np.testing.assert_array_equal(grad.data, const.data)
    # ... and the op alone, added to a graph, gives exactly zeros.
    (zero,) = ag.grad((case.ag_fn(*ts) + 0.0 * ts[0]).sum(), ts[:1])
    np.testing.assert_array_equal(zero.data, np.zeros_like(xs[0]))


# ----------------------------------------------------------------- methods and complex inputs
def test_tensor_methods() -> None:
    a = np.array([[1.25, -2.675], [0.5, -0.05]])
    x = ag.Tensor(a, requires_grad=True)
    assert_same(x.round(), np.round(a))
    assert_same(x.round(2), a.round(2))
    assert_same(x.round(decimals=1), a.round(decimals=1))
    assert x.real is x and np.real(x) is x
    assert_same(x.imag, a.imag)
    assert not x.imag.requires_grad
    for y in (x.conj(), x.conjugate()):
        assert_same(y, a.conj())
        assert y.requires_grad and y.data is not a  # a copy, as NumPy's conj
    (x.conj() * 2 + x.conjugate()).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full_like(a, 3.0))


def test_complex_tensors_follow_numpy() -> None:
    z = np.array([1 + 2j, -3 - 0.5j, -1 + 0j])
    t = ag.Tensor(z)
    assert_same(t.real, z.real)
    assert_same(t.imag, z.imag)
    assert_same(t.conj(), z.conj())
    assert_same(np.conj(t), np.conj(z))
    assert_same(np.angle(t), np.angle(z))
    assert_same(np.angle(t, deg=True), np.angle(z, deg=True))
    assert_same(np.real(t), np.real(z))


def test_angle_of_real_values() -> None:
    a = np.array([-2.0, -0.0, 0.0, 3.0], dtype=F32)
    assert_same(ag.angle(a), np.angle(a))
    np.testing.assert_array_equal(ag.angle(a).data, np.array([np.pi, np.pi, 0, 0], dtype=F32))


def test_out_keywords_are_refused() -> None:
    x = ag.Tensor(np.array([1.5]), requires_grad=True)
    with pytest.raises(TypeError, match="around: out="):
        np.round(x, 0, out=np.empty(1))
    with pytest.raises(TypeError, match="fix: out="):
        np.fix(x, out=np.empty(1))


# ----------------------------------------------------------------- operands and broadcasting
@pytest.mark.parametrize("func", [np.arctan2, np.hypot, np.logaddexp, np.logaddexp2, np.fmax, np.fmin, np.remainder,
                                  np.floor_divide])
def test_binary_operands_python_scalars_and_arrays(func: Any) -> None:
    a = np.array([[0.5, 1.5, -2.5]], dtype=F32)
    b = np.array([[1.25], [-0.75]], dtype=F32)
    x = ag.Tensor(a, requires_grad=True)
    for got, want in [(func(x, 0.7), func(a, 0.7)), (func(0.7, x), func(0.7, a)), (func(b, x), func(b, a)),
                      (func(x, b), func(a, b))]:
        assert_same(got, want)
        assert want.dtype == F32
    with pytest.raises(ValueError, match=f"{func.__name__}: operands with shapes"):
        func(x, ag.Tensor(np.ones((2, 2), dtype=F32)))


# ----------------------------------------------------------------- edge values
def _grad(fn: Callable[..., Any], *values: Any) -> list[np.ndarray]:
    ts = [ag.Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*ts).sum().backward()
    return [t.grad for t in ts]


def test_logaddexp_is_stable_for_large_and_infinite_inputs() -> None:
    a = np.array([1000.0, -1000.0, 1e17, 0.0, 5.0, 800.0])
    b = np.array([1000.0, -1000.0, 1e17, -np.inf, 1e300, -800.0])
    for func, weight in [(np.logaddexp, lambda d: 1 / (1 + np.exp(-d))), (np.logaddexp2, lambda d: 1 / (1 + 2.0**-d))]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = func(ag.Tensor(a), ag.Tensor(b))
            ga, gb = _grad(func, a, b)
        assert_same(out, func(a, b))
        with np.errstate(over="ignore"):
            np.testing.assert_allclose(ga, [0.5, 0.5, 0.5, 1.0, 0.0, weight(1600.0)])
        np.testing.assert_allclose(ga + gb, 1.0)


def test_sinc_at_zero() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = ag.Tensor(np.array([0.0, 1e-9, -1e-4, 0.05, 1.0]), requires_grad=True)
        (g,) = ag.grad(np.sinc(x).sum(), [x], create_graph=True)
        (h,) = ag.grad(g.sum(), [x])
    assert g.data[0] == 0.0 and np.all(np.isfinite(g.data))
    p = math.pi * x.data
    ref = np.where(p == 0, 0.0, (p * np.cos(p) - np.sin(p)) / np.where(p == 0, 1, p * x.data))
    np.testing.assert_allclose(g.data[2:], ref[2:], rtol=1e-6)
    np.testing.assert_allclose(g.data[:2], -(math.pi**2) / 3 * x.data[:2], rtol=1e-12, atol=0)
    np.testing.assert_allclose(h.data[:3], -(math.pi**2) / 3, rtol=1e-6)
    x32 = ag.Tensor(np.array([0.0, 1e-3, 0.3], dtype=F32), requires_grad=True)
    np.sinc(x32).sum().backward()
    assert x32.grad.dtype == F32
    np.testing.assert_allclose(x32.grad, _grad(np.sinc, x32.data.astype(np.float64))[0], rtol=1e-6)


def test_fmax_fmin_ignore_nan_and_split_ties() -> None:
    a = np.array([np.nan, 1.0, np.nan, 2.0, 3.0, -1.0])
    b = np.array([1.0, np.nan, np.nan, 2.0, 1.0, 4.0])
    ga, gb = _grad(np.fmax, a, b)
    np.testing.assert_array_equal(ga, [0, 1, 1, 0.5, 1, 0])
    np.testing.assert_array_equal(gb, [1, 0, 0, 0.5, 0, 1])
    ga, gb = _grad(np.fmin, a, b)
    np.testing.assert_array_equal(ga, [0, 1, 1, 0.5, 0, 1])
    np.testing.assert_array_equal(gb, [1, 0, 0, 0.5, 1, 0])


def test_remainder_gradients() -> None:
    a = np.array([5.5, -5.5, 5.5, -5.5, 0.25])
    b = np.array([2.0, 2.0, -2.0, -2.0, 3.0])
    ga, gb = _grad(np.remainder, a, b)
    np.testing.assert_array_equal(ga, np.ones(5))
    np.testing.assert_array_equal(gb, -np.floor_divide(a, b))
    assert_same(np.mod(ag.Tensor(a), b), np.mod(a, b))


def test_nan_to_num_gradient_is_zero_where_replaced() -> None:
    a = np.array([np.nan, np.inf, -np.inf, 2.0, -0.5])
    x = ag.Tensor(a, requires_grad=True)
    y = np.nan_to_num(x, nan=-1.0, posinf=7.0, neginf=-7.0)
    assert_same(y, np.nan_to_num(a, nan=-1.0, posinf=7.0, neginf=-7.0))
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 0, 3, 3])
    assert_same(ag.nan_to_num(a.astype(F32)), np.nan_to_num(a.astype(F32)))


def test_hypot_is_zero_at_origin_and_arctan2_nan() -> None:
    ga, gb = _grad(np.hypot, [0.0, 3.0], [0.0, 4.0])
    np.testing.assert_array_equal(ga, [0.0, 0.6])
    np.testing.assert_array_equal(gb, [0.0, 0.8])
    with np.errstate(invalid="ignore"):
        ga, gb = _grad(np.arctan2, [0.0], [0.0])
    assert np.isnan(ga).all() and np.isnan(gb).all()


@pytest.mark.parametrize(("func", "point"), [(np.arcsin, 1.0), (np.arcsin, -1.0), (np.arccos, 1.0),
                                             (np.arccosh, 1.0), (np.arctanh, 1.0), (np.log2, 0.0),
                                             (np.log10, 0.0), (np.reciprocal, 0.0)])
def test_derivatives_at_singular_points_are_infinite(func: Any, point: float) -> None:
    with np.errstate(divide="ignore"):
        (g,) = _grad(func, [point])
    assert np.isinf(g).all()


# ----------------------------------------------------------------- PyTorch agrees
TORCH_PAIRS = {
    "tan": (np.tan, "tan", scaled(0.45)),
    "arcsin": (np.arcsin, "asin", scaled(0.3)),
    "arccos": (np.arccos, "acos", scaled(0.3)),
    "arctan": (np.arctan, "atan", _identity),
    "arctan2": (np.arctan2, "atan2", away_from_zero(0.3, which=0)),
    "sinh": (np.sinh, "sinh", _identity),
    "cosh": (np.cosh, "cosh", _identity),
    "arcsinh": (np.arcsinh, "asinh", _identity),
    "arccosh": (np.arccosh, "acosh", above_one),
    "arctanh": (np.arctanh, "atanh", scaled(0.3)),
    "exp2": (np.exp2, "exp2", _identity),
    "log2": (np.log2, "log2", positive),
    "log10": (np.log10, "log10", positive),
    "logaddexp": (np.logaddexp, "logaddexp", _identity),
    "logaddexp2": (np.logaddexp2, "logaddexp2", _identity),
    "hypot": (np.hypot, "hypot", away_from_zero(0.3, which=0)),
    "sinc": (np.sinc, "sinc", away_from_zero(0.05)),
    "reciprocal": (np.reciprocal, "reciprocal", away_from_zero(0.3)),
    "deg2rad": (np.deg2rad, "deg2rad", _identity),
    "rad2deg": (np.rad2deg, "rad2deg", _identity),
    "fmax": (np.fmax, "fmax", distinct),
    "fmin": (np.fmin, "fmin", distinct),
    "remainder": (np.remainder, "remainder", between_jumps),
}
BINARY = {"arctan2", "logaddexp", "logaddexp2", "hypot", "fmax", "fmin", "remainder"}


@pytest.mark.parametrize("name", sorted(TORCH_PAIRS))
def test_first_and_second_derivatives_match_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    func, torch_name, domain = TORCH_PAIRS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    xs = domain([rng.uniform(-3, 3, (2, 3)) for _ in range(2 if name in BINARY else 1)])
    ts = leaves(xs)
    grads = ag.grad(func(*ts).sum(), ts, create_graph=True)
    second = ag.grad(sum((g * g * t).sum() for g, t in zip(grads, ts)), ts)  # "* t": a graph even if g is constant
    tt = [torch.tensor(x, requires_grad=True) for x in xs]
    tgrads = torch.autograd.grad(getattr(torch, torch_name)(*tt).sum(), tt, create_graph=True)
    tsecond = torch.autograd.grad(sum((g * g * t).sum() for g, t in zip(tgrads, tt)), tt)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    for h, th in zip(second, tsecond):
        np.testing.assert_allclose(h.data, th.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(8)
@given(data=st.data())
def test_forward_mode_gradcheck(case: Case, data: st.DataObject) -> None:
    """The forward-mode column: each op's tangents against central differences."""
    ts = leaves(data.draw(inputs(case, side=3), label="inputs"))
    assert ag.gradcheck(case.np_fn, ts, check_forward_ad=True, check_backward_ad=False)
