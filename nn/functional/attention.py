"""Attention: `scaled_dot_product_attention` and `multi_head_attention_forward` (PyTorch's names and masks).

Mask conventions are PyTorch's, and they differ between the two functions:
`scaled_dot_product_attention` takes a boolean `attn_mask` where True means "takes part",
while `multi_head_attention_forward` (and `nn.MultiheadAttention`) take boolean masks
where True means "masked out". A float mask is added to the scores in both (use -inf
to mask a position).

A masked position gets exactly zero weight. A query whose every key is masked gets
all-zero weights and a zero output, and no NaN (PyTorch's `scaled_dot_product_attention`
does the same; PyTorch's `MultiheadAttention` returns NaN for such rows when
`need_weights=True` and zeros otherwise; here it is zeros in both cases).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor, kernels
from autograd_core.tensor import as_tensor, make_result

from .. import _checks
from .dropout import dropout as _dropout
from .linear import linear

__all__ = ["masked_softmax", "multi_head_attention_forward", "scaled_dot_product_attention"]


# Simple NumPy passes over the scores that masked_softmax's forward and gradient make (their work for `kernels`).
_FORWARD_PASSES, _GRAD_PASSES = 8, 5


def _masked_softmax(x: np.ndarray, keep: Any, scale: float, out: Any = None) -> np.ndarray:
    """masked_softmax's forward, written into `out` when given (a block of rows when split)."""
    z = x if keep is None else np.where(keep, x, x.dtype.type(-np.inf))
    m = np.max(z, axis=-1, keepdims=True)
    e = np.subtract(z, np.where(np.isfinite(m), m, 0), out=out)  # max(scale * z) = scale * max(z) for scale > 0
    if scale != 1.0:
        e *= x.dtype.type(scale)
    np.exp(e, out=e)  # exp(-inf) = 0 exactly: masked weights are 0
    s = np.sum(e, axis=-1, keepdims=True)
    e /= np.where(s == 0, 1, s)
    return e


def _masked_softmax_grad(g: np.ndarray, y: np.ndarray, scale: float, out: Any = None) -> np.ndarray:
    """The first-order gradient with few temporaries (these arrays are (B, heads, L, S))."""
    gy = np.multiply(g, y, out=out)
    gy -= y * gy.sum(axis=-1, keepdims=True)
    if scale != 1.0:
        gy *= y.dtype.type(scale)
    return gy


def masked_softmax(scores: Any, keep: Any = None, scale: float = 1.0) -> Tensor:
    """softmax(scale * scores) over the last axis; entries where `keep` (boolean, broadcastable)
    is False or the score is -inf get exactly 0, and rows with nothing left are all zeros.

    `scale` (> 0) is folded in here so attention needs no separate scaling op. Big inputs
    run split over rows on several threads (`autograd_core.kernels`), with the same result.
    """
    if not scale > 0:
        raise ValueError(f"masked_softmax: scale must be positive, got {scale}")
    x = as_tensor(scores)
    d = x.data
    last = (d.ndim - 1,)
    if d.size * _FORWARD_PASSES >= kernels.SPLIT_MIN and (
        keep is None or np.broadcast_shapes(np.shape(keep), d.shape) == d.shape  # the mask adds no axes
    ):
        e = kernels.rows(lambda o, z, k: _masked_softmax(z, k, scale, o), np.empty(d.shape, d.dtype), d, keep,
                         reduced=last, passes=_FORWARD_PASSES)
    else:
        e = _masked_softmax(d, keep, scale)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        if isinstance(g, np.ndarray):
            if g.size * _GRAD_PASSES >= kernels.SPLIT_MIN and g.shape == y.shape and g.dtype == y.dtype:
                return kernels.rows(lambda o, g, y: _masked_softmax_grad(g, y, scale, o), np.empty_like(y), g, y,
                                    reduced=last, passes=_GRAD_PASSES)
            return _masked_softmax_grad(g, y, scale)
        return (y * (g - (g * y).sum(axis=-1, keepdims=True))) * scale

    return make_result(e, "masked_softmax", (x,), (vjp,))


def _causal(n_q: int, n_k: int) -> np.ndarray:
    """Query i may attend to keys 0..i (top-left aligned, as PyTorch's `is_causal`)."""
    return np.tril(np.ones((n_q, n_k), dtype=bool))


def _attend(
    q: Tensor, k: Tensor, v: Tensor, keep: Any, additive: Any, dropout_p: float, scale: float
) -> tuple[Tensor, Tensor]:
    """softmax(q k^T * scale + additive, masked by keep) @ v; returns (output, weights)."""
    scores = ag.matmul(q, k.swapaxes(-1, -2))
    if additive is not None or not scale > 0:  # otherwise the softmax op applies the scale
        scores = scores * scale
        scores = scores if additive is None else scores + additive
        scale = 1.0
    weights = masked_softmax(scores, keep, scale)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, training=True)
    return ag.matmul(weights, v), weights


