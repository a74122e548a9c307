"""Math helpers of ddsp.core: safe division and logs, log scales, soft limits."""

from __future__ import annotations

from typing import Any

from ..autodiff import ops, stop_gradient
from .utils import to_float

__all__ = [
    "nan_to_num",
    "safe_divide",
    "safe_log",
    "logb",
    "log10",
    "log_scale",
    "soft_limit",
    "gradient_reversal",
]


def nan_to_num(x: Any, value: float = 0.0) -> Any:
    """Replace NaN entries of ``x`` by ``value`` (gradient flows through the others)."""
    raw = stop_gradient(x)
    return ops.where(raw != raw, value, x)


def safe_divide(numerator: Any, denominator: Any, eps: float = 1e-7) -> Any:
    """``numerator / denominator`` with exact zeros of the denominator replaced by ``eps``.

    As in ddsp, negative or tiny non-zero denominators are not protected.
    """
    raw = stop_gradient(denominator)
    return ops.divide(numerator, ops.where(raw == 0.0, eps, denominator))


def safe_log(x: Any, eps: float = 1e-5) -> Any:
    """``log(x)`` with entries ``x <= 0`` replaced by ``eps`` (not ``log(x + eps)``)."""
    raw = stop_gradient(x)
    return ops.log(ops.where(raw <= 0.0, eps, x))


def logb(x: Any, base: float = 2.0, eps: float = 1e-5) -> Any:
    """Logarithm in ``base`` through safe logs: ``safe_log(x) / safe_log(base)``."""
    import math

    x = to_float(x)
    if isinstance(base, (int, float)):  # a Python constant keeps the precision of x
        log_base = math.log(base) if base > 0 else math.log(eps)
        return ops.divide(safe_log(x, eps), log_base if log_base != 0.0 else 1e-7)
    return safe_divide(safe_log(x, eps), safe_log(to_float(base), eps))


def log10(x: Any, eps: float = 1e-5) -> Any:
    """Base-10 safe logarithm."""
    return logb(x, 10.0, eps)


def log_scale(x: Any, min_x: float, max_x: float) -> Any:
    """Map x in [-1, 1] to [min_x, max_x] on a log scale."""
    import math

    x = (to_float(x) + 1.0) / 2.0
    return ops.exp((1.0 - x) * math.log(min_x) + x * math.log(max_x))


def soft_limit(x: Any, x_min: float = 0.0, x_max: float = 1.0) -> Any:
    """``softplus(x) + x_min - softplus(x - (x_max - x_min))``.

    Saturates at x_min and x_max; in between it is about ``x + x_min`` (ddsp does not shift
    the input by x_min).
    """
    return ops.softplus(x) + x_min - ops.softplus(x - (x_max - x_min))


def gradient_reversal(x: Any) -> Any:
    """Identity in the forward pass, gradient multiplied by -1 in the backward pass."""
    return stop_gradient(2.0 * x) - x
