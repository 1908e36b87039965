"""`nn.functional`: stateless functions with PyTorch's names and arguments."""

# --- activations, linear, dropout, embedding, losses (owner: nn-modules) ---
from ._erf import erf, erfc
from .activation import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, tanh
from .dropout import dropout
from .linear import linear
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
)
from .sparse import embedding, one_hot

# --- conv, pooling, normalisation (owner: nn-cnn) ---
# isort: split
from .conv import conv1d, conv2d  # noqa: E402
from .normalization import batch_norm, group_norm, layer_norm  # noqa: E402
from .pooling import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)

# isort: split

# --- recurrent cells, attention (owner: nn-sequence) ---
# Inside ag.func.vmap, every function here takes batched arguments (see batching.py).
import sys as _sys  # noqa: E402

from . import batching as _batching  # noqa: E402
from .attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402
from .recurrent import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell  # noqa: E402

for _name in [n for n, v in list(globals().items()) if callable(v) and not n.startswith("_") and n != "batching"]:
    _wrapped = _batching.batchable(globals()[_name])
    globals()[_name] = _wrapped
    _home = _sys.modules[_wrapped.__wrapped__.__module__]  # layers import from the defining module
    if getattr(_home, _name, None) is _wrapped.__wrapped__:
        setattr(_home, _name, _wrapped)
del _name, _wrapped, _home
