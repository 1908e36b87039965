"""`ag.functional` and `ag.func` against `torch.autograd.functional` and `torch.func` (float64, 1e-10).

Each test function is written once for both libraries through a small namespace (`L`), so
the two sides compute the same thing. Structure (tuples, tuples of tuples, pytrees) must
match too; the one tolerated difference is that PyTorch's forward-mode `jacobian` returns
lists where the reverse mode returns tuples (ours returns tuples both ways).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import autograd_core as ag
import nn

torch = pytest.importorskip("torch")

AF, TF = ag.functional, torch.autograd.functional
RNG = np.random.default_rng(15)
A0, B0 = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 2))

OURS = SimpleNamespace(
    lib="ours", T=ag.Tensor, sin=ag.sin, exp=ag.exp, tanh=ag.tanh, A=ag.Tensor(A0), B=ag.Tensor(B0),
    sum=lambda x, axis=None: x.sum(axis=axis), mean=lambda x: x.mean(), max=lambda x, axis: x.max(axis=axis),
    softmax=lambda x: ag.softmax(x, axis=-1), logsumexp=lambda x: ag.logsumexp(x, axis=-1),
)
TORCH = SimpleNamespace(
    lib="torch", T=torch.tensor, sin=torch.sin, exp=torch.exp, tanh=torch.tanh, A=torch.tensor(A0),
    B=torch.tensor(B0), sum=lambda x, axis=None: x.sum() if axis is None else x.sum(dim=axis),
    mean=lambda x: x.mean(), max=lambda x, axis: torch.amax(x, dim=axis),
    softmax=lambda x: torch.softmax(x, dim=-1), logsumexp=lambda x: torch.logsumexp(x, dim=-1),
)


# ----------------------------------------------------------------- the functions (input shapes, body)
def elementwise(L: Any, x: Any) -> Any:
    return L.sin(x) * L.exp(-x * x) + L.tanh(x) ** 3


def matmul(L: Any, x: Any) -> Any:
    return L.tanh(L.A @ x) @ L.B.T  # x: (4, 2) -> (3, 3)


def reductions(L: Any, x: Any) -> Any:
    return L.sum(x * x, axis=0) / L.mean(x * x) + L.max(x, axis=0)  # x: (3, 4) -> (4,)


def softmaxes(L: Any, x: Any) -> Any:
    return L.softmax(x) * L.logsumexp(x)[..., None] + L.softmax(x * x)


def pair(L: Any, x: Any, y: Any) -> Any:
    return L.tanh(x @ y), L.sum(x * x) * L.sum(L.sin(y))  # tuple in, tuple out


VECTOR_FUNCS: dict[str, tuple[Callable[..., Any], tuple[tuple[int, ...], ...]]] = {
    "elementwise": (elementwise, ((5,),)),
    "matmul": (matmul, ((4, 2),)),
    "reductions": (reductions, ((3, 4),)),
    "softmax": (softmaxes, ((2, 5),)),
    "pair": (pair, ((2, 3), (3, 2))),
}


def scalar(L: Any, x: Any, y: Any) -> Any:
    return L.sum(L.tanh(L.A @ x) * y) ** 2 + L.sum(L.softmax(y * y) * L.sin(y)) * L.mean(x * x * x)


SCALAR_FUNCS: dict[str, tuple[Callable[..., Any], tuple[tuple[int, ...], ...]]] = {
    "quartic": (lambda L, x: L.sum(x**4) + L.sum(x) ** 2 * L.sum(L.sin(x)), ((6,),)),
    # (torch's forward-mode logsumexp of a vector fails under vmap, so softmax here)
    "mlp_loss": (lambda L, x: L.sum(L.softmax(L.tanh(L.A @ x)) * L.B[:, 0]) + L.sum((L.A @ x) ** 2), ((4,),)),
    "two_inputs": (scalar, ((4,), (3,))),
}


def _inputs(shapes: tuple[tuple[int, ...], ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def _both(fn: Callable[..., Any], shapes: tuple[tuple[int, ...], ...], seed: int = 0) -> tuple[Any, ...]:
    """(our function, our inputs, torch function, torch inputs), inputs as tuples."""
    arrays = _inputs(shapes, seed)
    return (
        lambda *a: fn(OURS, *a), tuple(ag.Tensor(a) for a in arrays),
        lambda *a: fn(TORCH, *a), tuple(torch.tensor(a) for a in arrays),
    )


def assert_same(ours: Any, theirs: Any, tol: float = 1e-10, path: str = "result") -> None:
    """Same nesting (tuples; lists on PyTorch's side count as tuples), shapes and values."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), f"{path}: {type(ours)} vs {type(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, tol, f"{path}[{i}]")
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs), path
        for k in theirs:
            assert_same(ours[k], theirs[k], tol, f"{path}[{k!r}]")
    else:
        assert isinstance(ours, ag.Tensor), f"{path}: {type(ours)}"
        expected = theirs.detach().numpy()
        assert ours.shape == expected.shape, f"{path}: shape {ours.shape} vs {expected.shape}"
        assert ours.dtype == expected.dtype, f"{path}: dtype {ours.dtype} vs {expected.dtype}"
        np.testing.assert_allclose(ours.data, expected, rtol=tol, atol=tol, err_msg=path)


