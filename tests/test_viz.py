"""Graph drawing: structure, labels, clusters, folding, gradients, rendering, no side effects."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor


class Affine:
    """A minimal module-like object: ops inside its call are recorded in its scope."""

    def __init__(self, n_in: int, n_out: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.weight = Tensor(rng.standard_normal((n_in, n_out)), requires_grad=True)
        self.bias = Tensor(np.zeros(n_out), requires_grad=True)

    def __call__(self, x: Tensor) -> Tensor:
        with ag.scope(self):
            return x @ self.weight + self.bias


class TwoLayer:
    def __init__(self) -> None:
        self.first, self.second = Affine(3, 4, 0), Affine(4, 2, 1)

    def __call__(self, x: Tensor) -> Tensor:
        with ag.scope(self):
            return self.second(self.first(x).tanh())

    def named_parameters(self):  # the names draw_graph reads from a model
        return [("first.weight", self.first.weight), ("first.bias", self.first.bias),
                ("second.weight", self.second.weight), ("second.bias", self.second.bias)]


def _nodes(dot: str) -> list[str]:
    return re.findall(r"^(n\d+|m\d+) \[", dot, flags=re.M)


def _edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^(\w+) -> (\w+)", dot, flags=re.M)


def _graph_size(root: Tensor) -> tuple[int, int]:
    """Tensors and parent links reachable from root, counted independently of viz."""
    seen, stack, links = {id(root)}, [root], 0
    while stack:
        t = stack.pop()
        for p in t.parents:
            links += 1
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen), links


def test_one_node_per_op_and_leaf_and_one_edge_per_input() -> None:
    model = TwoLayer()
    x = Tensor(np.ones((5, 3)))
    loss = (model(x) ** 2).mean()
    dot = ag.to_dot(loss, legend=False)
    n_tensors, n_links = _graph_size(loss)
    assert len(_nodes(dot)) == n_tensors == 13
    assert len(_edges(dot)) == n_links


def test_labels_carry_op_names_shapes_and_parameter_names() -> None:
    model = TwoLayer()
    x = Tensor(np.ones((5, 3)))
    x.name = "batch"
    dot = ag.to_dot(model(x).sum(), params=dict(model.named_parameters()))
    for text in ("matmul", "tanh", "(5, 4)", "first.weight", "second.bias", "batch", "(3, 4)"):
        assert text in dot
    assert "float64" in dot  # dtype shown because it is not the default float32


def test_clusters_follow_scopes() -> None:
    model = TwoLayer()
    dot = ag.to_dot(model(Tensor(np.ones((2, 3)))).sum(), legend=False)
    assert dot.count("subgraph cluster_") == 3  # the model and its two layers
    inner = dot.split("subgraph cluster_")[2]
    assert "matmul" in inner and "add" in inner and "tanh" not in inner.split("}")[0]


def test_folding_modules_into_boxes() -> None:
    model = TwoLayer()
    loss = model(Tensor(np.ones((2, 3)))).sum()
    folded = ag.to_dot(loss, max_depth=1, legend=False)
    assert folded.count("box3d") == 2  # one box per layer
    assert "matmul" not in folded and "2 ops, 2 parameters" in folded
    everything = ag.to_dot(loss, max_depth=0, legend=False)
    assert everything.count("box3d") == 1 and "tanh" not in everything
    by_class = ag.to_dot(loss, collapse=[Affine], legend=False)
    assert by_class.count("box3d") == 2


def test_repeated_calls_fold_into_one_box_with_a_recurrent_edge() -> None:
    cell = Affine(3, 3, 0)
    h = Tensor(np.zeros((1, 3)))
    for _ in range(10):
        h = cell(h).tanh()
    dot = ag.to_dot(h.sum(), collapse=[cell], legend=False)
    assert dot.count("box3d") == 1 and "20 ops, 2 parameters" in dot  # matmul + add per call
    box = re.search(r"^(m\d+) \[", dot, flags=re.M).group(1)
    assert (box, box) not in _edges(dot)  # calls chain through tanh, outside the box
    assert len(_nodes(dot)) == 1 + 10 + 1 + 1  # box, 10 tanh, the input, the sum


def test_show_grad_values_equal_gradient_norms_and_flag_non_finite() -> None:
    w = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    w.name = "w"
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    dot = ag.to_dot(loss, show_grad=True)
    assert f"|grad| {np.linalg.norm(w.grad):.3g}" in dot  # |(6, 8)| = 10
    assert "|grad| 10<" in dot or "|grad| 10>" in dot
    bad = Tensor(np.array([1.0, 0.0]), requires_grad=True)
    with np.errstate(divide="ignore"):
        out = bad.sqrt().sum()
        out.backward(retain_graph=True)
    assert "NaN/inf" in ag.to_dot(out, show_grad=True)


def test_scalar_view_shows_values_and_gradients() -> None:
    a, b = Tensor(2.0, requires_grad=True), Tensor(-3.0, requires_grad=True)
    a.name, b.name = "a", "b"
    out = a * b + 1
    out.backward(retain_graph=True)
    dot = ag.to_dot(out, show_grad=True)
    assert "<B>a</B><BR/>2<BR/>grad -3" in dot and "<B>b</B><BR/>-3<BR/>grad 2" in dot
    assert "<B>multiply</B><BR/>-6<BR/>grad 1" in dot


def test_drawing_changes_neither_graph_nor_gradients() -> None:
    model = TwoLayer()
    loss = (model(Tensor(np.ones((2, 3)))) ** 2).sum()
    before = _graph_size(loss)
    ag.to_dot(loss, show_grad=True, max_depth=1)
    ag.draw_graph(loss)
    assert _graph_size(loss) == before
    assert model.first.weight.grad is None  # show_grad's extra pass writes no .grad
    loss.backward()
    reference = TwoLayer()
    (reference(Tensor(np.ones((2, 3)))) ** 2).sum().backward()
    np.testing.assert_array_equal(model.first.weight.grad, reference.first.weight.grad)


def test_freed_graph_gives_a_clear_error() -> None:
    w = Tensor(np.ones(3), requires_grad=True)
    loss = (w * 2).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        ag.to_dot(loss)


def test_large_graph_draws_quickly_without_recursion() -> None:
    x = Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    dot = ag.to_dot(y)  # 5,000 deep: would overflow a recursive walk
    assert len(_nodes(dot)) == 10001  # 5000 ops, 5000 constants, x


def test_draw_graph_returns_a_digraph_with_the_same_content() -> None:
    graphviz = pytest.importorskip("graphviz")
    w = Tensor(np.ones(2), requires_grad=True)
    loss = w.tanh().sum()
    dot = ag.draw_graph(loss)
    assert isinstance(dot, graphviz.Digraph)
    assert dot.source.count("->") == ag.to_dot(loss).count("->")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz binary not installed")
def test_rendering_to_svg(tmp_path) -> None:
    w = Tensor(np.ones(2), requires_grad=True)
    path = ag.draw_graph(w.tanh().sum()).render(tmp_path / "graph", format="svg")
    assert open(path).read().lstrip().startswith(("<?xml", "<svg"))


def test_an_unrolled_recurrence_folds_into_one_box_with_a_self_loop() -> None:
    class Cell(Affine):
        def __call__(self, x: Tensor) -> Tensor:
            with ag.scope(self):
                return (x @ self.weight + self.bias).tanh()

    cell = Cell(3, 3, 0)
    h = Tensor(np.zeros((1, 3)))
    for _ in range(6):
        h = cell(h)
    unfolded = ag.to_dot(h.sum(), legend=False)
    assert unfolded.count("subgraph cluster_") == 6  # one cluster per call
    folded = ag.to_dot(h.sum(), collapse=[Cell], legend=False)
    box = re.search(r"^(m\d+) \[", folded, flags=re.M).group(1)
    assert f'{box} -> {box} [label="×5"]' in folded  # five hand-offs between six calls
    assert "18 ops, 2 parameters" in folded


def test_per_step_inputs_of_a_folded_module_are_drawn_once_with_a_count() -> None:
    cell = Affine(3, 3, 0)
    h = Tensor(np.zeros((2, 3)))
    for x in np.ones((7, 2, 3)):
        h = cell(Tensor(x) + h)
    dot = ag.to_dot(h.sum(), collapse=[cell], legend=False)
    assert "7 × input" not in dot  # these inputs feed `add` outside the box
    h = Tensor(np.zeros((2, 3)))
    for x in np.ones((7, 2, 3)):
        with ag.scope(cell):
            h = Tensor(x) * h + cell.bias
    dot = ag.to_dot(h.sum(), collapse=[cell], legend=False)
    # Six x's and the first step's x * h0 (no gradient there, so a leaf) form one group.
    assert "7 × input" in dot and dot.count("parallelogram") == 1
    assert "->" in dot and '[label="×7"]' in dot
