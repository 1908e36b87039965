"""The CNN stack against PyTorch (float64): values and gradients, BatchNorm statistics, whole models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = dict(rtol=1e-10, atol=1e-10)


def _compare(ours, theirs, arrays: list[np.ndarray], seed: int) -> None:
    """Same outputs, and the same gradients for one random output cotangent, for every input."""
    ts = [ag.Tensor(a, requires_grad=True) for a in arrays]
    out = ours(*ts)
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = theirs(*tt)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), **TOL)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    for t, tt_ in zip(ts, tt):
        np.testing.assert_allclose(t.grad, tt_.grad.numpy(), **TOL)


@st.composite
def conv_configs(draw: st.DrawFn, nd: int) -> dict:
    groups = draw(st.sampled_from([1, 2, 4]))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    same = draw(st.booleans())
    stride = (1,) * nd if same else tuple(draw(st.integers(1, 3)) for _ in range(nd))
    padding = "same" if same else tuple(draw(st.integers(0, 2)) for _ in range(nd))
    spatial = tuple(draw(st.integers((ki - 1) * d + 1, 9)) for ki, d in zip(k, dilation))
    multiplier = draw(st.integers(1, 2))
    return dict(x=(draw(st.integers(1, 3)), groups * draw(st.integers(1, 2))) + spatial, k=k, stride=stride,
                padding=padding, dilation=dilation, groups=groups, out=groups * multiplier,
                seed=draw(st.integers(0, 2**16)))


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note about its own extra copy
@settings(max_examples=25, deadline=None)
@given(conv_configs(2))
def test_conv2d_matches_torch(cfg: dict) -> None:
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal(cfg["x"])
    w = rng.standard_normal((cfg["out"], cfg["x"][1] // cfg["groups"]) + cfg["k"])
    b = rng.standard_normal(cfg["out"])
    geo = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"])
    _compare(lambda x, w, b: F.conv2d(x, w, b, **geo), lambda x, w, b: TF.conv2d(x, w, b, **geo), [x, w, b],
             cfg["seed"])


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=20, deadline=None)
@given(conv_configs(1))
def test_conv1d_matches_torch(cfg: dict) -> None:
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal(cfg["x"])
    w = rng.standard_normal((cfg["out"], cfg["x"][1] // cfg["groups"]) + cfg["k"])
    geo = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"])
    _compare(lambda x, w: F.conv1d(x, w, None, **geo), lambda x, w: TF.conv1d(x, w, None, **geo), [x, w],
             cfg["seed"])


def test_depthwise_conv_matches_torch() -> None:
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 6, 9, 8)), rng.standard_normal((12, 1, 3, 3)), rng.standard_normal(12)
    _compare(lambda x, w, b: F.conv2d(x, w, b, 2, 1, 1, 6), lambda x, w, b: TF.conv2d(x, w, b, 2, 1, 1, 6),
             [x, w, b], 3)


@st.composite
def pool_configs(draw: st.DrawFn) -> dict:
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pad = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    size = tuple(draw(st.integers(ki, 8)) for ki in k)
    return dict(k=k, stride=stride, pad=pad, size=size, ceil=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@settings(max_examples=25, deadline=None)
@given(pool_configs(), st.booleans())
def test_pooling_matches_torch(cfg: dict, include_pad: bool) -> None:
    rng = np.random.default_rng(cfg["seed"])
    # Rounded values: many ties, so the choice of the gradient's element is tested too.
    x = np.round(rng.standard_normal((2, 3) + cfg["size"]) * 2)
    k, s, p, c = cfg["k"], cfg["stride"], cfg["pad"], cfg["ceil"]
    _compare(lambda x: F.max_pool2d(x, k, s, p, ceil_mode=c), lambda x: TF.max_pool2d(x, k, s, p, ceil_mode=c),
             [x], cfg["seed"])
    _compare(lambda x: F.avg_pool2d(x, k, s, p, c, include_pad), lambda x: TF.avg_pool2d(x, k, s, p, c, include_pad),
             [x], cfg["seed"])
    _compare(lambda x: F.max_pool1d(x, k[1], s[1], p[1], 1, c), lambda x: TF.max_pool1d(x, k[1], s[1], p[1], 1, c),
             [x[:, :, 0]], cfg["seed"])
    out = (max(1, cfg["size"][0] - 2), cfg["size"][1] + 1)  # shrink one axis, stretch the other
    _compare(lambda x: F.adaptive_avg_pool2d(x, out), lambda x: TF.adaptive_avg_pool2d(x, out), [x], cfg["seed"])


def test_norms_match_torch() -> None:
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((3, 4, 5, 2)), rng.standard_normal(4), rng.standard_normal(4)
    _compare(lambda x, w, b: F.group_norm(x, 2, w, b), lambda x, w, b: TF.group_norm(x, 2, w, b), [x, w, b], 0)
    lw, lb = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    _compare(lambda x, w, b: F.layer_norm(x, (5, 2), w, b), lambda x, w, b: TF.layer_norm(x, (5, 2), w, b),
             [x, lw, lb], 1)
    _compare(lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
             lambda x, w, b: TF.batch_norm(x, None, None, w, b, True), [x, w, b], 2)


def _twin_models() -> tuple[nn.Module, torch.nn.Module]:
    ag.set_default_dtype(np.float64)
    try:
        ours = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, stride=2, groups=2, bias=False), nn.BatchNorm2d(6, momentum=None), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
        )
    finally:
        ag.set_default_dtype(np.float32)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, stride=2, groups=2, bias=False), torch.nn.BatchNorm2d(6, momentum=None),
        torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, 3),
    ).double()
    return ours, theirs


def test_torch_state_dict_loads_and_training_matches() -> None:
    ours, theirs = _twin_models()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(5)
    opt = nn.optim.SGD(ours.parameters(), lr=0.1)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    for _ in range(4):  # several training steps: running statistics and parameters move together
        x, y = rng.standard_normal((4, 2, 10, 10)), rng.integers(0, 3, 4)
        opt.zero_grad()
        loss = F.cross_entropy(ours(ag.Tensor(x)), y)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(loss.item(), tloss.item(), **TOL)
    theirs_state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value, theirs_state[key].numpy(), err_msg=key, **TOL)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((3, 2, 10, 10))
    np.testing.assert_allclose(ours(ag.Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), **TOL)


def test_our_state_dict_loads_into_torch() -> None:
    ours, theirs = _twin_models()
    ours.train()
    ours(ag.Tensor(np.random.default_rng(6).standard_normal((4, 2, 8, 8))))  # move the running statistics
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(7).standard_normal((2, 2, 8, 8))
    np.testing.assert_allclose(ours(ag.Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), **TOL)


def test_module_defaults_match_torch() -> None:
    pairs = [
        (nn.Conv2d(3, 8, 3), torch.nn.Conv2d(3, 8, 3)),
        (nn.Conv1d(4, 2, 5, groups=2), torch.nn.Conv1d(4, 2, 5, groups=2)),
        (nn.BatchNorm1d(5), torch.nn.BatchNorm1d(5)),
        (nn.LayerNorm((2, 3)), torch.nn.LayerNorm((2, 3))),
        (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
    ]
    for ours, theirs in pairs:
        assert {k: v.shape for k, v in ours.state_dict().items()} == {
            k: tuple(v.shape) for k, v in theirs.state_dict().items()
        }
    # the same init distribution: bounds U(+-1/sqrt(fan_in)) for weight and bias
    ours, theirs = pairs[0]
    bound = 1 / np.sqrt(3 * 9)
    assert np.abs(ours.weight.data).max() <= bound and theirs.weight.abs().max().item() <= bound
