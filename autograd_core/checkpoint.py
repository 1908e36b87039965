"""`ag.checkpoint`: activation checkpointing, as `torch.utils.checkpoint.checkpoint(use_reentrant=False)`.

    y = ag.checkpoint(block, x)          # block: an nn.Module or any function of Tensors
    loss(y).backward()                   # block's activations are recomputed here

The forward pass runs `fn` under `no_grad`, so none of its intermediate values is kept:
the graph gets one node (an `ag.Function` named `Checkpoint`) per call, whose parents
are `fn`'s Tensor arguments and the parameters `fn` reads. Its backward runs `fn` again
with grad enabled, on fresh leaves holding the saved input values, and sends the
incoming gradient through that recomputed graph with `ag.grad`. The recomputation

- draws the same random numbers: with `preserve_rng_state=True` the state of `nn`'s
  generator (`nn.init.generator()`, which dropout and every random draw of `nn` use) is
  saved before the forward, put back around the recomputation, and then restored to
  where it was, so code that runs after the checkpoint sees the same random stream as
  without checkpointing. NumPy's global generator (`np.random.rand`) is not saved: its
  state costs ~0.1 ms to copy; `fn` should draw from `nn.init.generator()`;
- updates no layer state twice: `grad_mode.is_recomputing()` is True meanwhile, and
  BatchNorm then uses batch statistics without updating `running_mean`, `running_var`
  or `num_batches_tracked`;
- sees the values of the forward pass: inputs come from the saved arrays, and a
  parameter whose `.data` was reassigned since is given its old array for the time of
  the recomputation (an in-place change is refused by the usual version checks).

Which parameters `fn` reads. Without activations there is no graph to find them in, so
they are found by looking at `fn` itself: the parameters of an `nn.Module` (`fn` itself,
the `self` of a bound method, or any module reachable from `fn`), and Tensors that
require grad found in closures, default arguments, the globals named by its code (also
in nested functions and lambdas), `functools.partial` arguments, attributes of plain
objects, lists, tuples and dicts, and the non-Tensor arguments. Library code (NumPy,
`autograd_core`, `nn`, the standard library) is not searched. A nested checkpoint tells
the enclosing one what it found, too. Being parents of the node, these parameters take
part in the outer pass like any other input: `loss.backward()` accumulates their
`.grad`, `ag.grad(loss, params)` returns their gradients, and parameter hooks run once.
Two consequences:

- a parameter found but not used by `fn` gets a zero gradient from the checkpoint (a
  `.grad` of zeros where it would stay None without the checkpoint; PyTorch, which sees
  what the forward pass reads, gives none). With `fn` a module, the usual case, exactly
  its own parameters are found;
- a Tensor that requires grad but was not found (one built inside `fn` with
  `requires_grad=True`, or a non-leaf computed outside and read from a closure) cannot
  be given its gradient: backward then raises a `RuntimeError` naming it, instead of
  dropping its gradient. Pass such tensors as arguments.

(Exact discovery would need `make_result` to report, while a checkpoint's forward runs,
the parents that require grad: under `no_grad` every such parent comes from outside
`fn`. That is a one-line hook in `tensor.py`, a hot path this module leaves alone.)

Differences from PyTorch: `fn` runs under `no_grad` in the forward pass (PyTorch keeps
grad mode on and discards the saved tensors), so inside `fn` tensors do not require grad
then and `register_hook` is unavailable. Second order works: under
`create_graph=True` the recomputation is recorded, and the returned gradients are
connected to the original inputs, so Hessian-vector products and gradgradcheck pass
through checkpoints (nested too); so do forward mode and forward-over-reverse `hvp`.
"""

from __future__ import annotations

import functools
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import engine, grad_mode
from .function import Function, FunctionCtx
from .tensor import Tensor, _clock, _new

__all__ = ["checkpoint"]


