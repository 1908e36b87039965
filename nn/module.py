"""`Module` and `Parameter`: the registry every layer builds on.

Parameters, buffers and sub-modules register by attribute assignment, as in PyTorch.
Each is kept twice: in an ordered registry (`_parameters`, `_buffers`, `_modules`),
which gives names, order and `state_dict` keys, and in the instance `__dict__`, so
`self.weight` inside `forward` is a plain attribute read (no `__getattr__` detour on
the hot path). `__setattr__` and `__delattr__` keep the two in step.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.aliasing import RemovableHandle
from autograd_core.grad_mode import ScopeFrame
from autograd_core.grad_mode import _state as _grad_state

from . import hooks as _hooks


class Parameter(Tensor):
    """A leaf Tensor that a `Module` registers as trainable. `Parameter(data, requires_grad=True)`.

    Python data takes the default float dtype (`ag.get_default_dtype()`); NumPy arrays and
    Tensors keep theirs.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty((0,), dtype=ag.get_default_dtype())
        elif isinstance(data, Tensor):
            data = data.data
        elif not isinstance(data, (np.ndarray, np.generic)):
            data = np.asarray(data, dtype=ag.get_default_dtype())
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Copies (copy.deepcopy, pickle) keep the values and the flag; the graph is never copied.
        return (_rebuild_parameter, (np.array(self.data), self._requires_grad, self.grad))


def _rebuild_parameter(data: np.ndarray, requires_grad: bool, grad: np.ndarray | None) -> Parameter:
    p = Parameter(data, requires_grad)
    p.grad = None if grad is None else np.array(grad)
    return p


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


def current_module_path() -> tuple[Module, ...]:
    """The modules whose `forward` is running in this thread, outermost first.

    `Module.__call__` pushes itself onto autograd_core's per-thread scope stack, so every
    op recorded meanwhile also carries these modules (the graph drawing clusters by them).
    `module_path_names(root)` turns the tuple into dotted names.
    """
    frame = _grad_state.scope
    return () if frame is None else tuple(m for m in frame.owners() if isinstance(m, Module))


def module_path_names(root: Module) -> list[str]:
    """Dotted names, relative to `root`, of the running modules (see `current_module_path`)."""
    names = {id(m): name for name, m in root.named_modules()}
    return [names[id(m)] for m in current_module_path() if id(m) in names]


def _as_array(value: Any) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _name_error(module: Module, exc: Exception) -> Exception:
    """`exc` with the failing layer's class name in front of its message.

    Errors from deep inside an op ("reshape: cannot reshape ...") then say which layer
    was being called; outer modules add the path, "Sequential > Linear: linear: ...".
    """
    layer = type(module).__name__
    message = str(exc)
    kind = TypeError if isinstance(exc, TypeError) else ValueError
    if getattr(exc, "_nn_named", False):  # raised in a sublayer: show the path to it
        named = kind(f"{layer} > {message}")
    elif message.startswith(layer) and type(exc) is kind:
        named = exc
    else:
        named = kind(f"{layer}: {message}")
    named._nn_named = True  # type: ignore[attr-defined]
    return named.with_traceback(exc.__traceback__)


