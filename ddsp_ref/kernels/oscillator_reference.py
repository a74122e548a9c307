"""Fused oscillator banks as plain array code (numpy or cupy): the executable spec and fallback.

Both kernel families render sinusoids from controls given at ``F`` frames and upsampled to
``N`` samples by a *two-tap* interpolation ("taps"): sample ``n`` reads frames ``lo[n]`` and
``hi[n] = min(lo[n] + 1, F - 1)`` with float64 weights ``w_lo[n]`` and ``w_hi[n]``,

    x(n) = w_lo[n] * x[lo[n]] + w_hi[n] * x[hi[n]].

ddsp's 'linear' resampling, its 'window' (raised-cosine) resampling and sample-rate controls
(``lo = arange(N)``, weights 1 and 0) are all of this form. Phases are float64 inclusive
cumulative sums of ``2 * pi * f(n) / sample_rate`` (ddsp's convention: the first sample's phase
is ``omega[0]``), wrapped to [0, 2*pi).

A :class:`Taps` object describes such an upsampler without storing per-sample tables (10 minutes
at 48 kHz would need ~1 GB of them); ``Taps.tables(n0, n1)`` computes the tables of any sample
range. The functions below take the full tables ``(lo, w_lo, w_hi)``.

This module materialises every ``[batch, n_samples, n_sinusoids]`` intermediate, in float64: it
is written for clarity, and the compiled kernels are tested against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ..backend import array_namespace, scatter_add_along_axis

__all__ = [
    "Taps",
    "TWO_PI",
    "wrapped_cumsum",
    "upsample",
    "upsample_adjoint",
    "harmonic_forward",
    "harmonic_backward",
    "sinusoid_forward",
    "sinusoid_backward",
]

TWO_PI = 2.0 * math.pi
# Samples per chunk of the wrapped cumulative sums: short chunks keep partial sums (and their
# rounding) small.
_CHUNK = 64


def wrapped_cumsum(xp: ModuleType, x: Any, axis: int = 1, exclusive: bool = False) -> Any:
    """Cumulative sum of float64 ``x`` along ``axis``, wrapped to [0, 2*pi).

    Sums run in chunks of ``_CHUNK`` steps; the chunk totals, reduced mod 2*pi, are chained by
    the same function recursively, so every partial sum stays below ``_CHUNK * 2*pi`` (times
    max|x| / 2*pi) whatever the length: the float64 result is within ~1e-11 rad of the exact
    one for 3e7 steps (10 minutes at 48 kHz).
    """
    x = xp.moveaxis(x, axis, -1)
    out = _wrapped_cumsum_last(xp, x)
    if exclusive:
        out = xp.mod(out - x, TWO_PI)
    return xp.moveaxis(out, -1, axis)


def _wrapped_cumsum_last(xp: ModuleType, x: Any) -> Any:
    n = x.shape[-1]
    if n <= _CHUNK:
        return xp.mod(xp.cumsum(x, axis=-1), TWO_PI)
    n_chunks = -(-n // _CHUNK)
    pad = n_chunks * _CHUNK - n
    if pad:
        x = xp.concatenate([x, xp.zeros(x.shape[:-1] + (pad,), dtype=x.dtype)], axis=-1)
    inner = xp.cumsum(x.reshape(x.shape[:-1] + (n_chunks, _CHUNK)), axis=-1)
    totals = xp.mod(inner[..., -1], TWO_PI)
    offsets = _wrapped_cumsum_last(xp, totals) - totals  # phase before each chunk
    out = (inner + offsets[..., None]).reshape(x.shape)[..., :n]
    return xp.mod(out, TWO_PI)


@dataclass(frozen=True, eq=False)
class Taps:
    """Two-tap upsampling of ``n_frames`` frames to ``n_samples`` samples.

    Kinds (build them with the class methods):

    - 'linear': TF1's legacy bilinear resize without aligned corners (ddsp's ``resample``
      'linear' with ``add_endpoint=True``): source position ``fl32(fl32(n) * fl32(F / N))``,
      ``lo = floor``, ``w_hi = position - lo`` (float32, as TF), ``w_lo = 1 - w_hi``.
    - 'window': raised-cosine crossfade (ddsp's 'window'): ``hop = N / F``, sample
      ``n = f * hop + j`` weighs frame f by ``window[hop + j]`` and frame f + 1 by
      ``window[j]``, ``window`` a periodic Hann of ``2 * hop`` samples given in float64.
    - 'nearest': TF1's legacy nearest-neighbour resize (ddsp's 'nearest'): the 'linear'
      positions' floor, weights 1 and 0.
    - 'crossfade': frame f at sample ``f * hop`` (``hop = N / (F - 1)``), sample
      ``n = f * hop + j`` mixes frames f and f + 1 with ``w_hi = weights[j]``,
      ``w_lo = 1 - w_hi`` (block-wise streaming: the last frame is only read as the upper
      neighbour of the last interval).
    - 'identity': controls already at the sample rate (``lo = n``, weights 1 and 0).
    - 'table': explicit ``(lo, w_lo, w_hi)`` host arrays.

    Objects compare by identity, so launchers can cache per-object plans.
    """

    kind: str
    n_frames: int
    n_samples: int
    window: Any = None
    table: Any = None

    @classmethod
    def linear(cls, n_frames: int, n_samples: int) -> Taps:
        return cls("linear", int(n_frames), int(n_samples))

    @classmethod
    def nearest(cls, n_frames: int, n_samples: int) -> Taps:
        return cls("nearest", int(n_frames), int(n_samples))

    @classmethod
    def windowed(cls, n_frames: int, n_samples: int, window: Any) -> Taps:
        window = np.asarray(window, dtype=np.float64)
        if n_samples % n_frames or window.shape != (2 * (n_samples // n_frames),):
            raise ValueError(
                f"Taps.windowed: n_samples ({n_samples}) must be a multiple of n_frames "
                f"({n_frames}) and the window 2 * hop long, got {window.shape}"
            )
        return cls("window", int(n_frames), int(n_samples), window=window)

    @classmethod
    def crossfade(cls, n_frames: int, hop: int, weights: Any) -> Taps:
        weights = np.asarray(weights, dtype=np.float64)
        if n_frames < 2 or weights.shape != (int(hop),):
            raise ValueError(
                f"Taps.crossfade: needs n_frames >= 2 ({n_frames}) and hop weights, got "
                f"{weights.shape} for hop {hop}"
            )
        return cls("crossfade", int(n_frames), (int(n_frames) - 1) * int(hop), window=weights)

    @classmethod
    def identity(cls, n_samples: int) -> Taps:
        return cls("identity", int(n_samples), int(n_samples))

    @classmethod
    def from_table(cls, lo: Any, w_lo: Any, w_hi: Any, n_frames: int) -> Taps:
        table = tuple(np.asarray(a) for a in (lo, w_lo, w_hi))
        return cls("table", int(n_frames), int(table[0].shape[0]), table=table)

    def tables(self, n0: int = 0, n1: int | None = None) -> tuple:
        """Host tables ``lo`` (int64, global frame indices), ``w_lo``, ``w_hi`` (float64) of
        samples ``n0 .. n1 - 1``."""
        n1 = self.n_samples if n1 is None else n1
        n = np.arange(n0, n1, dtype=np.int64)
        if self.kind in ("linear", "nearest"):
            scale = np.float32(self.n_frames) / np.float32(self.n_samples)
            pos = n.astype(np.float32) * scale  # float32 like TF (float32 arange, no rounding)
            floor = np.floor(pos)
            lo = np.minimum(floor.astype(np.int64), self.n_frames - 1)
            w_hi = (pos - floor).astype(np.float64)
            if self.kind == "nearest":
                w_hi = np.zeros(n.shape[0])
            return lo, 1.0 - w_hi, w_hi
        if self.kind == "window":
            hop = self.n_samples // self.n_frames
            offset = n % hop
            return n // hop, self.window[hop + offset], self.window[offset]
        if self.kind == "crossfade":
            hop = self.window.shape[0]
            w_hi = self.window[n % hop]
            return n // hop, 1.0 - w_hi, w_hi
        if self.kind == "identity":
            return n, np.ones(n.shape[0]), np.zeros(n.shape[0])
        lo, w_lo, w_hi = (a[n0:n1] for a in self.table)
        return lo.astype(np.int64), w_lo.astype(np.float64), w_hi.astype(np.float64)


def _hi(xp: ModuleType, lo: Any, n_frames: int) -> Any:
    return xp.minimum(lo + 1, n_frames - 1)


def upsample(x: Any, taps: tuple) -> Any:
    """``[B, F, ...]`` frames -> ``[B, N, ...]`` samples in float64 through ``taps``."""
    xp = array_namespace(x)
    lo, w_lo, w_hi = taps
    x = x.astype(xp.float64)
    shape = (1, lo.shape[0]) + (1,) * (x.ndim - 2)
    hi = _hi(xp, lo, x.shape[1])
    return w_lo.reshape(shape) * x[:, lo] + w_hi.reshape(shape) * x[:, hi]


def upsample_adjoint(g: Any, taps: tuple, n_frames: int) -> Any:
    """Adjoint of :func:`upsample`: ``[B, N, ...]`` -> ``[B, n_frames, ...]`` (float64)."""
    xp = array_namespace(g)
    lo, w_lo, w_hi = taps
    shape = (1, lo.shape[0]) + (1,) * (g.ndim - 2)
    out_shape = (g.shape[0], n_frames) + tuple(g.shape[2:])
    out = scatter_add_along_axis(xp, out_shape, lo, g * w_lo.reshape(shape), axis=1)
    return out + scatter_add_along_axis(
        xp, out_shape, _hi(xp, lo, n_frames), g * w_hi.reshape(shape), axis=1
    )


def _harmonic_terms(xp, f0, taps_f, phase0, sample_rate, n_harmonics, nyquist):
    """Sample-wise f0 [B, N], phase [B, N] and masked harmonic numbers [B, N, H] (float64)."""
    freq = upsample(f0, taps_f)
    phase = xp.mod(phase0[:, None] + wrapped_cumsum(xp, freq * (TWO_PI / sample_rate)), TWO_PI)
    k = xp.arange(1, n_harmonics + 1, dtype=xp.float64)
    harmonic_phase = xp.mod(phase[..., None] * k, TWO_PI)
    keep = xp.ones(harmonic_phase.shape, dtype=xp.float64)
    if nyquist:
        keep = (freq[..., None] * k < sample_rate / 2.0).astype(xp.float64)
    return freq, phase, harmonic_phase, keep, k


def harmonic_forward(f0, amps, taps_f, taps_a, phase0, sample_rate, nyquist):
    """Harmonic bank: ``out[b, n] = sum_k a_k(n) sin(k * phi(n))``, k = 1..H.

    Args:
        f0: frame-wise fundamental [Hz], ``[B, Ff]``.
        amps: frame-wise harmonic amplitudes, ``[B, Fa, H]``.
        taps_f, taps_a: ``(lo, w_lo, w_hi)`` upsampling taps of f0 and of the amplitudes.
        phase0: phase before the first sample [rad], float64 ``[B]``.
        sample_rate: samples per second.
        nyquist: silence harmonic k at samples where ``k * f0(n) >= sample_rate / 2``.

    Returns:
        audio ``[B, N]`` in the dtype of ``amps`` and f0 combined, and the phase of the last
        sample wrapped to [0, 2*pi), float64 ``[B]``.
    """
    xp = array_namespace(f0, amps)
    dtype = xp.result_type(f0.dtype, amps.dtype)
    _, phase, harmonic_phase, keep, _ = _harmonic_terms(
        xp, f0, taps_f, phase0, sample_rate, amps.shape[-1], nyquist
    )
    audio = xp.sum(upsample(amps, taps_a) * keep * xp.sin(harmonic_phase), axis=-1)
    return audio.astype(dtype), phase[:, -1].copy()


def harmonic_backward(f0, amps, taps_f, taps_a, phase0, sample_rate, nyquist, g_audio, g_final):
    """VJP of :func:`harmonic_forward` for cotangents ``g_audio [B, N]`` and ``g_final [B]``.

    Returns:
        float64 gradients ``(d_f0 [B, Ff], d_amps [B, Fa, H], d_phase0 [B])``. The Nyquist mask
        is a constant (no gradient through its boundary), as in ddsp.
    """
    xp = array_namespace(f0, amps, g_audio)
    _, _, harmonic_phase, keep, k = _harmonic_terms(
        xp, f0, taps_f, phase0, sample_rate, amps.shape[-1], nyquist
    )
    g = g_audio.astype(xp.float64)
    d_amps = upsample_adjoint(g[..., None] * keep * xp.sin(harmonic_phase), taps_a, amps.shape[1])
    # d audio / d phi(n) = sum_k a_k(n) k cos(k phi(n)); phi(n) depends on f(m) for all m <= n.
    t = g * xp.sum(upsample(amps, taps_a) * keep * k * xp.cos(harmonic_phase), axis=-1)
    t[:, -1] += g_final
    tail = xp.flip(xp.cumsum(xp.flip(t, axis=1), axis=1), axis=1)  # sum over m >= n
    d_f0 = upsample_adjoint(tail * (TWO_PI / sample_rate), taps_f, f0.shape[1])
    return d_f0, d_amps, tail[:, 0].copy()


def _sinusoid_terms(xp, freqs, taps_f, sample_rate):
    freq = upsample(freqs, taps_f)  # [B, N, K]
    phase = wrapped_cumsum(xp, freq * (TWO_PI / sample_rate), axis=1)
    keep = (freq < sample_rate / 2.0).astype(xp.float64)
    return phase, keep


def sinusoid_forward(freqs, amps, taps_f, taps_a, sample_rate):
    """Bank of free sinusoids: ``out[b, n] = sum_k a_k(n) sin(phi_k(n))``.

    Args:
        freqs: frame-wise frequencies [Hz], ``[B, Ff, K]``.
        amps: frame-wise amplitudes, ``[B, Fa, K]``.
        taps_f, taps_a: upsampling taps of the frequencies and the amplitudes.
        sample_rate: samples per second; sinusoids at or above Nyquist are silent per sample.

    Returns:
        audio ``[B, N]`` in the dtype of the inputs combined.
    """
    xp = array_namespace(freqs, amps)
    dtype = xp.result_type(freqs.dtype, amps.dtype)
    phase, keep = _sinusoid_terms(xp, freqs, taps_f, sample_rate)
    return xp.sum(upsample(amps, taps_a) * keep * xp.sin(phase), axis=-1).astype(dtype)


def sinusoid_backward(freqs, amps, taps_f, taps_a, sample_rate, g_audio):
    """VJP of :func:`sinusoid_forward`: float64 ``(d_freqs [B, Ff, K], d_amps [B, Fa, K])``."""
    xp = array_namespace(freqs, amps, g_audio)
    phase, keep = _sinusoid_terms(xp, freqs, taps_f, sample_rate)
    g = g_audio.astype(xp.float64)[..., None]
    d_amps = upsample_adjoint(g * keep * xp.sin(phase), taps_a, amps.shape[1])
    t = g * upsample(amps, taps_a) * keep * xp.cos(phase)
    tail = xp.flip(xp.cumsum(xp.flip(t, axis=1), axis=1), axis=1)
    d_freqs = upsample_adjoint(tail * (TWO_PI / sample_rate), taps_f, freqs.shape[1])
    return d_freqs, d_amps
