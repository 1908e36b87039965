"""Recurrent layers: `RNN`, `GRU`, `LSTM` (multi-layer, bidirectional) and `RNNCell`, `GRUCell`, `LSTMCell`.

Parameter names, shapes, gate order and initialisation are PyTorch's, so a PyTorch
`state_dict` loads one to one and gives the same outputs. Each layer and direction
computes its input projections for all time steps in one matmul, then runs its
recurrence as one op (`functional.recurrent.recurrent_sequence`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.tensor import as_tensor

from .. import _checks, init
from ..functional.dropout import dropout as _dropout
from ..functional.linear import linear
from ..functional.recurrent import GATES, gru_cell, lstm_cell, recurrent_sequence, rnn_relu_cell, rnn_tanh_cell
from ..module import Module, Parameter


class RNNBase(Module):
    """Shared machinery of `RNN`, `GRU` and `LSTM`; `mode` is 'rnn_tanh', 'rnn_relu', 'gru' or 'lstm'."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if mode not in GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}; expected one of {sorted(GATES)}")
        input_size, hidden_size, num_layers = (
            _checks.size(name, arg, v) for arg, v in
            (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers))
        )
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(
                f"{name}: input_size, hidden_size and num_layers must be positive, got "
                f"{input_size}, {hidden_size}, {num_layers}"
            )
        if not 0.0 <= dropout <= 1.0 or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        dtype = np.dtype(dtype or ag.get_default_dtype())
        gates = GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                # PyTorch's registration order: weight_ih, weight_hh, bias_ih, bias_hh per layer and direction.
                setattr(self, f"weight_ih_l{layer}{suffix}", Parameter(np.empty((gates, layer_in), dtype=dtype)))
                setattr(self, f"weight_hh_l{layer}{suffix}", Parameter(np.empty((gates, hidden_size), dtype=dtype)))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(np.empty((gates,), dtype=dtype)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(np.empty((gates,), dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer: int, suffix: str) -> tuple[Any, Any, Any, Any]:
        get = self.__dict__.get
        return (
            get(f"weight_ih_l{layer}{suffix}"),
            get(f"weight_hh_l{layer}{suffix}"),
            get(f"bias_ih_l{layer}{suffix}"),
            get(f"bias_hh_l{layer}{suffix}"),
        )

    def _initial_state(self, hx: Any, batch: int, dtype: np.dtype, unbatched: bool, what: str) -> Tensor:
        directions = 2 if self.bidirectional else 1
        shape = (self.num_layers * directions, batch, self.hidden_size)
        if hx is None:
            return Tensor(np.zeros(shape, dtype=dtype))
        h = as_tensor(hx)
        if unbatched:
            if h.shape != (shape[0], shape[2]):
                raise ValueError(
                    f"{type(self).__name__}: {what} must have shape {(shape[0], shape[2])} "
                    f"for an unbatched input, got {h.shape}"
                )
            return h[:, None, :]
        if h.shape != shape:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {shape}, got {h.shape}")
        return h

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Any]:
        """`(output, h_n)`, or for LSTM `(output, (h_n, c_n))`.

        input: (T, B, input_size), or (B, T, input_size) with `batch_first`, or (T, input_size)
        unbatched. output: (T, B, D*hidden_size) (batch first likewise); h_n, c_n:
        (num_layers*D, B, hidden_size) whatever `batch_first` says, D = 2 if bidirectional.
        """
        name = type(self).__name__
        x = _checks.layer_input(self, input)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (seq_len, batch, {self.input_size}) (or 2-d unbatched), got {x.shape}"
            )
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.swapaxes(0, 1)
        batch = x.shape[1]
        if self.mode == "lstm":
            if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{name}: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
            h0 = self._initial_state(None if hx is None else hx[0], batch, x.dtype, unbatched, "h_0")
            c0 = self._initial_state(None if hx is None else hx[1], batch, x.dtype, unbatched, "c_0")
        else:
            h0 = self._initial_state(hx, batch, x.dtype, unbatched, "hx")
            c0 = None
        directions = 2 if self.bidirectional else 1
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        n_t = x.shape[0]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = _dropout(x, self.dropout, training=True)
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, suffix)
                gi = linear(x, w_ih, b_ih)  # every step's input projection in one matmul
                seq = recurrent_sequence(
                    self.mode, gi, h0[k], w_hh, b_hh, None if c0 is None else c0[k], reverse=d == 1
                )
                if self.mode == "lstm":
                    outs.append(seq[:n_t])
                    c_n.append(seq[n_t])
                else:
                    outs.append(seq)
                h_n.append(outs[-1][0 if d == 1 else n_t - 1])
            x = outs[0] if directions == 1 else ag.concatenate(outs, axis=-1)
        h = ag.stack(h_n)
        if unbatched:
            x, h = x[:, 0, :], h[:, 0, :]
        elif self.batch_first:
            x = x.swapaxes(0, 1)
        if self.mode != "lstm":
            return x, h
        c = ag.stack(c_n)
        return x, (h, c[:, 0, :] if unbatched else c)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "rnn_relu":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: `h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)` (or ReLU), as `torch.nn.RNN`."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(
            "rnn_" + nonlinearity, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype
        )


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n) as `torch.nn.GRU`."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__("gru", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o) as `torch.nn.LSTM`; returns `(output, (h_n, c_n))`."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype: Any = None,
    ) -> None:
        if proj_size != 0:
            raise ValueError(f"LSTM: proj_size={proj_size} is not supported (only proj_size=0)")
        super().__init__("lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)


class RNNCellBase(Module):
    """One time step with parameters `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` (PyTorch's names)."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        input_size = _checks.size(type(self).__name__, "input_size", input_size)
        hidden_size = _checks.size(type(self).__name__, "hidden_size", hidden_size)
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"{type(self).__name__}: sizes must be positive, got {input_size}, {hidden_size}")
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        dtype = np.dtype(dtype or ag.get_default_dtype())
        gates = self._gates * hidden_size
        self.weight_ih = Parameter(np.empty((gates, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gates, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(np.empty((gates,), dtype=dtype))
            self.bias_hh = Parameter(np.empty((gates,), dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def _input(self, input: Any) -> Tensor:
        x = _checks.layer_input(self, input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: expected input of shape (batch, {self.input_size}) "
                f"or ({self.input_size},), got {x.shape}"
            )
        return x

    def _state(self, hx: Any, x: Tensor) -> Tensor:
        shape = x.shape[:-1] + (self.hidden_size,)
        if hx is None:
            return Tensor(np.zeros(shape, dtype=x.dtype))
        h = as_tensor(hx)
        if h.shape != shape:
            raise ValueError(
                f"{type(self).__name__}: hidden state must have shape {shape} for input {x.shape}, got {h.shape}"
            )
        return h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """`h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)` (or ReLU) for one step."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", dtype: Any = None
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x = self._input(input)
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        return cell(x, self._state(hx, x), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n)."""

    _gates = 3

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x = self._input(input)
        return gru_cell(x, self._state(hx, x), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); `forward(input, (h, c))` returns `(h', c')`."""

    _gates = 4

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        x = self._input(input)
        if hx is None:
            state = (self._state(None, x), self._state(None, x))
        elif isinstance(hx, (tuple, list)) and len(hx) == 2:
            state = (self._state(hx[0], x), self._state(hx[1], x))
        else:
            raise TypeError(f"LSTMCell: hx must be a pair (h, c) or None, got {type(hx).__name__}")
        return lstm_cell(x, state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
