"""A Keras-style training loop: `fit`, `evaluate`, `predict`, `History`, `Callback`, `EarlyStopping`.

Optional convenience: the plain loop (zero_grad, forward, loss, backward, step) is
all `fit` does per batch. The model needs `__call__`, `parameters()`, `train()`,
`eval()` and, for `EarlyStopping(restore_best_weights=True)`, `state_dict()` and
`load_state_dict()`. The loss function takes `(output, target)` and returns a
scalar Tensor averaged over the batch (PyTorch's default `reduction='mean'`).

Metric "accuracy" (also "acc") follows the loss, as Keras' does, because only the
loss says what the outputs are:
- `BCELoss` / `F.binary_cross_entropy` (probabilities): prediction `output > 0.5`;
- `BCEWithLogitsLoss` / `F.binary_cross_entropy_with_logits` (logits): `output > 0`;
- `CrossEntropyLoss`, `NLLLoss` / `F.cross_entropy`, `F.nll_loss`: argmax over axis 1.
Binary predictions are compared element by element with `target > 0.5` (so multi-label
outputs work; an (N, 1) output matches an (N,) target). Class predictions are compared
with integer class indices of the output's shape without axis 1, or with the argmax of
one-hot / probability targets of the output's shape. With any other loss (MSELoss, a
function of your own, a wrapper) "accuracy" is a ValueError when `fit`/`evaluate`
starts, rather than a guess: name the rule instead, "binary_accuracy" (probabilities,
threshold 0.5), "binary_accuracy_from_logits" (threshold 0) or "categorical_accuracy"
(argmax), each logged under its name.
A metric can also be a callable `metric(output: np.ndarray, target: np.ndarray) -> float`
(a per-batch mean; logged under its `__name__`).

Progress: with `verbose=1`, `fit` shows a tqdm bar per epoch when tqdm is installed
(`pip install "autograd-core[nn]"`), else it prints one line per epoch to stderr.

Several processes: when the model is an `nn.parallel.DistributedDataParallel`, or a
process group of more than one process is initialized (`nn.distributed`), `fit`
- reads each epoch through a `DistributedSampler` (the one passed as `sampler`, else one
  made with `shuffle` and `seed`, which must then be the same on every rank), calling its
  `set_epoch(epoch)` before each epoch;
- reports exact global means: each rank's per-epoch sums of loss and metrics (weighted by
  batch size) and its sample count are summed over ranks with `all_reduce`, so the logs,
  the History and what callbacks see are equal on every rank (and `EarlyStopping` stops
  all ranks together), even with uneven shards (samples the sampler's padding repeats
  count as often as they were trained on);
- shards validation without padding (rank r takes samples r, r + p, ...) and sums the
  same way, so `val_*` equals a single-process `evaluate` of the same weights;
- shows the progress bar and prints on rank 0 only (other ranks get `verbose=0`, and
  callbacks with a `verbose` attribute are silenced there). Per-batch logs passed to
  `on_batch_end` stay local to each rank. Write checkpoints from a callback on rank 0
  (`nn.distributed.get_rank() == 0`).
"""

from __future__ import annotations

import copy
import functools
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from autograd_core import Tensor, no_grad

from . import _checks
from .data import DataLoader, DistributedSampler, TensorDataset
from .functional import loss as _losses
from .modules.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss

MetricFn = Callable[[np.ndarray, np.ndarray], float]
Metric = str | MetricFn


# ----------------------------------------------------------------- metrics
def binary_accuracy(output: np.ndarray, target: np.ndarray, threshold: float = 0.5) -> float:
    """Mean of `(output > threshold) == (target > 0.5)`, element by element.

    `threshold=0.5` reads outputs as probabilities, `threshold=0` as logits. Shapes must
    be equal, up to a trailing axis of length 1 ((N, 1) outputs with (N,) targets).
    """
    output, target = _array(output, "binary_accuracy"), _array(target, "binary_accuracy")
    if output.shape != target.shape:
        if output.size != target.size or _drop_trailing_one(output.shape) != _drop_trailing_one(target.shape):
            raise ValueError(
                f"binary_accuracy: outputs of shape {output.shape} do not match targets of shape {target.shape}; "
                f"expected equal shapes (or (N, 1) with (N,))"
            )
        output, target = output.reshape(-1), target.reshape(-1)
    if output.size == 0:
        return 0.0
    return float(np.mean((output > threshold) == (target > 0.5)))


