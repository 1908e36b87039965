"""Optimizers against hand-derived updates (no torch), plus groups, state and clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor
from nn import optim
from nn.utils import clip_grad_norm_, clip_grad_value_

P0 = np.array([2.0, -0.5])


def leaf(values=P0, dtype=np.float64) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def quad_step(opt, p) -> None:
    """One step on f(p) = 0.5 * sum(p**2), whose gradient is p itself."""
    opt.zero_grad()
    (0.5 * (p * p).sum()).backward()
    opt.step()


def run(opt_cls, steps=2, **kw) -> list[np.ndarray]:
    p = leaf()
    opt = opt_cls([p], **kw)
    out = []
    for _ in range(steps):
        quad_step(opt, p)
        out.append(p.data.copy())
    return out


# ----------------------------------------------------------------- SGD
@pytest.mark.parametrize(
    "kw, f1, f2",
    [
        (dict(lr=0.1), 0.9, 0.81),
        (dict(lr=0.1, momentum=0.9), 0.9, 0.72),  # buf = g, then 0.9*g1 + g2
        (dict(lr=0.1, momentum=0.9, nesterov=True), 0.81, 0.5751),  # g + 0.9*buf
        (dict(lr=0.1, momentum=0.9, dampening=0.5), 0.9, 0.9 - 0.1 * (0.9 + 0.5 * 0.9)),
        (dict(lr=0.1, weight_decay=0.1), 0.89, 0.89**2),
        (dict(lr=0.1, maximize=True), 1.1, 1.21),
    ],
)
def test_sgd_by_hand(kw, f1, f2):
    p1, p2 = run(optim.SGD, **kw)
    np.testing.assert_allclose(p1, f1 * P0, rtol=1e-12)
    np.testing.assert_allclose(p2, f2 * P0, rtol=1e-12)


# ----------------------------------------------------------------- Adam / AdamW
def adam_by_hand(g1, g2, p0, lr, b1=0.9, b2=0.999, eps=1e-8, amsgrad=False):
    """Two Adam steps written out: bias-corrected moments, update lr * m_hat / (sqrt(v_hat) + eps)."""
    m1, v1 = (1 - b1) * g1, (1 - b2) * g1**2
    p1 = p0 - lr * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
    m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2**2
    v_used = np.maximum(v1, v2) if amsgrad else v2
    p2 = p1 - lr * (m2 / (1 - b1**2)) / (np.sqrt(v_used / (1 - b2**2)) + eps)
    return p1, p2


def test_adam_first_step_is_lr_times_sign():
    (p1,) = run(optim.Adam, steps=1, lr=0.1)
    np.testing.assert_allclose(p1, P0 - 0.1 * np.sign(P0), rtol=1e-7)


def test_adam_two_steps_by_hand():
    p1, p2 = run(optim.Adam, lr=0.1)
    e1 = P0 - 0.1 * np.sign(P0) * np.abs(P0) / (np.abs(P0) + 1e-8)
    _, e2 = adam_by_hand(P0, e1, P0, lr=0.1)
    np.testing.assert_allclose(p1, e1, rtol=1e-12)
    np.testing.assert_allclose(p2, e2, rtol=1e-12)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_amsgrad_keeps_running_max(amsgrad):
    # Second gradient small enough that v shrinks (g2**2 < v1 = 1e-3): AMSGrad keeps v1.
    p = leaf([1.0])
    opt = optim.Adam([p], lr=0.1, amsgrad=amsgrad)
    for g in (1.0, 0.01):
        p.grad = np.array([g])
        opt.step()
    _, expect = adam_by_hand(1.0, 0.01, 1.0, lr=0.1, amsgrad=amsgrad)
    np.testing.assert_allclose(p.data, [expect], rtol=1e-12)
    _, other = adam_by_hand(1.0, 0.01, 1.0, lr=0.1, amsgrad=not amsgrad)
    assert abs(p.data[0] - other) > 1e-6  # the option changes the result


def test_adam_l2_vs_adamw_decoupled():
    (pa,) = run(optim.Adam, steps=1, lr=0.1, weight_decay=0.5)
    (pw,) = run(optim.AdamW, steps=1, lr=0.1, weight_decay=0.5)
    # Adam: L2 enters the gradient 1.5 * p, and the first step is still lr * sign.
    np.testing.assert_allclose(pa, P0 - 0.1 * np.sign(P0), rtol=1e-7)
    # AdamW: p * (1 - lr * wd) first, then the sign step.
    np.testing.assert_allclose(pw, P0 * (1 - 0.05) - 0.1 * np.sign(P0), rtol=1e-7)


def test_adamw_default_weight_decay():
    assert optim.AdamW([leaf()]).defaults["weight_decay"] == 1e-2
    assert optim.Adam([leaf()]).defaults["weight_decay"] == 0


# ----------------------------------------------------------------- RMSprop
def test_rmsprop_by_hand():
    p1, p2 = run(optim.RMSprop, lr=0.01, alpha=0.99)
    g1 = P0
    v1 = 0.01 * g1**2
    e1 = P0 - 0.01 * g1 / (np.sqrt(v1) + 1e-8)
    v2 = 0.99 * v1 + 0.01 * e1**2
    e2 = e1 - 0.01 * e1 / (np.sqrt(v2) + 1e-8)
    np.testing.assert_allclose(p1, e1, rtol=1e-12)
    np.testing.assert_allclose(p2, e2, rtol=1e-12)


def test_rmsprop_centered_momentum_by_hand():
    p1, p2 = run(optim.RMSprop, lr=0.01, alpha=0.9, centered=True, momentum=0.5)
    g1 = P0
    v1, m1 = 0.1 * g1**2, 0.1 * g1
    buf1 = g1 / (np.sqrt(v1 - m1**2) + 1e-8)
    e1 = P0 - 0.01 * buf1
    g2 = e1
    v2, m2 = 0.9 * v1 + 0.1 * g2**2, 0.9 * m1 + 0.1 * g2
    buf2 = 0.5 * buf1 + g2 / (np.sqrt(v2 - m2**2) + 1e-8)
    np.testing.assert_allclose(p1, e1, rtol=1e-12)
    np.testing.assert_allclose(p2, e1 - 0.01 * buf2, rtol=1e-12)


# ----------------------------------------------------------------- Adagrad
def test_adagrad_by_hand():
    p1, p2 = run(optim.Adagrad, lr=0.1, lr_decay=0.5, initial_accumulator_value=1.0)
    s1 = 1.0 + P0**2
    e1 = P0 - 0.1 * P0 / (np.sqrt(s1) + 1e-10)
    s2 = s1 + e1**2
    e2 = e1 - (0.1 / 1.5) * e1 / (np.sqrt(s2) + 1e-10)
    np.testing.assert_allclose(p1, e1, rtol=1e-12)
    np.testing.assert_allclose(p2, e2, rtol=1e-12)


def test_adagrad_state_exists_before_first_step():
    p = leaf()
    sd = optim.Adagrad([p], initial_accumulator_value=0.3).state_dict()
    np.testing.assert_array_equal(sd["state"][0]["sum"], np.full(2, 0.3))


# ----------------------------------------------------------------- shared behaviour
ALL = [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.Adam, dict(lr=0.05, amsgrad=True, weight_decay=0.01)),
    (optim.AdamW, dict(lr=0.05)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.9, centered=True)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
]


@pytest.mark.parametrize("cls, kw", ALL, ids=[c.__name__ for c, _ in ALL])
def test_float32_stays_float32(cls, kw):
    p = leaf(dtype=np.float32)
    opt = cls([p], **kw)
    for _ in range(3):
        quad_step(opt, p)
    assert p.data.dtype == np.float32
    for value in opt.state_dict()["state"][0].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


@pytest.mark.parametrize("cls, kw", ALL, ids=[c.__name__ for c, _ in ALL])
def test_state_dict_resume_is_exact(cls, kw):
    def make():
        a, b = leaf(), leaf([[0.3, -1.2], [0.7, 0.1]])
        return [a, b], cls([a, b], **kw)

    def step(params, opt, i):
        opt.zero_grad()
        a, b = params
        ((a * a).sum() * (0.5 + 0.1 * i) + (b * b * b).sum() + (b @ a).sum()).backward()
        opt.step()

    ref_params, ref_opt = make()
    for i in range(6):
        step(ref_params, ref_opt, i)

    params, opt = make()
    for i in range(3):
        step(params, opt, i)
    saved = opt.state_dict()
    resumed = [Tensor(p.data.copy(), requires_grad=True) for p in params]
    for i in range(3, 6):  # keep going: the saved state must be a snapshot, not a view
        step(params, opt, i)
    opt2 = cls(resumed, **kw)
    opt2.load_state_dict(saved)
    for i in range(3, 6):
        step(resumed, opt2, i)
    for p, r in zip(resumed, ref_params):
        np.testing.assert_array_equal(p.data, r.data)


def test_skips_params_without_grad_and_zero_grad_modes():
    a, b = leaf(), leaf([5.0])
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    (a * a).sum().backward()
    opt.step()
    np.testing.assert_array_equal(b.data, [5.0])
    assert 0 in opt.state_dict()["state"] and 1 not in opt.state_dict()["state"]
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    assert b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_param_groups_have_their_own_options():
    a, b = leaf(), leaf()
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    quad_step(opt, a)
    (0.5 * (b * b).sum()).backward()
    opt.step()
    np.testing.assert_allclose(b.data, 0.5 * P0)
    c = leaf()
    opt.add_param_group({"params": c, "momentum": 0.9})
    assert opt.param_groups[2]["momentum"] == 0.9 and opt.param_groups[2]["lr"] == 0.1
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1], [2]]


def test_errors_are_clear():
    a = leaf()
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a]}, {"params": [a]}])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam([a], lr=-1)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([a], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([])
    with pytest.raises(TypeError, match="wrap it in a list"):
        optim.SGD(a)
    with pytest.raises(ValueError, match="unknown options"):
        optim.SGD([{"params": [a], "betas": (0.9, 0.9)}])
    opt = optim.SGD([a])
    with pytest.raises(ValueError, match="saved state has 2 parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0], "lr": 0.1}] * 2})
    a.grad = np.zeros(3)
    with pytest.raises(ValueError, match=r"gradient shape \(3,\)"):
        opt.step()


def test_update_replaces_data_instead_of_writing_in_place():
    p = leaf()
    before = p.data
    quad_step(optim.SGD([p], lr=0.1), p)
    np.testing.assert_array_equal(before, P0)  # arrays a graph may have saved are untouched


def test_step_closure_returns_loss():
    p = leaf()
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(0.5 * (4 + 0.25))
    np.testing.assert_allclose(p.data, 0.9 * P0)


# ----------------------------------------------------------------- clipping
def test_clip_grad_norm_scales_jointly_and_returns_total():
    a, b = leaf([0.0, 0.0]), leaf([0.0])
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    total = clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(a.grad, [3.0 * scale, 0.0])
    np.testing.assert_allclose(b.grad, [4.0 * scale])


def test_clip_grad_norm_leaves_small_grads_and_handles_inf_norm():
    a = leaf([0.0, 0.0])
    a.grad = np.array([0.3, -0.4])
    assert clip_grad_norm_(a, max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(a.grad, [0.3, -0.4])
    a.grad = np.array([0.3, -4.0], dtype=np.float64)
    assert clip_grad_norm_([a], max_norm=2.0, norm_type=math.inf) == pytest.approx(4.0)
    np.testing.assert_allclose(a.grad, np.array([0.3, -4.0]) * 2.0 / (4.0 + 1e-6))
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        a.grad = np.array([np.inf, 0.0])
        clip_grad_norm_([a], 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_float32_large_values_no_overflow():
    a = Tensor(np.zeros(4, np.float32), requires_grad=True)
    a.grad = np.full(4, 1e30, np.float32)  # a float32 sum of squares would overflow
    total = clip_grad_norm_([a], 1.0)
    assert total == pytest.approx(2e30, rel=1e-6)
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a.grad.astype(np.float64)), 1.0, rtol=1e-5)


def test_clip_grad_value():
    a = leaf([0.0, 0.0, 0.0])
    a.grad = np.array([-3.0, 0.5, 2.0])
    clip_grad_value_([a], 1.0)
    np.testing.assert_array_equal(a.grad, [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        clip_grad_value_([a], -1.0)


def test_works_with_gradients_from_ag_grad_too():
    p = leaf()
    (g,) = ag.grad((p * p).sum(), [p])
    p.grad = g.data
    optim.SGD([p], lr=0.25).step()
    np.testing.assert_allclose(p.data, 0.5 * P0)