def checkpoint(
    fn: Callable[..., Any], *args: Any, preserve_rng_state: bool = True, use_reentrant: bool | None = None,
    **kwargs: Any,
) -> Any:
    """`fn(*args, **kwargs)` without keeping its activations: they are recomputed in backward.

    Arguments and results may be Tensors, other values, and lists, tuples and dicts of
    them. `use_reentrant` is accepted for code written for PyTorch; only the
    non-reentrant behaviour (False or None) exists. See the module docstring for how the
    parameters `fn` reads are found.
    """
    if use_reentrant:
        raise ValueError("checkpoint: use_reentrant=True is not supported; this is torch's use_reentrant=False")
    if not callable(fn):
        raise TypeError(f"checkpoint: fn must be callable, got {type(fn).__name__}")
    state = grad_mode._state
    collectors = _collectors()
    if not state.enabled and not collectors:  # nothing will be recorded: just run it
        return fn(*args, **kwargs)

    leaves, arg_tree = _flatten((args, kwargs))
    explicit = [a for a in leaves if isinstance(a, Tensor)]
    explicit_ids = {id(t) for t in explicit}
    found = _discover([fn, *(a for a in leaves if not isinstance(a, Tensor))])
    for t in explicit:  # an enclosing checkpoint needs these as well
        if t._requires_grad and t._op is None:
            found[id(t)] = t

    rng = _rng_states() if preserve_rng_state else None
    enabled, levels = state.enabled, state.levels
    collectors.append(found)
    state.enabled, state.levels = False, ()
    try:
        output = fn(*args, **kwargs)
    finally:
        state.enabled, state.levels = enabled, levels
        collectors.pop()
    if collectors:
        collectors[-1].update(found)

    captured = [t for key, t in found.items() if key not in explicit_ids]
    if not enabled or not (captured or any(t._requires_grad for t in explicit)):
        return output
    flat_out, out_tree = _flatten(output)
    run = _Run(fn, leaves, arg_tree, len(explicit), captured, rng, out_tree, flat_out)
    results = Checkpoint.apply(run, *explicit, *captured)
    return _unflatten(out_tree, iter((results,) if out_tree is None else results))


_TENSOR = object()  # a Tensor argument's place among the other arguments


class _Run:
    """What one checkpointed call needs for its recomputation (never an activation)."""

    __slots__ = ("fn", "leaves", "arg_tree", "n_explicit", "captured", "rng", "out_tree", "outputs")

    def __init__(self, fn: Callable[..., Any], leaves: list[Any], arg_tree: Any, n_explicit: int,
                 captured: list[Tensor], rng: list[Any] | None, out_tree: Any, outputs: list[Any]) -> None:
        self.fn = fn
        self.leaves = [_TENSOR if isinstance(a, Tensor) else a for a in leaves]  # Tensors come from the node
        self.arg_tree = arg_tree
        self.n_explicit = n_explicit
        self.captured = captured
        self.rng = rng
        self.out_tree = out_tree
        self.outputs: list[Any] | None = outputs  # handed to Checkpoint.forward once, then dropped


class Checkpoint(Function):
    """The graph node of one `ag.checkpoint` call: `fn` already ran; backward recomputes it."""

    @staticmethod
    def forward(ctx: FunctionCtx, run: _Run, *tensors: Tensor) -> Any:
        ctx.run = run  # type: ignore[attr-defined]
        ctx.set_materialize_grads(False)  # an output without a gradient is left out of the recomputed pass
        ctx.save_for_backward(*tensors)
        outputs, run.outputs = run.outputs, None
        assert outputs is not None
        return outputs[0] if run.out_tree is None else tuple(outputs)

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        return (None, *_recompute_and_differentiate(ctx, grad_outputs))


def _recompute_and_differentiate(ctx: FunctionCtx, grad_outputs: tuple[Any, ...]) -> list[Any]:
    """Run `fn` again with grad enabled and pull `grad_outputs` back to the node's parents."""
    run: _Run = ctx.run  # type: ignore[attr-defined]
    state = grad_mode._state
    create_graph = state.enabled  # the engine runs vjps under enable_grad exactly when create_graph=True
    saved = ctx.saved_tensors  # the parents: connected under create_graph, else leaves of the saved values
    needs = ctx.needs_input_grad[1:]
    n = run.n_explicit
    inputs = []
    for k in range(n):
        x = _new(saved[k].data)  # a leaf: the recomputed graph stops here
        x._requires_grad = needs[k]
        if state.levels and saved[k]._tangents:  # forward over reverse: the recomputation carries the tangents
            x._tangents = dict(saved[k]._tangents)
        inputs.append(x)
    params = run.captured
    swapped = []
    for p, s in zip(params, saved[n:]):
        if p.data is not s.data:  # `p.data = new` since the forward: recompute with the values it used
            swapped.append((p, p.data))
            p.data = s.data

    try:
        outputs, frame = _rerun(run, inputs)
        flat, tree = _flatten(outputs)
        if tree != run.out_tree or len(flat) != len(grad_outputs):
            raise RuntimeError(
                "checkpoint: fn returned outputs of a different structure when recomputed in backward; "
                "fn must compute the same thing each time it is called with the same inputs"
            )
        roots, seeds = [], []
        for j, (o, g) in enumerate(zip(flat, grad_outputs)):
            if g is None or not isinstance(o, Tensor) or not o._requires_grad:
                continue
            if o.shape != g.shape:
                raise RuntimeError(
                    f"checkpoint: output {j} of fn has shape {o.shape} when recomputed but {g.shape} in the "
                    f"forward pass; fn must compute the same thing each time"
                )
            roots.append(o)
            seeds.append(g)
        targets = [x for x in inputs if x._requires_grad] + [p for p, need in zip(params, needs[n:]) if need]
        _check_closed(roots, {id(t) for t in targets}, frame)
        found: tuple[Any, ...] = (None,) * len(targets)
        if roots and targets:
            hooked = [(p, p._hooks) for p in params if p._hooks]
            for p, _ in hooked:  # parameter hooks run once, in the outer pass, on the whole gradient
                p._hooks = None
            try:
                found = engine.grad(roots, targets, seeds, retain_graph=create_graph, create_graph=create_graph,
                                    allow_unused=True)
            finally:
                for p, hooks in hooked:
                    p._hooks = hooks
    finally:
        for p, data in swapped:
            p.data = data

    by_target = dict(zip([id(t) for t in targets], found))
    grads: list[Any] = []
    for k, x in enumerate(inputs):
        g = by_target.get(id(x))
        if create_graph and x._requires_grad:
            _connect(x, saved[k])
        grads.append(g)
    grads.extend(by_target.get(id(p)) if need else None for p, need in zip(params, needs[n:]))
    return grads


