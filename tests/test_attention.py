"""Attention, MultiheadAttention and the Transformer encoder: gradients, masks, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F
from nn.functional.attention import masked_softmax


def _t(rng: np.random.Generator, *shape: int) -> ag.Tensor:
    return ag.Tensor(rng.standard_normal(shape), requires_grad=True)


@settings(max_examples=20)
@given(
    n_q=st.integers(1, 3),
    n_k=st.integers(1, 3),
    e=st.integers(1, 3),
    mask=st.sampled_from(["none", "bool", "float", "causal"]),
    seed=st.integers(0, 2**16),
)
def test_sdpa_gradcheck(n_q: int, n_k: int, e: int, mask: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    q, k, v = _t(rng, 2, n_q, e), _t(rng, 2, n_k, e), _t(rng, 2, n_k, 2)
    kw: dict = {}
    if mask == "bool":
        m = rng.random((n_q, n_k)) < 0.5
        m[:, 0] = True
        kw["attn_mask"] = m
    elif mask == "float":
        kw["attn_mask"] = _t(rng, n_q, n_k)  # a learned additive bias gets a gradient too
    elif mask == "causal":
        kw["is_causal"] = True
    extra = [kw["attn_mask"]] if mask == "float" else []

    def fn(q, k, v, *m):
        return F.scaled_dot_product_attention(q, k, v, **({**kw, "attn_mask": m[0]} if m else kw))

    assert ag.gradcheck(fn, [q, k, v, *extra])


def test_masked_positions_get_exactly_zero_weight() -> None:
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((2, 3, 4)) * 50
    keep = np.array([[True, False, True, False], [False, False, False, True], [True, True, True, True]])
    w = masked_softmax(scores, keep)
    assert np.all(w.data[:, ~keep] == 0.0)
    np.testing.assert_allclose(w.data.sum(-1), 1.0)
    q, k = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 4, 5))
    v = ag.Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    keep[2, 1] = False  # now no query may see key 1
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    (out * out).sum().backward()
    # a value row that no query may see gets no gradient at all
    assert np.all(v.grad[:, 1] == 0.0)


def test_fully_masked_rows_give_zeros_not_nan() -> None:
    rng = np.random.default_rng(0)
    q = ag.Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    keep = np.array([[True, True, False], [False, False, False], [True, False, False]])
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=keep)
    assert np.all(out.data[1] == 0.0) and np.isfinite(out.data).all()
    out.sum().backward()
    assert np.isfinite(q.grad).all()
    additive = np.where(keep, 0.0, -np.inf)
    out2 = F.scaled_dot_product_attention(q, q, q, attn_mask=additive)
    np.testing.assert_array_equal(out.data, out2.data)


def test_causal_mask_ignores_the_future() -> None:
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((5, 3)) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True).data
    v2 = v.copy()
    v2[3:] += 10.0  # change only future keys' values for queries 0..2
    out2 = F.scaled_dot_product_attention(q, k, v2, is_causal=True).data
    np.testing.assert_allclose(out[:3], out2[:3])
    assert not np.allclose(out[3:], out2[3:])


def test_sdpa_float32_and_scale() -> None:
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 4, 3)).astype(np.float32) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, scale=0.5)
    assert out.dtype == np.float32
    s = q @ k.transpose(0, 2, 1) * 0.5
    w = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(out.data, (w / w.sum(-1, keepdims=True)) @ v, rtol=1e-5)


def test_sdpa_errors() -> None:
    with pytest.raises(ValueError, match="scaled_dot_product_attention.*got"):
        F.scaled_dot_product_attention(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(
            np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), attn_mask=np.ones((2, 2), bool), is_causal=True
        )


@pytest.mark.parametrize("kind", ["self", "cross_kvdim", "masked"])
def test_mha_gradcheck(kind: str, float64_default: None) -> None:
    nn.manual_seed(0)
    rng = np.random.default_rng(0)
    kdim = vdim = None
    if kind == "cross_kvdim":
        kdim, vdim = 3, 2
    mha = nn.MultiheadAttention(4, 2, kdim=kdim, vdim=vdim)
    q = _t(rng, 3, 2, 4)
    k = _t(rng, 2, 2, kdim or 4) if kind == "cross_kvdim" else q
    v = _t(rng, 2, 2, vdim or 4) if kind == "cross_kvdim" else q
    kw: dict = {}
    if kind == "masked":
        kw = {
            "key_padding_mask": np.array([[False, False, True], [False, True, False]]),
            "attn_mask": np.triu(np.ones((3, 3), bool), 1),
        }
    params = list(mha.parameters())

    def fn(q, k, v, *ps):
        return mha(q, k, v, **kw)

    inputs = [q, *params] if kind != "cross_kvdim" else [q, k, v, *params]
    if kind != "cross_kvdim":
        assert ag.gradcheck(lambda q, *ps: fn(q, q, q), inputs)
    else:
        assert ag.gradcheck(fn, inputs)


def test_mha_layout_and_weights() -> None:
    mha = nn.MultiheadAttention(8, 2)
    assert [(k, v.shape) for k, v in mha.state_dict().items()] == [
        ("in_proj_weight", (24, 8)),
        ("in_proj_bias", (24,)),
        ("out_proj.weight", (8, 8)),
        ("out_proj.bias", (8,)),
    ]
    assert np.all(mha.in_proj_bias.data == 0) and np.all(mha.out_proj.bias.data == 0)
    sep = nn.MultiheadAttention(8, 2, kdim=3, vdim=5)
    assert list(sep.state_dict()) == [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ]
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    bf = nn.MultiheadAttention(8, 2, batch_first=True)
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    out, w = bf(x, x, x, key_padding_mask=kpm)
    assert out.shape == (2, 5, 8) and w.shape == (2, 5, 5) and out.dtype == np.float32
    assert np.all(w.data[1, :, 3:] == 0.0)
    np.testing.assert_allclose(w.data.sum(-1), 1.0, rtol=1e-5)
    _, w_heads = bf(x, x, x, average_attn_weights=False)
    assert w_heads.shape == (2, 2, 5, 5)
    assert bf(x, x, x, need_weights=False)[1] is None
    out_u, w_u = bf(x[0], x[0], x[0])
    assert out_u.shape == (5, 8) and w_u.shape == (5, 5)
    np.testing.assert_allclose(out_u.data, bf(x, x, x)[0].data[0], rtol=1e-5, atol=1e-6)


def test_mha_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)
    mha = nn.MultiheadAttention(4, 2)
    x = np.zeros((3, 2, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="key_padding_mask must have shape"):
        mha(x, x, x, key_padding_mask=np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="attn_mask must have shape"):
        mha(x, x, x, attn_mask=np.zeros((2, 2), bool))


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_layer_gradcheck(norm_first: bool, float64_default: None) -> None:
    nn.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, activation="gelu", norm_first=norm_first)
    x = _t(np.random.default_rng(0), 3, 2, 4)
    assert ag.gradcheck(
        lambda x, *ps: layer(x, src_key_padding_mask=np.array([[0, 0, 1], [0, 0, 0]], bool)), [x, *layer.parameters()]
    )


def test_transformer_encoder_names_and_masks() -> None:
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    enc = nn.TransformerEncoder(layer, num_layers=2)
    keys = list(enc.state_dict())
    assert keys[:4] == [
        "layers.0.self_attn.in_proj_weight",
        "layers.0.self_attn.in_proj_bias",
        "layers.0.self_attn.out_proj.weight",
        "layers.0.self_attn.out_proj.bias",
    ]
    assert "layers.1.norm2.bias" in keys and "layers.1.linear1.weight" in keys
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    enc.eval()
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    causal = np.triu(np.ones((5, 5), bool), 1)
    out = enc(x, mask=causal)
    x2 = x.copy()
    x2[:, 4] += 5.0
    out2 = enc(x2, mask=causal)  # the last position cannot change earlier outputs
    np.testing.assert_allclose(out.data[:, :4], out2.data[:, :4], rtol=1e-5, atol=1e-5)
    assert out.shape == (2, 5, 8) and out.dtype == np.float32


def test_sinusoidal_positional_encoding() -> None:
    pe = nn.sinusoidal_positional_encoding(50, 7).data
    assert pe.shape == (50, 7) and pe.dtype == np.float32
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1, 0, 1, 0], atol=1e-7)
    p, i = 13, 2
    np.testing.assert_allclose(pe[p, 2 * i], np.sin(p / 10000 ** (2 * i / 7)), rtol=1e-5)
    np.testing.assert_allclose(pe[p, 2 * i + 1], np.cos(p / 10000 ** (2 * i / 7)), rtol=1e-5)
