"""Wavetable lookup and synthesis, and the variable-length delay line built on the same kernel."""

from __future__ import annotations

from typing import Any

from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..validation import check_rank, check_same_batch, positive_int, positive_number
from .resampling import _window_hop, linear_taps, resample_range
from .utils import pad_axis, to_float

__all__ = [
    "linear_lookup",
    "harmonic_distribution_to_wavetable",
    "wavetable_synthesis",
    "variable_length_delay",
]


def _neighbour_weights(phase: Any, n_points: int) -> tuple[Any, Any, Any]:
    """The two non-zero weights of ddsp's triangular kernel on ``linspace(0, 1, n_points + 1)``.

    ddsp weighs every grid point j by ``relu(1 - |phase - j / n_points| * n_points)``; at most
    the two grid points around ``phase`` get a non-zero weight. They are returned with the same
    formula (so values and the relu / abs gradients w.r.t. phase equal ddsp's), with ``lo``
    clamped to [0, n_points - 1] so that phases outside [0, 1] keep ddsp's single edge weight.

    Args:
        phase: phases in cycles, any shape.
        n_points: number of table samples (the grid has one more point, the wrapped sample 0).

    Returns:
        ``(lo, w_lo, w_hi)``: integer grid index ``lo`` (the other neighbour is ``lo + 1``) and
        the two weights, all of the shape of ``phase``.
    """
    xp = array_namespace(phase)
    raw = stop_gradient(phase)
    scaled = xp.where(raw == raw, raw * n_points, 0)  # NaN phases: any valid index (weight NaN)
    lo = xp.clip(xp.floor(scaled), 0, n_points - 1).astype(xp.int64)
    grid_lo = (lo / n_points).astype(raw.dtype)
    grid_hi = ((lo + 1) / n_points).astype(raw.dtype)
    w_lo = ops.relu(1.0 - ops.abs(phase - grid_lo) * n_points)
    w_hi = ops.relu(1.0 - ops.abs(phase - grid_hi) * n_points)
    return lo, w_lo, w_hi


def linear_lookup(phase: Any, wavetables: Any) -> Any:
    """Read wavetables at ``phase`` with linear interpolation and wrap-around.

    ddsp appends the first table sample at the end (W + 1 points on ``linspace(0, 1, W + 1)``)
    and sums ``relu(1 - |phase - grid| * W) * table`` over a ``[batch, n, W + 1]`` weight
    tensor. Only the two grid points around each phase have non-zero weight, so this computes
    exactly those two terms with ddsp's formula and gathers the two table samples: the same
    numbers and gradients (including the relu-kernel gradient w.r.t. phase, zero exactly on a
    grid point) in O(n) memory. Phases outside [0, 1] are not wrapped (as in ddsp): up to one
    table step outside they fade the edge sample out, further out they give 0.

    Args:
        phase: ``[batch, n_samples, 1]`` or ``[batch, n_samples]``, in cycles, within [0, 1].
        wavetables: ``[batch, n_samples, n_wavetable]`` (one table per sample) or
            ``[batch, n_wavetable]`` / ``[batch, 1, n_wavetable]`` (one table for all samples).

    Returns:
        ``[batch, n_samples]``.

    Raises:
        ValueError: for phase or wavetables of another rank, or an empty table.
    """
    phase = to_float(phase, "phase", "linear_lookup")
    wavetables = to_float(wavetables, "wavetables", "linear_lookup")
    if len(phase.shape) == 3 and phase.shape[-1] != 1:
        raise ValueError(
            f"linear_lookup: phase must be [batch, n_samples(, 1)], got shape {phase.shape}"
        )
    if len(phase.shape) not in (2, 3):
        raise ValueError(
            f"linear_lookup: phase must be [batch, n_samples(, 1)], got shape {phase.shape}"
        )
    if len(wavetables.shape) not in (2, 3) or wavetables.shape[-1] < 1:
        raise ValueError(
            "linear_lookup: wavetables must be [batch(, n_samples), n_wavetable] with "
            f"n_wavetable >= 1, got shape {wavetables.shape}"
        )
    if len(phase.shape) == 2:
        phase = ops.expand_dims(phase, -1)
    if len(wavetables.shape) == 2:
        wavetables = ops.expand_dims(wavetables, 1)
    if wavetables.shape[1] not in (1, phase.shape[1]) or wavetables.shape[0] not in (
        1,
        phase.shape[0],
    ):
        raise ValueError(
            f"linear_lookup: wavetables of shape {tuple(wavetables.shape)} do not fit phase of "
            f"shape {tuple(phase.shape)} (one table per sample, or one for all)"
        )
    n_wavetable = wavetables.shape[-1]
    lo, w_lo, w_hi = _neighbour_weights(phase, n_wavetable)
    hi = (lo + 1) % n_wavetable  # grid point W is the appended copy of sample 0
    values_lo = ops.take_along_axis(wavetables, lo, axis=-1)
    values_hi = ops.take_along_axis(wavetables, hi, axis=-1)
    return ops.squeeze(w_lo * values_lo + w_hi * values_hi, -1)


