"""ddsp's Fc block (Dense, LayerNormalization, leaky ReLU) as one autodiff op on a fused kernel.

One tape node per block instead of about ten (matmul, bias add, mean, centring, square, variance,
sqrt, divide, scale, shift, activation), each of which kept a ``[rows, ch]`` array for the
backward; see ``ddsp_ref.kernels.layer_norm``.
"""

from __future__ import annotations

from typing import Any

from ...kernels import layer_norm as _kernels
from ..tape import Primitive

__all__ = ["dense_layer_norm"]


def _fwd(xp, x, kernel, bias, gamma, beta, epsilon=1e-3, alpha=0.2, needs=(False,) * 5):
    return _kernels.dense_norm_act_forward(
        x, kernel, bias, gamma, beta, epsilon, alpha, save=any(needs)
    )


def _vjp(xp, saved, g, epsilon=1e-3, alpha=0.2, needs=(True,) * 5):
    return _kernels.dense_norm_act_backward(saved, g, needs)


_dense_layer_norm = Primitive("fused_dense_layer_norm", _fwd, _vjp)


def dense_layer_norm(x: Any, kernel: Any, bias: Any, gamma: Any, beta: Any,
                     epsilon: float = 1e-3, alpha: float = 0.2) -> Any:  # fmt: skip
    """``act(LayerNorm(x @ kernel + bias) * gamma + beta)`` over the last axis.

    LayerNorm is keras' (population variance, ``epsilon`` added to it); ``act(z)`` is ``z``
    for ``z > 0`` and ``alpha * z`` otherwise (0.2: leaky ReLU, 0: relu, 1: linear).

    Args:
        x: ``[..., n_in]``; kernel ``[n_in, ch]``; bias, gamma, beta ``[ch]``.

    Returns:
        ``[..., ch]``, float64 when the inputs are float64, float32 otherwise.
        Differentiable in every array argument.
    """
    return _dense_layer_norm(x, kernel, bias, gamma, beta, epsilon=epsilon, alpha=alpha)
