"""A Keras-style training loop: `fit`, `evaluate`, `predict`, `History`, `Callback`, `EarlyStopping`.

Optional convenience: the plain loop (zero_grad, forward, loss, backward, step) is
all `fit` does per batch. The model needs `__call__`, `parameters()`, `train()`,
`eval()` and, for `EarlyStopping(restore_best_weights=True)`, `state_dict()` and
`load_state_dict()`. The loss function takes `(output, target)` and returns a
scalar Tensor averaged over the batch (PyTorch's default `reduction='mean'`).

Metric "accuracy" (also "acc"):
- output (N, C) with C > 1 and integer targets (N,): mean of argmax(output) == target;
- output (N, C) with targets (N, C) (one-hot or probabilities): argmax of both;
- one output per sample, (N,) or (N, 1), with 0/1 targets: the output is read as a
  logit, so the prediction is `output > 0` (use it with BCEWithLogitsLoss; for a
  sigmoid output pass a callable metric instead).
A metric can also be a callable `metric(output: np.ndarray, target: np.ndarray) -> float`
(a per-batch mean; logged under its `__name__`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from autograd_core import Tensor, no_grad

from .data import DataLoader, TensorDataset

Metric = str | Callable[[np.ndarray, np.ndarray], float]


# ----------------------------------------------------------------- metrics
def accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """Classification accuracy for logits; see the module docstring for the three cases."""
    output, target = np.asarray(output), np.asarray(target)
    n = output.shape[0] if output.ndim else 1
    if output.ndim == 2 and output.shape[1] > 1:
        if target.shape == output.shape:
            return float(np.mean(output.argmax(axis=1) == target.argmax(axis=1)))
        if target.shape == (n,):
            return float(np.mean(output.argmax(axis=1) == target))
    elif output.size == n and target.size == n:
        return float(np.mean((output.reshape(n) > 0) == (target.reshape(n) > 0.5)))
    raise ValueError(
        f"accuracy: cannot compare outputs of shape {output.shape} with targets of shape {target.shape}; "
        f"expected (N, C) logits with (N,) class indices or (N, C) one-hot targets, "
        f"or (N,)/(N, 1) logits with 0/1 targets"
    )


_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"accuracy": accuracy, "acc": accuracy}


def _resolve_metrics(metrics: Sequence[Metric] | None) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    resolved = {}
    for m in metrics or []:
        if isinstance(m, str):
            if m not in _METRICS:
                raise ValueError(f"unknown metric {m!r}; known: {sorted(_METRICS)}, or pass a callable")
            resolved["accuracy" if m == "acc" else m] = _METRICS[m]
        elif callable(m):
            resolved[getattr(m, "__name__", type(m).__name__)] = m
        else:
            raise TypeError(f"a metric must be a name or a callable, got {type(m).__name__}")
    return resolved


# ----------------------------------------------------------------- callbacks
class History:
    """Per-epoch logs: `history.history['loss']`, `['val_loss']`, `['accuracy']`, ...; `epoch` lists epoch indices."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class Callback:
    """Hooks called by `fit`. Set `self.stop_training = True` to end training after this epoch.

    `fit` sets `self.model` and `self.optimizer` before `on_train_begin`.
    """

    model: Any = None
    optimizer: Any = None
    stop_training: bool = False

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None: ...


