"""`ag.functional`: derivatives of whole functions, as `torch.autograd.functional`.

    out, v_jac = ag.functional.vjp(f, x, v)          # v^T J, one reverse pass
    out, jac_v = ag.functional.jvp(f, x, v)          # J v, one forward pass with tangents
    J = ag.functional.jacobian(f, (x, y))            # J[i][j] = d out_i / d input_j
    H = ag.functional.hessian(f, x)
    out, hv = ag.functional.hvp(f, x, v)             # H v, forward over reverse

Same arguments, return structures and `strict` errors as PyTorch: tuples mirror tuple
inputs and outputs, results are detached unless `create_graph=True`. Inputs may also be
NumPy arrays (integer arrays become float Tensors). Two differences in how the work is
done, never in the results:

- `jvp` runs forward mode (one forward pass carrying tangents, `ag.forward_ad`), not
  PyTorch's double-backward trick; `hvp` runs forward over reverse (the tangent of the
  gradient is H v), one forward and one reverse pass.
- `vectorize=True` is accepted for compatibility (and required with
  `strategy="forward-mode"`, as in PyTorch), but rows (or columns) are still computed
  one pass each: this engine has no batched backward yet.

The helpers at the top are shared with `ag.func`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import dtypes, forward_ad, grad_mode
from .engine import grad as _engine_grad
from .engine import toposort
from .ops import stack
from .tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


# ----------------------------------------------------------------- helpers (shared with func.py)
def _to_tensor(x: Any) -> Tensor | None:
    """A Tensor for array data (integer arrays and Python numbers become floats); None otherwise."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, np.generic, int, float)) and not isinstance(x, (bool, np.bool_)):
        arr = np.asarray(x)
        if arr.dtype.kind in "iub":
            arr = arr.astype(dtypes.get_default_dtype())
        elif arr.dtype.kind != "f" or type(x) is float:
            return Tensor(x)  # Python floats take the default dtype, as everywhere
        return Tensor(arr)
    return None


def _tangents_of(t: Tensor) -> list[tuple[int, Tensor]]:
    """(level, tangent) for each open forward-mode level at which `t` carries a tangent."""
    levels = grad_mode._state.levels
    if not levels:
        return []
    pairs = []
    for level in levels:
        tangent = forward_ad.unpack_dual(t, level).tangent
        if tangent is not None:
            pairs.append((level, tangent))
    return pairs


def _detach(t: Tensor) -> Tensor:
    """`t` cut from the reverse graph, keeping its tangents at the open forward-mode levels.

    Keeping them is what lets a transform run inside another's forward pass
    (`jacfwd(jacrev(f))`): a plain detach would silently zero the outer derivative.
    """
    pairs = _tangents_of(t)
    out = t.detach()
    for level, tangent in pairs:
        out = forward_ad.make_dual(out, tangent, level)
    return out


def _fresh_leaf(t: Tensor) -> Tensor:
    """A new leaf with `t`'s value (and tangents) that requires grad; `t` itself is untouched."""
    return _detach(t).requires_grad_(True)  # make_dual on a detached tensor records nothing: still a leaf


def _alias(t: Tensor) -> Tensor:
    """A new Tensor object equal to `t` that stays differentiable to it (and keeps its tangents)."""
    return t.reshape(t.shape)


def _zeros(ref: Tensor) -> Tensor:
    return Tensor(np.zeros_like(ref.data))


def _leaves_reached(outputs: Sequence[Tensor]) -> set[int]:
    """ids of every tensor that requires grad on a path into `outputs`."""
    roots = [o for o in outputs if isinstance(o, Tensor) and o.requires_grad]
    return {id(n) for n in toposort(roots)} if roots else set()


def _stack_rows(rows: list[Tensor], shape: tuple[int, ...], axis: int = 0) -> Tensor:
    """Rows (or columns) of a Jacobian as one Tensor of `shape`, differentiably when they have a graph."""
    if len(rows) == 1:  # a scalar output's gradient: one op fewer for every later pass through it
        return rows[0].reshape(shape)
    return stack(rows, axis=axis).reshape(shape)


# ----------------------------------------------------------------- PyTorch's argument handling
def _as_tuple(inp: Any, arg_name: str, fn_name: str, arrays: bool = True) -> tuple[bool, tuple[Tensor, ...]]:
    is_tuple = isinstance(inp, tuple)
    items = inp if is_tuple else (inp,)
    out = []
    for i, el in enumerate(items):
        t = _to_tensor(el) if arrays else (el if isinstance(el, Tensor) else None)
        if t is None:
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but {where} "
                f"has type {type(el)}."
            )
        out.append(t)
    return is_tuple, tuple(out)


