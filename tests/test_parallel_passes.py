"""autograd_core.kernels: the engine's non-BLAS passes split over threads give the one-thread results.

Each test runs a computation at 1 thread and at 2, asserts that the 2-thread run really
split its work (a counter on the kernels' `parallel_for`) and that the results are equal,
bit for bit: every split cuts an axis no reduction runs over, so each element is computed
by the same operations in the same order either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core import kernels
from nn import functional as F
from nn.functional.attention import masked_softmax

# Big enough that a single simple pass splits in two: the elements of the test arrays.
BIG = kernels.SPLIT_MIN + 4096


@pytest.fixture
def splits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the kernels' pool runs; restores the thread count afterwards.

    Whether BLAS's idle threads spin depends on the environment the tests run in, so the
    gate is opened here (it has a test of its own below).
    """
    calls: list[int] = []
    real = kernels.parallel_for
    monkeypatch.setattr(kernels, "blas_spins", lambda: False)

    def counting(n: int, body: Callable[[int, int], None], workers: int) -> None:
        calls.append(workers)
        real(n, body, workers)

    monkeypatch.setattr(kernels, "parallel_for", counting)
    previous = ag.get_num_threads()
    yield calls
    ag.set_num_threads(previous)


def _at(threads: int, splits: list[int], fn: Callable[[], Any]) -> tuple[Any, int]:
    """fn() run with `threads` threads, and how many pool runs it made."""
    ag.set_num_threads(threads)
    before = len(splits)
    out = fn()
    return out, len(splits) - before


def _same(fn: Callable[[], Any], splits: list[int]) -> None:
    """fn at 1 and 2 threads: only the 2-thread run splits, and every array it returns is equal."""
    serial, n1 = _at(1, splits, fn)
    split, n2 = _at(2, splits, fn)
    assert n1 == 0, "one thread must not touch the pool"
    assert n2 > 0, "the 2-thread run did not split: the test arrays no longer take the parallel path"
    for a, b in zip(serial, split, strict=True):
        np.testing.assert_array_equal(a, b)


def _grads(make: Callable[[list[ag.Tensor]], ag.Tensor], *arrays: np.ndarray, seed: int = 0) -> Callable[[], Any]:
    """A function returning (forward value, gradient of each input) for a random upstream gradient."""

    def run() -> list[np.ndarray]:
        xs = [ag.Tensor(a, requires_grad=True) for a in arrays]
        y = make(xs)
        g = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
        y.backward(g)
        return [y.data] + [x.grad for x in xs]

    return run


