"""Frame-rate synthesis of ddsp.core: harmonic_synthesis, streaming_harmonic_synthesis, and
the sinusoidal synthesis behind ``synths.Sinusoidal``; each path in bounded memory.

Each function validates and converts its inputs once, then takes one of three paths:

- fused: frame-rate controls go straight into the fused oscillator ops with their upsampling
  described by two-tap tables ('nearest', 'linear' and 'window' amplitudes; no
  ``harmonic_shifts``), memory O(n_samples) for the audio alone;
- fused in chunks ('cubic' amplitudes, lengths without tables): f0 and the amplitudes are
  resampled one chunk of output samples at a time and rendered by the fused op at the sample
  rate, the float64 phase carried from chunk to chunk;
- composed in chunks (``harmonic_shifts``, and every path under ``DDSP_REF_KERNELS=composed``):
  ddsp's resample + oscillator bank as composed autodiff ops on chunks of output samples, the
  float64 phases carried, so ``[batch, chunk, n_harmonics]`` controls replace
  ``[batch, n_samples, n_harmonics]`` ones (same numbers up to float64 phase rounding).

One numerical difference between the paths: the fused harmonic kernel forms harmonic k's phase
as ``k * phi`` from the float64 phase of the fundamental, where the chunked path (like ddsp)
integrates every ``k * f0`` rounded to the working dtype; with float32 controls that rounding
drifts the phase of high harmonics by up to ~1e-2 rad over 4 s, so the fused float32 output is
the closer one to the exact answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..autodiff import ops
from ..autodiff.fused.oscillators import Taps, fused_enabled, harmonic_bank, sinusoid_bank
from ..backend import array_namespace
from ..validation import check_rank, check_same_batch, one_of, positive_int, positive_number
from .oscillators import (
    batch_phase,
    composed_bank,
    composed_harmonic_bank,
    normalize_harmonics,
    working_dtype,
)
from .resampling import _METHODS, frames_read, resample_range, resample_taps
from .utils import to_float

__all__ = ["harmonic_synthesis", "streaming_harmonic_synthesis", "sinusoidal_synthesis"]

# Elements of [batch, chunk, n_oscillators] per chunk of the composed path: ~8 MB per float64
# intermediate, large enough that the per-chunk overhead does not show.
CHUNK_ELEMENTS = 1 << 20
MIN_CHUNK = 256  # samples (tests patch both to put chunk boundaries in small signals)


def _chunks(n_samples: int, per_sample: int) -> list[tuple[int, int]]:
    size = max(MIN_CHUNK, CHUNK_ELEMENTS // max(per_sample, 1))
    return [(start, min(n_samples, start + size)) for start in range(0, n_samples, size)]


def _concatenate(parts: list) -> Any:
    return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=1)


_OPTIONAL = ("harmonic_shifts", "harmonic_distribution")


def _controls(where: str, n_samples: Any, sample_rate: Any, method: str, **controls: Any):
    """Validate frame-wise controls ``[batch, n_frames, channels]`` (None skipped), sizes and
    the method; returns the float arrays, ``n_samples`` and ``sample_rate``."""
    out = {}
    for name, x in controls.items():
        if x is None and name in _OPTIONAL:
            out[name] = None
            continue
        x = to_float(x, name, where)
        check_rank(x, 3, name, where, "[batch, n_frames, channels]")
        out[name] = x
    arrays = {k: v for k, v in out.items() if v is not None}
    check_same_batch(where, **arrays)
    frames = {k: int(v.shape[1]) for k, v in arrays.items()}
    if len(set(frames.values())) > 1 or min(frames.values()) < 1:
        raise ValueError(f"{where}: the controls must share n_frames >= 1, got {frames}")
    one_of(method, _METHODS, "amp_resample_method", where)
    n_samples = positive_int(n_samples, "n_samples", where)
    return out, n_samples, positive_number(sample_rate, "sample_rate", where)


def _to_batch(x: Any, batch: int) -> Any:
    """Broadcast a batch axis of 1 (allowed by check_same_batch) to ``batch``."""
    return x if x.shape[0] == batch else ops.broadcast_to(x, (batch,) + tuple(x.shape[1:]))


def _single_channel(where: str, **controls: Any) -> None:
    for name, x in controls.items():
        if x.shape[-1] != 1:
            raise ValueError(
                f"{where}: {name} must have shape [batch, n_frames, 1], got {tuple(x.shape)}"
            )


def _frame_taps(f0: Any, amps: Any, n_samples: int, method: str, dtype: Any = None) -> tuple | None:
    """Taps of frame-rate f0 and amplitudes (working dtype ``dtype``, default the amplitudes')
    for the fused kernels, or None."""
    if not fused_enabled():
        return None
    taps_f = resample_taps(f0.shape[1], n_samples, "linear")
    taps_a = resample_taps(
        amps.shape[1], n_samples, method, working_dtype(amps) if dtype is None else dtype
    )
    return None if taps_f is None or taps_a is None else (taps_f, taps_a)


@functools.lru_cache(maxsize=8)
def _identity_taps(n: int) -> Taps:
    return Taps.identity(n)


def _harmonic_chunks(f0, dist, gain, n_samples, sample_rate, method, phase0, nyquist) -> tuple:
    """The fused harmonic bank over chunks of samples, for amplitude resampling without
    two-tap tables ('cubic', or 'window' that ddsp rejects): f0 [B, F, 1] and the amplitudes
    ``dist * gain`` ([B, F, H] times [B, F, 1] or None) are resampled chunk by chunk (the
    product formed only on the frames a chunk reads) and rendered at the sample rate, the
    float64 fundamental phase carried from chunk to chunk. Returns (audio, final phase [B])."""
    n_frames = dist.shape[1]

    def render(span, phase):
        freq = resample_range(f0, n_samples, "linear", True, span)
        first, stop = frames_read(n_frames, n_samples, span)
        part = dist[:, first:stop] if gain is None else dist[:, first:stop] * gain[:, first:stop]
        harm = resample_range(part, n_samples, method, True, span, (first, n_frames))
        taps = _identity_taps(span[1] - span[0])
        freq = ops.reshape(freq, tuple(freq.shape[:2]))
        return harmonic_bank(freq, harm, taps, taps, phase, sample_rate, nyquist)

    return _chunked(n_samples, dist.shape[0] * dist.shape[-1], render, phase0)


def _chunked(n_samples: int, per_sample: int, render: Callable, state: Any) -> tuple:
    """``render(span, state) -> (audio [batch, span], state)`` over the chunks of the output;
    returns the concatenated audio and the final state."""
    parts = []
    for span in _chunks(n_samples, per_sample):
        audio, state = render(span, state)
        parts.append(audio)
    return _concatenate(parts), state


def harmonic_synthesis(
    frequencies: Any,
    amplitudes: Any,
    harmonic_shifts: Any = None,
    harmonic_distribution: Any = None,
    n_samples: int = 64000,
    sample_rate: int = 16000,
    amp_resample_method: str = "window",
    use_angular_cumsum: bool = False,
) -> Any:
    """Audio from frame-wise controls of a monophonic harmonic oscillator bank.

    Harmonic k has frequency ``f0 * k * (1 + shift_k)`` and amplitude ``amp * dist_k``.
    Frequencies are upsampled linearly, amplitudes with ``amp_resample_method``, and the bank
    runs at the sample rate (silencing harmonics above Nyquist per sample). As in ddsp, the
    distribution is not normalised here. Memory stays O(n_samples) on every path (see the
    module docstring).

    Args:
        frequencies: Frame-wise fundamental frequency [Hz], shape [batch, n_frames, 1].
        amplitudes: Frame-wise amplitude, shape [batch, n_frames, 1].
        harmonic_shifts: Relative frequency deviations of the harmonics (zero-centred), shape
            [batch, n_frames, n_harmonics], or None.
        harmonic_distribution: Harmonic amplitudes relative to ``amplitudes``, shape
            [batch, n_frames, n_harmonics], or None.
        n_samples: Output length in samples.
        sample_rate: Samples per second.
        amp_resample_method: 'nearest', 'linear', 'cubic' or 'window' (see ``resample``).
        use_angular_cumsum: Accepted for API parity (see ``oscillator_bank``).

    Returns:
        Audio, shape [batch, n_samples] (ddsp's docstring says [batch, n_samples, 1]; the
        tensor is 2-D there too).

    Raises:
        ValueError: for controls of other shapes (rank, batch, frames), non-positive sizes or
            sample rate, or an unknown method.
    """
    del use_angular_cumsum
    where = "harmonic_synthesis"
    c, n_samples, sample_rate = _controls(
        where,
        n_samples,
        sample_rate,
        amp_resample_method,
        frequencies=frequencies,
        amplitudes=amplitudes,
        harmonic_shifts=harmonic_shifts,
        harmonic_distribution=harmonic_distribution,
    )
    f0, shifts, dist = c["frequencies"], c["harmonic_shifts"], c["harmonic_distribution"]
    _single_channel(where, frequencies=f0, amplitudes=c["amplitudes"])
    if shifts is not None and dist is not None and shifts.shape[-1] != dist.shape[-1]:
        raise ValueError(
            f"{where}: harmonic_shifts and harmonic_distribution disagree on n_harmonics: "
            f"{tuple(shifts.shape)} and {tuple(dist.shape)}"
        )
    batch = max(x.shape[0] for x in c.values() if x is not None)
    f0, amplitudes = _to_batch(f0, batch), _to_batch(c["amplitudes"], batch)
    xp = array_namespace(f0)
    if shifts is None and fused_enabled():
        # The kernel forms amplitudes * distribution one piece at a time (gain).
        dist = amplitudes if dist is None else _to_batch(dist, batch)
        gain = None if dist is amplitudes else amplitudes
        dtype = working_dtype(dist) if gain is None else working_dtype(dist, gain)
        taps = _frame_taps(f0, dist, n_samples, amp_resample_method, dtype)
        if taps is None:
            return _harmonic_chunks(
                f0, dist, gain, n_samples, sample_rate, amp_resample_method, xp.zeros(batch), True
            )[0]
        f0_2d = ops.reshape(f0, (batch, f0.shape[1]))
        audio, _ = harmonic_bank(f0_2d, dist, *taps, xp.zeros(batch), sample_rate, gain=gain)
        return audio
    dist = None if dist is None else _to_batch(dist, batch)
    n_harmonics = max(
        1 if dist is None else dist.shape[-1], 1 if shifts is None else shifts.shape[-1]
    )
    ratios = xp.arange(1, n_harmonics + 1).astype(f0.dtype)
    n_frames = f0.shape[1]

    def render(span, phase):
        # ddsp's frame-rate products, formed only on the frames this chunk reads.
        first, stop = frames_read(n_frames, n_samples, span)
        frames = slice(first, stop)
        harmonic_frequencies = f0[:, frames] * ratios
        if shifts is not None:
            harmonic_frequencies = harmonic_frequencies * (1.0 + shifts[:, frames])
        harmonic_amplitudes = amplitudes[:, frames]
        if dist is not None:
            harmonic_amplitudes = harmonic_amplitudes * dist[:, frames]
        where = (first, n_frames)
        freqs = resample_range(harmonic_frequencies, n_samples, "linear", True, span, where)
        amps = resample_range(
            harmonic_amplitudes, n_samples, amp_resample_method, True, span, where
        )
        oscillators, phase = composed_bank(freqs, amps, sample_rate, phase)
        return ops.sum(oscillators, axis=-1), phase

    audio, _ = _chunked(n_samples, batch * n_harmonics, render, None)
    return audio


def streaming_harmonic_synthesis(
    frequencies: Any,
    amplitudes: Any,
    harmonic_distribution: Any = None,
    initial_phase: Any = None,
    n_samples: int = 64000,
    sample_rate: int = 16000,
    amp_resample_method: str = "linear",
) -> tuple[Any, Any]:
    """Block-wise harmonic synthesis that carries the oscillator phase between calls.

    The distribution is normalised with harmonics above Nyquist removed at frame rate
    (``normalize_harmonics(dist, f0, sample_rate)``), multiplied by the amplitude, upsampled
    (f0 linearly, amplitudes with ``amp_resample_method``) and rendered like
    ``harmonic_oscillator_bank`` (harmonic k at ``k * phi``), in O(n_samples) memory.

    Args:
        frequencies: Frame-wise fundamental frequency [Hz], shape [batch, n_frames, 1].
        amplitudes: Frame-wise amplitude, shape [batch, n_frames, 1].
        harmonic_distribution: shape [batch, n_frames, n_harmonics], or None (one harmonic).
        initial_phase: Phase [rad] before the first sample, shape [batch, 1, 1] (default 0).
        n_samples: Output length in samples.
        sample_rate: Samples per second.
        amp_resample_method: 'nearest', 'linear', 'cubic' or 'window'.

    Returns:
        audio: shape [batch, n_samples].
        final_phase: shape [batch, 1, 1], in [0, 2*pi] (see ``harmonic_oscillator_bank``).
    """
    where = "streaming_harmonic_synthesis"
    c, n_samples, sample_rate = _controls(
        where,
        n_samples,
        sample_rate,
        amp_resample_method,
        frequencies=frequencies,
        amplitudes=amplitudes,
        harmonic_distribution=harmonic_distribution,
    )
    f0, harmonic_amplitudes = c["frequencies"], c["amplitudes"]
    _single_channel(where, frequencies=f0, amplitudes=harmonic_amplitudes)
    if c["harmonic_distribution"] is not None:
        dist = normalize_harmonics(c["harmonic_distribution"], f0, sample_rate)
        harmonic_amplitudes = harmonic_amplitudes * dist
    batch = max(f0.shape[0], harmonic_amplitudes.shape[0])
    f0, harmonic_amplitudes = _to_batch(f0, batch), _to_batch(harmonic_amplitudes, batch)
    xp = array_namespace(f0)
    phase0 = xp.zeros(batch) if initial_phase is None else batch_phase(initial_phase, batch, where)
    dtype = working_dtype(f0, harmonic_amplitudes)
    taps = _frame_taps(f0, harmonic_amplitudes, n_samples, amp_resample_method)
    if taps is not None:
        f0_2d = ops.reshape(f0, (batch, f0.shape[1]))
        audio, final = harmonic_bank(
            f0_2d, harmonic_amplitudes, *taps, phase0, sample_rate, nyquist=False
        )
    elif fused_enabled():
        audio, final = _harmonic_chunks(
            f0,
            harmonic_amplitudes,
            None,
            n_samples,
            sample_rate,
            amp_resample_method,
            phase0,
            False,
        )
    else:

        def render(span, phase):
            freq = resample_range(f0, n_samples, "linear", True, span)
            amps = resample_range(harmonic_amplitudes, n_samples, amp_resample_method, True, span)
            return composed_harmonic_bank(freq, amps, phase, sample_rate)

        per_sample = batch * harmonic_amplitudes.shape[-1]
        audio, final = _chunked(n_samples, per_sample, render, phase0)
    final = final if final.dtype == dtype else ops.astype(final, dtype)
    return audio, ops.reshape(final, (batch, 1, 1))


def sinusoidal_synthesis(
    frequencies: Any,
    amplitudes: Any,
    n_samples: int = 64000,
    sample_rate: int = 16000,
    amp_resample_method: str = "window",
) -> Any:
    """Frame-rate sinusoidal synthesis (ddsp's Sinusoidal synth) in O(n_samples) memory.

    Computes ``oscillator_bank(resample(frequencies, n_samples),
    resample(amplitudes, n_samples, amp_resample_method), sample_rate)`` without
    materialising the ``[batch, n_samples, n_sinusoids]`` controls. Not a ddsp function.

    Args:
        frequencies: [Hz], shape [batch, n_frames, n_sinusoids].
        amplitudes: shape [batch, n_frames, n_sinusoids].
        n_samples: output length.
        sample_rate: samples per second.
        amp_resample_method: as in ``resample``.

    Returns:
        audio [batch, n_samples].
    """
    where = "sinusoidal_synthesis"
    c, n_samples, sample_rate = _controls(
        where,
        n_samples,
        sample_rate,
        amp_resample_method,
        frequencies=frequencies,
        amplitudes=amplitudes,
    )
    freqs, amps = c["frequencies"], c["amplitudes"]
    if freqs.shape != amps.shape:
        raise ValueError(
            f"{where}: frequencies and amplitudes must have the same shape "
            f"[batch, n_frames, n_sinusoids], got {tuple(freqs.shape)} and {tuple(amps.shape)}"
        )
    taps = _frame_taps(freqs, amps, n_samples, amp_resample_method)
    if taps is not None:
        return sinusoid_bank(freqs, amps, *taps, sample_rate)

    def render(span, phase):
        f = resample_range(freqs, n_samples, "linear", True, span)
        a = resample_range(amps, n_samples, amp_resample_method, True, span)
        oscillators, phase = composed_bank(f, a, sample_rate, phase)
        return ops.sum(oscillators, axis=-1), phase

    audio, _ = _chunked(n_samples, amps.shape[0] * amps.shape[-1], render, None)
    return audio
