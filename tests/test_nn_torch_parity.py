"""Parity with PyTorch (the oracle): values and gradients of every function, state_dict transfer, init laws."""

from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = 1e-10


def _compare(ours, theirs, arrays, seed=0):
    """Run both on float64 copies of `arrays`; compare outputs and input gradients for a random cotangent."""
    ts = [ag.Tensor(a, requires_grad=True) for a in arrays]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*ts), theirs(*tt)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=TOL, atol=TOL)
    g = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for a, b in zip(ts, tt):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=TOL, atol=TOL)


RNG = np.random.default_rng(2024)
X = RNG.standard_normal((4, 6)) * 3

ACTIVATIONS = [
    (F.relu, TF.relu),
    (lambda x: F.leaky_relu(x, 0.07), lambda x: TF.leaky_relu(x, 0.07)),
    (lambda x: F.elu(x, 1.7), lambda x: TF.elu(x, 1.7)),
    (F.gelu, TF.gelu),
    (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    (F.silu, TF.silu),
    (F.tanh, torch.tanh),
    (F.sigmoid, torch.sigmoid),
    (lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1)),
    (lambda x: F.log_softmax(x, dim=0), lambda x: TF.log_softmax(x, dim=0)),
    (F.erf, torch.erf),
    (F.erfc, torch.erfc),
]


@pytest.mark.parametrize("pair", ACTIVATIONS, ids=lambda p: getattr(p[1], "__name__", "lambda"))
def test_activation_parity(pair):
    _compare(pair[0], pair[1], [X])


def test_gelu_parity_on_wide_range():
    x = np.linspace(-40, 40, 4001)
    _compare(F.gelu, TF.gelu, [x])


def test_linear_and_embedding_parity():
    x, w, b = RNG.standard_normal((2, 3, 5)), RNG.standard_normal((4, 5)), RNG.standard_normal(4)
    _compare(F.linear, TF.linear, [x, w, b])
    idx = np.array([[1, 0, 3], [3, 3, 2]])
    weight = RNG.standard_normal((5, 2))
    _compare(
        lambda w: F.embedding(idx, w, padding_idx=3),
        lambda w: TF.embedding(torch.tensor(idx), w, padding_idx=3),
        [weight],
    )


REDUCTIONS = ["none", "mean", "sum"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_loss_parity(reduction):
    x, y = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    _compare(
        lambda a, b: F.mse_loss(a, b, reduction=reduction), lambda a, b: TF.mse_loss(a, b, reduction=reduction), [x, y]
    )
    _compare(
        lambda a, b: F.l1_loss(a, b, reduction=reduction), lambda a, b: TF.l1_loss(a, b, reduction=reduction), [x, y]
    )
    _compare(
        lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=0.6),
        lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=0.6),
        [x, y],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_loss_parity(reduction, weighted):
    logits = RNG.standard_normal((6, 3)) * 10
    logits[0] = [1e4, -1e4, 0.0]
    target = RNG.uniform(0, 1, (6, 3))
    probs = RNG.uniform(0.01, 0.99, (6, 3))
    w = RNG.uniform(0.5, 2, (6, 3)) if weighted else None
    pw = RNG.uniform(0.5, 3, 3) if weighted else None
    tw = None if w is None else torch.tensor(w)
    tpw = None if pw is None else torch.tensor(pw)
    _compare(
        lambda z: F.binary_cross_entropy_with_logits(z, target, weight=w, reduction=reduction, pos_weight=pw),
        lambda z: TF.binary_cross_entropy_with_logits(
            z, torch.tensor(target), weight=tw, reduction=reduction, pos_weight=tpw
        ),
        [logits],
    )
    _compare(
        lambda p: F.binary_cross_entropy(p, target, weight=w, reduction=reduction),
        lambda p: TF.binary_cross_entropy(p, torch.tensor(target), weight=tw, reduction=reduction),
        [probs],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(7,), (8, 5), (4, 5, 3), (3, 5, 2, 2)])
def test_cross_entropy_and_nll_parity(reduction, label_smoothing, weighted, shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape) * 2
    cdim = 0 if len(shape) == 1 else 1
    tshape = shape[:cdim] + shape[cdim + 1 :]
    t = rng.integers(0, shape[cdim], tshape)
    if t.ndim:
        t.flat[::3] = 2  # ignored entries, with an ignore_index that is also a valid class
    w = rng.uniform(0.2, 3, shape[cdim]) if weighted else None
    tw = None if w is None else torch.tensor(w)
    kw = dict(ignore_index=2, reduction=reduction)
    _compare(
        lambda z: F.cross_entropy(z, t, weight=w, label_smoothing=label_smoothing, **kw),
        lambda z: TF.cross_entropy(z, torch.tensor(t), weight=tw, label_smoothing=label_smoothing, **kw),
        [x],
    )
    _compare(
        lambda z: F.nll_loss(z, t, weight=w, **kw), lambda z: TF.nll_loss(z, torch.tensor(t), weight=tw, **kw), [x]
    )
    probs = rng.dirichlet(np.ones(shape[cdim]), size=tshape)
    probs = np.moveaxis(probs, -1, cdim) if len(shape) > 1 else probs
    _compare(
        lambda z: F.cross_entropy(z, probs, weight=w, reduction=reduction, label_smoothing=label_smoothing),
        lambda z: TF.cross_entropy(
            z, torch.tensor(probs), weight=tw, reduction=reduction, label_smoothing=label_smoothing
        ),
        [x],
    )


