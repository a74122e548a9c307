"""Reverse-mode automatic differentiation over numpy / cupy arrays.

Plain arrays in give plain arrays out (nothing recorded); inside :func:`value_and_grad` the
differentiated arguments are :class:`Tensor` objects and every op on them is taped.
"""

from . import ops
from .api import grad, stop_gradient, value_and_grad
from .gradcheck import GradientCheckError, check_grads
from .pytree import tree_flatten, tree_map
from .tape import REGISTRY
from .tensor import Tensor

__all__ = [
    "Tensor",
    "value_and_grad",
    "grad",
    "stop_gradient",
    "check_grads",
    "GradientCheckError",
    "tree_flatten",
    "tree_map",
    "ops",
    "REGISTRY",
]
