"""`BertModel`: the BERT encoder built from this library's layers, with Hugging Face's parameter names.

Every submodule is named as in `transformers.BertModel`, so the state_dict keys of a
checkpoint (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`,
`encoder.layer.0.attention.output.LayerNorm.bias`, `pooler.dense.weight`, ...) load one
to one with `load_state_dict`. The pieces are `nn.Embedding`, `nn.LayerNorm`, `nn.Linear`,
`nn.Dropout` and the exact (erf) `nn.GELU`; self-attention is written here with separate
query/key/value projections, as BERT has them.

The forward pass is differentiable (fine-tune any part; freeze the rest with
`requires_grad_(False)`). Hidden states travel as 2-D `(batch * length, hidden)` rows
between layers, so every projection is one matrix product, and attention is one batched
product over `(batch, heads)`. Where no gradient can flow (under `ag.no_grad()`, or in
frozen layers) the feed-forward GELU runs as an in-place float32 kernel, `gelu_float32_`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, NamedTuple

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.grad_mode import _state as _grad_state

from ..containers import ModuleList
from ..functional.attention import masked_softmax
from ..module import Module
from ..modules.activation import GELU
from ..modules.dropout import Dropout
from ..modules.linear import Linear
from ..modules.normalization import LayerNorm
from ..modules.sparse import Embedding

__all__ = ["BertConfig", "BertModel", "BertModelOutput"]


@dataclasses.dataclass
class BertConfig:
    """The fields of a Hugging Face BERT `config.json` that shape the model (defaults: bert-base)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"BertConfig: hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}"
            )
        if self.hidden_act not in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"BertConfig: hidden_act {self.hidden_act!r} is not supported (gelu or gelu_new)")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BertConfig:
        """The known fields of `values` (a parsed config.json); other keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        config = cls(**{k: v for k, v in values.items() if k in names})
        position_type = values.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError(f"BertConfig: position_embedding_type {position_type!r} is not supported (absolute)")
        return config

    @classmethod
    def from_json_file(cls, path: str | os.PathLike[str]) -> BertConfig:
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


class BertModelOutput(NamedTuple):
    """`last_hidden_state` (batch, length, hidden) and `pooler_output` (batch, hidden), or None without a pooler."""

    last_hidden_state: Tensor
    pooler_output: Tensor | None


class BertEmbeddings(Module):
    """word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)
        self.max_position_embeddings = config.max_position_embeddings

    def forward(self, input_ids: np.ndarray, token_type_ids: np.ndarray) -> Tensor:
        length = input_ids.shape[1]
        if length > self.max_position_embeddings:
            raise ValueError(
                f"BertEmbeddings: sequences of {length} tokens exceed max_position_embeddings "
                f"{self.max_position_embeddings}; truncate the input"
            )
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(np.arange(length))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(Module):
    """Multi-head scaled dot-product attention with `query`, `key`, `value` projections (no output projection)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.query = Linear(config.hidden_size, config.hidden_size)
        self.key = Linear(config.hidden_size, config.hidden_size)
        self.value = Linear(config.hidden_size, config.hidden_size)
        self.dropout = Dropout(config.attention_probs_dropout_prob)

    def _qkv(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The three projections of `(batch * length, hidden)` rows."""
        return self.query(rows), self.key(rows), self.value(rows)

    def forward(self, rows: Tensor, shape: tuple[int, int], keep: np.ndarray) -> Tensor:
        """rows (B * L, hidden), shape (B, L), keep (B, 1, 1, L) True at real tokens -> context rows (B * L, hidden)."""
        n_b, n = shape
        heads, d = self.num_attention_heads, self.attention_head_size
        q, k, v = (t.reshape(n_b, n, heads, d).transpose(0, 2, 1, 3) for t in self._qkv(rows))
        scores = ag.matmul(q, k.transpose(0, 1, 3, 2))  # (B, heads, L, L)
        weights = self.dropout(masked_softmax(scores, keep, 1.0 / math.sqrt(d)))
        context = ag.matmul(weights, v)  # (B, heads, L, d)
        return context.transpose(0, 2, 1, 3).reshape(n_b * n, heads * d)