def _single(args: tuple[Any, ...]) -> Any:
    return args[0] if len(args) == 1 else args


def _like(outputs: Any, lib: Any, seed: int = 1) -> Any:
    """Random vectors shaped like `outputs` (a Tensor or a tuple of them)."""
    rng = np.random.default_rng(seed)
    if isinstance(outputs, tuple):
        return tuple(lib(rng.standard_normal(tuple(o.shape))) for o in outputs)
    return lib(rng.standard_normal(tuple(outputs.shape)))


# ----------------------------------------------------------------- ag.functional
@pytest.mark.parametrize("name", VECTOR_FUNCS)
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_matches_torch(name: str, strategy: str) -> None:
    fa, xa, ft, xt = _both(*VECTOR_FUNCS[name])
    vec = strategy == "forward-mode"
    ours = AF.jacobian(fa, _single(xa), strategy=strategy, vectorize=vec)
    assert_same(ours, TF.jacobian(ft, _single(xt), strategy=strategy, vectorize=vec))
    assert not any(x.requires_grad for x in xa)


@pytest.mark.parametrize("name", VECTOR_FUNCS)
def test_vjp_and_jvp_match_torch(name: str) -> None:
    fa, xa, ft, xt = _both(*VECTOR_FUNCS[name])
    out_t = ft(*xt)
    assert_same(AF.vjp(fa, _single(xa), _like(out_t, ag.Tensor)), TF.vjp(ft, _single(xt), _like(out_t, torch.tensor)))
    v = tuple(np.random.default_rng(2).standard_normal(x.shape) for x in xa)
    assert_same(
        AF.jvp(fa, _single(xa), _single(tuple(ag.Tensor(a) for a in v))),
        TF.jvp(ft, _single(xt), _single(tuple(torch.tensor(a) for a in v))),
    )


@pytest.mark.parametrize("name", SCALAR_FUNCS)
def test_hessian_hvp_vhp_match_torch(name: str) -> None:
    fa, xa, ft, xt = _both(*SCALAR_FUNCS[name])
    for strategy in ("reverse-mode", "forward-mode"):
        vec = strategy == "forward-mode"
        ours = AF.hessian(fa, _single(xa), outer_jacobian_strategy=strategy, vectorize=vec)
        assert_same(ours, TF.hessian(ft, _single(xt), outer_jacobian_strategy=strategy, vectorize=vec))
    va, vt = _like(_single(xa), ag.Tensor, 3), _like(_single(xt), torch.tensor, 3)
    hvp, vhp = AF.hvp(fa, _single(xa), va), AF.vhp(fa, _single(xa), va)
    assert_same(hvp, TF.hvp(ft, _single(xt), vt))
    assert_same(vhp, TF.vhp(ft, _single(xt), vt))
    # forward over reverse (our hvp) equals reverse over reverse (vhp; the Hessian is symmetric)
    for a, b in zip(hvp[1] if len(xa) > 1 else (hvp[1],), vhp[1] if len(xa) > 1 else (vhp[1],)):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn_name", ["vjp", "jvp", "hvp", "vhp", "jacobian", "hessian"])
