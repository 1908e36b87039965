"""autograd_core: reverse-mode automatic differentiation on NumPy.

    import autograd_core as ag
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # array([2., 4.], dtype=float32)
"""

from . import forward_ad, func, functional, ops
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from .checkpoint import checkpoint
from .creation import arange, empty, empty_like, eye, full, full_like, identity, ones, ones_like, zeros, zeros_like
from .dtypes import get_default_dtype, set_default_dtype
from .engine import grad
from .function import Function, FunctionCtx
from .grad_mode import ScopeFrame, current_scope, enable_grad, is_grad_enabled, no_grad, scope
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import *  # noqa: F403  (ag.exp, ag.sum, ag.where, ...)
from .ops import decompositions as linalg  # ag.linalg.inv, ag.linalg.svd, ...
from .tensor import Tensor
from .threads import get_num_threads, set_num_threads
from .viz import draw_graph, to_dot

__version__ = "0.1.0"

from .allocator import tune_malloc
from .threads import apply_environment

tune_malloc()  # large temporaries stay in the heap between steps (see allocator.py)
apply_environment()  # AUTOGRAD_NUM_THREADS reaches BLAS too
