"""Fused oscillator banks as numba CUDA kernels.

Imported by the launcher on first use only (it imports numba.cuda). The kernels take cupy arrays
(or numpy arrays under numba's CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``). Plans made for CUDA
have one group per frequency frame, so ``starts[b, f]`` is the phase before frame f and any
thread finds its phase without a scan:

- forward: one thread per output sample (harmonics by the Chebyshev recurrence, free sinusoids
  by one sine each);
- amplitude gradients: one thread per (batch, amplitude frame, oscillator), gathering the
  samples that read that frame (no atomics);
- phase gradients: one thread per (batch, frequency frame[, oscillator]) returning the frame
  sums ``U, Q_lo, Q_hi`` that the launcher turns into f0 gradients with a float64 reverse
  cumulative sum (see oscillator.py).
"""

from __future__ import annotations

import math

from numba import cuda

from ..backend import array_namespace
from . import oscillator_math
from .cuda_launch import launch

__all__ = [
    "group_phase_sums",
    "harmonic_forward",
    "harmonic_backward",
    "sinusoid_forward",
    "sinusoid_backward",
]

# Plans for this module have one group per frequency frame (oscillator.make_plan).
GROUP_PER_FRAME = True


# -- device helpers -------------------------------------------------------------------------------
@cuda.jit(device=True)
def _phase_and_freq(x, b, k, i, pf, starts, scale):  # pragma: no cover - compiled
    """Phase [rad] (unwrapped within the frame) and frequency [Hz] of oscillator k at sample i
    (``x`` is [B, Ff, K]; ``starts`` [B, Ff, K]; ``pf`` the frequency tables)."""
    lo_f, w_lo_f, w_hi_f, cw_lo_f, cw_hi_f = pf
    s = lo_f[i]
    s1 = min(s + 1, x.shape[1] - 1)
    x_lo = x[b, s, k] * 1.0
    x_hi = x[b, s1, k] * 1.0
    phi = starts[b, s, k] + scale * (x_lo * cw_lo_f[i] + x_hi * cw_hi_f[i])
    return phi, w_lo_f[i] * x_lo + w_hi_f[i] * x_hi


_n_below = cuda.jit(device=True)(oscillator_math.n_below)


@cuda.jit(device=True)
def _harmonic_sample(
    amps, b, i, kmax, phi, lo_a, w_lo_a, w_hi_a, cosine, weighted
):  # pragma: no cover - compiled
    """``sum_k a_k(i) w_k T_k`` with T_k = sin(k phi) (or cos), w_k = k if weighted."""
    la = lo_a[i]
    ha = min(la + 1, amps.shape[1] - 1)
    c2 = 2.0 * math.cos(phi)
    prev = 1.0 if cosine else 0.0
    cur = math.cos(phi) if cosine else math.sin(phi)
    acc = 0.0
    for k in range(kmax):
        a = w_lo_a[i] * amps[b, la, k] + w_hi_a[i] * amps[b, ha, k]
        acc += (k + 1.0 if weighted else 1.0) * a * cur
        nxt = c2 * cur - prev
        prev = cur
        cur = nxt
    return acc


@cuda.jit
def _forward_kernel(x, amps, pf, pa, starts, scale, nyquist, harmonic, out):  # pragma: no cover
    """One thread per output sample: the harmonics of ``x`` [B, Ff, 1] (``harmonic``, by the
    Chebyshev recurrence) or the free sinusoids of ``x`` [B, Ff, K] (one sine each)."""
    lo_a, w_lo_a, w_hi_a = pa
    idx = cuda.grid(1)
    batch, n = out.shape
    if idx >= batch * n:
        return
    b = idx // n
    i = idx - b * n
    if harmonic:
        phi, freq = _phase_and_freq(x, b, 0, i, pf, starts, scale)
        kmax = _n_below(freq, nyquist, amps.shape[2])
        out[b, i] = _harmonic_sample(amps, b, i, kmax, phi, lo_a, w_lo_a, w_hi_a, False, False)
        return
    la = lo_a[i]
    ha = min(la + 1, amps.shape[1] - 1)
    acc = 0.0
    for k in range(x.shape[2]):
        phi, freq = _phase_and_freq(x, b, k, i, pf, starts, scale)
        if freq >= nyquist:
            continue
        acc += (w_lo_a[i] * amps[b, la, k] + w_hi_a[i] * amps[b, ha, k]) * math.sin(phi)
    out[b, i] = acc


