"""`TransformerEncoderLayer`, `TransformerEncoder` (PyTorch's submodule names) and a sinusoidal positional encoding."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from .. import _checks
from ..containers import ModuleList
from ..functional.activation import gelu, relu
from ..module import Module
from .attention import MultiheadAttention
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm


def sinusoidal_positional_encoding(seq_len: int, d_model: int, dtype: Any = None) -> Tensor:
    """The (seq_len, d_model) table of "Attention Is All You Need": sin on even features, cos on odd.

    PE[p, 2i] = sin(p / 10000^(2i/d_model)), PE[p, 2i+1] = cos(p / 10000^(2i/d_model)).
    A constant (no gradient) in the default float dtype; add `pe[:L]` to (L, B, d) or
    `pe[:L][None]` to batch-first embeddings.
    """
    if seq_len < 0 or d_model <= 0:
        raise ValueError(f"sinusoidal_positional_encoding: need seq_len >= 0 and d_model > 0, got {seq_len}, {d_model}")
    position = np.arange(seq_len, dtype=np.float64)[:, None]
    freq = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    pe = np.zeros((seq_len, d_model))
    pe[:, 0::2] = np.sin(position * freq)
    pe[:, 1::2] = np.cos(position * freq[: d_model // 2])
    return Tensor(pe.astype(dtype or ag.get_default_dtype()))


_ACTIVATIONS: dict[str, Callable[[Any], Tensor]] = {"relu": relu, "gelu": gelu}


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual and LayerNorm, as PyTorch.

    Post-norm (default): x = norm1(x + sa(x)); x = norm2(x + ff(x)). With `norm_first`:
    x = x + sa(norm1(x)); x = x + ff(norm2(x)). Submodules: self_attn, linear1, dropout,
    linear2, norm1, norm2, dropout1, dropout2 (PyTorch's state_dict keys).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Any], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        _checks.size("TransformerEncoderLayer", "d_model", d_model, minimum=1)
        _checks.size("TransformerEncoderLayer", "nhead", nhead, minimum=1)
        _checks.size("TransformerEncoderLayer", "dim_feedforward", dim_feedforward, minimum=1)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"TransformerEncoderLayer: activation should be 'relu' or 'gelu', not {activation!r}")
            activation = _ACTIVATIONS[activation]
        self.activation = activation
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.batch_first = bool(batch_first)

    def forward(
        self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False
    ) -> Tensor:
        """src (S, B, d_model), or (B, S, d_model) with batch_first; masks as MultiheadAttention's."""
        x = _checks.layer_input(self, src)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        out = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(out)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """`num_layers` independent copies of `encoder_layer` (keys layers.0..., as PyTorch), then optional `norm`."""

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        if num_layers <= 0:
            raise ValueError(f"TransformerEncoder: num_layers must be positive, got {num_layers}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(
        self, src: Any, mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool | None = None
    ) -> Tensor:
        x = _checks.layer_input(self, src)
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x
