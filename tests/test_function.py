"""Custom ops with `ag.Function`: torch.autograd.Function's shape, this engine's guarantees."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.forward_ad import dual_level, make_dual, unpack_dual

rng = np.random.default_rng(0)


def leaf(*shape: int, positive: bool = False) -> Tensor:
    data = rng.standard_normal(shape)
    return Tensor(np.abs(data) + 0.5 if positive else data, requires_grad=True)


# ----------------------------------------------------------------- the ops under test
class MyExp(ag.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return g * y


class Cube(ag.Function):
    """backward written with Tensor ops, and reading a saved input: differentiable again."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return 3 * g * x**2


class MulAdd(ag.Function):
    calls = 0

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        ctx.save_for_backward(x, y)
        return x * y, x + y

    @staticmethod
    def backward(ctx: Any, g_prod: Tensor, g_sum: Tensor) -> tuple[Tensor, Tensor]:
        MulAdd.calls += 1
        x, y = ctx.saved_tensors
        return g_prod * y + g_sum, g_prod * x + g_sum


class MulAddJvp(MulAdd):
    jvp_calls = 0

    @staticmethod
    def jvp(ctx: Any, tx: Tensor, ty: Tensor) -> tuple[Tensor, Tensor]:
        MulAddJvp.jvp_calls += 1
        x, y = ctx.saved_tensors
        return tx * y + x * ty, tx + ty