def _rerun(run: _Run, inputs: list[Tensor]) -> tuple[Any, grad_mode.ScopeFrame]:
    """`fn` on the recomputation's inputs, recorded, with the forward's random state, touching no layer state."""
    it = iter(inputs)
    leaves = [next(it) if a is _TENSOR else a for a in run.leaves]
    args, kwargs = _unflatten(run.arg_tree, iter(leaves))
    state = grad_mode._state
    now = _rng_states() if run.rng is not None else None
    previous = state.recomputing
    try:
        if run.rng is not None:
            _set_rng_states(run.rng)
        state.recomputing = True
        with grad_mode.enable_grad(), grad_mode.scope("checkpoint"):
            frame = state.scope
            assert frame is not None
            return run.fn(*args, **kwargs), frame
    finally:
        state.recomputing = previous
        if now is not None:
            _set_rng_states(now)


def _identity_vjp(g: Any, out: Any, x: Any) -> Any:
    return g


def _connect(x: Tensor, parent: Tensor) -> None:
    """Make the recomputation's leaf `x` an identity of `parent`, so the gradients are differentiable in it.

    Under create_graph the gradients returned are graphs over `x`; once `x` has `parent`
    as its input, differentiating them again reaches the original inputs. While the inner
    pass ran, `x` was a leaf, so that pass stopped at it and never ran into the outer graph.
    """
    x._parents = (parent,)
    x._vjps = (_identity_vjp,)
    x._op = "checkpoint_input"
    x._saved_data = (parent.data,)
    x._created_at = _clock[0]


def _check_closed(roots: list[Tensor], targets: set[int], frame: grad_mode.ScopeFrame) -> None:
    """Refuse a recomputed graph that reaches a tensor requiring grad that the node does not know."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        key = id(node)
        if key in seen or key in targets:
            continue
        seen.add(key)
        if node._op is None or not _inside(node._scope, frame):
            what = "a leaf" if node._op is None else f"the output of '{node._op}', computed outside fn,"
            raise RuntimeError(
                f"checkpoint: fn reads {what} of shape {node.shape}{' named ' + repr(node.name) if node.name else ''}"
                f" that requires grad, but is neither an argument of checkpoint nor a parameter found in fn "
                f"(a module, closure or global it refers to), so its gradient cannot be computed. Pass it to "
                f"checkpoint as an argument: ag.checkpoint(fn, x, that_tensor)"
            )
        stack.extend(p for p in node._parents if p._requires_grad)


def _inside(scope: grad_mode.ScopeFrame | None, frame: grad_mode.ScopeFrame) -> bool:
    while scope is not None:
        if scope is frame:
            return True
        scope = scope.parent
    return False


# ----------------------------------------------------------------- random state
def _rng_states() -> list[Any]:
    """The state of the generator a forward pass draws from: `nn`'s (dropout masks); empty without `nn`."""
    init = sys.modules.get("nn.init")  # nn is built on autograd_core, so it is looked up, not imported
    if init is None or not hasattr(init, "generator"):
        return []
    return [init.generator().bit_generator.state]


def _set_rng_states(states: list[Any]) -> None:
    init = sys.modules.get("nn.init")
    if states and init is not None:
        init.generator().bit_generator.state = states[0]


# ----------------------------------------------------------------- finding parameters
_collector_stack = threading.local()


