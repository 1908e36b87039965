"""No silent loss at the edges: conversions, creation functions, formatting, bitwise ops,
the power rule's edge values, complex outputs, and the small NumPy methods."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_core as ag
from autograd_core import Tensor

CONVERSION = r"x\.detach\(\).*x\.numpy\(\).*x\.data"


def _needs_grad() -> Tensor:
    return Tensor(np.array([1.0, 2.0]), requires_grad=True)


# ----------------------------------------------------------------- implicit conversion
@pytest.mark.parametrize(
    "convert",
    [np.asarray, np.array, lambda t: np.array([t, t]), lambda t: np.concatenate([np.ones(2), t.data]) + np.asarray(t)],
    ids=["asarray", "array", "array-of-tensors", "asarray-in-expression"],
)
def test_implicit_conversion_of_a_tensor_that_requires_grad_raises(convert: object) -> None:
    with pytest.raises(TypeError, match=CONVERSION):
        convert(_needs_grad())


def test_storing_into_an_ndarray_raises_naming_the_explicit_ways() -> None:
    out = np.zeros(2)
    w = _needs_grad()
    with pytest.raises((TypeError, ValueError)) as info:
        out[0] = np.sum(w * 2)  # NumPy re-raises our TypeError as the cause of a ValueError
    error = info.value if isinstance(info.value, TypeError) else info.value.__cause__
    assert isinstance(error, TypeError) and "stored into a NumPy array" in str(error)
    with pytest.raises(TypeError, match=CONVERSION):
        out[:] = w * 2
    np.testing.assert_array_equal(out, [0.0, 0.0])


def test_in_place_ndarray_ufunc_with_a_tensor_that_requires_grad_raises() -> None:
    arr = np.ones(2)
    with pytest.raises(TypeError, match=r"out=ndarray.*requires grad.*detach"):
        arr += _needs_grad()
    np.testing.assert_array_equal(arr, [1.0, 1.0])
    arr += Tensor(np.ones(2))  # values without a gradient are fine
    np.testing.assert_array_equal(arr, [2.0, 2.0])


def test_explicit_value_accessors_work() -> None:
    w = _needs_grad()
    s = (w * 2).sum()
    assert float(s) == 6.0 and s.item() == 6.0 and s.tolist() == 6.0
    assert w.numpy() is w.data and np.asarray(w.detach()) is w.data
    assert np.asarray(Tensor(np.ones(2))).shape == (2,)  # no gradient to lose: allowed


def test_out_tensor_is_an_in_place_write_with_gradient() -> None:
    w = _needs_grad()
    out = ag.zeros(2, dtype=np.float64)
    result = np.multiply(w, 3.0, out=out)
    assert result is out
    out.sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


def test_detach_shares_values_and_version() -> None:
    w = _needs_grad()
    loss = (w * w).sum()
    d = w.detach()
    d[0] = 5.0  # allowed: d does not require grad; w sees it
    assert w.data[0] == 5.0 and w.version == 1
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


# ----------------------------------------------------------------- creation
@pytest.mark.parametrize(
    ("make", "reference"),
    [
        (lambda: ag.zeros((2, 3)), lambda: np.zeros((2, 3), np.float32)),
        (lambda: ag.ones(4, dtype=np.float64), lambda: np.ones(4)),
        (lambda: ag.full((2,), 7), lambda: np.full((2,), 7)),
        (lambda: ag.full((2,), 0.5), lambda: np.full((2,), 0.5, np.float32)),
        (lambda: ag.arange(5), lambda: np.arange(5)),
        (lambda: ag.arange(0.0, 1.0, 0.25), lambda: np.arange(0.0, 1.0, 0.25, dtype=np.float32)),
        (lambda: ag.eye(3, 4, k=1), lambda: np.eye(3, 4, k=1, dtype=np.float32)),
        (lambda: ag.identity(2), lambda: np.identity(2, dtype=np.float32)),
        (lambda: ag.zeros_like(np.ones((2, 2), np.float16)), lambda: np.zeros((2, 2), np.float16)),
        (lambda: ag.full_like(Tensor(np.ones(3, np.float64)), 2.0), lambda: np.full(3, 2.0)),
        (lambda: ag.linspace(0.0, 1.0, 5), lambda: np.linspace(0.0, 1.0, 5, dtype=np.float32)),
    ],
)
def test_creation_functions_follow_numpy_with_the_default_float_dtype(make: object, reference: object) -> None:
    got, want = make(), reference()
    assert isinstance(got, Tensor) and got.dtype == want.dtype
    np.testing.assert_array_equal(got.data, want)


def test_creation_with_requires_grad_makes_a_leaf() -> None:
    w = ag.zeros(3, requires_grad=True)
    assert w.is_leaf and w.requires_grad and w.dtype == np.float32
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad, [2, 2, 2])
    with pytest.raises(TypeError, match="floating-point"):
        ag.arange(3, requires_grad=True)
    assert ag.empty((2, 2), requires_grad=True).shape == (2, 2)


@pytest.mark.parametrize("fn", [np.zeros_like, np.ones_like, np.empty_like, lambda t: np.full_like(t, 3)])
def test_numpy_like_functions_return_tensors_of_the_same_dtype(fn: object) -> None:
    t = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    out = fn(t)
    assert isinstance(out, Tensor) and out.dtype == np.float32 and out.shape == (2, 3) and not out.requires_grad


# ----------------------------------------------------------------- formatting
def test_format_spec_formats_the_value() -> None:
    loss = (Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True) ** 2).mean()
    assert f"{loss:.4f}" == "2.5000"
    assert f"{Tensor(3):>4d}" == "   3"
    assert f"{loss}" == str(loss)
    with pytest.raises(TypeError, match="one-element"):
        f"{Tensor(np.ones(2)):.2f}"


# ----------------------------------------------------------------- the power rule at its edges (PyTorch's values)
def test_power_rule_edge_values_match_pytorch() -> None:
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])  # not NaN at x = 0

    b = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    with np.errstate(divide="ignore"):
        (Tensor(np.zeros(3)) ** b).sum().backward()
    np.testing.assert_array_equal(b.grad, [-np.inf, 0.0, 0.0])  # 0 ** b: -inf for b < 0, 0 for b >= 0

    torch = pytest.importorskip("torch")
    for base, exponent in [([0.0, 0.0, 0.0], [-1.0, 0.0, 2.0]), ([0.0, 3.0], [0.0, 0.0]), ([2.0, 0.5], [1.5, -2.0])]:
        a, e = Tensor(np.array(base), requires_grad=True), Tensor(np.array(exponent), requires_grad=True)
        ta = torch.tensor(base, dtype=torch.float64, requires_grad=True)
        te = torch.tensor(exponent, dtype=torch.float64, requires_grad=True)
        with np.errstate(divide="ignore"):
            (a**e).sum().backward()
        (ta**te).sum().backward()
        np.testing.assert_array_equal(a.grad, ta.grad.numpy())
        np.testing.assert_array_equal(e.grad, te.grad.numpy())


# ----------------------------------------------------------------- bitwise ops follow NumPy
INTS = hnp.arrays(st.sampled_from([np.int8, np.int64, np.uint8, np.bool_]), hnp.array_shapes(max_dims=2, max_side=3))


@given(a=INTS, b=st.integers(0, 7))
def test_bitwise_operators_on_integers_and_booleans_match_numpy(a: np.ndarray, b: int) -> None:
    t = Tensor(a)
    other = np.asarray(b).astype(a.dtype)
    for ours, theirs in [
        (t & other, a & other), (t | other, a | other), (t ^ other, a ^ other), (~t, ~a),
        (other & t, other & a), (np.bitwise_xor(t, other), np.bitwise_xor(a, other)),
    ]:
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours.data, theirs)


def test_bitwise_on_floats_is_refused_as_numpy() -> None:
    x = Tensor(np.ones(2))
    for op in (lambda: x & x, lambda: x | 1, lambda: x ^ x, lambda: ~x):
        with pytest.raises(TypeError, match="integer and boolean"):
            op()
    mask = (x > 0) & (x < 2)  # booleans: logical, as before
    assert mask.dtype == np.bool_ and mask.data.all()


def test_remainder_and_floor_division_operators() -> None:
    a = Tensor(np.array([5.5, -3.0, 7.0]), requires_grad=True)
    r = a % 2.0
    np.testing.assert_array_equal(r.data, np.array([5.5, -3.0, 7.0]) % 2.0)
    np.testing.assert_array_equal((a // 2.0).data, [2.0, -2.0, 3.0])
    np.testing.assert_array_equal((7 % Tensor(np.array([4, 5]))).data, [3, 2])
    r.sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 1.0, 1.0])


# ----------------------------------------------------------------- complex outputs
def test_complex_outputs_are_refused_by_backward_and_grad() -> None:
    w = _needs_grad()
    z = (w * 1j).sum()
    with pytest.raises(TypeError, match="complex"):
        z.backward()
    with pytest.raises(TypeError, match="complex"):
        ag.grad(z, w)


def test_complex_intermediate_gradients_are_refused_not_truncated() -> None:
    w = _needs_grad()
    with pytest.raises(TypeError, match="complex gradient"):
        np.abs(w * 1j).sum().backward()


# ----------------------------------------------------------------- small NumPy methods
def test_transpose_axes_keyword_dot_and_ravel() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert np.transpose(x, axes=(1, 0)).shape == (3, 2)
    assert x.transpose((1, 0)).shape == (3, 2)
    v = Tensor(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.dot(v).data, x.data.dot(v.data))
    flat = np.ravel(x)
    assert flat.shape == (6,)
    flat.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))
