"""`ag.gradcheck` / `ag.gradgradcheck`: pass correct gradients, catch and explain wrong ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.tensor import as_tensor, make_result


def leaf(values: Any, name: str | None = None) -> Tensor:
    t = Tensor(np.array(values, dtype=np.float64), requires_grad=True)
    t.name = name
    return t


def wrong_product(a: Any, b: Any) -> Tensor:
    """a * b whose gradient for b is off by 10 at element (1, 2) only."""
    a, b = as_tensor(a), as_tensor(b)
    bump = np.zeros(b.shape)
    bump[1, 2] = 10.0
    return make_result(
        a.data * b.data, "wrong_product", (a, b), (lambda g, y, a, b: g * b, lambda g, y, a, b: g * a + g * bump)
    )


def cube_on_constants(x: Any) -> Tensor:
    """x**3 with a first derivative computed from `.data`: right values, but a constant under create_graph."""
    x = as_tensor(x)
    values = lambda t: t.data if isinstance(t, Tensor) else t
    return make_result(x.data**3, "cube", (x,), (lambda g, y, x: g * 3 * values(x) ** 2,))


def test_gradcheck_returns_true_for_correct_functions() -> None:
    a, b = leaf([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]]), leaf([0.2, -0.4, 0.9])
    assert ag.gradcheck(lambda a, b: (a * b).tanh() @ b, [a, b]) is True
    assert ag.gradcheck(lambda a, b: (a.sum(axis=0) - b, a.max(axis=1)), [a, b]) is True  # several outputs
    assert ag.gradgradcheck(lambda a, b: ag.softmax(a * b, axis=0), [a, b]) is True
    assert ag.gradcheck(lambda a, c: a * c, [a, np.ones(3)])  # inputs not requiring grad are constants


def test_gradcheck_error_names_input_worst_index_and_both_values() -> None:
    a = leaf(np.arange(6.0).reshape(2, 3) + 1)
    b = leaf(np.full((2, 3), 0.5), name="weights")
    with pytest.raises(ag.GradcheckError) as info:
        ag.gradcheck(wrong_product, [a, b])
    message = str(info.value)
    assert "input 1 'weights'" in message  # input 0 is fine; b carries the error
    assert "element (1, 2)" in message and "output (1, 2)" in message
    assert "analytic 16," in message and "numeric 6," in message  # a[1, 2] + 10 against a[1, 2]
    assert isinstance(info.value, AssertionError)


def test_gradgradcheck_catches_a_wrong_second_derivative() -> None:
    x = leaf([0.5, -1.5, 2.0])
    assert ag.gradcheck(cube_on_constants, [x])  # first order is right
    with pytest.raises(ag.GradcheckError, match="input 0"):
        ag.gradgradcheck(cube_on_constants, [x])
    assert ag.gradgradcheck(lambda t: t**3, [x])


def test_gradcheck_warns_for_float32_and_refuses_no_inputs() -> None:
    x32 = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        ag.gradcheck(lambda t: t * 2, [x32], eps=1e-2, atol=1e-3)
    with pytest.raises(ValueError, match="requires grad"):
        ag.gradcheck(lambda t: t * 2, [Tensor(np.ones(2))])
    with pytest.raises(TypeError, match="Tensor"):
        ag.gradcheck(lambda t: t.data * 2, [leaf([1.0])])
