"""Tuning helpers of ddsp's timbre-transfer colab (``colab_utils.get_tuning_factor`` and
``colab_utils.auto_tune``): find how far a performance sits from equal temperament and pull its
pitch towards the nearest notes of the best-fitting major scale (or of the chromatic scale).

All pitches are MIDI note numbers (floats); arrays are ``[n_frames]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["get_tuning_factor", "auto_tune", "MAJOR_SCALE"]

MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])  # semitones of a major scale above its tonic
_N_CANDIDATES = 101  # tuning offsets tried, evenly from -0.5 to +0.5 semitone


def _wrapped_deviation(f0_midi: np.ndarray, offset: Any) -> np.ndarray:
    """Signed distance of ``f0_midi`` from the grid ``offset + integer``, in (-0.5, 0.5]."""
    deviation = np.mod(f0_midi - offset, 1.0)
    return np.where(deviation > 0.5, deviation - 1.0, deviation)


def _standardized(x: np.ndarray) -> np.ndarray:
    spread = np.std(x)
    return (x - np.mean(x)) / spread if spread > 0 else np.zeros_like(x)


def get_tuning_factor(f0_midi: Any, f0_confidence: Any, mask_on: Any) -> float:
    """The offset (semitones, in [-0.5, 0.5]) of the grid of notes that best fits the performance.

    Each of 101 candidate offsets is scored on the note frames by two costs, each standardized
    over the candidates and summed: the confidence-weighted mean distance of f0 from the grid,
    and the confidence-weighted rate of changes of the nearest grid note between frames (a grid
    half-way between the notes played flips between neighbours). The lowest total wins.

    Args:
        f0_midi, f0_confidence: [n_frames].
        mask_on: [n_frames] bool, the note frames (``postprocessing.detect_notes``).

    Returns:
        the tuning offset; 0.0 when fewer than two note frames exist.
    """
    mask_on = np.asarray(mask_on, bool)
    f0 = np.asarray(f0_midi, np.float64)[mask_on]
    weights = np.asarray(f0_confidence, np.float64)[mask_on][:, None]
    if f0.size < 2:
        return 0.0
    offsets = np.linspace(-0.5, 0.5, _N_CANDIDATES)
    deviation = _wrapped_deviation(f0[:, None], offsets[None, :])  # [frames, candidates]
    cost_distance = np.mean(weights * np.abs(deviation), axis=0)
    nearest = f0[:, None] - deviation
    changes = (np.diff(nearest, axis=0) != 0.0).astype(np.float64)
    cost_changes = np.mean(weights[:-1] * changes, axis=0)
    cost = _standardized(cost_changes) + _standardized(cost_distance)
    return float(offsets[np.argmin(cost)])


def _best_major_scale(f0_on: np.ndarray) -> np.ndarray:
    """MIDI notes (all octaves) of the major scale whose notes lie closest, on average, to
    ``f0_on``; ties go to the lowest tonic (C)."""
    octaves = (MAJOR_SCALE[None, :] + 12 * np.arange(10)[:, None]).ravel()  # ddsp: 10 octaves
    scales = octaves[None, :] + np.arange(12)[:, None]  # [tonic, notes]
    distance = np.min(np.abs(f0_on[:, None, None] - scales[None]), axis=-1)  # [frames, tonic]
    return scales[int(np.argmin(np.mean(distance, axis=0)))]


def auto_tune(f0_midi: Any, tuning_factor: float, mask_on: Any, amount: float = 0.0,
              chromatic: bool = False) -> np.ndarray:  # fmt: skip
    """Move every frame's pitch ``amount`` of the way to its nearest note.

    The notes are the chromatic grid shifted by ``tuning_factor`` when ``chromatic``, else the
    major scale (of 12 tonics, MIDI 0..119+11) that best fits the note frames (``mask_on``).
    As in ddsp, the scale is not shifted by ``tuning_factor`` (ddsp only prints it there).
    ``amount`` 0 returns the input, 1 snaps fully.

    Returns:
        [n_frames] float64 MIDI.
    """
    f0 = np.asarray(f0_midi, np.float64)
    mask_on = np.asarray(mask_on, bool)
    if chromatic or not mask_on.any():
        deviation = _wrapped_deviation(f0, tuning_factor)
    else:
        scale = _best_major_scale(f0[mask_on])
        to_notes = f0[:, None] - scale[None, :]
        deviation = to_notes[np.arange(f0.size), np.argmin(np.abs(to_notes), axis=-1)]
    return f0 - float(amount) * deviation
