"""The engine: deep graphs, graph release, retain_graph, errors, grad mode, higher order, dtypes."""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor

F32 = np.float32


def leaf(values: object, dtype: object = np.float64) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


# ----------------------------------------------------------------- depth and memory
def test_chain_of_200k_ops_backpropagates_without_recursion() -> None:
    x = leaf(0.5)
    y = x
    for i in range(200_000):
        y = y * 1.0 if i % 2 else y + 1e-6  # derivative exactly 1 along the whole chain
    y.backward()
    assert x.grad == 1.0


def test_backward_frees_saved_intermediates() -> None:
    x = leaf(np.ones(1000))
    hidden = x.exp()
    alive = weakref.ref(hidden)
    out = (hidden * 2).tanh().sum()
    del hidden
    assert alive() is not None  # the graph holds it until backward
    out.backward()
    assert alive() is None  # freed by reference counting alone: no cycles were left
    assert out.parents == ()


def test_retain_graph_keeps_intermediates_and_allows_second_backward() -> None:
    x = leaf([1.0, 2.0])
    hidden = x * x
    alive = weakref.ref(hidden)
    out = hidden.sum()
    del hidden
    out.backward(retain_graph=True)
    assert alive() is not None
    out.backward()  # accumulates
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_second_backward_through_freed_graph_names_retain_graph() -> None:
    x = leaf([1.0, 2.0])
    out = (x * x).sum()
    out.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        out.backward()


# ----------------------------------------------------------------- backward's contract
def test_backward_without_grad_needs_one_element() -> None:
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"one element.*\(2,\)"):
        y.backward()


def test_backward_grad_shape_mismatch_is_value_error() -> None:
    y = leaf([[1.0, 2.0]]) * 2
    with pytest.raises(ValueError, match=r"\(2,\).*\(1, 2\)"):
        y.backward(np.ones(2))


def test_backward_accepts_tensor_and_list_grads() -> None:
    x = leaf([1.0, 2.0])
    (x * 3).backward(Tensor(np.array([1.0, 0.5])))
    (x * 3).backward([2.0, 0.0])
    np.testing.assert_array_equal(x.grad, [9.0, 1.5])


def test_leaves_not_requiring_grad_get_no_grad() -> None:
    x, c = leaf([1.0, 2.0]), Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_grad_accumulates_across_backward_calls() -> None:
    x = leaf([1.0, -1.0])
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 1.0])


def test_non_leaf_gets_no_grad_unless_retained() -> None:
    x = leaf([1.0, 2.0])
    h = x * 2
    k = (x * 3).retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(k.grad, h.data)


# ----------------------------------------------------------------- grad mode
def test_no_grad_and_enable_grad_as_context_managers() -> None:
    x = leaf(1.0)
    with ag.no_grad():
        assert not ag.is_grad_enabled()
        y = x * 2
        with ag.enable_grad():
            z = x * 2
        w = x * 2
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and not w.requires_grad
    assert z.requires_grad and not z.is_leaf


def test_no_grad_and_enable_grad_as_decorators() -> None:
    @ag.no_grad()
    def frozen(t: Tensor) -> Tensor:
        return t * 2

    @ag.enable_grad()
    def recorded(t: Tensor) -> Tensor:
        return t * 2

    x = leaf(1.0)
    assert not frozen(x).requires_grad
    with ag.no_grad():
        assert recorded(x).requires_grad
        assert not ag.is_grad_enabled()  # the decorator restored the mode
    assert ag.is_grad_enabled()


def test_grad_mode_is_per_thread() -> None:
    inside, release = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def worker() -> None:
        with ag.no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = ag.is_grad_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(5)
    try:
        assert ag.is_grad_enabled()  # the other thread's no_grad does not reach this one
        assert (leaf(1.0) * 2).requires_grad
    finally:
        release.set()
        thread.join(5)
    assert seen == {"worker": False}


# ----------------------------------------------------------------- ag.grad and higher order
def test_hessian_vector_product_of_quadratic_form() -> None:
    rng = np.random.default_rng(0)
    a, v = rng.standard_normal((4, 4)), rng.standard_normal(4)
    x = leaf(rng.standard_normal(4))
    f = x @ Tensor(a) @ x
    (g,) = ag.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.data, (a + a.T) @ x.data, rtol=1e-12)
    assert g.requires_grad
    (hv,) = ag.grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.data, (a + a.T) @ v, rtol=1e-12)
    assert x.grad is None  # ag.grad returns gradients instead of storing them