def _normal(*shape: int, seed: int = 0, dtype: Any = np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- elementwise
@pytest.mark.parametrize("op", [ag.relu, ag.tanh, ag.sigmoid, ag.exp, ag.sin])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_unary_forward_and_gradient(op: Callable[[Any], ag.Tensor], layout: str, splits: list[int]) -> None:
    x = _normal(16, BIG // 16)
    x = x if layout == "contiguous" else np.ascontiguousarray(x.T).T  # same shape, Fortran order
    _same(_grads(lambda xs: op(xs[0]), x), splits)


def test_gradient_of_a_sum_arrives_broadcast(splits: list[int]) -> None:
    def run() -> list[np.ndarray]:
        x = ag.Tensor(_normal(8, BIG // 8), requires_grad=True)
        ag.sigmoid(ag.tanh(ag.relu(x))).sum().backward()  # the gradient enters as a broadcast view
        return [x.grad]

    _same(run, splits)


@pytest.mark.parametrize("op", [ag.add, ag.subtract, ag.multiply, ag.divide, ag.maximum])
def test_binary_broadcast_forward_and_gradients(op: Callable[[Any, Any], ag.Tensor], splits: list[int]) -> None:
    a = _normal(8, 16, BIG // 128)
    b = np.abs(_normal(1, 16, 1, seed=1)) + 0.5
    _same(_grads(lambda xs: op(xs[0], xs[1]), a, b), splits)
    _same(_grads(lambda xs: op(xs[0], xs[1]), a, _normal(*a.shape, seed=2) + 3.0), splits)


def test_binary_with_a_python_scalar(splits: list[int]) -> None:
    a = _normal(BIG)
    _same(_grads(lambda xs: (xs[0] * 0.5 + 1.0) / 3.0, a), splits)


# ----------------------------------------------------------------------------- softmax family
@pytest.mark.parametrize("axis", [-1, 1, (1, 2)])
@pytest.mark.parametrize("op", [ag.softmax, ag.log_softmax])
def test_softmax_forward_and_gradient(op: Callable[..., ag.Tensor], axis: Any, splits: list[int]) -> None:
    x = _normal(32, 8, BIG // 256) * 4
    _same(_grads(lambda xs: op(xs[0], axis=axis), x), splits)


def test_masked_softmax_with_masks(splits: list[int]) -> None:
    scores = _normal(16, 4, 64, BIG // (16 * 4 * 64) + 1)
    keep = np.tril(np.ones(scores.shape[-2:], dtype=bool))  # broadcast over batch and heads
    keep_batch = np.random.default_rng(3).random((16, 1, 1, scores.shape[-1])) > 0.3
    _same(_grads(lambda xs: masked_softmax(xs[0], keep, scale=0.25), scores), splits)
    _same(_grads(lambda xs: masked_softmax(xs[0], keep_batch), scores), splits)


def test_multi_head_attention(splits: list[int]) -> None:
    x = _normal(32, 64, 64)
    mha = nn.MultiheadAttention(64, 4, batch_first=True)

    def run() -> list[np.ndarray]:
        mha.zero_grad()
        xt = ag.Tensor(x, requires_grad=True)
        out, w = mha(xt, xt, xt)
        (out.sum() + w.sum()).backward()
        return [out.data, w.data, xt.grad] + [p.grad for p in mha.parameters()]

    _same(run, splits)


@pytest.mark.parametrize("shape", [(BIG // 10, 10), (8, 10, BIG // 80)])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy(shape: tuple[int, ...], reduction: str, splits: list[int]) -> None:
    x = _normal(*shape) * 3
    target = np.random.default_rng(1).integers(0, 10, (shape[0],) + shape[2:])
    target.flat[::7] = -100  # some ignored samples
    _same(_grads(lambda xs: F.cross_entropy(xs[0], target, reduction=reduction), x), splits)


# ----------------------------------------------------------------------------- products
def test_batched_matmul_of_small_matrices(splits: list[int]) -> None:
    a, b = _normal(64, 8, 32, 32), _normal(64, 8, 32, 32, seed=1)
    _same(_grads(lambda xs: xs[0] @ xs[1], a, b), splits)
    _same(_grads(lambda xs: xs[0] @ xs[1].swapaxes(-1, -2), a, b), splits)  # transposed operands


def test_batched_matmul_broadcast_operand(splits: list[int]) -> None:
    a, b = _normal(512, 32, 32), _normal(32, 32, seed=1)
    _same(_grads(lambda xs: xs[0] @ xs[1], a, b), splits)


def test_large_products_stay_with_blas(splits: list[int]) -> None:
    ag.set_num_threads(2)
    a, b = _normal(4, 256, 256), _normal(4, 256, 256, seed=1)
    before = len(splits)
    np.testing.assert_array_equal(kernels.matmul(a, b), np.matmul(a, b))
    assert len(splits) == before


# ----------------------------------------------------------------------------- nn layers
@pytest.mark.parametrize("stride, nan", [(2, False), (1, False), (2, True)])
def test_max_pool(stride: int, nan: bool, splits: list[int]) -> None:
    x = _normal(32, 16, 56, 56)
    if nan:
        x[3, 2, 5, 7] = x[20, 0, 0, 0] = np.nan
    _same(_grads(lambda xs: F.max_pool2d(xs[0], 2, stride=stride), x), splits)


@pytest.mark.parametrize("norm", ["batch", "layer", "group"])
def test_normalization(norm: str, splits: list[int]) -> None:
    x = _normal(32, 16, 48, 48) * 2 + 1
    w, b = _normal(16, seed=1), _normal(16, seed=2)

    def make(xs: list[ag.Tensor]) -> ag.Tensor:
        if norm == "batch":
            return F.batch_norm(xs[0], None, None, xs[1], xs[2], training=True)
        if norm == "layer":
            return F.layer_norm(xs[0], (48, 48))
        return F.group_norm(xs[0], 4, xs[1], xs[2])

    _same(_grads(make, x, w, b) if norm != "layer" else _grads(make, x), splits)


@pytest.mark.parametrize("optimizer", [nn.optim.SGD, nn.optim.Adam, nn.optim.RMSprop, nn.optim.Adagrad])
def test_optimizer_updates(optimizer: Any, splits: list[int]) -> None:
    shapes = [(2048, 512), (512,), (512, 256), (256,), (256, 10), (10,)]

    def run() -> list[np.ndarray]:
        params = [nn.Parameter(_normal(*s, seed=i)) for i, s in enumerate(shapes)]
        opt = optimizer(params, lr=0.01, momentum=0.9) if optimizer is nn.optim.SGD else optimizer(params, lr=0.01)
        for step in range(3):
            for i, p in enumerate(params):
                p.grad = _normal(*p.shape, seed=10 * step + i)
            opt.step()
        return [p.data for p in params]

    _same(run, splits)


# ----------------------------------------------------------------------------- the mechanism
def test_an_exception_in_a_block_propagates(splits: list[int]) -> None:
    ag.set_num_threads(2)
    out = np.empty(BIG, np.float32)

    def kernel(o: np.ndarray, x: np.ndarray) -> None:
        if o.shape[0] < BIG:  # only the blocks of a split
            raise ValueError("boom in a block")

    with pytest.raises(ValueError, match="boom in a block"):
        kernels.pointwise(kernel, out, np.zeros(BIG, np.float32))
    assert splits


def test_blocks_run_under_the_callers_error_state(splits: list[int]) -> None:
    x = -np.ones(BIG, np.float32)
    ag.set_num_threads(2)
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        ag.log(ag.Tensor(x))
    with np.errstate(invalid="ignore"):
        assert np.isnan(ag.log(ag.Tensor(x)).data).all()
    assert splits


def test_small_arrays_do_not_reach_the_kernels(splits: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    real = kernels.workers
    monkeypatch.setattr(kernels, "workers", lambda work: asked.append(work) or real(work))
    ag.set_num_threads(2)
    x = ag.Tensor(_normal(8, 8), requires_grad=True)
    y = x
    for _ in range(5):
        y = ag.sigmoid(ag.exp(ag.tanh(y * 0.9 + 0.5)) * 0.3)
    (ag.softmax(y, axis=-1) @ x).sum().backward()
    F.cross_entropy(x, np.arange(8)).backward()
    assert not splits and not asked


def test_no_split_while_blas_threads_spin(splits: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "blas_spins", lambda: True)
    ag.set_num_threads(2)
    x = ag.Tensor(_normal(BIG), requires_grad=True)
    ag.softmax(ag.relu(x) * 2.0, axis=0).sum().backward()
    assert not splits


def test_blas_spins_reads_the_openblas_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    class Lib:
        internal_api, threading_layer, num_threads = "openblas", "pthreads", 2

    monkeypatch.setattr(kernels, "blas_controllers", lambda: [Lib()])
    for timeout, spins in (("", True), ("28", True), ("4", False), ("16", False), ("0", True)):
        monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", timeout)
        monkeypatch.setattr(kernels, "_spin_log2", [])
        assert kernels.blas_spins() is spins, timeout
    Lib.num_threads = 1
    assert not kernels.blas_spins()


def test_one_thread_never_splits(splits: list[int]) -> None:
    ag.set_num_threads(1)
    x = ag.Tensor(_normal(BIG), requires_grad=True)
    ag.softmax(ag.relu(x) * 2.0, axis=0).sum().backward()
    assert not splits
