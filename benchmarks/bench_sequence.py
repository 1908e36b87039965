"""Sequence workloads (issue 5): `rnn_step` (a GRU) and `attention_step` (multi-head self-attention).

Each factory builds the model and data once and returns a zero-argument callable that
runs one forward and backward pass (gradients cleared first, no optimizer step). float32.

- `rnn_step`: GRU over 40 steps, batch 64, input 8, hidden 128; the loss is the sum of
  a Linear(128, 1) of the last hidden state. `tiny=True`: 3 steps, batch 2, input 2, hidden 4.
  MyGrad runs its fused `nnet.gru` (it needs numba; its candidate state applies the reset
  gate before the hidden matmul, PyTorch's after: the same products). HIPS autograd runs
  PyTorch's GRU equations in a Python loop over time, as its `examples/rnn.py` does.
- `attention_step`: self-attention on (16, 64, 128), 4 heads, batch first, the loss the
  sum of the output. `tiny=True`: (2, 4, 8), 2 heads. MyGrad and HIPS autograd write it
  as matmuls and a softmax (in-projection, scaled scores, softmax, weighted values,
  out-projection); they skip the head-averaged attention weights that `MultiheadAttention`
  also returns.

The `*_blas` factories are the BLAS floors: the same matrix products, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

# rnn_step: GRU over T steps, batch B, input N_IN, hidden H; loss through a Linear on the last state
T, B, N_IN, H = 40, 64, 8, 128
TINY_RNN = (3, 2, 2, 4)
# attention_step: batch, sequence, model width, heads of one self-attention block
A_BATCH, A_SEQ, A_DIM, A_HEADS = 16, 64, 128, 4
TINY_ATTENTION = (2, 4, 8, 2)


def _rnn_config(tiny: bool) -> tuple[int, int, int, int]:
    return TINY_RNN if tiny else (T, B, N_IN, H)


def _attention_config(tiny: bool) -> tuple[int, int, int, int]:
    return TINY_ATTENTION if tiny else (A_BATCH, A_SEQ, A_DIM, A_HEADS)


def _rnn_data(tiny: bool = False) -> np.ndarray:
    t, b, n_in, _ = _rnn_config(tiny)
    return np.random.default_rng(0).standard_normal((t, b, n_in)).astype(np.float32)


def _attention_data(tiny: bool = False) -> np.ndarray:
    batch, seq, dim, _ = _attention_config(tiny)
    return np.random.default_rng(0).standard_normal((batch, seq, dim)).astype(np.float32)


def _uniform(rng: np.random.Generator, bound: float, *shape: int) -> np.ndarray:
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def _gru_params(tiny: bool) -> dict[str, np.ndarray]:
    """PyTorch's GRU layout, transposed for `x @ W`: gates r, z, n side by side; init +-1/sqrt(H)."""
    _, _, n_in, h = _rnn_config(tiny)
    rng, bound = np.random.default_rng(1), h**-0.5
    return {"w_ih": _uniform(rng, bound, n_in, 3 * h), "w_hh": _uniform(rng, bound, h, 3 * h),
            "b_ih": _uniform(rng, bound, 3 * h), "b_hh": _uniform(rng, bound, 3 * h),
            "v": _uniform(rng, bound, h), "c": _uniform(rng, bound, 1)}


def _attention_params(tiny: bool) -> dict[str, np.ndarray]:
    """In- and out-projections for `x @ W` (Xavier-uniform weights, zero biases, as MultiheadAttention)."""
    _, _, e, _ = _attention_config(tiny)
    rng = np.random.default_rng(1)
    return {"w_in": _uniform(rng, (6 / (4 * e)) ** 0.5, e, 3 * e), "b_in": np.zeros(3 * e, np.float32),
            "w_out": _uniform(rng, e**-0.5, e, e), "b_out": np.zeros(e, np.float32)}


# The step closures work for either engine: `nn` follows `torch.nn`.
def _gru_step(gru: Any, head: Any, x: Any) -> Callable[[], None]:
    def step() -> None:
        gru.zero_grad()
        head.zero_grad()
        _, h_n = gru(x)
        head(h_n[-1]).sum().backward()

    return step


