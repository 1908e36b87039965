"""Module hooks: forward pre-hooks, forward hooks and full backward (pre-)hooks, as torch.nn.Module's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn


def _x(*shape: int, requires_grad: bool = True, seed: int = 0) -> ag.Tensor:
    return ag.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


class TwoInTwoOut(nn.Module):
    """Two Tensor inputs (and a float), two Tensor outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3, dtype=np.float64)

    def forward(self, a, b, k=2.0):
        h = self.lin(a) * b
        return h.tanh(), (a * k).sum(axis=1)


# ----------------------------------------------------------------------------- forward pre-hooks
def test_forward_pre_hooks_run_in_order_prepend_first_and_replace_args(float64_default):
    m = nn.Linear(2, 2)
    calls = []
    m.register_forward_pre_hook(lambda mod, args: calls.append("a"))
    m.register_forward_pre_hook(lambda mod, args: calls.append("b"))
    m.register_forward_pre_hook(lambda mod, args: calls.append("first"), prepend=True)
    x = np.ones((1, 2))
    m(x)
    assert calls == ["first", "a", "b"]

    seen = []
    m2 = nn.Identity()
    m2.register_forward_pre_hook(lambda mod, args: args[0] * 10)  # a single value: wrapped into a tuple
    m2.register_forward_pre_hook(lambda mod, args: seen.append(args) or (args[0] + 1,))
    out = m2(ag.Tensor([1.0, 2.0]))
    assert isinstance(seen[0], tuple) and len(seen[0]) == 1
    np.testing.assert_allclose(out.data, [11.0, 21.0])


def test_forward_pre_hook_with_kwargs():
    class Scale(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    m = Scale()
    got = []

    def hook(mod, args, kwargs):
        got.append((args, dict(kwargs)))
        return (args[0] + 1,), {"scale": 3.0}

    m.register_forward_pre_hook(hook, with_kwargs=True)
    out = m(ag.Tensor([1.0]), scale=2.0)
    assert got[0][1] == {"scale": 2.0}
    np.testing.assert_allclose(out.data, [6.0])
    m.register_forward_pre_hook(lambda mod, args, kwargs: "bad", with_kwargs=True)
    with pytest.raises(RuntimeError, match="new_kwargs"):
        m(ag.Tensor([1.0]))


# ----------------------------------------------------------------------------- forward hooks
def test_forward_hooks_see_args_and_output_and_may_replace_it():
    m = nn.ReLU()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append((mod, args, out.data.copy())))
    m.register_forward_hook(lambda mod, args, out: out * 2)
    m.register_forward_hook(lambda mod, args, out: seen.append(out.data.copy()))
    out = m(ag.Tensor([-1.0, 3.0]))
    np.testing.assert_allclose(out.data, [0.0, 6.0])
    assert seen[0][0] is m and isinstance(seen[0][1], tuple)
    np.testing.assert_allclose(seen[0][2], [0.0, 3.0])
    np.testing.assert_allclose(seen[1], [0.0, 6.0])  # later hooks see the replaced output


def test_forward_hook_with_kwargs_prepend_and_always_call():
    class Boom(nn.Module):
        def forward(self, x, fail=False):
            if fail:
                raise KeyError("boom")
            return x

    m = Boom()
    calls = []
    m.register_forward_hook(lambda mod, args, kwargs, out: calls.append(("kw", dict(kwargs))), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: calls.append(("first", out is None)), prepend=True)
    m.register_forward_hook(lambda mod, args, out: calls.append(("always", out is None)), always_call=True)
    m(ag.Tensor([1.0]))
    assert calls == [("first", False), ("kw", {}), ("always", False)]
    calls.clear()
    with pytest.raises(KeyError):
        m(ag.Tensor([1.0]), fail=True)
    assert calls == [("always", True)]  # only the always_call hook, with output None


def test_handles_remove_hooks_and_work_as_context_managers():
    m = nn.Identity()
    calls = []
    h1 = m.register_forward_hook(lambda mod, a, o: calls.append(1))
    h2 = m.register_forward_pre_hook(lambda mod, a: calls.append(2))
    m(ag.Tensor([1.0]))
    assert calls == [2, 1]
    h1.remove()
    h1.remove()  # a second remove is harmless
    m(ag.Tensor([1.0]))
    assert calls == [2, 1, 2]
    h2.remove()
    with m.register_forward_hook(lambda mod, a, o: calls.append(3)):
        m(ag.Tensor([1.0]))
    m(ag.Tensor([1.0]))
    assert calls == [2, 1, 2, 3]


def test_module_without_hooks_keeps_the_fast_path():
    m = nn.Linear(2, 2)
    assert "_module_hooks" not in m.__dict__ and m._module_hooks is None
    m.register_forward_hook(lambda *a: None).remove()
    assert m._module_hooks is not None
    m(np.ones((1, 2), dtype=np.float32))  # empty registries work too


def test_hook_errors_keep_their_type():
    m = nn.Identity()
    with pytest.raises(TypeError, match="callable"):
        m.register_forward_hook("not a function")


