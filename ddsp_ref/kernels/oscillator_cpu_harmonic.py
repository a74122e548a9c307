"""Harmonic oscillator bank as numba CPU kernels (parallel over batch rows and groups of frames).

One fundamental per batch row; harmonic k has phase ``k * phi``. Each parallel task renders one
group of whole frames of one batch row (see oscillator_plan.py), so it writes its own output
samples and its own rows of the frame-rate gradients: no races, no atomics.

``sin(k phi)`` and ``cos(k phi)`` come from the Chebyshev recurrence
``s_{k+1} = 2 cos(phi) s_k - s_{k-1}`` in float64 (two flops per term instead of a sine; its
rounding grows like ``k**2 * 1e-16``, below 1e-11 for 100 harmonics). The recurrence runs over
fixed-size blocks of ``_BLOCK`` samples that share one amplitude frame, so the inner loop is over
independent samples with a constant trip count, which LLVM vectorises. Frames shorter than
``_SHORT`` samples (sample-rate controls) take a per-sample path instead.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .oscillator_cpu_math import combine, jit, n_below, pjit, run, sincos, wrap

__all__ = ["harmonic_forward", "harmonic_backward"]

_BLOCK = 64  # samples per vector block (one frame at ddsp's default hop of 64)
_SHORT = 8  # amplitude frames shorter than this take the per-sample path


# -- harmonic bank: block helpers -----------------------------------------------------------------
@jit
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
            p_seg = wrap(
                p_seg
                + scale * (f0[b, seg] * sw_lo_f[seg] + f0[b, min(seg + 1, last)] * sw_hi_f[seg])
            )
            seg += 1
        x_lo = np.float64(f0[b, seg])
        x_hi = np.float64(f0[b, min(seg + 1, last)])
        phi[j] = p_seg + scale * (x_lo * cw_lo_f[i] + x_hi * cw_hi_f[i])
        kmax[j] = n_below(w_lo_f[i] * x_lo + w_hi_f[i] * x_hi, nyquist, n_harm)
        k_hi = max(k_hi, kmax[j])
    for j in range(m, _BLOCK):
        phi[j] = 0.0
        kmax[j] = 0
    return seg, p_seg, k_hi


@jit
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


@jit
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


@jit
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


@jit
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


@jit
def _sample_grads(kmax, c2, sin1, g_lo, g_hi, d_lo, d_hi):  # pragma: no cover - compiled
    prev, cur = 0.0, sin1
    for k in range(kmax):
        d_lo[k] += g_lo * cur
        d_hi[k] += g_hi * cur
        prev, cur = cur, c2 * cur - prev


@jit
def _next_block(
    f0, b, n, end, seg, p_seg, pl, pa, scale, nyquist, n_harm, work, kmax
):  # pragma: no cover - compiled
    """Phases, Nyquist counts, sin / cos and ``2 cos`` (``work[0..3]``) of the block starting
    at sample n: up to _BLOCK samples of one amplitude frame (``vector``), or of short frames
    (per-sample rows). Returns ``(seg, p_seg, k_hi, m, vector)``, m the samples it covers."""
    seg_a = pa[3]
    seg_end = min(seg_a[pa[0][n] + 1], end)
    vector = seg_end - n >= _SHORT
    m = min(_BLOCK, (seg_end if vector else end) - n)
    phi, sin1, cos1, c2 = work[0], work[1], work[2], work[3]
    seg, p_seg, k_hi = _block_phases(f0, b, n, m, seg, p_seg, pl, scale, nyquist, n_harm, phi, kmax)
    sincos(_BLOCK, phi, sin1, cos1)
    for j in range(_BLOCK):
        c2[j] = 2.0 * cos1[j]
    return seg, p_seg, k_hi, m, vector


@jit
def _block_sums(
    vector, k_hi, kmax, c2, first, cosine, amps, b, lo_a, n, m, work
):  # pragma: no cover
    """``acc[j] = sum_k w_k a_k(n + j) T_k(phi_j)`` into ``work[4], work[5]`` (the lo / hi
    amplitude frames): ``T_k = sin(k phi)``, ``w_k = 1`` (``first = sin phi``), or with
    ``cosine`` ``T_k = cos(k phi)``, ``w_k = k`` (``first = cos phi``). One amplitude frame for
    the whole block (``vector``), else per sample."""
    n_amp = amps.shape[1]
    acc_lo, acc_hi, prev, cur = work[4], work[5], work[6], work[7]
    if vector:
        la = lo_a[n]
        for j in range(_BLOCK):
            prev[j] = 1.0 if cosine else 0.0
        row_lo, row_hi = amps[b, la], amps[b, min(la + 1, n_amp - 1)]
        _harmonic_sums(k_hi, kmax, c2, first, cosine, row_lo, row_hi, acc_lo, acc_hi, prev, cur)
        return
    for j in range(m):
        lj = lo_a[n + j]
        acc_lo[j], acc_hi[j] = _sample_sums(
            kmax[j],
            c2[j],
            first[j],
            1.0 if cosine else 0.0,
            cosine,
            amps[b, lj],
            amps[b, min(lj + 1, n_amp - 1)],
        )


@jit
def _scratch(n_harm):  # pragma: no cover - compiled
    return np.empty((10, _BLOCK)), np.empty(_BLOCK, dtype=np.int64), np.empty((n_harm, _BLOCK))


# -- harmonic bank: kernels -----------------------------------------------------------------------
@pjit
def _harmonic_forward_kernel(
    f0, amps, pl, pa, groups, gseg, starts, scale, nyquist, out
):  # pragma: no cover - compiled
    lo_a, w_lo_a, w_hi_a, seg_a = pa
    batch, n_harm = f0.shape[0], amps.shape[2]
    n_groups = groups.shape[0] - 1
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        work, kmax, _ = _scratch(0)
        sin1, c2, acc_lo, acc_hi = work[1], work[3], work[4], work[5]
        seg, p_seg = gseg[g], starts[b, g]
        n, end = groups[g], groups[g + 1]
        while n < end:
            seg, p_seg, k_hi, m, vector = _next_block(
                f0, b, n, end, seg, p_seg, pl, pa, scale, nyquist, n_harm, work, kmax
            )
            _block_sums(vector, k_hi, kmax, c2, sin1, False, amps, b, lo_a, n, m, work)
            for j in range(m):
                out[b, n + j] = w_lo_a[n + j] * acc_lo[j] + w_hi_a[n + j] * acc_hi[j]
            n += m


@pjit
def _harmonic_backward_kernel(
    f0, amps, pl, pa, groups, gseg, starts, scale, nyquist, g_audio, need, grads, sums
):  # pragma: no cover - compiled
    """``need = (amplitudes, phase)``; ``grads = (d_lo, d_hi)`` ``[B, Fa, H]``; ``sums =
    (U, Q_lo, Q_hi)`` ``[B, Ff]`` (see oscillator.py)."""
    lo_a, w_lo_a, w_hi_a, seg_a = pa
    need_amps, need_phase = need
    d_lo, d_hi = grads
    u, q_lo, q_hi = sums
    batch, n_harm = f0.shape[0], amps.shape[2]
    n_groups = groups.shape[0] - 1
    lo_f, cw_lo_f, cw_hi_f = pl[0], pl[3], pl[4]
    for task in prange(batch * n_groups):
        b = task // n_groups
        g = task - b * n_groups
        work, kmax, table = _scratch(n_harm if need_amps else 0)
        sin1, cos1, c2, acc_lo, acc_hi = work[1], work[2], work[3], work[4], work[5]
        prev, cur, g_lo, g_hi = work[6], work[7], work[8], work[9]
        seg, p_seg = gseg[g], starts[b, g]
        for s in range(gseg[g], gseg[g + 1] if need_phase else gseg[g]):
            u[b, s] = 0.0
            q_lo[b, s] = 0.0
            q_hi[b, s] = 0.0
        n, end = groups[g], groups[g + 1]
        while n < end:
            la = lo_a[n]
            seg, p_seg, k_hi, m, vector = _next_block(
                f0, b, n, end, seg, p_seg, pl, pa, scale, nyquist, n_harm, work, kmax
            )
            for j in range(_BLOCK):
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
                _block_sums(vector, k_hi, kmax, c2, cos1, True, amps, b, lo_a, n, m, work)
                for j in range(m):
                    i = n + j
                    t = g_lo[j] * acc_lo[j] + g_hi[j] * acc_hi[j]
                    u[b, lo_f[i]] += t
                    q_lo[b, lo_f[i]] += t * cw_lo_f[i]
                    q_hi[b, lo_f[i]] += t * cw_hi_f[i]
            n += m


def harmonic_forward(block):
    """Audio ``[B, N]`` (float64) of the harmonic bank of a :class:`Block` (``starts [B, G]``)."""
    plan = block.plan
    out = np.empty((block.freqs.shape[0], plan.lo_f.shape[0]), dtype=np.float64)
    run(_harmonic_forward_kernel, block, out)
    return out


def harmonic_backward(block, g_audio, need_amps, need_phase):
    """``(d_amps [B, Fa, H] or None, (U, Q_lo, Q_hi) [B, Ff] or None)``, all float64."""
    batch, n_freq = block.freqs.shape
    amps = block.amps
    d_lo = np.zeros(amps.shape if need_amps else (batch, amps.shape[1], 0))
    d_hi = np.zeros_like(d_lo)
    sums = tuple(np.empty((batch, n_freq) if need_phase else (batch, 0)) for _ in range(3))
    run(
        _harmonic_backward_kernel,
        block,
        g_audio,
        (bool(need_amps), bool(need_phase)),
        (d_lo, d_hi),
        sums,
    )
    return (combine(d_lo, d_hi) if need_amps else None), (sums if need_phase else None)