class BertSelfOutput(Module):
    """LayerNorm(dropout(dense(context)) + input)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: Tensor, input: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + input)


class BertAttention(Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, rows: Tensor, shape: tuple[int, int], keep: np.ndarray) -> Tensor:
        return self.output(self.self(rows, shape, keep), rows)


# Abramowitz & Stegun 7.1.26: erfc(z) = t (a1 + t (a2 + ... a5 t)) exp(-z^2), t = 1 / (1 + p z), z >= 0,
# with |error| < 1.5e-7: below float32's resolution of Phi(x) = (1 + erf(x / sqrt 2)) / 2 near 1.
_AS_P = np.float32(0.3275911)
_AS_A = tuple(np.float32(c) for c in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))


def gelu_float32_(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, x * Phi(x), of a float32 array, written into `x`; returns `x`.

    A branch-free rational erf (|error in GELU| < 1e-6 for every x), ten times faster than
    `nn.functional.gelu`'s float64-accurate erf. Used only where no gradient is recorded.
    """
    z = np.abs(x)
    z *= np.float32(1 / math.sqrt(2))
    t = z * _AS_P
    t += np.float32(1)
    np.reciprocal(t, out=t)
    poly = t * _AS_A[0]
    for c in _AS_A[1:]:
        poly += c
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # erfc(|x| / sqrt 2)
    np.subtract(np.float32(1), poly, out=poly)
    np.copysign(poly, x, out=poly)  # erf(x / sqrt 2)
    poly += np.float32(1)
    poly *= np.float32(0.5)  # Phi(x)
    np.multiply(x, poly, out=x)
    return x


class BertIntermediate(Module):
    """GELU(dense(x)), widening hidden_size to intermediate_size.

    Where no gradient can flow (under `ag.no_grad()`, or in frozen layers) a float32
    exact-GELU kernel (`gelu_float32_`) runs in place on the product; otherwise
    `intermediate_act_fn` (an `nn.GELU`) records the op.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = GELU("none" if config.hidden_act == "gelu" else "tanh")

    def forward(self, rows: Tensor) -> Tensor:
        hidden = self.dense(rows)
        if (hidden.dtype == np.float32 and self.intermediate_act_fn.approximate == "none"
                and not hidden.requires_grad and not _grad_state.levels):
            return Tensor(gelu_float32_(hidden.data))  # hidden.data is the product's own fresh array
        return self.intermediate_act_fn(hidden)


class BertOutput(Module):
    """LayerNorm(dropout(dense(x)) + input), narrowing back to hidden_size."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: Tensor, input: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + input)


class BertLayer(Module):
    """One transformer block: self-attention, then the feed-forward network, each with a residual and LayerNorm."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, rows: Tensor, shape: tuple[int, int], keep: np.ndarray) -> Tensor:
        attended = self.attention(rows, shape, keep)
        return self.output(self.intermediate(attended), attended)


class BertEncoder(Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, rows: Tensor, shape: tuple[int, int], keep: np.ndarray) -> Tensor:
        for layer in self.layer:
            rows = layer(rows, shape, keep)
        return rows


class BertPooler(Module):
    """tanh(dense(hidden state of the first token))."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return ag.tanh(self.dense(hidden[:, 0]))


def _ids(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "iub":
        raise TypeError(f"BertModel: {name} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


class BertModel(Module):
    """The BERT encoder (embeddings, `num_hidden_layers` blocks, optional pooler), Hugging Face's names.

    `model(input_ids, attention_mask=None, token_type_ids=None)` takes integer arrays of
    shape (batch, length) (attention_mask 1 at real tokens, 0 at padding) and returns a
    `BertModelOutput(last_hidden_state, pooler_output)`. Padding positions get zero
    attention weight. A new model is in training mode (dropout on), as every `nn.Module`;
    `SentenceEncoder.from_pretrained` returns it in eval mode.
    """

    def __init__(self, config: BertConfig | dict[str, Any], add_pooling_layer: bool = True) -> None:
        super().__init__()
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        self.embeddings = BertEmbeddings(self.config)
        self.encoder = BertEncoder(self.config)
        if add_pooling_layer:
            self.pooler = BertPooler(self.config)
        else:
            self.add_module("pooler", None)

    def forward(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None) -> BertModelOutput:
        input_ids = _ids(input_ids, "input_ids")
        if input_ids.ndim != 2:
            raise ValueError(f"BertModel: input_ids must have shape (batch, length), got {input_ids.shape}")
        shape = input_ids.shape
        mask = np.ones(shape, np.int64) if attention_mask is None else _ids(attention_mask, "attention_mask")
        types = np.zeros(shape, np.int64) if token_type_ids is None else _ids(token_type_ids, "token_type_ids")
        for name, value in (("attention_mask", mask), ("token_type_ids", types)):
            if value.shape != shape:
                raise ValueError(f"BertModel: {name} of shape {value.shape} does not match input_ids {shape}")
        keep = (mask != 0)[:, None, None, :]  # (B, 1, 1, L): every query of every head sees the real tokens
        hidden = self.embeddings(input_ids, types)
        rows = self.encoder(hidden.reshape(shape[0] * shape[1], hidden.shape[-1]), shape, keep)
        last = rows.reshape(shape[0], shape[1], rows.shape[-1])
        return BertModelOutput(last, None if self.pooler is None else self.pooler(last))