def _additive(mask: Any, dtype: np.dtype, where: str) -> Any:
    """A float mask as a Tensor of the scores' dtype (kept differentiable if it requires grad)."""
    m = as_tensor(mask)
    if m.dtype.kind != "f":
        raise TypeError(f"{where}: a mask must be boolean or floating point, got dtype {m.dtype}")
    return m if m.requires_grad else Tensor(m.data.astype(dtype, copy=False))


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """`softmax(Q K^T * scale + mask) V` over the last two axes, as `torch.nn.functional`'s.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). `attn_mask`
    broadcasts to (..., L, S): boolean with True = "may attend", or float added to the
    scores. `is_causal` masks keys after each query (and excludes `attn_mask`).
    `dropout_p` drops attention weights whenever it is > 0 (pass 0.0 in evaluation).
    `scale` defaults to 1/sqrt(E).
    """
    q, k, v = (_checks.float_input(f"scaled_dot_product_attention ({n})", a)
               for n, a in (("query", query), ("key", key), ("value", value)))
    if min(q.ndim, k.ndim, v.ndim) < 2 or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: expected query (..., L, E), key (..., S, E), value (..., S, Ev); "
            f"got {q.shape}, {k.shape}, {v.shape}"
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got {dropout_p}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    keep, additive = None, None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
        keep = _causal(q.shape[-2], k.shape[-2])
    elif attn_mask is not None:
        mask = attn_mask
        if not (isinstance(mask, Tensor) and mask.requires_grad):  # a learned float bias stays a Tensor
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.dtype == bool:
            keep = mask
        else:
            additive = _additive(mask, q.dtype, "scaled_dot_product_attention")
    return _attend(q, k, v, keep, additive, dropout_p, scale)[0]


def _merge_masks(
    attn_mask: Any, key_padding_mask: Any, is_causal: bool, shape: tuple[int, int, int, int], dtype: np.dtype
) -> tuple[Any, Any]:
    """MHA masks (True = masked out) as (keep, additive) for scores of `shape` (B, heads, L, S)."""
    n_b, n_heads, n_q, n_k = shape
    keep, additive = None, None
    masks = []
    if attn_mask is None and is_causal:
        masks.append(~_causal(n_q, n_k))
    elif attn_mask is not None:
        m = as_tensor(attn_mask)
        if m.shape == (n_q, n_k):
            masks.append(m)
        elif m.shape == (n_b * n_heads, n_q, n_k):
            masks.append(m.reshape(n_b, n_heads, n_q, n_k))
        else:
            raise ValueError(
                f"multi_head_attention_forward: attn_mask must have shape ({n_q}, {n_k}) or "
                f"({n_b * n_heads}, {n_q}, {n_k}), got {m.shape}"
            )
    if key_padding_mask is not None:
        m = as_tensor(key_padding_mask)
        if m.shape != (n_b, n_k):
            raise ValueError(
                f"multi_head_attention_forward: key_padding_mask must have shape ({n_b}, {n_k}), got {m.shape}"
            )
        masks.append(m.reshape(n_b, 1, 1, n_k))
    for m in masks:
        data = m.data if isinstance(m, Tensor) else m
        if data.dtype == bool:
            keep = ~data if keep is None else keep & ~data
        else:
            a = _additive(m, dtype, "multi_head_attention_forward")
            additive = a if additive is None else additive + a
    return keep, additive


def _rows(x: Tensor) -> tuple[Tensor, bool]:
    """(N, B, F) as 2-D rows in the order it lies in memory, and whether that order is (N, B).

    A batch-first input seen through `swapaxes` flattens as (B, N) without a copy, so the
    projections are single 2-D matmuls on contiguous data either way.
    """
    if x.data.flags.c_contiguous or not x.data.swapaxes(0, 1).flags.c_contiguous:
        return x.reshape(x.shape[0] * x.shape[1], x.shape[-1]), True
    return x.swapaxes(0, 1).reshape(x.shape[0] * x.shape[1], x.shape[-1]), False


def _split_heads(rows: Tensor, n: int, n_b: int, n_heads: int, seq_first: bool) -> Tensor:
    """Projected rows -> (B, heads, N, head_dim), PyTorch's split (head h owns features h*d .. h*d+d-1)."""
    d = rows.shape[-1] // n_heads  # explicit, as -1 is ambiguous for an empty batch
    if seq_first:
        return rows.reshape(n, n_b, n_heads, d).transpose(1, 2, 0, 3)
    return rows.reshape(n_b, n, n_heads, d).transpose(0, 2, 1, 3)


