"""Autodiff ops over the fused oscillator kernels, and the upsampling taps they read.

One op per kernel family: ``fused_harmonic_bank`` and ``fused_sinusoid_bank``. Their forward
calls ``ddsp_ref.kernels.oscillator`` (numba CPU / CUDA kernel or the array reference) and
saves only the frame-rate inputs; their VJP calls the backward kernel, which recomputes the
phases instead of storing ``[batch, n_samples, n_harmonics]`` arrays.

The taps are ddsp's own upsamplers written as two-tap tables (see
``kernels/oscillator_reference.py``): 'linear' uses TF1's legacy float32 source positions
exactly as ``resample`` does, 'window' the same periodic Hann crossfade as
``upsample_with_windows`` (in the working dtype), so the fused path computes the same function
as the composed ops; only the order of float operations differs (and the phases and sums run in
float64). Taps are small descriptors (no per-sample tables) cached per (frames, samples,
method, dtype); the kernel launcher caches its plans by the identity of these cached objects.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..autodiff import ops
from ..autodiff.tape import Primitive
from ..backend import array_namespace
from ..kernels import oscillator as kernels
from ..kernels.selection import use_fused
from .resampling import _periodic_hann
from .utils import to_float

__all__ = [
    "fused_enabled",
    "resample_taps",
    "identity_taps",
    "harmonic_bank",
    "sinusoid_bank",
    "sinusoidal_synthesis",
    "oscillator_bank_fused",
    "harmonic_oscillator_bank_fused",
    "harmonic_synthesis_fused",
    "streaming_synthesis_fused",
]


def fused_enabled() -> bool:
    """Whether library functions use the fused kernels (``DDSP_REF_KERNELS != 'composed'``)."""
    return use_fused()


# -- taps -----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def resample_taps(
    n_frames: int, n_samples: int, method: str, dtype: Any = np.float32
) -> kernels.Taps | None:
    """The :class:`~ddsp_ref.kernels.oscillator.Taps` of ``resample(x, n_samples, method)``.

    Args:
        n_frames: input frames.
        n_samples: output samples.
        method: 'linear' or 'window' (ddsp's ``add_endpoint=True``).
        dtype: working dtype of the resampled array ('window' weights are rounded to it, as
            ``upsample_with_windows`` builds its window in that dtype).

    Returns:
        The taps, or None where the fused kernels do not apply (other methods, downsampling,
        'window' with ``n_samples`` not a multiple of ``n_frames``): callers then use the
        composed ops, which also raise ddsp's errors.
    """
    n_frames, n_samples = int(n_frames), int(n_samples)
    if n_frames < 1 or n_samples < n_frames:
        return None
    if method == "linear":
        taps = kernels.Taps.linear(n_frames, n_samples)
        if 2 * n_frames > n_samples or n_frames >= 1 << 22:
            # Near 1:1, TF's float32 positions may skip a frame; the kernels need every frame.
            lo = taps.tables()[0]
            steps = np.diff(lo)
            if lo[-1] != n_frames - 1 or (steps.size and steps.max() > 1):
                return None
        return taps
    if method == "window":
        if n_samples % n_frames or n_frames + 1 >= n_samples:
            return None
        window = _periodic_hann(np, 2 * (n_samples // n_frames), np.dtype(dtype))
        return kernels.Taps.windowed(n_frames, n_samples, window)
    return None


@functools.lru_cache(maxsize=16)
def identity_taps(n_samples: int) -> kernels.Taps:
    """Taps of controls already at the sample rate (no interpolation)."""
    return kernels.Taps.identity(int(n_samples))


# -- autodiff ops ---------------------------------------------------------------------------------
def _harmonic_fwd(xp, f0, amps, phase0, taps_f, taps_a, sample_rate, nyquist, with_final):
    audio, final = kernels.harmonic_forward(f0, amps, taps_f, taps_a, phase0, sample_rate, nyquist)
    if with_final:  # one output array: audio then the final phase as sample N
        audio = xp.concatenate([audio, final.astype(audio.dtype)[:, None]], axis=1)
    return audio, (f0, amps, phase0)


def _harmonic_vjp(
    xp, saved, g, taps_f, taps_a, sample_rate, nyquist, with_final, needs=(True, True, True)
):
    f0, amps, phase0 = saved
    g_audio, g_final = (g[:, :-1], g[:, -1]) if with_final else (g, None)
    return kernels.harmonic_backward(
        f0,
        amps,
        taps_f,
        taps_a,
        phase0,
        sample_rate,
        nyquist,
        g_audio,
        g_final,
        need_amps=needs[1],
        need_phase=needs[0] or needs[2],
    )


_harmonic = Primitive("fused_harmonic_bank", _harmonic_fwd, _harmonic_vjp)


def _sinusoid_fwd(xp, freqs, amps, taps_f, taps_a, sample_rate):
    return kernels.sinusoid_forward(freqs, amps, taps_f, taps_a, sample_rate), (freqs, amps)


def _sinusoid_vjp(xp, saved, g, taps_f, taps_a, sample_rate, needs=(True, True)):
    freqs, amps = saved
    return kernels.sinusoid_backward(
        freqs, amps, taps_f, taps_a, sample_rate, g, need_amps=needs[1], need_freqs=needs[0]
    )


_sinusoid = Primitive("fused_sinusoid_bank", _sinusoid_fwd, _sinusoid_vjp)


def harmonic_bank(
    f0_hz: Any,
    amplitudes: Any,
    taps_f: kernels.Taps,
    taps_a: kernels.Taps,
    initial_phase: Any = None,
    sample_rate: float = 16000,
    nyquist: bool = True,
    with_final_phase: bool = False,
) -> Any:
    """Fused harmonic oscillator bank (differentiable in f0, amplitudes and initial phase).

    ``out[b, n] = sum_k a_k(n) sin(k phi(n))``, ``phi`` the inclusive float64 cumulative sum
    of ``2 pi f0(n) / sample_rate`` plus ``initial_phase``, with f0 and the amplitudes
    upsampled by their taps inside the kernel.

    Args:
        f0_hz: fundamental frequency [Hz], shape [batch, n_frames_f].
        amplitudes: harmonic amplitudes, shape [batch, n_frames_a, n_harmonics].
        taps_f, taps_a: from :func:`resample_taps` / :func:`identity_taps`.
        initial_phase: phase before the first sample [rad], shape [batch], or None (zero).
        sample_rate: samples per second.
        nyquist: silence harmonic k where ``k * f0(n) >= sample_rate / 2`` (per sample).
        with_final_phase: also return the wrapped phase of the last sample.

    Returns:
        audio [batch, n_samples] (float32 unless an input is float64), and with
        ``with_final_phase`` the final phase [batch] in [0, 2*pi) in the same dtype.
    """
    f0_hz, amplitudes = to_float(f0_hz), to_float(amplitudes)
    xp = array_namespace(f0_hz, amplitudes)
    batch = f0_hz.shape[0]
    phase0 = xp.zeros(batch, dtype=xp.float64) if initial_phase is None else initial_phase
    out = _harmonic(
        f0_hz,
        amplitudes,
        phase0,
        taps_f=taps_f,
        taps_a=taps_a,
        sample_rate=float(sample_rate),
        nyquist=bool(nyquist),
        with_final=bool(with_final_phase),
    )
    if not with_final_phase:
        return out
    return out[:, :-1], out[:, -1]


def sinusoid_bank(
    frequencies: Any,
    amplitudes: Any,
    taps_f: kernels.Taps,
    taps_a: kernels.Taps,
    sample_rate: float = 16000,
) -> Any:
    """Fused bank of free sinusoids (differentiable in frequencies and amplitudes).

    Args:
        frequencies: [Hz], shape [batch, n_frames_f, n_sinusoids].
        amplitudes: shape [batch, n_frames_a, n_sinusoids].
        taps_f, taps_a: from :func:`resample_taps` / :func:`identity_taps`.
        sample_rate: samples per second; sinusoids at or above Nyquist are silent per sample.

    Returns:
        audio [batch, n_samples].
    """
    frequencies, amplitudes = to_float(frequencies), to_float(amplitudes)
    return _sinusoid(
        frequencies, amplitudes, taps_f=taps_f, taps_a=taps_a, sample_rate=float(sample_rate)
    )


def sinusoidal_synthesis(
    frequencies: Any,
    amplitudes: Any,
    n_samples: int = 64000,
    sample_rate: int = 16000,
    amp_resample_method: str = "window",
) -> Any:
    """Frame-rate sinusoidal synthesis with the upsampling fused into the kernel.

    Computes ``oscillator_bank(resample(frequencies, n_samples),
    resample(amplitudes, n_samples, amp_resample_method), sample_rate)`` (ddsp's Sinusoidal
    synth) without materialising the ``[batch, n_samples, n_sinusoids]`` controls. Not a ddsp
    function; falls back to exactly that composition where the kernel does not apply.

    Args:
        frequencies: [Hz], shape [batch, n_frames, n_sinusoids].
        amplitudes: shape [batch, n_frames, n_sinusoids].
        n_samples: output length.
        sample_rate: samples per second.
        amp_resample_method: as in ``resample``.

    Returns:
        audio [batch, n_samples].
    """
    from .oscillators import oscillator_bank
    from .resampling import resample

    frequencies, amplitudes = to_float(frequencies), to_float(amplitudes)
    dtype = np.result_type(frequencies.dtype, amplitudes.dtype)
    taps_f = taps_a = None
    if fused_enabled() and len(frequencies.shape) == 3 and frequencies.shape == amplitudes.shape:
        taps_f = resample_taps(frequencies.shape[1], n_samples, "linear")
        taps_a = resample_taps(amplitudes.shape[1], n_samples, amp_resample_method, dtype)
    if taps_f is None or taps_a is None:
        amplitudes = resample(amplitudes, n_samples, method=amp_resample_method)
        return oscillator_bank(resample(frequencies, n_samples), amplitudes, sample_rate)
    return sinusoid_bank(frequencies, amplitudes, taps_f, taps_a, sample_rate)


# -- the fused paths of core.oscillators (each returns None where the kernels do not apply) ------
def _batch_phase(initial_phase: Any, batch: int) -> Any:
    """``initial_phase`` ([batch, 1, 1], [batch] or one value) as float64 [batch]; None if its
    shape does not fit (the composed path then broadcasts or raises)."""
    phase = to_float(initial_phase)
    size = int(np.prod(phase.shape))
    xp = array_namespace(phase)
    if size not in (1, batch):
        return None
    phase = ops.reshape(phase, (size,))
    phase = phase if phase.dtype == xp.float64 else ops.astype(phase, xp.float64)
    return phase if size == batch else phase * xp.ones(batch)


def _frame_taps(f0: Any, amps: Any, n_samples: int, method: str) -> tuple | None:
    """Taps for frame-rate f0 [B, F, 1] and amplitudes [B, F', H], or None."""
    if not fused_enabled() or len(f0.shape) != 3 or f0.shape[-1] != 1:
        return None
    if len(amps.shape) != 3 or amps.shape[0] != f0.shape[0]:
        return None
    taps_f = resample_taps(f0.shape[1], n_samples, "linear")
    taps_a = resample_taps(amps.shape[1], n_samples, method, amps.dtype)
    return None if taps_f is None or taps_a is None else (taps_f, taps_a)


def oscillator_bank_fused(
    frequency_envelopes: Any, amplitude_envelopes: Any, sample_rate: float
) -> Any:
    """Summed ``oscillator_bank`` of same-shape ``[B, N, K]`` controls, or None."""
    shape = tuple(frequency_envelopes.shape)
    if not fused_enabled() or len(shape) != 3 or tuple(amplitude_envelopes.shape) != shape:
        return None
    taps = identity_taps(shape[1])
    return sinusoid_bank(frequency_envelopes, amplitude_envelopes, taps, taps, sample_rate)


def harmonic_oscillator_bank_fused(
    frequency: Any, amplitude_envelopes: Any, initial_phase: Any, sample_rate: float
) -> tuple | None:
    """``harmonic_oscillator_bank`` of ``[B, N, 1]`` / ``[B, N, H]`` controls, or None."""
    batch, n_samples = frequency.shape[0], frequency.shape[1]
    phase0 = None if initial_phase is None else _batch_phase(initial_phase, batch)
    shape = tuple(amplitude_envelopes.shape)
    if not fused_enabled() or len(shape) != 3 or shape[:2] != (batch, n_samples):
        return None
    if initial_phase is not None and phase0 is None:
        return None
    taps = identity_taps(n_samples)
    f0 = ops.reshape(frequency, (batch, n_samples))
    audio, final = harmonic_bank(
        f0,
        amplitude_envelopes,
        taps,
        taps,
        phase0,
        sample_rate,
        nyquist=False,
        with_final_phase=True,
    )
    return audio, ops.reshape(final, (batch, 1, 1))


def harmonic_synthesis_fused(
    frequencies: Any,
    amplitudes: Any,
    harmonic_distribution: Any,
    n_samples: int,
    sample_rate: float,
    method: str,
) -> Any:
    """``harmonic_synthesis`` without shifts, or None. Harmonic k's frequency is
    ``k * f0(n)`` with f0 upsampled once (the composed path upsamples every ``k * f0`` in the
    working dtype: the same up to its rounding)."""
    harmonic_amplitudes = amplitudes
    if harmonic_distribution is not None:
        harmonic_amplitudes = amplitudes * to_float(harmonic_distribution)
    taps = _frame_taps(frequencies, harmonic_amplitudes, n_samples, method)
    if taps is None:
        return None
    f0 = ops.reshape(frequencies, tuple(frequencies.shape[:2]))
    return harmonic_bank(f0, harmonic_amplitudes, taps[0], taps[1], None, sample_rate)


def streaming_synthesis_fused(
    frequencies: Any,
    harmonic_amplitudes: Any,
    initial_phase: Any,
    n_samples: int,
    sample_rate: float,
    method: str,
) -> tuple | None:
    """``streaming_harmonic_synthesis`` after its frame-rate normalisation, or None."""
    taps = _frame_taps(frequencies, harmonic_amplitudes, n_samples, method)
    batch = frequencies.shape[0]
    phase0 = None if initial_phase is None else _batch_phase(initial_phase, batch)
    if taps is None or (initial_phase is not None and phase0 is None):
        return None
    f0 = ops.reshape(frequencies, tuple(frequencies.shape[:2]))
    audio, final = harmonic_bank(
        f0,
        harmonic_amplitudes,
        taps[0],
        taps[1],
        phase0,
        sample_rate,
        nyquist=False,
        with_final_phase=True,
    )
    return audio, ops.reshape(final, (batch, 1, 1))
