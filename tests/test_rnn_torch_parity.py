"""Sequence models against PyTorch in float64: same state_dict, same outputs, same gradients (~1e-10)."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-10, atol=1e-10)


def _torch_copy(ours: nn.Module, theirs: torch.nn.Module) -> torch.nn.Module:
    """Load our weights into the PyTorch module (so both start from our initialisation)."""
    theirs = theirs.double()
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    return theirs


def _compare_params(ours: nn.Module, theirs: torch.nn.Module) -> None:
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, named[name].grad.numpy(), **TOL, err_msg=name)


def _loss(outputs, lib):  # a loss that weighs every output differently, so gradients are not symmetric
    total = 0
    for i, o in enumerate(outputs):
        w = np.linspace(-1, 2, int(np.prod(o.shape))).reshape(o.shape)
        total = total + ((o * (torch.from_numpy(w) if lib == "torch" else w)) ** 2).sum() * (i + 1)
    return total


@pytest.mark.parametrize(
    "cls,kw",
    [
        ("RNN", {}),
        ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
        ("GRU", {"num_layers": 2, "bidirectional": True}),
        ("GRU", {"batch_first": True, "bias": False}),
        ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
        ("LSTM", {"num_layers": 3}),
    ],
)
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_match_torch(cls: str, kw: dict, with_state: bool, float64_default: None) -> None:
    nn.manual_seed(0)
    ours = getattr(nn, cls)(3, 4, **kw)
    theirs = _torch_copy(ours, getattr(torch.nn, cls)(3, 4, **kw))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3) if kw.get("batch_first") else (5, 2, 3))
    d = (2 if kw.get("bidirectional") else 1) * kw.get("num_layers", 1)
    states = [rng.standard_normal((d, 2, 4)) for _ in range(2 if cls == "LSTM" else 1)] if with_state else []
    xa = ag.Tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    sa = [ag.Tensor(s, requires_grad=True) for s in states]
    st_ = [torch.tensor(s, requires_grad=True) for s in states]
    hx_a = (tuple(sa) if cls == "LSTM" else sa[0]) if states else None
    hx_t = (tuple(st_) if cls == "LSTM" else st_[0]) if states else None
    out_a, h_a = ours(xa, hx_a)
    out_t, h_t = theirs(xt, hx_t)
    flat_a = [out_a, *(h_a if cls == "LSTM" else (h_a,))]
    flat_t = [out_t, *(h_t if cls == "LSTM" else (h_t,))]
    for a, t in zip(flat_a, flat_t):
        np.testing.assert_allclose(a.data, t.detach().numpy(), **TOL)
    _loss(flat_a, "ours").backward()
    _loss(flat_t, "torch").backward()
    np.testing.assert_allclose(xa.grad, xt.grad.numpy(), **TOL)
    for a, t in zip(sa, st_):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), **TOL)
    _compare_params(ours, theirs)


@pytest.mark.parametrize("cls", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cells_match_torch(cls: str, float64_default: None) -> None:
    ours = getattr(nn, cls)(3, 4)
    theirs = _torch_copy(ours, getattr(torch.nn, cls)(3, 4))
    rng = np.random.default_rng(2)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    xa, xt = ag.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if cls == "LSTMCell":
        out_a = list(ours(xa, (h, c)))
        out_t = list(theirs(xt, (torch.tensor(h), torch.tensor(c))))
    else:
        out_a, out_t = [ours(xa, h)], [theirs(xt, torch.tensor(h))]
    for a, t in zip(out_a, out_t):
        np.testing.assert_allclose(a.data, t.detach().numpy(), **TOL)
    _loss(out_a, "ours").backward()
    _loss(out_t, "torch").backward()
    np.testing.assert_allclose(xa.grad, xt.grad.numpy(), **TOL)
    _compare_params(ours, theirs)


def test_torch_state_dict_loads_into_ours(float64_default: None) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True).double()
    ours = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    np.testing.assert_allclose(ours(x)[0].data, theirs(torch.tensor(x))[0].detach().numpy(), **TOL)


@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal"])
def test_sdpa_matches_torch(mask: str) -> None:
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 2))
    kw: dict = {}
    if mask == "bool":
        m = rng.random((4, 6)) < 0.6
        m[:, 0] = True
        kw["attn_mask"] = m
    elif mask == "float":
        kw["attn_mask"] = np.where(rng.random((4, 6)) < 0.3, -np.inf, rng.standard_normal((4, 6)))
    elif mask == "causal":
        kw["is_causal"] = True
    ta = [ag.Tensor(a, requires_grad=True) for a in (q, k, v)]
    tt = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out_a = F.scaled_dot_product_attention(*ta, **kw)
    out_t = torch.nn.functional.scaled_dot_product_attention(
        *tt, **{n: torch.from_numpy(m) if isinstance(m, np.ndarray) else m for n, m in kw.items()}
    )
    np.testing.assert_allclose(out_a.data, out_t.detach().numpy(), **TOL)
    _loss([out_a], "ours").backward()
    _loss([out_t], "torch").backward()
    for a, t in zip(ta, tt):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), **TOL)


@pytest.mark.parametrize(
    "kw,cross,masks,avg",
    [
        ({}, False, False, True),
        ({"batch_first": True}, False, True, True),
        ({"batch_first": True}, True, True, False),
        ({"kdim": 3, "vdim": 5}, True, False, True),
        ({"bias": False}, True, True, True),
    ],
)
def test_mha_matches_torch(kw: dict, cross: bool, masks: bool, avg: bool, float64_default: None) -> None:
    nn.manual_seed(0)
    ours = nn.MultiheadAttention(8, 2, **kw)
    theirs = _torch_copy(ours, torch.nn.MultiheadAttention(8, 2, **kw))
    rng = np.random.default_rng(4)
    n_l, n_s, n_b = 4, (5 if cross else 4), 3
    shape = (lambda n, e: (n_b, n, e)) if kw.get("batch_first") else (lambda n, e: (n, n_b, e))
    q = rng.standard_normal(shape(n_l, 8))
    k = rng.standard_normal(shape(n_s, kw.get("kdim", 8))) if cross else q
    v = rng.standard_normal(shape(n_s, kw.get("vdim", 8))) if cross else q
    extra: dict = {}
    if masks:
        kpm = rng.random((n_b, n_s)) < 0.3
        kpm[:, 0] = False
        am = rng.random((n_l, n_s)) < 0.3
        am[:, 0] = False  # key 0 stays visible: no fully masked row (PyTorch gives NaN there)
        extra = {"key_padding_mask": kpm, "attn_mask": am}
    tensors_a = [ag.Tensor(a, requires_grad=True) for a in ((q, k, v) if cross else (q,))]
    tensors_t = [torch.tensor(a, requires_grad=True) for a in ((q, k, v) if cross else (q,))]
    args_a = tensors_a if cross else tensors_a * 3
    args_t = tensors_t if cross else tensors_t * 3
    out_a, w_a = ours(*args_a, average_attn_weights=avg, **extra)
    out_t, w_t = theirs(*args_t, average_attn_weights=avg, **{n: torch.from_numpy(m) for n, m in extra.items()})
    np.testing.assert_allclose(out_a.data, out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(w_a.data, w_t.detach().numpy(), **TOL)
    _loss([out_a, w_a], "ours").backward()
    _loss([out_t, w_t], "torch").backward()
    for a, t in zip(tensors_a, tensors_t):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), **TOL)
    _compare_params(ours, theirs)


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_transformer_encoder_matches_torch(norm_first: bool, activation: str, float64_default: None) -> None:
    nn.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        8, 2, dim_feedforward=12, activation=activation, norm_first=norm_first, batch_first=True
    )
    ours = nn.TransformerEncoder(layer, num_layers=2).eval()
    t_layer = torch.nn.TransformerEncoderLayer(
        8, 2, dim_feedforward=12, activation=activation, norm_first=norm_first, batch_first=True
    )
    theirs = _torch_copy(ours, torch.nn.TransformerEncoder(t_layer, num_layers=2, enable_nested_tensor=False)).eval()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 8))
    kpm = np.array([[False, False, False, True], [False] * 4, [False, True, False, False]])
    xa, xt = ag.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_a = ours(xa, src_key_padding_mask=kpm)
    out_t = theirs(xt, src_key_padding_mask=torch.from_numpy(kpm))
    np.testing.assert_allclose(out_a.data, out_t.detach().numpy(), **TOL)
    _loss([out_a], "ours").backward()
    _loss([out_t], "torch").backward()
    np.testing.assert_allclose(xa.grad, xt.grad.numpy(), **TOL)
    _compare_params(ours, theirs)