def _attention_step(mha: Any, x: Any) -> Callable[[], None]:
    def step() -> None:
        mha.zero_grad()
        out, _ = mha(x, x, x)
        out.sum().backward()

    return step


def rnn_step_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag
    import nn

    _, _, n_in, h = _rnn_config(tiny)
    return _gru_step(nn.GRU(n_in, h), nn.Linear(h, 1), ag.Tensor(_rnn_data(tiny)))


def rnn_step_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    _, _, n_in, h = _rnn_config(tiny)
    return _gru_step(torch.nn.GRU(n_in, h), torch.nn.Linear(h, 1), torch.from_numpy(_rnn_data(tiny)))


def rnn_step_mygrad(tiny: bool = False) -> Callable[[], None]:
    import mygrad as mg

    try:
        from mygrad.nnet.layers import gru
    except ImportError:  # mygrad leaves `gru` out when numba is absent
        raise ImportError("MyGrad's gru needs numba: pip install numba") from None
    x = _rnn_data(tiny)
    p = _gru_params(tiny)
    # nnet.gru takes the gates' weights one by one: (U, W, b) for z, r and the candidate h
    h = p["w_hh"].shape[0]
    r, z, n = slice(0, h), slice(h, 2 * h), slice(2 * h, 3 * h)
    weights = [mg.tensor(a) for gate in (z, r, n)
               for a in (p["w_ih"][:, gate].copy(), p["w_hh"][:, gate].copy(), p["b_ih"][gate] + p["b_hh"][gate])]
    v, c = mg.tensor(p["v"]), mg.tensor(p["c"])

    def step() -> None:  # MyGrad clears the grads when the weights enter a new graph
        states = gru(x, *weights)  # (T + 1, B, H): the initial state, then one per step
        (states[-1] @ v + c).sum().backward()

    return step


def _gru_last_state(xs: Any, p: dict, sigmoid: Callable[[Any], Any], tanh: Callable[[Any], Any]) -> Any:
    """PyTorch's GRU equations in a Python loop over time, in NumPy's API (HIPS autograd's, or NumPy's)."""
    h_size = p["w_hh"].shape[0]
    h = np.zeros((xs.shape[1], h_size), np.float32)
    for x in xs:
        gi = x @ p["w_ih"] + p["b_ih"]
        gh = h @ p["w_hh"] + p["b_hh"]
        r = sigmoid(gi[:, :h_size] + gh[:, :h_size])
        z = sigmoid(gi[:, h_size:2 * h_size] + gh[:, h_size:2 * h_size])
        n = tanh(gi[:, 2 * h_size:] + r * gh[:, 2 * h_size:])
        h = (1 - z) * n + z * h
    return h


def rnn_step_hips(tiny: bool = False) -> Callable[[], None]:
    import autograd.numpy as anp
    from autograd import grad
    from autograd.scipy.special import expit

    xs = _rnn_data(tiny)
    params = _gru_params(tiny)
    gradient = grad(lambda p: anp.sum(_gru_last_state(xs, p, expit, anp.tanh) @ p["v"] + p["c"]))

    def step() -> None:
        gradient(params)

    return step


def rnn_step_blas(tiny: bool = False) -> Callable[[], None]:
    """Input projection of all steps at once, T hidden products forward, T input-grad products
    backward, and the two weight gradients over all steps (the head's products are negligible)."""
    t, b, n_in, h = _rnn_config(tiny)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((t * b, n_in)).astype(np.float32)
    p = _gru_params(tiny)
    hs = rng.standard_normal((t * b, h)).astype(np.float32)  # hidden states
    gates = np.empty((t * b, 3 * h), np.float32)
    g_hh = rng.standard_normal((t * b, 3 * h)).astype(np.float32)  # gradients at the hidden products
    dh = np.empty((b, h), np.float32)
    dw_ih, dw_hh = np.empty_like(p["w_ih"]), np.empty_like(p["w_hh"])

    def step() -> None:
        np.matmul(x, p["w_ih"], out=gates)
        for i in range(t):
            np.matmul(hs[i * b:(i + 1) * b], p["w_hh"], out=gates[i * b:(i + 1) * b])
        for i in reversed(range(t)):
            np.matmul(g_hh[i * b:(i + 1) * b], p["w_hh"].T, out=dh)
        np.matmul(hs.T, g_hh, out=dw_hh)
        np.matmul(x.T, g_hh, out=dw_ih)

    return step


