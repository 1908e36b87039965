"""Schedulers: hand-computed lr sequences, and PyTorch parity when torch is installed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograd_core import Tensor
from nn import optim
from nn.optim import lr_scheduler as sched


def make_opt(lr=1.0, groups=1):
    params = [{"params": [Tensor(np.zeros(2), requires_grad=True)], "lr": lr * (i + 1)} for i in range(groups)]
    return optim.SGD(params, lr=lr)


def sequence(scheduler, opt, n=12, metrics=None):
    out = [scheduler.get_last_lr()]
    for i in range(n):
        opt.step()
        scheduler.step(metrics[i]) if metrics is not None else scheduler.step()
        out.append(scheduler.get_last_lr())
        assert out[-1] == [g["lr"] for g in opt.param_groups]
    return np.array(out)


def test_step_lr_by_hand():
    opt = make_opt(1.0)
    lrs = sequence(sched.StepLR(opt, step_size=3, gamma=0.5), opt, n=7)[:, 0]
    np.testing.assert_allclose(lrs, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_multistep_lr_by_hand_with_repeated_milestone():
    opt = make_opt(1.0)
    lrs = sequence(sched.MultiStepLR(opt, milestones=[2, 4, 4], gamma=0.1), opt, n=5)[:, 0]
    np.testing.assert_allclose(lrs, [1, 1, 0.1, 0.1, 0.001, 0.001])


def test_exponential_lr_by_hand():
    opt = make_opt(2.0)
    lrs = sequence(sched.ExponentialLR(opt, gamma=0.9), opt, n=4)[:, 0]
    np.testing.assert_allclose(lrs, 2.0 * 0.9 ** np.arange(5))


def test_cosine_lr_follows_closed_form_within_period():
    opt = make_opt(1.0)
    lrs = sequence(sched.CosineAnnealingLR(opt, T_max=10, eta_min=0.1), opt, n=10)[:, 0]
    expect = 0.1 + 0.9 * (1 + np.cos(np.pi * np.arange(11) / 10)) / 2
    np.testing.assert_allclose(lrs, expect, rtol=1e-12, atol=1e-12)
    assert lrs[-1] == pytest.approx(0.1)


def test_linear_lr_by_hand():
    opt = make_opt(1.0)
    lrs = sequence(sched.LinearLR(opt, start_factor=0.25, end_factor=1.0, total_iters=3), opt, n=5)[:, 0]
    np.testing.assert_allclose(lrs, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0], rtol=1e-12)


def test_reduce_on_plateau_by_hand():
    opt = make_opt(1.0)
    s = sched.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.2)
    metrics = [5, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    lrs = sequence(s, opt, n=len(metrics), metrics=metrics)[:, 0]
    # Epochs 3, 4 are bad: reduce after the 2nd (patience 1). Cooldown then swallows
    # epoch 5, so the next reduction is after epoch 7, then after 10, floored at min_lr.
    np.testing.assert_allclose(lrs, [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2])


def test_scheduler_groups_and_state_dict_round_trip():
    opt = make_opt(1.0, groups=2)
    s = sched.MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
    for _ in range(2):
        opt.step()
        s.step()
    assert s.get_last_lr() == [0.5, 1.0]
    state = json.loads(json.dumps(s.state_dict()))  # checkpoint metadata goes through JSON
    opt2 = make_opt(1.0, groups=2)
    s2 = sched.MultiStepLR(opt2, milestones=[99], gamma=0.9)
    s2.load_state_dict(state)
    for g, lr in zip(opt2.param_groups, s.get_last_lr()):
        g["lr"] = lr
    for _ in range(3):
        opt.step(), s.step()
        opt2.step(), s2.step()
        assert s2.get_last_lr() == s.get_last_lr()


def test_errors():
    opt = make_opt()
    with pytest.raises(TypeError, match="not an Optimizer"):
        sched.StepLR(object(), 2)
    with pytest.raises(ValueError, match="step_size"):
        sched.StepLR(opt, 0)
    with pytest.raises(ValueError, match="start_factor"):
        sched.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="factor"):
        sched.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(make_opt(), 2, last_epoch=3)


# ----------------------------------------------------------------- PyTorch parity
CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.87)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),  # 25 steps: past T_max, into the next period
    ("LinearLR", dict(start_factor=0.1, end_factor=0.9, total_iters=6)),
    ("LinearLR", dict()),
]


@pytest.mark.parametrize("name, kw", CASES, ids=[c[0] + str(i) for i, c in enumerate(CASES)])
def test_lr_sequence_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    opt = make_opt(0.5, groups=2)
    t_opt = torch.optim.SGD(
        [{"params": [torch.zeros(2, requires_grad=True)], "lr": 0.5 * (i + 1)} for i in range(2)], lr=0.5
    )
    mine = sequence(getattr(sched, name)(opt, **kw), opt, n=25)
    t_s = getattr(torch.optim.lr_scheduler, name)(t_opt, **kw)
    ref = [t_s.get_last_lr()]
    for _ in range(25):
        t_opt.step()
        t_s.step()
        ref.append(t_s.get_last_lr())
    np.testing.assert_allclose(mine, np.array(ref), rtol=1e-13, atol=0)


PLATEAU = [
    dict(patience=3),
    dict(mode="max", threshold_mode="abs", threshold=0.1, patience=2, cooldown=2, factor=0.3, min_lr=[0.01, 0.1]),
]


@pytest.mark.parametrize("kw", PLATEAU, ids=["min-rel", "max-abs-cooldown"])
def test_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    metrics = list(np.random.default_rng(1).normal(size=40).cumsum() * 0.1)
    opt = make_opt(0.5, groups=2)
    mine = sequence(sched.ReduceLROnPlateau(opt, **kw), opt, n=40, metrics=metrics)
    t_opt = torch.optim.SGD(
        [{"params": [torch.zeros(2, requires_grad=True)], "lr": 0.5 * (i + 1)} for i in range(2)], lr=0.5
    )
    t_s = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kw)
    ref = [t_s.get_last_lr()]
    for m in metrics:
        t_s.step(m)
        ref.append(t_s.get_last_lr())
    assert np.array(ref)[:, 0].min() < 0.5  # the sequence did reduce
    np.testing.assert_allclose(mine, np.array(ref), rtol=1e-13)
