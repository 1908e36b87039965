"""Losses: gradient checks for every loss and reduction, hand-derived values, stability, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F

REDUCTIONS = ["none", "mean", "sum"]


def _t(a):
    return ag.Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def _reduced(fn):
    """Make any reduction's output a scalar for gradcheck by a fixed random weighting."""

    def run(*args):
        out = fn(*args)
        return out if out.ndim == 0 else (out * np.linspace(0.5, 1.5, out.size).reshape(out.shape)).sum()

    return run


# ----------------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=st.integers(0, 2**16))
def test_regression_losses_gradcheck(reduction, shape, seed):
    rng = np.random.default_rng(seed)
    x, y = _t(rng.standard_normal(shape)), _t(rng.standard_normal(shape))
    # keep |x - y| away from the kinks of l1 (0) and huber (+-delta)
    y.data = np.where(np.abs(np.abs(x.data - y.data) - 0.7) < 1e-3, y.data + 0.1, y.data)
    y.data = np.where(np.abs(x.data - y.data) < 1e-3, y.data + 0.1, y.data)
    for fn in (
        lambda a, b: F.mse_loss(a, b, reduction=reduction),
        lambda a, b: F.l1_loss(a, b, reduction=reduction),
        lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=0.7),
    ):
        assert ag.gradcheck(_reduced(fn), [x, y])  # differentiable in the target too


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_losses_gradcheck(reduction, weighted):
    rng = np.random.default_rng(0)
    logits = _t(rng.standard_normal((4, 3)) * 3)
    probs = _t(rng.uniform(0.05, 0.95, (4, 3)))
    target = rng.uniform(0, 1, (4, 3))
    weight = rng.uniform(0.5, 2, (4, 3)) if weighted else None
    pos_weight = rng.uniform(0.5, 3, 3) if weighted else None
    assert ag.gradcheck(
        _reduced(lambda p: F.binary_cross_entropy(p, target, weight=weight, reduction=reduction)), [probs]
    )
    bcel = lambda z: F.binary_cross_entropy_with_logits(  # noqa: E731
        z, target, weight=weight, reduction=reduction, pos_weight=pos_weight
    )
    assert ag.gradcheck(_reduced(bcel), [logits])
    assert ag.gradgradcheck(_reduced(bcel), [logits])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("shape", [(5,), (4, 5), (3, 5, 2, 2)])
def test_cross_entropy_gradcheck(reduction, label_smoothing, shape):
    rng = np.random.default_rng(1)
    x = _t(rng.standard_normal(shape))
    cdim = 0 if len(shape) == 1 else 1
    tshape = shape[:cdim] + shape[cdim + 1 :]
    target = rng.integers(0, shape[cdim], tshape)
    if target.ndim:
        target.flat[0] = -1  # ignored
    weight = rng.uniform(0.5, 2, shape[cdim])
    fn = lambda z: F.cross_entropy(  # noqa: E731
        z, target, weight=weight, ignore_index=-1, reduction=reduction, label_smoothing=label_smoothing
    )
    assert ag.gradcheck(_reduced(fn), [x])
    probs = rng.dirichlet(np.ones(shape[cdim]), size=tshape)
    probs = np.moveaxis(probs, -1, cdim) if len(shape) > 1 else probs
    fnp = lambda z: F.cross_entropy(z, probs, weight=weight, reduction=reduction)  # noqa: E731
    assert ag.gradcheck(_reduced(fnp), [x])


