"""Fused oscillator banks as numba CPU kernels (parallel over batch rows and groups of frames).

Imported by the launcher on first use only (it imports numba). Each parallel task renders one
group of whole frames of one batch row (see oscillator.py for plans and groups), so it writes
its own output samples and its own rows of the frame-rate gradients: no races, no atomics.

Harmonic kernels evaluate ``sin(k phi)`` and ``cos(k phi)`` by the Chebyshev recurrence
``s_{k+1} = 2 cos(phi) s_k - s_{k-1}`` in float64 (two flops per term instead of a sine), over
blocks of up to ``_BLOCK`` samples of one amplitude frame so that the inner loop runs over
independent samples (vectorisable). The recurrence's rounding grows like ``k**2 * 1e-16``: below
1e-11 for 100 harmonics.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

__all__ = [
    "group_phase_sums",
    "harmonic_forward",
    "harmonic_backward",
    "sinusoid_forward",
    "sinusoid_backward",
]

_TWO_PI = 2.0 * math.pi
_BLOCK = 64  # samples per inner block (a frame at ddsp's default hop of 64)

_jit = numba.njit(cache=True, nogil=True, fastmath=False)
_pjit = numba.njit(parallel=True, cache=True, nogil=True, fastmath=False)


@_jit
def _wrap(phase):  # pragma: no cover - compiled
    return phase - _TWO_PI * math.floor(phase / _TWO_PI)


@_jit
def _n_below(freq, nyquist, n):  # pragma: no cover - compiled
    """Number of harmonics k in 1..n with ``k * freq < nyquist`` (ddsp silences ``>=``)."""
    if not freq > 0.0 or nyquist == math.inf:
        return n
    m = int(min(nyquist / freq, n + 1.0))
    while m > 0 and m * freq >= nyquist:
        m -= 1
    while m < n and (m + 1) * freq < nyquist:
        m += 1
    return min(m, n)


@_pjit
def _group_sums_kernel(x, plan_f, sw_lo, sw_hi, gseg, scale, out):  # pragma: no cover
    batch, n_frames, n_osc = x.shape
    n_groups = gseg.shape[0] - 1
    for task in prange(batch * n_groups):
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
    _group_sums_kernel(x, plan.lo_f, plan.sw_lo_f, plan.sw_hi_f, plan.gseg_f, scale, out)
    return out


# -- harmonic bank: per-block helpers -------------------------------------------------------------
@_jit
def _advance(f0, b, seg, target, p_seg, sw_lo, sw_hi, scale):  # pragma: no cover - compiled
    """Phase at the start of frequency frame ``target``, from that of frame ``seg``."""
    last = f0.shape[1] - 1
    while seg < target:
        p_seg = _wrap(p_seg + scale * (f0[b, seg] * sw_lo[seg]
                                       + f0[b, min(seg + 1, last)] * sw_hi[seg]))
        seg += 1
    return seg, p_seg


@_jit
def _block_setup(f0, b, n, m, seg, p_seg, pl, scale, nyquist, n_harm, c2, sin1, cos1,
                 kmax):  # pragma: no cover - compiled
    """Per-sample phase, 2 cos(phi), sin(phi), cos(phi) and Nyquist count of a block."""
    lo_f, w_lo_f, w_hi_f, cw_lo_f, cw_hi_f, sw_lo_f, sw_hi_f = pl
    last = f0.shape[1] - 1
    k_hi = 0
    for j in range(m):
        i = n + j
        seg, p_seg = _advance(f0, b, seg, lo_f[i], p_seg, sw_lo_f, sw_hi_f, scale)
        x_lo = f0[b, seg]
        x_hi = f0[b, min(seg + 1, last)]
        phi = p_seg + scale * (x_lo * cw_lo_f[i] + x_hi * cw_hi_f[i])
        km = _n_below(w_lo_f[i] * x_lo + w_hi_f[i] * x_hi, nyquist, n_harm)
        kmax[j] = km
        k_hi = max(k_hi, km)
        sin1[j] = math.sin(phi)
        cos1[j] = math.cos(phi)
        c2[j] = 2.0 * cos1[j]
    return seg, p_seg, k_hi


@_jit
def _sin_sums(m, k_hi, kmax, c2, sin1, row_lo, row_hi, acc_lo, acc_hi, prev,
              cur):  # pragma: no cover - compiled
    """acc_lo[j] = sum_k row_lo[k] sin((k+1) phi_j) (masked), same for row_hi."""
    for j in range(m):
        acc_lo[j] = 0.0
        acc_hi[j] = 0.0
        prev[j] = 0.0
        cur[j] = sin1[j]
    for k in range(k_hi):
        a_lo = np.float64(row_lo[k])
        a_hi = np.float64(row_hi[k])
        for j in range(m):
            s = cur[j]
            v = s if k < kmax[j] else 0.0
            acc_lo[j] += a_lo * v
            acc_hi[j] += a_hi * v
            cur[j] = c2[j] * s - prev[j]
            prev[j] = s


@_jit
def _sin_grads(m, k_hi, kmax, c2, sin1, g_lo, g_hi, d_lo, d_hi, prev,
               cur):  # pragma: no cover - compiled
    """d_lo[k] += sum_j g_lo[j] sin((k+1) phi_j) (masked), same for d_hi."""
    for j in range(m):
        prev[j] = 0.0
        cur[j] = sin1[j]
    for k in range(k_hi):
        # Four partial sums: independent add chains without reassociating a single sum.
        s0 = s1 = s2 = s3 = 0.0
        h0 = h1 = h2 = h3 = 0.0
        j = 0
        while j + 4 <= m:
            v0 = cur[j] if k < kmax[j] else 0.0
            v1 = cur[j + 1] if k < kmax[j + 1] else 0.0
            v2 = cur[j + 2] if k < kmax[j + 2] else 0.0
            v3 = cur[j + 3] if k < kmax[j + 3] else 0.0
            s0 += g_lo[j] * v0
            s1 += g_lo[j + 1] * v1
            s2 += g_lo[j + 2] * v2
            s3 += g_lo[j + 3] * v3
            h0 += g_hi[j] * v0
            h1 += g_hi[j + 1] * v1
            h2 += g_hi[j + 2] * v2
            h3 += g_hi[j + 3] * v3
            j += 4
        while j < m:
            v0 = cur[j] if k < kmax[j] else 0.0
            s0 += g_lo[j] * v0
            h0 += g_hi[j] * v0
            j += 1
        d_lo[k] += (s0 + s1) + (s2 + s3)
        d_hi[k] += (h0 + h1) + (h2 + h3)
        for j in range(m):
            s = cur[j]
            cur[j] = c2[j] * s - prev[j]
            prev[j] = s


@_jit
def _cos_sums(m, k_hi, kmax, c2, cos1, row_lo, row_hi, acc_lo, acc_hi, prev,
              cur):  # pragma: no cover - compiled
    """acc_lo[j] = sum_k (k+1) row_lo[k] cos((k+1) phi_j) (masked), same for row_hi."""
    for j in range(m):
        acc_lo[j] = 0.0
        acc_hi[j] = 0.0
        prev[j] = 1.0
        cur[j] = cos1[j]
    for k in range(k_hi):
        a_lo = (k + 1.0) * row_lo[k]
        a_hi = (k + 1.0) * row_hi[k]
        for j in range(m):
            c = cur[j]
            v = c if k < kmax[j] else 0.0
            acc_lo[j] += a_lo * v
            acc_hi[j] += a_hi * v
            cur[j] = c2[j] * c - prev[j]
            prev[j] = c


# -- harmonic bank: kernels -----------------------------------------------------------------------
@_pjit
def _harmonic_forward_kernel(f0, amps, pl, lo_a, w_lo_a, w_hi_a, seg_a, groups, gseg, starts,
                             scale, nyquist, out):  # pragma: no cover - compiled
    batch = f0.shape[0]
    n_amp, n_harm = amps.shape[1], amps.shape[2]
    n_groups = groups.shape[0] - 1
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        c2, sin1, cos1 = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
        acc_lo, acc_hi = np.empty(_BLOCK), np.empty(_BLOCK)
        prev, cur = np.empty(_BLOCK), np.empty(_BLOCK)
        kmax = np.empty(_BLOCK, dtype=np.int64)
        seg, p_seg = gseg[g], starts[b, g]
        n = groups[g]
        while n < groups[g + 1]:
            la = lo_a[n]
            m = min(_BLOCK, groups[g + 1] - n, seg_a[la + 1] - n)
            seg, p_seg, k_hi = _block_setup(f0, b, n, m, seg, p_seg, pl, scale, nyquist,
                                            n_harm, c2, sin1, cos1, kmax)
            _sin_sums(m, k_hi, kmax, c2, sin1, amps[b, la], amps[b, min(la + 1, n_amp - 1)],
                      acc_lo, acc_hi, prev, cur)
            for j in range(m):
                out[b, n + j] = w_lo_a[n + j] * acc_lo[j] + w_hi_a[n + j] * acc_hi[j]
            n += m


@_pjit
def _harmonic_backward_kernel(f0, amps, pl, lo_a, w_lo_a, w_hi_a, seg_a, groups, gseg, starts,
                              scale, nyquist, g_audio, need_amps, need_phase, d_lo, d_hi, u,
                              q_lo, q_hi):  # pragma: no cover - compiled
    batch = f0.shape[0]
    n_amp, n_harm = amps.shape[1], amps.shape[2]
    n_groups = groups.shape[0] - 1
    lo_f, cw_lo_f, cw_hi_f = pl[0], pl[3], pl[4]
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        c2, sin1, cos1 = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
        g_lo, g_hi = np.empty(_BLOCK), np.empty(_BLOCK)
        acc_lo, acc_hi = np.empty(_BLOCK), np.empty(_BLOCK)
        prev, cur = np.empty(_BLOCK), np.empty(_BLOCK)
        kmax = np.empty(_BLOCK, dtype=np.int64)
        seg, p_seg = gseg[g], starts[b, g]
        for s in range(gseg[g], gseg[g + 1]):
            u[b, s] = 0.0
            q_lo[b, s] = 0.0
            q_hi[b, s] = 0.0
        n = groups[g]
        while n < groups[g + 1]:
            la = lo_a[n]
            ha = min(la + 1, n_amp - 1)
            m = min(_BLOCK, groups[g + 1] - n, seg_a[la + 1] - n)
            seg, p_seg, k_hi = _block_setup(f0, b, n, m, seg, p_seg, pl, scale, nyquist,
                                            n_harm, c2, sin1, cos1, kmax)
            for j in range(m):
                g_lo[j] = g_audio[b, n + j] * w_lo_a[n + j]
                g_hi[j] = g_audio[b, n + j] * w_hi_a[n + j]
            if need_amps:
                _sin_grads(m, k_hi, kmax, c2, sin1, g_lo, g_hi, d_lo[b, la], d_hi[b, la],
                           prev, cur)
            if need_phase:
                _cos_sums(m, k_hi, kmax, c2, cos1, amps[b, la], amps[b, ha], acc_lo, acc_hi,
                          prev, cur)
                for j in range(m):
                    i = n + j
                    t = g_lo[j] * acc_lo[j] + g_hi[j] * acc_hi[j]
                    s = lo_f[i]
                    u[b, s] += t
                    q_lo[b, s] += t * cw_lo_f[i]
                    q_hi[b, s] += t * cw_hi_f[i]
            n += m


def _taps_f(plan):
    return (plan.lo_f, plan.w_lo_f, plan.w_hi_f, plan.cw_lo_f, plan.cw_hi_f, plan.sw_lo_f,
            plan.sw_hi_f)


def harmonic_forward(f0, amps, plan, starts, scale, nyquist):
    """Audio ``[B, N]`` (dtype of the controls) of the harmonic bank; ``starts [B, G]``."""
    dtype = np.result_type(f0.dtype, amps.dtype)
    out = np.empty((f0.shape[0], plan.lo_f.shape[0]), dtype=dtype)
    _harmonic_forward_kernel(f0, amps, _taps_f(plan), plan.lo_a, plan.w_lo_a, plan.w_hi_a,
                             plan.seg_a, plan.groups, plan.gseg_f, starts, scale, nyquist, out)
    return out


def harmonic_backward(f0, amps, plan, starts, scale, nyquist, g_audio, need_amps, need_phase):
    """``(d_amps [B, Fa, H] or None, (U, Q_lo, Q_hi) [B, Ff] each)``, all float64."""
    batch, n_freq = f0.shape
    d_lo = np.zeros(amps.shape if need_amps else (batch, amps.shape[1], 0))
    d_hi = np.zeros_like(d_lo)
    u, q_lo, q_hi = (np.empty((batch, n_freq)) for _ in range(3))
    _harmonic_backward_kernel(f0, amps, _taps_f(plan), plan.lo_a, plan.w_lo_a, plan.w_hi_a,
                              plan.seg_a, plan.groups, plan.gseg_f, starts, scale, nyquist,
                              g_audio, need_amps, need_phase, d_lo, d_hi, u, q_lo, q_hi)
    d_amps = None
    if need_amps:  # frame f gets its own w_lo share and the w_hi share of frame f - 1
        d_amps = d_lo
        d_amps[:, 1:] += d_hi[:, :-1]
        d_amps[:, -1] += d_hi[:, -1]
    return d_amps, (u, q_lo, q_hi)


# -- free sinusoids -------------------------------------------------------------------------------
@_jit
def _advance_all(x, b, seg, target, p_seg, sw_lo, sw_hi, scale):  # pragma: no cover - compiled
    last = x.shape[1] - 1
    while seg < target:
        s1 = min(seg + 1, last)
        for k in range(x.shape[2]):
            p_seg[k] = _wrap(p_seg[k] + scale * (x[b, seg, k] * sw_lo[seg]
                                                 + x[b, s1, k] * sw_hi[seg]))
        seg += 1
    return seg


@_pjit
def _sinusoid_kernel(freqs, amps, pl, lo_a, w_lo_a, w_hi_a, groups, gseg, starts, scale,
                     nyquist, g_audio, mode, out, d_lo, d_hi, u, q_lo, q_hi):  # pragma: no cover
    """mode 0: forward into ``out``; 1: amplitude grads; 2: phase sums; 3: both."""
    batch, n_freq, n_osc = freqs.shape
    n_amp = amps.shape[1]
    n_groups = groups.shape[0] - 1
    lo_f, w_lo_f, w_hi_f, cw_lo_f, cw_hi_f, sw_lo_f, sw_hi_f = pl
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        p_seg = starts[b, g].copy()
        seg = gseg[g]
        if mode >= 2:
            for s in range(gseg[g], gseg[g + 1]):
                for k in range(n_osc):
                    u[b, s, k] = 0.0
                    q_lo[b, s, k] = 0.0
                    q_hi[b, s, k] = 0.0
        for i in range(groups[g], groups[g + 1]):
            seg = _advance_all(freqs, b, seg, lo_f[i], p_seg, sw_lo_f, sw_hi_f, scale)
            s1 = min(seg + 1, n_freq - 1)
            la = lo_a[i]
            ha = min(la + 1, n_amp - 1)
            acc = 0.0
            for k in range(n_osc):
                x_lo = freqs[b, seg, k]
                x_hi = freqs[b, s1, k]
                if w_lo_f[i] * x_lo + w_hi_f[i] * x_hi >= nyquist:
                    continue  # silent at or above Nyquist (ddsp's >=)
                phi = p_seg[k] + scale * (x_lo * cw_lo_f[i] + x_hi * cw_hi_f[i])
                if mode == 0:
                    acc += (w_lo_a[i] * amps[b, la, k] + w_hi_a[i] * amps[b, ha, k]) * math.sin(phi)
                    continue
                ga = g_audio[b, i]
                if mode & 1:
                    s = ga * math.sin(phi)
                    d_lo[b, la, k] += w_lo_a[i] * s
                    d_hi[b, la, k] += w_hi_a[i] * s
                if mode & 2:
                    a = w_lo_a[i] * amps[b, la, k] + w_hi_a[i] * amps[b, ha, k]
                    t = ga * a * math.cos(phi)
                    u[b, seg, k] += t
                    q_lo[b, seg, k] += t * cw_lo_f[i]
                    q_hi[b, seg, k] += t * cw_hi_f[i]
            if mode == 0:
                out[b, i] = acc


def _run_sinusoids(freqs, amps, plan, starts, scale, nyquist, g_audio, mode, out, d_shape,
                   s_shape):
    d_lo, d_hi = np.zeros(d_shape), np.zeros(d_shape)
    u, q_lo, q_hi = (np.empty(s_shape) for _ in range(3))
    _sinusoid_kernel(freqs, amps, _taps_f(plan), plan.lo_a, plan.w_lo_a, plan.w_hi_a,
                     plan.groups, plan.gseg_f, starts, scale, nyquist, g_audio, mode, out, d_lo,
                     d_hi, u, q_lo, q_hi)
    return d_lo, d_hi, (u, q_lo, q_hi)


def sinusoid_forward(freqs, amps, plan, starts, scale, nyquist):
    """Audio ``[B, N]`` of free sinusoids; ``starts [B, G, K]``."""
    batch = freqs.shape[0]
    out = np.empty((batch, plan.lo_f.shape[0]), dtype=np.result_type(freqs.dtype, amps.dtype))
    empty = (batch, 0, 0)
    _run_sinusoids(freqs, amps, plan, starts, scale, nyquist, out, 0, out, empty, empty)
    return out


def sinusoid_backward(freqs, amps, plan, starts, scale, nyquist, g_audio, need_amps,
                      need_freqs):
    """``(d_amps [B, Fa, K] or None, (U, Q_lo, Q_hi) [B, Ff, K])``, all float64."""
    batch = freqs.shape[0]
    mode = (1 if need_amps else 0) | (2 if need_freqs else 0)
    if mode == 0:
        return None, None
    d_shape = amps.shape if need_amps else (batch, 0, 0)
    s_shape = freqs.shape if need_freqs else (batch, 0, 0)
    out = np.empty((batch, 0), dtype=np.float64)
    d_lo, d_hi, sums = _run_sinusoids(freqs, amps, plan, starts, scale, nyquist, g_audio, mode,
                                      out, d_shape, s_shape)
    d_amps = None
    if need_amps:
        d_amps = d_lo
        d_amps[:, 1:] += d_hi[:, :-1]
        d_amps[:, -1] += d_hi[:, -1]
    return d_amps, sums
