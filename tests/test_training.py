"""fit / evaluate / predict, History, callbacks, EarlyStopping and the accuracy metric."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core import Tensor
from nn import optim
from nn.training import binary_accuracy, categorical_accuracy


def cross_entropy(logits, target):
    """Mean cross-entropy on class indices, written with core ops (independent of nn's losses)."""
    idx = np.asarray(target.data if isinstance(target, Tensor) else target)
    return -(logits.log_softmax(axis=1)[np.arange(len(idx)), idx]).mean()


class MLP(nn.Module):
    def __init__(self, d_in=2, hidden=16, d_out=2):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, d_out)

    def forward(self, x):
        return self.fc2(self.fc1(x).tanh())


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = (rng.normal(size=(n, 2)) + 2.5 * (2 * y[:, None] - 1)).astype(np.float32)
    return x, y


def model_and_opt(seed=0, lr=0.05):
    nn.manual_seed(seed)
    model = MLP()
    return model, optim.Adam(model.parameters(), lr=lr)


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def test_fit_learns_and_logs_per_epoch():
    x, y = blobs()
    model, opt = model_and_opt()
    hist = nn.fit(
        model,
        cross_entropy,
        opt,
        x,
        y,
        epochs=4,
        batch_size=32,
        validation_split=0.25,
        metrics=["categorical_accuracy"],  # a loss of our own: "accuracy" would not know the outputs are logits
        seed=0,
        verbose=0,
    )
    assert isinstance(hist, nn.History)
    assert set(hist.history) == {"loss", "categorical_accuracy", "val_loss", "val_categorical_accuracy"}
    assert all(len(v) == 4 for v in hist.history.values()) and hist.epoch == [0, 1, 2, 3]
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["val_categorical_accuracy"][-1] > 0.95
    # val_* of the last epoch is exactly what evaluate says on the held-out tail
    ev = nn.evaluate(model, cross_entropy, x[-50:], y[-50:], batch_size=7, metrics=["categorical_accuracy"])
    assert ev["loss"] == pytest.approx(hist.history["val_loss"][-1], rel=1e-5)
    assert ev["categorical_accuracy"] == pytest.approx(hist.history["val_categorical_accuracy"][-1])


def test_one_full_batch_epoch_equals_the_hand_written_step():
    x, y = blobs(64)
    model, opt = model_and_opt(lr=0.1)
    nn.fit(model, cross_entropy, opt, x, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
    ref, ref_opt = model_and_opt(lr=0.1)
    ref_opt.zero_grad()
    cross_entropy(ref(Tensor(x)), y).backward()
    ref_opt.step()
    for k, v in weights(ref).items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


def test_seeded_fit_is_reproducible_and_seed_matters():
    x, y = blobs()
    runs = []
    for seed in (1, 1, 2):
        model, opt = model_and_opt()
        nn.fit(model, cross_entropy, opt, x, y, epochs=2, batch_size=16, seed=seed, verbose=0)
        runs.append(weights(model))
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(np.array_equal(runs[0][k], runs[2][k]) for k in runs[0])


class Recorder(nn.Callback):
    """Keeps a copy of the weights after every epoch."""

    def on_train_begin(self, logs=None):
        self.snapshots = []

    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append(weights(self.model))


def diverging_fit(restore, patience=2, epochs=30):
    # Validation labels are flipped, so val_loss rises as training fits the train labels.
    x, y = blobs()
    model, opt = model_and_opt()
    rec = Recorder()
    stop = nn.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=restore)
    hist = nn.fit(
        model,
        cross_entropy,
        opt,
        x,
        y,
        epochs=epochs,
        batch_size=32,
        validation_data=(x, 1 - y),
        callbacks=[rec, stop],
        seed=0,
        verbose=0,
    )
    return model, rec, stop, hist


def test_early_stopping_restores_best_weights():
    model, rec, stop, hist = diverging_fit(restore=True)
    val = hist.history["val_loss"]
    best = int(np.argmin(val))
    assert stop.best_epoch == best and stop.stopped_epoch == best + 2  # two epochs without improvement
    assert len(val) == stop.stopped_epoch + 1 < 30
    final = model.state_dict()
    for k in final:
        np.testing.assert_array_equal(final[k], rec.snapshots[best][k])
    assert not all(np.array_equal(final[k], rec.snapshots[-1][k]) for k in final)
    x, y = blobs()
    assert nn.evaluate(model, cross_entropy, x, 1 - y)["loss"] == pytest.approx(min(val), rel=1e-5)


def test_early_stopping_without_restore_keeps_last_weights():
    model, rec, stop, hist = diverging_fit(restore=False)
    assert stop.stopped_epoch == len(hist.epoch) - 1 < 29
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, rec.snapshots[-1][k])


