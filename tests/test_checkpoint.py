"""`ag.checkpoint` (issue 16, item 3): gradients equal to the plain run, no activations kept.

Every comparison runs the same model twice in float64, once plainly and once with
checkpoints, and asks for agreement to 1e-12: first and second order, `backward` and
`ag.grad`, dropout (same masks), BatchNorm (statistics updated once), nesting.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core import Tensor

TOL = dict(rtol=1e-12, atol=1e-12)


pytestmark = pytest.mark.usefixtures("float64_default")  # conftest's: float64 for every test here


def _data(shape: tuple[int, ...], seed: int = 0, requires_grad: bool = True) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


def _block(width: int = 6, dropout: float = 0.0, batchnorm: bool = False) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(width, width)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(width))
    layers.append(nn.Tanh())
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(width, width))
    return nn.Sequential(*layers)


def _grads(model: nn.Module, x: Tensor) -> list[np.ndarray]:
    out = [p.grad.copy() for p in model.parameters()] + [x.grad.copy()]
    model.zero_grad()
    x.grad = None
    return out


def _array(v: Any) -> np.ndarray:
    return v.data if isinstance(v, Tensor) else np.asarray(v)


def _assert_all_close(a: list[Any], b: list[Any]) -> None:
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(_array(u), _array(v), **TOL)


def _run_both(model: nn.Module, x: Tensor, forward: Callable[[bool], Tensor], seed: int = 3) -> None:
    """Loss gradients with and without checkpoints, the same seed for both, equal; so is the random stream after."""
    results, after = [], []
    for use in (False, True):
        nn.manual_seed(seed)
        loss = (forward(use) ** 2).sum()
        loss.backward()
        results.append(_grads(model, x) + [loss.data])
        after.append(nn.init.generator().random(4))
    _assert_all_close(results[0], results[1])
    np.testing.assert_array_equal(after[0], after[1])


def test_mlp_block_gradients_equal_plain() -> None:
    blocks = nn.Sequential(*[_block() for _ in range(3)])
    x = _data((5, 6))

    def forward(use: bool) -> Tensor:
        h = x
        for b in blocks:
            h = ag.checkpoint(b, h) if use else b(h)
        return h

    _run_both(blocks, x, forward)
    out = ag.checkpoint(blocks[0], x)
    assert out.op == "Checkpoint"
    assert {id(p) for p in out.parents} == {id(x)} | {id(p) for p in blocks[0].parameters()}


def test_dropout_masks_are_the_same_in_the_recomputation() -> None:
    model = nn.Sequential(_block(dropout=0.5), _block(dropout=0.3))
    x = _data((8, 6))
    _run_both(model, x, lambda use: ag.checkpoint(model[1], ag.checkpoint(model[0], x)) if use else model(x))


def test_without_preserve_rng_state_the_masks_differ() -> None:
    model = _block(dropout=0.5)
    x = _data((8, 6))
    nn.manual_seed(0)
    model(x).sum().backward()
    plain = x.grad.copy()
    x.grad = None
    nn.manual_seed(0)
    ag.checkpoint(model, x, preserve_rng_state=False).sum().backward()
    assert not np.allclose(x.grad, plain)  # the recomputation drew new masks


def test_batchnorm_statistics_are_updated_once() -> None:
    states = []
    for use in (False, True):
        nn.manual_seed(0)
        model = nn.Sequential(_block(batchnorm=True), _block(batchnorm=True), nn.BatchNorm1d(6, momentum=None))
        x = _data((7, 6))
        for _ in range(2):
            h = x
            for layer in model:
                h = ag.checkpoint(layer, h) if use else layer(h)
            (h ** 2).sum().backward()
        states.append((model.state_dict(), _grads(model, x)))
    (plain, plain_grads), (ckpt, ckpt_grads) = states
    assert plain.keys() == ckpt.keys()
    for key in plain:
        np.testing.assert_allclose(_array(ckpt[key]), _array(plain[key]), **TOL)
    assert int(_array(ckpt["0.1.num_batches_tracked"])) == 2
    _assert_all_close(plain_grads, ckpt_grads)
    assert not ag.grad_mode.is_recomputing()


def test_nested_checkpoints() -> None:
    inner, outer = _block(dropout=0.2), _block(batchnorm=True)
    model = nn.Sequential(inner, outer)
    x = _data((6, 6))

    def both(h: Tensor) -> Tensor:
        return outer(ag.checkpoint(inner, h)) * 2.0

    def forward(use: bool) -> Tensor:
        return ag.checkpoint(both, x) if use else outer(inner(x)) * 2.0

    _run_both(model, x, forward)
    assert int(outer[1].num_batches_tracked.data) == 2


def test_weights_shared_across_checkpoints() -> None:
    """A recurrent cell checkpointed per step: the weight is also an ancestor of every step's input."""
    cell = nn.Linear(5, 5)
    x = _data((3, 5))

    def forward(use: bool) -> Tensor:
        h = x
        for _ in range(4):
            h = ag.checkpoint(lambda z: (cell(z) + z).tanh(), h) if use else (cell(h) + h).tanh()
        return h

    _run_both(cell, x, forward)


