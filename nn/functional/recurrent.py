"""Recurrent cells (`rnn_tanh_cell`, `rnn_relu_cell`, `gru_cell`, `lstm_cell`) and whole-sequence kernels.

The cells are PyTorch's equations written with recorded autograd ops, one time step
each; they serve `RNNCell`/`GRUCell`/`LSTMCell` and second-order differentiation.

`recurrent_sequence` runs the recurrent part of one layer in one direction over all
time steps as a single recorded op. The caller computes the input projections for
every step at once (one matmul over (T*B, in)); the op then loops over time with one
fused (B, H) @ (H, G*H) matmul per step, keeping the gate activations it needs. Its
backward is one reverse loop that also gathers the weight gradients into single
matmuls. One graph node per layer means backpropagation through thousands of steps
costs memory linear in T and no per-step graph bookkeeping (stepping a cell over a
sliced input would cost a full-size gradient per slice, quadratic in T).

Gate layouts are PyTorch's: GRU rows (r, z, n), LSTM rows (i, f, g, o), with
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.tensor import as_tensor, make_result

from .. import _checks
from .linear import linear

__all__ = ["gru_cell", "lstm_cell", "recurrent_sequence", "rnn_relu_cell", "rnn_tanh_cell"]

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}


def _check_cell(name: str, x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, gates: int) -> None:
    hidden = w_hh.shape[-1] if w_hh.ndim == 2 else -1
    if w_ih.ndim != 2 or w_hh.ndim != 2 or w_hh.shape != (gates * hidden, hidden) or w_ih.shape[0] != gates * hidden:
        raise ValueError(
            f"{name}: weights must be w_ih ({gates}*hidden, input) and w_hh ({gates}*hidden, hidden), "
            f"got {w_ih.shape} and {w_hh.shape}"
        )
    if x.ndim not in (1, 2) or x.shape[-1] != w_ih.shape[1]:
        raise ValueError(
            f"{name}: input of shape {x.shape} does not match w_ih {w_ih.shape} (expected (batch, {w_ih.shape[1]}))"
        )
    if h.shape != x.shape[:-1] + (hidden,):
        raise ValueError(
            f"{name}: hidden state of shape {h.shape} does not match input {x.shape} and hidden size {hidden}"
        )


def rnn_tanh_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Tensor:
    """One Elman step: `h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`."""
    x, h, wi, wh = _checks.float_input("rnn_tanh_cell", input), *(as_tensor(a) for a in (hx, w_ih, w_hh))
    _check_cell("rnn_tanh_cell", x, h, wi, wh, 1)
    return ag.tanh(linear(x, wi, b_ih) + linear(h, wh, b_hh))


def rnn_relu_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Tensor:
    """One Elman step with ReLU: `h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)`."""
    x, h, wi, wh = _checks.float_input("rnn_relu_cell", input), *(as_tensor(a) for a in (hx, w_ih, w_hh))
    _check_cell("rnn_relu_cell", x, h, wi, wh, 1)
    return ag.relu(linear(x, wi, b_ih) + linear(h, wh, b_hh))


def gru_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Tensor:
    """One GRU step, PyTorch's equations and (r, z, n) gate order.

    r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    """
    x, h, wi, wh = _checks.float_input("gru_cell", input), *(as_tensor(a) for a in (hx, w_ih, w_hh))
    _check_cell("gru_cell", x, h, wi, wh, 3)
    n_h = h.shape[-1]
    gi, gh = linear(x, wi, b_ih), linear(h, wh, b_hh)
    rz = ag.sigmoid(gi[..., : 2 * n_h] + gh[..., : 2 * n_h])
    r, z = rz[..., :n_h], rz[..., n_h:]
    n = ag.tanh(gi[..., 2 * n_h :] + r * gh[..., 2 * n_h :])
    return n + z * (h - n)


def lstm_cell(
    input: Any, hx: tuple[Any, Any], w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None
) -> tuple[Tensor, Tensor]:
    """One LSTM step, PyTorch's (i, f, g, o) gate order; returns `(h', c')`.

    c' = f * c + i * g, h' = o * tanh(c'), with i, f, o sigmoids and g a tanh of
    `x W_ih^T + b_ih + h W_hh^T + b_hh`.
    """
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"lstm_cell: hx must be a pair (h, c), got {type(hx).__name__}")
    x = _checks.float_input("lstm_cell", input)
    h, c, wi, wh = (as_tensor(a) for a in (hx[0], hx[1], w_ih, w_hh))
    _check_cell("lstm_cell", x, h, wi, wh, 4)
    if c.shape != h.shape:
        raise ValueError(f"lstm_cell: cell state of shape {c.shape} does not match hidden state {h.shape}")
    n_h = h.shape[-1]
    gates = linear(x, wi, b_ih) + linear(h, wh, b_hh)
    i_f = ag.sigmoid(gates[..., : 2 * n_h])
    g = ag.tanh(gates[..., 2 * n_h : 3 * n_h])
    o = ag.sigmoid(gates[..., 3 * n_h :])
    c_new = i_f[..., n_h:] * c + i_f[..., :n_h] * g
    return o * ag.tanh(c_new), c_new


# ------------------------------------------------------------------ whole-sequence kernel
# The loops below write into preallocated buffers (`out=`): at these sizes a NumPy
# temporary costs as much as the arithmetic, and the gate matmul is the only real work.
def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """In-place logistic function via tanh (no exp, so no overflow for large |a|)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _previous(first: np.ndarray, states: np.ndarray, order: list[int]) -> np.ndarray:
    """prev[t]: the state step t started from (`first` for the first step in `order`)."""
    prev = np.empty_like(states)
    prev[order[0]] = first
    for a, b in zip(order[:-1], order[1:]):
        prev[b] = states[a]
    return prev


def _gru_forward(
    gi: np.ndarray, h: np.ndarray, w_t: np.ndarray, b: Any, order: list[int], hs: np.ndarray, need_grad: bool
) -> tuple:
    """GRU steps. With `need_grad` it also stores each step's local derivatives while the step's
    arrays are still in cache (cheaper than recomputing them from saved activations later)."""
    n_h = h.shape[-1]
    gh = np.empty(gi.shape[1:], dtype=gi.dtype)
    n, diff, tmp = (np.empty_like(h) for _ in range(3))
    step_rz = np.empty(gi.shape[1:2] + (2 * n_h,), dtype=gi.dtype)
    saved: dict[str, np.ndarray] = {}
    if need_grad:
        saved = {"rz": np.empty(gi.shape[:2] + (2 * n_h,), dtype=gi.dtype)}
        saved.update((k, np.empty_like(hs)) for k in ("n", "r", "z"))
    for t in order:
        np.matmul(h, w_t, out=gh)
        if b is not None:
            gh += b
        hn = gh[:, 2 * n_h :]
        rz = saved["rz"][t] if need_grad else step_rz
        _sigmoid_(np.add(gh[:, : 2 * n_h], gi[t, :, : 2 * n_h], out=rz))
        r, z = rz[:, :n_h], rz[:, n_h:]
        np.multiply(r, hn, out=n)
        n += gi[t, :, 2 * n_h :]
        np.tanh(n, out=n)
        np.subtract(h, n, out=diff)  # h' = n + z * (h - n)
        h_new = np.multiply(diff, z, out=hs[t])
        h_new += n
        if need_grad:
            f_n, f_r, f_z = saved["n"][t], saved["r"][t], saved["z"][t]
            np.subtract(1, z, out=tmp)
            np.multiply(tmp, z, out=f_z)
            f_z *= diff  # dh'/d(z pre-activation) = (h - n) z (1 - z)
            np.multiply(n, n, out=f_n)
            np.subtract(1, f_n, out=f_n)
            f_n *= tmp  # dh'/d(n pre-activation) = (1 - z)(1 - n^2)
            np.subtract(1, r, out=f_r)
            f_r *= r
            f_r *= hn  # d(n pre-activation)/d(r pre-activation) = (W_hn h + b_hn) r (1 - r)
        h = h_new
    return hs, saved, None


def _forward(
    mode: str, gi: np.ndarray, h: np.ndarray, c: Any, w_hh: np.ndarray, b: Any, order: list[int], need_grad: bool
) -> tuple:
    """The recurrence in NumPy: returns (all hidden states, saved activations, final cell state)."""
    n_h = h.shape[-1]
    w_t = np.ascontiguousarray(w_hh.T)  # (H, G*H): h @ w_t is the fused gate matmul
    hs = np.empty(gi.shape[:2] + (n_h,), dtype=gi.dtype)
    if mode == "gru":
        return _gru_forward(gi, h, w_t, b, order, hs, need_grad)
    gh = np.empty(gi.shape[1:], dtype=gi.dtype)
    saved: dict[str, np.ndarray] = {}
    if mode == "lstm":
        saved = {"gates": np.empty_like(gi), "c": np.empty_like(hs), "tc": np.empty_like(hs)}
    for t in order:
        np.matmul(h, w_t, out=gh)
        if b is not None:
            gh += b
        h_new = hs[t]
        if mode == "lstm":
            a = np.add(gh, gi[t], out=saved["gates"][t])
            _sigmoid_(a[:, : 2 * n_h])
            np.tanh(a[:, 2 * n_h : 3 * n_h], out=a[:, 2 * n_h : 3 * n_h])
            _sigmoid_(a[:, 3 * n_h :])
            c_new = np.multiply(a[:, n_h : 2 * n_h], c, out=saved["c"][t])
            c_new += a[:, :n_h] * a[:, 2 * n_h : 3 * n_h]
            np.multiply(a[:, 3 * n_h :], np.tanh(c_new, out=saved["tc"][t]), out=h_new)
            c = c_new
        else:
            gh += gi[t]
            np.tanh(gh, out=h_new) if mode == "rnn_tanh" else np.maximum(gh, 0, out=h_new)
        h = h_new
    return hs, saved, c


def _local_factors(mode: str, hs: np.ndarray, prev: np.ndarray, saved: dict, c_prev: Any) -> dict[str, np.ndarray]:
    """Each step's local derivatives, computed for all steps at once (whole-array NumPy, no loop).

    What is left for the reverse loop is a few multiplications by dh (and dc) per step.
    """
    n_h = hs.shape[-1]
    if mode == "gru":  # stored by the forward loop
        return {"n": saved["n"], "r": saved["r"], "z": saved["z"]}
    if mode == "lstm":
        a, tc = saved["gates"], saved["tc"]
        i, f, g, o = a[..., :n_h], a[..., n_h : 2 * n_h], a[..., 2 * n_h : 3 * n_h], a[..., 3 * n_h :]
        return {
            "c": o * (1 - tc * tc),  # dh / dc through h = o * tanh(c)
            "i": g * i * (1 - i),
            "f": c_prev * f * (1 - f),
            "g": i * (1 - g * g),
            "o": tc * o * (1 - o),
        }
    return {"a": 1 - hs * hs if mode == "rnn_tanh" else (hs > 0).astype(hs.dtype)}


def _backward(
    mode: str, g: np.ndarray, hs: np.ndarray, saved: dict, h0: np.ndarray, c0: Any, w_hh: np.ndarray, order: list[int]
) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray, np.ndarray]:
    """Reverse loop: gradients for (gi, h0, c0, w_hh, b_hh) from the output gradient `g`."""
    n_h = hs.shape[-1]
    prev = _previous(h0, hs, order)
    c_prev = _previous(c0, saved["c"], order) if mode == "lstm" else None
    fac = _local_factors(mode, hs, prev, saved, c_prev)
    # dgh[t]: gradient of step t's recurrent pre-activation h W_hh^T + b_hh. For GRU the
    # n gate differs between the input side (dgi) and the recurrent side (r * ...).
    dgh = np.empty(hs.shape[:2] + (w_hh.shape[0],), dtype=hs.dtype)
    dgi = np.empty_like(dgh) if mode == "gru" else dgh
    dh = np.zeros_like(h0)
    back = np.empty_like(h0)
    dc = np.array(g[hs.shape[0]]) if mode == "lstm" else None
    for t in reversed(order):
        dh += g[t]
        if mode == "gru":
            d = dgi[t]
            dan = np.multiply(dh, fac["n"][t], out=d[:, 2 * n_h :])
            np.multiply(dan, fac["r"][t], out=d[:, :n_h])
            np.multiply(dh, fac["z"][t], out=d[:, n_h : 2 * n_h])
            dgh[t, :, : 2 * n_h] = d[:, : 2 * n_h]
            np.multiply(dan, saved["rz"][t, :, :n_h], out=dgh[t, :, 2 * n_h :])
            dh *= saved["rz"][t, :, n_h:]  # h' = n + z * (h - n): the direct path
        elif mode == "lstm":
            d = dgh[t]
            np.multiply(dh, fac["c"][t], out=back)
            dc += back
            for k, gate in enumerate("ifg"):
                np.multiply(dc, fac[gate][t], out=d[:, k * n_h : (k + 1) * n_h])
            np.multiply(dh, fac["o"][t], out=d[:, 3 * n_h :])
            dc *= saved["gates"][t, :, n_h : 2 * n_h]  # c = f * c_prev + ...
            dh[...] = 0
        else:
            np.multiply(dh, fac["a"][t], out=dgh[t])
            dh[...] = 0
        dh += np.matmul(dgh[t], w_hh, out=back)
    flat = dgh.reshape(-1, dgh.shape[-1])
    dw = flat.T @ prev.reshape(-1, n_h)
    return dgi, dh, dc, dw, flat.sum(axis=0)


