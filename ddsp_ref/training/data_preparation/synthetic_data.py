"""Random note sequences as synthesizer controls (ddsp's ``synthetic_data.generate_notes_v2``)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["generate_notes_v2"]


def _note_lengths(rng: np.random.Generator, n_timesteps: int, lo: int, hi: int) -> list[int]:
    lengths, total = [], 0
    while total < n_timesteps:
        lengths.append(int(rng.integers(lo, hi + 1)))
        total += lengths[-1]
    return lengths


def _harmonic_logits(rng: np.random.Generator, n_harmonics: int) -> np.ndarray:
    """A random spectrum: a blend of two random power-law roll-offs with random detail [dB-like]."""
    k = np.arange(1, n_harmonics + 1)
    slopes = rng.uniform(0.5, 3.0, size=2)
    a, b = (-s * np.log(k) + rng.normal(0.0, 1.0, n_harmonics) for s in slopes)
    mix = rng.uniform()
    return mix * a + (1.0 - mix) * b


def _one_sequence(rng, n_timesteps, n_harmonics, n_mags, lengths, p_silent, p_vibrato):
    pitch = np.zeros(n_timesteps)
    amp = np.zeros(n_timesteps)
    dist = np.zeros((n_timesteps, n_harmonics))
    noise = np.zeros((n_timesteps, n_mags))
    start = 0
    for length in _note_lengths(rng, n_timesteps, *lengths):
        span = slice(start, min(start + length, n_timesteps))
        t = np.arange(span.stop - span.start)
        midi = rng.uniform(24.0, 84.0)
        if rng.uniform() < p_vibrato:  # up to half a semitone, 2-6 cycles per note length
            midi = midi + rng.uniform(0.0, 0.5) * np.sin(2 * np.pi * rng.uniform(2, 6) * t / length)
        pitch[span] = midi
        silent = rng.uniform() < p_silent
        amp[span] = -10.0 if silent else rng.uniform(-4.0, 2.0)
        dist[span] = _harmonic_logits(rng, n_harmonics)
        noise[span] = rng.uniform(-10.0, -3.0) - np.linspace(0.0, rng.uniform(0, 5), n_mags)
        start = span.stop
    return pitch, amp, dist, noise


def generate_notes_v2(
    n_batch: int = 1,
    n_timesteps: int = 125,
    n_harmonics: int = 100,
    n_mags: int = 65,
    min_note_length: int = 5,
    max_note_length: int = 25,
    p_silent: float = 0.1,
    p_vibrato: float = 0.5,
    get_controls: bool = True,
    seed: Any = None,
) -> dict[str, np.ndarray]:
    """Random monophonic note sequences as Harmonic + FilteredNoise controls.

    Notes last ``min_note_length``..``max_note_length`` frames, with pitch uniform in MIDI 24-84,
    a vibrato (probability ``p_vibrato``), silence (probability ``p_silent``), and a harmonic
    spectrum blended from two random roll-offs; noise magnitudes fall with frequency. ddsp's
    distributions are the model; the random draws are not ddsp's (its RNG is TensorFlow's).

    Args:
        seed: anything ``numpy.random.default_rng`` takes, for reproducible notes.
        get_controls: True gives synthesizer controls (``harm_amp`` = exp_sigmoid(logit),
            ``harm_dist`` = softmax over harmonics, ``noise_magnitudes`` = exp_sigmoid(logit));
            False gives the logits.

    Returns:
        {'f0_hz': [n_batch, n_timesteps, 1], 'harm_amp': [n_batch, n_timesteps, 1],
        'harm_dist': [n_batch, n_timesteps, n_harmonics], 'noise_magnitudes':
        [n_batch, n_timesteps, n_mags]}, float32.
    """
    from ...core import exp_sigmoid, midi_to_hz

    rng = np.random.default_rng(seed)
    parts = [
        _one_sequence(
            rng,
            n_timesteps,
            n_harmonics,
            n_mags,
            (min_note_length, max_note_length),
            p_silent,
            p_vibrato,
        )
        for _ in range(n_batch)
    ]
    pitch, amp, dist, noise = (np.stack(p) for p in zip(*parts))
    f0_hz = np.asarray(midi_to_hz(pitch))[..., None]
    if not get_controls:
        out = {
            "f0_hz": f0_hz,
            "harm_amp": amp[..., None],
            "harm_dist": dist,
            "noise_magnitudes": noise,
        }
    else:
        dist = np.exp(dist - dist.max(axis=-1, keepdims=True))
        out = {
            "f0_hz": f0_hz,
            "harm_amp": np.asarray(exp_sigmoid(amp[..., None])),
            "harm_dist": dist / dist.sum(axis=-1, keepdims=True),
            "noise_magnitudes": np.asarray(exp_sigmoid(noise)),
        }
    return {k: v.astype(np.float32) for k, v in out.items()}