@cuda.jit
def _amp_grad_kernel(
    x, pf, pa, starts, scale, nyquist, g_audio, harmonic, d_amps
):  # pragma: no cover - compiled
    """One thread per (batch, amplitude frame, oscillator): the gradient of that amplitude,
    gathered from the samples that read the frame (no atomics). ``harmonic``: oscillator k
    is harmonic k + 1 of ``x`` [B, Ff, 1], else sinusoid k of ``x`` [B, Ff, K]."""
    seg_a, w_lo_a, w_hi_a = pa
    idx = cuda.grid(1)
    batch, n_amp, n_osc = d_amps.shape
    if idx >= batch * n_amp * n_osc:
        return
    b = idx // (n_amp * n_osc)
    rest = idx - b * n_amp * n_osc
    fa = rest // n_osc
    k = rest - fa * n_osc
    osc, mult = (0, k + 1.0) if harmonic else (k, 1.0)
    acc = 0.0
    # Samples of frame fa read it through w_lo; those of frame fa - 1 through w_hi (and the
    # last frame is its own upper neighbour).
    first = seg_a[fa - 1] if fa > 0 else seg_a[0]
    last = seg_a[n_amp] if fa == n_amp - 1 else seg_a[fa + 1]
    for i in range(first, last):
        own = i >= seg_a[fa]
        w = (w_lo_a[i] if own else 0.0) + (w_hi_a[i] if (not own or fa == n_amp - 1) else 0.0)
        if w == 0.0:
            continue
        phi, freq = _phase_and_freq(x, b, osc, i, pf, starts, scale)
        if mult * freq >= nyquist:
            continue
        acc += w * g_audio[b, i] * math.sin(mult * phi)
    d_amps[b, fa, k] = acc


@cuda.jit
def _phase_sums_kernel(
    x, amps, seg_f, pf, pa, starts, scale, nyquist, g_audio, harmonic, u, q_lo, q_hi
):  # pragma: no cover - compiled
    """One thread per (batch, frequency frame, oscillator of ``x``): the frame sums
    ``U, Q_lo, Q_hi`` of ``t = dL/dphi`` (see oscillator.py); ``x`` and the sums are
    ``[B, Ff, 1]`` for the harmonic bank, ``[B, Ff, K]`` for free sinusoids."""
    cw_lo_f, cw_hi_f = pf[3], pf[4]
    lo_a, w_lo_a, w_hi_a = pa
    idx = cuda.grid(1)
    batch, n_freq, n_osc = u.shape
    if idx >= batch * n_freq * n_osc:
        return
    b = idx // (n_freq * n_osc)
    rest = idx - b * n_freq * n_osc
    f = rest // n_osc
    k = rest - f * n_osc
    su = sl = sh = 0.0
    for i in range(seg_f[f], seg_f[f + 1]):
        phi, freq = _phase_and_freq(x, b, k, i, pf, starts, scale)
        if harmonic:
            kmax = _n_below(freq, nyquist, amps.shape[2])
            t = _harmonic_sample(amps, b, i, kmax, phi, lo_a, w_lo_a, w_hi_a, True, True)
        elif freq >= nyquist:
            continue
        else:
            la = lo_a[i]
            ha = min(la + 1, amps.shape[1] - 1)
            t = (w_lo_a[i] * amps[b, la, k] + w_hi_a[i] * amps[b, ha, k]) * math.cos(phi)
        t *= g_audio[b, i]
        su += t
        sl += t * cw_lo_f[i]
        sh += t * cw_hi_f[i]
    u[b, f, k] = su
    q_lo[b, f, k] = sl
    q_hi[b, f, k] = sh


