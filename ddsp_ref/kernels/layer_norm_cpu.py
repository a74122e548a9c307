"""Layer-norm + leaky-ReLU as numba CPU kernels: per row, one pass adds the Dense bias and sums,
one takes the variance, one normalises and activates (forward); two for the backward, which
also sums the bias, gamma and beta cotangents; rows split over threads.

Imported by the launcher on first use only (it imports numba). Same layouts and results (up to
summation order) as ``layer_norm_reference.py``. Sums accumulate in float64; the loops may
reassociate them (``fastmath`` reassoc and contract only: NaN and infinity keep IEEE semantics),
which lets LLVM vectorise the row reductions: 2-4x faster than strict sequential sums at 512
channels. The forward writes ``xhat`` over its input ``h`` (a fresh GEMM output that nothing
else holds), so a layer keeps one ``[rows, channels]`` array for its backward besides its output.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["norm_act_forward", "norm_act_backward"]


_FLAGS = {"reassoc", "contract"}


@numba.njit(parallel=True, cache=True, boundscheck=False, fastmath=_FLAGS)
def _forward_kernel(h, bias, gamma, beta, epsilon, alpha, y, rstd):  # pragma: no cover
    n_rows, n_ch = h.shape
    for i in numba.prange(n_rows):
        s = 0.0
        for j in range(n_ch):
            h[i, j] += bias[j]
            s += h[i, j]
        mean = s / n_ch
        v = 0.0
        for j in range(n_ch):
            d = h[i, j] - mean
            v += d * d
        r = 1.0 / math.sqrt(v / n_ch + epsilon)
        rstd[i] = r
        for j in range(n_ch):
            h[i, j] = (h[i, j] - mean) * r
            z = h[i, j] * gamma[j] + beta[j]  # from the stored xhat: the backward's mask agrees
            y[i, j] = z if z > 0 else alpha * z


@numba.njit(parallel=True, cache=True, boundscheck=False, fastmath=_FLAGS)
def _backward_kernel(
    dy, xhat, rstd, gamma, beta, alpha, dh, part_g, part_b, part_h
):  # pragma: no cover - compiled
    n_rows, n_ch = dy.shape
    n_parts = part_g.shape[0]
    per = (n_rows + n_parts - 1) // n_parts
    for k in numba.prange(n_parts):  # each part sums dgamma / dbeta / dbias over its own rows
        for i in range(k * per, min(n_rows, (k + 1) * per)):
            s1 = 0.0
            s2 = 0.0
            for j in range(n_ch):
                xh = xhat[i, j]
                g = dy[i, j]
                dz = g if xh * gamma[j] + beta[j] > 0 else alpha * g
                part_g[k, j] += dz * xh
                part_b[k, j] += dz
                d = dz * gamma[j]
                dh[i, j] = d
                s1 += d
                s2 += d * xh
            m1 = s1 / n_ch
            m2 = s2 / n_ch
            r = rstd[i]
            for j in range(n_ch):
                dh[i, j] = r * (dh[i, j] - m1 - xhat[i, j] * m2)
                part_h[k, j] += dh[i, j]


def norm_act_forward(h, bias, gamma, beta, epsilon: float, alpha: float) -> tuple:
    """See ``layer_norm_reference.norm_act_forward``; ``h`` is overwritten with ``xhat``."""
    y = np.empty_like(h)
    rstd = np.empty(h.shape[0], h.dtype)
    t = h.dtype.type
    _forward_kernel(h, bias, gamma, beta, t(epsilon), t(alpha), y, rstd)
    return y, h, rstd


def norm_act_backward(dy, xhat, rstd, gamma, beta, alpha: float) -> tuple:
    """See ``layer_norm_reference.norm_act_backward``."""
    n_parts = max(1, min(dy.shape[0], 4 * numba.get_num_threads()))
    part_g, part_b, part_h = np.zeros((3, n_parts, dy.shape[1]), np.float64)
    dh = np.empty_like(dy)
    alpha = dy.dtype.type(alpha)
    _backward_kernel(dy, xhat, rstd, gamma, beta, alpha, dh, part_g, part_b, part_h)
    return dh, *(part.sum(axis=0).astype(dy.dtype) for part in (part_h, part_g, part_b))
