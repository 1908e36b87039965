"""`ag.func.vmap`: batch rules against per-example loops and torch.func.vmap, per-sample gradients,
nesting, the per-example fallback and its warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core import Tensor
from autograd_core.vmap import vmap

rng = np.random.default_rng(0)


def _loop(fn, *args, in_dims=0):  # noqa: ANN001, ANN202 - the reference: one call per example
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    size = next(np.shape(a.data)[d] for a, d in zip(args, dims) if d is not None)
    outs = [fn(*[a if d is None else ag.moveaxis(a, d, 0)[b] for a, d in zip(args, dims)]) for b in range(size)]
    return np.stack([o.data for o in outs])


FUNCTIONS = {
    "elementwise": lambda x: np.tanh(x) * 2 + np.exp(-x) ** 2,
    "reductions": lambda x: x.sum(axis=0) + x.mean() + x.max(axis=-1, keepdims=True).sum() + x.var(),
    "softmax": lambda x: x.softmax(axis=-1) * ag.logsumexp(x, axis=0),
    "shape": lambda x: x.T.reshape(-1)[1:4] + x.swapaxes(0, 1).flatten()[:3] + ag.expand_dims(x, 0).squeeze(0)[0, :3],
    "indexing": lambda x: x[1:, ::2].sum() + x[[0, 2]].sum(axis=0)[0] + x[..., -1],
    "matmul": lambda x: x @ x.T @ np.ones(3) + np.einsum("ij,jk->ik", x, x.T).sum(axis=0),
    "joins": lambda x: (ag.concatenate([x, np.ones((3, 3))], axis=1).sum(axis=0)[:3]
                        + ag.stack([x, x], axis=-1)[0, :, 1]),
    "where": lambda x: ag.where(x > 0, x, -2 * x).sum(axis=1),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_batch_rules_equal_a_loop_over_examples(name: str) -> None:
    fn = FUNCTIONS[name]
    xs = Tensor(rng.standard_normal((5, 3, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every op here has a batch rule: no fallback
        got = vmap(fn)(xs)
    np.testing.assert_allclose(got.data, _loop(fn, xs), rtol=1e-12, atol=1e-12)


def test_in_dims_and_out_dims() -> None:
    a = Tensor(rng.standard_normal((3, 4)))
    b = Tensor(rng.standard_normal(3))
    got = vmap(lambda x, y: x * y + 1, in_dims=(1, None), out_dims=1)(a, b)
    np.testing.assert_allclose(got.data, a.data * b.data[:, None] + 1)
    with pytest.raises(ValueError, match="differ in size"):
        vmap(lambda x, y: x + y)(Tensor(np.ones(3)), Tensor(np.ones(4)))
    with pytest.raises(ValueError, match="in_dims"):
        vmap(lambda x: x, in_dims=(0, 0))(Tensor(np.ones(3)))


def test_nested_vmap_is_an_outer_product_of_batches() -> None:
    xs, ys = Tensor(rng.standard_normal((4, 3))), Tensor(rng.standard_normal((5, 3)))
    dot = vmap(vmap(lambda x, y: (x * y).sum(), in_dims=(None, 0)), in_dims=(0, None))
    np.testing.assert_allclose(dot(xs, ys).data, xs.data @ ys.data.T, rtol=1e-12)


def test_per_sample_gradients_equal_per_example_backward() -> None:
    ag.set_default_dtype(np.float64)
    try:
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    finally:
        ag.set_default_dtype(np.float32)
    x, y = Tensor(rng.standard_normal((16, 6))), Tensor(rng.integers(0, 3, 16))
    params = list(model.parameters())
    per_sample = vmap(lambda xi, yi: ag.grad(F.cross_entropy(model(xi), yi), params))(x, y)
    for k, p in enumerate(params):
        reference = []
        for i in range(16):
            model.zero_grad()
            F.cross_entropy(model(x[i]), y[i]).backward()
            reference.append(p.grad.copy())
        np.testing.assert_allclose(per_sample[k].data, np.stack(reference), rtol=1e-10, atol=1e-12)


def test_grad_of_vmap_sums_the_batch() -> None:
    w = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    xs = Tensor(rng.standard_normal((4, 3)))
    vmap(lambda x: np.tanh(w @ x).sum())(xs).sum().backward()
    batched = w.grad.copy()
    w.grad = None
    sum(np.tanh(w @ xs[i]).sum() for i in range(4)).backward()
    np.testing.assert_allclose(batched, w.grad, rtol=1e-12)


def test_ops_without_a_rule_fall_back_per_example_and_warn_once() -> None:
    xs = Tensor(rng.standard_normal((3, 4)))
    with pytest.warns(UserWarning, match="'cumsum' has no batch rule"):
        got = vmap(lambda x: ag.cumsum(x))(xs)  # axis=None flattens: no rule for that form
    np.testing.assert_allclose(got.data, np.cumsum(xs.data, axis=1))


def test_reading_values_inside_vmap_is_refused() -> None:
    with pytest.raises(RuntimeError, match="one value per example"):
        vmap(lambda x: float(x.sum()))(Tensor(np.ones((2, 3))))


def test_parity_with_torch_func_vmap() -> None:
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((4, 5, 5))
    w = rng.standard_normal((5, 2))

    def ours(x):  # noqa: ANN001, ANN202
        return (np.tanh(x @ w) ** 2).sum(axis=0)

    def theirs(x):  # noqa: ANN001, ANN202
        return (torch.tanh(x @ torch.tensor(w)) ** 2).sum(dim=0)

    for in_dim in (0, 1, 2):
        got = vmap(ours, in_dims=in_dim)(Tensor(a))
        want = torch.func.vmap(theirs, in_dims=in_dim)(torch.tensor(a))
        np.testing.assert_allclose(got.data, want.numpy(), rtol=1e-12)

    def loss_ours(p, x):  # noqa: ANN001, ANN202
        (g,) = ag.grad((np.tanh(x @ p) ** 2).sum(), p)
        return g

    p = Tensor(w, requires_grad=True)
    got = vmap(lambda x: loss_ours(p, x))(Tensor(a))
    want = torch.func.vmap(torch.func.grad(lambda q, x: (torch.tanh(x @ q) ** 2).sum()), in_dims=(None, 0))(
        torch.tensor(w), torch.tensor(a)
    )
    np.testing.assert_allclose(got.data, want.numpy(), rtol=1e-10)


def test_vmap_of_grad_over_functional_call_gives_per_sample_gradients() -> None:
    ag.set_default_dtype(np.float64)
    try:
        model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2))
    finally:
        ag.set_default_dtype(np.float32)
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = Tensor(rng.standard_normal((6, 5))), Tensor(rng.integers(0, 2, 6))

    def loss(p, xi, yi):  # noqa: ANN001, ANN202
        return F.cross_entropy(ag.func.functional_call(model, p, (xi,)), yi)

    per_sample = ag.func.vmap(ag.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for i in range(6):
        single = ag.func.grad(loss)(params, x[i], y[i])
        for name in params:
            np.testing.assert_allclose(per_sample[name].data[i], single[name].data, rtol=1e-10, atol=1e-12)


def test_nn_layers_have_batch_rules_with_per_sample_gradients() -> None:
    ag.set_default_dtype(np.float64)
    try:
        model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, 3),
                              nn.Tanh(), nn.Flatten(0), nn.LayerNorm(4), nn.Linear(4, 2))
        emb = nn.Embedding(7, 3, padding_idx=0)
    finally:
        ag.set_default_dtype(np.float32)
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = Tensor(rng.standard_normal((5, 1, 6, 6))), Tensor(rng.integers(0, 2, 5))

    def loss(p, xi, yi):  # noqa: ANN001, ANN202
        return F.cross_entropy(ag.func.functional_call(model, p, (xi,)), yi)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # conv, pooling, layer norm, linear: all batched, no per-example loop
        out = vmap(model)(x)
        per_sample = ag.func.vmap(ag.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)
        idx = Tensor(rng.integers(0, 7, (5, 4)))
        np.testing.assert_array_equal(vmap(emb)(idx).data, emb(idx).data)
    np.testing.assert_allclose(out.data, np.stack([model(x[i]).data for i in range(5)]), rtol=1e-12, atol=1e-12)
    for i in range(5):
        single = ag.func.grad(loss)(params, x[i], y[i])
        for name in params:
            np.testing.assert_allclose(per_sample[name].data[i], single[name].data, rtol=1e-10, atol=1e-12)


def test_attention_has_batch_rules_for_inference() -> None:
    ag.set_default_dtype(np.float64)
    try:
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        mha = nn.MultiheadAttention(8, 2)
    finally:
        ag.set_default_dtype(np.float32)
    x = Tensor(rng.standard_normal((4, 3, 5, 8)))
    seq = Tensor(rng.standard_normal((4, 5, 8)))
    with ag.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(vmap(layer)(x).data, np.stack([layer(x[i]).data for i in range(4)]), atol=1e-12)
        out, weights = vmap(lambda t: mha(t, t, t))(seq)
        for i in range(4):
            o, w = mha(seq[i], seq[i], seq[i])
            np.testing.assert_allclose(out.data[i], o.data, atol=1e-12)
            np.testing.assert_allclose(weights.data[i], w.data, atol=1e-12)


def test_the_per_example_fallback_keeps_every_example_of_tuple_results() -> None:
    ag.set_default_dtype(np.float64)
    try:
        mha = nn.MultiheadAttention(8, 2, batch_first=True)
    finally:
        ag.set_default_dtype(np.float32)
    x = Tensor(rng.standard_normal((3, 1, 4, 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weights that require grad are per example: the fallback runs
        out = vmap(lambda t: mha(t, t, t, need_weights=False)[0])(x)
    np.testing.assert_allclose(out.data, np.stack([mha(x[i], x[i], x[i])[0].data for i in range(3)]), atol=1e-12)
