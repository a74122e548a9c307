"""Shared numba CPU helpers of the oscillator kernels: jit settings, vectorised sin/cos, phases.

Imported by oscillator_cpu_harmonic.py and oscillator_cpu_sinusoid.py (first kernel use only:
it imports numba). The scalar maths of oscillator_math.py is compiled here for the CPU.

``sin`` / ``cos`` of whole arrays use a branch-free polynomial (Cody-Waite reduction by pi/2 and
fdlibm's minimax coefficients, error ~2e-16 for |x| < 1e6) that vectorises; libm's scalar
calls cost several times more.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from . import oscillator_math
from .oscillator_plan import amp_tables, freq_tables

__all__ = ["jit", "ijit", "pjit", "wrap", "n_below", "sincos", "group_phase_sums", "combine", "run"]

jit = numba.njit(cache=True, nogil=True, fastmath=False)
# Per-sample helpers of the kernels: inlined in numba's IR (a call per sample that passes
# tuples of arrays costs more than the work it does).
ijit = numba.njit(cache=True, nogil=True, fastmath=False, inline="always")
pjit = numba.njit(parallel=True, cache=True, nogil=True, fastmath=False)

wrap = jit(oscillator_math.wrap)
n_below = jit(oscillator_math.n_below)

# pi/2 split for Cody-Waite reduction (33 + 53 bits) and fdlibm's kernel polynomial
# coefficients of sin and cos on [-pi/4, pi/4].
_TWO_OVER_PI = 2.0 / math.pi
_PIO2_HI = 1.57079632673412561417e00
_PIO2_LO = 6.07710050650619224932e-11
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11


@jit
def sincos(m, phi, sin_out, cos_out):  # pragma: no cover - compiled
    """``sin_out[j], cos_out[j] = sin(phi[j]), cos(phi[j])`` for j < m, branch-free."""
    for j in range(m):
        x = phi[j]
        q = math.floor(x * _TWO_OVER_PI + 0.5)
        r = (x - q * _PIO2_HI) - q * _PIO2_LO  # |r| <= pi/4, x = r + q * pi/2
        z = r * r
        s = r + r * z * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
        c = 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
        quad = np.int64(q)
        odd = (quad & 1) == 1
        sin_out[j] = (c if odd else s) * (1.0 - 2.0 * ((quad >> 1) & 1))
        cos_out[j] = (s if odd else c) * (1.0 - 2.0 * (((quad + 1) >> 1) & 1))


@jit
def _group_sums_kernel(x, sw_lo, sw_hi, gseg, scale, out):  # pragma: no cover - compiled
    # Serial on purpose: O(frames) work, less than the wake-up of a parallel region.
    batch, n_frames, n_osc = x.shape
    n_groups = gseg.shape[0] - 1
    for task in range(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        for k in range(n_osc):
            out[b, g, k] = 0.0
        for s in range(gseg[g], gseg[g + 1]):
            s1 = min(s + 1, n_frames - 1)
            for k in range(n_osc):
                out[b, g, k] += scale * (x[b, s, k] * sw_lo[s] + x[b, s1, k] * sw_hi[s])


def group_phase_sums(x, plan, scale):
    """Phase increment [rad] of every group, float64 ``[B, G, K]``, from ``x [B, Ff, K]``."""
    out = np.empty((x.shape[0], plan.groups.shape[0] - 1, x.shape[2]), dtype=np.float64)
    _group_sums_kernel(x, plan.sw_lo_f, plan.sw_hi_f, plan.gseg_f, scale, out)
    return out


def combine(d_lo, d_hi):
    """Frame f gets its own w_lo share and the w_hi share of frame f - 1 (and the last frame
    its own w_hi share: hi = min(lo + 1, F - 1))."""
    d_lo[:, 1:] += d_hi[:, :-1]
    d_lo[:, -1] += d_hi[:, -1]
    return d_lo


def run(kernel, block, *outputs):
    """``kernel(freqs, amps, freq tables, amp tables, groups, gseg, starts, scale, nyquist,
    *outputs)``: the one argument order of every CPU oscillator kernel, from a Block."""
    plan = block.plan
    kernel(
        block.freqs,
        block.amps,
        freq_tables(plan),
        amp_tables(plan),
        plan.groups,
        plan.gseg_f,
        block.starts,
        block.scale,
        block.nyquist,
        *outputs,
    )
