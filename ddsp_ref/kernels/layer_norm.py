"""Launcher of ddsp's Fc block as one kernel call: Dense, keras LayerNormalization, leaky ReLU.

``y = act(LayerNorm(x @ kernel + bias))`` over the last axis, with ``act(z) = z`` for ``z > 0``
and ``alpha * z`` otherwise (alpha 0.2: ``tf.nn.leaky_relu``, 0: relu, 1: linear). The product
runs as one GEMM over all leading axes; the normalisation and activation run in a kernel
(``layer_norm_cpu.py`` for numpy float32 / float64, the pure-array reference
``layer_norm_reference.py`` for cupy, other dtypes, without numba, or with
``DDSP_REF_KERNELS=reference``). For the backward a layer keeps its input (usually the previous
layer's output, not a copy), the kernel, ``xhat`` ``[rows, ch]`` and ``rstd`` ``[rows]``:
the composed ops keep about six ``[rows, ch]`` arrays per block. numba is imported on the first
call, never by ``import ddsp_ref``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..backend import array_namespace
from ..validation import check_real_dtype
from .gemm import transposed_product
from .selection import select

__all__ = ["dense_norm_act_forward", "dense_norm_act_backward", "DenseNormSaved"]


class DenseNormSaved(NamedTuple):
    """What the backward needs (canonical 2-D layouts)."""

    module: Any  # the kernel module that ran the forward
    x: Any  # [rows, n_in]
    kernel: Any  # [n_in, ch]
    xhat: Any  # [rows, ch] normalised pre-activations
    rstd: Any  # [rows] 1 / sqrt(var + epsilon)
    gamma: Any  # [ch]
    beta: Any  # [ch]
    alpha: float
    shape: tuple  # the input's shape


def _canonical(x, kernel, bias, gamma, beta) -> tuple:
    """Checked inputs in one dtype (float64 if they promote to it, else float32), contiguous."""
    xp = array_namespace(x, kernel, bias, gamma, beta)
    arrays = [xp.asarray(a) for a in (x, kernel, bias, gamma, beta)]
    for name, a in zip(("inputs", "kernel", "bias", "gamma", "beta"), arrays):
        check_real_dtype(a, name, "dense_layer_norm")
    x, kernel, bias, gamma, beta = arrays
    if x.ndim < 1 or kernel.ndim != 2 or x.shape[-1] != kernel.shape[0]:
        raise ValueError(
            f"dense_layer_norm: inputs [..., n_in] and kernel [n_in, ch] do not fit: "
            f"{tuple(x.shape)} and {tuple(kernel.shape)}"
        )
    ch = kernel.shape[1]
    for name, a in (("bias", bias), ("gamma", gamma), ("beta", beta)):
        if tuple(a.shape) != (ch,):
            raise ValueError(f"dense_layer_norm: {name} must have shape [{ch}], got {a.shape}")
    dtype = np.result_type(*[a.dtype for a in arrays])
    dtype = np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)
    return xp, [xp.ascontiguousarray(a, dtype=dtype) for a in arrays]


def dense_norm_act_forward(x, kernel, bias, gamma, beta, epsilon: float, alpha: float,
                           save: bool = False, implementation: str | None = None):  # fmt: skip
    """The Fc block on raw arrays.

    Args:
        x: ``[..., n_in]``; kernel ``[n_in, ch]``; bias, gamma, beta ``[ch]``.
        epsilon: added to the variance (keras' default 1e-3).
        alpha: slope for ``z <= 0``.
        save: keep what :func:`dense_norm_act_backward` needs.
        implementation: force 'reference' or 'cpu' (tests, benchmarks).

    Returns:
        ``(y [..., ch], saved)``, ``saved`` a :class:`DenseNormSaved` or None.
    """
    xp, (x, kernel, bias, gamma, beta) = _canonical(x, kernel, bias, gamma, beta)
    x2 = x.reshape(-1, x.shape[-1])
    h = x2 @ kernel  # one GEMM over every leading index; the kernel adds the bias
    module = select("layer_norm", xp, (h.dtype,), implementation=implementation)
    y, xhat, rstd = module.norm_act_forward(h, bias, gamma, beta, float(epsilon), float(alpha))
    saved = None
    if save:
        saved = DenseNormSaved(module, x2, kernel, xhat, rstd, gamma, beta, float(alpha), x.shape)
    return y.reshape(x.shape[:-1] + (kernel.shape[1],)), saved


def dense_norm_act_backward(saved: DenseNormSaved, dy, needs=(True,) * 5) -> tuple:
    """VJP of :func:`dense_norm_act_forward`: ``(dx, dkernel, dbias, dgamma, dbeta)`` (None
    where ``needs`` is False)."""
    xp = array_namespace(saved.xhat)
    dy = xp.ascontiguousarray(dy, dtype=saved.xhat.dtype).reshape(saved.xhat.shape)
    dh, dbias, dgamma, dbeta = saved.module.norm_act_backward(
        dy, saved.xhat, saved.rstd, saved.gamma, saved.beta, saved.alpha
    )
    dx = (dh @ saved.kernel.T).reshape(saved.shape) if needs[0] else None
    dkernel = transposed_product(saved.x, dh) if needs[1] else None
    grads = (dbias, dgamma, dbeta)
    return dx, dkernel, *(g if need else None for g, need in zip(grads, needs[2:]))
