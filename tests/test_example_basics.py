"""The teaching examples from the slide decks run (--quick) and reach their headline results.

backprop_by_hand: hand-written gradients equal autograd's; conv_from_scratch: loop-style conv
and max-pool equal nn.functional's, outputs and gradients; activations: autograd derivatives
equal the closed forms and the worked losses equal their hand-computed values.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _needs_matplotlib() -> None:
    pytest.importorskip("matplotlib")


def _png_written(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 0 < path.stat().st_size < 120_000


def test_backprop_by_hand_matches_autograd(tmp_path, capsys) -> None:
    from examples import backprop_by_hand

    results = backprop_by_hand.main(["--quick", "--out", str(tmp_path)])
    for key in ("sigmoid_bce_max_diff", "sigmoid_mse_max_diff", "relu_mse_max_diff", "max_abs_diff"):
        assert results[key] < 1e-12, (key, results[key])
    for key in ("sigmoid_bce", "sigmoid_mse", "relu_mse"):  # 30 quick steps of descent already lower each loss
        assert results[f"{key}_final_loss"] < results[f"{key}_initial_loss"], key
    out = capsys.readouterr().out
    assert "max difference" in out and "reference: under 1e-12" in out
    _png_written(tmp_path / "backprop_by_hand.png")
    dot = (tmp_path / "backprop_by_hand_graph.dot").read_text()
    assert dot.startswith("digraph") and "W1" in dot and "W2" in dot


def test_backprop_by_hand_gradients_are_the_chain_rule() -> None:
    """The hand-written gradients alone (no training) against autograd, on fresh weights of every problem."""
    import numpy as np

    from examples import backprop_by_hand

    for seed in (1, 2):
        for problem in backprop_by_hand.make_problems(seed):
            hand_loss, hand = problem.hand_gradients()
            auto_loss, auto = problem.autograd_gradients()
            assert hand.keys() == auto.keys()
            assert abs(hand_loss - auto_loss) < 1e-12
            for k in hand:
                assert hand[k].shape == auto[k].shape
                np.testing.assert_allclose(hand[k], auto[k], rtol=0, atol=1e-12)


def test_conv_from_scratch_equals_the_library(tmp_path) -> None:
    from examples import conv_from_scratch

    results = conv_from_scratch.main(["--quick", "--out", str(tmp_path)])
    for part in ("conv_output", "conv_grad_input", "conv_grad_weight", "conv_grad_bias", "pool_output",
                 "pool_grad_input"):
        assert results[f"{part}_max_diff"] < 1e-12, (part, results[f"{part}_max_diff"])
    assert results["speedup_largest"] > 1  # the vectorised library beats the Python loops even on tiny inputs
    _png_written(tmp_path / "conv_from_scratch.png")


def test_activations_derivatives_and_worked_losses(tmp_path) -> None:
    from examples import activations

    r = activations.main(["--quick", "--out", str(tmp_path)])
    for name in ("sigmoid", "tanh", "relu", "leakyrelu", "elu", "gelu", "silu"):
        assert r[f"{name}_derivative_error"] < 1e-12, name
    assert r["sigmoid_derivative_peak"] <= 0.25
    # y = [1, 0, 1], p = [0.9, 0.2, 0.6]
    assert r["mse"] == pytest.approx(0.07, abs=1e-12) and r["mse_hand"] == pytest.approx(0.07, abs=1e-12)
    bce = -(math.log(0.9) + math.log(0.8) + math.log(0.6)) / 3
    assert r["bce"] == pytest.approx(bce, abs=1e-12) and r["bce"] == pytest.approx(0.2797765635793423, abs=1e-12)
    # one-hot [1, 0, 0] against p = [0.7, 0.2, 0.1], and logits [2, 1, 0.1] with class 0
    assert r["ce_probs"] == pytest.approx(-math.log(0.7), abs=1e-12)
    assert r["ce"] == pytest.approx(math.log(math.exp(2) + math.exp(1) + math.exp(0.1)) - 2, abs=1e-12)
    for key in ("mse_grad_diff", "bce_grad_diff", "ce_grad_diff"):
        assert r[key] < 1e-12, key
    _png_written(tmp_path / "activations.png")
