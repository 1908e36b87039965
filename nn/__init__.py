"""nn: PyTorch-shaped neural-network modules on top of autograd_core.

Names, arguments, defaults, parameter names and layouts follow `torch.nn`, so a
`state_dict` maps one to one onto PyTorch's.
"""

# --- modules, layers, losses, init, functional (owner: nn-modules) ---

# --- optim, data, training loop, checkpoints, utils (owner: nn-training) ---

# --- convolution, pooling, normalisation (owner: nn-cnn) ---

# --- recurrent, attention, transformer (owner: nn-sequence) ---
