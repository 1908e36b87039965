"""Smoke tests for the sequence examples: each runs end to end on tiny settings and saves its picture."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from examples import char_lm, transformer_sort  # noqa: E402


def test_stdlib_docstrings_are_unique_printable_ascii() -> None:
    docs = char_lm.stdlib_docstrings(["json", "textwrap"])
    assert len(docs) > 10 and len(set(docs)) == len(docs)
    assert set("".join(docs)) <= char_lm.PRINTABLE
    assert any("JSON" in d for d in docs)


def test_char_lm_runs_and_saves_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = char_lm.main(
        ["--steps", "6", "--batch", "4", "--window", "16", "--hidden", "16", "--embed", "8",
         "--max-chars", "4000", "--sample-length", "20", "--out", str(tmp_path)]
    )
    assert (tmp_path / "char_lm.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "bits/char" in out and "temperature 0.8" in out
    # A 96-way guess starts near log2(vocab) bits; after 6 steps it is finite and not worse than uniform by much.
    assert math.isfinite(result["held_out_bpc"]) and 1.0 < result["held_out_bpc"] < 8.0
    assert 3.0 < result["unigram"] < math.log2(96)


def test_char_lm_sample_continues_the_prompt() -> None:
    chars = "abc\n "
    model = char_lm.CharModel(len(chars), 4, 8, 1)
    text = char_lm.sample(model, chars, "ab", 10, 0.8, np.random.default_rng(0))
    assert text.startswith("ab") and len(text) == 12 and set(text) <= set(chars)


def test_transformer_sort_runs_and_saves_attention_plot(tmp_path: Path) -> None:
    result = transformer_sort.main(
        ["--steps", "5", "--batch", "16", "--d-model", "16", "--nhead", "2", "--layers", "2",
         "--length", "5", "--test-size", "50", "--out", str(tmp_path)]
    )
    assert (tmp_path / "transformer_sort_attention.png").stat().st_size > 0
    assert 0.0 <= result["sequence_accuracy"] <= result["digit_accuracy"] <= 1.0


def test_transformer_sort_attention_rows_are_distributions() -> None:
    model = transformer_sort.SortTransformer(vocab=10, length=6, d_model=16, nhead=2, layers=2)
    ids = np.array([[3, 1, 4, 1, 5, 9]])
    weights = model.attention(ids, layer=1)
    assert weights.shape == (1, 2, 6, 6)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert model(ids).shape == (1, 6, 10)


def test_learning_rate_warms_up_then_decays_to_zero() -> None:
    lrs = [transformer_sort.learning_rate(s, 100, 1.0) for s in range(1, 101)]
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12) and lrs[9] >= lrs[50] >= lrs[90]
