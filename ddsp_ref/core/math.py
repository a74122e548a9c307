"""Math helpers of ddsp.core: safe division and logs, log scales, soft limits."""

from __future__ import annotations

import math
from typing import Any

from ..autodiff import ops, stop_gradient
from ..validation import positive_number
from .utils import real_param, to_float

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
    x, value = to_float(x, "x", "nan_to_num"), real_param(value, "value", "nan_to_num")
    raw = stop_gradient(x)
    return ops.where(raw != raw, value, x)


def safe_divide(numerator: Any, denominator: Any, eps: float = 1e-7) -> Any:
    """``numerator / denominator`` with exact zeros of the denominator replaced by ``eps``.

    As in ddsp, negative or tiny non-zero denominators are not protected.
    """
    numerator = to_float(numerator, "numerator", "safe_divide")
    denominator = to_float(denominator, "denominator", "safe_divide")
    eps = real_param(eps, "eps", "safe_divide")
    raw = stop_gradient(denominator)
    return ops.divide(numerator, ops.where(raw == 0.0, eps, denominator))


def safe_log(x: Any, eps: float = 1e-5) -> Any:
    """``log(x)`` with entries ``x <= 0`` replaced by ``eps`` (not ``log(x + eps)``)."""
    x, eps = to_float(x, "x", "safe_log"), real_param(eps, "eps", "safe_log")
    raw = stop_gradient(x)
    return ops.log(ops.where(raw <= 0.0, eps, x))


def logb(x: Any, base: float = 2.0, eps: float = 1e-5) -> Any:
    """Logarithm in ``base`` through safe logs: ``safe_log(x) / safe_log(base)``."""
    x, eps = to_float(x, "x", "logb"), real_param(eps, "eps", "logb")
    base = real_param(base, "base", "logb")
    if isinstance(base, (int, float)):  # a Python constant keeps the precision of x
        log_base = math.log(base) if base > 0 else math.log(eps)
        return ops.divide(safe_log(x, eps), log_base if log_base != 0.0 else 1e-7)
    return safe_divide(safe_log(x, eps), safe_log(to_float(base), eps))


def log10(x: Any, eps: float = 1e-5) -> Any:
    """Base-10 safe logarithm."""
    return logb(x, 10.0, eps)


def log_scale(x: Any, min_x: float, max_x: float) -> Any:
    """Map x in [-1, 1] to [min_x, max_x] on a log scale."""
    min_x = positive_number(min_x, "min_x", "log_scale")
    max_x = positive_number(max_x, "max_x", "log_scale")
    x = (to_float(x, "x", "log_scale") + 1.0) / 2.0
    return ops.exp((1.0 - x) * math.log(min_x) + x * math.log(max_x))


def soft_limit(x: Any, x_min: float = 0.0, x_max: float = 1.0) -> Any:
    """``softplus(x) + x_min - softplus(x - (x_max - x_min))``.

    Saturates at x_min and x_max; in between it is about ``x + x_min`` (ddsp does not shift
    the input by x_min).
    """
    x = to_float(x, "x", "soft_limit")
    x_min, x_max = (
        real_param(x_min, "x_min", "soft_limit"),
        real_param(x_max, "x_max", "soft_limit"),
    )
    return ops.softplus(x) + x_min - ops.softplus(x - (x_max - x_min))


def gradient_reversal(x: Any) -> Any:
    """Identity in the forward pass, gradient multiplied by -1 in the backward pass."""
    x = to_float(x, "x", "gradient_reversal")
    return stop_gradient(2.0 * x) - x
