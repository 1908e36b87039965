"""The deep-network examples run in --quick mode and show what they teach.

Bounds come from measured quick runs (numbers in the comments), with wide margins:
the examples are seeded, but BLAS and platform differences move the last digits.
"""

from __future__ import annotations

import pytest


def test_vanishing_gradients_sigmoid_vanishes_where_relu_and_batchnorm_do_not(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    from examples import vanishing_gradients

    r = vanishing_gradients.main(["--quick", "--out", str(tmp_path)])
    # Measured (width 32, batch 64, 2 seeds): first/last ratio sigmoid 1.5e-12 (0.239 per layer),
    # tanh 0.60, ReLU + He 0.27, ReLU + BatchNorm 32, ReLU N(0, 1) 0.22, ReLU N(0, 0.01^2) 3.6e-26.
    assert r["ratio_sigmoid"] < 1e-9
    assert r["factor_sigmoid"] < 0.3  # sigmoid' <= 0.25 sets the per-layer factor
    assert r["ratio_sigmoid"] < 1e-9 * r["ratio_relu_bn"]
    assert r["ratio_sigmoid"] < 1e-8 * r["ratio_relu_he"]
    assert 0.02 < r["ratio_relu_he"] < 50  # order 1
    assert 0.1 < r["ratio_relu_bn"] < 1e3
    assert 0.05 < r["ratio_tanh"] < 20
    assert r["ratio_relu_std001"] < 1e-15  # tiny weights: vanishing
    # Huge weights: the ratio stays order 1, but every layer's gradient is c^19 times He's (4e11 measured).
    assert 0.02 < r["ratio_relu_std1"] < 50
    assert 1e9 < r["level_relu_std1_over_he"] < 1e14
    out = capsys.readouterr().out
    assert "0.25^19" in out and "ReLU + BatchNorm" in out
    png = tmp_path / "vanishing_gradients.png"
    assert 0 < png.stat().st_size < 150_000


def test_batchnorm_normalises_each_feature_and_lets_a_deep_sigmoid_net_learn(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    from examples import batchnorm

    r = batchnorm.main(["--quick", "--out", str(tmp_path)])
    # Before: per-feature means -0.47..0.76, stds 0.07..0.18 (measured).
    assert r["before_mean_absmax"] > 0.2 and r["before_std_max"] < 0.5
    # Train mode: every feature has mean 0 and std 1 over the batch (measured 4e-6 and 1e-3; eps=1e-5 is the 1e-3).
    assert r["train_mean_absmax"] < 1e-4
    assert r["train_std_maxdev"] < 5e-3
    # Eval mode with fresh running statistics (0, 1) changes nothing but eps (measured 3.9e-6).
    assert r["fresh_eval_change"] < 1e-4
    # Eval mode with running statistics, on test images: close to (0, 1), not exact (measured 0.13, 0.10).
    assert r["eval_mean_absmax"] < 0.35
    assert r["eval_std_maxdev"] < 0.3
    # A sample's output depends on its batchmates in train mode only (measured 8e-2 and 0).
    assert r["batch_dependence_train"] > 1e-3
    assert r["batch_dependence_eval"] < 1e-5
    # Training, 4 epochs: with BatchNorm the loss falls from 1.79 to 0.45; without it stays at ln 10 (2.33).
    assert r["loss_bn"] < 0.5 * r["loss_first_bn"]
    assert r["loss_bn"] < 0.8 and r["loss_plain"] > 2.0
    assert r["test_loss_bn"] < r["test_loss_plain"] - 1.0
    assert r["test_accuracy_bn"] > 0.75 and r["test_accuracy_plain"] < 0.3  # measured 88% and 9%
    png = tmp_path / "batchnorm.png"
    assert 0 < png.stat().st_size < 150_000
