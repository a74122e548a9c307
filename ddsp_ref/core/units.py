"""Unit conversions of ddsp.core: decibels, MIDI, unit interval, Hz, Bark, mel and ERB."""

from __future__ import annotations

import math
from typing import Any

from ..autodiff import ops, stop_gradient
from ..validation import finite_number
from .math import log10, logb
from .utils import real_param, to_float

__all__ = [
    "DB_RANGE",
    "amplitude_to_db",
    "power_to_db",
    "db_to_amplitude",
    "db_to_power",
    "midi_to_hz",
    "hz_to_midi",
    "unit_to_midi",
    "midi_to_unit",
    "unit_to_hz",
    "hz_to_unit",
    "hz_to_bark",
    "bark_to_hz",
    "hz_to_mel",
    "mel_to_hz",
    "hz_to_erb",
]

# Default dynamic range of the decibel conversions [dB].
DB_RANGE = 80.0

_LOG2_440 = math.log2(440.0)


# -- decibels --------------------------------------------------------------------------------
# tf.maximum(a, b) sends the gradient of a tie to its first argument; ddsp writes the floor first
# in one clamp and second in the other, so both tie rules are needed.
def _floor_first(x: Any, floor: float) -> Any:
    """``tf.maximum(floor, x)``: ``x`` gets gradient only where ``x > floor``."""
    return ops.where(stop_gradient(x) > floor, x, floor)


def _floor_second(x: Any, floor: float) -> Any:
    """``tf.maximum(x, floor)``: ``x`` gets gradient where ``x >= floor``."""
    return ops.where(stop_gradient(x) >= floor, x, floor)


def amplitude_to_db(
    amplitude: Any, ref_db: float = 0.0, range_db: float = DB_RANGE, use_tf: bool = True
) -> Any:
    """Amplitude to decibels: ``power_to_db(amplitude ** 2)``.

    Args:
        amplitude: linear amplitudes [any shape].
        ref_db: level [dB] subtracted after the conversion (0 dB <=> amplitude 1).
        range_db: dynamic range [dB]; the output is floored at ``-range_db``.
        use_tf: accepted for API parity; see :func:`power_to_db`.

    Returns:
        Decibels [same shape as ``amplitude``].
    """
    amplitude = to_float(amplitude, "amplitude", "amplitude_to_db")
    return power_to_db(amplitude**2.0, ref_db=ref_db, range_db=range_db, use_tf=use_tf)


def power_to_db(
    power: Any, ref_db: float = 0.0, range_db: float = DB_RANGE, use_tf: bool = True
) -> Any:
    """Power to decibels with a fixed reference and a floor.

    ``db = max(10 log10(max(power, 10^(-range_db / 10))) - ref_db, -range_db)``. Unlike librosa
    the reference is fixed (0 dB <=> power 1), not relative to the maximum.

    Args:
        power: linear power [any shape].
        ref_db: level [dB] subtracted after the conversion.
        range_db: dynamic range [dB]; power is clamped below at ``10^(-range_db / 10)`` and the
            result at ``-range_db``.
        use_tf: accepted for API parity. ddsp picks TF's safe ``log10`` (True) or ``np.log10``
            (False); both agree here because the clamped power is always positive, so one path
            serves both.

    Returns:
        Decibels [same shape as ``power``].

    Note:
        The clamps keep ``tf.maximum``'s tie rule: ``power`` gets gradient only where it is
        strictly above its floor, the decibels wherever they are at or above ``-range_db``.
    """
    del use_tf  # both of ddsp's paths give the same numbers (see above)
    power = to_float(power, "power", "power_to_db")
    ref_db = real_param(ref_db, "ref_db", "power_to_db")
    range_db = finite_number(range_db, "range_db", "power_to_db")
    pmin = 10.0 ** (-range_db / 10.0)
    db = 10.0 * log10(_floor_first(power, pmin))
    db = db - ref_db
    return _floor_second(db, -range_db)


def db_to_amplitude(db: Any) -> Any:
    """Decibels [dB] to linear amplitude: ``db_to_power(db / 2)``."""
    return db_to_power(to_float(db, "db", "db_to_amplitude") / 2.0)


def db_to_power(db: Any) -> Any:
    """Decibels [dB] to linear power: ``10 ** (db / 10)``."""
    return ops.power(10.0, to_float(db, "db", "db_to_power") / 10.0)


# -- MIDI and Hz -----------------------------------------------------------------------------
def midi_to_hz(notes: Any, midi_zero_silence: bool = False) -> Any:
    """MIDI note numbers to frequencies: ``440 * 2 ** ((notes - 69) / 12)``.

    Args:
        notes: MIDI note numbers (fractional allowed) [any shape].
        midi_zero_silence: map MIDI 0 to 0 Hz (silence) instead of 8.1758 Hz.

    Returns:
        Frequencies [Hz], same shape.
    """
    notes = to_float(notes, "notes", "midi_to_hz")
    hz = 440.0 * ops.power(2.0, (notes - 69.0) / 12.0)
    if midi_zero_silence:
        hz = ops.where(stop_gradient(notes) == 0.0, 0.0, hz)
    return hz


def hz_to_midi(frequencies: Any) -> Any:
    """Frequencies to MIDI note numbers: ``12 (log2 f - log2 440) + 69``.

    Uses ddsp's safe logarithm, and every ``f <= 0`` maps to MIDI 0 (gradient 0 there).

    Args:
        frequencies: frequencies [Hz] [any shape].

    Returns:
        MIDI note numbers, same shape.
    """
    frequencies = to_float(frequencies, "frequencies", "hz_to_midi")
    notes = 12.0 * (logb(frequencies, 2.0) - _LOG2_440) + 69.0
    return ops.where(stop_gradient(frequencies) <= 0.0, 0.0, notes)