class Module:
    """Base class of every layer and model: subclass it, assign layers in `__init__`, write `forward`."""

    training: bool
    _module_hooks: Any = None  # an nn.hooks._ModuleHooks once a hook is registered (see register_forward_hook)
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Any]
    _modules: dict[str, Module | None]
    _non_persistent: set[str]

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_modules"] = {}
        d["_non_persistent"] = set()

    # ----------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define forward(self, ...) in the subclass")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Push self on the per-thread scope stack: recorded ops remember their module.
        state = _grad_state
        previous = state.scope
        state.scope = ScopeFrame(self, previous)
        try:
            if self._module_hooks is None:  # the common case: no hook was ever registered
                return self.forward(*args, **kwargs)
            return _hooks.call_with_hooks(self, args, kwargs)
        except (TypeError, ValueError) as exc:
            if type(exc) not in (TypeError, ValueError):
                raise  # a subclass (the caller's own, CheckpointError, ...) keeps its type
            raise _name_error(self, exc) from None
        finally:
            state.scope = previous

    # ----------------------------------------------------------------- hooks
    def register_forward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Run `hook(module, args)` before every `forward`; returns a handle with `.remove()`.

        The hook may return new positional args (a single value that is not a tuple is
        wrapped into one). With `with_kwargs=True` it is called as `hook(module, args,
        kwargs)` and may return a tuple `(new_args, new_kwargs)`. Hooks run in the order
        registered; `prepend=True` puts this one first.
        """
        return _hooks.add_hook(self, "forward_pre", hook, (hook, with_kwargs), prepend)

    def register_forward_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """Run `hook(module, args, output)` after every `forward`; returns a handle with `.remove()`.

        A non-None return value replaces the output. With `with_kwargs=True` the hook is
        called as `hook(module, args, kwargs, output)`; with `always_call=True` it also runs
        when `forward` raised (with `output=None`), before the error propagates.
        """
        return _hooks.add_hook(self, "forward", hook, (hook, with_kwargs, always_call), prepend)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """Run `hook(module, grad_input, grad_output)` once per backward pass through this module.

        `grad_input` and `grad_output` are tuples with one entry per Tensor positional
        input and per Tensor output (the output itself, or a tuple's top-level Tensors):
        the gradients (Tensors) with respect to them, None where there is none. The hook
        may return a tuple that replaces `grad_input` in what flows on to the inputs. It runs
        during `backward` and `ag.grad` (with `create_graph=True` it sees differentiable
        Tensors). Returns a handle with `.remove()`; calls of the module made after the
        removal no longer run the hook.
        """
        return _hooks.add_hook(self, "backward", hook, hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """Run `hook(module, grad_output)` when the gradients of this module's outputs are known.

        It runs before the module's own backward and before the full backward hooks, and
        may return a tuple that replaces `grad_output`. Returns a handle with `.remove()`.
        """
        return _hooks.add_hook(self, "backward_pre", hook, hook, prepend)

    # ----------------------------------------------------------------- registration
    def _check_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} before Module.__init__() call; call super().__init__() first "
                f"in {type(self).__name__}.__init__"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._forget(name, "_parameters")
            d["_parameters"][name] = value
        elif isinstance(value, Module):
            self._check_init("module")
            self._forget(name, "_modules")
            d["_modules"][name] = value
        elif "_parameters" in d and name in d["_parameters"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' of {type(self).__name__} "
                    f"(nn.Parameter or None expected); to change its values assign .data"
                )
            d["_parameters"][name] = None
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module '{name}' of {type(self).__name__} "
                    f"(nn.Module or None expected)"
                )
            d["_modules"][name] = None
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, (Tensor, np.ndarray)):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer '{name}' of {type(self).__name__} "
                    f"(Tensor, ndarray or None expected)"
                )
            d["_buffers"][name] = value
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str = "") -> None:
        """Drop `name` from every registry but `keep` (where re-assigning keeps its position)."""
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key != keep:
                d[key].pop(name, None)
        d["_non_persistent"].discard(name)

    def __delattr__(self, name: str) -> None:
        if "_parameters" in self.__dict__:
            self._forget(name)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a `None` placeholder, e.g. `bias=False`) under `name`."""
        self._check_init("parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: '{name}' must be an nn.Parameter or None, got {type(param).__name__}"
            )
        self._forget(name, "_parameters")
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Add state that is not trained (running statistics); in `state_dict` unless `persistent=False`."""
        self._check_init("buffers")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, (Tensor, np.ndarray)):
            raise TypeError(
                f"register_buffer: '{name}' must be a Tensor, an ndarray or None, got {type(tensor).__name__}"
            )
        self._forget(name, "_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under `name` (which may be a digit string, as in `Sequential`)."""
        self._check_init("module")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be an nn.Module or None, got {type(module).__name__}")
        self._forget(name, "_modules")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def _check_name(self, name: str, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{kind} name must be non-empty and contain no '.', got {name!r}")
        if name not in self._parameters and name not in self._buffers and name not in self._modules:
            if hasattr(type(self), name) or (name in self.__dict__):
                raise KeyError(f"attribute '{name}' already exists on {type(self).__name__}")

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path `target` ('' is self)."""
        module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule '{part}' (path '{target}')")
            module = child
        return module

    # ----------------------------------------------------------------- traversal
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for self and every descendant, depth first; a shared module once
        unless `remove_duplicate=False`."""
        memo = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield name, module
            children = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for mod_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter), PyTorch's names and order; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Any]]:
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Any]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every sub-module (children first) and then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------------------- modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout active, BatchNorm uses batch statistics) on self and descendants."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: `train(False)`."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear parameter gradients: to None (default), or to zeros with `set_to_none=False`."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = np.zeros_like(p.grad)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradients of every parameter on or off (`requires_grad_(False)` freezes); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, dtype: Any) -> Module:
        """Cast every floating-point parameter and buffer to `dtype` in place (identity kept); returns self."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"to: expected a floating dtype, got {dtype}")
        for module in self.modules():
            for name, value in list(module._parameters.items()) + list(module._buffers.items()):
                if value is None or _as_array(value).dtype.kind != "f":
                    continue
                if isinstance(value, Tensor):
                    value.data = value.data.astype(dtype)
                    if value.grad is not None:
                        value.grad = value.grad.astype(dtype)
                else:
                    setattr(module, name, value.astype(dtype))
        return self

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    # ----------------------------------------------------------------- state
    def _state_entries(self) -> Iterator[tuple[str, Any]]:
        """(key, Parameter or buffer) for each state_dict entry, in PyTorch's order."""
        for prefix, module in self.named_modules(remove_duplicate=False):  # PyTorch keeps shared keys
            dot = prefix + "." if prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    yield dot + name, p
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    yield dot + name, b

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and persistent buffers as name -> NumPy copy (PyTorch's keys, shapes and order)."""
        return OrderedDict((key, np.array(_as_array(value))) for key, value in self._state_entries())

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> _IncompatibleKeys:
        """Copy values from `state_dict` (arrays, Tensors or array-likes) into parameters and buffers.

        Values are cast to each target's dtype; Parameters keep their identity (optimizers
        holding them keep working). Shape mismatches always fail; with `strict=True`
        missing or unexpected keys fail too. Everything is checked before anything is
        written, so a failed load changes nothing. Returns `(missing_keys, unexpected_keys)`.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a mapping of names to arrays, got {type(state_dict).__name__}")
        entries = dict(self._state_entries())
        missing = [k for k in entries if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in entries]
        errors: list[str] = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        staged: list[tuple[Any, np.ndarray]] = []
        for key, current in entries.items():
            if key not in state_dict:
                continue
            target = _as_array(current)
            try:
                value = np.asarray(_as_array(state_dict[key]))
                if value.dtype.kind not in "biuf":
                    raise TypeError(f"dtype {value.dtype} is not numeric")
                value = value.astype(target.dtype, copy=True)
            except (TypeError, ValueError, RuntimeError) as exc:
                errors.append(f"cannot convert the value for {key} to an array of {target.dtype}: {exc}")
                continue
            if value.shape != target.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from checkpoint, "
                    f"the shape in current model is {target.shape}."
                )
                continue
            staged.append((current, value))
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)
            )
        for current, value in staged:
            if isinstance(current, Tensor):
                current.data = value  # a new array: the Parameter object (and its graph users) stay valid
            else:
                current[...] = value  # an ndarray buffer: fill in place, references stay valid
        return _IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in `repr` (override in layers)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, module in self._modules.items():
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        if not self._modules and len(lines) <= 1:
            return f"{self._get_name()}({extra})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"
