"""The optimization examples run in --quick mode and show what they teach.

gradient_descent: descent with autograd follows the closed form, lr=0.5 lands on the
minimum of a quadratic in one step, every optimizer approaches Rosenbrock's minimum,
and the decks' lost-velocity momentum is plain SGD. regularization: the lasso gives
exact zeros (ridge never does) and matches scikit-learn, ridge matches its closed form,
and the dropout / early-stopping curves come out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def gradient_descent_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, float], Path]:
    pytest.importorskip("matplotlib")
    from examples import gradient_descent

    out = tmp_path_factory.mktemp("gradient_descent")
    return gradient_descent.main(["--quick", "--out", str(out)]), out


@pytest.fixture(scope="module")
def regularization_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, float], Path]:
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    from examples import regularization

    out = tmp_path_factory.mktemp("regularization")
    return regularization.main(["--quick", "--out", str(out)]), out


# ----------------------------------------------------------------- gradient_descent
def test_descent_loss_falls_for_every_stable_learning_rate(gradient_descent_run) -> None:
    from examples import gradient_descent as gd

    results, _ = gradient_descent_run
    for name, (f, _, x0) in gd.QUADRATICS.items():
        for lr in gd.LEARNING_RATES:  # all in (0, 1): |1 - 2 lr| < 1
            values = f(gd.descend_1d(f, x0, lr, 20))
            assert np.all(np.diff(values) <= 0), (name, lr)
            assert results[f"{name} lr={lr} f_final"] < results[f"{name} lr={lr} f_first"], (name, lr)


def test_descent_matches_the_closed_form_and_lr_half_takes_one_step(gradient_descent_run) -> None:
    from examples import gradient_descent as gd

    results, _ = gradient_descent_run
    assert results["closed_form_max_diff"] < 1e-12
    assert results["x^2 + 5 lr=0.5 x1_error"] == 0.0  # x_1 = x_0 - 0.5 * 2 x_0 = 0 exactly
    assert results["x^2 + 2x + 1 lr=0.5 x1_error"] == 0.0  # x_1 = -1 exactly
    assert results["x^2 + 5 lr=0.5 f_final"] == 5.0
    # Past lr = 1 the factor |1 - 2 lr| exceeds 1: the same code diverges, as the closed form says.
    f, b, x0 = gd.QUADRATICS["x^2 + 5"]
    path = gd.descend_1d(f, x0, 1.1, 10)
    np.testing.assert_allclose(path, gd.closed_form_1d(b, x0, 1.1, 10), rtol=1e-12)
    assert abs(path[-1]) > abs(path[0])


def test_every_optimizer_gets_closer_to_the_minimum(gradient_descent_run) -> None:
    from examples import gradient_descent as gd

    results, _ = gradient_descent_run
    assert results["start_distance"] == pytest.approx(np.hypot(2.5, 1.0))
    for name in gd.OPTIMIZERS:
        assert results[f"distance {name}"] < results["start_distance"], name
    assert results["distance SGD+momentum"] < results["distance SGD"]
    assert results["distance Adam"] < results["distance SGD"]


def test_lost_velocity_momentum_is_plain_sgd(gradient_descent_run) -> None:
    from examples import gradient_descent as gd

    results, _ = gradient_descent_run
    assert results["lost_velocity_vs_sgd_max_diff"] == 0.0
    assert results["momentum_vs_nn_sgd_momentum_max_diff"] < 1e-10
    assert results["distance momentum by hand"] < 0.1 * results["distance lost velocity"]
    # The mechanism: after two steps the kept velocity is non-zero, the lost one is still zeros.
    from autograd_core import Tensor

    for step, kept in ((gd.momentum_step, True), (gd.momentum_step_lost_velocity, False)):
        p = Tensor(np.array(gd.START), requires_grad=True)
        velocities = [np.zeros(2)]
        for _ in range(2):
            gd.rosenbrock(p).backward()
            step([p], velocities, 1e-3, 0.9)
            p.grad = None
        assert bool(np.any(velocities[0] != 0)) is kept


def test_gradient_descent_writes_its_figure(gradient_descent_run) -> None:
    _, out = gradient_descent_run
    png = out / "gradient_descent.png"
    assert 0 < png.stat().st_size < 150_000


# ----------------------------------------------------------------- regularization
def test_l1_gives_exact_zeros_and_l2_does_not(regularization_run) -> None:
    results, _ = regularization_run
    assert results["zeros lasso (L1)"] >= 5
    assert results["zeros ridge (L2)"] == 0 and results["zeros no penalty"] == 0
    assert results["true_nonzeros_kept lasso (L1)"] == 5  # the zeros are spurious features only
    assert results["lasso_path_zeros"] > 0 and results["ridge_path_zeros"] == 0
    assert results["lasso_path_all_zero_above_alpha_max"] == 1.0
    assert results["test_mse lasso (L1)"] < results["test_mse no penalty"]


def test_lasso_matches_sklearn_and_ridge_its_closed_form(regularization_run) -> None:
    results, _ = regularization_run
    assert results["lasso_vs_sklearn_max_diff"] < 1e-6
    assert results["lasso_sklearn_same_zeros"] == 1.0
    assert results["ridge_vs_closed_form_max_diff"] < 1e-8
    assert results["no_penalty_vs_lstsq_max_diff"] < 1e-8


def test_lasso_fit_is_a_fixed_point_of_the_proximal_step() -> None:
    from examples import regularization as reg

    x, y, _, _, _ = reg.make_linear_data(40, 0, seed=3)
    w = reg.fit_lasso(x, y, 0.2)
    grad = x.T @ (x @ w - y) / len(y)  # optimality: |grad_j| <= alpha, and = alpha with opposite sign where w_j != 0
    assert np.all(np.abs(grad[w == 0]) <= 0.2 + 1e-9)
    np.testing.assert_allclose(grad[w != 0], -0.2 * np.sign(w[w != 0]), atol=1e-9)


def test_dropout_and_early_stopping_curves(regularization_run) -> None:
    results, _ = regularization_run
    for key in ("no_dropout", "dropout"):
        assert results[f"epochs_run {key}"] == 300
        assert np.isfinite(results[f"best_val_loss {key}"])
    # Without dropout the net over-fits: validation ends above its best, training below validation.
    assert results["final_val_loss no_dropout"] > results["best_val_loss no_dropout"]
    assert results["final_train_loss no_dropout"] < results["final_val_loss no_dropout"]
    # Early stopping (the no-dropout run again, same start) stopped before the end and restored its best weights.
    # It sees a prefix of the same curve, so its best cannot beat that run's best over all epochs.
    assert results["early_stopping_epochs_run"] < 300
    assert results["early_stopping_best_val_loss"] >= results["best_val_loss no_dropout"] * (1 - 1e-4)
    restored, best = results["early_stopping_restored_val_loss"], results["early_stopping_best_val_loss"]
    assert restored == pytest.approx(best, rel=1e-5)


def test_regularization_writes_its_figure(regularization_run) -> None:
    _, out = regularization_run
    png = out / "regularization.png"
    assert 0 < png.stat().st_size < 150_000
