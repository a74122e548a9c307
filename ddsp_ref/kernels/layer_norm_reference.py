"""Reference of the layer-norm + leaky-ReLU kernels (keras LayerNormalization then
``where(z > 0, z, alpha * z)``), on numpy or cupy arrays: the executable spec of
``layer_norm_cpu.py``.

Per row of ``h`` ``[rows, channels]`` (the Dense output before its bias; the bias is added
here so that the CPU kernel can do it in its first pass): ``h += bias``,
``xhat = (h - mean) * rstd`` with
``rstd = 1 / sqrt(var + epsilon)`` (population variance), ``z = xhat * gamma + beta``,
``y = z`` where ``z > 0`` else ``alpha * z`` (alpha 0.2: tf.nn.leaky_relu; 0: relu; 1: linear).
"""

from __future__ import annotations

from typing import Any

from ..backend import array_namespace

__all__ = ["norm_act_forward", "norm_act_backward"]


def norm_act_forward(h: Any, bias: Any, gamma: Any, beta: Any, epsilon: float,
                     alpha: float) -> tuple:  # fmt: skip
    """``(y, xhat, rstd)``: ``y`` and ``xhat`` ``[rows, channels]``, ``rstd`` ``[rows]``.

    ``h`` is consumed: an implementation may overwrite it (the CPU kernel stores ``xhat`` there).
    """
    xp = array_namespace(h)
    h = h + bias
    centered = h - h.mean(axis=-1, keepdims=True)
    var = xp.square(centered).mean(axis=-1)
    rstd = 1.0 / xp.sqrt(var + h.dtype.type(epsilon))
    xhat = centered * rstd[:, None]
    z = xhat * gamma + beta
    return xp.where(z > 0, z, h.dtype.type(alpha) * z), xhat, rstd


def norm_act_backward(dy: Any, xhat: Any, rstd: Any, gamma: Any, beta: Any,
                      alpha: float) -> tuple:  # fmt: skip
    """Cotangents ``(dh [rows, channels], dbias, dgamma, dbeta)`` (each ``[channels]``) from
    ``dy``; ``dbias`` is ``dh`` summed over the rows."""
    xp = array_namespace(dy)
    z = xhat * gamma + beta
    dz = xp.where(z > 0, dy, dy.dtype.type(alpha) * dy)
    dgamma = (dz * xhat).sum(axis=0)
    dbeta = dz.sum(axis=0)
    dxhat = dz * gamma
    mean_d = dxhat.mean(axis=-1, keepdims=True)
    mean_dx = (dxhat * xhat).mean(axis=-1, keepdims=True)
    dh = (dxhat - mean_d - xhat * mean_dx) * rstd[:, None]
    return dh, dh.sum(axis=0), dgamma, dbeta