def group_phase_sums(x, plan, scale):
    """Phase increment [rad] of every frequency frame (= group), float64 ``[B, Ff, K]``."""
    xp = array_namespace(x)
    x = x.astype(xp.float64)
    upper = xp.concatenate([x[:, 1:], x[:, -1:]], axis=1)
    return scale * (x * plan.sw_lo_f[None, :, None] + upper * plan.sw_hi_f[None, :, None])


def _f_args(plan):
    """The frequency tables, passed to the kernels as one tuple argument."""
    return plan.lo_f, plan.w_lo_f, plan.w_hi_f, plan.cw_lo_f, plan.cw_hi_f


def _forward(block, freqs, starts, harmonic):
    """Launch a forward kernel: one thread per output sample; ``freqs`` and ``starts`` are
    the block's, with an oscillator axis ``[B, Ff, K]``."""
    amps, plan = block.amps, block.plan
    xp = array_namespace(freqs, amps)
    out = xp.empty((freqs.shape[0], plan.lo_f.shape[0]), dtype=xp.float64)
    pa = (plan.lo_a, plan.w_lo_a, plan.w_hi_a)
    args = (freqs, amps, _f_args(plan), pa, starts, block.scale, block.nyquist, harmonic)
    launch(_forward_kernel, out.size, xp, *args, out)
    return out


def _backward(block, freqs, starts, g_audio, need_amps, need_phase, harmonic):
    """Launch the amplitude-gradient and phase-sum kernels of a block (``freqs`` and
    ``starts`` with an oscillator axis ``[B, Ff, K]``)."""
    amps, plan, scale, nyquist = block.amps, block.plan, block.scale, block.nyquist
    xp = array_namespace(freqs, amps, g_audio)
    pf = _f_args(plan)
    d_amps = None
    if need_amps:
        d_amps = xp.empty(amps.shape, dtype=xp.float64)
        pa = (plan.seg_a, plan.w_lo_a, plan.w_hi_a)
        args = (freqs, pf, pa, starts, scale, nyquist, g_audio, harmonic)
        launch(_amp_grad_kernel, d_amps.size, xp, *args, d_amps)
    if not need_phase:
        return d_amps, None
    sums = tuple(xp.empty(freqs.shape, dtype=xp.float64) for _ in range(3))
    pa = (plan.lo_a, plan.w_lo_a, plan.w_hi_a)
    args = (freqs, amps, plan.groups, pf, pa, starts, scale, nyquist, g_audio, harmonic)
    launch(_phase_sums_kernel, sums[0].size, xp, *args, *sums)
    return d_amps, tuple(x.reshape(block.freqs.shape) for x in sums)


def harmonic_forward(block):
    """Audio ``[B, N]`` of a :class:`Block`; ``starts [B, Ff]`` is the phase before every
    frequency frame."""
    xp = array_namespace(block.freqs)
    starts = xp.ascontiguousarray(block.starts[..., None])
    return _forward(block, block.freqs[..., None], starts, True)


def harmonic_backward(block, g_audio, need_amps, need_phase):
    """``(d_amps [B, Fa, H] or None, (U, Q_lo, Q_hi) [B, Ff] or None)``, all float64."""
    xp = array_namespace(block.freqs)
    starts = xp.ascontiguousarray(block.starts[..., None])
    f0 = block.freqs[..., None]
    return _backward(block, f0, starts, g_audio, need_amps, need_phase, True)


def sinusoid_forward(block):
    """Audio ``[B, N]`` of a :class:`Block`; ``starts [B, Ff, K]`` is the phase before every
    frequency frame."""
    return _forward(block, block.freqs, block.starts, False)


def sinusoid_backward(block, g_audio, need_amps, need_phase):
    """``(d_amps [B, Fa, K] or None, (U, Q_lo, Q_hi) [B, Ff, K] or None)``, all float64."""
    return _backward(block, block.freqs, block.starts, g_audio, need_amps, need_phase, False)
