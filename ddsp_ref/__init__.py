"""ddsp_ref: DDSP (differentiable digital signal processing) on NumPy and CuPy.

Same API and numbers as magenta/ddsp 3.7.0, without TensorFlow.
"""

# Like `import ddsp`, importing the package loads the DSP layers (and, when gin is installed,
# registers them, so gin configs that `import ddsp_ref` find @synths.Harmonic etc.).
from . import backend, core, dags, effects, processors, synths  # noqa: E402  (order: backend first)
from .autodiff import Tensor, check_grads, grad, stop_gradient, value_and_grad
from .lazy import lazy_getattr

__version__ = "0.1.0"

__all__ = [
    "backend",
    "core",
    "dags",
    "effects",
    "processors",
    "synths",
    "Tensor",
    "value_and_grad",
    "grad",
    "stop_gradient",
    "check_grads",
]

# Heavier or optional layers load on first use (``ddsp_ref.demo``, ``ddsp_ref.kernels``...).
_SUBMODULES = {
    "autodiff",
    "backend",
    "core",
    "dags",
    "data",
    "demo",
    "effects",
    "gin_support",
    "io",
    "kernels",
    "losses",
    "module",
    "numerics",
    "pitch",
    "processors",
    "progress",
    "spectral_ops",
    "streaming",
    "synths",
    "training",
    "validation",
}


__getattr__ = lazy_getattr(__name__, _SUBMODULES)
