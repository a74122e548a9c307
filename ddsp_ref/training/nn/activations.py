"""get_nonlinearity: keras activations and tf.nn functions by name, written with autodiff ops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...autodiff import ops

__all__ = ["get_nonlinearity", "NONLINEARITIES"]

# selu's constants (Klambauer et al. 2017, as in keras).
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _elu(x: Any, alpha: float = 1.0) -> Any:
    # exp of min(x, 0): the unused branch never overflows, so its zero cotangent stays finite.
    return ops.where(x > 0, x, alpha * (ops.exp(ops.minimum(x, 0.0)) - 1.0))


def _swish(x: Any) -> Any:
    return x * ops.sigmoid(x)


NONLINEARITIES: dict[str, Callable[[Any], Any]] = {
    "linear": lambda x: x,
    "relu": ops.relu,
    "relu6": lambda x: ops.clip(x, 0.0, 6.0),
    "leaky_relu": ops.leaky_relu,  # tf.nn.leaky_relu: alpha 0.2
    "elu": _elu,
    "selu": lambda x: _SELU_SCALE * _elu(x, _SELU_ALPHA),
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "softplus": ops.softplus,
    "softsign": lambda x: x / (1.0 + ops.abs(x)),
    "swish": _swish,
    "silu": _swish,
    "exponential": ops.exp,
}


def get_nonlinearity(nonlinearity: str | Callable | None) -> Callable[[Any], Any]:
    """ddsp's ``get_nonlinearity``: a keras activation or ``tf.nn`` function by name.

    Args:
        nonlinearity: a name from :data:`NONLINEARITIES`, a callable (returned as is) or None
            (the identity, like keras' ``activations.get(None)``).

    Returns:
        A function of one array (or Tensor) to an array of the same shape.

    Raises:
        ValueError: an unknown name, listing the known ones ('gelu' is not provided: it needs
            erf, which the autodiff ops do not have).
    """
    if nonlinearity is None:
        return NONLINEARITIES["linear"]
    if callable(nonlinearity):
        return nonlinearity
    if isinstance(nonlinearity, str) and nonlinearity in NONLINEARITIES:
        return NONLINEARITIES[nonlinearity]
    raise ValueError(
        f"get_nonlinearity: nonlinearity must be one of {sorted(NONLINEARITIES)} or a "
        f"callable, got {nonlinearity!r}"
    )
