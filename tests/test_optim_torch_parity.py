"""Each optimizer's 20-step trajectory equals PyTorch's (float64, 1e-6), over its options."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_core import Tensor
from nn import optim
from nn.utils import clip_grad_norm_

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 3))
Y = RNG.normal(size=(6, 2))
W0 = RNG.normal(size=(3, 2))
B0 = RNG.normal(size=(2,))

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
]


def loss_of(W, b, lib):
    """A non-quadratic objective: squared error plus a quartic penalty."""
    r = lib(X) @ W + b - lib(Y)
    return (r * r).mean() + 0.1 * (W * W * W * W).sum()


def ours(name, kw, groups=False, steps=20):
    W, b = Tensor(W0.copy(), requires_grad=True), Tensor(B0.copy(), requires_grad=True)
    params = [{"params": [W]}, {"params": [b], "lr": kw["lr"] * 3}] if groups else [W, b]
    opt = getattr(optim, name)(params, **kw)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(W, b, Tensor).backward()
        opt.step()
        traj.append(np.concatenate([W.data.ravel(), b.data]))
    return np.array(traj)


def theirs(name, kw, groups=False, steps=20):
    W = torch.tensor(W0.copy(), requires_grad=True)
    b = torch.tensor(B0.copy(), requires_grad=True)
    params = [{"params": [W]}, {"params": [b], "lr": kw["lr"] * 3}] if groups else [W, b]
    opt = getattr(torch.optim, name)(params, **kw)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(W, b, torch.tensor).backward()
        opt.step()
        traj.append(np.concatenate([W.detach().numpy().ravel(), b.detach().numpy()]))
    return np.array(traj)


@pytest.mark.parametrize("name, kw", CASES, ids=[f"{n}-{sorted(k.items())}" for n, k in CASES])
def test_trajectory_matches_torch(name, kw):
    mine, ref = ours(name, kw), theirs(name, kw)
    assert np.abs(mine[-1] - np.concatenate([W0.ravel(), B0])).max() > 1e-3  # it moved
    np.testing.assert_allclose(mine, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_param_groups_match_torch(name):
    kw = dict(lr=0.02, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.02)
    np.testing.assert_allclose(ours(name, kw, groups=True), theirs(name, kw, groups=True), atol=1e-6, rtol=0)


def test_state_dict_layout_matches_torch():
    kw = dict(lr=0.05, amsgrad=True)
    W = Tensor(W0.copy(), requires_grad=True)
    Wt = torch.tensor(W0.copy(), requires_grad=True)
    mine, ref = optim.Adam([W], **kw), torch.optim.Adam([Wt], **kw)
    (W * W).sum().backward()
    (Wt * Wt).sum().backward()
    mine.step()
    ref.step()
    a, b = mine.state_dict(), ref.state_dict()
    assert a["state"].keys() == b["state"].keys()
    assert a["state"][0].keys() == b["state"][0].keys()
    assert set(a["param_groups"][0]) <= set(b["param_groups"][0])
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        np.testing.assert_allclose(a["state"][0][key], b["state"][0][key].numpy(), rtol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(norm_type):
    grads = [RNG.normal(size=(3, 4)), RNG.normal(size=(5,))]
    ps = [Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    ts = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ps, ts, grads):
        p.grad, t.grad = g.copy(), torch.tensor(g.copy())
    total = clip_grad_norm_(ps, 0.7, norm_type=norm_type)
    ref_total = torch.nn.utils.clip_grad_norm_(ts, 0.7, norm_type=norm_type)
    assert total == pytest.approx(float(ref_total), rel=1e-12)
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name, kw", [("Adam", dict(lr=0.05, amsgrad=True)), ("SGD", dict(lr=0.05, momentum=0.9))])
def test_resume_from_a_torch_state_dict(name, kw):
    W = torch.tensor(W0.copy(), requires_grad=True)
    b = torch.tensor(B0.copy(), requires_grad=True)
    t_opt = getattr(torch.optim, name)([W, b], **kw)

    def t_step():
        t_opt.zero_grad()
        loss_of(W, b, torch.tensor).backward()
        t_opt.step()

    for _ in range(5):
        t_step()
    sd = t_opt.state_dict()
    converted = {
        "state": {i: {k: v.numpy() for k, v in st.items()} for i, st in sd["state"].items()},
        "param_groups": sd["param_groups"],
    }
    mW = Tensor(W.detach().numpy().copy(), requires_grad=True)
    mb = Tensor(b.detach().numpy().copy(), requires_grad=True)
    opt = getattr(optim, name)([mW, mb], lr=1.0)  # lr comes from the loaded groups
    opt.load_state_dict(converted)
    assert opt.param_groups[0]["lr"] == kw["lr"] and "foreach" not in opt.param_groups[0]
    for _ in range(10):
        t_step()
        opt.zero_grad()
        loss_of(mW, mb, Tensor).backward()
        opt.step()
    np.testing.assert_allclose(mW.data, W.detach().numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(mb.data, b.detach().numpy(), atol=1e-6, rtol=0)
