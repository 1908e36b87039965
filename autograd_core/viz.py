"""Draw the computation graph: `to_dot` gives DOT text, `draw_graph` a `graphviz.Digraph`.

One node per op and per leaf, edges in data-flow direction (inputs to output).
Parameters, inputs, constants, ops and the output each have their own shape and an
Okabe-Ito colour, which colour-blind readers can tell apart. A legend explains them.
Ops carry the scopes (`nn` modules) that were running when they were recorded. The
drawing clusters them by module, and folds a module into a single box at `max_depth`
or when it is named in `collapse`. A module called many times, such as an RNN cell
unrolled over time, folds into one box with a self-loop. Every walk uses an explicit
stack, so deep graphs draw fine.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import dtypes
from .grad_mode import ScopeFrame
from .tensor import Tensor

# (fill colour, shape, style): shape and colour both differ, so neither alone is needed.
STYLES: dict[str, tuple[str, str, str]] = {
    "parameter": ("#56B4E9", "box", "filled,rounded"),  # sky blue
    "input": ("#009E73", "parallelogram", "filled"),  # bluish green
    "constant": ("#FFFFFF", "ellipse", "filled,dashed"),  # white
    "op": ("#F0E442", "box", "filled"),  # yellow
    "output": ("#E69F00", "doubleoctagon", "filled"),  # orange
    "module": ("#CC79A7", "box3d", "filled"),  # reddish purple: a folded module
}
_FONT_LIGHT = {"input"}  # dark fills take white text
_BAD = "#D55E00"  # vermillion: non-finite gradients


@dataclass
class _Node:
    ident: str
    kind: str
    label: str
    cluster: tuple[int, ...] = ()  # ids of the scope frames (calls) it sits in, outermost first
    bad: bool = False
    count: int = 1  # inputs drawn as one node


@dataclass
class _Graph:
    nodes: dict[str, _Node] = field(default_factory=dict)
    edges: dict[tuple[str, str], int] = field(default_factory=dict)  # multiplicity
    scope_names: dict[int, str] = field(default_factory=dict)  # frame id -> label
    box_params: dict[str, int] = field(default_factory=dict)  # folded box -> parameters inside


def _collect(root: Tensor) -> list[Tensor]:
    """Every tensor `root` depends on, root first, without recursion."""
    seen = {id(root)}
    order = [root]
    stack = [root]
    while stack:
        for p in stack.pop()._parents:
            if id(p) not in seen:
                seen.add(id(p))
                order.append(p)
                stack.append(p)
    return order


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _names(params: Any) -> tuple[dict[int, str], dict[int, str]]:
    """Parameter names and module names by object id, from a model or a name->param dict."""
    if params is None:
        return {}, {}
    modules: dict[int, str] = {}
    if hasattr(params, "named_modules"):
        for name, module in params.named_modules():
            cls = type(module).__name__
            modules[id(module)] = f"{name} ({cls})" if name else cls
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    return {id(v): k for k, v in dict(params).items()}, modules


def _scope_label(owner: object, modules: dict[int, str]) -> str:
    if id(owner) in modules:
        return modules[id(owner)]
    return owner if isinstance(owner, str) else type(owner).__name__


def _leaf_kind(t: Tensor) -> str:
    if t._requires_grad:
        return "parameter"
    return "constant" if t.ndim == 0 else "input"


def _grad_text(grad: Any) -> tuple[str, bool]:
    g = np.asarray(grad, dtype=np.float64)
    finite = bool(np.isfinite(g).all())
    text = f"grad {float(g):.4g}" if g.ndim == 0 else f"|grad| {float(np.linalg.norm(g)):.3g}"
    return text, not finite


def _op_grads(root: Tensor, tensors: list[Tensor]) -> dict[int, np.ndarray]:
    """d(root)/d(op output) for every op node, by one extra pass over the live graph."""
    from .engine import grad

    ops = [t for t in tensors if t._op is not None and t._requires_grad]
    if not ops or root.size != 1 or not root._requires_grad:
        return {}
    grads = grad(root, ops, retain_graph=True, allow_unused=True)
    return {id(t): g.data for t, g in zip(ops, grads) if g is not None}


def _label(t: Tensor, kind: str, name: str | None, show_grad: bool, grad: Any = None) -> tuple[str, bool]:
    lines = []
    if t._op is not None:
        lines.append(f"<B>{html.escape(t._op)}</B>")
        if name:
            lines.append(html.escape(name))
    else:
        lines.append(f"<B>{html.escape(name)}</B>" if name else kind)
    if t.ndim == 0 and t.dtype.kind in "biuf":
        lines.append(f"{float(t.data):.4g}")  # the scalar "neuron" view: show the value
    else:
        lines.append(_fmt_shape(t.shape))
    if t.dtype != dtypes.get_default_dtype():
        lines.append(str(t.dtype))
    bad = False
    if grad is None:
        grad = t.grad
    if show_grad and grad is not None:
        text, bad = _grad_text(grad)
        lines.append(f'<FONT COLOR="{_BAD}"><B>{text} (NaN/inf)</B></FONT>' if bad else text)
    return "<" + "<BR/>".join(lines) + ">", bad


def _fold_point(owners: tuple[object, ...], max_depth: int | None, collapse: tuple[Any, ...]) -> int | None:
    """Index in `owners` of the module this op folds into, or None to draw the op itself."""
    for i, owner in enumerate(owners):
        if max_depth is not None and i >= max_depth:
            return i
        for c in collapse:
            if owner is c or (isinstance(c, type) and isinstance(owner, c)) or (
                isinstance(c, str) and type(owner).__name__ == c
            ):
                return i
    return None


class _Frames:
    """Per-call scope frames of each tensor, outermost first, computed once per frame."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[ScopeFrame, ...]] = {}

    def __call__(self, t: Tensor) -> tuple[ScopeFrame, ...]:
        frame = t._scope
        if frame is None:
            return ()
        found = self._cache.get(id(frame))
        if found is None:
            found = self._cache[id(frame)] = frame.frames()
        return found