def attention_step_ours(tiny: bool = False) -> Callable[[], None]:
    import autograd_core as ag
    import nn

    _, _, dim, heads = _attention_config(tiny)
    return _attention_step(nn.MultiheadAttention(dim, heads, batch_first=True), ag.Tensor(_attention_data(tiny)))


def attention_step_torch(tiny: bool = False) -> Callable[[], None]:
    import torch

    _, _, dim, heads = _attention_config(tiny)
    return _attention_step(
        torch.nn.MultiheadAttention(dim, heads, batch_first=True), torch.from_numpy(_attention_data(tiny))
    )


def _self_attention(x: Any, p: dict, heads: int, softmax: Callable[[Any], Any]) -> Any:
    """Multi-head self-attention from matmuls, for MyGrad and HIPS autograd alike (NumPy's API)."""
    batch, seq, e = x.shape
    d = e // heads

    def split(a: Any) -> Any:  # (batch, seq, e) -> (batch, heads, seq, d)
        return a.reshape(batch, seq, heads, d).transpose((0, 2, 1, 3))

    qkv = x @ p["w_in"] + p["b_in"]
    q, k, v = split(qkv[..., :e]), split(qkv[..., e:2 * e]), split(qkv[..., 2 * e:])
    weights = softmax((q @ k.transpose((0, 1, 3, 2))) * (1.0 / d**0.5))
    out = (weights @ v).transpose((0, 2, 1, 3)).reshape(batch, seq, e)
    return out @ p["w_out"] + p["b_out"]


def attention_step_mygrad(tiny: bool = False) -> Callable[[], None]:
    import mygrad as mg
    from mygrad.nnet import softmax

    x = _attention_data(tiny)
    heads = _attention_config(tiny)[3]
    params = {k: mg.tensor(v) for k, v in _attention_params(tiny).items()}

    def step() -> None:  # MyGrad clears the grads when the parameters enter a new graph
        _self_attention(x, params, heads, softmax).sum().backward()

    return step


def attention_step_hips(tiny: bool = False) -> Callable[[], None]:
    import autograd.numpy as anp
    from autograd import grad
    from autograd.scipy.special import logsumexp

    x = _attention_data(tiny)
    heads = _attention_config(tiny)[3]
    params = _attention_params(tiny)

    def softmax(s: Any) -> Any:
        return anp.exp(s - logsumexp(s, axis=-1, keepdims=True))

    gradient = grad(lambda p: anp.sum(_self_attention(x, p, heads, softmax)))

    def step() -> None:
        gradient(params)

    return step


def attention_step_blas(tiny: bool = False) -> Callable[[], None]:
    """In-projection, scores, weighted values, out-projection; backward: two products for each
    but the in-projection, whose input needs no gradient (one product)."""
    batch, seq, e, heads = _attention_config(tiny)
    d, rows = e // heads, batch * seq
    rng = np.random.default_rng(0)

    def a(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    x, w_in, w_out = a(rows, e), a(e, 3 * e), a(e, e)
    q, k, v, probs, ctx = a(batch * heads, seq, d), a(batch * heads, seq, d), a(batch * heads, seq, d), \
        a(batch * heads, seq, seq), a(rows, e)
    g_out, g_ctx, g_probs, g_qkv = a(rows, e), a(batch * heads, seq, d), a(batch * heads, seq, seq), a(rows, 3 * e)
    products = [
        (x, w_in), (q, k.transpose(0, 2, 1)), (probs, v), (ctx, w_out),  # forward
        (ctx.T, g_out), (g_out, w_out.T),  # out-projection: weight, input
        (g_ctx, v.transpose(0, 2, 1)), (probs.transpose(0, 2, 1), g_ctx),  # weighted values: probs, v
        (g_probs, k), (g_probs.transpose(0, 2, 1), q),  # scores: q, k
        (x.T, g_qkv),  # in-projection: weight
    ]
    outs = [np.empty(left.shape[:-1] + right.shape[-1:], np.float32) for left, right in products]

    def step() -> None:
        for (left, right), out in zip(products, outs):
            np.matmul(left, right, out=out)

    return step
