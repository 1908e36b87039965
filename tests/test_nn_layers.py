"""Layers, activations, erf, dropout, embedding and nn.init: gradients, dtypes, stability, init laws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F
from nn.functional._erf import erf, erf_array, erfc, erfc_array
from nn.functional.activation import softplus_op

RNG = np.random.default_rng(1234)


def _t(shape, scale=1.0, rng=RNG):
    return ag.Tensor(rng.standard_normal(shape) * scale, requires_grad=True)


# ----------------------------------------------------------------------------- Linear
@settings(max_examples=20, deadline=None)
@given(
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    bias=st.booleans(),
)
def test_linear_gradcheck_any_batch_rank(batch, n_in, n_out, bias):
    layer = nn.Linear(n_in, n_out, bias=bias, dtype=np.float64)
    x = _t(batch + (n_in,))
    params = list(layer.parameters())
    assert ag.gradcheck(lambda x, *p: layer(x), [x, *params])


def test_linear_second_order(float64_default):
    x, w, b = _t((3, 2)), _t((4, 2)), _t((4,))
    assert ag.gradgradcheck(lambda x, w, b: F.linear(x, w, b), [x, w, b])
    assert ag.gradgradcheck(lambda x, w: F.linear(x, w), [x, w])


def test_linear_value_layout_and_dtype():
    layer = nn.Linear(3, 2)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    y = layer(x)
    np.testing.assert_allclose(y.data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-6)
    assert y.dtype == np.float32
    y.sum().backward()
    assert layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32


def test_linear_errors():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 2\)"):
        layer(np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="bias must have shape"):
        F.linear(np.zeros((1, 3)), np.zeros((2, 3)), np.zeros(3))


def test_linear_default_init_bounds():
    nn.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.97 * bound  # really spread over the whole interval
    # U(-b, b) has variance b**2 / 3
    assert abs(layer.weight.data.var() - bound**2 / 3) < 0.02 * bound**2
    assert nn.Linear(3, 2, bias=False).bias is None


# ----------------------------------------------------------------------------- activations
ACTIVATIONS = {
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "elu": lambda x: F.elu(x, 1.3),
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "tanh": F.tanh,
    "sigmoid": F.sigmoid,
    "softmax": lambda x: F.softmax(x, dim=-1),
    "log_softmax": lambda x: F.log_softmax(x, dim=0),
    "softplus": softplus_op,
    "erf": erf,
    "erfc": erfc,
}
SECOND_ORDER = ["leaky_relu", "elu", "gelu", "gelu_tanh", "silu", "softplus", "erf", "erfc", "softmax"]


def _away_from_kinks(x: ag.Tensor) -> ag.Tensor:
    # relu-like kinks at 0: keep finite differences on one side.
    x.data = np.where(np.abs(x.data) < 1e-3, 0.5, x.data)
    return x


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), scale=st.sampled_from([0.5, 2.0, 4.0]))
def test_activation_gradcheck(name, shape, scale):
    x = _away_from_kinks(_t(shape, scale))
    assert ag.gradcheck(ACTIVATIONS[name], [x])


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_activation_gradgradcheck(name):
    x = _away_from_kinks(_t((3, 4), 2.0, np.random.default_rng(7)))
    assert ag.gradgradcheck(ACTIVATIONS[name], [x])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_float32_and_large_inputs(name):
    x = ag.Tensor(np.array([[-1e30, -1e4, -50.0, 0.0, 50.0, 1e4, 1e30]], dtype=np.float32), requires_grad=True)
    y = ACTIVATIONS[name](x)
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.all(np.isfinite(y.data)) or name == "log_softmax"
    assert np.all(np.isfinite(x.grad))


def test_activation_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(F.leaky_relu(x, 0.1).data, [-0.2, -0.05, 0, 0.5, 2])
    np.testing.assert_allclose(F.elu(x, 2.0).data, np.where(x > 0, x, 2 * np.expm1(x)))
    np.testing.assert_allclose(F.silu(x).data, x / (1 + np.exp(-x)))
    phi = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(F.gelu(x).data, x * phi, rtol=1e-15, atol=1e-16)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(F.gelu(x, approximate="tanh").data, tanh_form, rtol=1e-14)
    # the exact GELU keeps relative precision deep in the negative tail
    assert F.gelu(np.array([-20.0])).data[0] == pytest.approx(-20 * 0.5 * math.erfc(20 / math.sqrt(2)), rel=1e-13)


def test_activation_modules_match_functional():
    x = RNG.standard_normal((3, 4))
    pairs = [
        (nn.ReLU(), F.relu(x)),
        (nn.LeakyReLU(0.3), F.leaky_relu(x, 0.3)),
        (nn.ELU(0.7), F.elu(x, 0.7)),
        (nn.GELU("tanh"), F.gelu(x, "tanh")),
        (nn.SiLU(), F.silu(x)),
        (nn.Tanh(), F.tanh(x)),
        (nn.Sigmoid(), F.sigmoid(x)),
        (nn.Softmax(dim=0), F.softmax(x, 0)),
        (nn.LogSoftmax(dim=1), F.log_softmax(x, 1)),
    ]
    for module, expected in pairs:
        np.testing.assert_array_equal(module(x).data, expected.data)
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).data.sum(axis=1), 1.0)


def test_activation_errors():
    with pytest.raises(TypeError, match="dim"):
        nn.Softmax()
    with pytest.raises(TypeError, match="dim"):
        F.log_softmax(np.ones(3))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(TypeError, match="floating"):
        F.relu(np.array([1, 2]))


# ----------------------------------------------------------------------------- erf
def test_erf_matches_math_erf_to_rounding():
    x = np.concatenate([np.linspace(-7, 7, 20000), -np.geomspace(1e-300, 1e-2, 300), np.geomspace(1e-300, 1e-2, 300)])
    ref = np.array([math.erf(v) for v in x])
    rel = np.abs(erf_array(x) - ref) / np.abs(ref)
    assert rel.max() < 1e-15
    xc = np.linspace(-5, 26, 20001)
    refc = np.array([math.erfc(v) for v in xc])
    assert (np.abs(erfc_array(xc) - refc) / refc).max() < 5e-15


def test_erf_special_values_and_dtype():
    out = erf_array(np.array([np.nan, np.inf, -np.inf, 0.0, 40.0]))
    assert np.isnan(out[0]) and list(out[1:]) == [1.0, -1.0, 0.0, 1.0]
    np.testing.assert_array_equal(erfc_array(np.array([np.inf, -np.inf, 40.0, -40.0])), [0.0, 2.0, 0.0, 2.0])
    assert erf_array(np.ones(3, dtype=np.float32)).dtype == np.float32


# ----------------------------------------------------------------------------- Flatten, Identity
def test_flatten_and_identity():
    x = _t((2, 3, 4, 5))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    assert ag.gradcheck(lambda x: nn.Flatten()(x), [_t((2, 3, 2))])
    assert nn.Identity(5, whatever=1)(x) is x
    with pytest.raises(ValueError, match="Flatten"):
        nn.Flatten(2, 1)(x)


# ----------------------------------------------------------------------------- Dropout
def test_dropout_statistics_scaling_and_gradient():
    nn.manual_seed(0)
    drop = nn.Dropout(0.3)
    x = ag.Tensor(np.ones((200, 500), dtype=np.float32), requires_grad=True)
    y = drop(x)
    assert y.dtype == np.float32
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # gradient is the scaled mask
    drop.eval()
    assert drop(x) is x


def test_dropout_reproducible_with_manual_seed_and_edge_probabilities():
    x = np.ones((4, 5))
    nn.manual_seed(3)
    a = F.dropout(x, 0.5).data
    nn.manual_seed(3)
    b = F.dropout(x, 0.5).data
    np.testing.assert_array_equal(a, b)
    assert np.all(F.dropout(x, 1.0).data == 0)
    np.testing.assert_array_equal(F.dropout(x, 0.0).data, x)
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).data, x)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ----------------------------------------------------------------------------- Embedding
def test_embedding_lookup_gradcheck_and_accumulation(float64_default):
    emb = nn.Embedding(5, 3)
    idx = np.array([[0, 2, 2], [4, 2, 1]])
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    assert ag.gradcheck(lambda w: emb(idx), [emb.weight])
    assert ag.gradgradcheck(lambda w: emb(idx) * emb(idx), [emb.weight])
    emb.zero_grad()
    emb(idx).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [1, 1, 3, 0, 1])


def test_embedding_padding_row_is_zero_and_gets_no_gradient():
    emb = nn.Embedding(4, 2, padding_idx=-1)
    assert emb.padding_idx == 3
    np.testing.assert_array_equal(emb.weight.data[3], 0)
    emb(np.array([3, 3, 1])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[3], 0)
    np.testing.assert_array_equal(emb.weight.grad[1], 1)


def test_embedding_init_and_errors():
    nn.manual_seed(1)
    w = nn.Embedding(1000, 50).weight.data
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01
    emb = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="out of range"):
        emb(np.array([4]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([1.0]))
    with pytest.raises(ValueError):
        nn.Embedding(4, 2, padding_idx=4)


def test_one_hot():
    out = F.one_hot(np.array([[0, 2], [1, 2]]), 4)
    assert out.dtype == np.int64 and out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.data.argmax(-1), [[0, 2], [1, 2]])
    assert F.one_hot([1, 3]).shape == (2, 4)
    with pytest.raises(IndexError):
        F.one_hot([5], 3)


# ----------------------------------------------------------------------------- nn.init
def _param(shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def test_calculate_gain_and_fans():
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert nn.init.calculate_gain("conv2d") == 1.0
    with pytest.raises(ValueError):
        nn.init.calculate_gain("swish")
    assert nn.init._calculate_fan_in_and_fan_out(_param((8, 3, 5, 5))) == (75, 200)
    with pytest.raises(ValueError, match="fewer than 2"):
        nn.init.xavier_uniform_(_param((3,)))


@pytest.mark.parametrize(
    "fn, shape, expected_std, uniform_bound",
    [
        (lambda p: nn.init.xavier_uniform_(p, gain=2.0), (300, 200), 2 * math.sqrt(2 / 500), 2 * math.sqrt(6 / 500)),
        (nn.init.xavier_normal_, (300, 200), math.sqrt(2 / 500), None),
        (
            lambda p: nn.init.kaiming_uniform_(p, nonlinearity="relu"),
            (300, 200),
            math.sqrt(2 / 200),
            math.sqrt(6 / 200),
        ),
        (
            lambda p: nn.init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu"),
            (300, 200),
            math.sqrt(2 / 300),
            None,
        ),
        (lambda p: nn.init.kaiming_normal_(p, a=0.5), (30, 20, 3, 3), math.sqrt(2 / 1.25 / 180), None),
        (lambda p: nn.init.normal_(p, 1.0, 0.5), (300, 200), 0.5, None),
        (lambda p: nn.init.uniform_(p, -3.0, 3.0), (300, 200), math.sqrt(3), 3.0),
    ],
)
def test_init_distributions(fn, shape, expected_std, uniform_bound):
    nn.manual_seed(0)
    p = _param(shape)
    ident = id(p)
    assert fn(p) is p and id(p) == ident
    assert p.dtype == np.float32 and p.shape == shape
    assert p.data.std() == pytest.approx(expected_std, rel=0.02)
    if uniform_bound is not None:
        assert np.abs(p.data).max() <= uniform_bound * (1 + 1e-6)
        assert np.abs(p.data).max() > 0.99 * uniform_bound


def test_constant_zeros_ones_eye_and_float64():
    p = _param((2, 3), np.float64)
    nn.init.constant_(p, 2.5)
    assert p.dtype == np.float64 and np.all(p.data == 2.5)
    assert np.all(nn.init.zeros_(p).data == 0) and np.all(nn.init.ones_(p).data == 1)
    np.testing.assert_array_equal(nn.init.eye_(p).data, np.eye(2, 3))
    arr = np.zeros((2, 2))
    nn.init.ones_(arr)  # plain arrays are filled in place
    assert np.all(arr == 1)
    with pytest.raises(TypeError):
        nn.init.ones_([1.0, 2.0])


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (3, 2, 2)])
def test_orthogonal(shape):
    p = _param(shape, np.float64)
    nn.init.orthogonal_(p, gain=3.0)
    flat = p.data.reshape(shape[0], -1) / 3.0
    small = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(small, np.eye(min(flat.shape)), atol=1e-12)


def test_manual_seed_makes_models_reproducible():
    nn.manual_seed(42)
    a = nn.Sequential(nn.Linear(3, 4), nn.Embedding(5, 2)).state_dict()
    nn.manual_seed(42)
    b = nn.Sequential(nn.Linear(3, 4), nn.Embedding(5, 2)).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