def _build(
    root: Tensor, params: Any, show_grad: bool, max_depth: int | None, collapse: Iterable[Any] | bool
) -> _Graph:
    if root._op is not None and root._vjps is None:
        raise RuntimeError(
            "draw_graph: the graph behind this tensor was freed by backward(); draw it before "
            "backward, or call backward(retain_graph=True) to keep it (show_grad needs that too)"
        )
    if collapse is True:
        max_depth, collapse = (1 if max_depth is None else max_depth), ()
    collapse = tuple(collapse or ())
    param_names, module_names = _names(params)
    tensors = _collect(root)
    ident = {id(t): f"n{k}" for k, t in enumerate(tensors)}
    frames_of = _Frames()
    graph = _Graph()

    # Where each op is drawn: itself, or the box of the module it folds into. A box
    # stands for a module, so all calls of that module (an unrolled RNN cell) share it;
    # `call` remembers which call each folded op came from.
    where: dict[int, str] = {}
    box_names: dict[tuple[int, ...], str] = {}  # owner chain -> "m<k>", numbered in order
    call: dict[int, int] = {}
    folded: dict[str, list[Any]] = {}  # box id -> [owner, op count]
    for t in tensors:
        if t._op is None:
            continue
        frames = frames_of(t)
        for f in frames:
            graph.scope_names.setdefault(id(f), _scope_label(f.owner, module_names))
        owners = tuple(f.owner for f in frames)
        point = _fold_point(owners, max_depth, collapse) if t is not root else None
        if point is None:
            where[id(t)] = ident[id(t)]
            continue
        key = tuple(id(o) for o in owners[: point + 1])
        box = box_names.setdefault(key, f"m{len(box_names)}")
        where[id(t)] = box
        call[id(t)] = id(frames[point])
        info = folded.setdefault(box, [frames[: point + 1], 0])
        info[1] += 1

    consumers: dict[int, list[Tensor]] = {}
    for t in tensors:
        for p in t._parents:
            consumers.setdefault(id(p), []).append(t)
    _place_leaves(graph, tensors, root, where, folded, consumers, ident, frames_of, param_names, show_grad)

    op_grads = _op_grads(root, tensors) if show_grad else {}
    for t in tensors:
        if t._op is None or where[id(t)] != ident[id(t)]:
            continue
        kind = "output" if t is root else "op"
        label, bad = _label(t, kind, t.name, show_grad, op_grads.get(id(t)))
        graph.nodes[ident[id(t)]] = _Node(ident[id(t)], kind, label, tuple(id(f) for f in frames_of(t)), bad)
    for box, (frames, count) in folded.items():
        title = html.escape(_scope_label(frames[-1].owner, module_names))
        n_params = graph.box_params.get(box, 0)
        extra = f", {n_params} parameter{'s' * (n_params != 1)}" if n_params else ""
        label = f"<<B>{title}</B><BR/>{count} op{'s' * (count != 1)}{extra}>"
        graph.nodes[box] = _Node(box, "module", label, tuple(id(f) for f in frames[:-1]))

    for t in tensors:
        head = where[id(t)]
        for p in t._parents:
            tail = where[id(p)]
            if tail == head and (head not in folded or p._op is None or call[id(p)] == call[id(t)]):
                continue  # inside one box and one call: hidden (between calls: a recurrence)
            graph.edges[(tail, head)] = graph.edges.get((tail, head), 0) + 1
    return graph


