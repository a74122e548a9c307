"""Oscillators of ddsp.core: phase accumulation, Nyquist masks, sinusoidal / harmonic banks.

Phase accuracy: ddsp accumulates phase with a float32 ``tf.cumsum`` (or a float32 chunked
``angular_cumsum``), whose error grows with the signal length. Here every oscillator integrates
its angular frequency in float64 (``autodiff.fused.oscillators.wrapped_cumsum``: chunked sums
wrapped modulo 2*pi) and casts the wrapped phase back to the working dtype just before the sine:
after 10 minutes at 48 kHz the float64 phase is within ~1e-10 rad of the exact one (a float32
output adds its own rounding, ~2e-7 rad). ddsp's phase conventions are kept (inclusive cumsum:
the first sample's phase is ``omega[0]``; ``>=`` at Nyquist). Gradients flow through the
wrapping (``mod`` has slope 1).

Fused kernels: the summed ``oscillator_bank`` and ``harmonic_oscillator_bank`` run the fused
oscillator ops (numba CPU / CUDA: Nyquist mask, float64 phase and the sum over oscillators in
one pass, no ``[batch, n_samples, n_oscillators]`` intermediates) unless
``DDSP_REF_KERNELS=composed``, which selects the composed ops below (the same function: tests
compare the two paths).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autodiff import ops, stop_gradient
from ..autodiff.fused.oscillators import Taps, fused_enabled, harmonic_bank, sinusoid_bank
from ..autodiff.fused.oscillators import wrapped_cumsum as _wrapped_cumsum
from ..backend import array_namespace
from ..validation import check_rank, positive_int, positive_number
from .math import safe_divide
from .utils import to_float

__all__ = [
    "angular_cumsum",
    "remove_above_nyquist",
    "normalize_harmonics",
    "oscillator_bank",
    "harmonic_oscillator_bank",
    "get_harmonic_frequencies",
]

_TWO_PI = 2.0 * math.pi


# -- helpers (inputs trusted) ---------------------------------------------------------------------
def _cast(x: Any, dtype: Any) -> Any:
    return x if x.dtype == dtype else ops.astype(x, dtype)


def _check_broadcast(a: Any, b: Any, names: str, fn: str) -> None:
    try:
        np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(
            f"{fn}: {names} must have broadcastable shapes, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        ) from None


def _check_bank(freqs: Any, amps: Any, where: str, f_name: str, a_name: str) -> None:
    """Rank-3 ``[batch, n_samples, n]`` controls whose shapes broadcast without changing rank."""
    check_rank(freqs, 3, f_name, where, "[batch, n_samples, n_oscillators]")
    check_rank(amps, 3, a_name, where, "[batch, n_samples, n_oscillators]")
    _check_broadcast(freqs, amps, f"{f_name} and {a_name}", where)
    if freqs.shape[1] == 0 or amps.shape[1] == 0:
        raise ValueError(f"{where}: the controls have no samples ({freqs.shape}, {amps.shape})")


def phase_from_hz(frequency: Any, sample_rate: float, phase0: Any = None) -> Any:
    """Float64 inclusive phase [rad] in [0, 2*pi) of oscillators with sample-wise ``frequency``
    [Hz] ``[batch, n, ...]``, after ``phase0`` (float64, broadcastable to ``[batch, 1, ...]``)."""
    xp = array_namespace(frequency)
    omega = _cast(frequency, xp.float64) * (_TWO_PI / float(sample_rate))  # rad / sample
    phase = _wrapped_cumsum(omega, axis=1)
    return phase if phase0 is None else ops.mod(phase + phase0, _TWO_PI)


def working_dtype(*xs: Any) -> Any:
    return np.result_type(*[x.dtype for x in xs])


def batch_phase(initial_phase: Any, batch: int, where: str) -> Any:
    """``initial_phase`` (``[batch, 1, 1]``, ``[batch]`` or one value) as float64 ``[batch]``."""
    phase = to_float(initial_phase, "initial_phase", where)
    size = int(np.prod(phase.shape))
    if size not in (1, batch):
        raise ValueError(
            f"{where}: initial_phase must hold one phase per batch row ({batch}) or one for all, "
            f"got shape {tuple(phase.shape)}"
        )
    xp = array_namespace(phase)
    phase = _cast(ops.reshape(phase, (size,)), xp.float64)
    return phase if size == batch else phase * xp.ones(batch)


# -- phase accumulation and Nyquist ---------------------------------------------------------------
def angular_cumsum(angular_frequency: Any, chunk_size: int = 1000) -> Any:
    """Phase by cumulative summation of angular frequency, modulo 2*pi.

    ddsp splits the input into chunks of ``chunk_size`` samples, sums inside each chunk and
    stitches the chunks with offsets accumulated modulo 2*pi, all in float32. Here the sums run
    in float64 (in chunks of their own size, so ``chunk_size`` is validated but changes
    nothing), so the result is within ~1e-10 rad of the exact phase even after 3e7 samples,
    before the cast back to the input's dtype; it therefore differs from TF in the last bits
    (and beyond them on long inputs, where TF's float32 sums drift). Any number of channel
    axes is accepted (ddsp: one).

    Args:
        angular_frequency: Radians per sample, shape [batch, n_samples, ...].
        chunk_size: Samples per chunk (positive integer).

    Returns:
        Inclusive cumulative phase in [0, 2*pi) [rad], shape and dtype of the input (float32
        unless the input is float64).

    Raises:
        ValueError: if the input has no time axis or ``chunk_size`` is not positive.
    """
    where = "angular_cumsum"
    angular_frequency = to_float(angular_frequency, "angular_frequency", where)
    check_rank(angular_frequency, range(2, 8), "angular_frequency", where, "[batch, n, ...]")
    positive_int(chunk_size, "chunk_size", where)
    xp = array_namespace(angular_frequency)
    phase = _wrapped_cumsum(_cast(angular_frequency, xp.float64), axis=1)
    # A float64 phase just below 2*pi may round up to 2*pi in float32; one more mod in the
    # output dtype folds it to 0.
    return ops.mod(_cast(phase, angular_frequency.dtype), _TWO_PI)


def remove_above_nyquist(
    frequency_envelopes: Any, amplitude_envelopes: Any, sample_rate: int = 16000
) -> Any:
    """Set to 0 the amplitudes whose frequency is at or above Nyquist (``f >= sample_rate/2``).

    Args:
        frequency_envelopes: Oscillator frequencies [Hz], shape [batch, n_samples, n_sinusoids].
        amplitude_envelopes: Oscillator amplitudes, same (or a broadcastable) shape.
        sample_rate: Samples per second (positive).

    Returns:
        Amplitudes with the aliasing oscillators zeroed, the broadcast shape of both inputs.
        No gradient flows to the frequencies (the comparison is a mask).
    """
    where = "remove_above_nyquist"
    frequency_envelopes = to_float(frequency_envelopes, "frequency_envelopes", where)
    amplitude_envelopes = to_float(amplitude_envelopes, "amplitude_envelopes", where)
    _check_broadcast(
        frequency_envelopes, amplitude_envelopes, "frequency and amplitude envelopes", where
    )
    sample_rate = positive_number(sample_rate, "sample_rate", where)
    return _mask_nyquist(frequency_envelopes, amplitude_envelopes, sample_rate)


def _mask_nyquist(freqs: Any, amps: Any, sample_rate: float) -> Any:
    return ops.where(stop_gradient(freqs) >= sample_rate / 2.0, 0.0, amps)


def normalize_harmonics(
    harmonic_distribution: Any, f0_hz: Any = None, sample_rate: Any = None
) -> Any:
    """Normalise a harmonic distribution to sum 1, optionally removing harmonics above Nyquist.

    Args:
        harmonic_distribution: Harmonic weights, shape [batch, n_frames, n_harmonics].
        f0_hz: Fundamental frequency [Hz], shape [batch, n_frames, 1]. Together with
            ``sample_rate``, harmonics with ``k * f0 >= sample_rate / 2`` are zeroed first.
        sample_rate: Samples per second (or None).

    Returns:
        The distribution divided by its sum over harmonics (``safe_divide``: an all-zero frame
        stays zero), shape [batch, n_frames, n_harmonics].
    """
    where = "normalize_harmonics"
    harmonic_distribution = to_float(harmonic_distribution, "harmonic_distribution", where)
    check_rank(harmonic_distribution, (2, 3), "harmonic_distribution", where, "[b, t, n]")
    if sample_rate is not None and f0_hz is not None:
        sample_rate = positive_number(sample_rate, "sample_rate", where)
        f0_hz = to_float(f0_hz, "f0_hz", where)
        if len(f0_hz.shape) != len(harmonic_distribution.shape) or f0_hz.shape[-1] != 1:
            raise ValueError(
                f"{where}: f0_hz must be [batch, n_frames, 1] (the rank of "
                f"harmonic_distribution, one channel), got shape {tuple(f0_hz.shape)}"
            )
        harmonic_frequencies = get_harmonic_frequencies(f0_hz, int(harmonic_distribution.shape[-1]))
        _check_broadcast(
            harmonic_frequencies, harmonic_distribution, "f0_hz and harmonic_distribution", where
        )
        harmonic_distribution = _mask_nyquist(
            harmonic_frequencies, harmonic_distribution, sample_rate
        )
    total = ops.sum(harmonic_distribution, axis=-1, keepdims=True)
    return safe_divide(harmonic_distribution, total)


def get_harmonic_frequencies(frequencies: Any, n_harmonics: int) -> Any:
    """Integer multiples of the fundamental frequency.

    Args:
        frequencies: Fundamental frequencies [Hz], shape [batch, n_frames, 1].
        n_harmonics: Number of harmonics (positive integer).

    Returns:
        Harmonic frequencies ``f0 * [1, 2, ..., n_harmonics]`` [Hz], shape
        [batch, n_frames, n_harmonics].
    """
    where = "get_harmonic_frequencies"
    frequencies = to_float(frequencies, "frequencies", where)
    n_harmonics = positive_int(n_harmonics, "n_harmonics", where)
    if len(frequencies.shape) < 1 or frequencies.shape[-1] != 1:
        raise ValueError(
            f"{where}: frequencies must have shape [batch, n_frames, 1], got "
            f"{tuple(frequencies.shape)}"
        )
    xp = array_namespace(frequencies)
    return frequencies * xp.arange(1, n_harmonics + 1).astype(frequencies.dtype)


# -- oscillator banks -----------------------------------------------------------------------------
def oscillator_bank(
    frequency_envelopes: Any,
    amplitude_envelopes: Any,
    sample_rate: int = 16000,
    sum_sinusoids: bool = True,
    use_angular_cumsum: bool = False,
) -> Any:
    """Audio from sample-wise frequencies and amplitudes of a bank of sinusoidal oscillators.

    ``out[b, n] = sum_k a[b, n, k] * sin(phi[b, n, k])`` with the inclusive phase
    ``phi[n] = 2*pi/sample_rate * sum_{m <= n} f[m]`` (the first sample's phase is
    ``omega[0]``, as in ddsp). Oscillators at or above Nyquist are silenced per sample.

    Args:
        frequency_envelopes: Sample-wise frequencies [Hz], shape [batch, n_samples, n_sinusoids].
        amplitude_envelopes: Sample-wise amplitudes, shape [batch, n_samples, n_sinusoids]
            (or a shape that broadcasts to it, of the same rank).
        sample_rate: Samples per second.
        sum_sinusoids: Sum the oscillators (else return each one).
        use_angular_cumsum: Accepted for API parity with ddsp. ddsp chooses between a float32
            cumsum and a float32 angular_cumsum; here both use the float64 chunked accumulation
            (see the module docstring), so the flag changes nothing.

    Returns:
        Audio, shape [batch, n_samples] (or [batch, n_samples, n_sinusoids] when
        ``sum_sinusoids`` is False); float32 unless an input is float64.

    Raises:
        ValueError: for controls that are not [batch, n_samples, n_sinusoids], shapes that do
            not broadcast, or a non-positive sample rate.
    """
    del use_angular_cumsum  # both paths are the same exact accumulation
    where = "oscillator_bank"
    freqs = to_float(frequency_envelopes, "frequency_envelopes", where)
    amps = to_float(amplitude_envelopes, "amplitude_envelopes", where)
    _check_bank(freqs, amps, where, "frequency_envelopes", "amplitude_envelopes")
    sample_rate = positive_number(sample_rate, "sample_rate", where)
    if sum_sinusoids and fused_enabled():
        shape = tuple(np.broadcast_shapes(tuple(freqs.shape), tuple(amps.shape)))
        freqs = freqs if tuple(freqs.shape) == shape else ops.broadcast_to(freqs, shape)
        amps = amps if tuple(amps.shape) == shape else ops.broadcast_to(amps, shape)
        taps = Taps.identity(shape[1])
        return sinusoid_bank(freqs, amps, taps, taps, sample_rate)
    audio, _ = composed_bank(freqs, amps, sample_rate)
    return ops.sum(audio, axis=-1) if sum_sinusoids else audio


def composed_bank(freqs: Any, amps: Any, sample_rate: float, phase0: Any = None) -> tuple:
    """Unsummed oscillators ``[batch, n, K]`` of trusted sample-wise controls (composed ops),
    and the float64 phase of their last sample ``[batch, 1, K]`` (to carry into the next
    chunk as ``phase0``)."""
    amps = _mask_nyquist(freqs, amps, sample_rate)
    phase = phase_from_hz(freqs, sample_rate, phase0)
    return amps * ops.sin(_cast(phase, working_dtype(freqs, amps))), phase[:, -1:]


def harmonic_oscillator_bank(
    frequency: Any,
    amplitude_envelopes: Any,
    initial_phase: Any = None,
    sample_rate: int = 16000,
    use_angular_cumsum: bool = True,
) -> tuple[Any, Any]:
    """Harmonic oscillator bank for streaming synthesis: only the fundamental is integrated.

    The fundamental's inclusive phase plus ``initial_phase`` gives phi; harmonic k has phase
    ``k * phi`` (coherent harmonics), computed modulo 2*pi in float64. There is no Nyquist
    removal here (callers do it at frame rate, see ``streaming_harmonic_synthesis``).

    Deviation from ddsp: ``final_phase`` is wrapped to [0, 2*pi) (ddsp returns the unwrapped
    ``angular_cumsum + initial_phase``). Both are equal modulo 2*pi, so the audio of the next
    block is the same, but carrying the wrapped phase block after block never loses precision.

    Args:
        frequency: Sample-wise fundamental frequency [Hz], shape [batch, n_samples, 1].
        amplitude_envelopes: Sample-wise harmonic amplitudes, shape
            [batch, n_samples, n_harmonics].
        initial_phase: Phase [rad] before the first sample, shape [batch, 1, 1] (default 0).
        sample_rate: Samples per second.
        use_angular_cumsum: Accepted for API parity (both ddsp paths are replaced by the same
            exact float64 accumulation).

    Returns:
        audio: shape [batch, n_samples].
        final_phase: Phase of the fundamental at the last sample [rad], in [0, 2*pi],
            shape [batch, 1, 1]; pass it as the next block's ``initial_phase``.

    Raises:
        ValueError: if ``frequency`` is not [batch, n_samples, 1], the amplitudes are not
            [batch, n_samples, n_harmonics], or the sample rate is not positive.
    """
    del use_angular_cumsum
    where = "harmonic_oscillator_bank"
    frequency = to_float(frequency, "frequency", where)
    amps = to_float(amplitude_envelopes, "amplitude_envelopes", where)
    _check_bank(frequency, amps, where, "frequency", "amplitude_envelopes")
    if frequency.shape[-1] != 1 or amps.shape[:2] != frequency.shape[:2]:
        raise ValueError(
            f"{where}: frequency must be [batch, n_samples, 1] and amplitude_envelopes "
            f"[batch, n_samples, n_harmonics], got {tuple(frequency.shape)} and "
            f"{tuple(amps.shape)}"
        )
    sample_rate = positive_number(sample_rate, "sample_rate", where)
    batch, n_samples = frequency.shape[:2]
    xp = array_namespace(frequency)
    phase0 = xp.zeros(batch) if initial_phase is None else batch_phase(initial_phase, batch, where)
    dtype = working_dtype(frequency, amps)
    if fused_enabled():
        taps = Taps.identity(n_samples)
        f0 = ops.reshape(frequency, (batch, n_samples))
        audio, final = harmonic_bank(f0, amps, taps, taps, phase0, sample_rate, nyquist=False)
    else:
        audio, final = composed_harmonic_bank(frequency, amps, phase0, sample_rate)
    return audio, ops.reshape(_cast(final, dtype), (batch, 1, 1))


def composed_harmonic_bank(frequency: Any, amps: Any, phase0: Any, sample_rate: float) -> tuple:
    """``(audio [batch, n], float64 final phase [batch])`` of trusted controls (composed ops):
    harmonic k at ``k * phi``, phi the fundamental's float64 phase after ``phase0 [batch]``."""
    xp = array_namespace(frequency)
    phase = phase_from_hz(frequency, sample_rate, ops.reshape(phase0, (-1, 1, 1)))
    ratios = xp.arange(1, int(amps.shape[-1]) + 1, dtype=xp.float64)
    harmonic_phases = _cast(ops.mod(phase * ratios, _TWO_PI), working_dtype(frequency, amps))
    audio = ops.sum(amps * ops.sin(harmonic_phases), axis=-1)
    return audio, phase[:, -1, 0]
