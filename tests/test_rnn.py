"""Recurrent cells and layers: gradients, shapes, state_dict layout, errors, long sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.engine import toposort
from nn.functional.recurrent import GATES, recurrent_sequence

CELLS = {"rnn_tanh": F.rnn_tanh_cell, "rnn_relu": F.rnn_relu_cell, "gru": F.gru_cell}


def _t(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> ag.Tensor:
    return ag.Tensor(rng.standard_normal(shape) * scale, requires_grad=True)


@settings(max_examples=15)
@given(
    mode=st.sampled_from(["rnn_tanh", "rnn_relu", "gru", "lstm"]),
    batch=st.integers(1, 3),
    n_in=st.integers(1, 3),
    hidden=st.integers(1, 3),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_cells_gradcheck(mode: str, batch: int, n_in: int, hidden: int, bias: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = GATES[mode] * hidden
    x, h, c = _t(rng, batch, n_in), _t(rng, batch, hidden), _t(rng, batch, hidden)
    w_ih, w_hh = _t(rng, g, n_in, scale=0.5), _t(rng, g, hidden, scale=0.5)
    b_ih, b_hh = (_t(rng, g), _t(rng, g)) if bias else (None, None)
    params = [p for p in (b_ih, b_hh) if p is not None]
    if mode == "lstm":

        def fn(x, h, c, w_ih, w_hh, *b):
            return F.lstm_cell(x, (h, c), w_ih, w_hh, *b)

        assert ag.gradcheck(fn, [x, h, c, w_ih, w_hh, *params])
    else:
        cell = CELLS[mode]
        assert ag.gradcheck(lambda x, h, w_ih, w_hh, *b: cell(x, h, w_ih, w_hh, *b), [x, h, w_ih, w_hh, *params])


@settings(max_examples=15)
@given(
    mode=st.sampled_from(["rnn_tanh", "rnn_relu", "gru", "lstm"]),
    steps=st.integers(1, 4),
    batch=st.integers(1, 2),
    hidden=st.integers(1, 3),
    reverse=st.booleans(),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_sequence_kernel_gradcheck(
    mode: str, steps: int, batch: int, hidden: int, reverse: bool, bias: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    g = GATES[mode] * hidden
    inputs = [_t(rng, steps, batch, g), _t(rng, batch, hidden), _t(rng, g, hidden, scale=0.5)]
    inputs.append(_t(rng, g) if bias else None)
    if mode == "lstm":
        inputs.append(_t(rng, batch, hidden))
    present = [t for t in inputs if t is not None]

    def fn(*args):
        it = iter(args)
        full = [next(it) if t is not None else None for t in inputs]
        return recurrent_sequence(mode, *full[:4], c0=full[4] if mode == "lstm" else None, reverse=reverse)

    assert ag.gradcheck(fn, present)


@pytest.mark.parametrize("mode", ["rnn_tanh", "gru", "lstm"])
def test_sequence_kernel_second_order(mode: str) -> None:
    # create_graph differentiates the recurrence again through its composed form
    rng = np.random.default_rng(1)
    g = GATES[mode] * 2
    gi, h0, w = _t(rng, 3, 2, g), _t(rng, 2, 2), _t(rng, g, 2, scale=0.5)
    c0 = _t(rng, 2, 2) if mode == "lstm" else None

    def fn(gi, h0, w):
        return recurrent_sequence(mode, gi, h0, w, None, c0=c0, reverse=True)

    assert ag.gradgradcheck(fn, [gi, h0, w])


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_module_gradcheck_multilayer_bidirectional(cls: type, float64_default: None) -> None:
    nn.manual_seed(0)
    model = cls(2, 2, num_layers=2, bidirectional=True, batch_first=True)
    rng = np.random.default_rng(0)
    x = _t(rng, 2, 3, 2)
    h0 = _t(rng, 4, 2, 2)

    def fn(x, h0, *params):  # gradcheck perturbs the parameters in place, so the model sees it
        out, state = model(x, (h0, h0 * 0.5) if cls is nn.LSTM else h0)
        return (out, *(state if isinstance(state, tuple) else (state,)))

    assert ag.gradcheck(fn, [x, h0, *model.parameters()])


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_parameter_names_shapes_and_init(cls: type) -> None:
    model = cls(3, 4, num_layers=2, bidirectional=True)
    g = {nn.RNN: 1, nn.GRU: 3, nn.LSTM: 4}[cls] * 4
    expected = []
    for layer, n_in in ((0, 3), (1, 8)):
        for sfx in ("", "_reverse"):
            expected += [
                (f"weight_ih_l{layer}{sfx}", (g, n_in)),
                (f"weight_hh_l{layer}{sfx}", (g, 4)),
                (f"bias_ih_l{layer}{sfx}", (g,)),
                (f"bias_hh_l{layer}{sfx}", (g,)),
            ]
    assert [(k, v.shape) for k, v in model.state_dict().items()] == expected
    bound = 1 / math.sqrt(4)
    values = np.concatenate([p.data.ravel() for p in model.parameters()])
    assert values.dtype == np.float32
    # U(-bound, bound): inside the bound, and spread like it (std bound/sqrt(3))
    assert np.abs(values).max() <= bound and abs(values.std() - bound / math.sqrt(3)) < 0.15 * bound


def test_no_bias_and_cells_parameter_names() -> None:
    assert list(nn.GRU(2, 3, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert list(nn.LSTMCell(2, 3).state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert nn.GRUCell(2, 3).weight_hh.shape == (9, 3)


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
@pytest.mark.parametrize("batch_first", [False, True])
def test_output_shapes_and_float32(cls: type, batch_first: bool) -> None:
    model = cls(3, 5, num_layers=3, bidirectional=True, batch_first=batch_first)
    x = np.zeros((2, 7, 3) if batch_first else (7, 2, 3), dtype=np.float32)
    out, state = model(x)
    assert out.shape == ((2, 7, 10) if batch_first else (7, 2, 10))
    states = state if isinstance(state, tuple) else (state,)
    for s in states:
        assert s.shape == (6, 2, 5) and s.dtype == np.float32
    assert out.dtype == np.float32
    unbatched_out, _ = model(x[0] if batch_first else x[:, 0])
    np.testing.assert_allclose(unbatched_out.data, out.data[0] if batch_first else out.data[:, 0], rtol=1e-5, atol=1e-6)


def test_h_n_matches_output_ends() -> None:
    model = nn.GRU(2, 3, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((5, 4, 2)).astype(np.float32)
    out, h = model(x)
    np.testing.assert_array_equal(h.data[0], out.data[-1, :, :3])  # forward direction ends at the last step
    np.testing.assert_array_equal(h.data[1], out.data[0, :, 3:])  # reverse direction ends at the first


def test_initial_state_is_used_and_gets_gradient() -> None:
    model = nn.LSTM(2, 3, num_layers=2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 1, 2)).astype(np.float32)
    h0 = ag.Tensor(rng.standard_normal((2, 1, 3)).astype(np.float32), requires_grad=True)
    c0 = ag.Tensor(rng.standard_normal((2, 1, 3)).astype(np.float32), requires_grad=True)
    out, (h, c) = model(x, (h0, c0))
    base, _ = model(x)
    assert not np.allclose(out.data, base.data)
    (out.sum() + c.sum()).backward()
    assert h0.grad is not None and np.abs(h0.grad).sum() > 0 and c0.grad.dtype == np.float32


def test_cells_match_one_step_of_layers() -> None:
    rng = np.random.default_rng(0)
    for layer_cls, cell_cls in ((nn.GRU, nn.GRUCell), (nn.LSTM, nn.LSTMCell), (nn.RNN, nn.RNNCell)):
        layer, cell = layer_cls(3, 4), cell_cls(3, 4)
        cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
        x = rng.standard_normal((1, 2, 3)).astype(np.float32)
        out, _ = layer(x)
        h = cell(x[0])
        h = h[0] if isinstance(h, tuple) else h
        np.testing.assert_allclose(h.data, out.data[0], rtol=1e-5, atol=1e-6)


def test_dropout_between_layers_only_in_training() -> None:
    nn.manual_seed(0)
    model = nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    a, _ = model(x)
    b, _ = model(x)
    assert not np.allclose(a.data, b.data)
    model.eval()
    c, _ = model(x)
    d, _ = model(x)
    np.testing.assert_array_equal(c.data, d.data)


def test_bptt_over_1000_steps() -> None:
    model = nn.LSTM(2, 4)
    head = nn.Linear(4, 1)
    x = ag.Tensor(np.random.default_rng(0).standard_normal((1000, 2, 2)).astype(np.float32), requires_grad=True)
    out, (h, _) = model(x)
    loss = head(h[-1]).sum()
    # one graph node per layer and direction, not per step: memory and time stay linear in T
    assert len(toposort([loss])) < 20
    loss.backward()
    assert np.isfinite(x.grad).all() and np.abs(x.grad[-1]).sum() > 0
    assert model.weight_hh_l0.grad.shape == (16, 4)


def test_large_inputs_stay_finite() -> None:
    model = nn.GRU(2, 3)
    x = np.full((3, 1, 2), 1e4, dtype=np.float32)
    out, h = model(x)
    out.sum().backward()
    assert np.isfinite(out.data).all() and np.isfinite(model.weight_ih_l0.grad).all()


def test_errors_name_the_layer_and_shapes() -> None:
    with pytest.raises(ValueError, match="GRU.*input of shape"):
        nn.GRU(3, 4)(np.zeros((2, 2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(1, 2, 4\)"):
        nn.LSTM(3, 4)(np.zeros((5, 2, 3), dtype=np.float32), (np.zeros((1, 3, 4)), np.zeros((1, 2, 4))))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 2, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="floating-point"):
        nn.RNN(2, 2)(np.zeros((3, 1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="gru_cell"):
        F.gru_cell(np.zeros((1, 2)), np.zeros((1, 3)), np.zeros((9, 2)), np.zeros((6, 3)))
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(2, 2, proj_size=1)


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_no_grad_inference_matches(cls: type) -> None:
    # under no_grad the kernel skips saving activations; values must not change
    model = cls(3, 4, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    out, _ = model(x)
    with ag.no_grad():
        out_ng, _ = model(x)
    assert not out_ng.requires_grad
    np.testing.assert_array_equal(out.data, out_ng.data)