def test_create_graph_results_are_differentiable(fn_name: str) -> None:
    x0, v0 = _inputs(((5,), (5,)), 4)

    def loss(lib: Any, x: Any) -> Any:
        L = OURS if lib is ag else TORCH
        if fn_name in ("hvp", "vhp", "hessian"):
            return L.sum(L.sin(x) * x) * L.logsumexp(x)
        return L.softmax(x * x) * L.sum(x)

    results = []
    for lib, mod, T in ((ag, AF, ag.Tensor), (torch, TF, torch.tensor)):
        x = T(x0, requires_grad=True)
        args = (x, T(v0)) if fn_name in ("vjp", "jvp", "hvp", "vhp") else (x,)
        res = getattr(mod, fn_name)(lambda x, lib=lib: loss(lib, x), *args, create_graph=True)
        parts = res if isinstance(res, tuple) else (res,)
        total = sum((p * p).sum() for p in parts)
        total.backward()
        results.append(x.grad if lib is ag else x.grad.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-10)


def test_results_are_detached_without_create_graph() -> None:
    x = ag.Tensor(np.arange(1.0, 4.0), requires_grad=True)
    out, g = AF.vjp(lambda x: (x * x).sum(), x)
    assert not out.requires_grad and not g.requires_grad
    out, t = AF.jvp(lambda x: x * x, x, ag.Tensor(np.ones(3)))
    assert not out.requires_grad and not t.requires_grad
    assert x.grad is None


def _outcome(call: Callable[[], Any]) -> tuple[str, str]:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - comparing whatever each library raises
        return type(exc).__name__, str(exc).replace("torch.Size([", "(").replace("])", ",)")
    return "ok", ""


STRICT_CASES = {
    "independent": lambda L, x, y: x * 2,
    "linear": lambda L, x, y: L.sum(x * 2 + y),
    "constant": lambda L, x, y: L.T(np.ones(3)),
    "quadratic_in_x": lambda L, x, y: L.sum(x * x) + L.sum(y),
}


