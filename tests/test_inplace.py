"""In-place safety: version counters catch writes to values that a graph has saved."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor


def test_modifying_a_saved_input_is_caught() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = Tensor(np.array([3.0, 4.0]))
    loss = (w * x).sum()  # d/dw needs x
    x[0] = 10.0
    assert x.version == 1
    with pytest.raises(RuntimeError, match=r"'multiply'.*modified in place"):
        loss.backward()
    assert w.grad is None


def test_modifying_an_output_that_backward_reuses_is_caught() -> None:
    x = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = x.exp()  # exp's gradient reuses its output
    loss = y.sum()
    with ag.no_grad():
        y[1] = 0.0
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_optimizer_style_step_between_forward_and_backward_is_caught() -> None:
    w = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    loss = (w * w).sum()
    w.data -= 0.1  # an in-place update, declared as such
    w.mark_modified()
    with pytest.raises(RuntimeError, match="input 0 of 'multiply'"):
        loss.backward()


def test_assigning_a_new_array_is_safe() -> None:
    w = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    loss = (w * w).sum()
    w.data = w.data - 0.1  # the graph keeps the old array: still correct
    loss.backward()
    np.testing.assert_allclose(w.grad, [2.0, -2.0])


def test_setitem_on_a_tensor_that_requires_grad_is_refused_outside_no_grad() -> None:
    w = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        w[0] = 1.0
    assert w.data[0] == 0.0
    with ag.no_grad():
        w[0] = 1.0
    assert w.data[0] == 1.0 and w.version == 1


def test_unrelated_writes_do_not_trigger() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    other = Tensor(np.zeros(2))
    loss = (w * 3.0).sum()
    other[0] = 5.0
    loss.backward()
    np.testing.assert_allclose(w.grad, [3.0, 3.0])