def test_ag_grad_reaches_parameters_and_inputs() -> None:
    model = nn.Sequential(_block(), _block())
    x = _data((4, 6))
    params = list(model.parameters())
    plain = ag.grad((model(x) ** 2).sum(), [x, *params])
    ckpt = ag.grad((ag.checkpoint(model[1], ag.checkpoint(model[0], x)) ** 2).sum(), [x, *params])
    _assert_all_close(list(plain), list(ckpt))
    assert all(p.grad is None for p in params) and x.grad is None  # ag.grad leaves .grad alone
    (only,) = ag.grad(ag.checkpoint(model, x).sum(), [params[0]])  # one parameter alone
    np.testing.assert_allclose(only.data, ag.grad(model(x).sum(), [params[0]])[0].data, **TOL)


def test_second_order_hessian_vector_product() -> None:
    model = nn.Sequential(_block(), _block())
    x = _data((4, 6))
    params = list(model.parameters())
    vectors = [Tensor(np.random.default_rng(i).standard_normal(t.shape)) for i, t in enumerate([x, *params])]

    def hvp(use: bool) -> list[Tensor]:
        out = ag.checkpoint(model[1], ag.checkpoint(model[0], x)) if use else model(x)
        grads = ag.grad((out ** 3).sum(), [x, *params], create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(grads, vectors))
        return list(ag.grad(dot, [x, *params]))

    _assert_all_close(hvp(False), hvp(True))


def test_gradgradcheck_through_nested_checkpoints() -> None:
    def f(a: Tensor, b: Tensor, w: Tensor) -> Tensor:
        inner = lambda u, v: (u @ w).sin() * v  # w: found in the closure of a function in the closure
        return ag.checkpoint(lambda u, v: ag.checkpoint(inner, u, v).tanh() + u * v, a, b)

    a, b = _data((2, 3), 1), _data((2, 3), 2)
    w = Tensor(np.random.default_rng(5).standard_normal((3, 3)) * 0.5, requires_grad=True)
    assert ag.gradcheck(f, (a, b, w))
    assert ag.gradgradcheck(f, (a, b, w))


