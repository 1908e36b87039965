"""`ag.func`: composable function transforms, as `torch.func`.

    ag.func.grad(loss)(w, x, y)                        # d loss / d w
    ag.func.jacrev(f, argnums=(0, 1))(x, y)            # reverse mode: one pass per output element
    ag.func.jacfwd(f)(x)                               # forward mode: one pass per input element
    ag.func.hessian(f)(x)
    out, jvp_out = ag.func.jvp(f, (x,), (v,))          # one forward pass carrying tangents
    ag.func.functional_call(model, {"0.weight": w}, (x,))

Transforms nest (`grad(grad(f))`, `jacrev(jacfwd(f))`) and compose with ordinary
autograd: each one differentiates with respect to private copies of its arguments, so
the caller's tensors never get `requires_grad` set, and a result stays differentiable
with respect to outer tensors (an enclosing transform's, or the caller's own that
require grad) exactly when it depends on them. Arguments may be Tensors, NumPy arrays
(integer arrays become float) or nested tuples, lists and dicts of them. `vmap` is not
here yet.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import forward_ad, grad_mode
from .engine import toposort
from .functional import _alias, _assemble, _autograd_grad, _detach, _fresh_leaf, _one_hot, _to_tensor
from .tensor import Tensor
from .vmap import vmap

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "functional_call", "vmap"]

Argnums = int | tuple[int, ...]


# ----------------------------------------------------------------- pytrees (tuples, lists, dicts)
def _flatten(tree: Any) -> tuple[list[Any], Any]:
    """Leaves in order and a spec that `_unflatten` turns back into the same structure."""
    leaves: list[Any] = []

    def walk(node: Any) -> Any:
        if isinstance(node, (tuple, list)):
            return (type(node), [walk(c) for c in node])
        if isinstance(node, dict):
            return (dict, [(k, walk(v)) for k, v in node.items()])
        leaves.append(node)
        return None

    return leaves, walk(tree)


def _unflatten(spec: Any, leaves: Sequence[Any]) -> Any:
    it = iter(leaves)

    def build(s: Any) -> Any:
        if s is None:
            return next(it)
        kind, children = s
        if kind is dict:
            return {k: build(c) for k, c in children}
        items = [build(c) for c in children]
        if kind in (tuple, list):
            return kind(items)
        return kind(*items) if hasattr(kind, "_fields") else kind(items)  # namedtuples take fields

    return build(spec)


def _map(fn: Callable[[Any], Any], tree: Any) -> Any:
    leaves, spec = _flatten(tree)
    return _unflatten(spec, [fn(x) for x in leaves])


# ----------------------------------------------------------------- argnums (PyTorch's checks and messages)
def _wrap_argnum(argnum: Any, num_args: int) -> int:
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _normalize_argnums(argnums: Any, num_args: int) -> Argnums:
    if isinstance(argnums, int):
        return _wrap_argnum(argnums, num_args)
    if not isinstance(argnums, tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    wrapped = tuple(_wrap_argnum(a, num_args) for a in argnums)
    if len(wrapped) == 0:
        raise RuntimeError("argnums must be non-empty")
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return wrapped


def _select(args: tuple[Any, ...], argnums: Argnums) -> Any:
    return args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)


def _replace(args: tuple[Any, ...], argnums: Argnums, new: Any) -> tuple[Any, ...]:
    out = list(args)
    if isinstance(argnums, int):
        out[argnums] = new
    else:
        for i, value in zip(argnums, new):
            out[i] = value
    return tuple(out)


def _tensor_leaf(x: Any, api: str) -> Tensor:
    t = _to_tensor(x)
    if t is None:
        raise ValueError(f"{api}: thing passed to transform API must be Tensor, got {type(x)}")
    return t


def _own_copy(x: Any, api: str) -> Tensor:
    """What the transform differentiates with respect to: a new Tensor object equal to `x`.

    It stays connected to `x` when `x` requires grad (an enclosing transform's leaf, or the
    caller's), so the result is differentiable further; otherwise it is a fresh leaf.
    """
    t = _tensor_leaf(x, api)
    return _alias(t) if t.requires_grad else _fresh_leaf(t)


def _diff_args(args: tuple[Any, ...], argnums: Argnums | None, api: str) -> tuple[tuple[Any, ...], list[Tensor], Any]:
    """The arguments with the differentiated ones replaced by own copies, those copies, and their spec."""
    if argnums is None:
        leaves, spec = _flatten(args)
        own = [_own_copy(x, api) for x in leaves]
        return _unflatten(spec, own), own, spec
    argnums = _normalize_argnums(argnums, len(args))
    leaves, spec = _flatten(_select(args, argnums))
    own = [_own_copy(x, api) for x in leaves]
    return _replace(args, argnums, _unflatten(spec, own)), own, spec


def _outer_graph(tensors: Sequence[Tensor], fresh: Sequence[Tensor], outer_enabled: bool) -> bool:
    """Whether `tensors` depend on a tensor requiring grad other than this transform's own leaves.

    Then results must keep their graph (an enclosing transform or the caller differentiates
    them further); otherwise the cheaper first-order pass suffices and results are detached.
    """
    if not outer_enabled:
        return False
    ours = {id(t) for t in fresh}
    return any(id(n) not in ours and n.is_leaf for n in _reached_nodes(tensors))


def _reached_nodes(tensors: Sequence[Tensor]) -> list[Tensor]:
    roots = [t for t in tensors if isinstance(t, Tensor) and t.requires_grad]
    return toposort(roots) if roots else []


def _release(tree: Any, keep_graph: bool) -> Any:
    """Results handed back: detached (tangents of open levels kept) unless an outer graph needs them."""
    if keep_graph:
        return tree
    return _map(lambda t: _detach(t) if isinstance(t, Tensor) else t, tree)


def _split_aux(output: Any, has_aux: bool, api: str) -> tuple[Any, Any]:
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True")
    return output


def _output_tensors(output: Any, api: str) -> tuple[list[Tensor], Any]:
    flat, spec = _flatten(output)
    if len(flat) < 1 or (len(flat) == 1 and flat[0] is None):
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got output = {flat})")
    for o in flat:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got unsupported type {type(o)}")
    return flat, spec


def _aux_released(aux: Any, fresh: Sequence[Tensor], outer_enabled: bool) -> Any:
    return _map(
        lambda t: _release(t, _outer_graph([t], fresh, outer_enabled)) if isinstance(t, Tensor) else t, aux
    )


# ----------------------------------------------------------------- grad, grad_and_value, vjp
def grad_and_value(func: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """`f -> (grad, value)` (with `has_aux`: `(grad, (value, aux))`) for a scalar-valued `f`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        api = "grad_and_value(f)(*args)"
        outer = grad_mode.is_grad_enabled()
        with grad_mode.enable_grad():
            args, fresh, spec = _diff_args(args, argnums, api)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, api)
            if not isinstance(output, Tensor):
                raise RuntimeError(f"{api}: Expected f(*args) to return a Tensor, got {type(output)}")
            if output.ndim != 0:
                raise RuntimeError(
                    f"{api}: Expected f(*args) to return a scalar Tensor, got tensor with {output.ndim} dims. "
                    "Maybe you wanted to use the vjp or jacrev APIs instead?"
                )
            keep = _outer_graph([output], fresh, outer)
            aux = _aux_released(aux, fresh, outer)  # before the pass below frees the graph
            grads = _autograd_grad([output], fresh, create_graph=keep)
        grads = [g if g is not None else Tensor(np.zeros_like(x.data)) for g, x in zip(grads, fresh)]
        result = _unflatten(spec, grads)
        value = _release(output, keep)
        return (result, (value, aux)) if has_aux else (result, value)

    return wrapper


