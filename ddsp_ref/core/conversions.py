"""Conversions between the controls of ddsp's sinusoidal and harmonic synths."""

from __future__ import annotations

from typing import Any

from ..autodiff import ops, stop_gradient
from ..validation import check_rank, check_same_batch, positive_int, positive_number
from .math import safe_divide
from .oscillators import _check_broadcast, get_harmonic_frequencies, remove_above_nyquist
from .utils import to_float

__all__ = ["sinusoidal_to_harmonic", "harmonic_to_sinusoidal"]


def sinusoidal_to_harmonic(
    sin_amps: Any,
    sin_freqs: Any,
    f0_hz: Any,
    harmonic_width: float = 0.1,
    n_harmonics: int = 100,
    sample_rate: int = 16000,
    normalize: bool = False,
) -> tuple[Any, Any]:
    """Extract harmonic controls from sinusoids given a fundamental frequency.

    Sinusoid s contributes to harmonic h with the Gaussian weight
    ``exp(-(|f_s - h * f0| / f0 / harmonic_width) ** 2)`` (division by f0 through safe_divide).

    Args:
        sin_amps: Sinusoid amplitudes (linear), shape [batch, n_frames, n_sinusoids].
        sin_freqs: Sinusoid frequencies [Hz], shape [batch, n_frames, n_sinusoids].
        f0_hz: Fundamental frequency [Hz], shape [batch, n_frames, 1].
        harmonic_width: Width of the Gaussian weighting, relative to f0.
        n_harmonics: Number of output harmonics.
        sample_rate: Samples per second; harmonics at or above Nyquist are zeroed.
        normalize: If True, a harmonic whose weights over the sinusoids sum to more than 1
            has them divided by that sum (so max(harm_amp) = max(sin_amp)).

    Returns:
        harm_amp: Total harmonic amplitude, shape [batch, n_frames, 1].
        harm_dist: Harmonic distribution (sums to 1 where harm_amp > 0), shape
            [batch, n_frames, n_harmonics].
    """
    where = "sinusoidal_to_harmonic"
    sin_amps = to_float(sin_amps, "sin_amps", where)
    sin_freqs = to_float(sin_freqs, "sin_freqs", where)
    f0_hz = to_float(f0_hz, "f0_hz", where)
    for name, x in (("sin_amps", sin_amps), ("sin_freqs", sin_freqs), ("f0_hz", f0_hz)):
        check_rank(x, 3, name, where, "[batch, n_frames, channels]")
    _check_broadcast(sin_amps, sin_freqs, "sin_amps and sin_freqs", where)
    check_same_batch(where, sin_amps=sin_amps, sin_freqs=sin_freqs, f0_hz=f0_hz)
    n_harmonics = positive_int(n_harmonics, "n_harmonics", where)
    sample_rate = positive_number(sample_rate, "sample_rate", where)
    harm_freqs = get_harmonic_frequencies(f0_hz, n_harmonics)  # [b, t, h]
    # Axes [b, t, n_harmonics, n_sinusoids].
    freqs_diff = ops.expand_dims(sin_freqs, 2) - ops.expand_dims(harm_freqs, -1)
    freqs_ratio = ops.abs(safe_divide(freqs_diff, ops.expand_dims(f0_hz, -1)))
    weights = ops.exp(-ops.square(freqs_ratio / harmonic_width))
    if normalize:
        weights_sum = ops.sum(weights, axis=-1, keepdims=True)
        normalized = safe_divide(weights, weights_sum)
        weights = ops.where(stop_gradient(weights_sum) > 1.0, normalized, weights)
    harm_amps = ops.sum(weights * ops.expand_dims(sin_amps, 2), axis=-1)
    harm_amps = remove_above_nyquist(harm_freqs, harm_amps, sample_rate)
    harm_amp = ops.sum(harm_amps, axis=-1, keepdims=True)
    return harm_amp, safe_divide(harm_amps, harm_amp)


def harmonic_to_sinusoidal(
    harm_amp: Any, harm_dist: Any, f0_hz: Any, sample_rate: int = 16000
) -> tuple[Any, Any]:
    """Convert harmonic-synth controls into sinusoidal-synth controls.

    Harmonics at or above Nyquist are zeroed and the remaining distribution renormalised.

    Args:
        harm_amp: Total amplitude, shape [batch, n_frames, 1].
        harm_dist: Harmonic distribution, shape [batch, n_frames, n_harmonics].
        f0_hz: Fundamental frequency [Hz], shape [batch, n_frames, 1].
        sample_rate: Samples per second.

    Returns:
        amps: Sinusoid amplitudes ``harm_amp * dist``, shape [batch, n_frames, n_harmonics].
        freqs: Sinusoid frequencies ``f0 * k`` [Hz], shape [batch, n_frames, n_harmonics].
    """
    where = "harmonic_to_sinusoidal"
    harm_amp, harm_dist = (
        to_float(harm_amp, "harm_amp", where),
        to_float(harm_dist, "harm_dist", where),
    )
    f0_hz = to_float(f0_hz, "f0_hz", where)
    for name, x in (("harm_amp", harm_amp), ("harm_dist", harm_dist), ("f0_hz", f0_hz)):
        check_rank(x, 3, name, where, "[batch, n_frames, channels]")
    check_same_batch(where, harm_amp=harm_amp, harm_dist=harm_dist, f0_hz=f0_hz)
    sample_rate = positive_number(sample_rate, "sample_rate", where)
    freqs = get_harmonic_frequencies(f0_hz, int(harm_dist.shape[-1]))
    harm_dist = remove_above_nyquist(freqs, harm_dist, sample_rate)
    harm_dist = safe_divide(harm_dist, ops.sum(harm_dist, axis=-1, keepdims=True))
    return harm_amp * harm_dist, freqs
