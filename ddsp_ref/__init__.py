"""ddsp_ref: DDSP (differentiable digital signal processing) on NumPy and CuPy.

Same API and numbers as magenta/ddsp 3.7.0, without TensorFlow.
"""

from . import backend
from .autodiff import Tensor, check_grads, grad, stop_gradient, value_and_grad

__version__ = "0.1.0"

__all__ = ["backend", "Tensor", "value_and_grad", "grad", "stop_gradient", "check_grads"]
