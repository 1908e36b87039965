"""BatchNorm, LayerNorm, GroupNorm: formulas, running statistics, modes, gradients of two orders, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([(4, 3), (3, 2, 5), (2, 3, 2, 3)]), st.integers(0, 2**16))
def test_batch_norm_training_formula_and_gradients(shape: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = ag.Tensor(rng.standard_normal(shape) * 2 + 1, requires_grad=True)
    w = ag.Tensor(rng.standard_normal(shape[1]), requires_grad=True)
    b = ag.Tensor(rng.standard_normal(shape[1]), requires_grad=True)
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, shape[1]) + (1,) * (len(shape) - 2)
    out = F.batch_norm(x, None, None, w, b, training=True, eps=1e-3)
    mean, var = x.data.mean(axis=axes, keepdims=True), x.data.var(axis=axes, keepdims=True)
    expected = (x.data - mean) / np.sqrt(var + 1e-3) * w.data.reshape(bshape) + b.data.reshape(bshape)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    fn = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)
    assert ag.gradcheck(fn, [x, w, b])
    assert ag.gradgradcheck(fn, [x, w, b])


def test_running_statistics_update_and_eval() -> None:
    ag.set_default_dtype(np.float64)
    try:
        bn = nn.BatchNorm1d(3, momentum=0.3)
    finally:
        ag.set_default_dtype(np.float32)
    rng = np.random.default_rng(0)
    mean, var = np.zeros(3), np.ones(3)
    for step in range(1, 4):
        x = rng.standard_normal((5, 3, 4)) * step + step
        bn(ag.Tensor(x))
        n = 5 * 4
        mean = 0.7 * mean + 0.3 * x.mean(axis=(0, 2))
        var = 0.7 * var + 0.3 * x.var(axis=(0, 2)) * n / (n - 1)  # unbiased for the running estimate
    np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, var, rtol=1e-12)
    assert int(bn.num_batches_tracked.data) == 3
    bn.eval()
    x = rng.standard_normal((2, 3, 4))
    out = bn(ag.Tensor(x))
    np.testing.assert_allclose(out.data, (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-5), rtol=1e-12)
    assert int(bn.num_batches_tracked.data) == 3  # eval leaves the statistics alone
    np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-12)


def test_cumulative_average_when_momentum_is_none() -> None:
    bn = nn.BatchNorm2d(2, momentum=None)
    xs = [np.random.default_rng(i).standard_normal((3, 2, 2, 2)).astype(np.float32) for i in range(3)]
    for x in xs:
        bn(ag.Tensor(x))
    expected = np.mean([x.mean(axis=(0, 2, 3)) for x in xs], axis=0)
    np.testing.assert_allclose(bn.running_mean.data, expected, rtol=1e-5)
    assert bn.running_mean.dtype == np.float32


def test_buffers_state_dict_and_no_tracking() -> None:
    bn = nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    free = nn.BatchNorm2d(4, affine=False, track_running_stats=False)
    assert list(free.state_dict()) == [] and list(free.parameters()) == []
    x = np.random.default_rng(0).standard_normal((3, 4, 2, 2))
    free.eval()  # without running statistics, eval still normalises with the batch's own
    out = free(ag.Tensor(x)).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-6)


def test_layer_norm_and_group_norm_gradients() -> None:
    rng = np.random.default_rng(1)
    x = ag.Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = ag.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    out = F.layer_norm(x, (4, 3), w, b)
    m, v = x.data.mean(axis=(1, 2), keepdims=True), x.data.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out.data, (x.data - m) / np.sqrt(v + 1e-5) * w.data + b.data, rtol=1e-12)
    assert ag.gradcheck(lambda x, w, b: F.layer_norm(x, (4, 3), w, b), [x, w, b])
    assert ag.gradgradcheck(lambda x, w, b: F.layer_norm(x, (4, 3), w, b), [x, w, b])
    gw, gb = (ag.Tensor(rng.standard_normal(4), requires_grad=True) for _ in range(2))
    g_out = F.group_norm(x, 2, gw, gb)
    grouped = x.data.reshape(2, 2, 6)
    ref = (grouped - grouped.mean(-1, keepdims=True)) / np.sqrt(grouped.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(g_out.data, ref.reshape(2, 4, 3) * gw.data[:, None] + gb.data[:, None], rtol=1e-12)
    assert ag.gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), [x, gw, gb])
    assert ag.gradgradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), [x, gw, gb])


def test_norm_modules_shapes_and_dtypes() -> None:
    ln = nn.LayerNorm(6, bias=False)
    assert ln.bias is None and ln.weight.shape == (6,)
    x = ag.Tensor(np.random.default_rng(2).standard_normal((3, 6)).astype(np.float32), requires_grad=True)
    for layer in (ln, nn.LayerNorm([6], elementwise_affine=False), nn.GroupNorm(3, 6), nn.BatchNorm1d(6)):
        out = layer(x)
        assert out.dtype == np.float32 and out.shape == (3, 6)
        out.sum().backward()
        assert x.grad.dtype == np.float32


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(ag.Tensor(np.zeros((1, 3))))
    with pytest.raises(ValueError, match="BatchNorm2d.*4 channels"):
        nn.BatchNorm2d(4)(ag.Tensor(np.zeros((2, 3, 2, 2))))
    with pytest.raises(ValueError, match="layer_norm.*trailing"):
        F.layer_norm(ag.Tensor(np.zeros((2, 3))), (4,))
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="group_norm.*groups"):
        F.group_norm(ag.Tensor(np.zeros((2, 6, 3))), 4)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.batch_norm(ag.Tensor(np.zeros((2, 3))), None, None, training=False)