def _drop_trailing_one(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:-1] if shape and shape[-1] == 1 else shape


def categorical_accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """Mean of `argmax(output, axis=1) == target` for class indices, or `== argmax(target, axis=1)`.

    Outputs are (N, C) or (N, C, d1, ...) scores (logits, probabilities or log-probabilities);
    targets are integer class indices of shape (N, d1, ...) or one-hot / probabilities of
    the output's shape.
    """
    output, target = _array(output, "categorical_accuracy"), _array(target, "categorical_accuracy")
    if output.ndim >= 2:
        pred = output.argmax(axis=1)
        if target.shape == output.shape:
            return float(np.mean(pred == target.argmax(axis=1))) if pred.size else 0.0
        if target.shape == pred.shape and target.dtype.kind in "iub":
            return float(np.mean(pred == target)) if pred.size else 0.0
    raise ValueError(
        f"categorical_accuracy: cannot compare outputs of shape {output.shape} with targets of shape "
        f"{target.shape} (dtype {target.dtype}); expected (N, C, ...) outputs with integer class indices "
        f"(N, ...) or one-hot / probability targets of the output's shape"
    )


def binary_accuracy_from_logits(output: np.ndarray, target: np.ndarray) -> float:
    """`binary_accuracy` with threshold 0: the outputs are logits."""
    return binary_accuracy(output, target, threshold=0.0)


_NAMED: dict[str, MetricFn] = {
    "binary_accuracy": binary_accuracy,
    "binary_accuracy_from_logits": binary_accuracy_from_logits,
    "categorical_accuracy": categorical_accuracy,
}
_ACCURACY_NAMES = ("accuracy", "acc")


def accuracy_for(loss_fn: Any) -> MetricFn:
    """The accuracy rule that `loss_fn` implies (see the module docstring); ValueError for other losses."""
    fn = loss_fn.func if isinstance(loss_fn, functools.partial) else loss_fn
    if isinstance(fn, BCELoss) or fn is _losses.binary_cross_entropy:
        return binary_accuracy
    if isinstance(fn, BCEWithLogitsLoss) or fn is _losses.binary_cross_entropy_with_logits:
        return binary_accuracy_from_logits
    if isinstance(fn, (CrossEntropyLoss, NLLLoss)) or fn is _losses.cross_entropy or fn is _losses.nll_loss:
        return categorical_accuracy
    name = getattr(fn, "__name__", None) or type(fn).__name__
    raise ValueError(
        f"metric 'accuracy' follows the loss, and {name} is not BCELoss, BCEWithLogitsLoss, CrossEntropyLoss or "
        f"NLLLoss (nor their nn.functional forms), so whether outputs are probabilities, logits or class scores "
        f"is unknown; name the rule instead: 'binary_accuracy' (probabilities, threshold 0.5), "
        f"'binary_accuracy_from_logits' (logits, threshold 0) or 'categorical_accuracy' (argmax over axis 1)"
    )


