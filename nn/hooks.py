"""Module hooks, as `torch.nn.Module`'s: forward pre-hooks, forward hooks, full backward (pre-)hooks.

`Module.register_*_hook` (in `module.py`) store hooks here, in one `_ModuleHooks` per
module that is created on the first registration: a module without hooks keeps the
class default `None`, so `Module.__call__` pays one attribute check for them.

Full backward hooks work as PyTorch's `BackwardHook`. Each call of a hooked module
wraps the Tensor inputs that require grad, and later its Tensor outputs, in identity
ops. The identities of one side all hang off one *hub* node (a scalar placeholder
whose parents are that side's tensors):

    x_k -> hub_in -> x'_k (the module sees x'_k) ... y_j -> hub_out -> y'_j (the caller sees y'_j)

Backward reaches each identity `x'_k` (`y'_j`) once its gradient is complete; its vjp
stores that gradient and passes a dummy zero on to the hub. The engine visits a hub
only after all its children, so when `hub_out` runs it holds every `grad_output`, and
when `hub_in` runs it holds every `grad_input`. Then the backward pre-hooks
(`hub_out`) and the backward hooks (`hub_in`) are called once per backward pass, and
what they return is the gradient that the hub's vjps send on to the real tensors.
Under `create_graph` the gradients are Tensors and everything stays differentiable;
forward mode passes tangents straight through the identities.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_core import Tensor
from autograd_core.aliasing import RemovableHandle, _alias_of
from autograd_core.tensor import _new, make_result

if TYPE_CHECKING:
    from .module import Module

OP_NAME = "BackwardHookFunction"


class _ModuleHooks:
    """One module's hooks, each registry ordered as the hooks run: handle id -> entry."""

    __slots__ = ("forward_pre", "forward", "backward", "backward_pre")

    def __init__(self) -> None:
        self.forward_pre: OrderedDict[int, tuple[Callable[..., Any], bool]] = OrderedDict()
        self.forward: OrderedDict[int, tuple[Callable[..., Any], bool, bool]] = OrderedDict()
        self.backward: OrderedDict[int, Callable[..., Any]] = OrderedDict()
        self.backward_pre: OrderedDict[int, Callable[..., Any]] = OrderedDict()


def add_hook(module: Module, kind: str, hook: Callable[..., Any], entry: Any, prepend: bool) -> RemovableHandle:
    """Register `entry` in `module`'s `kind` registry (first with `prepend`); returns its handle."""
    if not callable(hook):
        raise TypeError(f"register_{kind}_hook: hook must be callable, got {type(hook).__name__}")
    hooks = module.__dict__.get("_module_hooks")
    if hooks is None:
        hooks = module.__dict__["_module_hooks"] = _ModuleHooks()
    registry = getattr(hooks, kind)
    handle = RemovableHandle(registry)
    registry[handle.id] = entry
    if prepend:
        registry.move_to_end(handle.id, last=False)
    return handle


# ----------------------------------------------------------------------------- forward
def call_with_hooks(module: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`module.forward(*args, **kwargs)` with its hooks, in PyTorch's order (see `Module.__call__`)."""
    hooks: _ModuleHooks = module._module_hooks  # type: ignore[assignment]
    for hook, with_kwargs in list(hooks.forward_pre.values()):
        if with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got {result!r}."
                    )
                args, kwargs = result
                args = args if isinstance(args, tuple) else (args,)
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)

    backward_hook = None
    if hooks.backward or hooks.backward_pre:
        backward_hook = _BackwardHook(module, list(hooks.backward.values()), list(hooks.backward_pre.values()))
        args = backward_hook.setup_inputs(args)

    output: Any = None
    called: set[int] = set()
    try:
        output = module.forward(*args, **kwargs)
        for key, (hook, with_kwargs, _) in list(hooks.forward.items()):
            called.add(key)
            result = hook(module, args, kwargs, output) if with_kwargs else hook(module, args, output)
            if result is not None:
                output = result
    except Exception:
        # Hooks registered with always_call=True run even when forward (or another hook) failed.
        for key, (hook, with_kwargs, always) in list(hooks.forward.items()):
            if always and key not in called:
                try:
                    hook(module, args, kwargs, output) if with_kwargs else hook(module, args, output)
                except Exception as exc:  # the first error is the one to report
                    warnings.warn(
                        f"forward hook with always_call=True raised an exception that was silenced as another "
                        f"error was raised in forward: {exc}", stacklevel=3,
                    )
        raise

    if backward_hook is not None:
        output = backward_hook.setup_outputs(output)
    return output


