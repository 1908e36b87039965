"""Every differentiable operation, grouped by family. `ag.NAME` re-exports these."""

from types import ModuleType as _ModuleType

from ..tensor import Tensor as _Tensor

# NumPy-coverage families. Each module has `__all__`, `NUMPY_RULES` (NumPy callable ->
# op, merged into the dispatch tables) and `TENSOR_METHODS` (installed on Tensor).
# `decompositions` is reached as `ag.linalg`, not at the top level.
from . import arrays as _arrays
from . import decompositions as _decompositions
from . import mathfuncs as _mathfuncs
from . import products as _products
from ._util import named_errors as _named_errors
from .arithmetic import (
    add,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    divide,
    equal,
    greater,
    greater_equal,
    invert,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    power,
    subtract,
)
from .elementwise import (
    abs,
    astype,
    ceil,
    clip,
    cos,
    exp,
    expm1,
    floor,
    isfinite,
    isinf,
    isnan,
    log,
    log1p,
    relu,
    round,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    tanh,
)
from .indexing import getitem, index_put, scatter_add, where
from .join import concatenate, pad, split, stack
from .linalg import dot, einsum, matmul
from .reductions import argmax, argmin, max, mean, min, prod, std, sum, var
from .shape import broadcast_to, expand_dims, flatten, ravel, reshape, squeeze, swapaxes, transpose
from .softmax import log_softmax, logsumexp, softmax
from .windows import fold, sliding_windows

_EXTENSIONS = (_mathfuncs, _arrays, _products, _decompositions)
for _module in (_mathfuncs, _arrays, _products):
    globals().update({_name: getattr(_module, _name) for _name in _module.__all__})
for _module in _EXTENSIONS:  # x.cumsum(), x.trace(), ...
    for _name, _method in _module.TENSOR_METHODS.items():
        setattr(_Tensor, _name, _method)
del _module

# The op functions only: not the family submodules, so `ag.shape` etc. never name a module.
__all__ = [name for name, value in globals().items() if not name.startswith("_") and not isinstance(value, _ModuleType)]

# Every public op reports errors under its own name (see `named_errors`).
for _name in __all__:
    globals()[_name] = _named_errors(globals()[_name])
del _name