def _resolve_metrics(metrics: Sequence[Metric] | None, loss_fn: Any) -> dict[str, MetricFn]:
    resolved = {}
    for m in metrics or []:
        if isinstance(m, str):
            if m in _ACCURACY_NAMES:
                resolved["accuracy"] = accuracy_for(loss_fn)
            elif m in _NAMED:
                resolved[m] = _NAMED[m]
            else:
                known = sorted([*_ACCURACY_NAMES, *_NAMED])
                raise ValueError(f"unknown metric {m!r}; known: {known}, or pass a callable")
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
def _array(x: Any, where: str) -> np.ndarray:
    _checks.reject_sparse(where, x)
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class _PlainProgress:
    """tqdm's part that `fit` uses, without tqdm: silent, or (`show`) one line per epoch on stderr."""

    def __init__(self, iterable: Iterable[Any], desc: str, show: bool) -> None:
        self.iterable, self.desc, self.show, self.postfix = iterable, desc, show, ""

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable)

    def set_postfix(self, **kwargs: Any) -> None:
        pass  # no per-batch output: a line per batch would flood a log

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def close(self) -> None:
        if self.show:
            print(f"{self.desc}: {self.postfix}", file=sys.stderr, flush=True)


def _progress(loader: DataLoader, desc: str, verbose: int) -> Any:
    """A tqdm bar when verbose and tqdm is installed (an optional dependency), else `_PlainProgress`."""
    if not verbose:
        return _PlainProgress(loader, desc, show=False)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainProgress(loader, desc, show=True)
    return tqdm(loader, desc=desc, leave=True, dynamic_ncols=True)


def _distributed(model: Any) -> tuple[Any, int, int]:
    """(nn.distributed, rank, world size) when `model` trains on several processes, else (None, 0, 1)."""
    ddp = False
    try:
        from .parallel import DistributedDataParallel

        ddp = isinstance(model, DistributedDataParallel)
    except ImportError:
        pass
    try:
        from . import distributed
    except ImportError:
        return None, 0, 1
    if not distributed.is_initialized():
        return None, 0, 1
    world = distributed.get_world_size()
    if not ddp and world <= 1:
        return None, 0, 1
    return distributed, distributed.get_rank(), world


def _global_means(totals: dict[str, float], seen: int, dist: Any) -> dict[str, float]:
    """Sums over this rank's samples, divided by the count; summed over ranks first when `dist`."""
    if dist is not None:
        sums = np.array([*totals.values(), seen], dtype=np.float64)
        dist.all_reduce(sums, op="sum")
        totals, seen = dict(zip(totals, sums[:-1].tolist())), float(sums[-1])
    return {k: v / max(seen, 1) for k, v in totals.items()}


def _run_eval(
    model: Any,
    loss_fn: Any,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    metrics: dict[str, Any],
    dist: Any = None,
    rank: int = 0,
    world: int = 1,
) -> dict[str, float]:
    """Mean loss and metrics over (x, y) in eval mode without recording a graph.

    With `dist`, this rank evaluates samples rank, rank + world, ... (no padding) and the
    sums are added over ranks, so every rank gets the mean over all of (x, y).
    """
    was_training = getattr(model, "training", True)
    model.eval()
    if dist is not None:
        x, y = x[rank::world], y[rank::world]
    totals = dict.fromkeys(["loss", *metrics], 0.0)
    try:
        with no_grad():
            for xb, yb in DataLoader(TensorDataset(x, y), batch_size=batch_size):
                out = model(xb)
                n = xb.shape[0]
                totals["loss"] += float(loss_fn(out, yb).item()) * n
                for name, fn in metrics.items():
                    totals[name] += fn(_array(out, name), yb.data) * n
    finally:
        model.train() if was_training else model.eval()
    return _global_means(totals, len(x), dist)


def evaluate(
    model: Any, loss_fn: Any, x: Any, y: Any, batch_size: int = 32, metrics: Sequence[Metric] | None = None
) -> dict[str, float]:
    """Mean loss (and metrics) over a dataset, in eval mode under no_grad: {'loss': ..., 'accuracy': ...}."""
    x, y = _array(x, "evaluate"), _array(y, "evaluate")
    if len(x) != len(y):
        raise ValueError(f"evaluate: x has {len(x)} samples but y has {len(y)}")
    return _run_eval(model, loss_fn, x, y, batch_size, _resolve_metrics(metrics, loss_fn))


