"""`nn.init`: in-place initialisers with PyTorch's names and formulas, and `nn`'s random generator.

Every random draw in `nn` (initialisers, Dropout) comes from one module-level NumPy
`Generator`; `nn.manual_seed(seed)` replaces it, so a seeded script is reproducible.
Initialisers assign a new array to `tensor.data` (the Parameter object stays the same)
in the tensor's own dtype, and return the tensor.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_core import Tensor

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed `nn`'s generator (initialisation and dropout masks); returns the new generator."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def generator() -> np.random.Generator:
    """The current module-level generator (changes when `manual_seed` is called)."""
    return _generator


def _shape_dtype(tensor: Any, where: str) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(tensor, (Tensor, np.ndarray)):
        arr = tensor.data if isinstance(tensor, Tensor) else tensor
        if arr.dtype.kind != "f":
            raise TypeError(f"{where}: expected a floating-point tensor, got dtype {arr.dtype}")
        return arr.shape, arr.dtype
    raise TypeError(f"{where}: expected a Tensor/Parameter or ndarray, got {type(tensor).__name__}")


def _assign(tensor: Any, values: np.ndarray) -> Any:
    if isinstance(tensor, Tensor):
        tensor.data = values.astype(tensor.data.dtype, copy=False).reshape(tensor.data.shape)
    else:
        tensor[...] = values
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gain for a nonlinearity (e.g. sqrt(2) for 'relu', 5/3 for 'tanh')."""
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    shape, _ = _shape_dtype(tensor, "fan_in/fan_out")
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape {shape})"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: Any, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0) -> Any:
    """Fill with U(a, b)."""
    shape, _ = _shape_dtype(tensor, "uniform_")
    return _assign(tensor, _generator.uniform(a, b, size=shape))


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0) -> Any:
    """Fill with N(mean, std**2)."""
    shape, _ = _shape_dtype(tensor, "normal_")
    return _assign(tensor, _generator.normal(mean, std, size=shape))


def constant_(tensor: Any, val: float) -> Any:
    """Fill with `val`."""
    shape, dtype = _shape_dtype(tensor, "constant_")
    return _assign(tensor, np.full(shape, val, dtype=dtype))


def zeros_(tensor: Any) -> Any:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot uniform: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot normal: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Any:
    """He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor  # PyTorch warns and leaves a zero-element tensor alone
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Any:
    """He normal: N(0, std**2), std = gain / sqrt(fan)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def orthogonal_(tensor: Any, gain: float = 1.0) -> Any:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix, times `gain`.

    Tensors with more than 2 dimensions are flattened to (shape[0], rest), as in PyTorch.
    """
    shape, _ = _shape_dtype(tensor, "orthogonal_")
    if len(shape) < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {shape}")
    if 0 in shape:
        return tensor
    rows = shape[0]
    cols = int(np.prod(shape)) // rows
    flat = _generator.normal(size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # make the decomposition unique (uniform over orthogonal matrices)
    if rows < cols:
        q = q.T
    return _assign(tensor, gain * q)


def eye_(tensor: Any) -> Any:
    """Fill a 2-d tensor with the identity (ones on the diagonal)."""
    shape, dtype = _shape_dtype(tensor, "eye_")
    if len(shape) != 2:
        raise ValueError(f"eye_: only 2-d tensors are supported, got shape {shape}")
    return _assign(tensor, np.eye(*shape, dtype=dtype))


def default_affine_(weight: Any, bias: Any = None) -> None:
    """PyTorch's default for Linear and Conv layers, in place.

    The weight is drawn with kaiming_uniform_(a=sqrt(5)), which is U(+-1/sqrt(fan_in)).
    The bias is drawn from U(+-1/sqrt(fan_in)) with the weight's fan_in.
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)