class EarlyStopping(Callback):
    """Stop once `monitor` has gone `patience` epochs without improving by more than `min_delta`.

    As in Keras, `patience=0` and `patience=1` both stop after the first epoch without
    improvement; `patience=2` allows one such epoch and stops after the second.

    `mode` is 'min', 'max' or 'auto' (max for names containing 'acc', else min). With
    `restore_best_weights=True` the model gets the weights of its best epoch back when
    training ends, whether it stopped early or ran out of epochs. `best_epoch` and
    `stopped_epoch` (-1 if it never stopped) tell what happened.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        verbose: int = 0,
    ) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.stopped_epoch = -1
        self.best_weights: dict[str, np.ndarray] | None = None
        self.stop_training = False

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping: monitored value {self.monitor!r} is not in the logs {sorted(logs)}; "
                f"monitoring 'val_*' needs validation_split or validation_data"
            )
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                # Copies: the optimizer replaces arrays, but a state_dict may alias live ones.
                self.best_weights = {k: np.array(v, copy=True) for k, v in self.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:  # Keras' rule: stop after `patience` epochs without improvement
            self.stopped_epoch = epoch
            self.stop_training = True

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(
                    f"EarlyStopping: restoring the weights of epoch {self.best_epoch + 1} "
                    f"({self.monitor}={self.best:.6g})"
                )
            self.model.load_state_dict(self.best_weights)
        elif self.verbose and self.stopped_epoch >= 0:
            print(f"EarlyStopping: stopped after epoch {self.stopped_epoch + 1}")


# ----------------------------------------------------------------- loops
def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _run_eval(
    model: Any, loss_fn: Any, x: np.ndarray, y: np.ndarray, batch_size: int, metrics: dict[str, Any]
) -> dict[str, float]:
    """Mean loss and metrics over (x, y) in eval mode without recording a graph."""
    was_training = getattr(model, "training", True)
    model.eval()
    totals = dict.fromkeys(["loss", *metrics], 0.0)
    try:
        with no_grad():
            for xb, yb in DataLoader(TensorDataset(x, y), batch_size=batch_size):
                out = model(xb)
                n = xb.shape[0]
                totals["loss"] += float(loss_fn(out, yb).item()) * n
                for name, fn in metrics.items():
                    totals[name] += fn(_array(out), yb.data) * n
    finally:
        model.train() if was_training else model.eval()
    return {k: v / len(x) for k, v in totals.items()}


def evaluate(
    model: Any, loss_fn: Any, x: Any, y: Any, batch_size: int = 32, metrics: Sequence[Metric] | None = None
) -> dict[str, float]:
    """Mean loss (and metrics) over a dataset, in eval mode under no_grad: {'loss': ..., 'accuracy': ...}."""
    x, y = _array(x), _array(y)
    if len(x) != len(y):
        raise ValueError(f"evaluate: x has {len(x)} samples but y has {len(y)}")
    return _run_eval(model, loss_fn, x, y, batch_size, _resolve_metrics(metrics))


def predict(model: Any, x: Any, batch_size: int = 32) -> np.ndarray:
    """The model's outputs for every sample of `x`, batched, in eval mode under no_grad."""
    x = _array(x)
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        with no_grad():
            outs = [_array(model(Tensor(x[i : i + batch_size]))) for i in range(0, len(x), batch_size)]
    finally:
        model.train() if was_training else model.eval()
    return np.concatenate(outs) if outs else np.empty((0,))


def fit(
    model: Any,
    loss_fn: Any,
    optimizer: Any,
    x: Any,
    y: Any,
    epochs: int = 1,
    batch_size: int = 32,
    validation_split: float = 0.0,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] | None = None,
    metrics: Sequence[Metric] | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    verbose: int = 1,
) -> History:
    """Train `model` on (x, y) for `epochs` epochs; returns a `History` of per-epoch logs.

    `validation_split` holds out the last fraction of (x, y) (before any shuffling,
    as Keras does); `validation_data=(x_val, y_val)` takes precedence. Logged keys:
    'loss', each metric, and 'val_'-prefixed versions when there is validation data.
    Training losses and metrics are sample-weighted means over the epoch's batches
    (measured while the weights change, as Keras reports them). `seed` fixes the
    shuffling order. `verbose=0` turns off the tqdm progress bar.
    """
    x, y = _array(x), _array(y)
    if len(x) != len(y):
        raise ValueError(f"fit: x has {len(x)} samples but y has {len(y)}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
    metric_fns = _resolve_metrics(metrics)
    if validation_data is not None:
        x_val, y_val = (_array(a) for a in validation_data)
    elif validation_split > 0:
        n_val = int(len(x) * validation_split)
        if n_val == 0 or n_val == len(x):
            raise ValueError(f"fit: validation_split={validation_split} of {len(x)} samples leaves an empty split")
        x, x_val, y, y_val = x[:-n_val], x[-n_val:], y[:-n_val], y[-n_val:]
    else:
        x_val = y_val = None

    callbacks = list(callbacks or [])
    history = History()
    for cb in callbacks:
        cb.model, cb.optimizer = model, optimizer
        cb.on_train_begin()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, seed=seed)
    for epoch in range(epochs):
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        model.train()
        totals = dict.fromkeys(["loss", *metric_fns], 0.0)
        seen = 0
        bar = tqdm(loader, desc=f"Epoch {epoch + 1}/{epochs}", disable=not verbose, leave=True, dynamic_ncols=True)
        for batch, (xb, yb) in enumerate(bar):
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            n = xb.shape[0]
            seen += n
            batch_logs = {"loss": float(loss.item())}
            batch_logs.update({name: float(fn(_array(out), yb.data)) for name, fn in metric_fns.items()})
            for k, v in batch_logs.items():
                totals[k] += v * n
            for cb in callbacks:
                cb.on_batch_end(batch, batch_logs)
            bar.set_postfix(loss=f"{totals['loss'] / seen:.4f}", refresh=False)
        logs = {k: v / max(seen, 1) for k, v in totals.items()}
        if x_val is not None:
            val = _run_eval(model, loss_fn, x_val, y_val, batch_size, metric_fns)
            logs.update({f"val_{k}": v for k, v in val.items()})
        if verbose:
            bar.set_postfix_str(", ".join(f"{k}={v:.4f}" for k, v in logs.items()))
        bar.close()
        history.append(epoch, logs)
        for cb in callbacks:
            cb.on_epoch_end(epoch, copy.copy(logs))
        if any(cb.stop_training for cb in callbacks):
            break
    for cb in callbacks:
        cb.on_train_end()
    return history