def _midi_bound(hz: Any, name: str, where: str) -> Any:
    """MIDI number of a range bound: a Python float stays a Python float (full precision)."""
    hz = real_param(hz, name, where)
    if isinstance(hz, float):
        return 12.0 * (math.log2(hz) - _LOG2_440) + 69.0 if hz > 0 else 0.0
    return hz_to_midi(hz)


def unit_to_midi(unit: Any, midi_min: Any = 20.0, midi_max: Any = 90.0, clip: bool = False) -> Any:
    """Unit interval to MIDI: ``midi_min + (midi_max - midi_min) * unit``.

    Args:
        unit: values in [0, 1] [any shape].
        midi_min: MIDI number at unit 0.
        midi_max: MIDI number at unit 1.
        clip: clip ``unit`` to [0, 1] first.

    Returns:
        MIDI note numbers, same shape.
    """
    unit = to_float(unit, "unit", "unit_to_midi")
    midi_min = real_param(midi_min, "midi_min", "unit_to_midi")
    midi_max = real_param(midi_max, "midi_max", "unit_to_midi")
    unit = ops.clip(unit, 0.0, 1.0) if clip else unit
    return midi_min + (midi_max - midi_min) * unit


def midi_to_unit(midi: Any, midi_min: Any = 20.0, midi_max: Any = 90.0, clip: bool = False) -> Any:
    """MIDI to the unit interval: ``(midi - midi_min) / (midi_max - midi_min)``.

    Args:
        midi: MIDI note numbers [any shape].
        midi_min: MIDI number mapped to 0.
        midi_max: MIDI number mapped to 1.
        clip: clip the result to [0, 1].

    Returns:
        Unit values, same shape.
    """
    midi_min = real_param(midi_min, "midi_min", "midi_to_unit")
    midi_max = real_param(midi_max, "midi_max", "midi_to_unit")
    unit = (to_float(midi, "midi", "midi_to_unit") - midi_min) / (midi_max - midi_min)
    return ops.clip(unit, 0.0, 1.0) if clip else unit


def unit_to_hz(unit: Any, hz_min: Any, hz_max: Any, clip: bool = False) -> Any:
    """Unit interval to frequency, linear in MIDI (log-frequency) between hz_min and hz_max.

    Quirk kept from ddsp: ``hz_to_midi(0) = 0``, so ``hz_min = 0`` really means MIDI 0,
    8.1758 Hz.

    Args:
        unit: values in [0, 1] [any shape].
        hz_min: frequency [Hz] at unit 0.
        hz_max: frequency [Hz] at unit 1.
        clip: clip ``unit`` to [0, 1] first.

    Returns:
        Frequencies [Hz], same shape.
    """
    where = "unit_to_hz"
    bounds = _midi_bound(hz_min, "hz_min", where), _midi_bound(hz_max, "hz_max", where)
    midi = unit_to_midi(to_float(unit, "unit", where), *bounds, clip=clip)
    return midi_to_hz(midi)


def hz_to_unit(hz: Any, hz_min: Any, hz_max: Any, clip: bool = False) -> Any:
    """Frequency to the unit interval, the inverse of :func:`unit_to_hz`.

    Args:
        hz: frequencies [Hz] [any shape].
        hz_min: frequency [Hz] mapped to 0.
        hz_max: frequency [Hz] mapped to 1.
        clip: clip the result to [0, 1].

    Returns:
        Unit values, same shape.
    """
    where = "hz_to_unit"
    bounds = _midi_bound(hz_min, "hz_min", where), _midi_bound(hz_max, "hz_max", where)
    return midi_to_unit(hz_to_midi(to_float(hz, "hz", where)), *bounds, clip=clip)


# -- psychoacoustic scales -------------------------------------------------------------------
def hz_to_bark(hz: Any) -> Any:
    """Hz to Bark (Traunmueller 1990): ``26.81 / (1 + 1960 / f) - 0.53``."""
    return 26.81 / (1.0 + 1960.0 / to_float(hz, "hz", "hz_to_bark")) - 0.53


def bark_to_hz(bark: Any) -> Any:
    """Bark to Hz (inverse Traunmueller): ``1960 / (26.81 / (b + 0.53) - 1)``."""
    return 1960.0 / (26.81 / (to_float(bark, "bark", "bark_to_hz") + 0.53) - 1.0)


def hz_to_mel(hz: Any) -> Any:
    """Hz to mel (HTK): ``2595 log10(1 + f / 700)`` through ddsp's safe logarithm."""
    return 2595.0 * logb(1.0 + to_float(hz, "hz", "hz_to_mel") / 700.0, 10.0)


def mel_to_hz(mel: Any) -> Any:
    """Mel (HTK) to Hz: ``700 (10 ** (m / 2595) - 1)``."""
    return 700.0 * (ops.power(10.0, to_float(mel, "mel", "mel_to_hz") / 2595.0) - 1.0)


def hz_to_erb(hz: Any) -> Any:
    """Equivalent rectangular bandwidth [Hz] at frequency ``hz``: ``0.108 f + 24.7``."""
    return 0.108 * to_float(hz, "hz", "hz_to_erb") + 24.7
