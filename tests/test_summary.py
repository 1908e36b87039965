"""nn.summary: per-layer output shapes, parameter counts and activation memory, checked against hand counts."""

from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_core as ag
import nn


class Twice(nn.Module):
    """One Linear registered under two names and called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.alias = self.lin
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.lin(self.lin(x)).relu())


class Unrolled(nn.Module):
    """A recurrent cell applied once per time step."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.RNNCell(3, 5)
        self.out = nn.Linear(5, 1)

    def forward(self, x):  # x: (T, N, 3)
        h = None
        for t in range(x.shape[0]):
            h = self.cell(x[t], h)
        return self.out(h)


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 6), nn.Tanh())
        self.scale = nn.Parameter(np.ones(6))

    def forward(self, x):
        return x + self.body(x) * self.scale


def test_sequential_with_batchnorm_and_a_frozen_layer(float64_default):
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    model[2].requires_grad_(False)
    model[1].eval()  # a mixed mode, which summary must leave as it found it
    stats = {k: v.copy() for k, v in model.state_dict().items()}
    state = nn.init.generator().bit_generator.state

    s = nn.summary(model, np.zeros((5, 4)), mode="train")

    # Hand counts: Linear(4, 8) 4*8+8 = 40, BatchNorm1d(8) 8+8 = 16, Linear(8, 2) 8*2+2 = 18 (frozen).
    assert (s.total_params, s.trainable_params, s.frozen_params) == (74, 56, 18)
    assert s.param_bytes == 74 * 8
    assert s.buffer_bytes == (8 + 8) * 8 + 8  # running mean, var (float64) and num_batches_tracked (int64)
    assert [r.name for r in s.rows] == ["", "0", "1", "2"]
    assert [r.depth for r in s.rows] == [0, 1, 1, 1]
    assert [r.params for r in s.rows] == [74, 40, 16, 18]
    assert [r.frozen for r in s.rows] == [18, 0, 0, 18]
    assert [r.output_shape for r in s.rows] == [(5, 2), (5, 8), (5, 8), (5, 2)]
    assert s["1"].type == "BatchNorm1d" and s["2"].trainable == 0
    assert s.input_shapes == [(5, 4)] and s.output_shape == (5, 2)
    # Nothing changed: modes, buffers, gradients, the random generator.
    assert [m.training for m in model] == [True, False, True]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, stats[k])
    assert all(p.grad is None for p in model.parameters())
    assert nn.init.generator().bit_generator.state == state

    text = str(s)
    assert "Sequential" in text.splitlines()[3]
    assert "  0 (Linear)" in text and "  1 (BatchNorm1d)" in text and "  2 (Linear)" in text
    assert "Total params: 74" in text and "Trainable params: 56" in text and "Frozen params: 18" in text
    row = next(line for line in text.splitlines() if "2 (Linear)" in line)
    assert re.split(r"\s{2,}", row.strip()) == ["2 (Linear)", "[5, 2]", "18", "18", "320 B"]
    assert repr(s) == text


def test_nested_module_rows_are_indented_and_count_their_children(float64_default):
    model = nn.Sequential(Block(), nn.Linear(6, 2))
    s = nn.summary(model, np.ones((3, 6)))
    assert [(r.name, r.depth, r.params) for r in s.rows] == [
        ("", 0, 42 + 6 + 14), ("0", 1, 42 + 6), ("0.body", 2, 42), ("0.body.0", 3, 42), ("0.body.1", 3, 0),
        ("1", 1, 14),
    ]
    text = str(s)
    assert "\n      0.body.0 (Linear)" in text
    assert "0.body" not in str(nn.summary(model, np.ones((3, 6)), depth=1))  # depth limits the printed rows


def test_shared_module_is_counted_once_and_marked(float64_default):
    model = Twice()
    s = nn.summary(model, np.ones((3, 4)))
    assert s.total_params == 20 + 10  # the shared Linear(4, 4) once
    assert [r.name for r in s.rows] == ["", "lin", "head"]
    lin = s["lin"]
    assert s["alias"] is lin and lin.aliases == ("alias",) and lin.calls == 2 and lin.shared
    assert lin.params == 20 and lin.output_shape == (3, 4)
    text = str(s)
    assert "shared: also alias" in text and "x2 calls" in text


