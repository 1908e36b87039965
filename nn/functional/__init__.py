"""`nn.functional`: stateless functions with PyTorch's names and arguments."""

# --- activations, linear, dropout, embedding, losses (owner: nn-modules) ---

# --- conv, pooling, normalisation (owner: nn-cnn) ---

# --- recurrent cells, attention (owner: nn-sequence) ---