def _composed(mode: str, gi: Any, h0: Any, c0: Any, w_hh: Any, b_hh: Any, steps: list[int]) -> Tensor:
    """The same recurrence built from recorded ops, used only under `create_graph=True`.

    Slicing `gi` per step makes this graph's own backward cost O(T^2); second-order
    gradients through recurrences are meant for short sequences.
    """
    n_h = h0.shape[-1]
    outs: list[Any] = [None] * gi.shape[0]
    h, c = h0, c0
    for t in steps:
        x = gi[t]
        if mode == "lstm":
            gates = x + linear(h, w_hh, b_hh)
            i, f, o = ag.sigmoid(gates[:, :n_h]), ag.sigmoid(gates[:, n_h : 2 * n_h]), ag.sigmoid(gates[:, 3 * n_h :])
            c = f * c + i * ag.tanh(gates[:, 2 * n_h : 3 * n_h])
            h = o * ag.tanh(c)
        elif mode == "gru":
            gh = linear(h, w_hh, b_hh)
            rz = ag.sigmoid(x[:, : 2 * n_h] + gh[:, : 2 * n_h])
            n = ag.tanh(x[:, 2 * n_h :] + rz[:, :n_h] * gh[:, 2 * n_h :])
            h = n + rz[:, n_h:] * (h - n)
        else:
            a = x + linear(h, w_hh, b_hh)
            h = ag.tanh(a) if mode == "rnn_tanh" else ag.relu(a)
        outs[t] = h
    if mode == "lstm":
        outs.append(c)
    return ag.stack(outs)


