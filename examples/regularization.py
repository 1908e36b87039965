"""Regularization: L1 (lasso) vs L2 (ridge) on a sparse linear model, then dropout and early stopping.

    python -m examples.regularization            # full run, under a minute
    python -m examples.regularization --quick    # small sizes (what the tests run)

What it teaches, in two parts:

1. Penalties on a linear model. The data have 20 features, and only 5 of the true
   coefficients are non-zero. Three fits, each with gradients from autograd:
   - no penalty (least squares);
   - L1, the lasso: (1/2n)||y - Xw||^2 + alpha ||w||_1. |w| has a kink at 0, so there
     is no closed form. The fit here is proximal gradient descent (ISTA): a gradient
     step on the squared error, then soft-thresholding, w <- sign(w) max(|w| - t alpha, 0).
     Soft-thresholding sets small coefficients to exactly 0, which makes the fit sparse.
   - L2, ridge: (1/2n)||y - Xw||^2 + (alpha/2)||w||^2, by gradient descent, checked
     against its closed form (X^T X / n + alpha I) w = X^T y / n.
   The lasso is cross-checked against scikit-learn's `Lasso` (same objective). With a
   sparse truth the lasso also predicts best on held-out data; ridge at the same alpha
   shrinks every coefficient, the large true ones included, and zeroes none. Over a
   range of alpha, the lasso's coefficient paths hit 0 exactly, one by one. Ridge's
   paths only shrink towards 0 and never reach it.
   One of the decks' regularization snippets labels a fit "L1", but its formula is the
   ridge closed form, (X^T X + 0.1 I)^-1 X^T y, the same line as its "L2" fit, so its
   two curves coincide. A real L1 fit needs an iterative method like the one here.
2. Dropout and early stopping on an MLP that over-fits: 1 -> 128 -> 128 -> 1 (ReLU)
   trained with full-batch Adam on 30 noisy samples of sin(3x). Without regularization
   the validation loss reaches a minimum and then climbs while the training loss keeps
   falling towards 0, below the noise (the net memorizes it). `nn.Dropout(0.3)` after
   each hidden layer slows that down and keeps the validation loss lower. Dropout is
   only active in training mode; `nn.fit` measures the validation loss in eval mode,
   where the layer is the identity (inverted dropout scales the kept units by 1/(1-p)
   while training, so nothing needs rescaling at evaluation).
   `nn.EarlyStopping(patience, restore_best_weights=True)` stops the unregularized run
   once the validation loss has stopped improving, and gives back the weights of its
   best epoch.

It prints each number next to its reference (scikit-learn, the closed form, the
true coefficients) and saves examples/output/regularization.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn
from autograd_core import Tensor
from examples._figures import save

OUT = Path(__file__).resolve().parent / "output"
TRUE_NONZERO = np.array([3.0, -2.0, 1.5, -1.0, 0.75])


# ----------------------------------------------------------------- 1. penalties on a linear model
def make_linear_data(
    n_train: int, n_test: int, n_features: int = 20, noise: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, ...]:
    """A sparse true w (5 non-zeros at random places); X standard normal, y = X w + noise. Train and test sets."""
    rng = np.random.default_rng(seed)
    w_true = np.zeros(n_features)
    w_true[rng.choice(n_features, len(TRUE_NONZERO), replace=False)] = TRUE_NONZERO
    x = rng.standard_normal((n_train + n_test, n_features))
    y = x @ w_true + noise * rng.standard_normal(n_train + n_test)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:], w_true


def squared_error(w: Tensor, x: np.ndarray, y: np.ndarray) -> Tensor:
    """(1/2n) ||y - X w||^2, the smooth part of every objective here."""
    r = x @ w - y
    return (r * r).sum() / (2 * len(y))


def soft_threshold(w: np.ndarray, threshold: float) -> np.ndarray:
    """The proximal step of threshold * ||w||_1: shrink every entry by `threshold`, and clip at exactly 0."""
    return np.sign(w) * np.maximum(np.abs(w) - threshold, 0.0)


def lipschitz(x: np.ndarray) -> float:
    """The largest eigenvalue of X^T X / n: the curvature of the squared error, so 1/L is a safe step."""
    return float(np.linalg.eigvalsh(x.T @ x / len(x))[-1])


def fit_lasso(
    x: np.ndarray, y: np.ndarray, alpha: float, w0: np.ndarray | None = None, tol: float = 1e-13, max_iter: int = 20000
) -> np.ndarray:
    """ISTA: a gradient step on the squared error (autograd's gradient), then soft-thresholding."""
    step = 1.0 / lipschitz(x)
    w = Tensor(np.zeros(x.shape[1]) if w0 is None else np.array(w0, dtype=np.float64), requires_grad=True)
    for _ in range(max_iter):
        before = w.data.copy()
        squared_error(w, x, y).backward()
        with ag.no_grad():
            w -= step * w.grad
            w[...] = soft_threshold(w.data, step * alpha)
        w.grad = None
        if np.max(np.abs(w.data - before)) < tol:
            break
    return w.data.copy()


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float, tol: float = 1e-13, max_iter: int = 20000) -> np.ndarray:
    """Gradient descent on (1/2n)||y - Xw||^2 + (alpha/2)||w||^2 with autograd; alpha=0 is least squares."""
    step = 1.0 / (lipschitz(x) + alpha)
    w = Tensor(np.zeros(x.shape[1]), requires_grad=True)
    for _ in range(max_iter):
        before = w.data.copy()
        (squared_error(w, x, y) + alpha / 2 * (w * w).sum()).backward()
        with ag.no_grad():
            w -= step * w.grad
        w.grad = None
        if np.max(np.abs(w.data - before)) < tol:
            break
    return w.data.copy()