def predict(model: Any, x: Any, batch_size: int = 32) -> np.ndarray:
    """The model's outputs for every sample of `x`, batched, in eval mode under no_grad."""
    x = _array(x, "predict")
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        with no_grad():
            outs = [_array(model(Tensor(x[i : i + batch_size])), "predict") for i in range(0, len(x), batch_size)]
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
    sampler: Any = None,
) -> History:
    """Train `model` on (x, y) for `epochs` epochs; returns a `History` of per-epoch logs.

    `validation_split` holds out the last fraction of (x, y) (before any shuffling,
    as Keras does); `validation_data=(x_val, y_val)` takes precedence. Logged keys:
    'loss', each metric, and 'val_'-prefixed versions when there is validation data.
    Training losses and metrics are sample-weighted means over the epoch's batches
    (measured while the weights change, as Keras reports them). `seed` fixes the
    shuffling order. `verbose=1` shows a tqdm bar per epoch (a plain line per epoch on
    stderr when tqdm is not installed); `verbose=0` is silent. `metrics`: see the module
    docstring ("accuracy" follows `loss_fn`). `sampler` (e.g. a `DistributedSampler` over
    the training samples, after `validation_split`) sets the order instead of `shuffle`;
    its `set_epoch` is called before each epoch. Under DDP see the module docstring.
    """
    x, y = _array(x, "fit"), _array(y, "fit")
    if len(x) != len(y):
        raise ValueError(f"fit: x has {len(x)} samples but y has {len(y)}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
    metric_fns = _resolve_metrics(metrics, loss_fn)
    if validation_data is not None:
        x_val, y_val = (_array(a, "fit (validation_data)") for a in validation_data)
    elif validation_split > 0:
        n_val = int(len(x) * validation_split)
        if n_val == 0 or n_val == len(x):
            raise ValueError(f"fit: validation_split={validation_split} of {len(x)} samples leaves an empty split")
        x, x_val, y, y_val = x[:-n_val], x[-n_val:], y[:-n_val], y[-n_val:]
    else:
        x_val = y_val = None

    callbacks = list(callbacks or [])
    dist, rank, world = _distributed(model)
    train_set = TensorDataset(x, y)
    if dist is not None and sampler is None:
        if seed is None and shuffle:  # the ranks must agree on the permutation: take rank 0's
            seed_box = np.array([np.random.default_rng().integers(2**31)], dtype=np.int64)
            dist.broadcast(seed_box, src=0)
            seed = int(seed_box[0])
        sampler = DistributedSampler(train_set, world, rank, shuffle=shuffle, seed=seed or 0)
    if dist is not None and rank != 0:
        verbose = 0
        for cb in callbacks:
            if hasattr(cb, "verbose"):
                cb.verbose = 0
    history = History()
    for cb in callbacks:
        cb.model, cb.optimizer = model, optimizer
        cb.on_train_begin()
    if sampler is not None:
        loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler)
    else:
        loader = DataLoader(train_set, batch_size=batch_size, shuffle=shuffle, seed=seed)
    for epoch in range(epochs):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        model.train()
        totals = dict.fromkeys(["loss", *metric_fns], 0.0)
        seen = 0
        bar = _progress(loader, f"Epoch {epoch + 1}/{epochs}", verbose)
        for batch, (xb, yb) in enumerate(bar):
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            n = xb.shape[0]
            seen += n
            batch_logs = {"loss": float(loss.item())}
            batch_logs.update({name: float(fn(_array(out, name), yb.data)) for name, fn in metric_fns.items()})
            for k, v in batch_logs.items():
                totals[k] += v * n
            for cb in callbacks:
                cb.on_batch_end(batch, batch_logs)
            bar.set_postfix(loss=f"{totals['loss'] / seen:.4f}", refresh=False)
        logs = _global_means(totals, seen, dist)
        if x_val is not None:
            val = _run_eval(model, loss_fn, x_val, y_val, batch_size, metric_fns, dist, rank, world)
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