def test_early_stopping_min_delta_and_max_mode():
    stop = nn.EarlyStopping(monitor="val_accuracy", patience=2, min_delta=0.05)
    assert stop.mode == "max"
    stop.model = MLP()
    stop.on_train_begin()
    for epoch, acc in enumerate([0.5, 0.54, 0.56]):  # +0.04 and +0.06 over best 0.5: only the second counts
        stop.on_epoch_end(epoch, {"val_accuracy": acc})
    assert stop.best == 0.56 and not stop.stop_training
    stop.on_epoch_end(3, {"val_accuracy": 0.6})
    stop.on_epoch_end(4, {"val_accuracy": 0.6})
    assert stop.stop_training and stop.stopped_epoch == 4
    with pytest.raises(KeyError, match="validation_split or validation_data"):
        nn.EarlyStopping().on_epoch_end(0, {"loss": 1.0})


class Probe(nn.Module):
    """Records grad mode and training flag seen by forward."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        self.seen = []

    def forward(self, x):
        self.seen.append((ag.is_grad_enabled(), self.training))
        return self.fc(x)


def test_predict_and_evaluate_run_in_eval_mode_without_grad():
    x, y = blobs(50)
    model = Probe()
    out = nn.predict(model, x, batch_size=16)
    assert isinstance(out, np.ndarray) and out.shape == (50, 3) and out.dtype == np.float32
    with ag.no_grad():
        np.testing.assert_allclose(out, model(Tensor(x)).data, rtol=1e-6)
    assert model.seen[:4] == [(False, False)] * 4 and model.training  # mode restored
    model.eval()
    nn.evaluate(model, cross_entropy, x, y, batch_size=20)
    assert not model.training  # an eval-mode model stays in eval mode
    assert all(s == (False, False) for s in model.seen[-3:])


def test_verbose_controls_the_progress_bar(capsys):
    x, y = blobs(40)
    model, opt = model_and_opt()
    nn.fit(model, cross_entropy, opt, x, y, epochs=2, batch_size=10, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    nn.fit(model, cross_entropy, opt, x, y, epochs=2, batch_size=10, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "loss=" in err


def test_callable_metric_and_errors():
    x, y = blobs(40)
    model, opt = model_and_opt()

    def mean_logit(out, target):
        return float(out.mean())

    hist = nn.fit(model, cross_entropy, opt, x, y, batch_size=40, metrics=[mean_logit], verbose=0)
    assert "mean_logit" in hist.history
    with pytest.raises(ValueError, match="40 samples but y has 39"):
        nn.fit(model, cross_entropy, opt, x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        nn.fit(model, cross_entropy, opt, x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        nn.fit(model, cross_entropy, opt, x, y, metrics=["f1"], verbose=0)


def test_accuracy_metric_cases():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.5, 3.0], [1.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    assert categorical_accuracy(logits, np.array([0, 2, 0, 2])) == 0.75  # class indices
    assert categorical_accuracy(logits, np.eye(3)[[0, 2, 0, 1]]) == 0.5  # one-hot
    binary_logits = np.array([[1.2], [-0.3], [0.1], [-2.0]])  # one logit per sample, threshold 0
    assert binary_accuracy(binary_logits, np.array([1.0, 0.0, 0.0, 0.0]), threshold=0.0) == 0.75
    assert binary_accuracy(binary_logits[:, 0], np.array([1, 0, 1, 0]), threshold=0.0) == 1.0
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*shape \(3,\)"):
        categorical_accuracy(logits, np.array([0, 1, 2]))


def test_fit_with_nn_losses_multiclass_and_binary():
    x, y = blobs(120)
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    hist = nn.fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        x,
        y,
        epochs=3,
        batch_size=16,
        metrics=["accuracy"],
        seed=0,
        verbose=0,
    )
    assert hist.history["accuracy"][-1] > 0.95
    # binary: one logit per sample, float targets of shape (N, 1), accuracy thresholds the logit at 0
    binary = nn.Linear(2, 1)
    yb = y[:, None].astype(np.float32)
    opt = optim.Adam(binary.parameters(), lr=0.1)
    nn.fit(binary, nn.BCEWithLogitsLoss(), opt, x, yb, epochs=3, batch_size=16, seed=0, verbose=0)
    ev = nn.evaluate(binary, nn.BCEWithLogitsLoss(), x, yb, metrics=["accuracy"])
    assert ev["accuracy"] > 0.95
    assert ev["accuracy"] == pytest.approx(np.mean((nn.predict(binary, x)[:, 0] > 0) == y))