def test_backward_twice_with_retain_graph_and_freed_graph_error() -> None:
    model = _block()
    x = _data((3, 6))
    loss = ag.checkpoint(model, x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first, **TOL)
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Memory must be freed by reference counting alone: a reference cycle would hold it until a collection."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_no_activations_are_kept(no_gc: None) -> None:
    inner: list[weakref.ref[Tensor]] = []
    results: list[weakref.ref[Tensor]] = []
    w = _data((50, 50), 1)

    def fn(x: Tensor) -> Tensor:
        h = (x @ w).tanh()
        inner.append(weakref.ref(h))
        y = (h @ w).tanh()
        results.append(weakref.ref(y))
        return y

    x = _data((40, 50), 2)
    out = ag.checkpoint(fn, x)
    assert inner[0]() is None  # freed as soon as fn returned
    assert [id(p) for p in out.parents] == [id(x), id(w)]
    # what the graph holds: the node's own record (its inputs' arrays), no intermediate node
    assert all(p.is_leaf for p in out.parents)
    assert sum(a.nbytes for a in out._saved_data) == x.data.nbytes + w.data.nbytes
    out.sum().backward()
    assert len(inner) == 2 and inner[1]() is None  # the recomputed graph is freed by backward...
    assert results[1]() is None  # ...its output too, by reference counting alone


def test_forward_frees_each_activation_as_it_goes(no_gc: None) -> None:
    """Inside fn's forward pass an activation dies once the next one is computed (nothing records it)."""
    w = _data((30, 30), 1)
    alive: list[bool] = []

    def deep(x: Tensor) -> Tensor:
        h = x
        for _ in range(6):
            previous = weakref.ref(h)
            h = (h @ w).tanh()
            alive.append(previous() is not None)
        return h

    ag.checkpoint(deep, _data((20, 30), 2)).sum().backward()
    assert alive[:6] == [True] + [False] * 5  # only the input itself (held by the caller) survives
    assert all(alive[6:])  # the recomputation records its graph, as backward needs


def test_several_inputs_outputs_non_tensor_args_and_constants() -> None:
    w = _data((4, 4), 7)
    scale_input = Tensor(np.full((3, 4), 0.5))  # does not require grad

    def fn(a: Tensor, pair: tuple[Tensor, Tensor], k: int, nothing: None, *, mode: str, c: Tensor) -> dict[str, Any]:
        assert nothing is None
        b, d = pair
        h = (a @ w) * c + b
        out = {"h": h.tanh() if mode == "tanh" else h, "both": [h * d, (a * d).sum(axis=1)], "count": k}
        out["index"] = h.argmax(axis=1)
        return out

    a, b, d = _data((3, 4), 1), _data((3, 4), 2), _data((3, 4), 3)

    def loss(use: bool) -> Tensor:
        r = (ag.checkpoint(fn, a, (b, d), 3, None, mode="tanh", c=scale_input) if use
             else fn(a, (b, d), 3, None, mode="tanh", c=scale_input))
        assert r["count"] == 3 and r["index"].dtype.kind == "i"
        return (r["h"] ** 2).sum() + (r["both"][0] * r["h"]).sum() + r["both"][1].sum() * 0.5

    plain = ag.grad(loss(False), [a, b, d, w])
    ckpt = ag.grad(loss(True), [a, b, d, w])
    _assert_all_close(list(plain), list(ckpt))
    assert scale_input.grad is None


def test_only_some_outputs_used() -> None:
    x = _data((3, 3))
    fn = lambda t: (t.sin(), t.cos(), t * 2)
    first, _, third = ag.checkpoint(fn, x)
    (gx,) = ag.grad(first.sum() + third.sum(), [x])
    np.testing.assert_allclose(gx.data, np.cos(x.data) + 2, **TOL)


def test_inputs_not_requiring_grad_and_no_grad_mode() -> None:
    model = _block()
    x = _data((3, 6), requires_grad=False)
    out = ag.checkpoint(model, x)
    assert out.requires_grad and {id(p) for p in out.parents} >= {id(p) for p in model.parameters()}
    out.sum().backward()
    with_ckpt = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    _assert_all_close(with_ckpt, [p.grad for p in model.parameters()])
    with ag.no_grad():
        y = ag.checkpoint(model, _data((3, 6)))
    assert not y.requires_grad
    plain = ag.checkpoint(lambda t: t * 2, x)  # nothing requires grad: a plain result
    assert not plain.requires_grad and plain.is_leaf


