"""Autodiff ops over the fused oscillator kernels: one op per kernel family.

``fused_harmonic_bank`` (two outputs: audio and final phase), ``fused_sinusoid_bank``, and
``wrapped_cumsum`` (the one float64 phase accumulation, also used by the composed oscillators
of ``ddsp_ref.core``). The banks' forwards call ``ddsp_ref.kernels.oscillator`` (numba CPU /
CUDA kernel or the array reference) and save only the frame-rate inputs; their VJPs call the
backward kernels, which recompute the phases instead of storing ``[batch, n_samples,
n_harmonics]`` arrays, and compute only the gradients of the inputs that are traced (``needs``).

Controls reach the kernels at frame rate with their upsampling described by
:class:`~ddsp_ref.kernels.oscillator.Taps` (``ddsp_ref.core.resampling.resample_taps`` builds
the taps of ddsp's resamplers; ``Taps.identity`` for controls already at the sample rate).
"""

from __future__ import annotations

from typing import Any

from ...kernels import oscillator as _kernels
from ...kernels import oscillator_reference as _reference
from ...kernels.oscillator import Taps
from ...kernels.selection import use_fused
from ..tape import Primitive

__all__ = ["Taps", "fused_enabled", "harmonic_bank", "sinusoid_bank", "wrapped_cumsum"]


def fused_enabled() -> bool:
    """Whether library functions use the fused kernels (``DDSP_REF_KERNELS != 'composed'``)."""
    return use_fused()


def _wrapped_cumsum_fwd(xp, x, axis, exclusive):
    return _reference.wrapped_cumsum(xp, x, axis=axis, exclusive=exclusive), None


def _wrapped_cumsum_vjp(xp, saved, g, axis, exclusive):
    # mod 2*pi has slope 1: the adjoint of a cumulative sum is the reverse cumulative sum.
    tail = xp.flip(xp.cumsum(xp.flip(g, axis=axis), axis=axis), axis=axis)
    return (tail - g if exclusive else tail,)


_wrapped_cumsum = Primitive("wrapped_cumsum", _wrapped_cumsum_fwd, _wrapped_cumsum_vjp)


def wrapped_cumsum(x: Any, axis: int = 1, exclusive: bool = False) -> Any:
    """Cumulative sum of float64 ``x`` [rad] along ``axis``, wrapped to [0, 2*pi).

    The float64 chunked summation of ``kernels.oscillator_reference.wrapped_cumsum`` (within
    ~1e-11 rad of exact after 3e7 steps); differentiable (the wrap has slope 1).
    """
    return _wrapped_cumsum(x, axis=int(axis), exclusive=bool(exclusive))


def _harmonic_fwd(xp, f0, amps, phase0, gain, taps_f, taps_a, sample_rate, nyquist):
    audio, final = _kernels.harmonic_forward(
        f0, amps, taps_f, taps_a, phase0, sample_rate, nyquist, gain=gain
    )
    return (audio, final), (f0, amps, phase0, gain)


def _harmonic_vjp(xp, saved, g, taps_f, taps_a, sample_rate, nyquist, needs=(True,) * 4):
    f0, amps, phase0, gain = saved
    g_audio, g_final = g
    d_f0, d_eff, d_phase0 = _kernels.harmonic_backward(
        f0,
        amps,
        taps_f,
        taps_a,
        phase0,
        sample_rate,
        nyquist,
        g_audio,
        g_final,
        need_amps=needs[1] or needs[3],
        need_phase=needs[0] or needs[2],  # f0 and the initial phase share the phase sums
        gain=gain,
    )
    # d_eff is the gradient of the effective amplitudes, amps * gain (or amps).
    d_amps = None if not needs[1] else (d_eff if gain is None else d_eff * gain)
    d_gain = xp.sum(d_eff * amps, axis=-1, keepdims=True) if needs[3] else None
    return d_f0 if needs[0] else None, d_amps, d_phase0 if needs[2] else None, d_gain


_harmonic = Primitive("fused_harmonic_bank", _harmonic_fwd, _harmonic_vjp, n_outputs=2)


def _sinusoid_fwd(xp, freqs, amps, taps_f, taps_a, sample_rate):
    return _kernels.sinusoid_forward(freqs, amps, taps_f, taps_a, sample_rate), (freqs, amps)


def _sinusoid_vjp(xp, saved, g, taps_f, taps_a, sample_rate, needs=(True, True)):
    freqs, amps = saved
    return _kernels.sinusoid_backward(
        freqs, amps, taps_f, taps_a, sample_rate, g, need_amps=needs[1], need_freqs=needs[0]
    )


_sinusoid = Primitive("fused_sinusoid_bank", _sinusoid_fwd, _sinusoid_vjp)


def harmonic_bank(
    f0_hz: Any,
    amplitudes: Any,
    taps_f: Taps,
    taps_a: Taps,
    initial_phase: Any,
    sample_rate: float,
    nyquist: bool = True,
    gain: Any = None,
) -> tuple[Any, Any]:
    """Fused harmonic oscillator bank, differentiable in f0, amplitudes, initial phase, gain.

    ``out[b, n] = sum_k a_k(n) sin(k phi(n))``, ``phi`` the inclusive float64 cumulative sum
    of ``2 pi f0(n) / sample_rate`` plus ``initial_phase``, with f0 and the amplitudes
    upsampled by their taps inside the kernel. Inputs are trusted (validated by the callers).

    Args:
        f0_hz: fundamental frequency [Hz], float array ``[batch, n_frames_f]``.
        amplitudes: harmonic amplitudes, ``[batch, n_frames_a, n_harmonics]``.
        taps_f, taps_a: upsampling of f0 and of the amplitudes to one length ``n_samples``.
        initial_phase: float64 phase [rad] before the first sample, ``[batch]``.
        sample_rate: samples per second (positive float).
        nyquist: silence harmonic k where ``k * f0(n) >= sample_rate / 2`` (per sample).
        gain: optional overall amplitude ``[batch, n_frames_a, 1]``: the harmonic amplitudes
            are ``amplitudes * gain``, formed inside the kernel one piece at a time.

    Returns:
        audio ``[batch, n_samples]`` (the controls' dtype) and the float64 phase of the last
        sample ``[batch]`` [rad] in [0, 2*pi).
    """
    return _harmonic(
        f0_hz,
        amplitudes,
        initial_phase,
        gain,
        taps_f=taps_f,
        taps_a=taps_a,
        sample_rate=float(sample_rate),
        nyquist=bool(nyquist),
    )


def sinusoid_bank(
    frequencies: Any, amplitudes: Any, taps_f: Taps, taps_a: Taps, sample_rate: float
) -> Any:
    """Fused bank of free sinusoids, differentiable in frequencies and amplitudes.

    Args:
        frequencies: [Hz], float array ``[batch, n_frames_f, n_sinusoids]``.
        amplitudes: ``[batch, n_frames_a, n_sinusoids]``.
        taps_f, taps_a: upsampling of both to one length ``n_samples``.
        sample_rate: samples per second; sinusoids at or above Nyquist are silent per sample.

    Returns:
        audio ``[batch, n_samples]`` (the controls' dtype).
    """
    return _sinusoid(
        frequencies, amplitudes, taps_f=taps_f, taps_a=taps_a, sample_rate=float(sample_rate)
    )