# ----------------------------------------------------------------------------- backward
def _no_tangent(tangents: list[Any], out: Tensor, *parents: Tensor) -> None:
    return None  # a hub is a placeholder: no tangent


def _pass_tangent(tangents: list[Any], out: Tensor, hub: Tensor, x: Tensor) -> Any:
    return tangents[1]  # an identity: the tangent of its real input


def _zeros_like(t: Tensor, on_tensors: bool) -> Any:
    z = np.zeros(t.shape, dtype=t.dtype)
    return _new(z) if on_tensors else z


class _BackwardHook:
    """The identity ops of one call of a module with full backward (pre-)hooks (see the module docstring)."""

    def __init__(
        self, module: Module, hooks: list[Callable[..., Any]], pre_hooks: list[Callable[..., Any]]
    ) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.n_inputs = 0
        self.n_outputs = 0
        self.inputs_wrapped = False
        self.pending_inputs: list[Any] = []  # gradients stored by the input identities, per Tensor input
        self.pending_outputs: list[Any] = []
        self.grad_outputs: tuple[Any, ...] | None = None  # what the backward hooks will see as grad_output
        # Per hub: [the hub's gradient in this pass, the hooks' result, slots still to hand out].
        self._in_memo: list[Any] | None = None
        self._out_memo: list[Any] | None = None

    # ---------------------------------------------------------------- wrapping
    def _wrap(self, values: Any, pending: str) -> tuple[Any, int, bool]:
        """Identity ops for the Tensors of `values` that require grad; returns (new values, count, wrapped)."""
        single = isinstance(values, Tensor)
        if not single and not isinstance(values, tuple):
            return values, 0, False  # PyTorch too looks only at a Tensor or a tuple's top-level Tensors
        items = [values] if single else list(values)
        slots = [i for i, v in enumerate(items) if isinstance(v, Tensor)]
        wanted = [(s, i) for s, i in enumerate(slots) if items[i]._requires_grad]
        if not wanted:
            return values, len(slots), False
        parents = tuple(items[i] for _, i in wanted)
        dtype = np.result_type(*[p.dtype for p in parents])
        is_input = pending == "pending_inputs"
        slots_wanted = frozenset(s for s, _ in wanted)
        hub_vjps = tuple(self._hub_vjp(s, p, is_input, slots_wanted) for (s, _), p in zip(wanted, parents))
        hub = make_result(np.zeros((), dtype=dtype), OP_NAME, parents, hub_vjps, _no_tangent)
        for s, i in wanted:
            x = items[i]
            identity = make_result(x.data, OP_NAME, (hub, x), (self._store(pending, s, hub), None), _pass_tangent)
            identity._base = _alias_of(x)  # shares x's array: writes through either tick one version
            items[i] = identity
        return (items[0] if single else tuple(items)), len(slots), True

    def setup_inputs(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        new_args, self.n_inputs, self.inputs_wrapped = self._wrap(args, "pending_inputs")
        self.pending_inputs = [None] * self.n_inputs
        return new_args

    def setup_outputs(self, output: Any) -> Any:
        new_output, self.n_outputs, _ = self._wrap(output, "pending_outputs")
        self.pending_outputs = [None] * self.n_outputs
        return new_output

    # ---------------------------------------------------------------- backward
    def _store(self, pending: str, slot: int, hub: Tensor) -> Callable[..., Any]:
        """The identity's vjp: keep its (complete) gradient for the hooks, send a dummy zero to the hub."""

        def vjp(g: Any, out: Any, hub_value: Any, x: Any) -> Any:
            getattr(self, pending)[slot] = g
            zero = np.zeros((), dtype=hub.dtype)
            return _new(zero) if isinstance(g, Tensor) else zero

        return vjp

    def _hub_vjp(self, slot: int, target: Tensor, is_input: bool, slots: frozenset[int]) -> Callable[..., Any]:
        """The hub's vjp toward one real tensor: runs the hooks once per pass, then hands out their result."""

        def vjp(g: Any, out: Any, *parents: Any) -> Any:
            memo = self._in_memo if is_input else self._out_memo
            if memo is None or memo[0] is not g:  # the engine gives every vjp of a node the same g
                on_tensors = isinstance(g, Tensor)
                grads = self._run_hooks(on_tensors) if is_input else self._run_pre_hooks(on_tensors)
                memo = [g, grads, set(slots)]
            memo[2].discard(slot)
            # Once every slot has its gradient, drop the memo so it keeps no gradient alive.
            keep = memo if memo[2] else None
            if is_input:
                self._in_memo = keep
            else:
                self._out_memo = keep
            value = memo[1][slot]
            return _zeros_like(target, isinstance(g, Tensor)) if value is None else value

        return vjp

    def _check(self, result: Any, expected: tuple[Any, ...], what: str, where: str) -> tuple[Any, ...]:
        result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        if len(result) != len(expected):
            raise RuntimeError(
                f"{where} of {type(self.module).__name__} returned an invalid number of {what}, "
                f"got {len(result)}, but expected {len(expected)}"
            )
        for k, (new, old) in enumerate(zip(result, expected)):
            if new is not None and old is not None and tuple(np.shape(new)) != old.shape:
                raise RuntimeError(
                    f"{where} of {type(self.module).__name__} returned {what}[{k}] of shape {tuple(np.shape(new))} "
                    f"for a gradient of shape {old.shape}"
                )
        return result

    @staticmethod
    def _as_tensors(grads: list[Any]) -> tuple[Any, ...]:
        return tuple(None if g is None else (g if isinstance(g, Tensor) else _new(g)) for g in grads)

    @staticmethod
    def _as_engine(grads: tuple[Any, ...], on_tensors: bool) -> tuple[Any, ...]:
        """Gradients in the form the engine passes around: Tensors under create_graph, else arrays."""
        out: list[Any] = []
        for g in grads:
            if g is None:
                out.append(None)
            elif on_tensors:
                out.append(g if isinstance(g, Tensor) else _new(np.asarray(g)))
            else:
                out.append(g.data if isinstance(g, Tensor) else np.asarray(g))
        return tuple(out)

    def _run_pre_hooks(self, on_tensors: bool) -> tuple[Any, ...]:
        """At the output hub: every grad_output is known. Backward pre-hooks may replace them."""
        grad_output = self._as_tensors(self.pending_outputs)
        self.pending_outputs = [None] * self.n_outputs
        for hook in self.pre_hooks:
            result = hook(self.module, grad_output)
            if result is not None:
                grad_output = self._as_tensors(
                    list(self._check(result, grad_output, "grad_output", "backward pre-hook"))
                )
        self.grad_outputs = grad_output
        if not self.inputs_wrapped and self.hooks:
            # No input requires grad: the hooks run now, with None for every grad_input (as PyTorch).
            grad_input = (None,) * self.n_inputs
            for hook in self.hooks:
                result = hook(self.module, grad_input, grad_output)
                values = result if isinstance(result, (tuple, list)) else (result,)
                if any(r is not None for r in values):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should always return None "
                        "or None for all gradients."
                    )
            self.grad_outputs = None
        return self._as_engine(grad_output, on_tensors)

    def _run_hooks(self, on_tensors: bool) -> tuple[Any, ...]:
        """At the input hub: every grad_input is known. Backward hooks may replace them."""
        grad_input = self._as_tensors(self.pending_inputs)
        self.pending_inputs = [None] * self.n_inputs
        grad_output = self.grad_outputs
        if grad_output is None:
            # The gradient entered the module somewhere other than its outputs (double backward through
            # the forward graph, a tensor leaked from inside): no backward through the module, no hooks,
            # as in PyTorch.
            return self._as_engine(grad_input, on_tensors)
        self.grad_outputs = None
        for hook in self.hooks:
            result = hook(self.module, grad_input, grad_output)
            if result is not None:
                grad_input = self._as_tensors(list(self._check(result, grad_input, "grad_input", "backward hook")))
        # The hub's parents are the inputs that require grad: map grad_input slots to them.
        return self._as_engine(grad_input, on_tensors)