def _lookup_interpolated_tables(phase: Any, wavetables: Any, n_samples: int, span: tuple) -> Any:
    """``linear_lookup(phase, resample(wavetables, n_samples))`` without the resampled tables.

    ddsp resamples ``[batch, n_frames, W]`` tables linearly to ``[batch, n_samples, W]`` before
    the lookup. Only two table samples are read per output sample, so this gathers those two
    from the two bracketing frames and applies the same legacy-resize interpolation
    (``a + (b - a) * lerp``) to them: equal numbers, O(n_samples) memory instead of
    O(n_samples * W). ``phase`` holds the output steps ``span = (start, stop)``.
    """
    xp = array_namespace(phase, wavetables)
    batch, n_frames, n_wavetable = wavetables.shape
    frame_lo, frame_hi, lerp = linear_taps(xp, n_frames, n_samples, False, span)
    lerp = lerp.astype(wavetables.dtype)[None, :, None]
    lo, w_lo, w_hi = _neighbour_weights(phase, n_wavetable)
    hi = (lo + 1) % n_wavetable
    flat = ops.reshape(wavetables, (batch, 1, n_frames * n_wavetable))
    start_lo = (frame_lo * n_wavetable)[None, :, None]
    start_hi = (frame_hi * n_wavetable)[None, :, None]

    def table_at(index: Any) -> Any:  # the resampled table at sample n, entry index[b, n]
        a = ops.take_along_axis(flat, start_lo + index, axis=-1)
        b = ops.take_along_axis(flat, start_hi + index, axis=-1)
        return a + (b - a) * lerp

    return ops.squeeze(w_lo * table_at(lo) + w_hi * table_at(hi), -1)


def harmonic_distribution_to_wavetable(harmonic_distribution: Any, n_wavetable: int = 2048) -> Any:
    """One cycle of a sum of cosines with the given harmonic amplitudes.

    The harmonic axis is padded with a leading zero (DC) and ``n_wavetable // 2 - n_harmonics``
    trailing zeros, inverse real FFT'd and multiplied by ``n_wavetable / 2``:
    ``table[t] = sum_k a_k cos(2 pi k t / n_wavetable)`` (k = 1..n_harmonics; a harmonic at
    exactly Nyquist gets half amplitude). As in ddsp an odd ``n_wavetable`` yields
    ``n_wavetable - 1`` samples. ddsp requires 3-D input; any rank works here.

    Args:
        harmonic_distribution: ``[batch, n_frames, n_harmonics]`` harmonic amplitudes.
        n_wavetable: samples per table.

    Returns:
        ``[batch, n_frames, n_wavetable]``.

    Raises:
        ValueError: if ``n_harmonics > n_wavetable // 2``.
    """
    where = "harmonic_distribution_to_wavetable"
    harmonic_distribution = to_float(harmonic_distribution, "harmonic_distribution", where)
    check_rank(harmonic_distribution, range(1, 8), "harmonic_distribution", where, "[..., n]")
    n_wavetable = positive_int(n_wavetable, "n_wavetable", where)
    n_harmonics = harmonic_distribution.shape[-1]
    n_pad = int(n_wavetable / 2) - n_harmonics
    if n_pad < 0:
        raise ValueError(
            f"harmonic_distribution_to_wavetable: n_harmonics ({n_harmonics}) must be at most "
            f"n_wavetable / 2 ({int(n_wavetable / 2)}), got n_wavetable={n_wavetable}"
        )
    xp = array_namespace(harmonic_distribution)
    spectrum = pad_axis(harmonic_distribution, (1, n_pad), axis=-1)
    spectrum = ops.make_complex(spectrum, xp.zeros(spectrum.shape, dtype=spectrum.dtype))
    wavetable = ops.irfft(spectrum, axis=-1)
    if wavetable.dtype != harmonic_distribution.dtype:
        wavetable = ops.astype(wavetable, harmonic_distribution.dtype)
    return wavetable * (n_wavetable / 2.0)


