"""NumPy dispatch: plain NumPy code on Tensors keeps the gradient, or refuses loudly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor


def sigmoid(x: Any) -> Any:
    """Written for arrays, as in the seed code."""
    return 1 / (1 + np.exp(-x))


def leaf(shape: tuple[int, ...], seed: int = 0) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_seed_style_sigmoid_differentiates_unchanged() -> None:
    x = leaf((3, 4))
    y = sigmoid(x)
    assert isinstance(y, Tensor) and y.requires_grad
    s = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(y.data, s, rtol=1e-14)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, s * (1 - s), rtol=1e-12)
    assert ag.gradcheck(sigmoid, [leaf((2, 3), 1)])
    assert ag.gradgradcheck(sigmoid, [leaf((3,), 2)])


B = np.random.default_rng(7).standard_normal((4, 2))
MASK = np.random.default_rng(8).random((3, 4)) > 0.5

NUMPY_CALLS: dict[str, Callable[[Any], Any]] = {
    "maximum": lambda x: np.maximum(x, 0) * np.minimum(x, 0.5),
    "dot": lambda x: np.dot(x, B),
    "sum-axis": lambda x: np.sum(x, axis=1),
    "sum-tuple-keepdims": lambda x: np.sum(x * x, axis=(0, -1), keepdims=True),
    "mean": lambda x: np.mean(x, axis=0) + np.mean(x),
    "where": lambda x: np.where(MASK, x, x * x),
    "concatenate": lambda x: np.concatenate([x, 2 * x[:1]], axis=0),
    "ndarray-plus-tensor": lambda x: B[:3] + x[:, :2] ** 2 - B[:1],
    "ndarray-matmul-tensor": lambda x: B.T @ x.T,
    "ufuncs": lambda x: np.tanh(x) + np.sqrt(np.exp(x)) - np.log1p(x * x) + np.abs(x) * np.sin(x) / np.cos(x / 4),
    "reshape-transpose": lambda x: np.transpose(np.reshape(x, (2, 6)))[::2],
    "einsum": lambda x: np.einsum("ij,jk->ik", x, B),
    "stack-max": lambda x: np.max(np.stack([x, -x], axis=-1), axis=-1),
    "var-std": lambda x: np.var(x, axis=0) + np.std(x, axis=1, ddof=1).sum(),
    "clip": lambda x: np.clip(x, -0.5, 0.5) + np.clip(x, a_min=0.2, a_max=None),
}


@pytest.mark.parametrize("name", sorted(NUMPY_CALLS))
def test_numpy_functions_on_tensors_keep_the_gradient(name: str) -> None:
    fn = NUMPY_CALLS[name]
    x = leaf((3, 4))
    x.data[np.abs(x.data) < 0.05] = 0.3  # keep maximum/abs/clip away from their kinks
    x.data[np.abs(np.abs(x.data) - 0.5) < 0.05] = 0.3
    x.data[np.abs(x.data - 0.2) < 0.05] = 0.3
    y = fn(x)
    assert isinstance(y, Tensor) and y.requires_grad
    np.testing.assert_allclose(y.data, fn(x.data), rtol=1e-12)
    assert ag.gradcheck(fn, [x])


def test_ndarray_operators_with_tensor_on_the_right() -> None:
    x = leaf((2, 4))
    a = np.arange(8.0).reshape(2, 4)
    for y in (a + x, a - x, a * x, a / (x * x + 1), a @ x.T, a**0 * x):
        assert isinstance(y, Tensor) and y.requires_grad
    (a * x).sum().backward()
    np.testing.assert_array_equal(x.grad, a)


def test_numpy_value_queries_work_on_tensors() -> None:
    x = leaf((2, 3))
    assert np.shape(x) == (2, 3) and np.ndim(x) == 2 and np.size(x) == 6
    assert np.allclose(x, x.data)
    assert isinstance(np.zeros_like(x), Tensor) and not np.zeros_like(x).requires_grad


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda x: np.fft.fft(x), "fft"),
        (lambda x: np.histogram(x), "histogram"),
        (lambda x: np.add.reduce(x), "add.reduce"),
        (lambda x: np.interp(x, [0.0, 1.0], [1.0, 2.0]), "interp"),
        (lambda x: np.gradient(x), "gradient"),
    ],
    ids=["fft.fft", "histogram", "add.reduce", "interp", "gradient"],
)
def test_numpy_function_without_rule_raises_type_error_naming_it(call: Callable[[Any], Any], name: str) -> None:
    with pytest.raises(TypeError, match=name.replace(".", r"\.")):
        call(leaf((3,)))


def test_ufunc_keyword_arguments_are_refused() -> None:
    x = leaf((3,))
    with pytest.raises(TypeError, match="add"):
        np.add(x, 1, out=np.empty(3))