class Scale(ag.Function):
    """A non-Tensor argument and a keyword argument."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, k: float, *, shift: float = 0.0) -> Tensor:
        ctx.k = k
        return x * k + shift

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, None]:
        return g * ctx.k, None


class Sort(ag.Function):
    seen: list[Any] = []

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> tuple[Tensor, Tensor]:
        idx = Tensor(np.argsort(x.data))
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        return x[idx], idx

    @staticmethod
    def backward(ctx: Any, g_values: Tensor, g_idx: Tensor) -> np.ndarray:
        Sort.seen.append(g_idx)
        (idx,) = ctx.saved_tensors
        out = np.zeros(g_values.shape, dtype=g_values.dtype)
        out[idx.data] = g_values.data
        return out


def test_single_output_matches_builtin_and_gradchecks() -> None:
    x = leaf(2, 3)
    y = MyExp.apply(x)
    assert y.op == "MyExp" and y.requires_grad and not y.is_leaf
    np.testing.assert_allclose(y.data, np.exp(x.data))
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(2 * x.data))
    assert ag.gradcheck(MyExp.apply, [leaf(3)])
    assert ag.gradgradcheck(MyExp.apply, [leaf(3)])  # saved output comes back connected to the graph


def test_forward_runs_without_recording_and_outside_grad_mode_nothing_is_recorded() -> None:
    modes = []

    class Probe(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            modes.append(ag.is_grad_enabled())
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tensor:
            return g * 2

    x = leaf(3)
    assert Probe.apply(x).op == "Probe" and modes == [False]
    with ag.no_grad():
        y = Probe.apply(x)
    assert y.is_leaf and not y.requires_grad
    assert Probe.apply(Tensor(np.ones(2))).is_leaf


def test_multiple_outputs_backward_runs_once_with_all_gradients() -> None:
    x, y = leaf(4), leaf(4)
    prod, total = MulAdd.apply(x, y)
    assert (prod.op, total.op) == ("MulAdd[0]", "MulAdd[1]")
    MulAdd.calls = 0
    (prod * 2 + total**2).sum().backward()
    assert MulAdd.calls == 1
    s = x.data + y.data
    np.testing.assert_allclose(x.grad, 2 * y.data + 2 * s)
    np.testing.assert_allclose(y.grad, 2 * x.data + 2 * s)
    assert ag.gradcheck(MulAdd.apply, [leaf(3), leaf(3)])
    assert ag.gradgradcheck(MulAdd.apply, [leaf(3), leaf(3)])


def test_one_output_unused_gets_zeros_and_the_same_input_twice() -> None:
    x = leaf(3)
    prod, _ = MulAdd.apply(x, x)  # x * x: both gradient slots reach x
    prod.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_retained_graph_calls_backward_once_per_pass() -> None:
    x, y = leaf(3), leaf(3)
    prod, total = MulAdd.apply(x, y)
    loss = (prod + total).sum()
    MulAdd.calls = 0
    loss.backward(retain_graph=True)
    loss.backward()
    assert MulAdd.calls == 2
    np.testing.assert_allclose(x.grad, 2 * (y.data + 1))


def test_mixed_dtype_outputs() -> None:
    class Split(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> tuple[Tensor, Tensor]:
            return x * 2, (x * 3).astype(np.float32)

        @staticmethod
        def backward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:
            assert a.dtype == np.float64 and b.dtype == np.float32
            return a * 2 + b * 3

    x = leaf(3)
    a, b = Split.apply(x)
    assert b.dtype == np.float32
    (a + b).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 5.0))


def test_non_tensor_and_keyword_arguments() -> None:
    x = leaf(3)
    y = Scale.apply(x, 2.5, shift=1.0)
    np.testing.assert_allclose(y.data, x.data * 2.5 + 1.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 2.5))
    assert ag.gradcheck(lambda t: Scale.apply(t, -3.0), [leaf(2, 2)])


def test_none_gradient_counts_as_zero() -> None:
    class FirstOnly(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor, y: Tensor) -> Tensor:
            return x * y

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> tuple[None, Tensor]:
            return None, g

    x, y = leaf(3), leaf(3)
    (FirstOnly.apply(x, y) + x).sum().backward()
    np.testing.assert_allclose(x.grad, np.ones(3))  # only the direct path
    np.testing.assert_allclose(y.grad, np.ones(3))


def test_needs_input_grad() -> None:
    seen = []

    class Probe(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor, y: Tensor, k: int) -> Tensor:
            seen.append(ctx.needs_input_grad)
            return x * y * k

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:
            seen.append(ctx.needs_input_grad)
            return g, None, None

    Probe.apply(leaf(2), Tensor(np.ones(2)), 3).sum().backward()
    assert seen == [(True, False, False)] * 2


def test_mark_non_differentiable_sort() -> None:
    x = Tensor(np.array([3.0, 1.0, 2.0]), requires_grad=True)
    values, idx = Sort.apply(x)
    assert values.requires_grad and not idx.requires_grad and idx.dtype.kind == "i"
    Sort.seen.clear()
    (values * np.array([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_allclose(x.grad, [100.0, 1.0, 10.0])
    np.testing.assert_array_equal(Sort.seen[0].data, np.zeros(3))  # materialized zeros for the indices
    assert ag.gradcheck(lambda t: Sort.apply(t)[0], [leaf(5)])


def test_set_materialize_grads() -> None:
    seen = []

    def make(materialize: bool) -> type[ag.Function]:
        class Two(ag.Function):
            @staticmethod
            def forward(ctx: Any, x: Tensor) -> tuple[Tensor, Tensor]:
                ctx.set_materialize_grads(materialize)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx: Any, a: Tensor | None, b: Tensor | None) -> Tensor:
                seen.append((a, b))
                return (0 if a is None else a * 2) + (0 if b is None else b * 3)

        return Two

    for materialize in (True, False):
        seen.clear()
        x = leaf(2)
        make(materialize).apply(x)[1].sum().backward()
        np.testing.assert_allclose(x.grad, [3.0, 3.0])
        a, b = seen[0]
        assert (a is None) == (not materialize)
        if materialize:
            np.testing.assert_array_equal(a.data, np.zeros(2))
        np.testing.assert_array_equal(b.data, np.ones(2))


def test_setup_context_style() -> None:
    class Mul(ag.Function):
        @staticmethod
        def forward(x: Tensor, y: Tensor) -> Tensor:
            return x * y

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor]:
            x, y = ctx.saved_tensors
            return g * y, g * x

    assert ag.gradcheck(Mul.apply, [leaf(3), leaf(3)])
    assert ag.gradgradcheck(Mul.apply, [leaf(3), leaf(3)])


def test_input_returned_as_is_becomes_an_alias() -> None:
    class Triple(ag.Function):  # identity forward, a different backward: shows which one ran
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            return x

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tensor:
            return 3 * g

    x = leaf(2)
    y = Triple.apply(x)
    assert y is not x and y.op == "Triple" and np.shares_memory(y.data, x.data)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_double_backward_through_a_custom_backward() -> None:
    x = leaf(4)
    (g,) = ag.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    (h,) = ag.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)
    assert ag.gradgradcheck(Cube.apply, [leaf(3)])


# ----------------------------------------------------------------- errors
def test_wrong_gradient_shape_names_the_function_and_index() -> None:
    class BadShape(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tensor:
            return g.sum(axis=0)

    with pytest.raises(ValueError, match=r"BadShape\.backward.*index 0.*\(3,\).*\(2, 3\)"):
        BadShape.apply(leaf(2, 3)).sum().backward()


def test_broadcast_gradient_is_summed_back() -> None:
    class Wide(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tensor:
            return np.broadcast_to(g.data * 2, (5, 2, 3))

    x = leaf(2, 3)
    Wide.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 3), 10.0))


def test_wrong_gradient_count_and_gradient_for_a_non_tensor() -> None:
    class TooFew(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor, y: Tensor) -> Tensor:
            return x * y

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tensor:
            return g

    with pytest.raises(RuntimeError, match=r"TooFew\.backward returned 1 gradient.*takes 2"):
        TooFew.apply(leaf(2), leaf(2)).sum().backward()

    class ForTheInt(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor, k: int) -> Tensor:
            return x * k

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor]:
            return g, g

    with pytest.raises(RuntimeError, match=r"ForTheInt\.backward.*index 1.*not a Tensor"):
        ForTheInt.apply(leaf(2), 3).sum().backward()


def test_saved_tensors_after_the_graph_was_freed() -> None:
    kept = []

    class Keep(MyExp):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            kept.append(ctx)
            return MyExp.forward(ctx, x)

    x = leaf(3)
    y = Keep.apply(x)
    y.sum().backward(retain_graph=True)
    assert kept[0].saved_tensors[0].shape == (3,)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        kept[0].saved_tensors
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.sum().backward()


def test_saved_tensor_modified_in_place_raises() -> None:
    weight = Tensor(np.ones(3))

    class ByWeight(ag.Function):  # saves a tensor that is neither input nor output
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            ctx.save_for_backward(weight)
            return x * weight

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tensor:
            (w,) = ctx.saved_tensors
            return g * w

    y = ByWeight.apply(leaf(3))
    weight += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()

    x = Tensor(np.ones(3), requires_grad=True)
    z = Cube.apply(x)  # saves its input: the engine's own version check covers it
    with ag.no_grad():
        x += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        z.sum().backward()


# ----------------------------------------------------------------- tooling
def test_graph_drawing_shows_the_class_name() -> None:
    x, y = leaf(3), leaf(3)
    dot = ag.to_dot((MyExp.apply(x) + MulAdd.apply(x, y)[0]).sum())
    assert "MyExp" in dot and "MulAdd" in dot


def test_anomaly_mode_names_the_function_whose_backward_made_nan() -> None:
    class NanBack(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tensor:
            return g * np.nan

    x = leaf(3)
    with ag.detect_anomaly():
        y = NanBack.apply(x)
        assert y._site is not None and "test_function.py" in y._site
        with pytest.raises(ag.AnomalyError, match=r"backward of 'NanBack' created at .*test_function\.py"):
            y.sum().backward()

    class NanNumpyBack(NanBack):
        @staticmethod
        def backward(ctx: Any, g: Tensor) -> np.ndarray:
            return np.full(g.shape, np.nan)

    with ag.detect_anomaly():
        y = NanNumpyBack.apply(x)
        with pytest.raises(ag.AnomalyError, match=r"backward of 'NanNumpyBack' .*returned NaN or inf for input 0"):
            y.sum().backward()

    class NanForward(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            return np.log(x.data - 10)

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tensor:
            return g

    with ag.detect_anomaly(), pytest.raises(ag.AnomalyError, match="'NanForward'"):
        NanForward.apply(leaf(3))


# ----------------------------------------------------------------- forward mode
def test_forward_mode_with_a_user_jvp() -> None:
    x, y = leaf(3), leaf(3)
    tx = rng.standard_normal(3)
    MulAddJvp.jvp_calls = 0
    with dual_level():
        prod, total = MulAddJvp.apply(make_dual(x, tx), y)  # y has no tangent: jvp gets zeros
        np.testing.assert_allclose(unpack_dual(prod).tangent.data, tx * y.data)
        np.testing.assert_allclose(unpack_dual(total).tangent.data, tx)
    assert MulAddJvp.jvp_calls == 1


def test_forward_mode_falls_back_to_the_transposed_backward() -> None:
    x, y = leaf(3), leaf(3)
    tx, ty = rng.standard_normal(3), rng.standard_normal(3)
    with dual_level():
        prod, total = MulAdd.apply(make_dual(x, tx), make_dual(y, ty))
        np.testing.assert_allclose(unpack_dual(prod).tangent.data, tx * y.data + x.data * ty)
        np.testing.assert_allclose(unpack_dual(total).tangent.data, tx + ty)
        e = MyExp.apply(make_dual(x, tx))
        np.testing.assert_allclose(unpack_dual(e).tangent.data, np.exp(x.data) * tx)
        with ag.no_grad():  # no graph is recorded, tangents still flow
            c = Cube.apply(make_dual(x.detach(), tx))
        np.testing.assert_allclose(unpack_dual(c).tangent.data, 3 * x.data**2 * tx)
    assert ag.gradcheck(MulAdd.apply, [leaf(2), leaf(2)], check_forward_ad=True)


def test_save_for_forward_and_reverse_over_forward() -> None:
    class Mul(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor, y: Tensor) -> Tensor:
            ctx.save_for_forward(x, y)
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor]:
            x, y = ctx.saved_tensors
            return g * y, g * x

        @staticmethod
        def jvp(ctx: Any, tx: Tensor, ty: Tensor) -> Tensor:
            x, y = ctx.saved_tensors
            return tx * y + x * ty

    x, y = leaf(3), leaf(3)
    tx = Tensor(rng.standard_normal(3))
    with dual_level():
        tangent = unpack_dual(Mul.apply(make_dual(x, tx), y)).tangent
        (gy,) = ag.grad(tangent.sum(), y)  # d/dy of tx * y
    np.testing.assert_allclose(gy.data, tx.data)


def test_forward_mode_fallback_with_several_outputs_and_unmaterialized_grads() -> None:
    class ExpSin(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> tuple[Tensor, int, Tensor]:
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(x)
            return np.exp(x.data), 42, np.sin(x.data)  # arrays become Tensors, 42 passes through

        @staticmethod
        def backward(ctx: Any, ge: Tensor | None, gk: None, gs: Tensor | None) -> Any:
            (x,) = ctx.saved_tensors
            return (0 if ge is None else ge * np.exp(x)) + (0 if gs is None else gs * np.cos(x))

    x, tx = leaf(3), rng.standard_normal(3)
    with dual_level():
        e, k, s = ExpSin.apply(make_dual(x, tx))
        assert k == 42
        np.testing.assert_allclose(unpack_dual(e).tangent.data, np.exp(x.data) * tx)
        np.testing.assert_allclose(unpack_dual(s).tangent.data, np.cos(x.data) * tx)
    assert ag.gradgradcheck(lambda t: ExpSin.apply(t)[2], [leaf(3)])


def test_forward_mode_fallback_refuses_a_backward_outside_the_graph() -> None:
    with dual_level(), pytest.raises(RuntimeError, match=r"define Sort\.jvp"):
        Sort.apply(make_dual(leaf(3), np.ones(3)))


# ----------------------------------------------------------------- parity with torch.autograd.Function
def test_parity_with_torch() -> None:
    torch = pytest.importorskip("torch")

    class TorchMulAdd(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, y: Any) -> Any:
            ctx.save_for_backward(x, y)
            return x * y, x + y

        @staticmethod
        def backward(ctx: Any, g_prod: Any, g_sum: Any) -> Any:
            x, y = ctx.saved_tensors
            return g_prod * y + g_sum, g_prod * x + g_sum

    class TorchCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return 3 * g * x**2

    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    p, s = MulAdd.apply(x, y)
    (p * s).sum().backward()
    tp, ts = TorchMulAdd.apply(tx, ty)
    (tp * ts).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy())
    np.testing.assert_allclose(y.grad, ty.grad.numpy())

    (g,) = ag.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = ag.grad((g * g).sum(), x)
    (tg,) = torch.autograd.grad(TorchCube.apply(tx).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), tx)
    np.testing.assert_allclose(h.data, th.numpy())

    class TorchBad(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g.sum(0)

    with pytest.raises(RuntimeError, match="index 0"):
        TorchBad.apply(tx).sum().backward()


def test_the_locator_names_a_wrong_custom_op_inside_a_larger_function() -> None:
    class WrongCube(ag.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            (x,) = ctx.saved_tensors
            return g * 2 * x**2  # should be 3 x**2

    def model(x: ag.Tensor) -> ag.Tensor:
        h = np.tanh(x) @ np.ones((3, 2))
        return (WrongCube.apply(h) * 0.5).sum() + np.exp(x).sum()

    with pytest.raises(ag.GradcheckError, match=r"first op whose own vjp .* is 'WrongCube'.*test_function\.py"):
        ag.gradcheck(model, [leaf(3)])


def test_the_locator_names_a_custom_op_with_a_wrong_jvp_in_forward_mode() -> None:
    class WrongJvpSquare(ag.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            ctx.save_for_forward(x) if hasattr(ctx, "save_for_forward") else None
            ctx.x = x
            return x * x

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            return g * 2 * ctx.x

        @staticmethod
        def jvp(ctx, t):  # noqa: ANN001, ANN205
            return t * ctx.x  # should be 2 x t

    def model(x: ag.Tensor) -> ag.Tensor:
        return np.sin(WrongJvpSquare.apply(x * 1.5)).sum()

    assert ag.gradcheck(model, [leaf(4)])  # backward is right
    with pytest.raises(ag.GradcheckError, match=r"forward mode.*first op whose own jvp .* is 'WrongJvpSquare'"):
        ag.gradcheck(model, [leaf(4)], check_forward_ad=True, check_backward_ad=False)