# ----------------------------------------------------------------------------- full backward hooks
def test_full_backward_hook_gets_grad_input_and_grad_output_once_per_backward(float64_default):
    m = nn.Linear(3, 2)
    log = []
    m.register_full_backward_hook(lambda mod, gi, go: log.append((mod, gi, go)))
    x = _x(4, 3)
    y = m(x)
    (y * ag.Tensor(np.arange(8.0).reshape(4, 2))).sum().backward()
    assert len(log) == 1
    mod, gi, go = log[0]
    assert mod is m and isinstance(gi, tuple) and isinstance(go, tuple) and len(gi) == len(go) == 1
    np.testing.assert_allclose(go[0].data, np.arange(8.0).reshape(4, 2))
    np.testing.assert_allclose(gi[0].data, x.grad)
    np.testing.assert_allclose(gi[0].data, np.arange(8.0).reshape(4, 2) @ m.weight.data)


def test_full_backward_hook_can_replace_grad_input(float64_default):
    m = nn.Linear(3, 2)
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 3,))
    x = _x(4, 3)
    m(x).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * np.ones((4, 2)) @ m.weight.data)
    np.testing.assert_allclose(m.weight.grad, np.ones((2, 4)) @ x.data)  # the module's own grads are unchanged

    m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        m(x).sum().backward()


def test_full_backward_hook_with_several_inputs_and_outputs(float64_default):
    m = TwoInTwoOut()
    log = []
    m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
    a, b = _x(2, 3, seed=1), _x(2, 3, requires_grad=False, seed=2)
    y1, y2 = m(a, b)
    y1.sum().backward()  # y2 unused
    (gi, go), = log
    assert len(gi) == 2 and len(go) == 2
    np.testing.assert_allclose(gi[0].data, a.grad)
    assert gi[1] is None  # b does not require grad
    np.testing.assert_allclose(go[0].data, np.ones((2, 3)))
    assert go[1] is None  # y2 got no gradient

    log.clear()
    a.grad = None
    b.requires_grad = True
    y1, y2 = m(a, b)
    (y1.sum() + 3 * y2.sum()).backward()
    (gi, go), = log
    np.testing.assert_allclose(gi[0].data, a.grad)
    np.testing.assert_allclose(gi[1].data, b.grad)
    np.testing.assert_allclose(go[1].data, 3 * np.ones(2))


def test_full_backward_hook_when_no_input_requires_grad(float64_default):
    m = nn.Linear(3, 2)
    log = []
    m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
    m(_x(4, 3, requires_grad=False)).sum().backward()
    (gi, go), = log
    assert gi == (None,)
    np.testing.assert_allclose(go[0].data, np.ones((4, 2)))
    assert m.weight.grad is not None

    m.register_full_backward_hook(lambda mod, gi, go: (np.zeros((4, 3)),))
    with pytest.raises(RuntimeError, match="no input requires gradient"):
        m(_x(4, 3, requires_grad=False)).sum().backward()


def test_nested_modules_fire_inner_first_and_every_call(float64_default):
    inner = nn.Linear(3, 3)
    model = nn.Sequential(inner, nn.Tanh(), inner)  # the same Linear called twice
    order = []
    inner.register_full_backward_hook(lambda mod, gi, go: order.append("inner"))
    model.register_full_backward_hook(lambda mod, gi, go: order.append("outer"))
    model.register_full_backward_pre_hook(lambda mod, go: order.append("outer-pre"))
    model(_x(2, 3)).sum().backward()
    assert order == ["outer-pre", "inner", "inner", "outer"]


def test_backward_pre_hook_replaces_grad_output(float64_default):
    m = nn.Linear(3, 2)
    seen = []
    m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 0.5,))
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(go[0].data.copy()))
    x = _x(4, 3)
    m(x).sum().backward()
    np.testing.assert_allclose(seen[0], 0.5 * np.ones((4, 2)))
    np.testing.assert_allclose(m.weight.grad, 0.5 * np.ones((2, 4)) @ x.data)
    np.testing.assert_allclose(x.grad, 0.5 * np.ones((4, 2)) @ m.weight.data)


