"""Sequence workloads (issue 5): `rnn_step` (a GRU) and `attention_step` (multi-head self-attention).

Each factory builds the model and data once and returns a zero-argument callable that
runs one forward and backward pass (gradients cleared first, no optimizer step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

# rnn_step: GRU over T steps, batch B, input N_IN, hidden H; loss through a Linear on the last state
T, B, N_IN, H = 40, 64, 8, 128
# attention_step: batch, sequence, model width, heads of one self-attention block
A_BATCH, A_SEQ, A_DIM, A_HEADS = 16, 64, 128, 4


def _rnn_data() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((T, B, N_IN)).astype(np.float32)


def _attention_data() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((A_BATCH, A_SEQ, A_DIM)).astype(np.float32)


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


def rnn_step_ours() -> Callable[[], None]:
    import autograd_core as ag
    import nn

    return _gru_step(nn.GRU(N_IN, H), nn.Linear(H, 1), ag.Tensor(_rnn_data()))


def rnn_step_torch() -> Callable[[], None]:
    import torch

    return _gru_step(torch.nn.GRU(N_IN, H), torch.nn.Linear(H, 1), torch.from_numpy(_rnn_data()))


def attention_step_ours() -> Callable[[], None]:
    import autograd_core as ag
    import nn

    return _attention_step(nn.MultiheadAttention(A_DIM, A_HEADS, batch_first=True), ag.Tensor(_attention_data()))


def attention_step_torch() -> Callable[[], None]:
    import torch

    return _attention_step(
        torch.nn.MultiheadAttention(A_DIM, A_HEADS, batch_first=True), torch.from_numpy(_attention_data())
    )