def _place_leaves(
    graph: _Graph,
    tensors: list[Tensor],
    root: Tensor,
    where: dict[int, str],
    folded: dict[str, list[Any]],
    consumers: dict[int, list[Tensor]],
    ident: dict[int, str],
    frames_of: _Frames,
    param_names: dict[int, str],
    show_grad: bool,
) -> None:
    """Leaves sit in the deepest call shared by their consumers, or fold into their box.

    Unnamed inputs of one shape feeding only one box (the steps of an unrolled
    sequence) are drawn as a single node with a count.
    """
    grouped: dict[tuple[Any, ...], str] = {}
    for t in tensors:
        if t._op is not None:
            continue
        kind = "output" if t is root else _leaf_kind(t)
        users = consumers.get(id(t), [])
        targets = {where[id(u)] for u in users}
        only = next(iter(targets)) if len(targets) == 1 else None
        if kind in ("parameter", "constant") and only in folded:
            where[id(t)] = only
            if kind == "parameter":
                graph.box_params[only] = graph.box_params.get(only, 0) + 1
            continue
        name = param_names.get(id(t)) or t.name
        if kind == "input" and only in folded and not name:
            key = (only, t.shape, t.dtype)
            if key in grouped:
                node = graph.nodes[grouped[key]]
                node.count += 1
                where[id(t)] = node.ident
                continue
            grouped[key] = ident[id(t)]
        where[id(t)] = ident[id(t)]
        cluster: tuple[int, ...] = ()
        if kind != "input" and users:
            cluster = tuple(id(f) for f in _common_prefix([frames_of(u) for u in users]))
        label, bad = _label(t, kind, name, show_grad)
        graph.nodes[ident[id(t)]] = _Node(ident[id(t)], kind, label, cluster, bad)
    for node in graph.nodes.values():
        if node.count > 1:
            node.label = node.label.replace("<input", f"<{node.count} × input", 1)


def _common_prefix(paths: list[tuple[ScopeFrame, ...]]) -> tuple[ScopeFrame, ...]:
    """The longest run of frames (calls) that every path starts with."""
    first = paths[0]
    n = len(first)
    for path in paths[1:]:
        n = min(n, len(path))
        for i in range(n):
            if path[i] is not first[i]:
                n = i
                break
    return first[:n]


def _node_line(node: _Node) -> str:
    fill, shape, style = STYLES[node.kind]
    attrs = f'label={node.label}, shape={shape}, style="{style}", fillcolor="{fill}"'
    if node.kind in _FONT_LIGHT:
        attrs += ', fontcolor="white"'
    if node.bad:
        attrs += f', color="{_BAD}", penwidth=3'
    return f"{node.ident} [{attrs}];"