# Output samples per chunk of wavetable_synthesis (times the batch): ~0.5 MB per float64
# intermediate (a dozen of them), so 10 minutes at 48 kHz render in bounded memory.
CHUNK_ELEMENTS = 1 << 16
MIN_CHUNK = 256  # samples (tests patch both to put chunk boundaries in small signals)


def _phase(frequency_envelopes: Any, sample_rate: float, phase0: Any) -> tuple[Any, Any]:
    """Exclusive running sum of ``f / sample_rate`` modulo 1 after ``phase0`` [cycles],
    accumulated in float64; returns the phase (input dtype) and the float64 phase after the
    last sample (the next chunk's ``phase0``).

    ddsp sums in float32, which drifts by milli-cycles over 64000 samples; the float64 sum is
    cast back to the input dtype (the difference from ddsp is that float32 drift, below 1e-3).
    """
    dtype = frequency_envelopes.dtype
    xp = array_namespace(frequency_envelopes)
    velocity = ops.astype(frequency_envelopes, xp.float64) / float(sample_rate)
    before = ops.cumsum(velocity, axis=1, exclusive=True) + phase0
    phase = ops.mod(before, 1.0)
    next_phase = ops.mod(before[:, -1:] + velocity[:, -1:], 1.0)
    return (phase if dtype == phase.dtype else ops.astype(phase, dtype)), next_phase


def wavetable_synthesis(
    frequencies: Any,
    amplitudes: Any,
    wavetables: Any,
    n_samples: int = 64000,
    sample_rate: float = 16000,
) -> Any:
    """Wavetable oscillator: read time-varying tables at a running phase.

    Frequencies are resampled with 'linear', amplitudes with 'window' (so ``n_samples`` must be
    a multiple of ``n_frames``), tables with more than one frame with 'linear'. The phase is the
    *exclusive* running sum of ``f / sample_rate`` modulo 1 (it starts at 0, unlike
    oscillator_bank), accumulated in float64 for accuracy (ddsp accumulates in float32).
    Multi-frame tables are interpolated at the two samples each output step reads instead of
    being materialised as ``[batch, n_samples, n_wavetable]`` (same numbers), and the output
    is rendered in chunks of samples (phase carried in float64), so memory is O(n_samples).

    Args:
        frequencies: ``[batch, n_frames, 1]`` in Hz.
        amplitudes: ``[batch, n_frames, 1]``.
        wavetables: ``[batch, n_wavetable]`` or ``[batch, n_wavetable_frames, n_wavetable]``.
        n_samples: output length in samples.
        sample_rate: in Hz.

    Returns:
        ``[batch, n_samples]``.

    Raises:
        ValueError: for controls of other shapes, batch mismatches, non-positive sizes or
            sample rate, or ``n_samples`` not a multiple of the amplitude frames.
    """
    where = "wavetable_synthesis"
    frequencies = to_float(frequencies, "frequencies", where)
    amplitudes = to_float(amplitudes, "amplitudes", where)
    wavetables = to_float(wavetables, "wavetables", where)
    check_rank(frequencies, 3, "frequencies", where, "[batch, n_frames, 1]")
    check_rank(amplitudes, 3, "amplitudes", where, "[batch, n_frames, 1]")
    check_rank(wavetables, (2, 3), "wavetables", where, "[batch(, n_frames), n_wavetable]")
    batch = check_same_batch(
        where, frequencies=frequencies, amplitudes=amplitudes, wavetables=wavetables
    )
    n_samples = positive_int(n_samples, "n_samples", where)
    sample_rate = positive_number(sample_rate, "sample_rate", where)
    for name, x in (("frequencies", frequencies), ("amplitudes", amplitudes)):
        if x.shape[1] < 1 or x.shape[2] != 1:
            raise ValueError(f"{where}: {name} must be [batch, n_frames >= 1, 1], got {x.shape}")
    if wavetables.shape[-1] < 1 or (len(wavetables.shape) == 3 and wavetables.shape[1] < 1):
        raise ValueError(f"{where}: wavetables are empty (shape {tuple(wavetables.shape)})")
    _window_hop(amplitudes.shape[1], n_samples, True, "upsample_with_windows")
    if len(wavetables.shape) == 2:
        wavetables = ops.expand_dims(wavetables, 1)
    xp = array_namespace(frequencies)
    size = max(MIN_CHUNK, CHUNK_ELEMENTS // batch)
    phase0, parts = xp.zeros((1, 1, 1)), []
    for start in range(0, n_samples, size):
        span = (start, min(n_samples, start + size))
        frequency_envelopes = resample_range(frequencies, n_samples, "linear", True, span)
        amplitude_envelope = resample_range(amplitudes, n_samples, "window", True, span)[:, :, 0]
        phase, phase0 = _phase(frequency_envelopes, sample_rate, phase0)
        if wavetables.shape[1] > 1:
            audio = _lookup_interpolated_tables(phase, wavetables, n_samples, span)
        else:
            audio = linear_lookup(phase, wavetables)
        parts.append(audio * amplitude_envelope)
    return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=1)