def _outputs_as_tuple(out: Any, fn_name: str) -> tuple[bool, tuple[Tensor, ...]]:
    return _as_tuple(out, "outputs of the user-provided function", fn_name, arrays=False)


def _tuple_postprocess(res: Any, to_unpack: bool | tuple[bool, bool]) -> Any:
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs: tuple[Tensor, ...], create_graph: bool, need_graph: bool) -> tuple[Tensor, ...]:
    # Always a new Tensor object: the function may also capture the caller's tensor itself,
    # and gradients must go to the argument only (PyTorch issue 32576).
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(_alias(inp))
        else:
            res.append(_fresh_leaf(inp) if need_graph else _detach(inp))
    return tuple(res)


def _grad_postprocess(inputs: Any, create_graph: bool) -> Any:
    if isinstance(inputs[0], Tensor):
        return inputs if create_graph else tuple(_detach(t) for t in inputs)
    return tuple(_grad_postprocess(t, create_graph) for t in inputs)


def _validate_v(v: tuple[Tensor, ...], other: tuple[Tensor, ...], is_other_tuple: bool) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {el_other.shape} but got {el_v.shape}.")


def _strict_error(input_type: str, i: int) -> RuntimeError:
    if input_type == "hessian":
        return RuntimeError(
            f"The hessian of the user-provided function with respect to input {i}"
            " is independent of the input. This is not allowed in strict mode."
            " You should ensure that your function is thrice differentiable and that"
            " the hessian depends on the inputs."
        )
    if input_type == "jacobian":
        return RuntimeError(
            "While computing the hessian, found that the jacobian of the user-provided"
            f" function with respect to input {i} is independent of the input. This is not"
            " allowed in strict mode. You should ensure that your function is twice"
            " differentiable and that the jacobian depends on the inputs (this would be"
            " violated by a linear function for example)."
        )
    if input_type == "grad_inputs":
        return RuntimeError(
            f"The gradient with respect to input {i} is independent of the inputs of the"
            " user-provided function. This is not allowed in strict mode."
        )
    return RuntimeError(
        f"Output {i} of the user-provided function does not require gradients."
        " The outputs must be computed in a differentiable manner from the input"
        " when running in strict mode."
    )


def _unused_error(i: int) -> RuntimeError:
    return RuntimeError(
        f"The output of the user-provided function is independent of input {i}. This is not allowed in strict mode."
    )


def _check_requires_grad(inputs: Sequence[Tensor | None], input_type: str, strict: bool) -> None:
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise _unused_error(i)
        if not inp.requires_grad:
            raise _strict_error(input_type, i)