def ridge_closed_form(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """(X^T X / n + alpha I) w = X^T y / n."""
    n = len(y)
    return np.linalg.solve(x.T @ x / n + alpha * np.eye(x.shape[1]), x.T @ y / n)


def lasso_path(x: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Lasso coefficients (len(alphas), n_features), fitted from the largest alpha down, each warm-started."""
    coefs, w = np.empty((len(alphas), x.shape[1])), None
    for i in np.argsort(alphas)[::-1]:
        w = coefs[i] = fit_lasso(x, y, float(alphas[i]), w0=w)
    return coefs


def sklearn_lasso(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray | None:
    """scikit-learn's Lasso, same objective (no intercept); None when scikit-learn is not installed."""
    try:
        from sklearn.linear_model import Lasso
    except ImportError:
        return None
    return Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(x, y).coef_


# ----------------------------------------------------------------- 2. dropout and early stopping
def make_curve_data(n_train: int, n_val: int, noise: float = 0.3, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Few noisy samples of sin(3x) on [-1, 1] to train on, many to validate on; float32, shape (n, 1)."""
    rng = np.random.default_rng(seed)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(-1, 1, (n, 1))
        return x.astype(np.float32), (np.sin(3 * x) + noise * rng.standard_normal((n, 1))).astype(np.float32)

    return (*sample(n_train), *sample(n_val))


def make_mlp(hidden: int, p_drop: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(1, hidden), nn.ReLU()]
    if p_drop:
        layers.append(nn.Dropout(p_drop))
    layers += [nn.Linear(hidden, hidden), nn.ReLU()]
    if p_drop:
        layers.append(nn.Dropout(p_drop))
    layers.append(nn.Linear(hidden, 1))
    return nn.Sequential(*layers)


def train_mlp(
    data: tuple[np.ndarray, ...], hidden: int, p_drop: float, epochs: int, lr: float, seed: int,
    callbacks: list[nn.Callback] | None = None,
) -> tuple[nn.Sequential, nn.History]:
    """Full-batch Adam with `nn.fit`; the same seed gives the same initial weights to every run."""
    x_train, y_train, x_val, y_val = data
    nn.manual_seed(seed)
    model = make_mlp(hidden, p_drop)
    optimizer = nn.optim.Adam(model.parameters(), lr=lr)
    history = nn.fit(
        model, nn.MSELoss(), optimizer, x_train, y_train, epochs=epochs, batch_size=len(x_train),
        validation_data=(x_val, y_val), callbacks=callbacks, shuffle=False, verbose=0,
    )
    return model, history


# ----------------------------------------------------------------- the figure
def save_figure(
    alpha: float, w_true: np.ndarray, fits: dict[str, np.ndarray], lasso_alphas: np.ndarray, lasso_coefs: np.ndarray,
    ridge_alphas: np.ndarray, ridge_coefs: np.ndarray, curves: dict[str, nn.History], stop: nn.EarlyStopping,
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(12, 3.5))
    ax = axes[0]
    idx = np.arange(len(w_true))
    ax.bar(idx, w_true, color="0.85", label="true")
    for (name, w), marker in zip(fits.items(), ("x", "o", "^")):
        ax.plot(idx, w, marker, ms=3.5, ls="none", label=f"{name} ({int(np.sum(w == 0))} zeros)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set(title=f"fitted coefficients, alpha={alpha:g}", xlabel="feature", ylabel="w")
    ax.legend(fontsize=6, loc="lower right")

    support = w_true != 0
    for ax, alphas, coefs, title in (
        (axes[1], lasso_alphas, lasso_coefs, "lasso path: exact zeros"),
        (axes[2], ridge_alphas, ridge_coefs, "ridge path: shrinks, never 0"),
    ):
        ax.plot(alphas, coefs[:, support], lw=1.2)
        ax.plot(alphas, coefs[:, ~support], color="0.6", lw=0.7)
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(alpha, color="k", lw=0.6, ls=":")
        ax.set(xscale="log", title=title, xlabel="alpha (penalty strength)", ylabel="w")

    ax = axes[3]
    for (name, history), color in zip(curves.items(), ("tab:red", "tab:blue")):
        ax.plot(history.history["loss"], color=color, lw=0.6, alpha=0.5, label=f"{name}: train")
        ax.plot(history.history["val_loss"], color=color, lw=1.5, label=f"{name}: validation", zorder=3)
    ax.axvline(stop.stopped_epoch if stop.stopped_epoch >= 0 else len(curves["no dropout"].epoch) - 1,
               color="k", lw=0.8, ls=":", label="early stopping stops")
    ax.plot(stop.best_epoch, stop.best, "k*", ms=8, label="weights restored", zorder=4)
    ax.set(title="over-fitting MLP", xlabel="epoch", ylabel="MSE", ylim=(0, 3 * stop.best))
    ax.legend(fontsize=6)
    save(fig, path)


# ----------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="L1 vs L2 penalties, dropout and early stopping.")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds; what the tests run)")
    parser.add_argument("--alpha", type=float, default=0.1, help="lasso and ridge penalty strength")
    parser.add_argument("--epochs", type=int, default=None, help="MLP epochs (default 1000, quick 300)")
    parser.add_argument("--patience", type=int, default=None, help="early-stopping patience (default 100, quick 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT, help="folder for regularization.png")
    args = parser.parse_args(argv)
    epochs = args.epochs or (300 if args.quick else 1000)
    patience = args.patience or (30 if args.quick else 100)
    hidden = 64 if args.quick else 128
    n_path = 12 if args.quick else 40
    results: dict[str, float] = {}

    # 1. L1 vs L2
    x, y, x_test, y_test, w_true = make_linear_data(50, 1000, seed=args.seed)
    fits = {
        "no penalty": fit_ridge(x, y, 0.0),
        "lasso (L1)": fit_lasso(x, y, args.alpha),
        "ridge (L2)": fit_ridge(x, y, args.alpha),
    }
    print(f"1. linear regression, {x.shape[0]} samples, {x.shape[1]} features, "
          f"{int(np.sum(w_true != 0))} true non-zeros; alpha = {args.alpha}")
    for name, w in fits.items():
        zeros = int(np.sum(w == 0))
        mse = float(np.mean((x_test @ w - y_test) ** 2))
        results[f"zeros {name}"] = zeros
        results[f"true_nonzeros_kept {name}"] = int(np.sum(w[w_true != 0] != 0))
        results[f"test_mse {name}"] = mse
        print(f"   {name:11s}  exact zeros {zeros:2d}/{len(w)} (true: {int(np.sum(w_true == 0))})  "
              f"test MSE {mse:.3f} (noise floor 1.000)  max |w - w_true| {np.max(np.abs(w - w_true)):.3f}")
    lstsq = np.linalg.lstsq(x, y, rcond=None)[0]
    results["no_penalty_vs_lstsq_max_diff"] = float(np.max(np.abs(fits["no penalty"] - lstsq)))
    results["ridge_vs_closed_form_max_diff"] = float(
        np.max(np.abs(fits["ridge (L2)"] - ridge_closed_form(x, y, args.alpha)))
    )
    print(f"   no penalty vs np.linalg.lstsq: max difference {results['no_penalty_vs_lstsq_max_diff']:.1e}")
    print(f"   ridge (gradient descent) vs closed form: max difference {results['ridge_vs_closed_form_max_diff']:.1e}")
    reference = sklearn_lasso(x, y, args.alpha)
    if reference is None:
        print("   (scikit-learn not installed: no lasso cross-check; pip install scikit-learn)")
    else:
        results["lasso_vs_sklearn_max_diff"] = float(np.max(np.abs(fits["lasso (L1)"] - reference)))
        results["lasso_sklearn_same_zeros"] = float(np.array_equal(fits["lasso (L1)"] == 0, np.abs(reference) < 1e-12))
        same = bool(results["lasso_sklearn_same_zeros"])
        print(f"   lasso (ISTA) vs sklearn.linear_model.Lasso: max difference "
              f"{results['lasso_vs_sklearn_max_diff']:.1e}, same zero pattern: {same}")
    alpha_max = float(np.max(np.abs(x.T @ y)) / len(y))  # the smallest alpha at which the lasso is all zeros
    lasso_alphas = np.logspace(np.log10(alpha_max) - 3, np.log10(alpha_max) + 0.2, n_path)
    ridge_alphas = np.logspace(-3, 3, n_path)
    lasso_coefs = lasso_path(x, y, lasso_alphas)
    ridge_coefs = np.array([ridge_closed_form(x, y, a) for a in ridge_alphas])
    results["lasso_path_zeros"] = int(np.sum(lasso_coefs == 0))
    results["ridge_path_zeros"] = int(np.sum(ridge_coefs == 0))
    results["lasso_path_all_zero_above_alpha_max"] = float(np.all(lasso_coefs[lasso_alphas >= alpha_max] == 0))
    all_zero = "all zero" if results["lasso_path_all_zero_above_alpha_max"] else "NOT all zero"
    print(f"   paths over {n_path} alphas: lasso has {results['lasso_path_zeros']} exact zeros ({all_zero} for "
          f"alpha >= max|X^T y|/n = {alpha_max:.3f}, as theory says); ridge has {results['ridge_path_zeros']}")

    # 2. dropout and early stopping
    data = make_curve_data(30, 200, seed=args.seed)
    print(f"2. MLP 1-{hidden}-{hidden}-1 on {len(data[0])} noisy samples of sin(3x), "
          f"{epochs} epochs of full-batch Adam")
    lr = 1e-2 if args.quick else 1e-3
    _, plain = train_mlp(data, hidden, 0.0, epochs, lr, args.seed)
    _, dropped = train_mlp(data, hidden, 0.3, epochs, lr, args.seed)
    stop = nn.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    stopped_model, stopped = train_mlp(data, hidden, 0.0, epochs, lr, args.seed, callbacks=[stop])
    restored = nn.evaluate(stopped_model, nn.MSELoss(), data[2], data[3], batch_size=len(data[2]))["loss"]
    for name, key, history in (("no dropout", "no_dropout", plain), ("dropout 0.3", "dropout", dropped)):
        val = np.array(history.history["val_loss"])
        results[f"epochs_run {key}"] = len(history.epoch)
        results[f"best_val_loss {key}"] = float(val.min())
        results[f"final_val_loss {key}"] = float(val[-1])
        results[f"final_train_loss {key}"] = float(history.history["loss"][-1])
        print(f"   {name:11s}  best validation MSE {val.min():.4f} (epoch {val.argmin() + 1}), "
              f"final {val[-1]:.4f}; final training MSE {history.history['loss'][-1]:.4f}  (noise floor 0.09)")
    results["early_stopping_epochs_run"] = len(stopped.epoch)
    results["early_stopping_best_epoch"] = stop.best_epoch
    results["early_stopping_best_val_loss"] = float(stop.best)
    results["early_stopping_restored_val_loss"] = float(restored)
    print(f"   early stopping (patience {patience}): ran {len(stopped.epoch)} of {epochs} epochs, best epoch "
          f"{stop.best_epoch + 1}, validation MSE {stop.best:.4f}; after restoring the best weights: {restored:.4f}")

    args.out.mkdir(parents=True, exist_ok=True)
    figure = args.out / "regularization.png"
    save_figure(args.alpha, w_true, fits, lasso_alphas, lasso_coefs, ridge_alphas, ridge_coefs,
                {"no dropout": plain, "dropout 0.3": dropped}, stop, figure)
    print(f"saved {figure}")
    return results


if __name__ == "__main__":
    main()