def test_cross_entropy_second_order():
    x = _t(np.random.default_rng(2).standard_normal((3, 4)))
    assert ag.gradgradcheck(lambda z: F.cross_entropy(z, [0, 3, 1], label_smoothing=0.1), [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_gradcheck(reduction):
    rng = np.random.default_rng(3)
    x = _t(rng.standard_normal((6, 4, 3)))
    target = rng.integers(0, 4, (6, 3))
    target[1, 2] = -100
    assert ag.gradcheck(
        _reduced(lambda z: F.nll_loss(z, target, weight=[1.0, 2.0, 0.5, 1.5], reduction=reduction)), [x]
    )


# ----------------------------------------------------------------------------- values by hand
def test_hand_values():
    x = np.array([1.0, -2.0, 3.0])
    y = np.array([0.0, 0.0, 1.0])
    assert F.mse_loss(x, y).item() == pytest.approx((1 + 4 + 4) / 3)
    assert F.l1_loss(x, y, reduction="sum").item() == pytest.approx(5.0)
    # huber, delta=1.5: |d| = 1 (quadratic), 2 and 2 (linear: 1.5 * (2 - 0.75))
    np.testing.assert_allclose(F.huber_loss(x, y, reduction="none", delta=1.5).data, [0.5, 1.875, 1.875])
    # uniform logits: cross entropy is log(C)
    assert F.cross_entropy(np.zeros((2, 7)), [3, 5]).item() == pytest.approx(math.log(7))
    # weighted mean divides by the weights of the targets: (2*a + 3*b) / (2 + 3)
    logp = np.log(np.array([[0.2, 0.8], [0.6, 0.4]]))
    value = F.nll_loss(logp, [1, 0], weight=[3.0, 2.0]).item()
    assert value == pytest.approx(-(2 * math.log(0.8) + 3 * math.log(0.6)) / 5)
    # BCE clamps log(0) at -100 instead of returning inf
    assert F.binary_cross_entropy(np.array([0.0, 1.0]), np.array([1.0, 0.0]), reduction="sum").item() == 200.0
    # label smoothing with probabilities equals smoothing the one-hot target by hand
    z = np.random.default_rng(0).standard_normal((3, 4))
    t = np.array([0, 2, 3])
    smoothed = np.eye(4)[t] * 0.8 + 0.05
    assert F.cross_entropy(z, t, label_smoothing=0.2).item() == pytest.approx(F.cross_entropy(z, smoothed).item())


def test_all_ignored_mean_is_nan_with_zero_gradient():
    x = _t(np.ones((2, 3)))
    loss = F.cross_entropy(x, [-100, -100])
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad, 0)


# ----------------------------------------------------------------------------- stability and dtypes
def test_large_logits_stay_finite():
    z = _t([[1e4, -1e4], [-1e4, 1e4]])
    loss = F.binary_cross_entropy_with_logits(z, [[1.0, 0.0], [1.0, 1.0]], pos_weight=[2.0, 3.0], reduction="sum")
    assert loss.item() == pytest.approx(2e4)
    loss.backward()
    np.testing.assert_allclose(z.grad, [[0, 0], [-2, 0]], atol=1e-12)
    c = _t([[1e4, 0.0, -1e4]])
    ce = F.cross_entropy(c, [2])
    assert ce.item() == pytest.approx(2e4)
    ce.backward()
    np.testing.assert_allclose(c.grad, [[1, 0, -1]], atol=1e-12)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.mse_loss(x, np.zeros((3, 4))),
        lambda x: F.l1_loss(x, np.zeros((3, 4))),
        lambda x: F.huber_loss(x, np.zeros((3, 4))),
        lambda x: F.binary_cross_entropy(F.sigmoid(x), np.ones((3, 4))),
        lambda x: F.binary_cross_entropy_with_logits(x, np.ones((3, 4)), pos_weight=np.ones(4)),
        lambda x: F.cross_entropy(x, [0, 1, 3], weight=np.ones(4), label_smoothing=0.1),
        lambda x: F.cross_entropy(x, np.full((3, 4), 0.25)),
        lambda x: F.nll_loss(x, [0, 1, 3]),
    ],
)
def test_float32_in_float32_out(fn):
    x = ag.Tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    loss = fn(x)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


# ----------------------------------------------------------------------------- modules and errors
def test_loss_modules_match_functional():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    t = rng.integers(0, 3, 5)
    p = rng.uniform(0.1, 0.9, (5, 3))
    w = np.array([1.0, 2.0, 0.5])
    cases = [
        (nn.MSELoss(reduction="sum")(x, y), F.mse_loss(x, y, reduction="sum")),
        (nn.L1Loss()(x, y), F.l1_loss(x, y)),
        (nn.HuberLoss(delta=0.5)(x, y), F.huber_loss(x, y, delta=0.5)),
        (nn.BCELoss()(p, y > 0), F.binary_cross_entropy(p, y > 0)),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, y > 0), F.binary_cross_entropy_with_logits(x, y > 0, pos_weight=w)),
        (nn.CrossEntropyLoss(w, label_smoothing=0.1)(x, t), F.cross_entropy(x, t, w, label_smoothing=0.1)),
        (nn.NLLLoss(w, ignore_index=1)(x, t), F.nll_loss(x, t, w, ignore_index=1)),
    ]
    for got, expected in cases:
        assert got.item() == expected.item()
    assert list(nn.CrossEntropyLoss(weight=w).state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert nn.CrossEntropyLoss().state_dict() == {}


def test_loss_errors():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"mse_loss: target shape \(4,\) differs from input shape \(4, 3\)"):
        F.mse_loss(x, np.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(x + 2, x)
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"class indices need shape \(4,\)"):
        F.cross_entropy(x, [[0], [1], [2], [0]])
    with pytest.raises(TypeError, match="integers"):
        F.nll_loss(x, np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match="weight must have shape"):
        F.cross_entropy(x, [0, 1, 2, 0], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(x, x, delta=0.0)


def test_targets_accept_lists_tensors_and_arrays():
    x = np.array([[2.0, 1.0], [0.5, 3.0]])
    a = F.cross_entropy(x, [0, 1]).item()
    assert a == F.cross_entropy(x, np.array([0, 1])).item() == F.cross_entropy(x, ag.Tensor(np.array([0, 1]))).item()
    assert F.mse_loss(x, [[2.0, 1.0], [0.5, 3.0]]).item() == 0.0
