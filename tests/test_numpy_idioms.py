"""NumPy's mutation idioms on Tensors: in-place operators, index assignment, views, `out=`.

Each idiom either works exactly as in NumPy, with the gradient, or raises a clear error.
Gradients of recorded in-place chains are checked against finite differences and against
the same program written out of place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn.functional as F
from autograd_core import Tensor


def _leaf(values: Any) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def _grads(fn: Callable[..., Tensor], *values: Any) -> list[np.ndarray]:
    leaves = [_leaf(v) for v in values]
    fn(*leaves).sum().backward()
    return [t.grad for t in leaves]


# ----------------------------------------------------------------- values only
def test_no_grad_update_changes_the_tensor_itself() -> None:
    p = _leaf([1.0, 2.0, 3.0])
    alias = p  # the decks' sgd_update: `param -= lr * grad` must reach the caller's object
    (p * p).sum().backward()
    with ag.no_grad():
        p -= 0.1 * p.grad
    assert alias is p and p.is_leaf and p.requires_grad
    np.testing.assert_allclose(p.data, [0.8, 1.6, 2.4])
    assert p.version == 1


def test_update_loop_keeps_no_graph() -> None:
    w = _leaf(np.ones(4))
    for _ in range(50):
        loss = ((w - 3.0) ** 2).sum()
        w.grad = None
        loss.backward()
        with ag.no_grad():
            w -= 0.1 * w.grad
    assert w.is_leaf and w.parents == ()
    np.testing.assert_allclose(w.data, 3.0, atol=1e-4)


def test_in_place_on_plain_tensors_follows_numpy_casting() -> None:
    i = Tensor(np.array([1, 2, 3]))
    i += 2
    np.testing.assert_array_equal(i.data, [3, 4, 5])
    with pytest.raises(TypeError, match="add_"):
        i += 0.5  # NumPy: Cannot cast ufunc 'add' output from float64 to int64
    f = Tensor(np.ones(3, dtype=np.float32))
    f *= np.float64(2.0)
    assert f.dtype == np.float32 and f.version == 1
    with pytest.raises(ValueError, match="add_"):
        f += np.ones((2, 3))  # the result may not broadcast the target


def test_every_alias_and_view_sees_a_write() -> None:
    x = Tensor(np.zeros(4))
    row, alias = x[1:3], x.detach()
    x[1] = 5.0
    assert row.data[0] == 5.0 and alias.data[1] == 5.0
    row += 1.0
    np.testing.assert_array_equal(x.data, [0, 6, 1, 0])
    assert x.version == 2 and row.version == 2 and alias.version == 2


def test_flatten_copies_and_ravel_is_a_view_as_numpy() -> None:
    x = Tensor(np.zeros((2, 2)))
    flat, rav = x.flatten(), x.ravel()
    flat[0] = 1.0
    rav[3] = 2.0
    np.testing.assert_array_equal(x.data, [[0, 0], [0, 2]])


# ----------------------------------------------------------------- refusals
def test_leaf_that_requires_grad_refuses_in_place_in_grad_mode() -> None:
    w = _leaf([1.0, 2.0])
    for write in (lambda: w.__iadd__(1.0), lambda: w.__setitem__(0, 3.0), lambda: w.__imul__(w)):
        with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad.*ag\.no_grad"):
            write()
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
    assert w.version == 0


def test_view_of_a_leaf_that_requires_grad_refuses() -> None:
    w = _leaf([1.0, 2.0, 3.0])
    view = w[1:]
    with pytest.raises(RuntimeError, match="view of a leaf"):
        view *= 2.0
    np.testing.assert_array_equal(w.data, [1.0, 2.0, 3.0])


def test_view_made_under_no_grad_refuses_a_recorded_write() -> None:
    h = _leaf([1.0, 2.0]) * 1.0
    with ag.no_grad():
        view = h[:1]
    with pytest.raises(RuntimeError, match="created under no_grad"):
        view += 1.0


def test_read_only_broadcast_view_refuses() -> None:
    b = ag.broadcast_to(Tensor(np.ones(2)), (3, 2))
    with pytest.raises(ValueError, match="read-only"):
        b += 1.0


def test_backward_through_an_overwritten_saved_value_raises() -> None:
    w = _leaf([1.0, 2.0])
    h = w * 1.0
    y = h.exp()  # exp's gradient reads its output
    y += 1.0  # recorded: fine, exp's output is kept for it
    y.sum().backward()
    np.testing.assert_allclose(w.grad, np.exp([1.0, 2.0]))
    z = h * h  # multiply saved h
    h[0] = 0.0  # overwrites the value z's gradient needs
    with pytest.raises(RuntimeError, match=r"input 0 of 'multiply'.*modified in place"):
        z.sum().backward()


# ----------------------------------------------------------------- recorded writes
@pytest.mark.parametrize(
    ("in_place", "out_of_place"),
    [
        (lambda h, u: h.__iadd__(u), lambda h, u: h + u),
        (lambda h, u: h.__isub__(u), lambda h, u: h - u),
        (lambda h, u: h.__imul__(u), lambda h, u: h * u),
        (lambda h, u: h.__itruediv__(u), lambda h, u: h / u),
        (lambda h, u: h.__ipow__(u), lambda h, u: h**u),
        (lambda h, u: h.__imatmul__(u.reshape(3, 1) * np.eye(3)), lambda h, u: h @ (u.reshape(3, 1) * np.eye(3))),
    ],
    ids=["iadd", "isub", "imul", "itruediv", "ipow", "imatmul"],
)
def test_in_place_operator_gradients_equal_the_out_of_place_program(in_place: Any, out_of_place: Any) -> None:
    a, b = np.array([[0.5, 1.5, 2.0], [1.2, 0.7, 0.9]]), np.array([1.1, 0.6, 1.4])

    def recorded(x: Tensor, u: Tensor) -> Tensor:
        h = x * 1.0  # a non-leaf: written in place and recorded
        result = in_place(h, u)
        assert result is h and h.op is not None
        return h.exp()

    expected = _grads(lambda x, u: out_of_place(x * 1.0, u).exp(), a, b)
    for ours, theirs in zip(_grads(recorded, a, b), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ag.gradcheck(recorded, [_leaf(a), _leaf(b)])
    assert ag.gradgradcheck(recorded, [_leaf(a), _leaf(b)])


def test_in_place_on_a_buffer_that_does_not_require_grad_records_the_operand() -> None:
    w = _leaf([1.0, 2.0])
    buf = ag.zeros(2, dtype=np.float64)
    buf += w * w
    buf *= 3.0
    assert not buf.is_leaf
    buf.sum().backward()
    np.testing.assert_allclose(w.grad, [6.0, 12.0])


def test_x_plus_equals_x_uses_the_old_value_twice() -> None:
    def f(w: Tensor) -> Tensor:
        h = w * 1.0
        h *= h
        h += h
        return h

    np.testing.assert_allclose(_grads(f, [1.5, -2.0])[0], [6.0, -8.0])
    assert ag.gradgradcheck(f, [_leaf([1.5, -2.0])])


def test_float32_stays_float32_through_in_place_chains() -> None:
    w = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    h = w * 2
    h += np.array([1.0, 1.0])  # float64 operand, float32 target: NumPy keeps float32
    h[0] = w[1] * 3
    assert h.dtype == np.float32
    h.sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad, [0.0, 5.0])


# ----------------------------------------------------------------- index assignment
def test_loop_of_index_writes_into_zeros_differentiates() -> None:
    w = _leaf([1.0, 2.0, 3.0])
    out = ag.zeros(3, dtype=np.float64)
    for i in range(3):
        out[i] = np.sum(w[i] * w)  # the decks' idiom, on ag.zeros
    out.sum().backward()
    np.testing.assert_allclose(w.grad, 2 * w.data.sum())


def test_repeated_writes_keep_only_the_last() -> None:
    def f(w: Tensor) -> Tensor:
        out = ag.zeros(4, dtype=np.float64)
        out[0:3] = w[:3] * 2
        out[1:4] = w[1:] ** 2  # overlapping slice: out[1:3] is overwritten
        out[2] = w[0] * 10
        return out

    np.testing.assert_allclose(f(_leaf([1.0, 2.0, 3.0, 4.0])).data, [2, 4, 10, 16])
    np.testing.assert_allclose(_grads(f, [1.0, 2.0, 3.0, 4.0])[0], [12, 4, 0, 8])
    assert ag.gradgradcheck(f, [_leaf([1.0, 2.0, 3.0, 4.0])])


def test_repeated_integer_indices_follow_numpy_last_write_wins() -> None:
    def f(w: Tensor) -> Tensor:
        out = w * 1.0
        out[[0, 0, 2]] = w * np.array([10.0, 20.0, 30.0])
        return out

    np.testing.assert_allclose(f(_leaf([1.0, 1.0, 1.0])).data, [20, 1, 30])
    np.testing.assert_allclose(_grads(f, [1.0, 1.0, 1.0])[0], [0, 21, 30])


def test_augmented_index_assignment_with_repeats_adds_once_like_numpy() -> None:
    def f(w: Tensor) -> Tensor:
        out = w * 1.0
        out[[0, 0, 2]] += 1.0
        out[np.array([True, False, True])] *= 3.0
        return out

    np.testing.assert_allclose(f(_leaf([1.0, 2.0, 3.0])).data, [6, 2, 12])
    np.testing.assert_allclose(_grads(f, [1.0, 2.0, 3.0])[0], [3, 1, 3])


def test_write_from_an_overlapping_view_of_itself() -> None:
    def f(w: Tensor) -> Tensor:
        x = w * 1.0
        x[1:] += x[:-1]  # NumPy: computed from the old values, then written
        x[:2] = x[1:] * x[1:]
        return x

    w = [1.0, 2.0, 3.0]
    x = np.array(w)
    x[1:] += x[:-1].copy()
    x[:2] = x[1:] * x[1:]
    np.testing.assert_allclose(f(_leaf(w)).data, x)
    assert ag.gradcheck(f, [_leaf(w)])
    assert ag.gradgradcheck(f, [_leaf(w)])


def test_writes_through_views_reach_the_base_with_gradients() -> None:
    def f(w: Tensor) -> Tensor:
        x = (w * 1.0).reshape(2, 3)
        col = x.T[1]  # a view of a view
        col *= w[:2]
        row = x[0]
        row[::2] = w[3:5] ** 2
        return x.exp()

    w = [0.3, -0.2, 0.5, 0.1, 0.4, -0.6]
    assert ag.gradcheck(f, [_leaf(w)])
    assert ag.gradgradcheck(f, [_leaf(w)])


def test_value_that_requires_grad_into_a_plain_tensor_is_recorded() -> None:
    v = _leaf(2.0)
    t = Tensor(np.zeros(3))
    t[1] = v * 4
    assert t.requires_grad
    t.sum().backward()
    np.testing.assert_allclose(v.grad, 4.0)


def test_version_counter_catches_backward_after_a_write_to_a_saved_input() -> None:
    w = _leaf([1.0, 2.0])
    buf = ag.ones(2, dtype=np.float64)
    y = (w * buf).sum()
    buf[0] = 7.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


# ----------------------------------------------------------------- the decks' loop-style layers
def _loop_conv2d(x: Tensor, w: Tensor, stride: int = 1, padding: int = 0) -> Tensor:
    n, _, h, wid = x.shape
    f, _, kh, kw = w.shape
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - kh) // stride + 1, (wid + 2 * padding - kw) // stride + 1
    out = ag.zeros((n, f, oh, ow), dtype=x.dtype)
    for b in range(n):
        for c in range(f):
            for i in range(oh):
                for j in range(ow):
                    patch = x[b, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                    out[b, c, i, j] = np.sum(patch * w[c])
    return out


def _loop_max_pool(x: Tensor, size: int = 2, stride: int = 2) -> Tensor:
    n, d, h, wid = x.shape
    oh, ow = (h - size) // stride + 1, (wid - size) // stride + 1
    out = ag.zeros((n, d, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size]
            out[:, :, i, j] = np.max(window, axis=(2, 3))
    return out


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1), (1, 2)])
def test_loop_conv2d_and_max_pool_on_ag_zeros_equal_the_library(stride: int, padding: int) -> None:
    rng = np.random.default_rng(stride * 10 + padding)
    xs, ws = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 3))
    x1, w1, x2, w2 = _leaf(xs), _leaf(ws), _leaf(xs), _leaf(ws)
    ours = _loop_max_pool(_loop_conv2d(x1, w1, stride, padding), 2, 1)
    theirs = F.max_pool2d(F.conv2d(x2, w2, stride=stride, padding=padding), 2, stride=1)
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(g)
    np.testing.assert_allclose(x1.grad, x2.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w1.grad, w2.grad, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------- random chains
_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["iadd", "isub", "imul", "idiv", "set_slice", "set_index", "view_mul", "add_self_view"]),
        st.integers(0, 3),
        st.integers(1, 4),
    ),
    min_size=1,
    max_size=6,
)


def _chain(steps: list[tuple[str, int, int]], w: Tensor, u: Tensor, in_place: bool) -> Tensor:
    """The same program with in-place writes, or rewritten out of place with index_put/concatenate."""
    x = w * 1.0
    for kind, i, j in steps:
        lo, hi = min(i, j), max(i, j)
        if in_place:
            if kind == "iadd":
                x += u
            elif kind == "isub":
                x -= u * x
            elif kind == "imul":
                x *= u
            elif kind == "idiv":
                x /= u + 2.0
            elif kind == "set_slice":
                x[lo:hi] = u[lo:hi] * w[lo:hi]
            elif kind == "set_index":
                x[[i, lo, i]] = u[:3] + x[j - 1]
            elif kind == "view_mul":
                v = x[lo:hi]
                v *= u[lo:hi]
            else:
                x[1:] += x[:-1]
        else:
            if kind == "iadd":
                x = x + u
            elif kind == "isub":
                x = x - u * x
            elif kind == "imul":
                x = x * u
            elif kind == "idiv":
                x = x / (u + 2.0)
            elif kind == "set_slice":
                x = ag.index_put(x, slice(lo, hi), u[lo:hi] * w[lo:hi])
            elif kind == "set_index":
                x = ag.index_put(x, [i, lo, i], u[:3] + x[j - 1])
            elif kind == "view_mul":
                x = ag.index_put(x, slice(lo, hi), x[lo:hi] * u[lo:hi])
            else:
                x = ag.concatenate([x[:1], x[1:] + x[:-1]])
    return x


@settings(max_examples=40)
@given(steps=_STEPS, seed=st.integers(0, 2**16))
def test_random_in_place_chains_equal_their_out_of_place_rewrite(steps: list[tuple[str, int, int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    wv, uv, g = rng.uniform(0.5, 1.5, 4), rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)
    results = []
    for in_place in (True, False):
        w, u = _leaf(wv), _leaf(uv)
        out = _chain(steps, w, u, in_place)
        out.backward(g)
        results.append((out.data, w.grad, u.grad))
    for ours, theirs in zip(results[0], results[1]):
        assert (ours is None) == (theirs is None)  # an operand the chain never reads gets no gradient
        if ours is not None:
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_a_view_taken_before_a_write_to_its_base_follows_the_base() -> None:
    w = _leaf([1.0, 2.0])
    buf = ag.zeros(3, dtype=np.float64)
    head = buf[:2]  # taken while buf has no graph
    buf[0] = w[0] * w[1]
    assert head.data[0] == 2.0
    head.sum().backward()  # head shows the written value, and its gradient flows to w
    np.testing.assert_allclose(w.grad, [2.0, 1.0])


def test_a_view_of_a_parameter_taken_under_no_grad_stays_untracked() -> None:
    p = _leaf([1.0, 2.0])
    with ag.no_grad():
        frozen = p[:1]
        p -= 1.0
    assert not (frozen * 2).requires_grad and frozen.data[0] == 0.0