def test_parameters_found_through_closures_globals_methods_and_partial() -> None:
    import functools

    model = _block()
    x = _data((3, 6))

    class Holder:
        def __init__(self) -> None:
            self.layers = [model]

        def run(self, t: Tensor) -> Tensor:
            return self.layers[0](t)

    def helper(t: Tensor, net: nn.Module) -> Tensor:
        return net(t)

    expected = ag.grad(model(x).sum(), list(model.parameters()))
    for fn, args in (
        (Holder().run, (x,)),
        (functools.partial(helper, net=model), (x,)),
        (helper, (x, model)),  # a module passed as an argument
        (lambda t: _GLOBAL_MODEL[0](t), (x,)),
    ):
        _GLOBAL_MODEL[:] = [model]
        got = ag.grad(ag.checkpoint(fn, *args).sum(), list(model.parameters()))
        _assert_all_close(list(expected), list(got))


_GLOBAL_MODEL: list[nn.Module] = []


def test_a_tensor_it_cannot_find_is_an_error_not_a_lost_gradient() -> None:
    w = _data((3, 3), 1)
    hidden = w * 2  # a non-leaf made outside fn and read from the closure
    x = _data((2, 3), 2)
    out = ag.checkpoint(lambda t: t @ hidden, x)
    with pytest.raises(RuntimeError, match="pass it to checkpoint as an argument|Pass it to checkpoint"):
        out.sum().backward()
    got = ag.checkpoint(lambda t, h: t @ h, x, hidden)  # as an argument it works
    (gw,) = ag.grad(got.sum(), [w])
    np.testing.assert_allclose(gw.data, ag.grad((x @ (w * 2)).sum(), [w])[0].data, **TOL)


def test_parameter_hooks_run_once_and_reassigned_data_is_not_seen() -> None:
    model = _block()
    x = _data((3, 6))
    calls: list[np.ndarray] = []
    weight = model[0].weight
    handle = weight.register_hook(lambda g: calls.append(g.data.copy()))
    expected = ag.grad(model(x).sum(), [weight])[0].data
    calls.clear()
    out = ag.checkpoint(model, x)
    old = weight.data
    weight.data = weight.data * 10.0  # as an optimizer would assign; the gradient is the forward's
    out.sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(weight.grad, expected, **TOL)
    assert weight.data is not old  # put back after the recomputation
    handle.remove()


def test_errors() -> None:
    with pytest.raises(ValueError, match="use_reentrant"):
        ag.checkpoint(lambda t: t, _data((2,)), use_reentrant=True)
    with pytest.raises(TypeError, match="callable"):
        ag.checkpoint(3, _data((2,)))
    calls = []

    def changing(t: Tensor) -> Any:
        calls.append(1)
        return t * 2 if len(calls) == 1 else (t * 2, t)

    out = ag.checkpoint(changing, _data((2,)))
    with pytest.raises(RuntimeError, match="different structure"):
        out.sum().backward()


def test_forward_mode_and_functional_transforms() -> None:
    w = _data((3, 3), 4)
    f = lambda t: (t @ w).tanh() * t
    x, v = _data((2, 3), 1, requires_grad=False), _data((2, 3), 2, requires_grad=False)
    loss = lambda ck: (lambda t: (ag.checkpoint(f, t) if ck else f(t)).sum())
    plain_ck = [
        (ag.func.jvp(lambda t: f(t), (x,), (v,))[1], ag.func.jvp(lambda t: ag.checkpoint(f, t), (x,), (v,))[1]),
        (ag.functional.hvp(loss(False), x, v)[1], ag.functional.hvp(loss(True), x, v)[1]),  # forward over reverse
        (ag.functional.hessian(loss(False), x), ag.functional.hessian(loss(True), x)),
        (ag.func.grad(loss(False))(x), ag.func.grad(loss(True))(x)),
    ]
    for plain, ck in plain_ck:
        np.testing.assert_allclose(_array(ck), _array(plain), **TOL)
