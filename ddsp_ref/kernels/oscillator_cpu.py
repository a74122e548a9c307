"""Fused oscillator banks as numba CPU kernels (parallel over batch rows and groups of frames).

This file holds the shared helpers and the harmonic kernels; oscillator_cpu_sinusoid.py the
free-sinusoid kernels (re-exported here: the launcher sees one module).

Imported by the launcher on first use only (it imports numba). Each parallel task renders one
group of whole frames of one batch row (see oscillator.py for plans and groups), so it writes
its own output samples and its own rows of the frame-rate gradients: no races, no atomics.

Harmonic kernels evaluate ``sin(k phi)`` and ``cos(k phi)`` by the Chebyshev recurrence
``s_{k+1} = 2 cos(phi) s_k - s_{k-1}`` in float64 (two flops per term instead of a sine; its
rounding grows like ``k**2 * 1e-16``, below 1e-11 for 100 harmonics). The recurrence runs over
fixed-size blocks of ``_BLOCK`` samples that share one amplitude frame, so the inner loop is over
independent samples with a constant trip count, which LLVM vectorises. Frames shorter than
``_SHORT`` samples (sample-rate controls) take a per-sample path instead.

``sin`` / ``cos`` of whole arrays use a branch-free polynomial (Cody-Waite reduction by pi/2 and
fdlibm's minimax coefficients, error ~2e-16 for |x| < 1e6) that also vectorises; libm's scalar
calls cost several times more.
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

# Plans for this module use coarse groups of frames (oscillator.make_plan).
GROUP_PER_FRAME = False

_TWO_PI = 2.0 * math.pi
_BLOCK = 64  # samples per vector block (one frame at ddsp's default hop of 64)
_SHORT = 8  # amplitude frames shorter than this take the per-sample path

# pi/2 split for Cody-Waite reduction (33 + 53 bits) and fdlibm's kernel polynomial
# coefficients of sin and cos on [-pi/4, pi/4].
_TWO_OVER_PI = 2.0 / math.pi
_PIO2_HI = 1.57079632673412561417e00
_PIO2_LO = 6.07710050650619224932e-11
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11

_jit = numba.njit(cache=True, nogil=True, fastmath=False)
_pjit = numba.njit(parallel=True, cache=True, nogil=True, fastmath=False)


# -- scalar and array helpers ---------------------------------------------------------------------
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


@_jit
def _sincos(m, phi, sin_out, cos_out):  # pragma: no cover - compiled
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


@_jit
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


# -- harmonic bank: block helpers -----------------------------------------------------------------
@_jit
def _block_phases(
    f0, b, n, m, seg, p_seg, pl, scale, nyquist, n_harm, phi, kmax
):  # pragma: no cover - compiled
    """Phases and Nyquist counts of samples n..n+m-1; zero-padded to _BLOCK. Returns the
    frequency frame, its start phase and the largest count."""
    lo_f, w_lo_f, w_hi_f, cw_lo_f, cw_hi_f, sw_lo_f, sw_hi_f = pl
    last = f0.shape[1] - 1
    k_hi = 0
    for j in range(m):
        i = n + j
        while seg < lo_f[i]:  # next frequency frame: add the whole previous frame's phase
            p_seg = _wrap(
                p_seg
                + scale * (f0[b, seg] * sw_lo_f[seg] + f0[b, min(seg + 1, last)] * sw_hi_f[seg])
            )
            seg += 1
        x_lo = np.float64(f0[b, seg])
        x_hi = np.float64(f0[b, min(seg + 1, last)])
        phi[j] = p_seg + scale * (x_lo * cw_lo_f[i] + x_hi * cw_hi_f[i])
        kmax[j] = _n_below(w_lo_f[i] * x_lo + w_hi_f[i] * x_hi, nyquist, n_harm)
        k_hi = max(k_hi, kmax[j])
    for j in range(m, _BLOCK):
        phi[j] = 0.0
        kmax[j] = 0
    return seg, p_seg, k_hi


@_jit
def _harmonic_sums(
    k_hi, kmax, c2, first, k_weight, row_lo, row_hi, acc_lo, acc_hi, prev, cur
):  # pragma: no cover - compiled
    """``acc[j] = sum_k w_k row[k] T_k(phi_j)`` over one block, masked by ``kmax``.

    ``first = sin(phi)`` gives ``T_k = sin(k phi)`` (``prev`` starts at sin 0 = 0); the caller
    passes ``cos(phi)`` and sets ``prev`` to 1 for ``T_k = cos(k phi)``. ``w_k = k`` if
    ``k_weight`` else 1.
    """
    for j in range(_BLOCK):
        acc_lo[j] = 0.0
        acc_hi[j] = 0.0
        cur[j] = first[j]
    for k in range(k_hi):
        w = k + 1.0 if k_weight else 1.0
        a_lo = w * row_lo[k]
        a_hi = w * row_hi[k]
        for j in range(_BLOCK):
            t = cur[j]
            v = t if k < kmax[j] else 0.0
            acc_lo[j] += a_lo * v
            acc_hi[j] += a_hi * v
            cur[j] = c2[j] * t - prev[j]
            prev[j] = t


@_jit
def _sin_table(k_hi, kmax, c2, sin1, prev, cur, table):  # pragma: no cover - compiled
    """``table[k, j] = sin((k+1) phi_j)`` masked by ``kmax``, for k < k_hi."""
    for j in range(_BLOCK):
        prev[j] = 0.0
        cur[j] = sin1[j]
    for k in range(k_hi):
        for j in range(_BLOCK):
            t = cur[j]
            table[k, j] = t if k < kmax[j] else 0.0
            cur[j] = c2[j] * t - prev[j]
            prev[j] = t


@_jit
def _table_dot(k_hi, table, g_lo, g_hi, d_lo, d_hi):  # pragma: no cover - compiled
    """``d_lo[k] += sum_j g_lo[j] table[k, j]`` (and d_hi), four partial sums per row."""
    for k in range(k_hi):
        s0 = s1 = s2 = s3 = 0.0
        h0 = h1 = h2 = h3 = 0.0
        for j in range(0, _BLOCK, 4):
            t0, t1, t2, t3 = table[k, j], table[k, j + 1], table[k, j + 2], table[k, j + 3]
            s0 += g_lo[j] * t0
            s1 += g_lo[j + 1] * t1
            s2 += g_lo[j + 2] * t2
            s3 += g_lo[j + 3] * t3
            h0 += g_hi[j] * t0
            h1 += g_hi[j + 1] * t1
            h2 += g_hi[j + 2] * t2
            h3 += g_hi[j + 3] * t3
        d_lo[k] += (s0 + s1) + (s2 + s3)
        d_hi[k] += (h0 + h1) + (h2 + h3)


@_jit
def _sample_sums(kmax, c2, first, prev0, k_weight, row_lo, row_hi):  # pragma: no cover
    """Per-sample path of :func:`_harmonic_sums` (one sample, scalar recurrence)."""
    acc_lo = acc_hi = 0.0
    prev, cur = prev0, first
    for k in range(kmax):
        w = k + 1.0 if k_weight else 1.0
        acc_lo += w * row_lo[k] * cur
        acc_hi += w * row_hi[k] * cur
        prev, cur = cur, c2 * cur - prev
    return acc_lo, acc_hi


@_jit
def _sample_grads(kmax, c2, sin1, g_lo, g_hi, d_lo, d_hi):  # pragma: no cover - compiled
    prev, cur = 0.0, sin1
    for k in range(kmax):
        d_lo[k] += g_lo * cur
        d_hi[k] += g_hi * cur
        prev, cur = cur, c2 * cur - prev


@_jit
def _scratch(n_harm):  # pragma: no cover - compiled
    return np.empty((10, _BLOCK)), np.empty(_BLOCK, dtype=np.int64), np.empty((n_harm, _BLOCK))


# -- harmonic bank: kernels -----------------------------------------------------------------------
@_pjit
def _harmonic_forward_kernel(
    f0, amps, pl, lo_a, w_lo_a, w_hi_a, seg_a, groups, gseg, starts, scale, nyquist, out
):  # pragma: no cover - compiled
    batch = f0.shape[0]
    n_amp, n_harm = amps.shape[1], amps.shape[2]
    n_groups = groups.shape[0] - 1
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        work, kmax, _ = _scratch(0)
        phi, sin1, cos1, c2, acc_lo, acc_hi, prev, cur = (
            work[0],
            work[1],
            work[2],
            work[3],
            work[4],
            work[5],
            work[6],
            work[7],
        )
        seg, p_seg = gseg[g], starts[b, g]
        n, end = groups[g], groups[g + 1]
        while n < end:
            la = lo_a[n]
            seg_end = min(seg_a[la + 1], end)
            vector = seg_end - n >= _SHORT  # else short frames: per-sample rows
            m = min(_BLOCK, (seg_end if vector else end) - n)
            seg, p_seg, k_hi = _block_phases(
                f0, b, n, m, seg, p_seg, pl, scale, nyquist, n_harm, phi, kmax
            )
            _sincos(_BLOCK, phi, sin1, cos1)
            for j in range(_BLOCK):
                c2[j] = 2.0 * cos1[j]
                prev[j] = 0.0
            if vector:
                _harmonic_sums(
                    k_hi,
                    kmax,
                    c2,
                    sin1,
                    False,
                    amps[b, la],
                    amps[b, min(la + 1, n_amp - 1)],
                    acc_lo,
                    acc_hi,
                    prev,
                    cur,
                )
            else:
                for j in range(m):
                    lj = lo_a[n + j]
                    acc_lo[j], acc_hi[j] = _sample_sums(
                        kmax[j],
                        c2[j],
                        sin1[j],
                        0.0,
                        False,
                        amps[b, lj],
                        amps[b, min(lj + 1, n_amp - 1)],
                    )
            for j in range(m):
                out[b, n + j] = w_lo_a[n + j] * acc_lo[j] + w_hi_a[n + j] * acc_hi[j]
            n += m


@_pjit
def _harmonic_backward_kernel(
    f0,
    amps,
    pl,
    lo_a,
    w_lo_a,
    w_hi_a,
    seg_a,
    groups,
    gseg,
    starts,
    scale,
    nyquist,
    g_audio,
    need_amps,
    need_phase,
    d_lo,
    d_hi,
    u,
    q_lo,
    q_hi,
):  # pragma: no cover - compiled
    batch = f0.shape[0]
    n_amp, n_harm = amps.shape[1], amps.shape[2]
    n_groups = groups.shape[0] - 1
    lo_f, cw_lo_f, cw_hi_f = pl[0], pl[3], pl[4]
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        work, kmax, table = _scratch(n_harm if need_amps else 0)
        phi, sin1, cos1, c2, acc_lo, acc_hi, prev, cur, g_lo, g_hi = (
            work[0],
            work[1],
            work[2],
            work[3],
            work[4],
            work[5],
            work[6],
            work[7],
            work[8],
            work[9],
        )
        seg, p_seg = gseg[g], starts[b, g]
        for s in range(gseg[g], gseg[g + 1]):
            u[b, s] = 0.0
            q_lo[b, s] = 0.0
            q_hi[b, s] = 0.0
        n, end = groups[g], groups[g + 1]
        while n < end:
            la = lo_a[n]
            seg_end = min(seg_a[la + 1], end)
            vector = seg_end - n >= _SHORT  # else short frames: per-sample rows
            m = min(_BLOCK, (seg_end if vector else end) - n)
            seg, p_seg, k_hi = _block_phases(
                f0, b, n, m, seg, p_seg, pl, scale, nyquist, n_harm, phi, kmax
            )
            _sincos(_BLOCK, phi, sin1, cos1)
            for j in range(_BLOCK):
                c2[j] = 2.0 * cos1[j]
                g_lo[j] = g_audio[b, n + j] * w_lo_a[n + j] if j < m else 0.0
                g_hi[j] = g_audio[b, n + j] * w_hi_a[n + j] if j < m else 0.0
            if need_amps and vector:
                _sin_table(k_hi, kmax, c2, sin1, prev, cur, table)
                _table_dot(k_hi, table, g_lo, g_hi, d_lo[b, la], d_hi[b, la])
            elif need_amps:
                for j in range(m):
                    lj = lo_a[n + j]
                    _sample_grads(
                        kmax[j], c2[j], sin1[j], g_lo[j], g_hi[j], d_lo[b, lj], d_hi[b, lj]
                    )
            if need_phase:
                if vector:
                    for j in range(_BLOCK):
                        prev[j] = 1.0
                    _harmonic_sums(
                        k_hi,
                        kmax,
                        c2,
                        cos1,
                        True,
                        amps[b, la],
                        amps[b, min(la + 1, n_amp - 1)],
                        acc_lo,
                        acc_hi,
                        prev,
                        cur,
                    )
                else:
                    for j in range(m):
                        lj = lo_a[n + j]
                        acc_lo[j], acc_hi[j] = _sample_sums(
                            kmax[j],
                            c2[j],
                            cos1[j],
                            1.0,
                            True,
                            amps[b, lj],
                            amps[b, min(lj + 1, n_amp - 1)],
                        )
                for j in range(m):
                    i = n + j
                    t = g_lo[j] * acc_lo[j] + g_hi[j] * acc_hi[j]
                    u[b, lo_f[i]] += t
                    q_lo[b, lo_f[i]] += t * cw_lo_f[i]
                    q_hi[b, lo_f[i]] += t * cw_hi_f[i]
            n += m


def _taps_f(plan):
    return (
        plan.lo_f,
        plan.w_lo_f,
        plan.w_hi_f,
        plan.cw_lo_f,
        plan.cw_hi_f,
        plan.sw_lo_f,
        plan.sw_hi_f,
    )


def _combine(d_lo, d_hi):
    """Frame f gets its own w_lo share and the w_hi share of frame f - 1 (and the last frame
    its own w_hi share: hi = min(lo + 1, F - 1))."""
    d_lo[:, 1:] += d_hi[:, :-1]
    d_lo[:, -1] += d_hi[:, -1]
    return d_lo


def harmonic_forward(f0, amps, plan, starts, scale, nyquist):
    """Audio ``[B, N]`` (dtype of the controls) of the harmonic bank; ``starts [B, G]``."""
    dtype = np.result_type(f0.dtype, amps.dtype)
    out = np.empty((f0.shape[0], plan.lo_f.shape[0]), dtype=dtype)
    _harmonic_forward_kernel(
        f0,
        amps,
        _taps_f(plan),
        plan.lo_a,
        plan.w_lo_a,
        plan.w_hi_a,
        plan.seg_a,
        plan.groups,
        plan.gseg_f,
        starts,
        scale,
        nyquist,
        out,
    )
    return out


def harmonic_backward(f0, amps, plan, starts, scale, nyquist, g_audio, need_amps, need_phase):
    """``(d_amps [B, Fa, H] or None, (U, Q_lo, Q_hi) [B, Ff] each)``, all float64."""
    batch, n_freq = f0.shape
    d_lo = np.zeros(amps.shape if need_amps else (batch, amps.shape[1], 0))
    d_hi = np.zeros_like(d_lo)
    u, q_lo, q_hi = (np.empty((batch, n_freq)) for _ in range(3))
    _harmonic_backward_kernel(
        f0,
        amps,
        _taps_f(plan),
        plan.lo_a,
        plan.w_lo_a,
        plan.w_hi_a,
        plan.seg_a,
        plan.groups,
        plan.gseg_f,
        starts,
        scale,
        nyquist,
        g_audio,
        need_amps,
        need_phase,
        d_lo,
        d_hi,
        u,
        q_lo,
        q_hi,
    )
    return (_combine(d_lo, d_hi) if need_amps else None), (u, q_lo, q_hi)


# The free-sinusoid kernels live in their own file; they import the helpers above, so this
# import comes last (the helpers exist by the time the other module reads them).
from .oscillator_cpu_sinusoid import sinusoid_backward, sinusoid_forward  # noqa: E402
