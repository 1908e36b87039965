"""Numerical properties: softmax structure, stability at large magnitudes, error messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.testing import arrays, axes, shapes

STRICT = dict(over="raise", divide="raise", invalid="raise")  # underflow to 0 is fine


@settings(max_examples=25)
@given(data=st.data())
def test_softmax_gradient_sums_to_zero_along_its_axis(data: st.DataObject) -> None:
    shape = data.draw(shapes(1, 3, 1, 5), label="shape")
    axis = data.draw(axes(len(shape), allow_none=False), label="axis")
    x = Tensor(data.draw(arrays(shape, min_value=-20, max_value=20)), requires_grad=True)
    g = data.draw(arrays(shape), label="upstream")
    with np.errstate(**STRICT):
        y = ag.softmax(x, axis=axis)
        (y * g).sum().backward()
    np.testing.assert_allclose(y.data.sum(axis=axis), 1.0, rtol=1e-12)
    np.testing.assert_allclose(x.grad.sum(axis=axis), 0.0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_and_logsumexp_are_finite_at_magnitude_1e4(dtype: Any) -> None:
    values = np.array([[1e4, -1e4, 0.0, 1e4 - 1], [-1e4, -1e4, -1e4 + 2, -1e4]], dtype=dtype)
    x = Tensor(values, requires_grad=True)
    with np.errstate(**STRICT):
        ls = x.log_softmax(axis=1)
        lse = x.logsumexp(axis=-1)
        (ls.sum() + lse.sum() + x.softmax(axis=0).max()).backward()
    assert ls.dtype == lse.dtype == x.grad.dtype == dtype
    for out in (ls.data, lse.data, x.grad):
        assert np.isfinite(out).all()
    e1 = np.log1p(np.exp(np.float64(-1)))  # log(1 + e^-1)
    np.testing.assert_allclose(lse.data, [1e4 + e1, -1e4 + 2 + np.log1p(3 * np.exp(-2.0))], rtol=1e-6)
    np.testing.assert_allclose(ls.data[0, :2], [-e1, -2e4 - e1], rtol=1e-6)


def test_logsumexp_of_minus_inf_slices_and_softmax_masks() -> None:
    x = Tensor(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]), requires_grad=True)
    with np.errstate(**STRICT):
        lse = ag.logsumexp(x, axis=1)
        sm = ag.softmax(x[1:], axis=1)
        sm.sum().backward()
    np.testing.assert_array_equal(lse.data, [-np.inf, 0.0])
    np.testing.assert_array_equal(sm.data, [[1.0, 0.0]])
    assert np.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_exactly_without_warnings(dtype: Any) -> None:
    x = Tensor(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype), requires_grad=True)
    with np.errstate(**STRICT):
        y = ag.sigmoid(x)
        y.sum().backward()
    assert y.dtype == x.grad.dtype == dtype
    assert y.data[0] == 0.0 and y.data[-1] == 1.0 and y.data[2] == 0.5
    assert x.grad[0] == 0.0 and x.grad[-1] == 0.0 and x.grad[2] == 0.25
    assert np.isfinite(x.grad).all()


def test_sigmoid_keeps_relative_precision_for_large_negative_inputs() -> None:
    x = np.array([-30.0, -300.0])
    np.testing.assert_allclose(ag.sigmoid(Tensor(x)).data, np.exp(x), rtol=1e-12)


SHAPE_ERRORS: list[tuple[str, Callable[[], Any], tuple[int, ...], tuple[int, ...]]] = [
    ("add", lambda: Tensor(np.ones((2, 3))) + Tensor(np.ones((4,))), (2, 3), (4,)),
    ("multiply", lambda: ag.multiply(np.ones((3,)), Tensor(np.ones((2,)))), (3,), (2,)),
    ("maximum", lambda: ag.maximum(Tensor(np.ones((2, 2))), np.ones((3, 1, 3))), (2, 2), (3, 1, 3)),
    ("matmul", lambda: Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5))), (2, 3), (4, 5)),
    ("where", lambda: ag.where(np.ones(2, bool), Tensor(np.ones(3)), 0.0), (3,), (2,)),
    ("concatenate", lambda: ag.concatenate([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))]), (2, 3), (2, 4)),
    ("reshape", lambda: Tensor(np.ones((2, 3))).reshape(4, 2), (2, 3), (4, 2)),
    ("broadcast_to", lambda: Tensor(np.ones((3,))).broadcast_to((2, 4)), (3,), (2, 4)),
]


@pytest.mark.parametrize(("op", "call", "first", "second"), SHAPE_ERRORS, ids=[e[0] for e in SHAPE_ERRORS])
def test_shape_mismatch_names_the_op_and_both_shapes(
    op: str, call: Callable[[], Any], first: tuple[int, ...], second: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert message.startswith(op)
    assert str(first) in message and str(second) in message


def test_einsum_size_mismatch_names_the_label() -> None:
    with pytest.raises(ValueError, match=r"einsum: label 'j' has sizes 3 and 4"):
        ag.einsum("ij,jk->ik", Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5))))