def test_recurrent_modules(float64_default):
    s = nn.summary(Unrolled(), np.ones((7, 2, 3)))
    # RNNCell(3, 5): weight_ih 5*3, weight_hh 5*5, two biases of 5 -> 50; Linear(5, 1) -> 6.
    assert s.total_params == 56 and s["cell"].params == 50
    assert s["cell"].calls == 7 and "x7 calls" in str(s)
    assert s["cell"].output_shape == (2, 5)

    rnn = nn.RNN(4, 8, num_layers=2)
    s = nn.summary(rnn, np.ones((6, 3, 4)))
    # layer 0: 8*4 + 8*8 + 8 + 8 = 112; layer 1: 8*8 + 8*8 + 8 + 8 = 144.
    assert s.total_params == 256 == sum(p.size for p in rnn.parameters())
    assert s.output_shape == ((6, 3, 8), (2, 3, 8))
    assert "[6, 3, 8], [2, 3, 8]" in str(s)
    assert s.activation_bytes > 0


def test_activation_bytes_by_hand(float64_default):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    s = nn.summary(model, np.ones((5, 4)))
    # Linear keeps its input x (5x4 float64 = 160 B; weight and bias are parameters, not counted);
    # ReLU keeps its input, the Linear's output (5x3 = 120 B); the final output is kept by no op.
    assert [r.activation_bytes for r in s.rows] == [0, 160, 120]
    assert s.activation_bytes == 280
    assert "Activations kept for backward: 280 B" in str(s)

    # Memory is counted, not array objects: a slice of a bigger input counts for the slice only.
    assert [r.activation_bytes for r in nn.summary(model, np.ones((100, 4))[:5]).rows] == [0, 160, 120]

    # Dropout in training keeps its input and its mask (120 + 120); in eval mode it is the identity.
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))
    assert [r.activation_bytes for r in nn.summary(model, np.ones((5, 4))).rows] == [0, 160, 240]
    assert [r.activation_bytes for r in nn.summary(model, np.ones((5, 4)), mode="eval").rows] == [0, 160, 0]
    assert model.training

    # One array kept by two ops counts once, for the first: Block's input is kept by the Linear
    # (x @ W.T) and by the residual add; the add is charged only for the product it keeps.
    model = Block()
    s = nn.summary(model, np.ones((3, 6)))
    # body.0 keeps x (144 B); body.1 (tanh) keeps the Linear's output (144 B); Block's own ops: the
    # product keeps tanh's output (144 B; scale is a parameter), the add keeps the product (144 B).
    assert [r.activation_bytes for r in s.rows] == [288, 0, 144, 144]

    # A view and its base count once: the reshape, tanh(view) and tanh(h) all keep h's 120 B.
    class Alias(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, x):
            h = self.lin(x)
            return h.reshape(-1).tanh().sum() + h.tanh().sum()

    s = nn.summary(Alias(), np.ones((5, 4)))
    # Alias's own ops keep h once (120 B), the two tanh outputs (120 B each, kept by the sums) and
    # the two sums (8 B each, kept by the add).
    assert [r.activation_bytes for r in s.rows] == [120 + 2 * 120 + 2 * 8, 160]

    # A frozen model on plain inputs records nothing, so it keeps nothing.
    frozen = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).requires_grad_(False)
    assert nn.summary(frozen, np.ones((5, 4))).activation_bytes == 0


def test_summary_argument_errors_and_kwargs():
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="example inputs"):
        nn.summary(model)
    with pytest.raises(ValueError, match="mode"):
        nn.summary(model, np.ones((1, 2), np.float32), mode="test")
    with pytest.raises(TypeError, match="nn.Module"):
        nn.summary(lambda x: x, np.ones(2))

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 3)

        def forward(self, x, scale=1.0):
            return self.lin(x) * scale

    s = nn.summary(Scaled(), ag.Tensor(np.ones((4, 2), np.float32)), scale=2.0)
    assert s.output_shape == (4, 3) and s.total_params == 9
    assert Scaled()._module_hooks is None and s.rows[0].calls == 1