def test_second_derivative_of_tanh() -> None:
    x = leaf(np.linspace(-2, 2, 7))
    (d1,) = ag.grad(x.tanh().sum(), x, create_graph=True)
    (d2,) = ag.grad(d1.sum(), x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(d1.data, 1 - t**2, rtol=1e-12)
    np.testing.assert_allclose(d2.data, -2 * t * (1 - t**2), rtol=1e-10, atol=1e-14)


def test_third_derivative_through_nested_create_graph() -> None:
    x = leaf([0.3, -1.2])
    (d1,) = ag.grad((x**4).sum(), x, create_graph=True)
    (d2,) = ag.grad(d1.sum(), x, create_graph=True)
    (d3,) = ag.grad(d2.sum(), x)
    np.testing.assert_allclose(d3.data, 24 * x.data, rtol=1e-12)


def test_gradient_penalty_is_differentiable() -> None:
    rng = np.random.default_rng(1)
    x = leaf(rng.standard_normal((3, 2)))

    def penalty(w: Tensor) -> Tensor:
        (gx,) = ag.grad(ag.tanh(x @ w).sum(), x, create_graph=True)
        return (((gx * gx).sum(axis=1) - 1.0) ** 2).mean()

    w = leaf(rng.standard_normal((2, 4)))
    penalty(w).backward()
    assert w.grad is not None and w.grad.shape == (2, 4)
    assert ag.gradcheck(penalty, [w])


def test_grad_allow_unused() -> None:
    x, unused = leaf([1.0, 2.0]), leaf([3.0])
    out = (x * x).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        ag.grad(out, [x, unused], retain_graph=True)
    gx, gu = ag.grad(out, [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx.data, [2.0, 4.0])
    assert gu is None


def test_grad_with_several_outputs_and_grad_outputs() -> None:
    x = leaf([1.0, 2.0])
    (g,) = ag.grad([x * 2, (x * x).sum()], x, grad_outputs=[np.array([1.0, -1.0]), np.array(0.5)])
    np.testing.assert_array_equal(g.data, [2.0 + 1.0, -2.0 + 2.0])


def test_grad_of_input_not_requiring_grad_is_an_error() -> None:
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="input 1"):
        ag.grad((x * 2).sum(), [x, Tensor(np.ones(1))])


# ----------------------------------------------------------------- dtypes
def test_float32_stays_float32_through_a_composite_function() -> None:
    rng = np.random.default_rng(2)
    x = leaf(rng.standard_normal((4, 3)), F32)
    w = leaf(rng.standard_normal((3, 5)), F32)
    b = leaf(rng.standard_normal(5), F32)
    h = ag.tanh(x @ w + b)
    loss = (h.log_softmax(axis=-1) * 0.5).mean() + ag.sigmoid(h).max() + (h**2).var(ddof=1) / 3
    assert h.dtype == F32 and loss.dtype == F32
    loss.backward()
    for t in (x, w, b):
        assert t.grad.dtype == F32 and t.grad.shape == t.shape
    (gw,) = ag.grad((x @ w).sum() * 2.5, w, create_graph=True)
    assert gw.dtype == F32


def test_integer_tensors_cannot_require_grad() -> None:
    with pytest.raises(TypeError, match="floating"):
        Tensor(np.arange(3), requires_grad=True)
    t = Tensor([1, 2])
    with pytest.raises(TypeError):
        t.requires_grad = True
    assert t.dtype.kind == "i"


def test_python_floats_take_the_default_float32() -> None:
    assert Tensor(1.5).dtype == F32
    assert Tensor([1.0, 2.0]).dtype == F32
    assert Tensor(np.array([1.0])).dtype == np.float64  # arrays keep their dtype
    assert Tensor(3).dtype.kind == "i"
    assert (leaf([1.0], F32) * 2.5).dtype == F32  # Python scalars do not upcast


def test_set_default_dtype_float64(float64_default: None) -> None:
    assert ag.get_default_dtype() == np.float64
    assert Tensor(1.5).dtype == np.float64
    assert Tensor([[1.0, 2.0]]).dtype == np.float64


def test_set_default_dtype_rejects_non_floats() -> None:
    with pytest.raises(TypeError):
        ag.set_default_dtype(np.int32)
    assert ag.get_default_dtype() == F32


def test_leaf_gradients_never_alias_each_other_or_the_callers_grad() -> None:
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    seed = np.array([1.0, 2.0, 3.0])
    (a + b).backward(grad=seed)  # add passes the same gradient array to both inputs
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(a.grad, seed) and not np.shares_memory(b.grad, seed)
    a.grad *= 0  # in-place edits of one leaf's gradient leave the others alone
    np.testing.assert_array_equal(b.grad, seed)
    np.testing.assert_array_equal(seed, [1.0, 2.0, 3.0])
    c = Tensor(np.ones((2, 3)), requires_grad=True)
    c.sum().backward()  # sum's gradient is a read-only broadcast view: copied
    assert c.grad.flags.writeable and c.grad.flags.owndata


def test_repeated_passes_through_a_retained_graph_reuse_its_order_safely() -> None:
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = np.tanh(x) * x
    rows = [ag.grad(y, x, grad_outputs=np.eye(3)[i], retain_graph=True)[0].data for i in range(3)]
    np.testing.assert_allclose(np.stack(rows), np.diag(np.tanh(x.data) + x.data / np.cosh(x.data) ** 2))
    with ag.no_grad():
        x[0] = 1.0  # an in-place write: the remembered order must not be trusted
    with pytest.raises(RuntimeError, match="modified in place"):
        ag.grad(y, x, grad_outputs=np.ones(3), retain_graph=True)
    z = (x * 3).sum()
    ag.grad(z, x, retain_graph=True)
    z.backward()  # frees the graph
    with pytest.raises(RuntimeError, match="retain_graph"):
        ag.grad(z, x, retain_graph=True)


@pytest.mark.parametrize("dtype", [np.float64, "float64", np.float16, np.float32])
def test_python_floats_with_an_explicit_dtype_are_rounded_once(dtype: object) -> None:
    """Tensor(0.3, dtype=float64) is exactly 0.3 (not 0.3 via float32), as torch.tensor(0.3, dtype=float64)."""
    for data in (0.3, [0.1, 0.3], [[1e-8, 2.0 / 3.0]]):
        np.testing.assert_array_equal(Tensor(data, dtype=dtype).data, np.asarray(data, dtype=dtype))
        assert Tensor(data, dtype=dtype).dtype == np.dtype(dtype)
