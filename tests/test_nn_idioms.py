"""nn's share of issue 11, "NumPy's idioms without silent loss".

- `binary_cross_entropy` differentiates its target, as PyTorch does;
- `fit`'s "accuracy" follows the loss (probabilities, logits or class scores);
- an int one-hot target of `cross_entropy` is refused naming the dtype, not the shape;
- every layer whose math needs floats refuses int/bool/complex input the same way;
- scipy sparse input is refused with "call .toarray()" wherever data enters nn.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core import Tensor
from nn import optim


# ----------------------------------------------------------------------------- 1. BCE's target gradient
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_target_gradient_matches_torch(reduction: str, weighted: bool) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p, t = rng.uniform(0.02, 0.98, (5, 3)), rng.uniform(0, 1, (5, 3))
    w = rng.uniform(0.5, 2.0, (3,)) if weighted else None
    x, target = Tensor(p, requires_grad=True), Tensor(t, requires_grad=True)
    loss = nn.BCELoss(weight=w, reduction=reduction)(x, target)
    g = rng.standard_normal(loss.shape)
    loss.backward(g if reduction == "none" else None)
    tx, tt = torch.tensor(p, requires_grad=True), torch.tensor(t, requires_grad=True)
    ref = torch.nn.BCELoss(weight=None if w is None else torch.tensor(w), reduction=reduction)(tx, tt)
    ref.backward(torch.tensor(g) if reduction == "none" else None)
    np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=1e-12)
    assert target.grad is not None, "the target got no gradient"
    np.testing.assert_allclose(target.grad, tt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10)


def test_bce_target_gradient_is_finite_at_zero_and_one() -> None:
    # PyTorch's target gradient is +-inf here; ours uses the value's clamped logs (-100), so it is finite.
    p, t = np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([0.3, 0.6, 1.0, 0.0, 0.5])
    x, target = Tensor(p, requires_grad=True), Tensor(t, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy(x, target)
        loss.backward()
    log_p, log_1mp = np.array([-100, 0, -100, 0, np.log(0.5)]), np.array([0, -100, 0, -100, np.log(0.5)])
    np.testing.assert_allclose(loss.item(), np.mean(-(t * log_p + (1 - t) * log_1mp)))
    np.testing.assert_allclose(target.grad, (log_1mp - log_p) / 5)
    assert np.isfinite(x.grad).all()


def test_bce_target_gradient_gradchecks_to_second_order() -> None:
    rng = np.random.default_rng(1)
    p, t = rng.uniform(0.1, 0.9, (3, 2)), rng.uniform(0, 1, (3, 2))
    inputs = [Tensor(p, requires_grad=True), Tensor(t, requires_grad=True)]
    assert ag.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=np.array([0.5, 2.0])), inputs)
    assert ag.gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b), inputs)


def test_bce_constant_and_integer_targets_still_work() -> None:
    x = Tensor(np.array([0.2, 0.7, 0.9], np.float32), requires_grad=True)
    for target in ([0, 1, 1], np.array([0, 1, 1]), Tensor(np.array([0.0, 1.0, 1.0], np.float32))):
        loss = F.binary_cross_entropy(x, target)
        assert loss.dtype == np.float32
        np.testing.assert_allclose(loss.item(), -np.mean(np.log([0.8, 0.7, 0.9])), rtol=1e-6)
    with pytest.raises(ValueError, match="target should be between 0 and 1"):
        F.binary_cross_entropy(x, Tensor(np.array([0.0, 2.0, 1.0], np.float32), requires_grad=True))


# ----------------------------------------------------------------------------- 2. accuracy follows the loss
def _fixed(model: nn.Module, weight: float = 1.0) -> nn.Module:
    model.load_state_dict({"0.weight": np.full((1, 1), weight, np.float32), "0.bias": np.zeros(1, np.float32)})
    return model


# Probabilities sigmoid(x) predict [0, 0, 0, 0, 1, 1, 1, 1]; two targets differ: true accuracy 0.75.
X = np.array([[-4.0], [-3.0], [-2.0], [-1.0], [1.0], [2.0], [3.0], [4.0]], np.float32)
Y = np.array([[1], [0], [0], [0], [0], [1], [1], [1]], np.float32)


def _fit_accuracy(model: nn.Module, loss_fn: Any, x: np.ndarray, y: np.ndarray, metric: str = "accuracy") -> float:
    # lr=0: the weights stay as set, so the reported accuracy is exactly the model's.
    hist = nn.fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.0), x, y, batch_size=3, shuffle=False,
                  metrics=[metric], verbose=0)
    ev = nn.evaluate(model, loss_fn, x, y, batch_size=5, metrics=[metric])
    assert hist.history[metric] == [pytest.approx(ev[metric])]
    return ev[metric]


@pytest.mark.parametrize("loss_fn", [nn.BCELoss(), F.binary_cross_entropy, functools.partial(F.binary_cross_entropy)])
def test_accuracy_reads_probabilities_with_bce(loss_fn: Any) -> None:
    model = _fixed(nn.Sequential(nn.Linear(1, 1), nn.Sigmoid()))
    assert _fit_accuracy(model, loss_fn, X, Y) == 0.75  # read as logits (p > 0) it was 0.50


@pytest.mark.parametrize("loss_fn", [nn.BCEWithLogitsLoss(), F.binary_cross_entropy_with_logits])
def test_accuracy_reads_logits_with_bce_with_logits(loss_fn: Any) -> None:
    model = _fixed(nn.Sequential(nn.Linear(1, 1)))
    assert _fit_accuracy(model, loss_fn, X, Y) == 0.75
    assert _fit_accuracy(model, loss_fn, X, Y[:, 0][:, None]) == 0.75


def test_binary_accuracy_is_elementwise_for_multi_label_outputs() -> None:
    model = _fixed(nn.Sequential(nn.Linear(1, 1), nn.Sigmoid()))
    wide = nn.Sequential(model, nn.Flatten(0))  # (N,) outputs with (N,) targets
    assert _fit_accuracy(wide, nn.BCELoss(), X, Y[:, 0]) == 0.75
    out = np.array([[0.9, 0.2], [0.4, 0.6]])
    assert nn.training.binary_accuracy(out, np.array([[1, 1], [0, 1]])) == 0.75


@pytest.mark.parametrize("kind", ["cross_entropy", "nll"])
def test_accuracy_takes_the_argmax_with_cross_entropy_and_nll(kind: str) -> None:
    nn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4)).astype(np.float32)
    layers = [nn.Linear(4, 3)] + ([nn.LogSoftmax(dim=1)] if kind == "nll" else [])
    model = nn.Sequential(*layers)
    y = rng.integers(0, 3, 30)
    expected = np.mean(nn.predict(model, x).argmax(axis=1) == y)
    loss_fn = nn.CrossEntropyLoss() if kind == "cross_entropy" else nn.NLLLoss()
    assert _fit_accuracy(model, loss_fn, x, y) == pytest.approx(expected)
    if kind == "cross_entropy":  # probability targets: compared by their argmax
        assert _fit_accuracy(model, loss_fn, x, np.eye(3, dtype=np.float32)[y]) == pytest.approx(expected)


def test_accuracy_with_an_unknown_loss_is_a_clear_error() -> None:
    model = _fixed(nn.Sequential(nn.Linear(1, 1), nn.Sigmoid()))
    opt = optim.SGD(model.parameters(), lr=0.0)

    def my_loss(out: Tensor, target: Tensor) -> Tensor:
        return ((out - target) ** 2).mean()

    for loss_fn, name in ((my_loss, "my_loss"), (nn.MSELoss(), "MSELoss")):
        with pytest.raises(ValueError, match=rf"'accuracy' follows the loss, and {name} .*'binary_accuracy'"):
            nn.fit(model, loss_fn, opt, X, Y, metrics=["accuracy"], verbose=0)
        with pytest.raises(ValueError, match="categorical_accuracy"):
            nn.evaluate(model, loss_fn, X, Y, metrics=["acc"])
    # Naming the rule works with any loss.
    assert _fit_accuracy(model, my_loss, X, Y, "binary_accuracy") == 0.75
    logits = nn.Sequential(nn.Linear(1, 1))
    _fixed(logits)
    assert _fit_accuracy(logits, my_loss, X, Y, "binary_accuracy_from_logits") == 0.75


def test_accuracy_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"binary_accuracy: .*\(4, 2\).*\(4,\)"):
        nn.training.binary_accuracy(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"categorical_accuracy: .*\(4, 3\).*\(4,\) \(dtype float64\)"):
        nn.training.categorical_accuracy(np.zeros((4, 3)), np.zeros(4))


# ----------------------------------------------------------------------------- 3. int one-hot targets
def test_cross_entropy_int_one_hot_target_names_the_dtype() -> None:
    x = np.random.default_rng(0).standard_normal((128, 10)).astype(np.float32)
    one_hot = np.eye(10, dtype=np.int64)[np.arange(128) % 10]
    with pytest.raises(TypeError) as info:
        nn.CrossEntropyLoss()(x, one_hot)
    message = str(info.value)
    assert "does not match" not in message
    assert "dtype int64" in message and "astype(np.float32)" in message and "argmax(axis=1)" in message
    # Either fix gives PyTorch's value.
    by_index = nn.CrossEntropyLoss()(x, one_hot.argmax(axis=1)).item()
    assert nn.CrossEntropyLoss()(x, one_hot.astype(np.float32)).item() == pytest.approx(by_index, rel=1e-6)
    with pytest.raises(TypeError, match="dtype bool"):
        F.cross_entropy(x, one_hot.astype(bool))
    with pytest.raises(ValueError, match=r"nll_loss: .*looks one-hot.*argmax\(axis=1\)"):
        F.nll_loss(x, one_hot)


def test_cross_entropy_int_probability_target_matches_torch_rule() -> None:
    torch = pytest.importorskip("torch")
    x, t = np.zeros((2, 3), np.float32), np.array([[0, 1, 0], [1, 0, 0]])
    with pytest.raises(RuntimeError, match="floating point"):
        torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t))
    with pytest.raises(TypeError, match="floating point"):
        F.cross_entropy(x, t)


# ----------------------------------------------------------------------------- 4. integer inputs, one rule
def _seq(m: nn.Module, x: Any) -> Any:
    return m(x)[0]


def _attention(m: nn.Module, x: Any) -> Any:
    return m(x, x, x)[0]


# name -> (constructor, input shape, call): every layer whose math needs floats.
FLOAT_LAYERS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], Callable[[nn.Module, Any], Any]]] = {
    "Linear": (lambda: nn.Linear(4, 3), (2, 4), nn.Module.__call__),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3), (2, 2, 5), nn.Module.__call__),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3), (2, 2, 5, 5), nn.Module.__call__),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), (2, 2, 5), nn.Module.__call__),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 2, 4, 4), nn.Module.__call__),
    "AvgPool1d": (lambda: nn.AvgPool1d(2), (2, 2, 5), nn.Module.__call__),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 2, 4, 4), nn.Module.__call__),
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(2), (2, 2, 5), nn.Module.__call__),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(2), (2, 2, 4, 4), nn.Module.__call__),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), (4, 3), nn.Module.__call__),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 2, 2), nn.Module.__call__),
    "LayerNorm": (lambda: nn.LayerNorm(4), (2, 4), nn.Module.__call__),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 3), nn.Module.__call__),
    "Dropout": (lambda: nn.Dropout(0.5), (2, 4), nn.Module.__call__),
    "RNN": (lambda: nn.RNN(4, 3), (5, 2, 4), _seq),
    "GRU": (lambda: nn.GRU(4, 3), (5, 2, 4), _seq),
    "LSTM": (lambda: nn.LSTM(4, 3), (5, 2, 4), _seq),
    "RNNCell": (lambda: nn.RNNCell(4, 3), (2, 4), nn.Module.__call__),
    "GRUCell": (lambda: nn.GRUCell(4, 3), (2, 4), nn.Module.__call__),
    "LSTMCell": (lambda: nn.LSTMCell(4, 3), (2, 4), _seq),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2), (5, 2, 4), _attention),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(4, 2, dim_feedforward=8), (5, 2, 4),
                                nn.Module.__call__),
    "TransformerEncoder": (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, dim_feedforward=8), 2),
                           (5, 2, 4), nn.Module.__call__),
    **{
        name: (lambda name=name: getattr(nn, name)(**({"dim": -1} if "Softmax" in name else {})), (2, 4),
               nn.Module.__call__)
        for name in ["ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax"]
    },
}
# Layers that take any dtype (shape only) or integers only, and bases that are not layers.
NOT_FLOAT = {"Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Flatten", "Embedding", "RNNBase"}


def test_every_layer_is_covered() -> None:
    layers = {name for name, obj in vars(nn).items()
              if isinstance(obj, type) and issubclass(obj, nn.Module) and not name.endswith("Loss")}
    assert layers - NOT_FLOAT == set(FLOAT_LAYERS), "a new layer: add it to FLOAT_LAYERS or NOT_FLOAT"


@pytest.mark.parametrize("name", sorted(FLOAT_LAYERS))
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_float_layers_refuse_integer_input(name: str, dtype: Any, mode: str) -> None:
    make, shape, call = FLOAT_LAYERS[name]
    m = make().train(mode == "train")
    x = np.ones(shape, dtype)
    pattern = (rf"^{name}( \(query\))?: expected a floating-point input, got dtype {np.dtype(dtype)}; "
               rf"convert it first .*x\.astype\(np\.float32\)")
    with pytest.raises(TypeError, match=pattern):
        call(m, x)
    with pytest.raises(TypeError, match=pattern):
        call(m, Tensor(x))
    assert isinstance(call(m, x.astype(np.float32)), Tensor)  # the suggested fix works


@pytest.mark.parametrize("name", sorted(FLOAT_LAYERS))
def test_float_layers_refuse_complex_input(name: str) -> None:
    make, shape, call = FLOAT_LAYERS[name]
    with pytest.raises(TypeError, match=rf"^{name}( \(query\))?: expected a real floating-point .*complex128"):
        call(make(), np.ones(shape, np.complex128))


def test_the_suggested_dtype_is_the_models() -> None:
    with pytest.raises(TypeError, match=r"astype\(np\.float64\)"):
        nn.Linear(2, 3, dtype=np.float64)(np.ones((1, 2), np.int64))
    with pytest.raises(TypeError, match=r"^Sequential > Linear: .*dtype int64"):
        nn.Sequential(nn.Linear(2, 3))(np.ones((1, 2), np.int64))


def test_linear_no_longer_returns_float64_for_int_input() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):  # PyTorch refuses too
        torch.nn.Linear(2, 3)(torch.ones((1, 2), dtype=torch.int64))
    with pytest.raises(TypeError, match="Linear: expected a floating-point input, got dtype int64"):
        nn.Linear(2, 3)(np.ones((1, 2), np.int64))


@pytest.mark.parametrize("fn, args", [
    (F.linear, (np.ones((3, 2), np.float32),)),
    (F.relu, ()), (F.sigmoid, ()), (F.gelu, ()), (F.softmax, (-1,)),
    (F.dropout, (0.5, False)),  # refused in eval mode too: the dtype does not depend on the mode
    (F.layer_norm, (2,)),
])
def test_functional_forms_follow_the_same_rule(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError, match=rf"^{fn.__name__}: expected a floating-point input, got dtype int64"):
        fn(np.ones((4, 2), np.int64), *args)
    with pytest.raises(TypeError, match=r"^max_pool2d: expected a floating-point input"):
        F.max_pool2d(np.ones((1, 1, 4, 4), np.int64), 2)


def test_embedding_takes_integers_only_and_shape_layers_take_anything() -> None:
    emb = nn.Embedding(5, 2)
    assert emb(np.array([1, 4], np.int32)).shape == (2, 2)
    for bad in (np.array([1.0, 2.0]), np.array([True, False])):
        with pytest.raises(TypeError, match=rf"^Embedding: indices must be integers, got dtype {bad.dtype}; "
                                            r".*astype\(np\.int64\)"):
            emb(bad)
    ints = np.arange(6).reshape(2, 3)
    assert nn.Flatten(0)(ints).dtype == np.int64 and nn.Identity()(ints) is ints


# ----------------------------------------------------------------------------- 5. sparse input
def test_sparse_input_is_refused_with_toarray_advice() -> None:
    sparse = pytest.importorskip("scipy.sparse")
    x = sparse.random(20, 3, density=0.5, format="csr", dtype=np.float32, random_state=0)
    y = np.zeros((20, 1), np.float32)
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    calls: dict[str, Callable[[], Any]] = {
        "fit": lambda: nn.fit(model, nn.MSELoss(), opt, x, y, verbose=0),
        "predict": lambda: nn.predict(model, x),
        "evaluate": lambda: nn.evaluate(model, nn.MSELoss(), x, y),
        "TensorDataset": lambda: nn.data.TensorDataset(x, y),
        "DataLoader": lambda: nn.data.DataLoader(x, batch_size=4),
        "Linear": lambda: model(x),
        "fit (validation_data)": lambda: nn.fit(model, nn.MSELoss(), opt, x.toarray(), y,
                                                validation_data=(x, y), verbose=0),
    }
    for where, call in calls.items():
        with pytest.raises(TypeError, match=rf"^{re.escape(where)}: got a scipy sparse matrix \(csr_\w+ of shape "
                                            r"\(20, 3\)\).*call \.toarray\(\)"):
            call()
    # The advice works.
    assert nn.predict(model, x.toarray()).shape == (20, 1)
    rows = [x[i] for i in range(4)]  # a dataset of sparse rows, collated by the DataLoader
    with pytest.raises(TypeError, match=r"DataLoader \(collating a batch\): got a scipy sparse matrix"):
        next(iter(nn.data.DataLoader(rows, batch_size=2)))
