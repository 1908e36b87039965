"""Draw the computation graph: `to_dot` gives DOT text, `draw_graph` a `graphviz.Digraph`.

One node per op and per leaf, edges in data-flow direction (inputs to output). Leaves
that require grad (parameters), other leaves (inputs and constants), ops, and the
output each get their own colour from the Okabe-Ito palette, which colour-blind readers
can tell apart. The graph is walked with an explicit stack, so deep graphs draw fine.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from . import dtypes
from .tensor import Tensor

STYLES = {
    "param": {"fillcolor": "#56B4E9", "shape": "box", "style": "filled,rounded"},  # sky blue
    "input": {"fillcolor": "#E6E6E6", "shape": "box", "style": "filled,rounded"},  # grey
    "op": {"fillcolor": "#F0E442", "shape": "box", "style": "filled"},  # yellow
    "output": {"fillcolor": "#E69F00", "shape": "box", "style": "filled"},  # orange
}


def _collect(root: Tensor) -> list[Tensor]:
    """Every tensor `root` depends on, root first, without recursion."""
    seen = {id(root)}
    order = [root]
    stack = [root]
    while stack:
        node = stack.pop()
        for p in node._parents:
            if id(p) not in seen:
                seen.add(id(p))
                order.append(p)
                stack.append(p)
    return order


def _fmt_shape(t: Tensor) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ("," if t.ndim == 1 else "") + ")"


def _label(t: Tensor, kind: str, names: dict[int, str], show_grad: bool) -> str:
    lines = []
    title = names.get(id(t)) or t.name
    if t._op is not None:
        lines.append(f"<B>{html.escape(t._op)}</B>")
        if title:
            lines.append(html.escape(title))
    else:
        lines.append(f"<B>{html.escape(title)}</B>" if title else ("param" if kind == "param" else "input"))
    if t.ndim == 0 and t.size == 1:
        lines.append(f"value {float(t.data):.4g}" if t.dtype.kind in "fiub" else "")
    else:
        lines.append(_fmt_shape(t))
    if t.dtype != dtypes.get_default_dtype():
        lines.append(str(t.dtype))
    if show_grad and t.grad is not None:
        g = np.asarray(t.grad, dtype=np.float64)
        finite = bool(np.isfinite(g).all())
        text = f"grad {float(g):.4g}" if g.ndim == 0 else f"|grad| {float(np.linalg.norm(g)):.3g}"
        lines.append(text if finite else f'<FONT COLOR="#D55E00">{text} (non-finite)</FONT>')
    return "<" + "<BR/>".join(line for line in lines if line) + ">"


def _kind(t: Tensor, root: Tensor) -> str:
    if t is root:
        return "output"
    if t._op is not None:
        return "op"
    return "param" if t._requires_grad else "input"


def _names_from(params: Any) -> dict[int, str]:
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    return {id(v): k for k, v in dict(params).items()}


def _dot_lines(root: Tensor, params: Any, show_grad: bool, rankdir: str) -> tuple[list[str], list[str]]:
    names = _names_from(params)
    nodes, edges = [], []
    ids = {}
    for k, t in enumerate(_collect(root)):
        ids[id(t)] = f"n{k}"
    for t in _collect(root):
        kind = _kind(t, root)
        attrs = dict(STYLES[kind], label=_label(t, kind, names, show_grad))
        nodes.append((ids[id(t)], attrs))
        for p in t._parents:
            edges.append((ids[id(p)], ids[id(t)]))
    return nodes, edges  # type: ignore[return-value]


def to_dot(root: Tensor, params: Any = None, show_grad: bool = False, rankdir: str = "LR") -> str:
    """The graph behind `root` as DOT text; needs no Graphviz binary."""
    nodes, edges = _dot_lines(root, params, show_grad, rankdir)
    out = ["digraph autograd {", f"  rankdir={rankdir};", '  node [fontname="Helvetica", fontsize=10];']
    for name, attrs in nodes:  # type: ignore[misc]
        parts = [f'{k}="{v}"' for k, v in attrs.items() if k != "label"]
        out.append(f"  {name} [label={attrs['label']}, {', '.join(parts)}];")
    for a, b in edges:  # type: ignore[misc]
        out.append(f"  {a} -> {b};")
    out.append("}")
    return "\n".join(out)


def draw_graph(root: Tensor, params: Any = None, show_grad: bool = False, rankdir: str = "LR") -> Any:
    """The graph behind `root` as a `graphviz.Digraph` (renders to SVG/PNG, shows in Jupyter).

    `params` (a dict of name to parameter, or a model) labels parameters by name;
    `show_grad=True` adds gradient norms after `backward()`, flagging NaN/inf.
    """
    try:
        import graphviz
    except ImportError:  # pragma: no cover - graphviz is a core dependency
        raise ImportError("draw_graph needs the graphviz package: pip install graphviz") from None
    nodes, edges = _dot_lines(root, params, show_grad, rankdir)
    dot = graphviz.Digraph("autograd", graph_attr={"rankdir": rankdir},
                           node_attr={"fontname": "Helvetica", "fontsize": "10"})
    for name, attrs in nodes:  # type: ignore[misc]
        dot.node(name, **attrs)
    for a, b in edges:  # type: ignore[misc]
        dot.edge(a, b)
    return dot
