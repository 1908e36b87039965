"""`x.register_hook(fn)`: order, replacement, removal, on backward and ag.grad, under create_graph."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor


def _leaf(values: list[float]) -> Tensor:
    return Tensor(np.array(values), requires_grad=True)


def test_hooks_run_in_registration_order_and_may_replace_the_gradient() -> None:
    x = _leaf([1.0, 2.0])
    h = x * 3.0
    calls: list[str] = []
    h.register_hook(lambda g: calls.append("first") or g * 2)
    h.register_hook(lambda g: calls.append(f"second sees {g.data.tolist()}"))
    (h * h).sum().backward()
    assert calls == ["first", "second sees [12.0, 24.0]"]
    np.testing.assert_allclose(x.grad, [36.0, 72.0])  # 3 * 2 * (2 * 3x)


def test_leaf_hooks_run_before_accumulation_and_removal_works() -> None:
    x = _leaf([1.0, -1.0])
    handle = x.register_hook(lambda g: g * 0)
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    handle.remove()
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])


def test_hooks_run_for_ag_grad_and_see_inputs() -> None:
    x = _leaf([0.5, 1.5])
    seen: list[np.ndarray] = []
    x.register_hook(lambda g: seen.append(g.data.copy()))
    (g,) = ag.grad((x**2).sum(), x)
    np.testing.assert_allclose(g.data, [1.0, 3.0])
    np.testing.assert_allclose(seen[0], [1.0, 3.0])


def test_hooks_under_create_graph_are_differentiable() -> None:
    x = _leaf([0.5, 1.5])
    h = x * 1.0
    handle = h.register_hook(lambda g: g * h)  # the replacement depends on h: second order sees it
    (g,) = ag.grad((h**2).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 2 * x.data**2)
    handle.remove()  # (left in place it would run again in the second pass, as in PyTorch)
    (gg,) = ag.grad(g.sum(), x)
    np.testing.assert_allclose(gg.data, 4 * x.data)


def test_bad_hooks_are_refused_clearly() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(2)).register_hook(lambda g: g)
    x = _leaf([1.0, 2.0])
    x.register_hook(lambda g: np.ones(3))
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        (x * 2).sum().backward()


def test_handle_as_context_manager() -> None:
    x = _leaf([1.0])
    with x.register_hook(lambda g: g * 10):
        (x * 1).sum().backward()
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [11.0])


def test_queue_callback_runs_after_every_grad_is_written() -> None:
    from autograd_core.engine import queue_callback

    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    seen = []

    def later() -> None:
        seen.append(("later", x.grad.copy(), w.grad.copy()))

    def first() -> None:
        seen.append(("first", x.grad.copy(), w.grad.copy()))
        queue_callback(later)  # queued from a callback: runs in the same backward, after this one

    x.register_hook(lambda g: queue_callback(first))
    (x * w).sum().backward()
    assert [s[0] for s in seen] == ["first", "later"]
    for _, gx, gw in seen:  # both gradients were already in .grad when the callbacks ran
        np.testing.assert_array_equal(gx, [3.0, 4.0])
        np.testing.assert_array_equal(gw, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="no backward"):  # ag.grad fills no .grad: nothing to call back after
        ag.grad((x * w).sum(), [x])
    with pytest.raises(RuntimeError, match="no backward"):
        queue_callback(first)