def variable_length_delay(phase: Any, audio: Any, max_length: int = 512) -> Any:
    """Delay each sample by ``phase * max_length`` samples, linearly interpolated.

    ddsp frames the left-padded audio into ``[batch, n_samples, max_length]`` delay lines
    (index d = delay of d samples) and calls linear_lookup. This reads the two needed samples
    of the padded audio directly with the same weights (O(n_samples) memory). Inherited from
    linear_lookup's wrap-around: phase 1.0 means **zero** delay, and phases in
    ((max_length - 1) / max_length, 1) interpolate between delay max_length - 1 and delay 0.

    Args:
        phase: ``[batch, n_samples, 1]`` or ``[batch, n_samples]`` in [0, 1]; a time axis of 1
            applies one delay to every sample.
        audio: ``[batch, n_samples]``.
        max_length: delay-line length in samples.

    Returns:
        ``[batch, n_samples]``.

    Raises:
        ValueError: for a non-positive max_length or shapes that do not fit.
    """
    where = "variable_length_delay"
    phase, audio = to_float(phase, "phase", where), to_float(audio, "audio", where)
    max_length = positive_int(max_length, "max_length", where)
    if len(audio.shape) != 2:
        raise ValueError(
            f"variable_length_delay: audio must be [batch, n_samples], got shape {audio.shape}"
        )
    if len(phase.shape) == 3 and phase.shape[-1] == 1:
        phase = phase[:, :, 0]
    try:
        phase = phase if phase.shape == audio.shape else ops.broadcast_to(phase, audio.shape)
    except ValueError as err:
        raise ValueError(
            f"variable_length_delay: phase of shape {phase.shape} does not fit audio of shape "
            f"{audio.shape}"
        ) from err
    xp = array_namespace(phase, audio)
    lo, w_lo, w_hi = _neighbour_weights(phase, max_length)
    hi = (lo + 1) % max_length
    padded = pad_axis(audio, (max_length - 1, 0), axis=1)
    # A delay of d samples at output n reads padded[n + max_length - 1 - d].
    now = xp.arange(audio.shape[1])[None, :] + (max_length - 1)
    delayed_lo = ops.take_along_axis(padded, now - lo, axis=1)
    delayed_hi = ops.take_along_axis(padded, now - hi, axis=1)
    return w_lo * delayed_lo + w_hi * delayed_hi
