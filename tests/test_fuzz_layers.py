"""Hostile-input fuzzing of every nn layer, activation and loss (issue 7, item 4).

Each call either works (the right output shape, no warning for finite input) or raises
a TypeError/ValueError whose message names the layer. Rule for warnings: finite input,
empty batches included, never warns; non-finite input (NaN, inf) gives NaN/inf results
and may carry NumPy's own floating-point warnings (locate them with ag.detect_anomaly).
Bad constructor arguments are refused at construction, naming the layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from autograd_core import Tensor

ALLOWED = (TypeError, ValueError)


def run(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, set[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out, exc = fn(), None
        except Exception as e:  # noqa: BLE001 (the point is to see any exception)
            out, exc = None, e
    return out, exc, {f"{w.category.__name__}: {w.message}" for w in caught}


def check_refusal(layer: str, exc: BaseException | None) -> None:
    assert exc is not None, f"{layer} accepted a bad input"
    assert isinstance(exc, ALLOWED), f"{layer} raised {type(exc).__name__}: {exc}"
    assert type(exc).__module__ == "builtins", f"{layer} leaked {type(exc).__qualname__}: {exc}"
    assert layer in str(exc), f"message does not name {layer}: {exc}"


# name -> (constructor, good input shape, call) ; every layer of the public API.
def _self_attention(m: nn.Module, x: Any) -> Any:
    return m(x, x, x)[0]


LAYERS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], Callable[[nn.Module, Any], Any]]] = {
    "Linear": (lambda: nn.Linear(4, 3), (2, 4), lambda m, x: m(x)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3), (2, 2, 5), lambda m, x: m(x)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3), (2, 2, 5, 5), lambda m, x: m(x)),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), (2, 2, 5), lambda m, x: m(x)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 2, 5, 5), lambda m, x: m(x)),
    "AvgPool1d": (lambda: nn.AvgPool1d(2), (2, 2, 5), lambda m, x: m(x)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 2, 5, 5), lambda m, x: m(x)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(2), (2, 2, 5, 5), lambda m, x: m(x)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), (4, 3), lambda m, x: m(x)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 2, 2), lambda m, x: m(x)),
    "LayerNorm": (lambda: nn.LayerNorm(4), (2, 4), lambda m, x: m(x)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 3), lambda m, x: m(x)),
    "Dropout": (lambda: nn.Dropout(0.5), (2, 4), lambda m, x: m(x)),
    "Flatten": (lambda: nn.Flatten(), (2, 4, 3), lambda m, x: m(x)),
    "RNN": (lambda: nn.RNN(4, 3), (5, 2, 4), lambda m, x: m(x)[0]),
    "GRU": (lambda: nn.GRU(4, 3), (5, 2, 4), lambda m, x: m(x)[0]),
    "LSTM": (lambda: nn.LSTM(4, 3), (5, 2, 4), lambda m, x: m(x)[0]),
    "RNNCell": (lambda: nn.RNNCell(4, 3), (2, 4), lambda m, x: m(x)),
    "GRUCell": (lambda: nn.GRUCell(4, 3), (2, 4), lambda m, x: m(x)),
    "LSTMCell": (lambda: nn.LSTMCell(4, 3), (2, 4), lambda m, x: m(x)[0]),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2), (5, 2, 4), _self_attention),
    "TransformerEncoderLayer": (
        lambda: nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0), (5, 2, 4), lambda m, x: m(x)
    ),
    **{
        name: (lambda name=name: getattr(nn, name)(**({"dim": -1} if "Softmax" in name else {})), (2, 4),
               lambda m, x: m(x))
        for name in ["ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax"]
    },
}
# Layers whose last axis is a checked feature size (others accept any size there).
FEATURE_CHECKED = {"Linear", "LayerNorm", "RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell",
                   "MultiheadAttention", "TransformerEncoderLayer"}
CHANNEL_CHECKED = {"Conv1d", "Conv2d", "BatchNorm1d", "BatchNorm2d", "GroupNorm"}


@given(name=st.sampled_from(sorted(LAYERS)), dtype=st.sampled_from([np.float32, np.float64]),
       fill=st.sampled_from(["normal", "nan", "inf", "huge"]), batch=st.sampled_from([0, 1, 2]))
def test_layers_on_valid_shapes(name: str, dtype: Any, fill: str, batch: int) -> None:
    make, shape, call = LAYERS[name]
    # The batch axis is axis 1 for sequence-first layers, axis 0 otherwise.
    axis = 1 if name in ("RNN", "GRU", "LSTM", "MultiheadAttention", "TransformerEncoderLayer") else 0
    shape = shape[:axis] + (batch,) + shape[axis + 1:]
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    x = {"normal": x, "nan": np.full(shape, np.nan, dtype), "inf": np.full(shape, np.inf, dtype),
         "huge": x * 1e30}[fill]
    m = make()
    if name.startswith("BatchNorm") and batch == 1:
        m.eval()  # training statistics need more than one value per channel
    out, exc, warned = run(lambda: call(m, x))
    if exc is not None:
        check_refusal(name, exc)
        # Convolutions refuse an input dtype that differs from their weights' (as PyTorch does).
        mismatch = dtype != np.float32 and "dtype" in str(exc)
        # BatchNorm needs more than one value per channel in training, as in PyTorch.
        assert (batch == 0 and name.startswith("BatchNorm")) or mismatch, f"{name} refused a valid input: {exc}"
        return
    assert isinstance(out, Tensor) and out.shape[axis] == batch, f"{name}: output shape {out.shape}"
    if fill == "normal":
        assert not warned, f"{name} warned on finite input: {warned}"
        assert np.isfinite(out.data).all() or batch == 0 and name.startswith("BatchNorm")


BAD_INPUTS = ["drop_axis", "add_axis", "wrong_features", "scalar", "int", "bool", "complex", "float16",
              "none", "string", "object"]


def _bad(kind: str, shape: tuple[int, ...]) -> Any:
    x = np.ones(shape, np.float32)
    return {
        "drop_axis": x[..., 0], "add_axis": x[..., None], "wrong_features": np.ones(shape[:-1] + (shape[-1] + 1,)),
        "scalar": np.float32(1.0), "int": x.astype(np.int64), "bool": x.astype(bool),
        "complex": x.astype(np.complex128), "float16": x.astype(np.float16), "none": None, "string": "abc",
        "object": x.astype(object),
    }[kind]


@given(name=st.sampled_from(sorted(LAYERS)), kind=st.sampled_from(BAD_INPUTS))
def test_layers_on_bad_inputs(name: str, kind: str) -> None:
    make, shape, call = LAYERS[name]
    out, exc, warned = run(lambda: call(make(), _bad(kind, shape)))
    if exc is not None:
        check_refusal(name, exc)
        return
    # Accepting is fine where the input is still meaningful; these never are.
    assert kind not in ("none", "string", "object"), f"{name} accepted {kind} input"
    # Complex input may be computed with, never silently cast to real.
    assert not any(w.startswith("ComplexWarning") for w in warned), f"{name} dropped an imaginary part"
    if kind == "wrong_features":
        assert name not in FEATURE_CHECKED, f"{name} accepted a wrong feature size, gave {out.shape}"
    assert isinstance(out, Tensor)


def test_linear_wrong_in_features_message_names_layer_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"Linear.*\(2, 3\).*in_features=4"):
        nn.Linear(4, 5)(np.ones((2, 3), np.float32))


@pytest.mark.parametrize("name", sorted(CHANNEL_CHECKED))
def test_wrong_channel_count_is_refused(name: str) -> None:
    make, shape, call = LAYERS[name]
    bad = np.ones((shape[0], shape[1] + 2) + shape[2:], np.float32)
    _, exc, _ = run(lambda: call(make(), bad))
    check_refusal(name, exc)


BAD_CONSTRUCTORS: list[tuple[str, Callable[[], Any]]] = [
    ("Linear", lambda: nn.Linear(-1, 3)), ("Linear", lambda: nn.Linear("a", 3)),
    ("Linear", lambda: nn.Linear(2.5, 3)), ("Linear", lambda: nn.Linear(None, 3)),
    ("Conv1d", lambda: nn.Conv1d(2, 3, 3, padding="bogus")), ("Conv2d", lambda: nn.Conv2d(2, 3, 3, stride=0)),
    ("Conv2d", lambda: nn.Conv2d(-2, 4, 3)), ("Conv2d", lambda: nn.Conv2d("a", 4, 3)),
    ("Conv1d", lambda: nn.Conv1d(2, 0, 3)), ("Conv2d", lambda: nn.Conv2d(2, 4, 0)),
    ("Conv2d", lambda: nn.Conv2d(3, 4, 3, groups=2)), ("Conv2d", lambda: nn.Conv2d(2, 4, 3, padding=-1)),
    ("MaxPool2d", lambda: nn.MaxPool2d(0)), ("MaxPool2d", lambda: nn.MaxPool2d(2, padding=2)),
    ("MaxPool1d", lambda: nn.MaxPool1d(2, stride=0)), ("AvgPool1d", lambda: nn.AvgPool1d(-1)),
    ("AvgPool2d", lambda: nn.AvgPool2d((2, 2, 2))),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(0)), ("BatchNorm1d", lambda: nn.BatchNorm1d(-3)),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3, momentum=-1)), ("BatchNorm2d", lambda: nn.BatchNorm2d(3, eps=-1)),
    ("LayerNorm", lambda: nn.LayerNorm(-1)), ("LayerNorm", lambda: nn.LayerNorm((2, -1))),
    ("LayerNorm", lambda: nn.LayerNorm("a")), ("GroupNorm", lambda: nn.GroupNorm(3, 4)),
    ("GroupNorm", lambda: nn.GroupNorm(0, 4)),
    ("Dropout", lambda: nn.Dropout(-0.1)), ("Dropout", lambda: nn.Dropout(1.5)), ("Dropout", lambda: nn.Dropout("a")),
    ("Embedding", lambda: nn.Embedding(-1, 3)), ("Embedding", lambda: nn.Embedding(5, 3, padding_idx=7)),
    ("Embedding", lambda: nn.Embedding(5, "a")),
    ("RNN", lambda: nn.RNN(4, 0)), ("RNN", lambda: nn.RNN(4, 3, num_layers=0)),
    ("RNN", lambda: nn.RNN(4, 3, nonlinearity="bogus")), ("LSTM", lambda: nn.LSTM(-4, 3)),
    ("LSTM", lambda: nn.LSTM("4", 3)), ("GRU", lambda: nn.GRU(4, 3, dropout=2.0)),
    ("GRUCell", lambda: nn.GRUCell(4, "3")), ("LSTMCell", lambda: nn.LSTMCell(0, 3)),
    ("MultiheadAttention", lambda: nn.MultiheadAttention(4, 0)),
    ("MultiheadAttention", lambda: nn.MultiheadAttention(5, 2)),
    ("MultiheadAttention", lambda: nn.MultiheadAttention(-4, 2)),
    ("MultiheadAttention", lambda: nn.MultiheadAttention(4, 2, dropout=-1)),
    ("MultiheadAttention", lambda: nn.TransformerEncoderLayer(5, 2)),
    ("TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(4, 0)),
    ("TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(4, 2, activation="bogus")),
    ("TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(4, 2, dim_feedforward=-1)),
    ("LeakyReLU", lambda: nn.LeakyReLU("a")), ("ELU", lambda: nn.ELU(alpha="x")),
    ("GELU", lambda: nn.GELU(approximate="bogus")), ("Softmax", lambda: nn.Softmax()),
    ("HuberLoss", lambda: nn.HuberLoss(delta=-1)), ("HuberLoss", lambda: nn.HuberLoss(delta=0)),
    ("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(label_smoothing=2.0)),
    *[(cls, lambda cls=cls: getattr(nn, cls)(reduction="bogus"))
      for cls in ["MSELoss", "L1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"]],
]


@pytest.mark.parametrize(("name", "make"), BAD_CONSTRUCTORS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_CONSTRUCTORS)])
def test_bad_constructor_arguments_are_refused(name: str, make: Callable[[], Any]) -> None:
    _, exc, _ = run(make)
    check_refusal(name, exc)


def test_softmax_on_a_bad_dim_names_the_layer() -> None:
    _, exc, _ = run(lambda: nn.Softmax(dim=5)(np.ones((2, 3), np.float32)))
    check_refusal("Softmax", exc)


# ----------------------------------------------------------------- losses
ELEMENTWISE_LOSSES = ["MSELoss", "L1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss"]


@given(name=st.sampled_from(ELEMENTWISE_LOSSES), reduction=st.sampled_from(["mean", "sum", "none"]),
       shape=st.sampled_from([(0,), (2, 3), (0, 3), ()]), fill=st.sampled_from(["normal", "nan"]))
def test_elementwise_losses_on_valid_inputs(name: str, reduction: str, shape: tuple[int, ...], fill: str) -> None:
    x = np.full(shape, 0.3 if fill == "normal" else np.nan, np.float32)
    t = np.full(shape, 0.7, np.float32)
    out, exc, warned = run(lambda: getattr(nn, name)(reduction=reduction)(x, t))
    if name == "BCELoss" and fill == "nan" and 0 not in shape:  # NaN is not a probability: refused, as in PyTorch
        check_refusal(name, exc)
        return
    assert exc is None, f"{name} refused a valid input: {exc}"
    assert out.shape == (shape if reduction == "none" else ())
    if fill == "normal":
        assert not warned, f"{name} warned on finite input: {warned}"
    if reduction == "mean" and 0 in shape:
        assert np.isnan(out.item()), "the mean over an empty batch is NaN, as in PyTorch"


@given(name=st.sampled_from(ELEMENTWISE_LOSSES),
       pair=st.sampled_from(["transposed", "wrong_size", "none", "string", "complex"]))
def test_elementwise_losses_on_bad_inputs(name: str, pair: str) -> None:
    x = np.full((2, 3), 0.3, np.float32)
    t = {"transposed": np.full((3, 2), 0.5), "wrong_size": np.full((2, 4), 0.5), "none": None, "string": "a",
         "complex": np.full((2, 3), 0.5 + 1j)}[pair]
    _, exc, _ = run(lambda: getattr(nn, name)()(x, t))
    check_refusal(name, exc)


@given(name=st.sampled_from(["CrossEntropyLoss", "NLLLoss"]),
       target=st.sampled_from(["out_of_range", "negative", "float", "too_long", "none", "string", "2d_mismatch"]))
def test_class_losses_on_bad_targets(name: str, target: str) -> None:
    x = np.zeros((2, 3), np.float32)
    t = {"out_of_range": np.array([0, 5]), "negative": np.array([0, -5]), "float": np.array([0.5, 1.0]),
         "too_long": np.array([0, 1, 2]), "none": None, "string": np.array(["a", "b"]),
         "2d_mismatch": np.zeros((2, 4), np.int64)}[target]
    out, exc, _ = run(lambda: getattr(nn, name)()(x, t))
    assert exc is not None, f"{name} accepted target {target}: {out}"
    if isinstance(exc, IndexError):  # a class index out of range is an IndexError, as in PyTorch
        assert type(exc) is IndexError and "out of bounds" in str(exc), exc
        return
    check_refusal(name, exc)


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss"])
def test_class_losses_on_an_empty_batch(name: str) -> None:
    out, exc, warned = run(lambda: getattr(nn, name)()(np.zeros((0, 3), np.float32), np.zeros(0, np.int64)))
    assert exc is None and not warned, (exc, warned)
    assert np.isnan(out.item())


@given(index=st.sampled_from([np.array([0, 5]), np.array([-1]), np.array([0.5]), np.array(["a"]), None, 1.5,
                              np.array([[1, 2]]), np.array([], np.int64)]))
def test_embedding_indices(index: Any) -> None:
    e = nn.Embedding(5, 3)
    out, exc, _ = run(lambda: e(index))
    if exc is not None:
        assert isinstance(exc, (*ALLOWED, IndexError)) and "mbedding" in str(exc), repr(exc)
        return
    arr = np.asarray(index)
    assert arr.dtype.kind in "iu" and (arr >= 0).all() and (arr < 5).all()
    assert out.shape == arr.shape + (3,)
