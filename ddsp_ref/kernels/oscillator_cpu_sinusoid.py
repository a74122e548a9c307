"""Free-sinusoid kernels on the CPU (numba): each sinusoid has its own float64 phase.

Part of the CPU implementation (re-exported by oscillator_cpu.py, whose helpers it uses). One
parallel task per (batch row, group of frames); per sample, the phases of all sinusoids are
formed from their frame's start phase and evaluated by the vectorised polynomial sincos.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .oscillator_cpu import _combine, _pjit, _sincos, _taps_f, _wrap

__all__ = ["sinusoid_forward", "sinusoid_backward"]

# Carried phases are folded back to [0, 2*pi) once they pass this bound (a floor per term would
# cost more than the sine); float64 keeps them within 1e-13 rad below it.
_FOLD = 1024.0


@_pjit
def _sinusoid_kernel(
    freqs,
    amps,
    pl,
    lo_a,
    w_lo_a,
    w_hi_a,
    groups,
    gseg,
    starts,
    scale,
    nyquist,
    g_audio,
    mode,
    identity,
    out,
    d_lo,
    d_hi,
    u,
    q_lo,
    q_hi,
):  # pragma: no cover - compiled
    """mode 0: forward into ``out``; bit 1: amplitude gradients; bit 2: phase sums.
    ``identity``: sample-rate controls, so the w_hi halves (d_hi, Q) are skipped."""
    batch, n_freq, n_osc = freqs.shape
    n_amp = amps.shape[1]
    n_groups = groups.shape[0] - 1
    lo_f, w_lo_f, w_hi_f, cw_lo_f, cw_hi_f, sw_lo_f, sw_hi_f = pl
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        p_seg = starts[b, g].copy()
        work = np.empty((5, n_osc))
        phi, sin1, cos1, amp, keep = work[0], work[1], work[2], work[3], work[4]
        seg = gseg[g]
        if mode >= 2:
            for s in range(gseg[g], gseg[g + 1]):
                for k in range(n_osc):
                    u[b, s, k] = 0.0
                    if not identity:
                        q_lo[b, s, k] = 0.0
                        q_hi[b, s, k] = 0.0
        for i in range(groups[g], groups[g + 1]):
            while seg < lo_f[i]:  # next frequency frame: add the previous frame's phase
                s1 = min(seg + 1, n_freq - 1)
                for k in range(n_osc):
                    p = p_seg[k] + scale * (
                        freqs[b, seg, k] * sw_lo_f[seg] + freqs[b, s1, k] * sw_hi_f[seg]
                    )
                    p_seg[k] = _wrap(p) if abs(p) > _FOLD else p
                seg += 1
            s1 = min(seg + 1, n_freq - 1)
            la = lo_a[i]
            ha = min(la + 1, n_amp - 1)
            for k in range(n_osc):
                x_lo = freqs[b, seg, k]
                x_hi = freqs[b, s1, k]
                phi[k] = p_seg[k] + scale * (x_lo * cw_lo_f[i] + x_hi * cw_hi_f[i])
                # Silent at or above Nyquist (ddsp's >=; NaN compares False and is kept).
                keep[k] = 0.0 if w_lo_f[i] * x_lo + w_hi_f[i] * x_hi >= nyquist else 1.0
                amp[k] = keep[k] * (w_lo_a[i] * amps[b, la, k] + w_hi_a[i] * amps[b, ha, k])
            _sincos(n_osc, phi, sin1, cos1)
            if mode == 0:
                acc = 0.0
                for k in range(n_osc):
                    acc += amp[k] * sin1[k]
                out[b, i] = acc
                continue
            ga = g_audio[b, i]
            if mode & 1:
                for k in range(n_osc):
                    v = ga * keep[k] * sin1[k]
                    d_lo[b, la, k] += w_lo_a[i] * v
                    if not identity:
                        d_hi[b, la, k] += w_hi_a[i] * v
            if mode & 2:
                for k in range(n_osc):
                    t = ga * amp[k] * cos1[k]
                    u[b, seg, k] += t
                    if not identity:
                        q_lo[b, seg, k] += t * cw_lo_f[i]
                        q_hi[b, seg, k] += t * cw_hi_f[i]


def _run(freqs, amps, plan, starts, scale, nyquist, g_audio, mode, out, d_shape, s_shape):
    batch = freqs.shape[0]
    half = (batch, 0, 0) if plan.identity else None  # unused w_hi halves: empty arrays
    d_lo = np.zeros(d_shape)
    d_hi = np.zeros(half or d_shape)
    u = np.empty(s_shape)
    q_lo, q_hi = np.empty(half or s_shape), np.empty(half or s_shape)
    _sinusoid_kernel(
        freqs,
        amps,
        _taps_f(plan),
        plan.lo_a,
        plan.w_lo_a,
        plan.w_hi_a,
        plan.groups,
        plan.gseg_f,
        starts,
        scale,
        nyquist,
        g_audio,
        mode,
        plan.identity,
        out,
        d_lo,
        d_hi,
        u,
        q_lo,
        q_hi,
    )
    return d_lo, d_hi, u, q_lo, q_hi


def sinusoid_forward(freqs, amps, plan, starts, scale, nyquist):
    """Audio ``[B, N]`` of free sinusoids; ``starts [B, G, K]``."""
    batch = freqs.shape[0]
    out = np.empty((batch, plan.lo_f.shape[0]), dtype=np.result_type(freqs.dtype, amps.dtype))
    empty = (batch, 0, 0)
    _run(freqs, amps, plan, starts, scale, nyquist, out, 0, out, empty, empty)
    return out


def sinusoid_backward(freqs, amps, plan, starts, scale, nyquist, g_audio, need_amps, need_freqs):
    """``(d_amps [B, Fa, K] or None, (U, Q_lo, Q_hi) [B, Ff, K])``, all float64 (Q None for
    identity plans, where Q_lo = U and Q_hi = 0)."""
    batch = freqs.shape[0]
    mode = (1 if need_amps else 0) | (2 if need_freqs else 0)
    if mode == 0:
        return None, None
    d_shape = amps.shape if need_amps else (batch, 0, 0)
    s_shape = freqs.shape if need_freqs else (batch, 0, 0)
    out = np.empty((batch, 0), dtype=np.float64)
    d_lo, d_hi, u, q_lo, q_hi = _run(
        freqs, amps, plan, starts, scale, nyquist, g_audio, mode, out, d_shape, s_shape
    )
    d_amps = None
    if need_amps:
        d_amps = d_lo if plan.identity else _combine(d_lo, d_hi)
    sums = (u, None, None) if plan.identity else (u, q_lo, q_hi)
    return d_amps, sums
