"""(filled in by the NumPy-coverage work)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__: list[str] = []

# NumPy callable (ufunc or function) -> the op that handles it on Tensors.
NUMPY_RULES: dict[Any, Callable[..., Any]] = {}

# Tensor method name -> function(self, ...) installed on Tensor.
TENSOR_METHODS: dict[str, Callable[..., Any]] = {}