def _torch_state(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def _torch_mlp():
    layers = [torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.Linear(8, 8), torch.nn.ELU(), torch.nn.Linear(8, 3)]
    return torch.nn.Sequential(*layers, torch.nn.LogSoftmax(dim=1)).double()


def test_load_pytorch_mlp_state_dict():
    torch.manual_seed(0)
    tm = _torch_mlp()
    ours = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8), nn.ELU(), nn.Linear(8, 3), nn.LogSoftmax(dim=1))
    state = _torch_state(tm)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in state.items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)
    assert all(p.dtype == np.float32 for p in ours.parameters())  # cast to our parameters' dtype
    ag.set_default_dtype(np.float64)
    try:
        ours64 = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8), nn.ELU(), nn.Linear(8, 3), nn.LogSoftmax(1))
    finally:
        ag.set_default_dtype(np.float32)
    ours64.load_state_dict(state)
    x = np.random.default_rng(0).standard_normal((10, 6))
    np.testing.assert_allclose(ours64(x).data, tm(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    # and back: our state_dict loads into PyTorch unchanged
    tm2 = _torch_mlp()
    tm2.load_state_dict({k: torch.tensor(v) for k, v in ours64.state_dict().items()})
    np.testing.assert_allclose(tm2(torch.tensor(x)).detach().numpy(), ours64(x).data, rtol=1e-12, atol=1e-12)


def test_load_pytorch_embedding_model():
    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 4, padding_idx=0)
            self.head = torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)])

        def forward(self, idx):
            h = self.emb(idx).mean(1)
            return self.head[1](torch.tanh(self.head[0](h)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4, padding_idx=0)
            self.head = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 2)])

        def forward(self, idx):
            h = self.emb(idx).mean(1)
            return self.head[1](ag.tanh(self.head[0](h)))

    tm = TorchNet().double()
    ours = Net()
    state = _torch_state(tm)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in state.items()}
    ours.load_state_dict(state)
    idx = np.array([[1, 2, 0], [9, 9, 3]])
    np.testing.assert_allclose(ours(idx).data, tm(torch.tensor(idx)).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_loss_module_state_dict_keys_match_pytorch():
    w = np.array([1.0, 2.0])
    pairs = [
        (nn.CrossEntropyLoss(weight=w), torch.nn.CrossEntropyLoss(weight=torch.tensor(w))),
        (nn.NLLLoss(weight=w), torch.nn.NLLLoss(weight=torch.tensor(w))),
        (nn.BCEWithLogitsLoss(pos_weight=w), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w))),
        (nn.BCELoss(), torch.nn.BCELoss()),
    ]
    for ours, theirs in pairs:
        assert list(ours.state_dict()) == list(theirs.state_dict())


def test_default_init_laws_match_pytorch():
    torch.manual_seed(0)
    nn.manual_seed(0)
    t_lin, o_lin = torch.nn.Linear(500, 400), nn.Linear(500, 400)
    for name in ("weight", "bias"):
        tv, ov = getattr(t_lin, name).detach().numpy(), getattr(o_lin, name).data
        assert abs(np.abs(ov).max() - np.abs(tv).max()) < 0.002 * np.abs(tv).max() + 1e-4
        assert np.abs(ov).max() <= 1 / math.sqrt(500)
        assert ov.std() == pytest.approx(tv.std(), rel=0.05)
    t_emb, o_emb = torch.nn.Embedding(2000, 20), nn.Embedding(2000, 20)
    assert o_emb.weight.data.std() == pytest.approx(t_emb.weight.detach().numpy().std(), rel=0.03)
    for fn, tfn in [
        (
            lambda p: nn.init.kaiming_normal_(p, mode="fan_out"),
            lambda p: torch.nn.init.kaiming_normal_(p, mode="fan_out"),
        ),
        (nn.init.xavier_uniform_, torch.nn.init.xavier_uniform_),
        (lambda p: nn.init.kaiming_uniform_(p, a=1.0), lambda p: torch.nn.init.kaiming_uniform_(p, a=1.0)),
    ]:
        p, tp = nn.Parameter(np.zeros((64, 32, 3, 3), dtype=np.float32)), torch.zeros(64, 32, 3, 3)
        fn(p)
        tfn(tp)
        assert p.data.std() == pytest.approx(tp.numpy().std(), rel=0.03)
    for name, param in [("relu", None), ("tanh", None), ("leaky_relu", 0.3), ("sigmoid", None), ("selu", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_repr_matches_pytorch():
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1), nn.Sequential(nn.Linear(4, 2, bias=False)))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.1),
        torch.nn.Sequential(torch.nn.Linear(4, 2, bias=False)),
    )
    assert repr(ours) == repr(theirs)
    for o, t in [
        (nn.Embedding(5, 2, padding_idx=1), torch.nn.Embedding(5, 2, padding_idx=1)),
        (nn.Flatten(), torch.nn.Flatten()),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.GELU("tanh"), torch.nn.GELU("tanh")),
    ]:
        assert repr(o) == repr(t)
