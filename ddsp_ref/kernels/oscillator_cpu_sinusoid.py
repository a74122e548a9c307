"""Free-sinusoid bank as numba CPU kernels: each sinusoid has its own float64 phase.

One parallel task per (batch row, group of frames); per sample, the phases of all sinusoids are
formed from their frame's start phase and evaluated by the vectorised polynomial sincos.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .oscillator_cpu_math import combine, ijit, pjit, run, sincos, wrap

__all__ = ["sinusoid_forward", "sinusoid_backward"]

# Carried phases are folded back to [0, 2*pi) once they pass this bound (a floor per term would
# cost more than the sine); float64 keeps them within 1e-13 rad below it.
_FOLD = 1024.0


@ijit
def _advance(freqs, b, seg, target, p_seg, pl, scale):  # pragma: no cover - compiled
    """Add the phase of whole frequency frames ``seg .. target - 1`` to ``p_seg``; -> target."""
    sw_lo_f, sw_hi_f = pl[5], pl[6]
    n_freq = freqs.shape[1]
    while seg < target:
        s1 = min(seg + 1, n_freq - 1)
        for k in range(freqs.shape[2]):
            step = freqs[b, seg, k] * sw_lo_f[seg] + freqs[b, s1, k] * sw_hi_f[seg]
            p = p_seg[k] + scale * step
            p_seg[k] = wrap(p) if abs(p) > _FOLD else p
        seg += 1
    return seg


@ijit
def _sample_terms(
    freqs, amps, b, i, seg, p_seg, pl, pa, scale, nyquist, phi, keep, amp
):  # pragma: no cover - compiled
    """Phases ``phi [K]``, Nyquist mask ``keep [K]`` and masked amplitudes ``amp [K]`` of
    sample ``i`` (in frequency frame ``seg``, whose start phases are ``p_seg``)."""
    w_lo_f, w_hi_f, cw_lo_f, cw_hi_f = pl[1], pl[2], pl[3], pl[4]
    lo_a, w_lo_a, w_hi_a = pa[0], pa[1], pa[2]
    s1 = min(seg + 1, freqs.shape[1] - 1)
    la = lo_a[i]
    ha = min(la + 1, amps.shape[1] - 1)
    for k in range(freqs.shape[2]):
        x_lo = freqs[b, seg, k]
        x_hi = freqs[b, s1, k]
        phi[k] = p_seg[k] + scale * (x_lo * cw_lo_f[i] + x_hi * cw_hi_f[i])
        # Silent at or above Nyquist (ddsp's >=; NaN compares False and is kept).
        keep[k] = 0.0 if w_lo_f[i] * x_lo + w_hi_f[i] * x_hi >= nyquist else 1.0
        amp[k] = keep[k] * (w_lo_a[i] * amps[b, la, k] + w_hi_a[i] * amps[b, ha, k])


@pjit
def _forward_kernel(
    freqs, amps, pl, pa, groups, gseg, starts, scale, nyquist, out
):  # pragma: no cover - compiled
    batch, _, n_osc = freqs.shape
    n_groups = groups.shape[0] - 1
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        p_seg = starts[b, g].copy()
        work = np.empty((5, n_osc))
        phi, sin1, cos1, amp, keep = work[0], work[1], work[2], work[3], work[4]
        seg = gseg[g]
        for i in range(groups[g], groups[g + 1]):
            seg = _advance(freqs, b, seg, pl[0][i], p_seg, pl, scale)
            _sample_terms(freqs, amps, b, i, seg, p_seg, pl, pa, scale, nyquist, phi, keep, amp)
            sincos(n_osc, phi, sin1, cos1)
            acc = 0.0
            for k in range(n_osc):
                acc += amp[k] * sin1[k]
            out[b, i] = acc


@pjit
def _backward_kernel(
    freqs, amps, pl, pa, groups, gseg, starts, scale, nyquist, g_audio, need, grads, sums
):  # pragma: no cover - compiled
    """``need = (amplitudes, phase, identity)`` (identity: sample-rate controls, so the w_hi
    halves d_hi and Q are skipped); ``grads = (d_lo, d_hi)``; ``sums = (U, Q_lo, Q_hi)``."""
    batch, _, n_osc = freqs.shape
    n_groups = groups.shape[0] - 1
    need_amps, need_phase, identity = need
    d_lo, d_hi = grads
    u, q_lo, q_hi = sums
    lo_f, cw_lo_f, cw_hi_f = pl[0], pl[3], pl[4]
    w_lo_a, w_hi_a = pa[1], pa[2]
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        p_seg = starts[b, g].copy()
        work = np.empty((5, n_osc))
        phi, sin1, cos1, amp, keep = work[0], work[1], work[2], work[3], work[4]
        seg = gseg[g]
        for s in range(gseg[g], gseg[g + 1] if need_phase else gseg[g]):
            for k in range(n_osc):
                u[b, s, k] = 0.0
                if not identity:
                    q_lo[b, s, k] = 0.0
                    q_hi[b, s, k] = 0.0
        for i in range(groups[g], groups[g + 1]):
            seg = _advance(freqs, b, seg, lo_f[i], p_seg, pl, scale)
            _sample_terms(freqs, amps, b, i, seg, p_seg, pl, pa, scale, nyquist, phi, keep, amp)
            sincos(n_osc, phi, sin1, cos1)
            ga = g_audio[b, i]
            la = pa[0][i]
            if need_amps:
                for k in range(n_osc):
                    v = ga * keep[k] * sin1[k]
                    d_lo[b, la, k] += w_lo_a[i] * v
                    if not identity:
                        d_hi[b, la, k] += w_hi_a[i] * v
            if need_phase:
                for k in range(n_osc):
                    t = ga * amp[k] * cos1[k]
                    u[b, seg, k] += t
                    if not identity:
                        q_lo[b, seg, k] += t * cw_lo_f[i]
                        q_hi[b, seg, k] += t * cw_hi_f[i]


def sinusoid_forward(block):
    """Audio ``[B, N]`` (float64) of free sinusoids of a :class:`Block` (``starts [B, G, K]``)."""
    plan = block.plan
    out = np.empty((block.freqs.shape[0], plan.lo_f.shape[0]), dtype=np.float64)
    run(_forward_kernel, block, out)
    return out


def sinusoid_backward(block, g_audio, need_amps, need_phase):
    """``(d_amps [B, Fa, K] or None, (U, Q_lo, Q_hi) [B, Ff, K] or None)``, all float64 (Q
    None for identity plans, where Q_lo = U and Q_hi = 0)."""
    freqs, amps, plan = block.freqs, block.amps, block.plan
    empty = (freqs.shape[0], 0, 0)
    d_shape = amps.shape if need_amps else empty
    s_shape = freqs.shape if need_phase else empty
    half_d = empty if plan.identity else d_shape  # unused w_hi halves: empty arrays
    half_s = empty if plan.identity else s_shape
    d_lo, d_hi = np.zeros(d_shape), np.zeros(half_d)
    sums = (np.empty(s_shape), np.empty(half_s), np.empty(half_s))
    need = (bool(need_amps), bool(need_phase), bool(plan.identity))
    run(_backward_kernel, block, g_audio, need, (d_lo, d_hi), sums)
    d_amps = None
    if need_amps:
        d_amps = d_lo if plan.identity else combine(d_lo, d_hi)
    if not need_phase:
        return d_amps, None
    return d_amps, ((sums[0], None, None) if plan.identity else sums)
