"""`MultiheadAttention` with PyTorch's parameter layout (`in_proj_weight`, `in_proj_bias`, `out_proj`)."""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from .. import _checks, init
from ..functional.attention import multi_head_attention_forward
from ..module import Module, Parameter
from .linear import Linear


class NonDynamicallyQuantizableLinear(Linear):
    """A `Linear` under PyTorch's name for MultiheadAttention's `out_proj` (same keys and behaviour)."""


class MultiheadAttention(Module):
    """Multi-head attention as `torch.nn.MultiheadAttention`.

    Parameters: `in_proj_weight` (3E, E) and `in_proj_bias` (3E,) when key and value have
    the embedding size; otherwise `q_proj_weight` (E, E), `k_proj_weight` (E, kdim),
    `v_proj_weight` (E, vdim). `out_proj` is a Linear(E, E). Boolean masks mark
    positions to ignore with True; float masks are added to the scores. A query with
    every key masked gets zero weights and output (see `nn.functional.attention`).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        embed_dim = _checks.size("MultiheadAttention", "embed_dim", embed_dim)
        num_heads = _checks.size("MultiheadAttention", "num_heads", num_heads)
        _checks.number("MultiheadAttention", "dropout", dropout, low=0.0, high=1.0)
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be positive and divisible by num_heads ({num_heads})"
            )
        if add_bias_kv or add_zero_attn:
            raise ValueError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.dropout = int(embed_dim), int(num_heads), float(dropout)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.head_dim = self.embed_dim // self.num_heads
        self.batch_first = bool(batch_first)
        dtype = np.dtype(dtype or ag.get_default_dtype())
        e = self.embed_dim
        # PyTorch's registration order: in_proj_weight, q/k/v_proj_weight, in_proj_bias, out_proj.
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dtype=dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(np.empty((e, e), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(np.empty((3 * e,), dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(e, e, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections and zero biases, as PyTorch (out_proj.weight keeps Linear's init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """`(output, weights)`: output (L, B, E) ((B, L, E) with `batch_first`, (L, E) unbatched).

        key_padding_mask (B, S): True (or -inf) marks padding keys. attn_mask (L, S) or
        (B*num_heads, L, S): True (or -inf) forbids a query-key pair. `is_causal` without
        `attn_mask` masks future keys; with one it is a hint that `attn_mask` is causal.
        weights: (B, L, S) averaged over heads, or (B, num_heads, L, S) with
        `average_attn_weights=False`; None when `need_weights=False`.
        """
        q, k, v = (_checks.layer_input(self, a, n) for n, a in (("query", query), ("key", key), ("value", value)))
        if self.batch_first and q.ndim == 3:  # views: the functional flattens them without a copy
            q, k, v = q.swapaxes(0, 1), k.swapaxes(0, 1), v.swapaxes(0, 1)
        out, weights = multi_head_attention_forward(
            q,
            k,
            v,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            None,
            None,
            False,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and q.ndim == 3:
            out = out.swapaxes(0, 1)
        return out, weights

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        return s + (", batch_first=True" if self.batch_first else "")