def test_backward_hooks_removed_and_retain_graph_and_ag_grad(float64_default):
    m = nn.Linear(3, 2)
    calls = []
    handle = m.register_full_backward_hook(lambda mod, gi, go: calls.append(1))
    x = _x(4, 3)
    loss = m(x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert calls == [1, 1]
    (gx,) = ag.grad(m(x).sum(), x)
    assert calls == [1, 1, 1]
    np.testing.assert_allclose(gx.data, np.ones((4, 2)) @ m.weight.data)
    handle.remove()
    m(x).sum().backward()
    assert calls == [1, 1, 1]
    with ag.no_grad():  # nothing recorded: nothing to wrap
        m.register_full_backward_hook(lambda mod, gi, go: calls.append(2))
        assert not m(x).requires_grad


def test_full_backward_hook_under_create_graph(float64_default):
    m = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    seen = []

    def hook(mod, gi, go):
        seen.append(gi[0])
        return (gi[0] * 2,)

    m.register_full_backward_hook(hook)
    x = _x(2, 3)
    (gx,) = ag.grad(m(x).sum(), x, create_graph=True)
    assert seen[0].requires_grad and gx.requires_grad
    # Compare with the same computation without hooks, twice differentiated.
    plain = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    plain.load_state_dict(m.state_dict())
    (gp,) = ag.grad(plain(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(gx.data, 2 * gp.data)
    # The second pass enters the module's graph from inside (not through its outputs), so the
    # hook does not run again: as in PyTorch, the result is exactly 4x the plain one.
    (hx,) = ag.grad((gx**2).sum(), x)
    (hp,) = ag.grad((gp**2).sum(), x)
    assert len(seen) == 1
    np.testing.assert_allclose(hx.data, 4 * hp.data, atol=1e-12)


def test_forward_mode_passes_through_backward_hooks(float64_default):
    m = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    m.register_full_backward_hook(lambda *a: None)
    m[0].register_full_backward_hook(lambda *a: None)
    x, t = _x(2, 3, requires_grad=False), np.ones((2, 3))
    _, tangent = ag.func.jvp(lambda v: m(v), (x,), (t,))
    plain = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    plain.load_state_dict(m.state_dict())
    _, expected = ag.func.jvp(lambda v: plain(v), (x,), (t,))
    np.testing.assert_allclose(tangent.data, expected.data)


# ----------------------------------------------------------------------------- parity with PyTorch
def _record(log, name):
    def hook(mod, gi, go):
        log.append((name, [None if g is None else np.array(g.detach().numpy()) for g in gi],
                    [None if g is None else np.array(g.detach().numpy()) for g in go]))
    return hook


def _same(ours, theirs):
    """Values equal to 1e-10; where we give None (no gradient) PyTorch gives None or zeros."""
    assert len(ours) == len(theirs)
    for (n1, gi1, go1), (n2, gi2, go2) in zip(ours, theirs):
        assert n1 == n2
        for a, b in zip(gi1 + go1, gi2 + go2):
            if a is None:
                assert b is None or not np.any(b)
            else:
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("input_requires_grad", [True, False])
def test_full_backward_hooks_match_pytorch(float64_default, input_requires_grad):
    torch = pytest.importorskip("torch")

    class TorchTwo(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 3).double()

        def forward(self, a, b, k=2.0):
            h = self.lin(a) * b
            return torch.tanh(h), (a * k).sum(1)

    ours_seq = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    theirs_seq = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    theirs_seq.load_state_dict({k: torch.from_numpy(v) for k, v in ours_seq.state_dict().items()})
    ours_two, theirs_two = TwoInTwoOut(), TorchTwo()
    theirs_two.load_state_dict({k: torch.from_numpy(v) for k, v in ours_two.state_dict().items()})

    ours_log, theirs_log = [], []
    for name, m in [("seq", ours_seq), ("0", ours_seq[0]), ("1", ours_seq[1]), ("2", ours_seq[2]),
                    ("two", ours_two), ("two.lin", ours_two.lin)]:
        m.register_full_backward_hook(_record(ours_log, name))
    for name, m in [("seq", theirs_seq), ("0", theirs_seq[0]), ("1", theirs_seq[1]), ("2", theirs_seq[2]),
                    ("two", theirs_two), ("two.lin", theirs_two.lin)]:
        m.register_full_backward_hook(_record(theirs_log, name))

    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    b = rng.standard_normal((6, 3))
    ours_out = ours_seq(ag.Tensor(x, requires_grad=input_requires_grad))
    o1, o2 = ours_two(ours_out, ag.Tensor(b))
    ((o1 * w).sum() + (o2**2).sum()).backward()

    tx = torch.tensor(x, requires_grad=input_requires_grad)
    t1, t2 = theirs_two(theirs_seq(tx), torch.tensor(b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns when no input of a hooked module requires grad
        ((t1 * torch.tensor(w)).sum() + (t2**2).sum()).backward()
    assert [n for n, *_ in ours_log] == [n for n, *_ in theirs_log]
    _same(ours_log, theirs_log)


def test_backward_hook_under_double_backward_matches_pytorch(float64_default):
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid())
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2), torch.nn.Sigmoid())
    theirs = theirs.double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    counts = {"ours": 0, "theirs": 0}

    def hook(key):
        def fn(mod, gi, go):
            counts[key] += 1
            return (gi[0] * 1.5,)
        return fn

    ours[2].register_full_backward_hook(hook("ours"))
    theirs[2].register_full_backward_hook(hook("theirs"))
    x = np.random.default_rng(3).standard_normal((5, 3))
    xo, xt = ag.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (go,) = ag.grad(ours(xo).sum(), xo, create_graph=True)
    (gt,) = torch.autograd.grad(theirs(xt).sum(), xt, create_graph=True)
    (ho,) = ag.grad((go**2).sum(), xo)
    (ht,) = torch.autograd.grad((gt**2).sum(), xt)
    np.testing.assert_allclose(go.data, gt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ho.data, ht.numpy(), rtol=1e-10, atol=1e-12)
    assert counts["ours"] == counts["theirs"]
