"""`nn.summary(model, *example_inputs)`: layers, output shapes, parameters and activation memory.

    >>> print(nn.summary(model, np.zeros((32, 64), dtype=np.float32)))

One forward pass on the example inputs, in grad mode, with a forward hook on every
module, records each module's output shape and number of calls. The graph that pass
records is then read to measure the activation memory each layer keeps for backward.
Nothing is left changed: no backward runs (parameters' `.grad` stay as they were),
the train/eval flags, the buffers (BatchNorm's running statistics) and `nn`'s random
generator (dropout masks) are restored, and the hooks are removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from . import init
from .module import Module


@dataclass
class LayerSummary:
    """One row of the table: one module object (a shared module appears once)."""

    name: str  # dotted name in the model ('' for the model itself); the first of its names
    type: str  # class name
    depth: int  # 0 for the model, 1 for its children, ...
    output_shape: Any  # a shape tuple, a list/tuple/dict of them for several outputs, None if never called
    params: int  # elements of the module's parameters, its sub-modules' included (each Parameter once)
    trainable: int  # of which require grad
    frozen: int  # of which do not
    activation_bytes: int  # bytes kept for backward by ops recorded in this module's own code (see summary)
    calls: int  # how many times the module was called during the pass
    aliases: tuple[str, ...] = ()  # its other names (the same module registered more than once)

    @property
    def shared(self) -> bool:
        """Registered under several names, or called several times (a recurrent cell)."""
        return bool(self.aliases) or self.calls > 1


class ModelSummary:
    """What `nn.summary` returns: `str()` is the table; the numbers are attributes.

    `rows` (a list of `LayerSummary`, depth first, the model first), `total_params`,
    `trainable_params`, `frozen_params`, `param_bytes`, `buffer_bytes`,
    `activation_bytes` (the sum over rows), `input_shapes`, `output_shape`.
    `summary["encoder.0"]` is the row of that module (any of its names).
    """

    def __init__(self, model: Module, rows: list[LayerSummary], input_shapes: list[Any], output_shape: Any,
                 depth: int | None) -> None:
        params = list(model.parameters())
        self.model_type = type(model).__name__
        self.rows = rows
        self.total_params = sum(p.size for p in params)
        self.trainable_params = sum(p.size for p in params if p.requires_grad)
        self.frozen_params = self.total_params - self.trainable_params
        self.param_bytes = sum(p.data.nbytes for p in params)
        self.buffer_bytes = sum(np.asarray(_array(b)).nbytes for b in model.buffers())
        self.activation_bytes = sum(r.activation_bytes for r in rows)
        self.input_shapes = input_shapes
        self.output_shape = output_shape
        self.depth = depth

    def __getitem__(self, name: str) -> LayerSummary:
        for row in self.rows:
            if row.name == name or name in row.aliases:
                return row
        raise KeyError(f"summary: no layer named {name!r}")

    def __iter__(self) -> Iterator[LayerSummary]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __str__(self) -> str:
        header = ("Layer (type)", "Output shape", "Param #", "Frozen #", "Activations")
        lines = []
        for row in self.rows:
            if self.depth is not None and row.depth > self.depth:
                continue
            label = f"{row.name} ({row.type})" if row.name else row.type
            notes = []
            if row.aliases:
                notes.append("shared: also " + ", ".join(row.aliases))
            if row.calls > 1:
                notes.append(f"x{row.calls} calls")
            if notes:
                label += " [" + "; ".join(notes) + "]"
            lines.append((
                "  " * row.depth + label,
                _fmt_shape(row.output_shape),
                f"{row.params:,}",
                f"{row.frozen:,}" if row.frozen else "-",
                _fmt_bytes(row.activation_bytes) if row.activation_bytes else "-",
            ))
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

        def fmt(cells: tuple[str, ...]) -> str:
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        rule = "=" * len(fmt(header))
        out = [rule, fmt(header), rule.replace("=", "-")]
        out.extend(fmt(line) for line in lines)
        out += [
            rule,
            f"Total params: {self.total_params:,} ({_fmt_bytes(self.param_bytes)})",
            f"Trainable params: {self.trainable_params:,}",
            f"Frozen params: {self.frozen_params:,}",
            f"Buffers: {_fmt_bytes(self.buffer_bytes)}",
            f"Activations kept for backward: {_fmt_bytes(self.activation_bytes)}",
            f"Input shape(s): {', '.join(_fmt_shape(s) for s in self.input_shapes)}",
            f"Output shape: {_fmt_shape(self.output_shape)}",
            rule,
        ]
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)


def summary(model: Module, *example_inputs: Any, depth: int | None = None, mode: str = "same",
            **kwargs: Any) -> ModelSummary:
    """Run `model(*example_inputs, **kwargs)` once and summarise it, in the spirit of torchinfo and Keras.

    Returns a `ModelSummary` whose `str` is a table: one row per module object, named
    and indented by its place in the model, with its type, output shape, parameter count
    (its sub-modules' included; trainable and frozen), the activation memory its own ops
    keep for backward, and totals. A module registered under several names, or called
    several times (an RNN cell unrolled over time, a layer reused), is one row, marked
    "shared: also ..." / "xN calls"; its parameters count once in the totals.

    `depth` limits the rows printed (not the totals). `mode` is "same" (keep each
    module's train/eval flag), "train" or "eval" for the pass; the flags are restored.

    Activation memory ("Activations", `activation_bytes`) is measured from the graph the
    pass records, which is what backward will read: for every recorded op, the arrays it
    keeps (`_saved_data`, the input values it recorded, and any array its vjp closures
    hold, such as a dropout mask). Each array counts for the bytes of memory it spans,
    and each byte once in the whole model (a view or alias of an array already counted
    adds nothing), for the first op in forward order that keeps it; that op's bytes go
    to the innermost module whose `forward` recorded it. Parameters and buffers (and
    views of them) are not activations and are left out; the example inputs count where
    an op keeps them. So a layer's count is essentially the inputs it keeps: `Linear`
    keeps its input, `ReLU` its input (the previous layer's output), `Dropout` its input
    and its mask. An op's own output, kept by the graph node itself, counts when a later
    op keeps it, so the model's final output does not count. Ops that record nothing (no
    input requires grad: a frozen model on plain inputs) keep nothing.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    if not example_inputs and not kwargs:
        raise TypeError("summary: pass example inputs, e.g. nn.summary(model, np.zeros((1, 64), np.float32))")
    if mode not in ("same", "train", "eval"):
        raise ValueError(f"summary: mode must be 'same', 'train' or 'eval', got {mode!r}")

    named = list(model.named_modules())
    index = {id(m): k for k, (_, m) in enumerate(named)}
    aliases: dict[int, list[str]] = {id(m): [] for _, m in named}
    for name, m in model.named_modules(remove_duplicate=False):
        if name != named[index[id(m)]][0]:
            aliases[id(m)].append(name)
    shapes: dict[int, Any] = {}
    calls: dict[int, int] = {id(m): 0 for _, m in named}

    def record(module: Module, args: Any, output: Any) -> None:
        calls[id(module)] += 1
        shapes.setdefault(id(module), _shape_of(output))

    flags = [(m, m.training) for _, m in named]
    buffers = _snapshot_buffers(named)
    rng_state = init.generator().bit_generator.state
    handles = [m.register_forward_hook(record) for _, m in named]
    try:
        if mode != "same":
            model.train(mode == "train")
        with ag.enable_grad():
            output = model(*example_inputs, **kwargs)
        activation = _activation_bytes(output, model, index)
    finally:
        for h in handles:
            h.remove()
        for m, flag in flags:
            m.__dict__["training"] = flag
        _restore_buffers(buffers)
        init.generator().bit_generator.state = rng_state

    rows = []
    for k, (name, m) in enumerate(named):
        params = list(m.parameters())
        total = sum(p.size for p in params)
        trainable = sum(p.size for p in params if p.requires_grad)
        rows.append(LayerSummary(
            name=name, type=type(m).__name__, depth=0 if not name else name.count(".") + 1,
            output_shape=shapes.get(id(m)), params=total, trainable=trainable, frozen=total - trainable,
            activation_bytes=activation[k], calls=calls[id(m)], aliases=tuple(aliases[id(m)]),
        ))
    inputs = [_shape_of(x) for x in example_inputs]
    return ModelSummary(model, rows, inputs, _shape_of(output), depth)


# ----------------------------------------------------------------------------- measuring
def _array(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def _owner(arr: np.ndarray) -> np.ndarray:
    """The array that owns `arr`'s memory (a view's base, followed to the end)."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def _tensors(value: Any) -> Iterator[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


def _graph(roots: list[Tensor]) -> list[Tensor]:
    """Op nodes behind `roots`, parents before children (the order forward recorded them in)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen or node._op is None:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(node._parents) if id(p) not in seen)
    return order


def _kept_arrays(node: Tensor) -> Iterator[np.ndarray]:
    """The arrays an op node keeps for backward: its recorded inputs and its vjps' closure arrays."""
    for a in node._saved_data or ():
        if isinstance(a, np.ndarray):
            yield a
    for vjp in node._vjps or ():
        for cell in getattr(vjp, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(value, np.ndarray):
                yield value


def _byte_bounds(arr: np.ndarray) -> tuple[int, int]:
    """[low, high) addresses of the bytes `arr` spans (`np.byte_bounds`, which moved in NumPy 2)."""
    low = high = arr.__array_interface__["data"][0]
    for n, stride in zip(arr.shape, arr.strides):
        if stride < 0:
            low += (n - 1) * stride
        else:
            high += (n - 1) * stride
    return low, high + arr.itemsize


class _Memory:
    """Bytes of memory spanned by the arrays seen so far, each byte once (views and aliases overlap)."""

    def __init__(self) -> None:
        self.spans: dict[int, list[tuple[int, int]]] = {}  # owner id -> disjoint [low, high) byte ranges
        self.owners: list[np.ndarray] = []  # keeps the ids valid while counting

    def add(self, arr: np.ndarray) -> int:
        """Bytes of `arr`'s memory not seen before (0 for an array already counted)."""
        if arr.size == 0:
            return 0
        owner = _owner(arr)
        low, high = _byte_bounds(arr)
        spans = self.spans.get(id(owner))
        if spans is None:
            spans = self.spans[id(owner)] = []
            self.owners.append(owner)
        new = high - low
        merged = []
        for a, b in spans:
            if b < low or a > high:
                merged.append((a, b))
            else:  # overlapping or touching: subtract the overlap, merge the ranges
                new -= max(0, min(b, high) - max(a, low))
                low, high = min(a, low), max(b, high)
        merged.append((low, high))
        self.spans[id(owner)] = merged
        return new


def _activation_bytes(output: Any, model: Module, index: dict[int, int]) -> list[int]:
    """Bytes per row (see `summary`), attributed to the innermost module whose forward recorded the op."""
    excluded = {id(_owner(np.asarray(_array(v)))) for v in model.parameters()}
    excluded |= {id(_owner(np.asarray(_array(b)))) for b in model.buffers() if b is not None}
    totals = [0] * len(index)
    memory = _Memory()
    for node in _graph(list(_tensors(output))):
        nbytes = sum(memory.add(arr) for arr in _kept_arrays(node) if id(_owner(arr)) not in excluded)
        if not nbytes:
            continue
        row, frame = 0, node._scope  # ops outside every module of the model go to the model's row
        while frame is not None:
            if id(frame.owner) in index:
                row = index[id(frame.owner)]
                break
            frame = frame.parent
        totals[row] += nbytes
    return totals


def _snapshot_buffers(named: list[tuple[str, Module]]) -> list[tuple[Module, str, Any, Any, np.ndarray]]:
    saved = []
    for _, m in named:
        for name, b in m._buffers.items():
            if b is not None:
                arr = _array(b)
                saved.append((m, name, b, arr, np.array(arr, copy=True)))
    return saved


def _restore_buffers(saved: list[tuple[Module, str, Any, Any, np.ndarray]]) -> None:
    for m, name, buffer, arr, values in saved:
        if m._buffers.get(name) is not buffer:
            setattr(m, name, buffer)
        if isinstance(buffer, Tensor):
            buffer.data = arr  # BatchNorm assigns new arrays: give back the original one...
        if arr.flags.writeable:
            arr[...] = values  # ...with its original values


# ----------------------------------------------------------------------------- formatting
def _shape_of(value: Any) -> Any:
    if isinstance(value, (Tensor, np.ndarray)):
        return tuple(value.shape)
    if isinstance(value, tuple):
        return tuple(_shape_of(v) for v in value)
    if isinstance(value, list):
        return [_shape_of(v) for v in value]
    if isinstance(value, dict):
        return {k: _shape_of(v) for k, v in value.items()}
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return type(value).__name__


def _fmt_shape(shape: Any, nested: bool = False) -> str:
    """[5, 8] for one shape; several outputs side by side, inner groups in parentheses."""
    if shape is None:
        return "--"
    if isinstance(shape, tuple) and all(isinstance(n, (int, np.integer)) for n in shape):
        return "[" + ", ".join(str(n) for n in shape) + "]"
    if isinstance(shape, (tuple, list)):
        text = ", ".join(_fmt_shape(s, True) for s in shape)
    elif isinstance(shape, dict):
        text = ", ".join(f"{k}: {_fmt_shape(v, True)}" for k, v in shape.items())
    else:
        return str(shape)
    return f"({text})" if nested else text


def _fmt_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
    return f"{n} B"  # unreachable