def multi_head_attention_forward(
    query: Any,
    key: Any,
    value: Any,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Any,
    in_proj_bias: Any,
    bias_k: Any,
    bias_v: Any,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Any,
    out_proj_bias: Any,
    training: bool = True,
    key_padding_mask: Any = None,
    need_weights: bool = True,
    attn_mask: Any = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Any = None,
    k_proj_weight: Any = None,
    v_proj_weight: Any = None,
    static_k: Any = None,
    static_v: Any = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """PyTorch's functional multi-head attention, sequence first: query (L, B, E), key/value (S, B, kdim/vdim).

    Unbatched (L, E) inputs work too. Returns `(output (L, B, E), weights)`, weights
    (B, L, S) averaged over heads, (B, heads, L, S) with `average_attn_weights=False`, or
    None when `need_weights=False`. `bias_k`, `bias_v`, `add_zero_attn`, `static_k` and
    `static_v` are not supported and must be None/False.
    """
    where = "multi_head_attention_forward"
    if bias_k is not None or bias_v is not None or add_zero_attn or static_k is not None or static_v is not None:
        raise ValueError(f"{where}: bias_k, bias_v, add_zero_attn, static_k and static_v are not supported")
    q_in, k_in, v_in = (_checks.float_input(f"{where} ({n})", a) for n, a in (("query", query), ("key", key),
                                                                            ("value", value)))
    unbatched = q_in.ndim == 2
    if unbatched:
        if k_in.ndim != 2 or v_in.ndim != 2:
            raise ValueError(
                f"{where}: unbatched query {q_in.shape} needs 2-d key and value, got {k_in.shape}, {v_in.shape}"
            )
        q_in, k_in, v_in = q_in[:, None], k_in[:, None], v_in[:, None]
        if key_padding_mask is not None:  # (S,) -> (1, S); a (heads, L, S) attn_mask already fits B = 1
            key_padding_mask = as_tensor(key_padding_mask)[None]
    if q_in.ndim != 3 or k_in.ndim != 3 or v_in.ndim != 3:
        raise ValueError(
            f"{where}: expected 3-d (L, B, E) query, key, value, got {q_in.shape}, {k_in.shape}, {v_in.shape}"
        )
    n_q, n_b, e = q_in.shape
    n_k = k_in.shape[0]
    if e != embed_dim_to_check or e % num_heads:
        raise ValueError(
            f"{where}: query embedding {e} must equal embed_dim {embed_dim_to_check} "
            f"and divide by num_heads {num_heads}"
        )
    if k_in.shape[:2] != (n_k, n_b) or v_in.shape[:2] != (n_k, n_b):
        raise ValueError(
            f"{where}: key {k_in.shape} and value {v_in.shape} must share (S, B) with batch {n_b} of query {q_in.shape}"
        )
    d = e // num_heads
    if use_separate_proj_weight:
        weights_qkv = (q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        w = as_tensor(in_proj_weight)
        weights_qkv = (w[:e], w[e : 2 * e], w[2 * e :])
    b = None if in_proj_bias is None else as_tensor(in_proj_bias)
    biases = (None, None, None) if b is None else (b[:e], b[e : 2 * e], b[2 * e :])
    heads = []
    for x, w, bias in zip((q_in, k_in, v_in), weights_qkv, biases):
        rows, seq_first = _rows(x)
        heads.append(_split_heads(linear(rows, w, bias), x.shape[0], n_b, num_heads, seq_first))
    q, k, v = heads
    keep, additive = _merge_masks(attn_mask, key_padding_mask, is_causal, (n_b, num_heads, n_q, n_k), q.dtype)
    out, weights = _attend(q, k, v, keep, additive, dropout_p if training else 0.0, 1.0 / math.sqrt(d))
    # merge heads back in the query's own memory order, so the output projection is one 2-D matmul
    if _rows(q_in)[1]:
        out = linear(out.transpose(2, 0, 1, 3).reshape(n_q * n_b, e), out_proj_weight, out_proj_bias)
        out = out.reshape(n_q, n_b, e)
    else:
        out = linear(out.transpose(0, 2, 1, 3).reshape(n_b * n_q, e), out_proj_weight, out_proj_bias)
        out = out.reshape(n_b, n_q, e).swapaxes(0, 1)
    if not need_weights:
        w = None
    else:
        w = weights.mean(axis=1) if average_attn_weights else weights
    if unbatched:
        out = out[:, 0]
        w = None if w is None else w[0]
    return out, w