def grad(func: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """`f -> grad f` for a scalar-valued `f` (with `has_aux`: `(grad, aux)`), with respect to `argnums`."""
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = inner(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """`(func(*primals), vjp_fn[, aux])`; `vjp_fn(cotangents)` is a tuple, one entry per primal.

    `vjp_fn` can be called many times (the graph is kept); each call is one reverse pass.
    """
    api = "vjp(f, *primals)"
    outer = grad_mode.is_grad_enabled()
    with grad_mode.enable_grad():
        args, fresh, spec = _diff_args(primals, None, api)
        output, aux = _split_aux(func(*args), has_aux, "vjp(f, *primals)")
        flat_out, out_spec = _output_tensors(output, api)
        for o in flat_out:
            if o.dtype.kind not in "fc":
                raise RuntimeError(
                    f"vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got Tensor with "
                    f"dtype {o.dtype}"
                )
        keep = _outer_graph(flat_out, fresh, outer)

    def vjp_fn(cotangents: Any, retain_graph: bool = True, create_graph: bool | None = None) -> tuple[Any, ...]:
        flat_ct, ct_spec = _flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure of outputs to the "
                f"function. cotangents: {_describe(ct_spec)}, primal output: {_describe(out_spec)}"
            )
        if create_graph is None:
            create_graph = keep and grad_mode.is_grad_enabled()
        with grad_mode.enable_grad():
            grads = _autograd_grad(flat_out, fresh, flat_ct, create_graph=create_graph, retain_graph=retain_graph)
        return _unflatten(spec, [g if g is not None else Tensor(np.zeros_like(x.data)) for g, x in zip(grads, fresh)])

    result = _release(output, keep)
    if has_aux:
        return result, vjp_fn, _aux_released(aux, fresh, outer)
    return result, vjp_fn


def _describe(spec: Any) -> str:
    if spec is None:
        return "*"
    kind, children = spec
    if kind is dict:
        return "{" + ", ".join(f"{k!r}: {_describe(c)}" for k, c in children) + "}"
    body = ", ".join(_describe(c) for c in children)
    return f"({body}{',' if len(children) == 1 else ''})" if kind is tuple else f"[{body}]"


# ----------------------------------------------------------------- forward mode: jvp, jacfwd
_JVP = "jvp(f, primals, tangents)"


def _level_free(t: Any) -> Any:
    """`t` without the tangent of a forward level that has just closed (graph and outer tangents kept)."""
    if not isinstance(t, Tensor):
        return t
    if t.requires_grad or grad_mode._state.levels:
        return _alias(t)
    return t.detach()


def jvp(func: Callable[..., Any], primals: Any, tangents: Any, *, strict: bool = False,
        has_aux: bool = False) -> tuple[Any, ...]:
    """`(func(*primals), J tangents[, aux])` by one forward pass in which the primals carry `tangents`."""
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    flat_p, p_spec = _flatten(primals)
    flat_t, t_spec = _flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(
            f"{_JVP}: Expected primals and tangents to have the same python structure. For example, if primals "
            f"is a tuple of 3 tensors, tangents also must be. Got primals with structure {_describe(p_spec)} and "
            f"tangents with structure {_describe(t_spec)}"
        )
    for name, flat in (("primals", flat_p), ("tangents", flat_t)):
        if not flat:
            raise RuntimeError(f"{_JVP}: Expected {name} to contain at least one Tensor.")
    flat_p = [_tensor_leaf(p, _JVP) for p in flat_p]
    flat_t = [_tensor_leaf(t, _JVP) for t in flat_t]
    with forward_ad.dual_level():
        duals = [forward_ad.make_dual(p, t) for p, t in zip(flat_p, flat_t)]
        output, aux = _split_aux(func(*_unflatten(p_spec, duals)), has_aux, _JVP)
        flat_out, out_spec = _output_tensors(output, _JVP)
        tangents_out = []
        for o in flat_out:
            tangent = forward_ad.unpack_dual(o).tangent
            if tangent is None:
                if strict:
                    raise RuntimeError(
                        "jvp(f, primals, tangents, strict=True): The output of f is independent of the inputs. "
                        "This is not allowed with strict=True."
                    )
                tangent = Tensor(np.zeros_like(o.data))
            tangents_out.append(tangent)
    primals_out = _unflatten(out_spec, [_level_free(o) for o in flat_out])
    tangents_out = _unflatten(out_spec, tangents_out)
    if has_aux:
        return primals_out, tangents_out, _map(_level_free, aux)
    return primals_out, tangents_out


def jacfwd(func: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False, *,
           randomness: str = "error") -> Callable[..., Any]:
    """`f -> Jacobian of f` by forward mode: one forward pass per element of the differentiated inputs.

    A function with few inputs and many outputs costs about one forward pass per input
    column. `randomness` is accepted for compatibility (it matters under `vmap`).
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}"
        )

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        nums = _normalize_argnums(argnums, len(args))
        leaves, spec = _flatten(_select(args, nums))
        leaves = [_tensor_leaf(x, "jacfwd") for x in leaves]
        args = _replace(args, nums, _unflatten(spec, leaves))
        columns: list[list[list[Tensor | None]]] | None = None  # [output][leaf][column]
        flat_out: list[Tensor] = []
        out_spec = aux = None
        with forward_ad.dual_level():
            for j, x in enumerate(leaves):
                for k in range(x.size):
                    duals = list(leaves)
                    duals[j] = forward_ad.make_dual(x, _one_hot(k, x))
                    result = func(*_replace(args, nums, _unflatten(spec, duals)))
                    output, this_aux = _split_aux(result, has_aux, _JVP)
                    flat_out, out_spec = _output_tensors(output, _JVP)
                    if columns is None:
                        columns = [[[] for _ in leaves] for _ in flat_out]
                        aux = this_aux
                    for i, o in enumerate(flat_out):
                        columns[i][j].append(forward_ad.unpack_dual(o).tangent)
            if columns is None:  # nothing to differentiate (empty inputs): one call for the output shapes
                output, aux = _split_aux(func(*args), has_aux, _JVP)
                flat_out, out_spec = _output_tensors(output, _JVP)
                columns = [[[] for _ in leaves] for _ in flat_out]
        jac = [
            _unflatten(spec, [_assemble(cols, o, x, axis=-1) for cols, x in zip(columns[i], leaves)])
            for i, o in enumerate(flat_out)
        ]
        result = _unflatten(out_spec, jac)
        return (result, _map(_level_free, aux)) if has_aux else result

    return wrapper


# ----------------------------------------------------------------- reverse mode: jacrev, hessian
def _jacrev_call(func: Callable[..., Any], args: tuple[Any, ...], argnums: Argnums, has_aux: bool,
                 max_rows: int | None = None) -> Any:
    """jacrev's work: one forward pass, then one reverse pass per output element.

    With `max_rows`, returns None before any reverse pass when the outputs have more
    elements than that (the caller then prefers forward mode).
    """
    api = "vjp(f, *primals)"
    outer = grad_mode.is_grad_enabled()
    with grad_mode.enable_grad():
        args, fresh, spec = _diff_args(args, argnums, api)
        output, aux = _split_aux(func(*args), has_aux, api)
        flat_out, out_spec = _output_tensors(output, api)
        if max_rows is not None and sum(o.size for o in flat_out) > max_rows:
            return None
        keep = _outer_graph(flat_out, fresh, outer)
        aux = _aux_released(aux, fresh, outer)  # before the passes below free the graph
        jac = []
        last = (len(flat_out) - 1, flat_out[-1].size - 1)
        for i, o in enumerate(flat_out):
            rows: list[list[Tensor | None]] = [[] for _ in fresh]
            for r in range(o.size if o.requires_grad else 0):
                retain = keep or (i, r) != last  # the last pass may free the graph
                for el, g in enumerate(_autograd_grad([o], fresh, [_one_hot(r, o)], keep, retain)):
                    rows[el].append(g)
            jac.append(_unflatten(spec, [_assemble(rs, o, x, axis=0) for rs, x in zip(rows, fresh)]))
    result = _unflatten(out_spec, jac)
    return (result, aux) if has_aux else result


def jacrev(func: Callable[..., Any], argnums: Argnums = 0, *, has_aux: bool = False,
           chunk_size: int | None = None) -> Callable[..., Any]:
    """`f -> Jacobian of f` by reverse mode: one forward pass, then one reverse pass per output element.

    `chunk_size` is accepted for compatibility: rows are computed one at a time anyway.
    """
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        return _jacrev_call(func, args, argnums, has_aux)

    return wrapper


def hessian(func: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """`f -> Hessian of f`: the Jacobian of `jacrev(f)`, as `jacfwd(jacrev(f))` computes it.

    The outer Jacobian is taken by reverse mode over the inner gradient's graph (one
    forward and one reverse pass build it, then each row is a cheap first-order reverse
    pass) when the inner Jacobian has at most twice as many elements as the inputs (a
    scalar `f`); otherwise by forward mode, one pass per input element, as `jacfwd`.
    """
    inner = jacrev(func, argnums)

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        nums = _normalize_argnums(argnums, len(args))
        n_in = sum(_tensor_leaf(x, "hessian").size for x in _flatten(_select(args, nums))[0])
        result = _jacrev_call(inner, args, nums, False, max_rows=2 * n_in)
        return jacfwd(inner, nums)(*args) if result is None else result

    return wrapper


# ----------------------------------------------------------------- functional_call
def _merge_dicts(parameter_and_buffer_dicts: Any) -> dict[str, Any]:
    if isinstance(parameter_and_buffer_dicts, Mapping):
        return dict(parameter_and_buffer_dicts)
    if isinstance(parameter_and_buffer_dicts, Sequence) and not isinstance(parameter_and_buffer_dicts, str):
        if not all(isinstance(d, Mapping) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
        keys = [k for d in parameter_and_buffer_dicts for k in d]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
        return {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    raise ValueError(
        "Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, "
        f"but got {type(parameter_and_buffer_dicts)}"
    )


def _all_named_tensors(module: Any) -> dict[str, Any]:
    """Every parameter and buffer name, tied ones under each of their names."""
    named: dict[str, Any] = {}
    for prefix, m in module.named_modules(remove_duplicate=False):
        dot = prefix + "." if prefix else ""
        for registry in (m._parameters, m._buffers):
            for name, value in registry.items():
                if value is not None:
                    named[dot + name] = value
    return named


def _untie(values: dict[str, Any], named: dict[str, Any]) -> dict[str, Any]:
    """Give every name of a tied tensor the value given for any of its names (PyTorch's `tie_weights`)."""
    names_of: dict[int, set[str]] = {}
    for name, t in named.items():
        names_of.setdefault(id(t), set()).add(name)
    out = dict(values)
    for name in values:
        if name not in named:
            continue
        tied = names_of[id(named[name])]
        given = tied.intersection(values)
        if len(given) > 1 and len({id(values[k]) for k in given}) != 1:
            raise ValueError(
                f"functional_call got multiple values for keys {sorted(tied)}, which are tied. "
                "Consider using tie_weights=False"
            )
        for other in tied:
            out[other] = values[name]
    return out


_MISSING = object()


def functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = None,
                    kwargs: dict[str, Any] | None = None, *, tie_weights: bool = True, strict: bool = False) -> Any:
    """Call `module(*args, **kwargs)` with the given tensors in place of its parameters and buffers.

    Names are `named_parameters` / `state_dict` keys ("0.weight"); values are Tensors or
    arrays, and gradients flow to them, not to the module's own parameters. The module
    is restored when the call returns or raises, and is otherwise unchanged. While the
    call runs the module itself holds the substitutes, so two threads must not run
    `functional_call` (or the module) on the same module object at once.
    """
    values = _merge_dicts(parameter_and_buffer_dicts)
    values = {k: (v if isinstance(v, Tensor) or v is None else _tensor_leaf(v, "functional_call"))
              for k, v in values.items()}
    named = _all_named_tensors(module)
    if tie_weights:
        values = _untie(values, named)
    if strict:
        missing, unexpected = sorted(set(named) - set(values)), sorted(set(values) - set(named))
        errors = []
        if unexpected:
            errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if errors:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t" + "\n\t".join(errors))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    swapped: list[tuple[Any, str, str | None, Any, Any]] = []  # (owner, attr, registry, registered, attribute)
    try:
        for name, value in values.items():
            prefix, _, attr = name.rpartition(".")
            owner = module.get_submodule(prefix)
            d = owner.__dict__
            registry = "_parameters" if attr in owner._parameters else "_buffers" if attr in owner._buffers else None
            before = d[registry][attr] if registry else _MISSING
            swapped.append((owner, attr, registry, before, d.get(attr, _MISSING)))
            # Write the registries and the attribute directly: Module.__setattr__ would refuse a
            # plain Tensor for a parameter, and forward reads `self.weight` from the instance dict.
            if registry:
                d[registry][attr] = value
            d[attr] = value
        if kwargs is None:
            kwargs = {}
        return module(*args, **kwargs)
    finally:
        for owner, attr, registry, registered, attribute in reversed(swapped):
            d = owner.__dict__
            if registry:
                d[registry][attr] = registered
            if attribute is _MISSING:
                d.pop(attr, None)
            else:
                d[attr] = attribute