def _autograd_grad(
    outputs: Sequence[Tensor],
    inputs: Sequence[Tensor],
    grad_outputs: Sequence[Any] | None = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> tuple[Tensor | None, ...]:
    """`ag.grad` that skips outputs without a graph and gives None for unused inputs."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _engine_grad(
        [o for o, _ in pairs],
        list(inputs),
        [g for _, g in pairs],
        retain_graph=retain_graph,
        create_graph=create_graph,
        allow_unused=True,
    )


_FILL_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
    "strict mode.",
    "back_trick": (
        "The gradient with respect to the input is independent of entry {i} in the grad_outputs when using the"
        " double backward trick to compute forward mode gradients. This is not allowed in strict mode."
    ),
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed "
    "in strict mode.",
    "double_back_trick": (
        "The hessian of the user-provided function is independent of entry {i} in the grad_jacobian. This is not"
        " allowed in strict mode as it prevents from using the double backward trick to replace forward mode AD."
    ),
}


def _fill_in_zeros(
    grads: Sequence[Tensor | None], refs: Sequence[Tensor], strict: bool, create_graph: bool, stage: str
) -> tuple[Tensor, ...]:
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_FILL_MESSAGES[stage].format(i=i))
            g = _zeros(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(
                f"The {what} of the user-provided function is independent of input {i}. This is not allowed in "
                "strict mode when create_graph=True."
            )
        res.append(g)
    return tuple(res)


def _v_or_default(v: Any, refs: tuple[Tensor, ...], is_refs_tuple: bool, fn_name: str, create_graph: bool,
                  none_message: str) -> tuple[Tensor, ...] | None:
    if v is None:
        if len(refs) != 1 or refs[0].size != 1:
            raise RuntimeError(none_message)
        return None
    _, vs = _as_tuple(v, "v", fn_name)
    vs = _grad_preprocess(vs, create_graph=create_graph, need_graph=False)
    _validate_v(vs, refs, is_refs_tuple)
    return vs


_V_INPUT = ("The vector v can only be None if the input to the user-provided function is a single Tensor "
            "with a single element.")


def _single_output(outputs: tuple[Tensor, ...], is_tuple: bool, fn_name: str) -> None:
    if is_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].size != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single element")


# ----------------------------------------------------------------- the public functions
def vjp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """`(func(*inputs), v^T J)`: the vector-Jacobian product, one reverse pass."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _outputs_as_tuple(func(*inputs), "vjp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        vs = _v_or_default(v, outputs, is_outputs_tuple, "vjp", create_graph,
                           "The vector v can only be None if the user-provided function returns a single Tensor "
                           "with a single element.")
    grad_res = _autograd_grad(outputs, inputs, vs, create_graph=create_graph)
    result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(result, is_inputs_tuple)


def jvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """`(func(*inputs), J v)`: the Jacobian-vector product, by one forward pass carrying `v` as tangents."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        # strict needs the reverse graph to tell which inputs reach which outputs
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=create_graph or strict)
        vs = _v_or_default(v, inputs, is_inputs_tuple, "jvp", create_graph, _V_INPUT)
        if vs is None:
            vs = tuple(Tensor(np.ones_like(inputs[0].data)) for _ in inputs)
        with forward_ad.dual_level():
            duals = tuple(forward_ad.make_dual(x, t) for x, t in zip(inputs, vs))
            is_outputs_tuple, outputs = _outputs_as_tuple(func(*duals), "jvp")
            tangents = [forward_ad.unpack_dual(o).tangent for o in outputs]
        if strict:
            _check_requires_grad(outputs, "outputs", strict=True)
            reached = _leaves_reached(outputs)
            _check_requires_grad([x if id(x) in reached else None for x in inputs], "grad_inputs", strict=True)
    result = _fill_in_zeros(tangents, outputs, strict, create_graph, "back_trick")
    if create_graph:
        outputs = tuple(_alias(o) for o in outputs)  # drop the closed level's tangents, keep the graph
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(result, is_outputs_tuple)


def _one_hot(index: int, ref: Tensor) -> np.ndarray:
    e = np.zeros(ref.size, dtype=ref.dtype)
    e[index] = 1
    return e.reshape(ref.shape)


def _jacfwd(func: Callable[..., Any], inputs: Any, strict: bool, vectorize: bool) -> Any:
    if strict:
        raise RuntimeError(
            "torch.autograd.functional.jacobian: `strict=True` "
            'and `strategy="forward-mode"` are not supported together (yet). '
            "Please either set `strict=False` or "
            '`strategy="reverse-mode"`.'
        )
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if not vectorize:
        raise NotImplementedError(
            "Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
            "only implemented for `vectorize=True`."
        )
    inputs = tuple(_detach(x) for x in inputs)
    columns: list[list[list[Tensor | None]]] | None = None  # [output][input][column]
    outputs: tuple[Tensor, ...] = ()
    is_outputs_tuple = False
    with forward_ad.dual_level():
        # One forward pass per input element: a function with few inputs and many
        # outputs costs about one forward pass per input column.
        for j, x in enumerate(inputs):
            for k in range(x.size):
                args = list(inputs)
                args[j] = forward_ad.make_dual(x, _one_hot(k, x))
                is_outputs_tuple, outputs = _outputs_as_tuple(func(*args), "jacobian")
                if columns is None:
                    columns = [[[] for _ in inputs] for _ in outputs]
                for i, o in enumerate(outputs):
                    columns[i][j].append(forward_ad.unpack_dual(o).tangent)
        if columns is None:  # every input is empty: run once for the outputs' shapes
            is_outputs_tuple, outputs = _outputs_as_tuple(func(*inputs), "jacobian")
            columns = [[[] for _ in inputs] for _ in outputs]
    jac = tuple(
        tuple(_assemble(cols, o, x, axis=-1) for cols, x in zip(columns[i], inputs)) for i, o in enumerate(outputs)
    )
    return _tuple_postprocess(_grad_postprocess(jac, False), (is_outputs_tuple, is_inputs_tuple))


def _assemble(parts: list[Tensor | None], out: Tensor, x: Tensor, axis: int) -> Tensor:
    """Rows (axis 0, one per output element) or columns (axis -1, one per input element) of d out / d x."""
    shape = out.shape + x.shape
    if not parts or all(p is None for p in parts):
        return Tensor(np.zeros(shape, dtype=np.result_type(out.dtype, x.dtype)))
    ref = x if axis == 0 else out
    return _stack_rows([_zeros(ref) if p is None else p for p in parts], shape, axis)


def jacobian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of `func` at `inputs`: `J[i][j]` has shape `outputs[i].shape + inputs[j].shape`.

    `strategy="reverse-mode"` runs one reverse pass per output element, `"forward-mode"`
    one forward pass per input element (it needs `vectorize=True`, as in PyTorch).
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".'
        )
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` "
                'and `strategy="forward-mode"` are not supported together (yet). '
                "Please either set `create_graph=False` or "
                '`strategy="reverse-mode"`.'
            )
        return _jacfwd(func, inputs, strict, vectorize)
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _outputs_as_tuple(func(*inputs), "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if vectorize and strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` "
                "and `vectorized=True` are not supported together. "
                "Please either set `strict=False` or "
                "`vectorize=False`."
            )
        jac = []
        for i, out in enumerate(outputs):
            rows: list[list[Tensor | None]] = [[] for _ in inputs]
            n = out.size if out.requires_grad else 0
            for j in range(n):
                vj = _autograd_grad([out], inputs, [_one_hot(j, out)], create_graph=create_graph, retain_graph=True)
                for el, g in enumerate(vj):
                    if g is None:
                        if strict:
                            raise RuntimeError(
                                f"Output {i} of the user-provided function is independent of input {el}. "
                                "This is not allowed in strict mode."
                            )
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(
                            f"The jacobian of the user-provided function is independent of input {i}. "
                            "This is not allowed in strict mode when create_graph=True."
                        )
                    rows[el].append(g)
            jac.append(tuple(_assemble(r, out, x, axis=0) for r, x in zip(rows, inputs)))
    return _tuple_postprocess(_grad_postprocess(tuple(jac), create_graph), (is_outputs_tuple, is_inputs_tuple))


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar `func`: the Jacobian (outer strategy as given) of its reverse-mode gradient."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp: Tensor) -> Tensor:
        out = func(*inp)
        is_out_tuple, t_out = _outputs_as_tuple(out, "hessian")
        _check_requires_grad(t_out, "outputs", strict=strict)
        _single_output(t_out, is_out_tuple, "hessian")
        return out.squeeze()

    def jac_func(*inp: Tensor) -> Any:
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)  # our own duals: keep their tangents
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def vhp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """`(func(*inputs), v^T H)` for a scalar `func`: reverse over reverse."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        vs = _v_or_default(v, inputs, is_inputs_tuple, "vhp", create_graph, _V_INPUT)
        is_outputs_tuple, outputs = _outputs_as_tuple(func(*inputs), "vhp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        _single_output(outputs, is_outputs_tuple, "vhp")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
    grad_res = _autograd_grad(jac, inputs, vs, create_graph=create_graph)
    result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(result, is_inputs_tuple)


def hvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """`(func(*inputs), H v)` for a scalar `func`: forward over reverse.

    The inputs carry `v` as tangents while the gradient is computed, so the gradient's
    tangent is H v: one forward and one reverse pass, where PyTorch uses three
    reverse passes (the double-backward trick).
    """
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        vs = _v_or_default(v, inputs, is_inputs_tuple, "hvp", create_graph, _V_INPUT)
        if vs is None:
            vs = (Tensor(np.ones_like(inputs[0].data)),)
        with forward_ad.dual_level():
            duals = tuple(forward_ad.make_dual(x, t) for x, t in zip(inputs, vs))
            is_outputs_tuple, outputs = _outputs_as_tuple(func(*duals), "hvp")
            _check_requires_grad(outputs, "outputs", strict=strict)
            _single_output(outputs, is_outputs_tuple, "hvp")
            jac = _autograd_grad(outputs, duals, create_graph=create_graph)
            hv = [None if g is None else forward_ad.unpack_dual(g).tangent for g in jac]
        if strict:
            for i, (g, t) in enumerate(zip(jac, hv)):
                if g is None:
                    raise _unused_error(i)
                if t is None:  # the gradient carries no tangent: it does not depend on the inputs
                    raise _strict_error("jacobian", i)
    result = _fill_in_zeros(hv, inputs, strict, create_graph, "double_back")
    if create_graph:
        outputs = tuple(_alias(o) for o in outputs)  # drop the closed level's tangents, keep the graph
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(result, is_inputs_tuple)
