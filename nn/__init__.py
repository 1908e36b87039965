"""nn: PyTorch-shaped neural-network modules on top of autograd_core.

Names, arguments, defaults, parameter names and layouts follow `torch.nn`, so a
`state_dict` maps one to one onto PyTorch's.
"""

# --- modules, layers, losses, init, functional (owner: nn-modules) ---
from . import functional, init
from .containers import ModuleDict, ModuleList, Sequential
from .init import manual_seed
from .module import Module, Parameter
from .modules.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from .modules.dropout import Dropout
from .modules.linear import Flatten, Identity, Linear
from .modules.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss
from .modules.sparse import Embedding
from .summary import summary

# --- optim, data, training loop, checkpoints, utils (owner: nn-training) ---
# isort: split
from . import data, optim, utils
from .serialization import CheckpointError, load, load_checkpoint, save, save_checkpoint
from .training import Callback, EarlyStopping, History, evaluate, fit, predict

# --- convolution, pooling, normalisation (owner: nn-cnn) ---
# isort: split
from .modules.conv import Conv1d, Conv2d  # noqa: E402
from .modules.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm  # noqa: E402
from .modules.pooling import (  # noqa: E402
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)

# isort: split

# --- recurrent, attention, transformer (owner: nn-sequence) ---
from .modules.attention import MultiheadAttention  # noqa: E402
from .modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell  # noqa: E402
from .modules.transformer import (  # noqa: E402
    TransformerEncoder,
    TransformerEncoderLayer,
    sinusoidal_positional_encoding,
)

# --- pretrained models (owner: nn-models) ---
# isort: split
from . import models  # noqa: E402

# --- several processes: collectives, DistributedDataParallel ---
# isort: split
from . import distributed, parallel  # noqa: E402