def _collectors() -> list[dict[int, Tensor]]:
    """Per thread: what each checkpoint whose forward is running has found (innermost last)."""
    stack = getattr(_collector_stack, "stack", None)
    if stack is None:
        stack = _collector_stack.stack = []
    return stack


_LIBRARIES = frozenset({"autograd_core", "nn", "numpy", "scipy", "torch"}) | frozenset(sys.stdlib_module_names)
_ATOMS = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic, types.ModuleType, type,
          types.BuiltinFunctionType, np.ufunc, np.dtype, range, slice)
_MAX_DEPTH = 8
_PLAIN = frozenset({bool, int, float, str, type(None)})
_MAX_ITEMS = 4096


def _discover(roots: list[Any]) -> dict[int, Tensor]:
    """The leaf Tensors that require grad reachable from `roots` (see the module docstring)."""
    found: dict[int, Tensor] = {}
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(r, 0) for r in roots]
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen or isinstance(obj, _ATOMS) or depth > _MAX_DEPTH:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            if obj._requires_grad and obj._op is None:
                found[id(obj)] = obj
            continue
        if isinstance(getattr(obj, "_parameters", None), dict) and callable(getattr(obj, "modules", None)):
            modules = list(obj.modules())  # an nn.Module: the parameters of it and of its submodules, each once
            for m in modules:
                seen.update((id(m), id(m._parameters), id(m._buffers), id(m._modules)))
            for m in modules:
                for p in m._parameters.values():
                    if p is not None and p._requires_grad and p._op is None:
                        found[id(p)] = p
                forward = type(m).forward
                if id(forward) not in seen:  # user code may read other tensors
                    stack.append((forward, depth + 1))
                # other attributes (submodules appear here too, already seen)
                stack.extend((v, depth + 1) for v in vars(m).values() if type(v) not in _PLAIN and id(v) not in seen)
            continue
        stack.extend((child, depth + 1) for child in _children(obj))
    return found


def _children(obj: Any) -> Iterator[Any]:
    if isinstance(obj, functools.partial):
        yield obj.func
        yield from obj.args
        yield from obj.keywords.values()
    elif isinstance(obj, types.MethodType):
        yield obj.__self__
        yield obj.__func__
    elif isinstance(obj, types.FunctionType):
        if (getattr(obj, "__module__", None) or "").partition(".")[0] in _LIBRARIES:
            return
        for cell in obj.__closure__ or ():
            try:
                yield cell.cell_contents
            except ValueError:  # an empty cell
                continue
        yield from obj.__defaults__ or ()
        yield from (obj.__kwdefaults__ or {}).values()
        names = obj.__globals__
        yield from (names[name] for name in _code_names(obj.__code__) if name in names)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        if len(obj) <= _MAX_ITEMS:
            yield from obj
    elif isinstance(obj, dict):
        if len(obj) <= _MAX_ITEMS:
            yield from obj.values()
    elif (type(obj).__module__ or "").partition(".")[0] not in _LIBRARIES:
        try:
            yield from vars(obj).values()
        except TypeError:  # no __dict__
            pass
        call = next((vars(c)["__call__"] for c in type(obj).__mro__ if "__call__" in vars(c)), None)
        if isinstance(call, types.FunctionType):
            yield call


@functools.lru_cache(maxsize=4096)
def _code_names(code: types.CodeType) -> frozenset[str]:
    """Global (and attribute) names used by `code` and the functions and lambdas defined in it."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return frozenset(names)


# ----------------------------------------------------------------- argument and result structures
def _flatten(obj: Any) -> tuple[list[Any], Any]:
    """Leaves of nested lists, tuples (named too) and dicts, and a spec to rebuild them (None: a leaf)."""
    leaves: list[Any] = []
    return leaves, _flatten_into(obj, leaves)


def _flatten_into(o: Any, leaves: list[Any]) -> Any:
    # A module-level function, not a recursive closure: that would be a reference cycle holding the
    # leaves (the recomputed outputs) until the garbage collector runs.
    t = type(o)
    if t is list or t is tuple or (isinstance(o, tuple) and hasattr(o, "_fields")):
        return (t, tuple([_flatten_into(v, leaves) for v in o]))
    if t is dict:
        keys = tuple(o)
        return (dict, keys, tuple([_flatten_into(o[k], leaves) for k in keys]))
    leaves.append(o)
    return None


def _unflatten(spec: Any, leaves: Iterator[Any]) -> Any:
    if spec is None:
        return next(leaves)
    if spec[0] is dict:
        return {k: _unflatten(s, leaves) for k, s in zip(spec[1], spec[2])}
    items = [_unflatten(s, leaves) for s in spec[1]]
    if spec[0] is list:
        return items
    if spec[0] is tuple:
        return tuple(items)
    return spec[0](*items)  # a named tuple