def _legend() -> list[str]:
    lines = ['subgraph cluster_legend {', 'label="legend"; style="rounded"; color="#999999"; fontsize=9;']
    names = {"parameter": "parameter", "input": "input", "constant": "constant", "op": "operation",
             "output": "output", "module": "folded module"}
    previous = None
    for kind, text in names.items():
        fill, shape, style = STYLES[kind]
        font = ', fontcolor="white"' if kind in _FONT_LIGHT else ""
        lines.append(f'legend_{kind} [label="{text}", shape={shape}, style="{style}", fillcolor="{fill}"{font}];')
        if previous:
            lines.append(f"legend_{previous} -> legend_{kind} [style=invis];")
        previous = kind
    lines.append("}")
    return lines


def _body(graph: _Graph, legend: bool) -> list[str]:
    # Nest nodes in their module clusters: a tree keyed by scope-id prefixes.
    tree: dict[tuple[int, ...], list[_Node]] = {}
    for node in graph.nodes.values():
        tree.setdefault(node.cluster, []).append(node)
    prefixes: dict[tuple[int, ...], None] = {}  # first-seen order, so the output is deterministic
    for path in tree:
        for i in range(1, len(path) + 1):
            prefixes.setdefault(path[:i])
    children: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for path in sorted(prefixes, key=len):  # stable: keeps first-seen order within a depth
        children.setdefault(path[:-1], []).append(path)

    cluster_names: dict[tuple[int, ...], int] = {}  # numbered in order: deterministic output
    lines: list[str] = []
    stack: list[tuple[tuple[int, ...], bool]] = [((), False)]
    while stack:
        path, closing = stack.pop()
        if closing:
            lines.append("}")
            continue
        if path:
            label = html.escape(graph.scope_names.get(path[-1], "?"))
            lines.append(f"subgraph cluster_{cluster_names.setdefault(path, len(cluster_names))} {{")
            lines.append(f'label=<<I>{label}</I>>; style="rounded,dashed"; color="#0072B2"; fontcolor="#0072B2";')
            stack.append((path, True))
        lines.extend(_node_line(n) for n in tree.get(path, []))
        stack.extend((child, False) for child in reversed(children.get(path, [])))
    for (tail, head), count in graph.edges.items():
        label = f' [label="×{count}"]' if count > 1 else ""
        lines.append(f"{tail} -> {head}{label};")
    if legend:
        lines.extend(_legend())
    return lines


_HEADER = ['node [fontname="Helvetica", fontsize=10];', 'edge [color="#555555"];']


def to_dot(
    root: Tensor,
    params: Any = None,
    show_grad: bool = False,
    max_depth: int | None = None,
    collapse: Iterable[Any] | bool = (),
    legend: bool = True,
    rankdir: str = "LR",
) -> str:
    """The graph behind `root` as DOT text; needs no Graphviz binary (see `draw_graph`)."""
    graph = _build(root, params, show_grad, max_depth, collapse)
    return "\n".join(["digraph autograd {", f"rankdir={rankdir};", *_HEADER, *_body(graph, legend), "}"])


def draw_graph(
    root: Tensor,
    params: Any = None,
    show_grad: bool = False,
    max_depth: int | None = None,
    collapse: Iterable[Any] | bool = (),
    legend: bool = True,
    rankdir: str = "LR",
) -> Any:
    """The graph behind `root` as a `graphviz.Digraph`: `.render("g", format="svg")`, or show it in Jupyter.

    - `params`: a model (or a dict of name to parameter) whose parameter and module
      names label the drawing.
    - `show_grad`: after `backward(retain_graph=True)`, annotate leaves with their
      `.grad` norms (a scalar's gradient itself), and flag NaN/inf in vermillion.
      For a one-element root, op nodes show d(root)/d(node) too, from one extra
      backward pass that changes no `.grad`.
    - `max_depth`: fold every module nested deeper than this into one box (0 folds the
      whole model). `collapse`: modules (objects, classes or class names) to fold
      wherever they occur; `collapse=True` folds each top-level child module.
    - `legend`: draw the key to the styles. `rankdir`: "LR" (default) or "TB".
    """
    try:
        import graphviz
    except ImportError:  # pragma: no cover - graphviz is a core dependency
        raise ImportError("draw_graph needs the graphviz package: pip install graphviz") from None
    graph = _build(root, params, show_grad, max_depth, collapse)
    dot = graphviz.Digraph("autograd", graph_attr={"rankdir": rankdir})
    dot.body.extend(_HEADER + _body(graph, legend))
    return dot