def recurrent_sequence(
    mode: str, gi: Any, h0: Any, w_hh: Any, b_hh: Any = None, c0: Any = None, reverse: bool = False
) -> Tensor:
    """Run one layer's recurrence over all steps as one recorded op.

    `gi` (T, B, G*H) holds the input projections `x W_ih^T + b_ih` for every step, `h0`
    (B, H) the initial state, `w_hh` (G*H, H) and `b_hh` (G*H,) the recurrent weights;
    G is 1 for 'rnn_tanh'/'rnn_relu', 3 for 'gru', 4 for 'lstm' (which also takes `c0`).
    `reverse=True` runs from the last step to the first (the backward direction of a
    bidirectional layer); outputs stay aligned with the input steps. Returns the hidden
    states (T, B, H); for 'lstm' a (T + 1, B, H) array whose last row is the final cell state.
    """
    if mode not in GATES:
        raise ValueError(f"recurrent_sequence: mode must be one of {sorted(GATES)}, got {mode!r}")
    gi, h0, w_hh = as_tensor(gi), as_tensor(h0), as_tensor(w_hh)
    n_h = h0.shape[-1] if h0.ndim == 2 else -1
    if (
        gi.ndim != 3
        or h0.shape != (gi.shape[1], n_h)
        or w_hh.shape != (GATES[mode] * n_h, n_h)
        or gi.shape[2] != w_hh.shape[0]
    ):
        raise ValueError(
            f"recurrent_sequence({mode}): expected gi (T, B, {GATES[mode]}*H), h0 (B, H), w_hh ({GATES[mode]}*H, H); "
            f"got {gi.shape}, {h0.shape}, {w_hh.shape}"
        )
    if gi.shape[0] == 0:
        raise ValueError(f"recurrent_sequence({mode}): the sequence has no time steps (gi shape {gi.shape})")
    parents = [gi, h0, w_hh]
    names = ["gi", "h0", "w_hh"]
    if b_hh is not None:
        parents.append(as_tensor(b_hh))
        names.append("b_hh")
    if mode == "lstm":
        if c0 is None:
            raise ValueError("recurrent_sequence(lstm): c0 is required")
        parents.append(as_tensor(c0))
        names.append("c0")
        if parents[-1].shape != h0.shape:
            raise ValueError(f"recurrent_sequence(lstm): c0 of shape {parents[-1].shape} does not match h0 {h0.shape}")
    steps = list(range(gi.shape[0] - 1, -1, -1) if reverse else range(gi.shape[0]))
    dtype = np.result_type(*(p.data for p in parents))
    arrays = {n: p.data.astype(dtype, copy=False) for n, p in zip(names, parents)}
    c_arr = arrays.get("c0")
    need_grad = ag.is_grad_enabled() and any(p.requires_grad for p in parents)
    hs, saved, c_last = _forward(
        mode, arrays["gi"], arrays["h0"], c_arr, arrays["w_hh"], arrays.get("b_hh"), steps, need_grad
    )
    data = np.concatenate([hs, c_last[None]]) if mode == "lstm" else hs

    cache: dict[str, Any] = {}

    def grads(g: Any, *args: Any) -> dict[str, Any]:
        if cache.get("g") is not g:  # one reverse loop serves every parent's vjp
            if isinstance(g, Tensor):  # create_graph: differentiate the composed recurrence again
                kw = dict(zip(names, args))
                wanted = [n for n, a in kw.items() if a.requires_grad]
                out = _composed(mode, kw["gi"], kw["h0"], kw.get("c0"), kw["w_hh"], kw.get("b_hh"), steps)
                found = ag.grad(out, [kw[n] for n in wanted], g, create_graph=True, allow_unused=True)
                result = dict(zip(wanted, found))
            else:
                result = dict(
                    zip(
                        ("gi", "h0", "c0", "w_hh", "b_hh"),
                        _backward(mode, g, hs, saved, arrays["h0"], c_arr, arrays["w_hh"], steps),
                    )
                )
            cache.clear()
            cache.update(g=g, result=result)
        return cache["result"]

    def vjp_for(name: str) -> Any:
        return lambda g, y, *args: grads(g, *args)[name]

    return make_result(data, mode + "_sequence", tuple(parents), tuple(vjp_for(n) for n in names))