@pytest.mark.parametrize("case", STRICT_CASES)
@pytest.mark.parametrize("fn_name", ["vjp", "jvp", "hvp", "vhp", "jacobian", "hessian"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_strict_errors_match_torch(case: str, fn_name: str, create_graph: bool) -> None:
    body = STRICT_CASES[case]
    x0 = np.arange(1.0, 4.0)
    outcomes = []
    for L, mod in ((OURS, AF), (TORCH, TF)):
        inputs = (L.T(x0), L.T(x0 + 1))
        kwargs: dict[str, Any] = dict(strict=True, create_graph=create_graph)
        if fn_name == "vjp":
            kwargs["v"] = L.T(np.ones(3)) if case in ("independent", "constant") else L.T(1.0)
        elif fn_name in ("jvp", "hvp", "vhp"):
            kwargs["v"] = (L.T(x0), L.T(x0))
        outcomes.append(_outcome(lambda: getattr(mod, fn_name)(lambda x, y: body(L, x, y), inputs, **kwargs)))
    assert outcomes[0] == outcomes[1]


def test_argument_errors_match_torch() -> None:
    f = {OURS.lib: lambda x: (x * x).sum(), TORCH.lib: lambda x: (x * x).sum()}
    calls = [
        lambda mod, L: mod.jacobian(f[L.lib], L.T(np.ones(3)), strategy="forward-mode"),  # needs vectorize
        lambda mod, L: mod.jacobian(f[L.lib], L.T(np.ones(3)), strategy="forward-mode", vectorize=True, strict=True),
        lambda mod, L: mod.jacobian(f[L.lib], L.T(np.ones(3)), strategy="forward-mode", create_graph=True),
        lambda mod, L: mod.jacobian(f[L.lib], L.T(np.ones(3)), strategy="sideways"),
        lambda mod, L: mod.jacobian(f[L.lib], L.T(np.ones(3)), vectorize=True, strict=True),
        lambda mod, L: mod.vjp(lambda x: x * 2, L.T(np.ones(3))),  # v needed
        lambda mod, L: mod.hvp(lambda x: x * 2, L.T(np.ones(3)), L.T(np.ones(3))),  # not scalar
        lambda mod, L: mod.vhp(lambda x: (x.sum(), x.sum()), L.T(np.ones(3)), L.T(np.ones(3))),
        lambda mod, L: mod.jvp(lambda x: x * 2, (L.T(np.ones(3)),), (L.T(np.ones(3)), L.T(np.ones(3)))),
        lambda mod, L: mod.jvp(lambda x: x * 2, (L.T(np.ones(3)),), (L.T(np.ones(2)),)),
        lambda mod, L: mod.vjp(lambda x: [x], L.T(np.ones(3)), L.T(np.ones(3))),
        lambda mod, L: mod.vjp(lambda x: x, [1.0, 2.0]),
    ]
    for call in calls:
        assert _outcome(lambda: call(AF, OURS)) == _outcome(lambda: call(TF, TORCH))


def test_numpy_inputs_are_accepted() -> None:
    x = np.array([1.0, 2.0, 3.0])
    out, g = AF.vjp(lambda x: (x * x).sum(), x)
    np.testing.assert_allclose(g.data, 2 * x)
    np.testing.assert_allclose(AF.jacobian(lambda x: x * x, np.array([1, 2])).data, np.diag([2.0, 4.0]))


def test_jvp_and_hvp_run_one_forward_pass() -> None:
    calls = []

    def f(x: Any) -> Any:
        calls.append(1)
        return (ag.sin(x) * x).sum()

    x, v = ag.Tensor(np.arange(4.0)), ag.Tensor(np.ones(4))
    AF.jvp(f, x, v)
    AF.hvp(f, x, v)
    ag.func.jvp(f, (x,), (v,))
    assert len(calls) == 3


# ----------------------------------------------------------------- ag.func
TORCH_FUNC = torch.func


@pytest.mark.parametrize("argnums", [0, 1, -1, (0, 1), (1, 0)])
def test_func_transforms_match_torch(argnums: Any) -> None:
    fa, xa, ft, xt = _both(*SCALAR_FUNCS["two_inputs"])
    t_argnums = argnums % 2 if isinstance(argnums, int) else argnums  # torch's jacfwd gives zeros for -1
    for name in ("grad", "grad_and_value", "jacrev", "jacfwd", "hessian"):
        ours = getattr(ag.func, name)(fa, argnums)(*xa)
        assert_same(ours, getattr(TORCH_FUNC, name)(ft, t_argnums)(*xt), path=f"{name}({argnums})")
    pa, pxa, pt, pxt = _both(pair, ((2, 3), (3, 2)))
    for name in ("jacrev", "jacfwd"):
        assert_same(getattr(ag.func, name)(pa, argnums)(*pxa), getattr(TORCH_FUNC, name)(pt, t_argnums)(*pxt))
    assert not any(x.requires_grad for x in xa + pxa)


@pytest.mark.parametrize("name", VECTOR_FUNCS)
def test_func_jacobians_vjp_jvp_match_torch(name: str) -> None:
    fa, xa, ft, xt = _both(*VECTOR_FUNCS[name])
    argnums = tuple(range(len(xa)))
    for transform in ("jacrev", "jacfwd"):
        assert_same(getattr(ag.func, transform)(fa, argnums)(*xa), getattr(TORCH_FUNC, transform)(ft, argnums)(*xt))
    out, vjp_fn = ag.func.vjp(fa, *xa)
    t_out, t_vjp_fn = TORCH_FUNC.vjp(ft, *xt)
    assert_same(out, t_out)
    assert_same(vjp_fn(_like(t_out, ag.Tensor)), t_vjp_fn(_like(t_out, torch.tensor)))
    assert_same(vjp_fn(_like(t_out, ag.Tensor, 5)), t_vjp_fn(_like(t_out, torch.tensor, 5)))  # callable again
    if name != "pair":  # a Hessian of a vector function takes the forward-mode outer Jacobian
        assert_same(ag.func.hessian(fa)(*xa), TORCH_FUNC.hessian(ft)(*xt))
    tangents = _inputs(tuple(x.shape for x in xa), 6)
    assert_same(
        ag.func.jvp(fa, xa, tuple(ag.Tensor(t) for t in tangents)),
        TORCH_FUNC.jvp(ft, xt, tuple(torch.tensor(t) for t in tangents)),
    )


def test_composition_matches_torch() -> None:
    fa, (xa,), ft, (xt,) = _both(*SCALAR_FUNCS["quartic"])
    g = ag.func.grad
    tg = TORCH_FUNC.grad
    assert_same(g(lambda x: g(fa)(x).sum())(xa), tg(lambda x: tg(ft)(x).sum())(xt))
    s = np.float64(0.7)
    second = g(g(lambda s: OURS.sin(s) * s**3))(ag.Tensor(s))
    assert_same(second, tg(tg(lambda s: torch.sin(s) * s**3))(torch.tensor(s)))
    for outer, inner in (("jacrev", "jacfwd"), ("jacfwd", "jacrev"), ("jacfwd", "jacfwd"), ("jacrev", "jacrev")):
        ours = getattr(ag.func, outer)(getattr(ag.func, inner)(fa))(xa)
        assert_same(ours, getattr(TORCH_FUNC, outer)(getattr(TORCH_FUNC, inner)(ft))(xt), path=f"{outer}({inner})")
    v = np.linspace(-1, 1, 6)
    # forward over reverse (jvp of grad) and reverse over forward (grad of a jvp)
    assert_same(ag.func.jvp(g(fa), (xa,), (ag.Tensor(v),)), TORCH_FUNC.jvp(tg(ft), (xt,), (torch.tensor(v),)))
    assert_same(
        g(lambda x: ag.func.jvp(fa, (x,), (ag.Tensor(v),))[1])(xa),
        tg(lambda x: TORCH_FUNC.jvp(ft, (x,), (torch.tensor(v),))[1])(xt),
    )
    # ag.func inside ordinary autograd: the result stays differentiable to the caller's tensor
    x = ag.Tensor(xa.data, requires_grad=True)
    (g(fa)(x) ** 2).sum().backward()
    tx = torch.tensor(xa.data, requires_grad=True)
    (tg(ft)(tx) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10)
    # ... and to a tensor the function closes over; under no_grad nothing keeps a graph
    w = ag.Tensor(np.linspace(1, 2, 6), requires_grad=True)
    g(lambda x: (w * x * x).sum())(xa).sum().backward()
    np.testing.assert_allclose(w.grad, 2 * xa.data, rtol=1e-12)
    with ag.no_grad():
        h = ag.func.hessian(fa)(x)
    assert not h.requires_grad
    assert_same(h, TORCH_FUNC.hessian(ft)(xt))


def test_has_aux_matches_torch() -> None:
    def f(L: Any, x: Any, y: Any) -> Any:
        out = L.sum(L.tanh(x) * y)
        return out, {"double": out * 2, "x": x}

    xa, ya = ag.Tensor(np.linspace(-1, 1, 4)), ag.Tensor(np.linspace(0, 2, 4))
    xt, yt = torch.tensor(xa.data), torch.tensor(ya.data)
    fa, ft = (lambda x, y: f(OURS, x, y)), (lambda x, y: f(TORCH, x, y))
    for name in ("grad", "grad_and_value", "jacrev", "jacfwd"):
        assert_same(getattr(ag.func, name)(fa, (0, 1), has_aux=True)(xa, ya),
                    getattr(TORCH_FUNC, name)(ft, (0, 1), has_aux=True)(xt, yt), path=name)
    out, fn, aux = ag.func.vjp(fa, xa, ya, has_aux=True)
    t_out, t_fn, t_aux = TORCH_FUNC.vjp(ft, xt, yt, has_aux=True)
    assert_same((out, fn(ag.Tensor(1.0)), aux), (t_out, t_fn(torch.tensor(1.0)), t_aux))
    tangents = (ag.Tensor(np.ones(4)), ag.Tensor(np.ones(4)))
    assert_same(ag.func.jvp(fa, (xa, ya), tangents, has_aux=True),
                TORCH_FUNC.jvp(ft, (xt, yt), (torch.ones(4), torch.ones(4)), has_aux=True))
    assert not xa.requires_grad and not ya.requires_grad


def test_func_errors_match_torch() -> None:
    x = {OURS.lib: ag.Tensor(np.ones(3)), TORCH.lib: torch.ones(3)}
    calls = [
        lambda m, L: m.grad(lambda x: x * 2)(x[L.lib]),  # not a scalar
        lambda m, L: m.grad(lambda x: x.sum(), argnums=2)(x[L.lib]),
        lambda m, L: m.grad(lambda x, y: x.sum(), argnums=(0, 0))(x[L.lib], x[L.lib]),
        lambda m, L: m.grad(lambda x: x.sum(), argnums=())(x[L.lib]),
        lambda m, L: m.grad(lambda x: x.sum(), argnums=[0])(x[L.lib]),
        lambda m, L: m.grad(lambda x: x.sum(), has_aux=True)(x[L.lib]),
        lambda m, L: m.jvp(lambda x: x, [x[L.lib]], [x[L.lib]]),
        lambda m, L: m.jvp(lambda x, y: x * 2, (x[L.lib], x[L.lib] + 1), (x[L.lib], x[L.lib]), strict=True),
        lambda m, L: m.jacrev(lambda x: x, chunk_size=0),
    ]
    for call in calls:
        assert _outcome(lambda: call(ag.func, OURS)) == _outcome(lambda: call(TORCH_FUNC, TORCH))
    with pytest.raises(RuntimeError, match="independent of the inputs"):
        ag.func.jvp(lambda x: ag.Tensor(np.ones(2)), (x["ours"],), (x["ours"],), strict=True)


def test_pytree_arguments_and_numpy_inputs() -> None:
    params = {"w": np.linspace(-1, 1, 6).reshape(2, 3), "b": np.array([0.5, -0.5])}
    data = np.linspace(0, 1, 9).reshape(3, 3)

    def loss(L: Any, p: Any, x: Any) -> Any:
        return L.sum(L.tanh(x @ p["w"].T + p["b"]) ** 2)

    ours = ag.func.grad(lambda p, x: loss(OURS, p, x))(params, ag.Tensor(data))  # NumPy arrays inside a dict
    theirs = TORCH_FUNC.grad(lambda p, x: loss(TORCH, p, x))({k: torch.tensor(v) for k, v in params.items()},
                                                              torch.tensor(data))
    assert_same(ours, theirs)
    assert ag.func.grad(lambda x: (x * x).sum())(np.array([1, 2])).dtype == ag.get_default_dtype()  # ints -> float


def test_jacfwd_runs_one_forward_pass_per_input_element() -> None:
    calls = []
    a = ag.Tensor(np.linspace(0, 1, 500))

    def f(x: Any) -> Any:  # 3 inputs, 1500 outputs: forward mode is the cheap direction
        calls.append(1)
        return ag.sin(a[:, None] * x) * x

    x = ag.Tensor(np.array([0.1, 0.2, 0.3]))
    jac = ag.func.jacfwd(f)(x)
    assert len(calls) == x.size and jac.shape == (500, 3, 3)
    calls.clear()
    assert_same(ag.func.jacrev(f)(x), torch.tensor(jac.data))
    assert len(calls) == 1  # reverse mode: one forward pass, then one reverse pass per output element
    calls.clear()
    AF.jacobian(f, x, strategy="forward-mode", vectorize=True)
    assert len(calls) == x.size


# ----------------------------------------------------------------- functional_call
def _mlp() -> nn.Sequential:
    ag.set_default_dtype(np.float64)
    try:
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    finally:
        ag.set_default_dtype(np.float32)


def _new_params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {"0.weight": (8, 4), "0.bias": (8,), "2.weight": (3, 8), "2.bias": (3,)}
    return {k: rng.standard_normal(s) for k, s in shapes.items()}


def test_functional_call_substitutes_and_restores() -> None:
    model = _mlp()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    objects = [id(p) for p in model.parameters()]
    params = {k: ag.Tensor(v) for k, v in _new_params().items()}
    x = np.random.default_rng(1).standard_normal((5, 4))
    out = ag.func.functional_call(model, params, (ag.Tensor(x),))
    p = {k: v.data for k, v in params.items()}
    manual = np.tanh(x @ p["0.weight"].T + p["0.bias"]) @ p["2.weight"].T + p["2.bias"]
    np.testing.assert_allclose(out.data, manual, rtol=1e-12)
    assert [id(q) for q in model.parameters()] == objects
    assert all(isinstance(q, nn.Parameter) for q in model.parameters())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    np.testing.assert_allclose(model(ag.Tensor(x)).data, ag.func.functional_call(model, {}, ag.Tensor(x)).data)
    with pytest.raises(ValueError):  # a failing call (wrong input width) restores the module too
        ag.func.functional_call(model, params, (ag.Tensor(np.ones((2, 5))),))
    assert [id(q) for q in model.parameters()] == objects and model[0].weight is model[0]._parameters["weight"]


def test_functional_call_gradients_and_per_example_grads() -> None:
    model = _mlp()
    x = np.random.default_rng(2).standard_normal((6, 4))
    y = np.random.default_rng(3).standard_normal((6, 3))
    params = {k: ag.Tensor(v.data) for k, v in model.named_parameters()}  # copies: gradients go here

    def loss(p: Any, xi: Any, yi: Any) -> Any:
        r = ag.func.functional_call(model, p, (xi,)) - yi
        return (r * r).sum()

    per_example = [ag.func.grad(loss)(params, ag.Tensor(x[i:i + 1]), y[i:i + 1]) for i in range(len(x))]
    for i in range(len(x)):  # against an ordinary backward on the module, one example at a time
        model.zero_grad()
        r = model(ag.Tensor(x[i:i + 1])) - y[i:i + 1]
        (r * r).sum().backward()
        for name, param in model.named_parameters():
            np.testing.assert_allclose(per_example[i][name].data, param.grad, rtol=1e-10, atol=1e-12)
    assert not any(p.requires_grad for p in params.values())
    # against torch.func on the same weights
    t_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    t_params = {k: torch.tensor(v.data) for k, v in params.items()}

    def t_loss(p: Any, xi: Any, yi: Any) -> Any:
        return ((TORCH_FUNC.functional_call(t_model, p, (xi,)) - yi) ** 2).sum()

    assert_same(ag.func.grad(loss)(params, ag.Tensor(x), y), TORCH_FUNC.grad(t_loss)(t_params, torch.tensor(x),
                                                                                      torch.tensor(y)))


def test_functional_call_ties_buffers_and_strict() -> None:
    first, second = nn.Linear(3, 3), nn.Linear(3, 3)
    second.weight = first.weight  # one Parameter under two names: "0.weight" and "2.weight"
    model = nn.Sequential(first, nn.Tanh(), second)
    w = ag.Tensor(np.eye(3) * 2, dtype=np.float32)
    x = ag.Tensor(np.ones((1, 3), dtype=np.float32))
    b0, b2 = first.bias.data, second.bias.data
    tied = ag.func.functional_call(model, {"0.weight": w}, (x,))
    np.testing.assert_allclose(tied.data, np.tanh(x.data @ w.data.T + b0) @ w.data.T + b2, rtol=1e-6)
    untied = ag.func.functional_call(model, {"0.weight": w}, (x,), tie_weights=False)
    np.testing.assert_allclose(untied.data, np.tanh(x.data @ w.data.T + b0) @ first.weight.data.T + b2, rtol=1e-6)
    b = b0
    with pytest.raises(ValueError, match="tied"):
        ag.func.functional_call(model, {"0.weight": w, "2.weight": ag.Tensor(np.eye(3, dtype=np.float32))}, (x,))
    with pytest.raises(RuntimeError, match="Missing key"):
        ag.func.functional_call(model, {"0.weight": w}, (x,), strict=True)
    with pytest.raises(ValueError, match="multiple dictionaries"):
        ag.func.functional_call(model, ({"0.bias": b}, {"0.bias": b}), (x,))
    bn = nn.BatchNorm1d(3).eval()
    mean = ag.Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    out = ag.func.functional_call(bn, {"running_mean": mean}, (ag.Tensor(np.zeros((2, 3), dtype=np.float32)),))
    np.testing.assert_allclose(out.data, np.broadcast_to(-mean.data / np.sqrt(1 + bn.eps), (2, 3)), rtol=1e-5)
    np.testing.assert_array_equal(bn.running_mean.data, np.zeros(3))
