"""The shipped sentiment sentences: `sentiment.tsv` next to this file, read with the standard library.

The file holds short English sentences (3-20 words) written for this project, half
positive and half negative, about food, films, travel, products, service, weather,
work, books, games, music and more, with negations on both sides ("not bad at all",
"never disappoints" / "I did not enjoy it", "not worth the money"). Format: a
`label<TAB>sentence` header, then one `1` (positive) or `0` (negative), a tab and the
sentence per line; lines starting with `#` are comments. `nn.datasets.load_sentiment()`
splits it into train and test.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

FILENAME = "sentiment.tsv"


def read_sentences() -> tuple[np.ndarray, np.ndarray]:
    """Every sentence in file order: (object array of str, int64 labels); ValueError if the file is malformed."""
    text = resources.files(__package__).joinpath(FILENAME).read_text(encoding="utf-8")
    sentences: list[str] = []
    labels: list[int] = []
    header_seen = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if not header_seen:
            if line != "label\tsentence":
                raise ValueError(f"{FILENAME}:{lineno}: expected the header 'label<TAB>sentence', got {line!r}")
            header_seen = True
            continue
        label, sep, sentence = line.partition("\t")
        if not sep or label not in ("0", "1") or not sentence.strip():
            raise ValueError(f"{FILENAME}:{lineno}: expected '0' or '1', a tab and a sentence, got {line!r}")
        sentences.append(sentence.strip())
        labels.append(int(label))
    return np.array(sentences, dtype=object), np.array(labels, dtype=np.int64)
